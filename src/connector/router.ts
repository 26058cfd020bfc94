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
  errorName,
  type DecodedCall,
  type ReaderInfo,
} from '../protocol/codec.js';
import { invoke, specOf, type FunctionName, type Value } from '../protocol/functions.js';
import type { EventMessage } from '../protocol/messages.js';
import type { PortLike } from '../protocol/port.js';
import {
  describeCommandApdu,
  describeResponse,
  describeResponseTo,
  lengthOnly,
  LogQuota,
  quoteUntrusted,
  redactText,
  type Redaction,
} from './log.js';

/** What the router needs of a daemon client: the PC/SC API plus client death. */
export interface RouterDaemonClient extends PcscApi {
  close(): Promise<void>;
}
/** What the router needs of the daemon (PcscDaemon fits). */
export interface RouterDaemon {
  connect(info?: { name?: string; group?: string }): RouterDaemonClient;
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
  /**
   * Where the call log's lines go unbuilt (log.ts `LogText`): `line()` makes the text when something reads it (the
   * service's log buffer keeps it until its window or its export asks). Absent: they go to `log`, built at once.
   */
  logLine?: (level: LogLevel, line: () => string) => void;
  /**
   * Decides whether a port's sender may use the daemon: on its first call or subscription, and again after `revoke`.
   * Default: everyone may. Throwing or rejecting denies; `{ allowed: false, message }` denies with that message (the
   * SCARD_W_SECURITY_VIOLATION error's text). Pings are answered either way; nothing else is revealed to a denied port.
   */
  authorize?: (sender: SenderInfo, portName: string) => Promise<AuthorizeResult> | AuthorizeResult;
  /** The user's "Log APDUs" switch, read at each call (default off: bytes are logged as lengths only). */
  redaction?: () => Redaction;
  /** Log every call and its result, by client (default true). */
  logCalls?: boolean;
  /** Malformed messages tolerated on one port before it is disconnected (default 10). */
  maxMalformed?: number;
  /** Calls one port may have in flight (default 256); more are answered at once with SCARD_E_NO_MEMORY. */
  maxPendingPerPort?: number;
  /**
   * Ports one sender (extension id or origin) may hold open at once (default 64). Each port is a daemon client with
   * pcscd's 200 contexts, so this bounds what one extension can take, whatever the number of its pages.
   */
  maxPortsPerSender?: number;
  /**
   * Whether a sender is allowed as far as is known at once (a stored Allow, the policy), so that an allowed app is not
   * held to the caps for strangers while its first call's authorization is still on its way. Default: no one.
   */
  knownAllowed?: (sender: SenderInfo) => boolean;
  /** The clock of the per-sender log quota (tests). */
  now?: () => number;
}

/**
 * Log entries one sender may write (LogQuota): a sender never allowed gets a small share (its attach, malformed-message
 * and refusal lines), an allowed one a large one (its call log), so neither can push the whole log out in seconds.
 */
const STRANGER_LOG = { burst: 40, perSecond: 0.5 };

/**
 * Before a sender is allowed, its messages are small and few: nothing it may send then needs more than a few hundred
 * bytes (its first calls wait for the user's answer anyway). A bigger one (Chrome lets an extension post 64 MiB, which
 * the worker must parse before anything else runs) drops the port at once and refuses the sender's new ports for a
 * while, doubling each time; so does going over the message rate.
 */
export const STRANGER_MAX_MESSAGE = 16 * 1024;
const STRANGER_RATE = { burst: 20, perSecond: 5 };
const STRANGER_COOLDOWN_MS = 5_000;
const STRANGER_COOLDOWN_MAX_MS = 300_000;

/** Characters in a message's strings (and keys), walked no further than needed to pass `limit`. */
export function approxSize(v: unknown, limit: number, depth = 0): number {
  if (typeof v === 'string') return v.length;
  if (typeof v !== 'object' || v === null || depth > 6) return 8;
  let n = 2;
  const items: unknown[] = Array.isArray(v) ? v : Object.entries(v as Record<string, unknown>).flat();
  for (const x of items) {
    n += approxSize(x, limit - n, depth + 1) + 1;
    if (n > limit) return n;
  }
  return n;
}
const ALLOWED_LOG = { burst: 1000, perSecond: 100 };

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

