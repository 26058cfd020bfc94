/// <reference types="chrome" />
/**
 * The client side of the connector protocol (src/protocol/, docs/protocol.md): a `Connection` with
 * pcsc-lite's SCard* functions as promise-returning methods, over one port to the connector.
 *
 * Liveness: a ping on connecting (its pong gives the connector's `instance`, and means "ready") and every
 * `pingIntervalMs` after (which also keeps the connector's service worker alive). A pong with another instance means the
 * connector restarted: every pending call rejects with SCARD_E_SERVICE_STOPPED and `onConnectorRestart` listeners run
 * (contexts and handles from before are gone; new calls go to the new instance). The port disconnecting, `close()`, or
 * no pong for `pongTimeoutMs` reject every pending call at once with SCARD_E_NO_SERVICE; later calls reject the same way
 * until `reconnect()`. No call is ever left pending.
 */
import type { PcscApi, ReaderStateIn, ReaderStateOut } from '../../src/pcsc/api.js';
import { PcscError } from '../../src/pcsc/errors.js';
import {
  MAX_BUFFER_SIZE_EXTENDED,
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_INVALID_PARAMETER,
  SCARD_E_NO_SERVICE,
  SCARD_E_SERVICE_STOPPED,
  SCARD_F_COMM_ERROR,
  pcscStringifyError,
} from '../../src/pcsc/constants.js';
import {
  ProtocolError,
  decodeConnectorMessage,
  decodeResultValue,
  encodeCall,
  encodePing,
  encodeSubscribe,
  type DecodedConnectorMessage,
  type ReaderInfo,
} from '../../src/protocol/codec.js';
import { FUNCTION_NAMES, specOf, type FunctionName } from '../../src/protocol/functions.js';
import type { PortLike } from '../../src/protocol/port.js';

export type { ReaderInfo };

export interface ConnectOptions {
  /** The client's title, shown by the connector (the port name). */
  name?: string;
  /** A port to use instead of `chrome.runtime.connect` (tests, in-process links), or a factory for one (lets `reconnect()` work). */
  port?: PortLike | (() => PortLike);
  /** Ping period in ms (default 10 000; 0 = no periodic pings). */
  pingIntervalMs?: number;
  /** No pong for this long → the connector is taken for dead (default max(30 000, 3 × pingIntervalMs)). */
  pongTimeoutMs?: number;
  /** How long `connect()` / `reconnect()` wait for the first pong (default 10 000 ms). */
  connectTimeoutMs?: number;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
}

export interface ConnectorRestart {
  instance: string;
  previousInstance: string;
}

type Pending = {
  fn: FunctionName | 'subscribe' | 'unsubscribe';
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** SCardGetStatusChange: each input state's pvUserData (and whether it had one), put back on the outputs. */
  userData?: { has: boolean; value: unknown }[];
};

interface Link {
  port: PortLike;
  instance: string | undefined;
  timer: ReturnType<typeof setInterval> | undefined;
  lastPongAt: number;
  ready: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  dead: boolean;
}

const DEFAULT_PING_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

function chromeLastError(): string | undefined {
  try {
    const chromeGlobal = (globalThis as { chrome?: typeof chrome }).chrome;
    return chromeGlobal?.runtime?.lastError?.message;
  } catch {
    return undefined;
  }
}

/** A port factory over `chrome.runtime.connect(connectorId, {name})`. */
function chromePortFactory(connectorId: string, name: string): () => PortLike {
  return () => {
    const runtime = (globalThis as { chrome?: typeof chrome }).chrome?.runtime;
    if (typeof runtime?.connect !== 'function') {
      throw new PcscError(
        SCARD_E_NO_SERVICE,
        'chrome.runtime.connect is not available: the client library must run in an extension page or service worker',
      );
    }
    return runtime.connect(connectorId, { name });
  };
}

/** Opens a connection to the connector extension `connectorId`; resolves once it answered the first ping. */
export async function connect(connectorId: string, options: ConnectOptions = {}): Promise<Connection> {
  const connection = new Connection(connectorId, options);
  await connection.reconnect();
  return connection;
}

