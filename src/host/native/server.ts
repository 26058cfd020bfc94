/**
 * What the native host answers on its one link, the connector: protocol v1 (`call`, `ping`, `subscribe`,
 * `unsubscribe` → `result`, `pong`, `event`, `error`; src/protocol) over the backend that the link's `hello` chose
 * (src/protocol/native.ts, docs/protocol.md "Native messaging").
 *
 * The connector is one client of the backend: everything it establishes or connects lives in one backend client,
 * closed (pcscd's client death: waits cancelled, cards disconnected, contexts released) when a later `hello` switches
 * backends or the link ends. Calls run concurrently; each waits for any `hello` sent before it, so a call always runs
 * on the backend its sender last chose. Before a successful `hello`, and while the chosen backend is unavailable,
 * calls fail with SCARD_E_NO_SERVICE and say why.
 *
 * Nothing is ever sent cut short: a message whose JSON exceeds Chrome's limit from host to browser
 * (MAX_NATIVE_MESSAGE_TO_BROWSER) is replaced by an error result for that request (or, for an event, dropped with a log
 * line).
 */
import { SCARD_E_NO_SERVICE, SCARD_F_INTERNAL_ERROR } from '../../pcsc/constants.js';
import { PcscError } from '../../pcsc/errors.js';
import {
  ProtocolError,
  clip,
  decodeClientMessage,
  errorName,
  encodeErrResult,
  encodeErrorMessage,
  encodeOkResult,
  encodePong,
  encodeReadersEvent,
  type DecodedCall,
  type ReaderInfo,
} from '../../protocol/codec.js';
import { invoke } from '../../protocol/functions.js';
import { describeCommandApdu, describeResponseTo } from '../../util/redact.js';
import { PROTOCOL_VERSION, type EventMessage } from '../../protocol/messages.js';
import {
  MAX_NATIVE_MESSAGE_TO_BROWSER,
  decodeHello,
  encodeHelloReply,
  isHello,
  type HostBackend,
  type HostBackendChoice,
  type HostBackendState,
} from '../../protocol/native.js';
import { ReaderWatcher } from '../../protocol/reader-watcher.js';
import type { HostLog, HostLogLevel } from '../readers/index.js';
import type { Backend, BackendClient, BackendProvider } from './backends.js';

export interface NativeServerOptions {
  provider: BackendProvider;
  /** Writes one message's JSON as a frame (its length already checked against `maxMessageBytes`). */
  send: (json: string) => void;
  log: HostLog;
  /** The host's package version (pong, hello). */
  version: string;
  /** Random per process (pong). */
  instance: string;
  /** What `auto` means in a `hello` (the host's --backend option; default: system if its service runs, else own). */
  defaultBackend?: HostBackendChoice;
  /** Largest JSON sent (default MAX_NATIVE_MESSAGE_TO_BROWSER; tests lower it). */
  maxMessageBytes?: number;
  /** Shown in the hello reply (default process.platform). */
  platform?: string;
  /** Command and response APDUs in the call log (debug level) as hex, PIN data never (default: lengths only). */
  logApdus?: boolean;
  /**
   * The lowest level `log` keeps (default 'debug': all). Below debug, the per-call line ("SCardTransmit →
   * SCARD_S_SUCCESS (APDU …)") is not built at all: its descriptions are about 1 % of the host's CPU per APDU.
   */
  logLevel?: HostLogLevel;
}

interface Session {
  backend: Backend;
  client: BackendClient;
  watcher: ReaderWatcher | null;
}

const NO_HELLO =
  'no backend chosen yet: the connector must send "hello" first (choosing the system PC/SC service or the host\'s own stack)';

export class NativeHostServer {
  readonly #o: NativeServerOptions;
  readonly #maxBytes: number;
  /** Whether the per-call debug line is written (and so built). */
  readonly #logCalls: boolean;
  #session: Session | null = null;
  /** Why calls fail when no session: before any hello, or the chosen backend's problem. */
  #noService = NO_HELLO;
  /** The last hello's processing: calls and later hellos wait for it. */
  #ready: Promise<void> = Promise.resolve();
  readonly #pending = new Set<number>();
  #subscribed = false;
  #readersEvent: EventMessage | null = null;
  #closing: Promise<void> | null = null;
  #malformed = 0;

  constructor(options: NativeServerOptions) {
    this.#o = options;
    this.#maxBytes = options.maxMessageBytes ?? MAX_NATIVE_MESSAGE_TO_BROWSER;
    this.#logCalls = (options.logLevel ?? 'debug') === 'debug';
  }

  /** The backend now serving, or null. */
  get backend(): HostBackend | null {
    return this.#session?.backend.kind ?? null;
  }

