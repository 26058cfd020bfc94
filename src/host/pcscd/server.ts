/**
 * pcscd's Unix socket, served by our daemon: unmodified libpcsclite programs (pcsc_scan, opensc-tool, pyscard, any C
 * client) talk protocol 4.4 (wire.ts) to it as they would to pcscd.
 *
 * Mirrors pcsc-lite 1.9.9's winscard_svc.c (ContextThread): each accepted connection is one client of the daemon
 * (libpcsclite opens one per context; its contexts and card handles are its own) and runs one command at a time, in
 * order; when it closes, or its process dies, everything it held is released (MSGCleanupClient → PcscClient.close).
 * The client library evaluates SCardGetStatusChange itself from the READER_STATE array (GET_READERS_STATE,
 * WAIT_READER_STATE_CHANGE) and the one-shot `{0, rv}` event message; SCardCancel comes on a throwaway connection naming
 * the waiting context, and the message goes to the connection that holds it.
 *
 * Readers added or removed between two SCardGetStatusChange calls: libpcsclite 1.9.9 flags `\\?PnP?\Notification`
 * only when the number of named entries differs from the count in the array it got at the start of the same call
 * (winscard_clnt.c; pcsc-lite 2.3.0 added a counter for this), so with pcscd a change that lands while the client is
 * not waiting is never reported. Here each connection remembers the reader list of the last array it received; when a
 * WAIT_READER_STATE_CHANGE finds the list changed since, it answers with that last array and at once the event
 * message, so the client's very next read (the current array) shows the new count.
 *
 * Hostile input: a wrong size, an unknown command, a TRANSMIT/CONTROL length over 65548 or an attribute length over 264
 * closes that connection with a log line, as pcscd does; a command naming a card handle not opened on the connection
 * closes it after 2 s (pcscd's MSGCheckHandleAssociation: "rogue client", SYS_Sleep(2)). A client that does not read
 * its answers stops being served (its input is no longer read) until it does: the host never buffers without bound.
 * Nothing a client sends can throw out of here: one connection's failure never touches another's.
 */