// The 17 SCard* methods are installed from the function table in the static block below; the interface of the same
// name declares them, so the merge is deliberate.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Connection implements PcscApi {
  readonly connectorId: string;
  readonly #options: ConnectOptions;
  readonly #factory: () => PortLike;
  readonly #pending = new Map<number, Pending>();
  readonly #readerListeners = new Set<(readers: ReaderInfo[]) => void>();
  readonly #restartListeners = new Set<(info: ConnectorRestart) => void>();
  readonly #closeListeners = new Set<(error: PcscError) => void>();
  #link: Link | undefined;
  #instance: string | undefined;
  #nextId = 1;
  #closed = false;

  /** Use `connect()`; a Connection made directly is unconnected until `reconnect()`. */
  constructor(connectorId: string, options: ConnectOptions = {}) {
    this.connectorId = connectorId;
    this.#options = options;
    const port = options.port;
    if (typeof port === 'function') this.#factory = port;
    else if (port) {
      let used = false;
      this.#factory = () => {
        if (used)
          throw new PcscError(
            SCARD_E_NO_SERVICE,
            'cannot reconnect: the port given to connect() was already used; pass a port factory instead',
          );
        used = true;
        return port;
      };
    } else this.#factory = chromePortFactory(connectorId, options.name ?? '');
  }

  /** The connector's instance id (random per connector start), from the latest pong. */
  get instance(): string | undefined {
    return this.#instance;
  }

  /** True while the port is up and the connector has answered. */
  get connected(): boolean {
    return !!this.#link && !this.#link.dead && this.#link.instance !== undefined;
  }

  /** Calls awaiting an answer (leak checks). */
  get pendingCalls(): number {
    return this.#pending.size;
  }

  /**
   * Drops the current port (pending calls reject with SCARD_E_NO_SERVICE) and opens a new one; resolves when the
   * connector answers. If the connector restarted in between, `onConnectorRestart` listeners run.
   */
  async reconnect(): Promise<void> {
    this.#closed = false;
    if (this.#link)
      this.#linkDied(this.#link, new PcscError(SCARD_E_NO_SERVICE, 'connection replaced by reconnect()'), true);
    const port = this.#factory();
    const link: Link = {
      port,
      instance: undefined,
      timer: undefined,
      lastPongAt: Date.now(),
      ready: undefined,
      dead: false,
    };
    this.#link = link;
    const ready = new Promise<void>((resolve, reject) => {
      link.ready = { resolve, reject };
    });
    port.onMessage.addListener((message: unknown) => {
      if (link.dead) return;
      try {
        this.#onMessage(link, message);
      } catch (e) {
        this.#log('error', `internal error handling a connector message: ${String(e)}`);
      }
    });
    port.onDisconnect.addListener(() => {
      const lastError = chromeLastError();
      this.#linkDied(
        link,
        new PcscError(SCARD_E_NO_SERVICE, `the connector port disconnected${lastError ? ` (${lastError})` : ''}`),
        false,
      );
    });
    const connectTimeout = this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const timeout = setTimeout(() => {
      if (!link.dead && link.instance === undefined) {
        this.#linkDied(
          link,
          new PcscError(SCARD_E_NO_SERVICE, `the connector did not answer within ${connectTimeout} ms`),
          true,
        );
      }
    }, connectTimeout);
    (timeout as { unref?: () => void }).unref?.();
    this.#sendPing(link);
    const pingMs = this.#options.pingIntervalMs ?? DEFAULT_PING_MS;
    if (pingMs > 0) {
      const pongTimeout = this.#options.pongTimeoutMs ?? Math.max(30_000, 3 * pingMs);
      link.timer = setInterval(() => {
        if (link.dead) return;
        if (Date.now() - link.lastPongAt > pongTimeout) {
          this.#linkDied(
            link,
            new PcscError(SCARD_E_NO_SERVICE, `the connector has not answered a ping for ${pongTimeout} ms`),
            true,
          );
          return;
        }
        this.#sendPing(link);
      }, pingMs);
      (link.timer as { unref?: () => void }).unref?.();
    }
    try {
      await ready;
    } finally {
      clearTimeout(timeout);
    }
    if (this.#readerListeners.size > 0) this.#subscribe(true);
  }

  /** Closes the connection: the connector releases every context and handle of it; pending calls reject (SCARD_E_NO_SERVICE). */
  close(): void {
    this.#closed = true;
    if (this.#link) this.#linkDied(this.#link, new PcscError(SCARD_E_NO_SERVICE, 'the connection was closed'), true);
  }

  /** Reader list changes (names, states, ATRs), pushed by the connector; the current list comes first. Returns an unsubscribe function. */
  onReadersChanged(listener: (readers: ReaderInfo[]) => void): () => void {
    const first = this.#readerListeners.size === 0;
    this.#readerListeners.add(listener);
    if (first && this.connected) this.#subscribe(true);
    return () => {
      if (this.#readerListeners.delete(listener) && this.#readerListeners.size === 0 && this.connected)
        this.#subscribe(false);
    };
  }

  /** The connector restarted: every context and card handle is gone (pending calls got SCARD_E_SERVICE_STOPPED). */
  onConnectorRestart(listener: (info: ConnectorRestart) => void): () => void {
    this.#restartListeners.add(listener);
    return () => this.#restartListeners.delete(listener);
  }

  /** The port went away (or close() was called); `error` says why. Call `reconnect()` to go on. */
  onClose(listener: (error: PcscError) => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  // -------------------------------------------------------------------------------------------------------------------
  // PC/SC

  pcsc_stringify_error(code: number): string {
    return pcscStringifyError(code);
  }

  // Every SCard* method (SCardEstablishContext … SCardCancel) is made from the function table
  // (src/protocol/functions.ts), typed by `PcscApi` through the interface merged with this class below.
  static {
    for (const fn of FUNCTION_NAMES) {
      const method = {
        [fn](this: Connection, ...args: unknown[]): Promise<unknown> {
          return this.#call(fn, args);
        },
      }[fn]!;
      Object.defineProperty(Connection.prototype, fn, { value: method, writable: true, configurable: true });
    }
  }

  // -------------------------------------------------------------------------------------------------------------------
  // Internals

  /** pcsc-lite answers an input above MAX_BUFFER_SIZE_EXTENDED with SCARD_E_INSUFFICIENT_BUFFER. */
  #tooLarge(length: number): Promise<never> {
    return Promise.reject(
      new PcscError(
        SCARD_E_INSUFFICIENT_BUFFER,
        `input of ${length} bytes exceeds MAX_BUFFER_SIZE_EXTENDED (${MAX_BUFFER_SIZE_EXTENDED})`,
      ),
    );
  }

  /**
   * One SCard* call, as the table describes it: byte inputs above MAX_BUFFER_SIZE_EXTENDED are refused first, as
   * pcsc-lite does; reader states keep their pvUserData here (the wire does not carry it) to put it back on the outputs.
   */
  #call(fn: FunctionName, args: unknown[]): Promise<unknown> {
    const spec = specOf(fn);
    let userData: Pending['userData'];
    for (const [i, a] of spec.args.entries()) {
      const v = args[i];
      if (a.kind === 'hex' && v instanceof Uint8Array && v.length > MAX_BUFFER_SIZE_EXTENDED) {
        return this.#tooLarge(v.length);
      }
      if (a.userData && Array.isArray(v)) {
        userData = v.map((s: unknown) => {
          const has = typeof s === 'object' && s !== null && 'pvUserData' in s;
          return { has, value: has ? (s as ReaderStateIn).pvUserData : undefined };
        });
      }
    }
    const link = this.#link;
    if (this.#closed || !link || link.dead || link.instance === undefined) {
      return Promise.reject(
        new PcscError(
          SCARD_E_NO_SERVICE,
          this.#closed ? 'the connection was closed' : 'not connected to the connector; call reconnect()',
        ),
      );
    }
    const id = this.#nextId++;
    let message;
    try {
      message = encodeCall(id, fn, args);
    } catch (e) {
      return Promise.reject(new PcscError(SCARD_E_INVALID_PARAMETER, e instanceof Error ? e.message : String(e)));
    }
    return new Promise<unknown>((resolve, reject) => {
      const entry: Pending = { fn, resolve, reject };
      if (userData) entry.userData = userData;
      this.#pending.set(id, entry);
      this.#post(link, message);
    });
  }

  #subscribe(on: boolean): void {
    const link = this.#link;
    if (!link || link.dead) return;
    const id = this.#nextId++;
    this.#pending.set(id, {
      fn: on ? 'subscribe' : 'unsubscribe',
      resolve: () => {},
      reject: (e) =>
        this.#log('warn', `${on ? 'subscribing to' : 'unsubscribing from'} reader events failed: ${String(e)}`),
    });
    this.#post(link, encodeSubscribe(id, on));
  }

  #sendPing(link: Link): void {
    this.#post(link, encodePing(this.#nextId++));
  }

  #post(link: Link, message: unknown): void {
    try {
      link.port.postMessage(message);
    } catch (e) {
      this.#linkDied(
        link,
        new PcscError(SCARD_E_NO_SERVICE, `the connector port is gone (${e instanceof Error ? e.message : String(e)})`),
        true,
      );
    }
  }

  /** Ends a link: stops pinging, rejects every pending call with `error`, tells onClose listeners. */
  #linkDied(link: Link, error: PcscError, disconnect: boolean): void {
    if (link.dead) return;
    link.dead = true;
    if (link.timer !== undefined) clearInterval(link.timer);
    if (disconnect) {
      try {
        link.port.disconnect();
      } catch {
        /* already gone */
      }
    }
    link.ready?.reject(error);
    link.ready = undefined;
    this.#rejectAll(error);
    for (const l of [...this.#closeListeners]) this.#safely(() => l(error));
  }

  #rejectAll(error: PcscError): void {
    const entries = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of entries) p.reject(error);
  }

  #onMessage(link: Link, raw: unknown): void {
    let msg: DecodedConnectorMessage;
    try {
      msg = decodeConnectorMessage(raw);
    } catch (e) {
      const err = e instanceof ProtocolError ? e : new ProtocolError(String(e));
      this.#log('warn', `malformed message from the connector: ${err.message}`);
      if (err.id !== undefined)
        this.#settle(err.id, (p) =>
          p.reject(new PcscError(SCARD_F_COMM_ERROR, `malformed answer from the connector: ${err.message}`)),
        );
      return;
    }
    switch (msg.kind) {
      case 'pong':
        this.#onPong(link, msg.instance);
        return;
      case 'event':
        for (const l of [...this.#readerListeners]) this.#safely(() => l(msg.event.readers));
        return;
      case 'error':
        this.#log('warn', `the connector refused a message: ${msg.message}`);
        if (msg.id !== undefined)
          this.#settle(msg.id, (p) =>
            p.reject(new PcscError(SCARD_F_COMM_ERROR, `the connector refused the request: ${msg.message}`)),
          );
        return;
      case 'result':
        this.#settle(msg.id, (p) => {
          if (!msg.ok) {
            const error = msg.error;
            if (error.readerStates && p.userData) restoreUserData(error.readerStates, p.userData);
            p.reject(error);
            return;
          }
          if (p.fn === 'subscribe' || p.fn === 'unsubscribe') {
            p.resolve(undefined);
            return;
          }
          let value: unknown;
          try {
            value = decodeResultValue(p.fn, msg.value, msg.id);
            for (const [key, v] of Object.entries(specOf(p.fn).result.fields ?? {})) {
              if (!v.userData || !p.userData) continue;
              const states = (value as Record<string, ReaderStateOut[]>)[key]!;
              if (states.length !== p.userData.length) {
                throw new ProtocolError(`value.${key}: ${states.length} states for ${p.userData.length} asked`, msg.id);
              }
              restoreUserData(states, p.userData);
            }
          } catch (e) {
            p.reject(
              new PcscError(
                SCARD_F_COMM_ERROR,
                `malformed answer from the connector: ${e instanceof Error ? e.message : String(e)}`,
              ),
            );
            return;
          }
          p.resolve(value);
        });
        return;
    }
  }

  #onPong(link: Link, instance: string): void {
    link.lastPongAt = Date.now();
    const previous = this.#instance;
    link.instance ??= instance;
    this.#instance = instance;
    if (link.ready) {
      link.ready.resolve();
      link.ready = undefined;
    }
    if (previous !== undefined && previous !== instance) {
      this.#log(
        'warn',
        `the connector restarted (instance ${previous} → ${instance}); every context and card handle is gone`,
      );
      link.instance = instance;
      this.#rejectAll(
        new PcscError(
          SCARD_E_SERVICE_STOPPED,
          `the connector restarted (instance ${previous} → ${instance}): every context and card handle is gone`,
        ),
      );
      for (const l of [...this.#restartListeners]) this.#safely(() => l({ instance, previousInstance: previous }));
      // The new instance knows nothing of this connection's subscription.
      if (this.#readerListeners.size > 0 && !link.dead) this.#subscribe(true);
    }
  }

  #settle(id: number, run: (p: Pending) => void): void {
    const p = this.#pending.get(id);
    if (!p) {
      this.#log('debug', `answer for unknown request id ${id} ignored`);
      return;
    }
    this.#pending.delete(id);
    run(p);
  }

  #safely(run: () => void): void {
    try {
      run();
    } catch (e) {
      this.#log('error', `a listener threw: ${String(e)}`);
    }
  }

  #log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void {
    try {
      this.#options.log?.(level, message);
    } catch {
      /* ignore */
    }
  }
}

/** The SCard* methods, made in the class's static block from the function table. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface Connection extends PcscApi {}

function restoreUserData(states: ReaderStateOut[], userData: NonNullable<Pending['userData']>): void {
  states.forEach((s, i) => {
    const u = userData[i];
    if (u?.has) s.pvUserData = u.value;
  });
}
