/**
 * The connector's side of the public protocol: one `ConnectorRouter` serves every client port.
 *
 * Per port (one client extension or page): one daemon client, created on the first authorized call, which owns every
 * context and card handle that port creates; when the port goes away the daemon client is closed (pcscd's client
 * death: waiters cancelled, handles disconnected, transactions released) and answers still in flight are dropped.
 *
 * Every incoming message is decoded by codec.ts; a malformed one is answered with an `error` message (carrying the
 * request id when one was readable) and counted; at `maxMalformed` the port is disconnected. Calls run concurrently
 * (the daemon serialises per context itself); each is answered with its id. Nothing a client sends can throw out of the
 * router or touch another port's state; at most `maxPendingPerPort` calls per port are in flight.
 */
import type { PcscApi } from '../pcsc/api.js';
import { PcscError } from '../pcsc/errors.js';
import { SCARD_E_NO_MEMORY, SCARD_E_NO_SERVICE, SCARD_W_SECURITY_VIOLATION } from '../pcsc/constants.js';
import {
  ProtocolError,
  clip,
  decodeClientMessage,
  encodeErrResult,
  encodeErrorMessage,
  encodeOkResult,
  encodePong,
  encodeReadersEvent,
  type DecodedCall,
  type ReaderInfo,
} from './codec.js';
import type { EventMessage } from './protocol.js';
import type { PortLike } from './port.js';

/** What the router needs of a daemon client: the PC/SC API plus client death. */
export interface RouterDaemonClient extends PcscApi {
  close(): Promise<void>;
}
/** What the router needs of the daemon (PcscDaemon fits). */
export interface RouterDaemon {
  connect(info?: { name?: string }): RouterDaemonClient;
}

/** Who is on the other end of a port (chrome.runtime.MessageSender's identifying fields). */
export interface SenderInfo {
  /** The calling extension's id. */
  id?: string;
  /** The calling page's origin (web pages through externally_connectable). */
  origin?: string;
  url?: string;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface RouterOptions {
  daemon: RouterDaemon;
  /** Random per connector start; sent in every pong so clients can tell a restart. */
  instance: string;
  /** The connector's version, sent in every pong. */
  version: string;
  log?: (level: LogLevel, message: string) => void;
  /** Decides once per port whether its sender may use the daemon. Default: everyone may. Throwing or rejecting denies. */
  authorize?: (sender: SenderInfo) => Promise<boolean> | boolean;
  /** Malformed messages tolerated on one port before it is disconnected (default 10). */
  maxMalformed?: number;
  /** Calls one port may have in flight (default 256); more are answered at once with SCARD_E_NO_MEMORY. */
  maxPendingPerPort?: number;
}

export interface RouterStats {
  /** Ports attached and not yet gone. */
  ports: number;
  /** Calls (and subscribe requests) accepted and not yet answered, over all ports. */
  pendingCalls: number;
  /** Ports subscribed to reader events. */
  subscribers: number;
  /** Daemon clients open. */
  daemonClients: number;
}

const DENIED_DETAIL = 'this client is not allowed to use the smart card connector';

class Session {
  readonly pending = new Set<number>();
  subscribed = false;
  malformed = 0;
  closed = false;
  client: RouterDaemonClient | null = null;
  readonly authorized: Promise<boolean>;

  constructor(
    readonly router: ConnectorRouter,
    readonly port: PortLike,
    readonly sender: SenderInfo,
    readonly label: string,
    authorize: RouterOptions['authorize'],
  ) {
    this.authorized = (async () => {
      if (!authorize) return true;
      try {
        return (await authorize(sender)) === true;
      } catch (e) {
        router.log('warn', `${label}: authorization failed (${String(e)}); denying`);
        return false;
      }
    })();
  }

  post(message: unknown): void {
    if (this.closed) return;
    try {
      this.port.postMessage(message);
    } catch (e) {
      // Chrome throws on a port that is already gone; treat it as the port going away.
      this.router.log('info', `${this.label}: post failed (${String(e)}); closing`);
      this.router.closeSession(this, false);
    }
  }
}

export class ConnectorRouter {
  private readonly sessions = new Set<Session>();
  private readonly opts: Required<Omit<RouterOptions, 'authorize' | 'log'>> & Pick<RouterOptions, 'authorize' | 'log'>;
  private readersEvent: EventMessage | null = null;
  private nextLabel = 1;

  constructor(options: RouterOptions) {
    this.opts = { maxMalformed: 10, maxPendingPerPort: 256, ...options };
  }

  /** @internal */
  log(level: LogLevel, message: string): void {
    try {
      this.opts.log?.(level, message);
    } catch {
      /* a failing logger must not break the router */
    }
  }

  /** Serves one client port. `sender`: who Chrome says is calling (check it: it is the only identity there is). */
  attach(port: PortLike, sender: SenderInfo = {}): void {
    const who = sender.id ? `extension ${sender.id}` : sender.origin ? `origin ${sender.origin}` : 'unknown sender';
    const label = `port#${this.nextLabel++} (${who}, ${JSON.stringify(clip(port.name ?? '', 64))})`;
    const session = new Session(this, port, { ...sender }, label, this.opts.authorize);
    this.sessions.add(session);
    this.log('info', `${label}: attached`);
    port.onMessage.addListener((message: unknown) => {
      try {
        this.onMessage(session, message);
      } catch (e) {
        // Not reachable by design; if it ever is, the port is dropped rather than the router.
        this.log('error', `${label}: internal error handling a message (${String(e)})`);
        this.closeSession(session, true);
      }
    });
    port.onDisconnect.addListener(() => this.closeSession(session, false));
  }