import { endianness } from 'node:os';
import { chmodSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { PcscClient, PcscDaemon } from '../../pcsc/daemon.js';
import { PcscError } from '../../pcsc/errors.js';
import {
  SCARD_E_CANCELLED,
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_SERVICE_STOPPED,
  SCARD_F_INTERNAL_ERROR,
  SCARD_S_SUCCESS,
  pcscStringifyError,
} from '../../pcsc/constants.js';
import { describeCommandApdu, describeResponseTo, lengthOnly } from '../../connector/log.js';
import {
  CMD,
  HEADER_SIZE,
  MAX_BUFFER_SIZE,
  MAX_BUFFER_SIZE_EXTENDED,
  MAX_READERNAME,
  PROTOCOL_VERSION_MAJOR,
  PROTOCOL_VERSION_MINOR,
  commandName,
  decodeCString,
  decodeHeader,
  decodeStruct,
  encodeReaderStates,
  encodeStruct,
  encodeWaitMessage,
  isCommand,
  requestSize,
  type Command,
  type ReaderStateRecord,
} from './wire.js';
import { prepareSocketPath } from './socket-path.js';

export type PcscdLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface PcscdServer {
  readonly path: string;
  close(): Promise<void>;
}

export interface PcscdServeOptions {
  daemon: PcscDaemon;
  path: string;
  log?: (level: PcscdLogLevel, message: string) => void;
  /**
   * The lowest level `log` keeps (default 'debug': all). Below it, messages are not built at all: the per-command debug
   * line of a TRANSMIT (command name, return code text, APDU description) cost as much as the rest of a short one.
   */
  logLevel?: PcscdLogLevel;
  /** Log APDU and response bytes (PIN data and SCardControl/SetAttrib inputs never). Off: lengths only. */
  logApdus?: boolean;
  /**
   * Serve this inherited, already listening Unix socket (systemd socket activation, socket-activation.ts) instead of
   * creating `path`, which then only names it in the log: nothing is created, replaced or chmod-ed there (the
   * .socket unit's SocketMode= rules), and closing leaves the file to systemd.
   */
  fd?: number;
}

/** Internal knobs, for tests: what pcscd hard-codes. */
export interface PcscdTuning {
  /** MSGCheckHandleAssociation's SYS_Sleep(2) before closing a connection that named a foreign handle. */
  foreignHandleDelayMs: number;
  /** Stop serving a connection while this many answer bytes wait to be read by its client. */
  maxPendingOutput: number;
  /** Stop reading a connection while this many request bytes wait to be handled. */
  maxPendingInput: number;
}

const DEFAULT_TUNING: PcscdTuning = {
  foreignHandleDelayMs: 2000,
  maxPendingOutput: 256 * 1024,
  maxPendingInput: 256 * 1024,
};

/** What a server holds right now (leak and back-pressure checks). */
export interface PcscdServerStats {
  connections: number;
  /** Contexts established through the socket and not yet released. */
  contexts: number;
  /** Connections registered for the next reader event (WAIT_READER_STATE_CHANGE). */
  waiting: number;
  /** Bytes accepted from clients but not yet handled, summed over connections. */
  pendingInput: number;
  /** Bytes written to clients but not yet taken by them, summed over connections. */
  pendingOutput: number;
}

const statsOf = new WeakMap<PcscdServer, () => PcscdServerStats>();

/** The server's current holdings. */
export function pcscdServerStats(server: PcscdServer): PcscdServerStats {
  const f = statsOf.get(server);
  if (f === undefined) throw new TypeError('not a server made by servePcscd');
  return f();
}

/**
 * Listen on `path` (see socket-path.ts: a live socket there is refused, a stale one replaced, the directory created)
 * and serve pcscd's protocol 4.4 from `daemon` until `close()`.
 */
export async function servePcscd(options: PcscdServeOptions): Promise<PcscdServer> {
  return servePcscdTuned(options, {});
}

/** servePcscd with pcscd's hard-coded delays and limits changed (tests). */
export async function servePcscdTuned(options: PcscdServeOptions, tuning: Partial<PcscdTuning>): Promise<PcscdServer> {
  if (endianness() !== 'LE') {
    // wire.ts speaks little-endian; pcscd's clients speak their host's order.
    throw new Error('smart-card-host speaks pcscd protocol 4.4 in little-endian order only; this host is big-endian');
  }
  const host = new Host(options, { ...DEFAULT_TUNING, ...tuning });
  await host.listen();
  const server: PcscdServer = {
    path: options.path,
    close: () => host.close(),
  };
  statsOf.set(server, () => host.stats());
  return server;
}

class Host {
  readonly daemon: PcscDaemon;
  readonly log: (level: PcscdLogLevel, message: string) => void;
  readonly logApdus: boolean;
  /** Debug lines are kept: only then are they built. */
  readonly debug: boolean;
  readonly connections = new Set<Connection>();
  /** hContext → the connection that established it (pcscd's contextsList, searched by SCARD_CANCEL). */
  readonly contexts = new Map<number, Connection>();
  readonly #server: Server;
  #counter = 0;
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  constructor(
    readonly options: PcscdServeOptions,
    readonly tuning: PcscdTuning,
  ) {
    this.daemon = options.daemon;
    this.log = options.log ?? (() => undefined);
    this.logApdus = options.logApdus === true;
    this.debug = options.log !== undefined && (options.logLevel ?? 'debug') === 'debug';
    this.#server = createServer({ allowHalfOpen: false }, (socket) => this.#accept(socket));
    this.#server.on('error', (e) => this.log('error', `pcscd socket ${options.path}: ${e.message}`));
  }

  async listen(): Promise<void> {
    const fd = this.options.fd;
    const where = fd === undefined ? this.options.path : `${this.options.path} (socket passed by systemd, fd ${fd})`;
    if (fd === undefined) await prepareSocketPath(this.options.path);
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => reject(new Error(`cannot listen on ${where}: ${e.message}`));
      this.#server.once('error', onError);
      const done = (): void => {
        this.#server.off('error', onError);
        resolve();
      };
      if (fd === undefined) this.#server.listen(this.options.path, done);
      else this.#server.listen({ fd }, done);
    });
    // pcscd makes its socket reachable by every local user (the access policy is polkit's, not the file mode's).
    try {
      if (fd === undefined) chmodSync(this.options.path, 0o666);
    } catch (e) {
      this.log('warn', `cannot make ${this.options.path} accessible to other users: ${(e as Error).message}`);
    }
    // EHSignalEventToClients: every connection registered for events gets one {0, 0} and is unregistered.
    this.#unsubscribe = this.daemon.onReaderEvent(() => {
      for (const c of this.connections) c.signal(SCARD_S_SUCCESS);
    });
    this.log('info', `serving pcscd protocol ${PROTOCOL_VERSION_MAJOR}.${PROTOCOL_VERSION_MINOR} on ${where}`);
  }

  #accept(socket: Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    this.#counter += 1;
    const c = new Connection(this, socket, this.#counter);
    this.connections.add(c);
    c.start();
  }

  forget(c: Connection): void {
    this.connections.delete(c);
    for (const h of c.contexts) if (this.contexts.get(h) === c) this.contexts.delete(h);
  }

  /** The published reader names, in order: what a client's PnP count follows. */
  readerList(): string {
    return this.daemon.readerNames.join('\0');
  }

  readerStates(): Uint8Array {
    const states: ReaderStateRecord[] = this.daemon.readerStates().map((r) => ({
      name: r.name,
      eventCounter: r.eventCounter,
      readerState: r.readerState,
      readerSharing: r.readerSharing,
      atr: r.atr,
      cardProtocol: r.cardProtocol,
    }));
    return encodeReaderStates(states);
  }

  stats(): PcscdServerStats {
    let waiting = 0;
    let pendingInput = 0;
    let pendingOutput = 0;
    for (const c of this.connections) {
      if (c.registered) waiting += 1;
      pendingInput += c.pendingInput;
      pendingOutput += c.pendingOutput;
    }
    return { connections: this.connections.size, contexts: this.contexts.size, waiting, pendingInput, pendingOutput };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe?.();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await Promise.all([...this.connections].map((c) => c.close('the host is shutting down', 'info')));
    await closed;
    this.log('info', `stopped serving ${this.options.path}`);
  }
}