export type AuthorizeResult = boolean | { allowed: boolean; message?: string };

const DENIED_DETAIL = 'this client is not allowed to use the smart card connector';

interface Authorization {
  ok: boolean;
  message: string;
}

class Session {
  readonly pending = new Set<number>();
  subscribed = false;
  /** Set once the sender's access was granted (a larger log quota, no stranger caps). */
  allowed = false;
  /** Stranger message rate (token bucket): tokens left and when last refilled. */
  tokens = STRANGER_RATE.burst;
  tokensAt = 0;
  malformed = 0;
  closed = false;
  client: RouterDaemonClient | null = null;
  #authorized: Promise<Authorization> | null = null;
  /**
   * The decision once it is in (and not forgotten since): a call then goes on at once, without waiting a turn on the
   * settled promise, which every call of a busy app did.
   */
  decided: Authorization | null = null;
  /** Bumped by revoke: a decision asked before it must not be applied after it. */
  epoch = 0;

  constructor(
    readonly router: ConnectorRouter,
    readonly port: PortLike,
    readonly sender: SenderInfo,
    readonly label: string,
    /** "client \"name\" (id)" for the call log. */
    readonly who: string,
    private readonly authorize: RouterOptions['authorize'],
  ) {
    // Without an authorizer every sender may call: none is a stranger.
    this.allowed = !authorize;
  }

  /** Asked on the first call (not on attach: a port that only pings never prompts the user). */
  get authorized(): Promise<Authorization> {
    if (this.#authorized) return this.#authorized;
    const epoch = this.epoch;
    const decided = (d: Authorization): Authorization => {
      // A decision asked before a revoke is not kept after it (the call that asked still checks the epoch itself).
      if (epoch === this.epoch) this.decided = d;
      return d;
    };
    this.#authorized = (async () => {
      if (!this.authorize) return decided({ ok: true, message: '' });
      try {
        const r = await this.authorize(this.sender, this.port.name ?? '');
        if (r === true || (typeof r === 'object' && r !== null && r.allowed === true)) {
          this.allowed = true;
          return decided({ ok: true, message: '' });
        }
        const message =
          typeof r === 'object' && r !== null && typeof r.message === 'string' && r.message ? r.message : DENIED_DETAIL;
        return decided({ ok: false, message });
      } catch (e) {
        this.router.log('warn', `${this.label}: authorization failed (${String(e)}); denying`);
        return decided({ ok: false, message: DENIED_DETAIL });
      }
    })();
    return this.#authorized;
  }

  /** Forgets the decision: the next call asks again. */
  resetAuthorization(): void {
    this.#authorized = null;
    this.decided = null;
    this.allowed = !this.authorize;
    this.epoch++;
  }

  post(message: unknown): void {
    if (this.closed) return;
    try {
      this.port.postMessage(message);
    } catch (e) {
      // Chrome throws on a port that is already gone; treat it as the port going away.
      this.router.log('info', `${this.label}: post failed (${String(e)}); closing`);
      void this.router.closeSession(this, false);
    }
  }
}

export class ConnectorRouter {
  private readonly sessions = new Set<Session>();
  private readonly opts: Required<
    Omit<RouterOptions, 'authorize' | 'log' | 'logLine' | 'redaction' | 'logCalls' | 'now' | 'knownAllowed'>
  > &
    Pick<RouterOptions, 'authorize' | 'log' | 'logLine' | 'redaction' | 'logCalls' | 'now' | 'knownAllowed'>;
  private readersEvent: EventMessage | null = null;
  private nextLabel = 1;
  private readonly strangerLog: LogQuota;
  /** Sender → until when its new ports are refused, and the next cooldown (after it abused the stranger caps). */
  private readonly cooldowns = new Map<string, { until: number; next: number }>();
  private readonly allowedLog: LogQuota;

