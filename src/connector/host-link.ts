/**
 * The link to `smart-card-host` over Chrome's native messaging (src/protocol/native.ts, docs/protocol.md): one
 * `connectNative` port per worker (every connectNative starts a new host process), the `hello` exchange first, then
 * protocol v1 unchanged with the connector as the client — the client library's `Connection`, over the native port
 * with the link's own `hello` messages filtered out.
 *
 * Failures stay visible and recoverable:
 * - no host registered ("Specified native messaging host not found."): one failed connectNative, then the link rests
 *   and says how to install it; it tries again only when asked (`retry()`, `setEnabled(true)`) or at the next start;
 * - the host exits or stops answering: its service leaves (the owner removes it from the combined PC/SC service, whose
 *   pending calls then fail with SCARD_E_NO_SERVICE or the removal codes) and the link starts it again after 1 s, 2 s,
 *   4 s … up to 60 s, the delay going back to 1 s once a link stayed up for `healthyMs`;
 * - a host speaking another protocol version: the link is closed before any call, with a message naming the side to
 *   update; no retry (a retry would start the same program again).
 *
 * Nothing here touches `chrome.*`: background.ts hands in connectNative and chrome.runtime.lastError.
 */
import { Connection } from '../../client-lib/src/client.js';
import type { PcscApi } from '../pcsc/api.js';
import { SCARD_E_NO_SERVICE } from '../pcsc/constants.js';
import { isPcscError } from '../pcsc/errors.js';
import { PROTOCOL_VERSION } from '../protocol/messages.js';
import {
  NATIVE_HOST_NAME,
  decodeHelloReply,
  encodeHello,
  isHello,
  type HelloReplyMessage,
  type HostBackend,
  type HostBackendChoice,
  type HostBackendState,
} from '../protocol/native.js';
import type { Listener, PortEvent, PortLike } from '../protocol/port.js';
import type { LogLevel } from './log.js';

/**
 * The one command that registers the host with the browser: the `smart-card-host` bin's `install` (docs/host.md; from
 * a checkout of this repository, `npm run host -- install` runs the same).
 */
export const HOST_INSTALL_COMMAND = 'smart-card-host install';

/** Where the link is, for the window (status-view.ts words it). */
export type HostLinkState =
  | { state: 'off' }
  /** connectNative is not available (no "nativeMessaging" permission, or not in Chrome). */
  | { state: 'unavailable'; message: string }
  | { state: 'starting'; attempt: number }
  | { state: 'not-installed'; message: string; command: string }
  | {
      state: 'connected';
      version: string;
      platform: string;
      /** What serves calls now; null when the chosen backend is not available (no calls go to the host then). */
      backend: HostBackend | null;
      system: HostBackendState;
      own: HostBackendState;
    }
  /** The host exited, failed or stopped answering; the next start is at `retryAt` (`now()` clock). */
  | { state: 'crashed'; message: string; retryInMs: number; retryAt: number; failures: number }
  | { state: 'mismatch'; message: string; hostProtocol: number; hostVersion: string };

export interface HostLinkTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export interface HostLinkOptions {
  /** chrome.runtime.connectNative (a fake in tests). */
  connectNative: (name: string) => PortLike;
  /** chrome.runtime.lastError's message, read inside onDisconnect (why Chrome closed the port). */
  lastError?: () => string | undefined;
  /** The host's service came (a PcscApi to combine as 'host') or went (null). */
  onService: (service: PcscApi | null, backend: HostBackend | null) => void;
  /** After every state change. */
  onState?: (state: HostLinkState) => void;
  log?: (level: LogLevel, message: string) => void;
  timers?: HostLinkTimers;
  /** How long the host has to answer `hello` and the first ping (default 10 000 ms). */
  helloTimeoutMs?: number;
  /** First retry delay (default 1000 ms), doubled per failure up to `maxRetryMs` (default 60 000 ms). */
  retryMs?: number;
  maxRetryMs?: number;
  /** A link that stayed up this long resets the retry delay (default 60 000 ms). */
  healthyMs?: number;
  /** The Connection's ping period (default 10 000 ms; its pong timeout is 3× that, at least 30 s). */
  pingIntervalMs?: number;
}

const realTimers: HostLinkTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

/** Chrome's words when no manifest names the host, or when it does not list this extension (host-platform.md). */
const NOT_FOUND = /not found|forbidden/i;