  /** Sends the reader list to every subscribed, authorized port (and remembers it for later subscribers). */
  publishReaders(readers: readonly ReaderInfo[]): void {
    const event = encodeReadersEvent(readers);
    this.readersEvent = event;
    for (const s of this.sessions) if (s.subscribed) s.post(event);
  }

  get stats(): RouterStats {
    let pendingCalls = 0;
    let subscribers = 0;
    let daemonClients = 0;
    for (const s of this.sessions) {
      pendingCalls += s.pending.size;
      if (s.subscribed) subscribers++;
      if (s.client) daemonClients++;
    }
    return { ports: this.sessions.size, pendingCalls, subscribers, daemonClients };
  }

  /** Disconnects every port and closes their daemon clients (connector shutting down). */
  async close(): Promise<void> {
    await Promise.all([...this.sessions].map((s) => this.closeSession(s, true)));
  }

  /** @internal Ends a session: drops its pending answers, closes its daemon client, optionally disconnects the port. */
  async closeSession(session: Session, disconnectPort: boolean): Promise<void> {
    if (session.closed) return;
    session.closed = true;
    session.pending.clear();
    session.subscribed = false;
    this.sessions.delete(session);
    this.log('info', `${session.label}: detached`);
    if (disconnectPort) {
      try {
        session.port.disconnect();
      } catch {
        /* already gone */
      }
    }
    const client = session.client;
    session.client = null;
    if (client) {
      try {
        await client.close();
      } catch (e) {
        this.log('warn', `${session.label}: closing its daemon client failed (${String(e)})`);
      }
    }
  }

  private onMessage(session: Session, raw: unknown): void {
    if (session.closed) return;
    let msg;
    try {
      msg = decodeClientMessage(raw);
    } catch (e) {
      const err = e instanceof ProtocolError ? e : new ProtocolError('malformed message');
      this.malformed(session, err.message, err.id);
      return;
    }
    if (msg.kind === 'ping') {
      session.post(encodePong(msg.id, this.opts.instance, this.opts.version));
      return;
    }
    if (session.pending.has(msg.id)) {
      this.malformed(session, `id: duplicate request id ${msg.id} (a request with this id is still pending)`, msg.id);
      return;
    }
    if (session.pending.size >= this.opts.maxPendingPerPort) {
      session.post(
        encodeErrResult(msg.id, new PcscError(SCARD_E_NO_MEMORY, `more than ${this.opts.maxPendingPerPort} requests in flight on this port`)),
      );
      return;
    }
    session.pending.add(msg.id);
    if (msg.kind === 'call') void this.runCall(session, msg);
    else void this.runSubscribe(session, msg.id, msg.kind === 'subscribe');
  }

  private malformed(session: Session, message: string, id: number | undefined): void {
    session.malformed++;
    this.log('warn', `${session.label}: malformed message #${session.malformed}: ${message}`);
    session.post(encodeErrorMessage(message, id));
    if (session.malformed >= this.opts.maxMalformed && !session.closed) {
      this.log('warn', `${session.label}: ${session.malformed} malformed messages; disconnecting`);
      void this.closeSession(session, true);
    }
  }

  /** Posts an answer if the request is still wanted (the port alive, the id still pending). */
  private answer(session: Session, id: number, message: unknown): void {
    if (session.closed || !session.pending.delete(id)) return;
    session.post(message);
  }

  private async runSubscribe(session: Session, id: number, subscribe: boolean): Promise<void> {
    const ok = await session.authorized;
    if (session.closed) return;
    if (!ok) {
      this.answer(session, id, encodeErrResult(id, new PcscError(SCARD_W_SECURITY_VIOLATION, DENIED_DETAIL)));
      return;
    }
    session.subscribed = subscribe;
    this.answer(session, id, { v: 1, kind: 'result', id, ok: true, value: null });
    if (subscribe && this.readersEvent) session.post(this.readersEvent);
  }

  private async runCall(session: Session, call: DecodedCall): Promise<void> {
    let answer: unknown;
    try {
      const ok = await session.authorized;
      if (session.closed) return;
      if (!ok) throw new PcscError(SCARD_W_SECURITY_VIOLATION, DENIED_DETAIL);
      const client = this.clientOf(session);
      const method = client[call.fn] as (...args: unknown[]) => Promise<unknown>;
      const value = await method.apply(client, call.args);
      try {
        answer = encodeOkResult(call.id, call.fn, value);
      } catch (e) {
        this.log('error', `${session.label}: ${call.fn} returned a value the protocol cannot carry (${String(e)})`);
        throw e;
      }
    } catch (e) {
      answer = encodeErrResult(call.id, e);
    }
    this.answer(session, call.id, answer);
  }

  private clientOf(session: Session): RouterDaemonClient {
    if (session.client) return session.client;
    try {
      session.client = this.opts.daemon.connect({ name: clip(session.port.name ?? '', 256) });
    } catch (e) {
      throw new PcscError(SCARD_E_NO_SERVICE, `the daemon refused a new client (${e instanceof Error ? e.message : String(e)})`);
    }
    return session.client;
  }
}