  constructor(options: RouterOptions) {
    this.opts = { maxMalformed: 10, maxPendingPerPort: 256, maxPortsPerSender: 64, ...options };
    this.strangerLog = new LogQuota(STRANGER_LOG.burst, STRANGER_LOG.perSecond, options.now);
    this.allowedLog = new LogQuota(ALLOWED_LOG.burst, ALLOWED_LOG.perSecond, options.now);
  }

  /** @internal A line about one sender, within its log quota (what goes over is counted and said later). */
  logFor(sender: SenderInfo, allowed: boolean, level: LogLevel, message: string): void {
    if (this.admit(sender, allowed)) this.log(level, message);
  }

  /** May one more line about `sender` be written (its log quota)? What goes over is counted, and said later. */
  private admit(sender: SenderInfo, allowed: boolean): boolean {
    const key = sender.id ?? sender.origin ?? 'unknown';
    const t = (allowed ? this.allowedLog : this.strangerLog).take(key);
    if (!t.ok) {
      if (t.first)
        this.log('warn', `${whoIs(sender, key)}: too many log entries; its further entries are counted, not logged`);
      return false;
    }
    if (t.held > 0) this.log('warn', `${whoIs(sender, key)}: ${t.held} log entries were held back (too many)`);
    return true;
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
    // Names and origins are the sender's own text: quoted and escaped (sanitize.ts), so they cannot forge a log line.
    const who = sender.id
      ? `extension ${sender.id}`
      : sender.origin
        ? `origin ${quoteUntrusted(sender.origin)}`
        : 'unknown sender';
    const label = `port#${this.nextLabel++} (${who}, ${quoteUntrusted(port.name ?? '', 64)})`;
    const client = `client ${quoteUntrusted(port.name ?? '', 64)} (${sender.id ?? (sender.origin ? quoteUntrusted(sender.origin) : 'unknown')})`;
    const key = sender.id ?? sender.origin;
    const cooldown = key !== undefined ? this.cooldowns.get(key) : undefined;
    if (cooldown && this.now() < cooldown.until) {
      this.logFor(sender, false, 'warn', `${label}: refused, ${who} broke the limits for apps not yet allowed`);
      try {
        port.postMessage(
          encodeErrorMessage(
            'refused for now: messages before the user allowed this app must stay under ' +
              `${STRANGER_MAX_MESSAGE} characters and ${STRANGER_RATE.perSecond} per second`,
          ),
        );
        port.disconnect();
      } catch {
        /* the port may be gone already */
      }
      return;
    }
    if (key !== undefined) {
      let open = 0;
      for (const s of this.sessions) if ((s.sender.id ?? s.sender.origin) === key) open++;
      if (open >= this.opts.maxPortsPerSender) {
        this.logFor(sender, false, 'warn', `${label}: refused, ${who} already has ${open} connections open`);
        try {
          port.postMessage(
            encodeErrorMessage(
              `too many connections: ${who} already has ${open} open; close some (each one can hold 200 contexts)`,
            ),
          );
          port.disconnect();
        } catch {
          /* the port may be gone already */
        }
        return;
      }
    }
    const session = new Session(this, port, { ...sender }, label, client, this.opts.authorize);
    this.sessions.add(session);
    this.logFor(sender, false, 'info', `${label}: attached`);
    this.connectionsChanged();
    port.onMessage.addListener((message: unknown) => {
      try {
        this.onMessage(session, message);
      } catch (e) {
        // Not reachable by design; if it ever is, the port is dropped rather than the router.
        this.log('error', `${label}: internal error handling a message (${String(e)})`);
        void this.closeSession(session, true);
      }
    });
    port.onDisconnect.addListener(() => void this.closeSession(session, false));
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

  /**
   * Takes access away from every port whose sender matches (the user revoked the app, a policy entry went away): their
   * daemon clients are closed at once (pcscd's client death: contexts and handles gone, transactions and exclusive
   * holds released, waiters cancelled), their subscriptions end, and their next call is authorized again. The ports stay
   * open. Resolves with the number of ports affected once their daemon clients are closed.
   */
  async revoke(matches: (sender: SenderInfo) => boolean): Promise<number> {
    const hit = [...this.sessions].filter((s) => {
      try {
        return matches(s.sender);
      } catch {
        return false;
      }
    });
    await Promise.all(
      hit.map(async (s) => {
        s.resetAuthorization();
        s.subscribed = false;
        const client = s.client;
        s.client = null;
        this.log('info', `${s.who}: access revoked; its contexts are closed`);
        if (client)
          await client
            .close()
            .catch((e: unknown) => this.log('warn', `${s.label}: closing its daemon client failed (${String(e)})`));
      }),
    );
    return hit.length;
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
    this.logFor(session.sender, session.allowed, 'info', `${session.label}: detached`);
    this.connectionsChanged();
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

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** A sender not (yet) allowed went over the stranger caps: its port goes, its new ports wait a cooldown. */
  private strangerAbuse(session: Session, what: string): void {
    const key = session.sender.id ?? session.sender.origin ?? 'unknown';
    const prev = this.cooldowns.get(key);
    const span = prev ? prev.next : STRANGER_COOLDOWN_MS;
    this.cooldowns.set(key, { until: this.now() + span, next: Math.min(span * 2, STRANGER_COOLDOWN_MAX_MS) });
    if (this.cooldowns.size > 10_000) {
      const t = this.now();
      for (const [k, c] of this.cooldowns) if (c.until < t) this.cooldowns.delete(k);
    }
    this.logFor(session.sender, false, 'warn', `${session.label}: ${what} before being allowed; disconnecting`);
    session.post(
      encodeErrorMessage(
        `${what}: an app not yet allowed may send messages of at most ${STRANGER_MAX_MESSAGE} characters`,
      ),
    );
    void this.closeSession(session, true);
  }

  private knownAllowed(session: Session): boolean {
    try {
      return this.opts.knownAllowed?.(session.sender) === true;
    } catch {
      return false;
    }
  }

  private onMessage(session: Session, raw: unknown): void {
    if (session.closed) return;
    if (!session.allowed && !this.knownAllowed(session)) {
      if (approxSize(raw, STRANGER_MAX_MESSAGE) > STRANGER_MAX_MESSAGE) {
        this.strangerAbuse(session, 'message too large');
        return;
      }
      const t = this.now();
      session.tokens = Math.min(
        STRANGER_RATE.burst,
        session.tokens + (session.tokensAt ? ((t - session.tokensAt) / 1000) * STRANGER_RATE.perSecond : 0),
      );
      session.tokensAt = t;
      if (session.tokens < 1) {
        this.strangerAbuse(session, 'too many messages');
        return;
      }
      session.tokens -= 1;
    }
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
        encodeErrResult(
          msg.id,
          new PcscError(SCARD_E_NO_MEMORY, `more than ${this.opts.maxPendingPerPort} requests in flight on this port`),
        ),
      );
      return;
    }
    session.pending.add(msg.id);
    if (msg.kind === 'call') void this.runCall(session, msg);
    else void this.runSubscribe(session, msg.id, msg.kind === 'subscribe');
  }