/** One native port's life: everything that must be undone when it ends. */
interface Session {
  port: PortLike;
  connection: Connection | undefined;
  helloTimer: unknown;
  connectedAt: number | undefined;
  ended: boolean;
  /** The `hello` reply has come. */
  greeted: boolean;
}

class FilteredEvent<A extends unknown[]> implements PortEvent<A> {
  readonly listeners = new Set<Listener<A>>();
  addListener(l: Listener<A>): void {
    this.listeners.add(l);
  }
  removeListener(l: Listener<A>): void {
    this.listeners.delete(l);
  }
  dispatch(...args: A): void {
    for (const l of [...this.listeners]) l(...args);
  }
}

/**
 * The native port as the Connection sees it: protocol v1 only. The link's own `hello` replies are taken out of the
 * stream (they are answered by the link), everything else passes through in order.
 */
export function protocolPort(native: PortLike): PortLike {
  const onMessage = new FilteredEvent<[unknown, PortLike]>();
  const onDisconnect = new FilteredEvent<[PortLike]>();
  const port: PortLike = {
    name: native.name ?? '',
    postMessage: (m) => native.postMessage(m),
    disconnect: () => native.disconnect(),
    onMessage,
    onDisconnect,
  };
  native.onMessage.addListener((m) => {
    if (!isHello(m)) onMessage.dispatch(m, port);
  });
  native.onDisconnect.addListener(() => onDisconnect.dispatch(port));
  return port;
}

export class HostLink {
  readonly #o: HostLinkOptions;
  readonly #timers: HostLinkTimers;
  #state: HostLinkState = { state: 'off' };
  #enabled = false;
  #backend: HostBackendChoice = 'auto';
  #session: Session | undefined;
  #retryTimer: unknown;
  /** Failures since the last healthy link (drives the back-off). */
  #failures = 0;
  #helloId = 1;
  #disposed = false;

  constructor(options: HostLinkOptions) {
    this.#o = options;
    this.#timers = options.timers ?? realTimers;
  }

  get state(): HostLinkState {
    return this.#state;
  }
  get enabled(): boolean {
    return this.#enabled;
  }
  get backend(): HostBackendChoice {
    return this.#backend;
  }

  /** Turns the link on (starts the host now) or off (closes it; the host process ends with its stdin). */
  setEnabled(on: boolean): void {
    if (this.#disposed) return;
    this.#enabled = on;
    this.#failures = 0;
    this.#stop();
    if (on) this.#start();
    else this.#setState({ state: 'off' });
  }

  /** Picks the backend; a running link starts again with a new `hello` (everything held on the old one is released). */
  setBackend(choice: HostBackendChoice): void {
    if (this.#disposed || choice === this.#backend) return;
    this.#backend = choice;
    if (!this.#enabled) return;
    this.#failures = 0;
    this.#stop();
    this.#start();
  }

  /** "Try again": starts the host now, whatever the back-off said (after not-installed or a mismatch too). */
  retry(): void {
    if (this.#disposed || !this.#enabled) return;
    this.#failures = 0;
    this.#stop();
    this.#start();
  }

  /** Closes everything; the link does nothing more. */
  dispose(): void {
    this.#stop();
    this.#disposed = true;
    this.#enabled = false;
    this.#setState({ state: 'off' });
  }

  // -------------------------------------------------------------------------------------------------------------------

  #log(level: LogLevel, message: string): void {
    try {
      this.#o.log?.(level, message);
    } catch {
      /* a failing logger must not break the link */
    }
  }

  #setState(state: HostLinkState): void {
    this.#state = state;
    try {
      this.#o.onState?.(state);
    } catch (e) {
      this.#log('error', `host state listener threw: ${String(e)}`);
    }
  }

  /** Ends the current session and any pending retry (no state change: the caller sets the next one). */
  #stop(): void {
    if (this.#retryTimer !== undefined) {
      this.#timers.clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
    }
    const s = this.#session;
    if (s) this.#end(s, true);
  }

  /** Ends a session: timers off, the service withdrawn, the Connection and the port closed. */
  #end(s: Session, disconnect: boolean): void {
    if (s.ended) return;
    s.ended = true;
    if (this.#session === s) this.#session = undefined;
    if (s.helloTimer !== undefined) this.#timers.clearTimeout(s.helloTimer);
    const hadService = s.connection !== undefined && s.greeted;
    // close() rejects what is pending with SCARD_E_NO_SERVICE and disconnects the port.
    s.connection?.close();
    if (disconnect) {
      try {
        s.port.disconnect();
      } catch {
        /* already gone */
      }
    }
    if (hadService) this.#service(null, null);
  }

  #service(service: PcscApi | null, backend: HostBackend | null): void {
    try {
      this.#o.onService(service, backend);
    } catch (e) {
      this.#log('error', `host service listener threw: ${String(e)}`);
    }
  }