  /** Handles one message from the connector (any JSON value). Never throws. */
  handle(raw: unknown): void {
    if (this.#closing) return;
    try {
      if (isHello(raw)) this.#hello(raw);
      else this.#protocol(raw);
    } catch (e) {
      // Not reachable by design: every path answers or logs; a bug must not end the link.
      this.#o.log('error', `internal error handling a message: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Releases everything (cards disconnected, waits cancelled, own stack stopped). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#ready.catch(() => {});
      await this.#endSession();
    })();
    return this.#closing;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Sending

  /** Sends a message if its JSON fits; returns false (and sends nothing) when it does not. */
  #trySend(message: unknown): boolean {
    if (this.#closing) return true;
    const json = JSON.stringify(message);
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes > this.#maxBytes) return false;
    try {
      this.#o.send(json);
    } catch (e) {
      this.#o.log('warn', `writing to the browser failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    return true;
  }

  /** An answer to request `id`: if it does not fit, an error result naming the limit goes instead. */
  #answer(id: number, message: unknown): void {
    this.#pending.delete(id);
    if (this.#trySend(message)) return;
    const bytes = Buffer.byteLength(JSON.stringify(message), 'utf8');
    this.#o.log('warn', `request ${id}: its answer (${bytes} bytes of JSON) exceeds the native messaging limit`);
    this.#trySend(
      encodeErrResult(
        id,
        new PcscError(
          SCARD_F_INTERNAL_ERROR,
          `the answer is ${bytes} bytes of JSON, beyond Chrome's native messaging limit of ${this.#maxBytes} bytes ` +
            'from host to browser; it was not sent (ask for less: fewer reader states, a smaller buffer)',
        ),
      ),
    );
  }

  #error(message: string, id?: number): void {
    this.#malformed++;
    this.#o.log('warn', `malformed message #${this.#malformed}: ${message}`);
    this.#trySend(encodeErrorMessage(message, id));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // hello

  #hello(raw: unknown): void {
    const o = raw as Record<string, unknown>;
    if (o.v !== PROTOCOL_VERSION) {
      // The one place where a version mismatch is met first: say which side to update.
      const theirs = typeof o.v === 'number' ? `v${o.v}` : 'no version';
      const update =
        typeof o.v === 'number' && o.v > PROTOCOL_VERSION ? 'update smart-card-host' : 'update the connector';
      this.#error(
        `the connector speaks protocol ${theirs}, smart-card-host ${this.#o.version} speaks v${PROTOCOL_VERSION}: ${update}`,
        typeof o.id === 'number' && Number.isSafeInteger(o.id) && o.id >= 0 ? o.id : undefined,
      );
      return;
    }
    let hello;
    try {
      hello = decodeHello(raw);
    } catch (e) {
      const err = e instanceof ProtocolError ? e : new ProtocolError('malformed hello');
      this.#error(err.message, err.id);
      return;
    }
    const { id, backend } = hello;
    const run = async (): Promise<void> => {
      if (this.#closing) return;
      const { system, own } = await this.#choose(backend);
      // The reply's texts within what decodeHelloReply takes (details 1024 characters, the rest 64).
      const state = (b: HostBackendState): HostBackendState => ({
        available: b.available,
        detail: clip(b.detail, 1024),
      });
      this.#trySend(
        encodeHelloReply({
          id,
          version: clip(this.#o.version, 64),
          platform: clip(this.#o.platform ?? process.platform, 64),
          backend: this.backend,
          system: state(system),
          own: state(own),
        }),
      );
    };
    this.#ready = this.#ready.then(run, run).catch((e: unknown) => {
      this.#o.log('error', `hello ${id}: ${e instanceof Error ? e.message : String(e)}`);
    });
  }

  /** Serves `choice` (closing the other backend first); returns both backends' states for the reply. */
  async #choose(choice: HostBackendChoice): Promise<{ system: HostBackendState; own: HostBackendState }> {
    const { provider, log } = this.#o;
    const resolved = choice === 'auto' ? (this.#o.defaultBackend ?? 'auto') : choice;
    const current = this.#session?.backend.kind ?? null;
    let system = await provider.probeSystem();
    let own = current === 'own' ? { available: true, detail: this.#session!.backend.detail() } : provider.ownState();
    const target: HostBackend = resolved === 'auto' ? (system.available ? 'system' : 'own') : resolved;
    if (current === target) return { system, own };
    // Another backend: the connector's contexts and cards on this one go first (its waits cancelled).
    await this.#endSession();
    try {
      const backend = target === 'system' ? await provider.openSystem() : await provider.openOwn();
      const client = backend.connect('connector');
      this.#session = { backend, client, watcher: null };
      if (this.#subscribed) this.#watch(this.#session);
      if (target === 'own') own = { available: true, detail: backend.detail() };
      else system = { available: true, detail: backend.detail() };
      log('info', `backend: ${target} (${backend.detail()})`);
    } catch (e) {
      const text = e instanceof Error ? e.message : String(e);
      const detail = e instanceof PcscError ? text.replace(/^[^(]*\(0x[0-9A-F]{8}\): /, '') : text;
      if (target === 'own') {
        own = { available: false, detail: `the host's own stack could not start: ${detail}` };
        this.#noService = `${own.detail} (choose the system PC/SC service in the connector)`;
      } else {
        // The system's detail already says what to do, the own stack included.
        system = { available: false, detail };
        this.#noService = `the chosen backend (system) is not available: ${detail}`;
      }
      log('warn', `backend ${target} is not available: ${detail}`);
    }
    return { system, own };
  }

  async #endSession(): Promise<void> {
    const s = this.#session;
    this.#session = null;
    this.#readersEvent = null;
    if (!s) return;
    s.watcher?.stop();
    await s.client
      .close()
      .catch((e: unknown) => this.#o.log('warn', `releasing the connector's handles: ${String(e)}`));
    await s.backend
      .close()
      .catch((e: unknown) => this.#o.log('warn', `closing the ${s.backend.kind} backend: ${String(e)}`));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // protocol v1

  #protocol(raw: unknown): void {
    let msg;
    try {
      msg = decodeClientMessage(raw);
    } catch (e) {
      const err = e instanceof ProtocolError ? e : new ProtocolError('malformed message');
      this.#error(err.message, err.id);
      return;
    }
    if (msg.kind === 'ping') {
      this.#trySend(encodePong(msg.id, this.#o.instance, this.#o.version));
      return;
    }
    if (this.#pending.has(msg.id)) {
      this.#error(`id: duplicate request id ${msg.id} (a request with this id is still pending)`, msg.id);
      return;
    }
    this.#pending.add(msg.id);
    if (msg.kind === 'call') void this.#call(msg);
    else void this.#subscribe(msg.id, msg.kind === 'subscribe');
  }

  async #call(call: DecodedCall): Promise<void> {
    let answer: unknown;
    try {
      await this.#ready;
      const session = this.#session;
      if (!session) throw new PcscError(SCARD_E_NO_SERVICE, this.#noService);
      const value = await invoke(session.client, call.fn, call.args);
      answer = encodeOkResult(call.id, call.fn, value);
      if (this.#logCalls) this.#logCall(call, value, undefined);
    } catch (e) {
      answer = encodeErrResult(call.id, e);
      if (this.#logCalls) this.#logCall(call, undefined, e);
    }
    this.#answer(call.id, answer);
  }

  /** "SCardTransmit → SCARD_S_SUCCESS (APDU (5 bytes), response (14 bytes))", at debug level; bytes as redact.ts allows. */
  #logCall(call: DecodedCall, value: unknown, error: unknown): void {
    try {
      const code =
        error === undefined
          ? 'SCARD_S_SUCCESS'
          : errorName(error instanceof PcscError ? error.code : SCARD_F_INTERNAL_ERROR);
      let details = '';
      if (call.fn === 'SCardTransmit') {
        const r = { apdus: this.#o.logApdus === true };
        const apdu = call.args[2] as Uint8Array;
        const response = (value as { recvBuffer?: Uint8Array } | undefined)?.recvBuffer;
        details = ` (${describeCommandApdu(apdu, r)}${response ? `, ${describeResponseTo(apdu, response, r)}` : ''})`;
      }
      this.#o.log('debug', `connector: ${call.fn} → ${code}${details}`);
    } catch {
      /* logging must not break a call */
    }
  }

  async #subscribe(id: number, subscribe: boolean): Promise<void> {
    await this.#ready;
    this.#subscribed = subscribe;
    this.#answer(id, { v: 1, kind: 'result', id, ok: true, value: null });
    const s = this.#session;
    if (subscribe && s) {
      if (s.watcher === null) this.#watch(s);
      else if (this.#readersEvent) this.#sendEvent(this.#readersEvent);
    }
  }

  #watch(s: Session): void {
    const watcher = new ReaderWatcher(
      { connect: (info) => s.backend.connect(info?.name ?? 'reader watcher') },
      {
        onChange: (readers: ReaderInfo[]) => {
          if (this.#session !== s) return;
          this.#readersEvent = encodeReadersEvent(readers);
          if (this.#subscribed) this.#sendEvent(this.#readersEvent);
        },
        log: (level, message) => this.#o.log(level, message),
      },
    );
    s.watcher = watcher;
    watcher.start().catch((e: unknown) => this.#o.log('warn', `reader watcher: ${String(e)}`));
  }

  #sendEvent(event: EventMessage): void {
    if (!this.#trySend(event)) {
      this.#o.log('warn', `a readers event exceeds the native messaging limit of ${this.#maxBytes} bytes; not sent`);
    }
  }
}