/** Replies up to this size are sent as one copied buffer, longer ones as a writev of their parts (Connection.#send). */
const ONE_WRITE_MAX = 16 * 1024;

/** Thrown inside a connection's loop to close it (pcscd's `goto exit`). */
class CloseConnection extends Error {}

function rvOf(e: unknown, log: (level: PcscdLogLevel, message: string) => void, what: string): number {
  if (e instanceof PcscError) return e.code >>> 0;
  log('error', `${what}: unexpected failure: ${e instanceof Error ? e.message : String(e)}`);
  return SCARD_F_INTERNAL_ERROR;
}

const rvName = (rv: number): string =>
  `${pcscStringifyError(rv >>> 0)} (0x${(rv >>> 0).toString(16).toUpperCase().padStart(8, '0')})`;

class Connection {
  readonly id: string;
  readonly client: PcscClient;
  readonly contexts = new Set<number>();
  /** Card handles opened on this connection → the context they belong to (pcscd's cardsList). */
  readonly handles = new Map<number, number>();
  /** In the event list (EHRegisterClientForEvent), waiting for one {0, rv}. */
  registered = false;
  /** The last READER_STATE array sent on this connection and its reader list (see the PnP note at the top). */
  #lastStates: Uint8Array | undefined;
  #lastList = '';
  #chunks: Buffer[] = [];
  /** Bytes of #chunks[0] already taken (a position, so that taking does not make a Buffer of the rest each time). */
  #offset = 0;
  #buffered = 0;
  #wake: (() => void) | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #paused = false;