  #start(): void {
    if (!this.#enabled || this.#disposed) return;
    this.#setState({ state: 'starting', attempt: this.#failures + 1 });
    let port: PortLike;
    try {
      port = this.#o.connectNative(NATIVE_HOST_NAME);
    } catch (e) {
      const message = `native messaging is not available: ${e instanceof Error ? e.message : String(e)}`;
      this.#log('warn', `host: ${message}`);
      this.#setState({ state: 'unavailable', message });
      return;
    }
    const s: Session = {
      port,
      connection: undefined,
      helloTimer: undefined,
      connectedAt: undefined,
      ended: false,
      greeted: false,
    };
    this.#session = s;
    port.onMessage.addListener((m) => {
      if (s.ended) return;
      if (isHello(m)) this.#onHello(s, m);
      else if (!s.greeted) this.#beforeHello(s, m);
    });
    port.onDisconnect.addListener(() => {
      // Read now: Chrome sets lastError for the duration of this listener only.
      let why: string | undefined;
      try {
        why = this.#o.lastError?.();
      } catch {
        why = undefined;
      }
      if (s.ended) return;
      this.#failed(s, why ?? 'the host closed the link', false);
    });
    const timeout = this.#o.helloTimeoutMs ?? 10_000;
    s.helloTimer = this.#timers.setTimeout(() => {
      s.helloTimer = undefined;
      if (!s.ended && (!s.greeted || s.connection?.connected !== true)) {
        this.#failed(s, `the host did not answer within ${timeout} ms`, true);
      }
    }, timeout);
    try {
      port.postMessage(encodeHello(this.#helloId++, this.#backend));
    } catch (e) {
      this.#failed(s, `could not write to the host: ${e instanceof Error ? e.message : String(e)}`, true);
    }
  }

  #onHello(s: Session, raw: unknown): void {
    let reply: HelloReplyMessage;
    try {
      reply = decodeHelloReply(raw);
    } catch (e) {
      this.#failed(s, `the host's hello is malformed: ${e instanceof Error ? e.message : String(e)}`, true);
      return;
    }
    if (s.greeted) return; // one hello per session: a backend change starts a new session
    s.greeted = true;
    if (reply.protocol !== PROTOCOL_VERSION) {
      const side =
        reply.protocol > PROTOCOL_VERSION
          ? 'update the connector'
          : `update smart-card-host (then run \`${HOST_INSTALL_COMMAND}\` again)`;
      const message =
        `smart-card-host ${reply.version} speaks protocol version ${reply.protocol}, this connector version ` +
        `${PROTOCOL_VERSION}: ${side}. No call goes to the host until then.`;
      this.#log('error', `host: ${message}`);
      this.#end(s, true);
      this.#setState({ state: 'mismatch', message, hostProtocol: reply.protocol, hostVersion: reply.version });
      return;
    }
    const connected: HostLinkState = {
      state: 'connected',
      version: reply.version,
      platform: reply.platform,
      backend: reply.backend,
      system: reply.system,
      own: reply.own,
    };
    if (reply.backend === null) {
      // The chosen backend is not there: the link stays up (the window offers the other one), no service is added.
      if (s.helloTimer !== undefined) this.#timers.clearTimeout(s.helloTimer);
      s.helloTimer = undefined;
      s.connectedAt = this.#timers.now();
      const d = this.#backend === 'own' ? reply.own.detail : reply.system.detail;
      this.#log('warn', `host ${reply.version}: the ${this.#backend} backend is not available (${d})`);
      this.#setState(connected);
      return;
    }
    const backend = reply.backend;
    const connection = new Connection('smart-card-host', {
      port: () => protocolPort(s.port),
      pingIntervalMs: this.#o.pingIntervalMs ?? 10_000,
      connectTimeoutMs: this.#o.helloTimeoutMs ?? 10_000,
      log: (level, message) => this.#log(level, `host link: ${message}`),
    });
    s.connection = connection;
    connection.onClose((error) => {
      if (!s.ended) this.#failed(s, error.message, true);
    });
    connection.reconnect().then(
      () => {
        if (s.ended) return;
        if (s.helloTimer !== undefined) this.#timers.clearTimeout(s.helloTimer);
        s.helloTimer = undefined;
        s.connectedAt = this.#timers.now();
        this.#log(
          'info',
          `host ${reply.version} on ${reply.platform} connected, serving its ${backend === 'system' ? 'system service' : 'own stack'}`,
        );
        this.#setState(connected);
        this.#service(this.#watched(s, connection), backend);
      },
      (e: unknown) => {
        if (!s.ended) this.#failed(s, e instanceof Error ? e.message : String(e), true);
      },
    );
  }

  /**
   * Anything but a `hello` reply before it: a host of another protocol version answers our `hello` with an `error`
   * (docs/protocol.md, "Native messaging") or speaks another `v`. Either way no call can go to it.
   */
  #beforeHello(s: Session, raw: unknown): void {
    const o = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
    const theirs = typeof o.v === 'number' && Number.isInteger(o.v) ? o.v : undefined;
    const said = o.kind === 'error' && typeof o.message === 'string' ? o.message.slice(0, 300) : undefined;
    if (theirs === undefined && said === undefined) return; // not a message of the protocol: the hello timeout decides
    s.greeted = true;
    const message =
      theirs !== undefined && theirs !== PROTOCOL_VERSION
        ? `smart-card-host speaks protocol version ${theirs}, this connector version ${PROTOCOL_VERSION}: ` +
          `${theirs > PROTOCOL_VERSION ? 'update the connector' : 'update smart-card-host'}. No call goes to the host until then.`
        : `smart-card-host refused the connector's hello: ${said ?? 'no reason given'}`;
    this.#log('error', `host: ${message}`);
    this.#end(s, true);
    this.#setState({ state: 'mismatch', message, hostProtocol: theirs ?? PROTOCOL_VERSION, hostVersion: '?' });
  }

  /**
   * The Connection as the combined service sees it, watched for SCARD_E_NO_SERVICE from a live link: the host is up but
   * its backend went away (the system's pcscd stopped). pcsc-lite's clients get that code only when the service is
   * gone, so the link starts again, and the new `hello` tells what is available (the window then offers the other).
   */
  #watched(s: Session, connection: Connection): PcscApi {
    const onError = (e: unknown): void => {
      if (s.ended || !connection.connected || !isPcscError(e, SCARD_E_NO_SERVICE)) return;
      const why = e instanceof Error ? e.message : String(e);
      this.#failed(s, `the host's PC/SC service stopped answering (${why})`, true);
    };
    // Each method's wrapper is made once, not at every call the combinator makes through it.
    const wrapped = new Map<PropertyKey, { method: unknown; wrapper: unknown }>();
    return new Proxy(connection, {
      get(target, prop) {
        const v: unknown = Reflect.get(target, prop, target);
        if (typeof v !== 'function') return v;
        const known = wrapped.get(prop);
        if (known?.method === v) return known.wrapper;
        const wrapper = (...args: unknown[]): unknown => {
          const r: unknown = (v as (...a: unknown[]) => unknown).apply(target, args);
          if (r instanceof Promise) r.catch(onError);
          return r;
        };
        wrapped.set(prop, { method: v, wrapper });
        return wrapper;
      },
    });
  }

  /** The session failed: not installed (rest), or crashed (start again after the back-off delay). */
  #failed(s: Session, why: string, disconnect: boolean): void {
    if (s.ended) return;
    const wasGreeted = s.greeted;
    const healthy = s.connectedAt !== undefined && this.#timers.now() - s.connectedAt >= (this.#o.healthyMs ?? 60_000);
    this.#end(s, disconnect);
    if (!this.#enabled || this.#disposed) return;
    if (!wasGreeted && NOT_FOUND.test(why)) {
      this.#log('info', `host not installed (${why}); run \`${HOST_INSTALL_COMMAND}\` to install it`);
      this.#setState({ state: 'not-installed', message: why, command: HOST_INSTALL_COMMAND });
      return;
    }
    if (healthy) this.#failures = 0;
    const base = this.#o.retryMs ?? 1000;
    const max = this.#o.maxRetryMs ?? 60_000;
    const delay = Math.min(max, base * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    this.#log('warn', `host link lost (${why}); starting it again in ${Math.round(delay / 1000)} s`);
    this.#retryTimer = this.#timers.setTimeout(() => {
      this.#retryTimer = undefined;
      this.#start();
    }, delay);
    this.#setState({
      state: 'crashed',
      message: why,
      retryInMs: delay,
      retryAt: this.#timers.now() + delay,
      failures: this.#failures,
    });
  }
}