  private malformed(session: Session, message: string, id: number | undefined): void {
    session.malformed++;
    this.logFor(
      session.sender,
      session.allowed,
      'warn',
      `${session.label}: malformed message #${session.malformed}: ${redactText(message, this.redaction())}`,
    );
    session.post(encodeErrorMessage(message, id));
    if (session.malformed >= this.opts.maxMalformed && !session.closed) {
      this.logFor(
        session.sender,
        session.allowed,
        'warn',
        `${session.label}: ${session.malformed} malformed messages; disconnecting`,
      );
      void this.closeSession(session, true);
    }
  }

  /** Posts an answer if the request is still wanted (the port alive, the id still pending). */
  private answer(session: Session, id: number, message: unknown): void {
    if (session.closed || !session.pending.delete(id)) return;
    session.post(message);
  }

  private redaction(): Redaction {
    try {
      return this.opts.redaction?.() ?? { apdus: false };
    } catch {
      return { apdus: false };
    }
  }

  private async runSubscribe(session: Session, id: number, subscribe: boolean): Promise<void> {
    const epoch = session.epoch;
    const auth = await session.authorized;
    if (session.closed) return;
    if (!auth.ok || epoch !== session.epoch) {
      this.answer(
        session,
        id,
        encodeErrResult(id, new PcscError(SCARD_W_SECURITY_VIOLATION, auth.ok ? 'access was revoked' : auth.message)),
      );
      return;
    }
    session.subscribed = subscribe;
    this.answer(session, id, { v: 1, kind: 'result', id, ok: true, value: null });
    if (subscribe && this.readersEvent) session.post(this.readersEvent);
  }