  constructor(
    readonly host: Host,
    readonly socket: Socket,
    n: number,
  ) {
    this.id = `connection #${n}`;
    this.client = host.daemon.connect({ name: `pcscd socket ${this.id}` });
  }

  get pendingInput(): number {
    return this.#buffered;
  }

  get pendingOutput(): number {
    return this.socket.destroyed ? 0 : this.socket.writableLength;
  }

  start(): void {
    this.host.log('debug', `${this.id}: client connected`);
    this.socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered >= this.host.tuning.maxPendingInput && !this.#paused) {
        this.#paused = true;
        this.socket.pause();
      }
      this.#poke();
    });
    this.socket.on('error', (e) => this.host.log('debug', `${this.id}: socket error: ${e.message}`));
    this.socket.on('close', () => void this.close('the client closed the connection', 'debug'));
    void this.#loop().catch((e: unknown) => {
      const message = e instanceof Error ? e.message : String(e);
      void this.close(message, e instanceof CloseConnection ? 'warn' : 'error');
    });
  }

  #poke(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /** Exactly n bytes of input (waits for them), or CloseConnection when the connection ends first. */
  async #read(n: number): Promise<Uint8Array> {
    while (this.#buffered < n) {
      if (this.#closed) throw new CloseConnection('closed');
      if (this.#paused) {
        this.#paused = false;
        this.socket.resume();
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
    if (this.#closed) throw new CloseConnection('closed');
    return this.#take(n)!;
  }

  /**
   * Exactly n bytes of input when they are already here (the usual case: libpcsclite's header, struct and APDU arrive
   * in one read), without the promise turns of #read; undefined otherwise (then #read waits, or says the connection
   * closed).
   */
  #take(n: number): Uint8Array | undefined {
    if (this.#closed || this.#buffered < n) return undefined;
    let first = this.#chunks[0];
    if (first === undefined) return new Uint8Array(0); // n is 0
    if (first.length - this.#offset < n) {
      // The message spans chunks: join what is left of them.
      const parts = this.#chunks.slice();
      parts[0] = first.subarray(this.#offset);
      first = Buffer.concat(parts);
      this.#chunks = [first];
      this.#offset = 0;
    }
    // A view, not a copy: each chunk is a fresh buffer of its own that nothing else writes to.
    const out = new Uint8Array(first.buffer, first.byteOffset + this.#offset, n);
    this.#offset += n;
    if (this.#offset === first.length) {
      this.#chunks.shift();
      this.#offset = 0;
    }
    this.#buffered -= n;
    if (this.#paused && this.#buffered < this.host.tuning.maxPendingInput) {
      this.#paused = false;
      this.socket.resume();
    }
    return out;
  }

  /**
   * One message: its parts go out together, so libpcsclite, which reads whole structs, never sees one message split by
   * another (an event message from the reader-event feed, say). A short message is copied into one buffer and written
   * once (cork, two writes and uncork cost more in the stream machinery than the copy); a long one goes corked, as one
   * writev with no copy of its data.
   */
  #send(...parts: Uint8Array[]): void {
    if (this.#closed || this.socket.destroyed) return;
    if (parts.length === 1) {
      this.socket.write(parts[0]!);
      return;
    }
    let total = 0;
    for (const p of parts) total += p.length;
    if (total <= ONE_WRITE_MAX) {
      const one = Buffer.allocUnsafe(total);
      let off = 0;
      for (const p of parts) {
        one.set(p, off);
        off += p.length;
      }
      this.socket.write(one);
      return;
    }
    this.socket.cork();
    for (const p of parts) this.socket.write(p);
    this.socket.uncork();
  }

  /** The client does not read: serve nothing more until it takes what is waiting. */
  async #drain(): Promise<void> {
    while (!this.#closed && !this.socket.destroyed && this.socket.writableLength > this.host.tuning.maxPendingOutput) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        this.socket.once('drain', done);
        this.socket.once('close', done);
      });
    }
  }

  /** The current READER_STATE array, remembered with its reader list as this connection's last. */
  #states(): Uint8Array {
    this.#lastList = this.host.readerList();
    this.#lastStates = this.host.readerStates();
    return this.#lastStates;
  }

  /** MSGSignalClient for a registered connection: one {0, rv}, then it is out of the event list. */
  signal(rv: number): boolean {
    if (!this.registered || this.#closed) return false;
    this.registered = false;
    this.#send(encodeWaitMessage(rv));
    return true;
  }

  async #loop(): Promise<void> {
    for (;;) {
      // #drain's own test, made here: an async call costs promise turns even when there is nothing to wait for.
      if (this.pendingOutput > this.host.tuning.maxPendingOutput) await this.#drain();
      const header = decodeHeader(this.#take(HEADER_SIZE) ?? (await this.#read(HEADER_SIZE)));
      const { command, size } = header;
      if (!isCommand(command)) {
        // Received values stay out of the log (a hostile client's bytes): the field is named, not quoted.
        throw new CloseConnection(`${this.id}: a command id outside protocol 4.4: closing the connection`);
      }
      const expected = requestSize(command);
      if (size !== expected) {
        throw new CloseConnection(
          `${this.id}: ${commandName(command)} states a size other than its struct's ${expected} bytes: closing the connection`,
        );
      }
      const body = this.#take(size) ?? (await this.#read(size));
      await this.#handle(command, body);
    }
  }

  /** MSGCheckHandleAssociation's test: the handle was opened on this connection. */
  #owns(hCard: number): boolean {
    return this.contexts.size > 0 && this.handles.has(hCard >>> 0);
  }

  /** MSGCheckHandleAssociation: a handle not opened on this connection is a rogue client's. */
  async #checkHandle(hCard: number, command: Command): Promise<void> {
    if (this.#owns(hCard)) return;
    this.host.log(
      'warn',
      `${this.id}: ${commandName(command)} names a card handle this connection did not open: closing it in ${this.host.tuning.foreignHandleDelayMs} ms`,
    );
    if (!this.#paused) {
      this.#paused = true;
      this.socket.pause();
    }
    await new Promise((r) => setTimeout(r, this.host.tuning.foreignHandleDelayMs));
    throw new CloseConnection(`${this.id}: closed after naming a foreign card handle`);
  }

  #debug(command: Command, rv: number, extra = ''): void {
    if (!this.host.debug) return;
    this.host.log('debug', `${this.id}: ${commandName(command)} → ${rvName(rv)}${extra !== '' ? ` (${extra})` : ''}`);
  }

  async #handle(command: Command, body: Uint8Array): Promise<void> {
    const c = this.client;
    const log = this.host.log;
    const what = `${this.id}: ${commandName(command)}`;
    switch (command) {
      case CMD.VERSION: {
        const v = decodeStruct('version', body);
        const ok = v.major === PROTOCOL_VERSION_MAJOR && v.minor === PROTOCOL_VERSION_MINOR;
        if (!ok)
          log('warn', `${this.id}: the client speaks another protocol version than 4.4 (SCARD_E_SERVICE_STOPPED)`);
        const rv = ok ? SCARD_S_SUCCESS : SCARD_E_SERVICE_STOPPED;
        this.#send(encodeStruct('version', { major: PROTOCOL_VERSION_MAJOR, minor: PROTOCOL_VERSION_MINOR, rv }));
        return;
      }
      case CMD.GET_READERS_STATE:
        this.#send(this.#states());
        return;
      case CMD.WAIT_READER_STATE_CHANGE: {
        // EHRegisterClientForEvent: into the list, then the states as they are now …
        const previous = this.#lastStates;
        const changed = previous !== undefined && this.#lastList !== this.host.readerList();
        this.registered = true;
        const states = this.#states();
        if (!changed) {
          this.#send(states);
          return;
        }
        // … unless the reader list changed since this client's last array: that array again, then the event at once,
        // so the count the client compares against is the one it knew (PnP note at the top).
        this.#send(previous);
        this.signal(SCARD_S_SUCCESS);
        return;
      }
      case CMD.STOP_WAITING_READER_STATE_CHANGE:
        // Answered only when still registered: otherwise the event or cancel message already went out instead.
        if (this.registered) {
          this.registered = false;
          this.#send(encodeWaitMessage(SCARD_S_SUCCESS));
        }
        return;
      case CMD.ESTABLISH_CONTEXT: {
        const s = decodeStruct('establish', body);
        try {
          const { hContext } = await c.SCardEstablishContext(s.dwScope);
          s.hContext = hContext;
          s.rv = SCARD_S_SUCCESS;
          this.contexts.add(hContext >>> 0);
          this.host.contexts.set(hContext >>> 0, this);
        } catch (e) {
          s.rv = rvOf(e, log, what);
        }
        this.#debug(command, s.rv);
        this.#send(encodeStruct('establish', s));
        return;
      }
      case CMD.RELEASE_CONTEXT: {
        const s = decodeStruct('release', body);
        try {
          await c.SCardReleaseContext(s.hContext);
          s.rv = SCARD_S_SUCCESS;
          this.contexts.delete(s.hContext >>> 0);
          if (this.host.contexts.get(s.hContext >>> 0) === this) this.host.contexts.delete(s.hContext >>> 0);
          for (const [h, ctx] of this.handles) if (ctx === s.hContext >>> 0) this.handles.delete(h);
        } catch (e) {
          s.rv = rvOf(e, log, what);
        }
        this.#debug(command, s.rv);
        this.#send(encodeStruct('release', s));
        return;
      }
      case CMD.CONNECT: {
        const s = decodeStruct('connect', body);
        const raw = s.szReader.slice();
        raw[MAX_READERNAME - 1] = 0; // pcscd: coStr.szReader[sizeof(coStr.szReader)-1] = 0
        const name = decodeCString(raw);
        try {
          const r = await c.SCardConnect(s.hContext, name, s.dwShareMode, s.dwPreferredProtocols);
          s.hCard = r.hCard;
          s.dwActiveProtocol = r.dwActiveProtocol;
          s.rv = SCARD_S_SUCCESS;
          this.handles.set(r.hCard >>> 0, s.hContext >>> 0);
        } catch (e) {
          s.rv = rvOf(e, log, what);
        }
        this.#debug(command, s.rv);
        this.#send(encodeStruct('connect', s));
        return;
      }
      case CMD.RECONNECT: {
        const s = decodeStruct('reconnect', body);
        await this.#checkHandle(s.hCard, command);
        try {
          s.dwActiveProtocol = (
            await c.SCardReconnect(s.hCard, s.dwShareMode, s.dwPreferredProtocols, s.dwInitialization)
          ).dwActiveProtocol;
          s.rv = SCARD_S_SUCCESS;
        } catch (e) {
          s.dwActiveProtocol = 0;
          s.rv = rvOf(e, log, what);
        }
        this.#debug(command, s.rv);
        this.#send(encodeStruct('reconnect', s));
        return;
      }
      case CMD.DISCONNECT: {
        const s = decodeStruct('disconnect', body);
        await this.#checkHandle(s.hCard, command);
        try {
          await c.SCardDisconnect(s.hCard, s.dwDisposition);
          s.rv = SCARD_S_SUCCESS;
          this.handles.delete(s.hCard >>> 0);
        } catch (e) {
          s.rv = rvOf(e, log, what);
        }
        this.#debug(command, s.rv);
        this.#send(encodeStruct('disconnect', s));
        return;
      }
      case CMD.BEGIN_TRANSACTION: {
        const s = decodeStruct('begin', body);
        await this.#checkHandle(s.hCard, command);
        s.rv = await c.SCardBeginTransaction(s.hCard).then(
          () => SCARD_S_SUCCESS,
          (e: unknown) => rvOf(e, log, what),
        );
        this.#debug(command, s.rv);
        this.#send(encodeStruct('begin', s));
        return;
      }
      case CMD.END_TRANSACTION: {
        const s = decodeStruct('end', body);
        await this.#checkHandle(s.hCard, command);
        s.rv = await c.SCardEndTransaction(s.hCard, s.dwDisposition).then(
          () => SCARD_S_SUCCESS,
          (e: unknown) => rvOf(e, log, what),
        );
        this.#debug(command, s.rv);
        this.#send(encodeStruct('end', s));
        return;
      }
      case CMD.STATUS: {
        // Only hCard and rv travel: the client reads name, state, protocol and ATR from the READER_STATE array.
        const s = decodeStruct('status', body);
        await this.#checkHandle(s.hCard, command);
        s.rv = await c.SCardStatus(s.hCard).then(
          () => SCARD_S_SUCCESS,
          (e: unknown) => rvOf(e, log, what),
        );
        this.#debug(command, s.rv);
        this.#send(encodeStruct('status', s));
        return;
      }
      case CMD.CANCEL: {
        // Comes on a throwaway connection; the target is whichever connection established the context.
        const s = decodeStruct('cancel', body);
        const target = this.host.contexts.get(s.hContext >>> 0);
        // pcscd 1.9.9: INVALID_HANDLE unless the target was still waiting (then it gets {0, SCARD_E_CANCELLED}).
        s.rv = target !== undefined && target.signal(SCARD_E_CANCELLED) ? SCARD_S_SUCCESS : SCARD_E_INVALID_HANDLE;
        this.#debug(command, s.rv);
        this.#send(encodeStruct('cancel', s));
        return;
      }
      case CMD.TRANSMIT: {
        const s = decodeStruct('transmit', body);
        if (!this.#owns(s.hCard)) await this.#checkHandle(s.hCard, command); // no promise turn on the hot path
        if (s.cbSendLength > MAX_BUFFER_SIZE_EXTENDED) {
          throw new CloseConnection(
            `${what}: cbSendLength exceeds ${MAX_BUFFER_SIZE_EXTENDED}: closing the connection`,
          );
        }
        const apdu = this.#take(s.cbSendLength) ?? (await this.#read(s.cbSendLength));
        let response: Uint8Array | undefined;
        try {
          const r = await c.SCardTransmit(s.hCard, { dwProtocol: s.ioSendPciProtocol }, apdu, {
            recvLength: s.pcbRecvLength,
          });
          response = r.recvBuffer;
          s.rv = SCARD_S_SUCCESS;
          s.pcbRecvLength = response.length;
          // ioRecvPci goes back as it came: pcscd hands it to the driver, which leaves it alone (libccid does).
        } catch (e) {
          s.rv = rvOf(e, log, what);
          s.pcbRecvLength =
            s.rv === SCARD_E_INSUFFICIENT_BUFFER && e instanceof PcscError && e.needed !== undefined ? e.needed : 0;
        }
        if (this.host.debug) {
          const r = { apdus: this.host.logApdus };
          this.#debug(
            command,
            s.rv,
            `${describeCommandApdu(apdu, r)}${response !== undefined ? `, ${describeResponseTo(apdu, response, r)}` : ''}`,
          );
        }
        if (s.rv === SCARD_S_SUCCESS && response !== undefined) this.#send(encodeStruct('transmit', s), response);
        else this.#send(encodeStruct('transmit', s));
        return;
      }
      case CMD.CONTROL: {
        const s = decodeStruct('control', body);
        await this.#checkHandle(s.hCard, command);
        if (s.cbSendLength > MAX_BUFFER_SIZE_EXTENDED) {
          throw new CloseConnection(
            `${what}: cbSendLength exceeds ${MAX_BUFFER_SIZE_EXTENDED}: closing the connection`,
          );
        }
        const input = await this.#read(s.cbSendLength);
        let output: Uint8Array | undefined;
        try {
          output = (await c.SCardControl(s.hCard, s.dwControlCode, input, { recvLength: s.cbRecvLength })).output;
          s.rv = SCARD_S_SUCCESS;
          s.dwBytesReturned = output.length;
        } catch (e) {
          s.rv = rvOf(e, log, what);
          s.dwBytesReturned =
            s.rv === SCARD_E_INSUFFICIENT_BUFFER && e instanceof PcscError && e.needed !== undefined ? e.needed : 0;
        }
        // The input (PIN-pad structures, escape commands) is never logged, nor the output: lengths only.
        if (this.host.debug)
          this.#debug(command, s.rv, `${lengthOnly('input', input)}, ${lengthOnly('output', s.dwBytesReturned)}`);
        if (s.rv === SCARD_S_SUCCESS && output !== undefined) this.#send(encodeStruct('control', s), output);
        else this.#send(encodeStruct('control', s));
        return;
      }
      case CMD.GET_ATTRIB: {
        const s = decodeStruct('getset', body);
        await this.#checkHandle(s.hCard, command);
        if (s.cbAttrLen > MAX_BUFFER_SIZE) {
          throw new CloseConnection(`${what}: cbAttrLen exceeds ${MAX_BUFFER_SIZE}: closing the connection`);
        }
        try {
          const { attr } = await c.SCardGetAttrib(s.hCard, s.dwAttrId, { bufferLength: s.cbAttrLen });
          if (attr.length > MAX_BUFFER_SIZE)
            throw new PcscError(SCARD_E_INSUFFICIENT_BUFFER, 'attribute larger than the wire field', {
              needed: attr.length,
            });
          s.pbAttr = new Uint8Array(MAX_BUFFER_SIZE);
          s.pbAttr.set(attr);
          s.cbAttrLen = attr.length;
          s.rv = SCARD_S_SUCCESS;
        } catch (e) {
          s.rv = rvOf(e, log, what);
          s.pbAttr = new Uint8Array(MAX_BUFFER_SIZE);
          if (s.rv === SCARD_E_INSUFFICIENT_BUFFER && e instanceof PcscError && e.needed !== undefined)
            s.cbAttrLen = e.needed;
        }
        this.#debug(command, s.rv, `attribute 0x${s.dwAttrId.toString(16).toUpperCase()}`);
        this.#send(encodeStruct('getset', s));
        return;
      }
      case CMD.SET_ATTRIB: {
        const s = decodeStruct('getset', body);
        await this.#checkHandle(s.hCard, command);
        if (s.cbAttrLen > MAX_BUFFER_SIZE) {
          throw new CloseConnection(`${what}: cbAttrLen exceeds ${MAX_BUFFER_SIZE}: closing the connection`);
        }
        s.rv = await c.SCardSetAttrib(s.hCard, s.dwAttrId, s.pbAttr.slice(0, s.cbAttrLen)).then(
          () => SCARD_S_SUCCESS,
          (e: unknown) => rvOf(e, log, what),
        );
        this.#debug(
          command,
          s.rv,
          `attribute 0x${s.dwAttrId.toString(16).toUpperCase()}, ${lengthOnly('value', s.cbAttrLen)}`,
        );
        // The value is not echoed back (the client ignores it; it may be a secret).
        s.pbAttr = new Uint8Array(MAX_BUFFER_SIZE);
        this.#send(encodeStruct('getset', s));
        return;
      }
    }
  }

  /** pcscd's `exit:` close(filedes) + MSGCleanupClient. Idempotent. */
  close(reason: string, level: PcscdLogLevel): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.registered = false;
    this.#poke();
    this.socket.destroy();
    this.host.forget(this);
    this.host.log(level, reason.startsWith(this.id) ? reason : `${this.id}: ${reason}`);
    this.#closing = this.client.close().catch((e: unknown) => {
      this.host.log(
        'error',
        `${this.id}: releasing what it held failed: ${e instanceof Error ? e.message : String(e)}`,
      );
    });
    return this.#closing;
  }
}