  private async runCall(session: Session, call: DecodedCall): Promise<void> {
    let answer: unknown;
    let value: unknown;
    let error: unknown;
    let ran = false;
    try {
      const epoch = session.epoch;
      // Once decided, at once (the call starts in the message's own turn, as it did after a turn on the promise).
      const auth = session.decided ?? (await session.authorized);
      if (session.closed) return;
      if (!auth.ok) throw new PcscError(SCARD_W_SECURITY_VIOLATION, auth.message);
      if (epoch !== session.epoch)
        throw new PcscError(SCARD_W_SECURITY_VIOLATION, 'access was revoked while this call waited');
      const client = this.clientOf(session);
      ran = true;
      value = await invoke(client, call.fn, call.args);
      try {
        answer = encodeOkResult(call.id, call.fn, value);
      } catch (e) {
        this.log('error', `${session.label}: ${call.fn} returned a value the protocol cannot carry (${String(e)})`);
        throw e;
      }
    } catch (e) {
      error = e;
      answer = encodeErrResult(call.id, e);
    }
    if (this.opts.logCalls !== false) this.logCall(session, call, ran, value, error);
    this.answer(session, call.id, answer);
  }

  /** A call's line in the log, within its client's quota (over it, nothing of the line is made). */
  private logCall(session: Session, call: DecodedCall, ran: boolean, value: unknown, error: unknown): void {
    try {
      const level = !ran ? 'warn' : 'info';
      if (!this.admit(session.sender, session.allowed)) return;
      const line = callLine(session.who, call, value, error, this.redaction());
      if (this.opts.logLine) this.opts.logLine(level, line);
      else this.log(level, line());
    } catch {
      /* logging must not break a call */
    }
  }

  // -------------------------------------------------------------------------------------------------------------------
  // Who is connected, for the connector's window (service.ts shows it and withdraws the prompt of a client that left).

  private readonly connectionListeners = new Set<() => void>();

  /** The open ports: who Chrome says is on each, and the name it gave (its port name, as sent: clip it to show it). */
  get connections(): { sender: SenderInfo; name: string }[] {
    return [...this.sessions].map((s) => ({ sender: { ...s.sender }, name: s.port.name ?? '' }));
  }

  /** Called after a port is attached or has gone (a port refused at attach never counts). Returns an unsubscribe. */
  onConnectionsChange(listener: () => void): () => void {
    this.connectionListeners.add(listener);
    return () => this.connectionListeners.delete(listener);
  }

  private connectionsChanged(): void {
    for (const l of [...this.connectionListeners]) {
      try {
        l();
      } catch (e) {
        this.log('error', `a connections listener threw (${String(e)})`);
      }
    }
  }

  private clientOf(session: Session): RouterDaemonClient {
    if (session.client) return session.client;
    try {
      // One group per sender: an extension's connections share its fair share of each reader's handles.
      const group = session.sender.id ?? session.sender.origin;
      session.client = this.opts.daemon.connect({
        name: clip(session.port.name ?? '', 256),
        ...(group !== undefined ? { group } : {}),
      });
    } catch (e) {
      throw new PcscError(
        SCARD_E_NO_SERVICE,
        `the daemon refused a new client (${e instanceof Error ? e.message : String(e)})`,
      );
    }
    return session.client;
  }
}

/** Which values of a function the call log shows (the table's `log` marks), worked out once per function. */
interface LogPlan {
  /** Argument positions and their values. */
  args: [number, Value & { log: string }][];
  /** Result fields (shown on success). */
  fields: [string, Value & { log: string }][];
  /** The position of the command APDU, if any (a response is shown as its answer). */
  apduAt: number;
}
const logPlans = new Map<FunctionName, LogPlan>();

function logPlan(fn: FunctionName): LogPlan {
  let plan = logPlans.get(fn);
  if (!plan) {
    const spec = specOf(fn);
    const args: LogPlan['args'] = [];
    spec.args.forEach((a, i) => {
      if (a.log !== undefined) args.push([i, a as Value & { log: string }]);
    });
    const fields: LogPlan['fields'] = [];
    for (const [key, v] of Object.entries(spec.result.fields ?? {}))
      if (v.log !== undefined) fields.push([key, v as Value & { log: string }]);
    plan = { args, fields, apduAt: spec.args.findIndex((a) => a.carries === 'apdu') };
    logPlans.set(fn, plan);
  }
  return plan;
}

/**
 * "client "X" (id): SCardTransmit → SCARD_S_SUCCESS (APDU (5 bytes), response (14 bytes))": the arguments and (on
 * success) the outputs the function table marks for the log, bytes redacted per log.ts by what they carry. Returned as
 * a function making the line when it is read (log.ts `LogText`); what it needs is taken now, under the redaction in
 * force now. With APDU logging off that is the bytes' lengths only: no client bytes (a PIN) wait in the log for the line
 * to be read. With it on the line is made at once, the bytes going into it as log.ts allows and no further.
 */
function callLine(who: string, call: DecodedCall, value: unknown, error: unknown, r: Redaction): () => string {
  const plan = logPlan(call.fn);
  // [value, what describeValue shows of it]: bytes as their length when APDU logging is off.
  const shown: [Value & { log: string }, unknown][] = [];
  const keep = (v: Value, x: unknown): unknown => (v.kind === 'hex' && !r.apdus ? bytesOf(x).length : x);
  for (const [i, a] of plan.args) shown.push([a, keep(a, call.args[i])]);
  if (!error && plan.fields.length > 0) {
    const out = (value ?? {}) as Record<string, unknown>;
    for (const [key, v] of plan.fields) shown.push([v, keep(v, out[key])]);
  }
  const code = error === undefined ? 'ok' : error instanceof PcscError ? error.code : 'internal';
  const fn = call.fn;
  const make = (apdu: Uint8Array): string => {
    const name = code === 'ok' ? 'SCARD_S_SUCCESS' : code === 'internal' ? 'SCARD_F_INTERNAL_ERROR' : errorName(code);
    // A kept length stands in as that many zero bytes: with APDU logging off, redact.ts describes bytes by their
    // length alone, so the line is the one the bytes themselves would have given.
    const details = shown.map(([v, x]) =>
      describeValue(v, v.log, v.kind === 'hex' && typeof x === 'number' ? new Uint8Array(x) : x, r, apdu),
    );
    return `${who}: ${fn} → ${name}${details.length ? ` (${details.join(', ')})` : ''}`;
  };
  if (r.apdus) {
    const line = make(plan.apduAt >= 0 ? bytesOf(call.args[plan.apduAt]) : NO_BYTES);
    return () => line;
  }
  // Nothing here holds the call's bytes: only their lengths.
  return () => make(NO_BYTES);
}

const NO_BYTES = new Uint8Array(0);

/** "extension <id>" or "origin "<origin>"" for the quota's lines. */
function whoIs(sender: SenderInfo, key: string): string {
  return sender.id ? `extension ${sender.id}` : sender.origin ? `origin ${quoteUntrusted(sender.origin)}` : key;
}

function bytesOf(v: unknown): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(0);
}

/** One logged value: a string quoted, a number in hex after its label, bytes as their `carries` allows (log.ts). */
function describeValue(value: Value, label: string, v: unknown, r: Redaction, apdu: Uint8Array): string {
  switch (value.kind) {
    case 'string':
      return quoteUntrusted(String(v), 128);
    case 'hex':
      switch (value.carries) {
        case 'apdu':
          return describeCommandApdu(bytesOf(v), r);
        case 'response':
          return describeResponseTo(apdu, bytesOf(v), r);
        case 'card':
          return describeResponse(bytesOf(v), r, label);
        default:
          return lengthOnly(label, bytesOf(v));
      }
    default:
      return `${label} 0x${(Number(v) >>> 0).toString(16).toUpperCase()}`;
  }
}
