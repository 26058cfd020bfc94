/**
 * pcscd in-process: readers fed by drivers (readerfactory.c, eventhandler.c), clients and their contexts
 * (winscard_svc.c), and the SCard* functions with the client library's own checks, retries and per-context
 * serialisation (winscard_clnt.c) in front of the server's (winscard.c, here winscard.ts).
 *
 * Where pcscd sleeps and polls (100 ms lock polls, 400 ms status polls, the event handler's loop), this daemon waits
 * for events: a card event, a released lock or a disconnected handle wakes exactly the callers waiting for it.
 *
 * Shutdown and client close: a pending or later call of a closed client, or of any client once the daemon is shut
 * down, rejects with SCARD_E_NO_SERVICE — what the pcsc-lite client library returns when pcscd's socket closes
 * (winscard_msg.c MessageReceiveTimeout).
 */
import type { IfdReader } from '../ifd/ifd.js';
import type { PcscApi, ReaderStateIn, ReaderStateOut, ScardIoRequest } from './api.js';
import {
  INFINITE,
  MAX_BUFFER_SIZE,
  MAX_BUFFER_SIZE_EXTENDED,
  MAX_READERNAME,
  PCSCLITE_MAX_READERS_CONTEXTS,
  PCSCLITE_POWER_OFF_GRACE_PERIOD_MS,
  PCSC_MAX_CONTEXT_CARD_HANDLES,
  PCSC_MAX_CONTEXT_THREADS,
  PCSC_MAX_READER_HANDLES,
  SCARD_DEFAULT_READERS,
  SCARD_E_CANCELLED,
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_PARAMETER,
  SCARD_E_INVALID_VALUE,
  SCARD_E_NO_MEMORY,
  SCARD_E_NO_READERS_AVAILABLE,
  SCARD_E_NO_SERVICE,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_E_SHARING_VIOLATION,
  SCARD_E_TIMEOUT,
  SCARD_E_UNKNOWN_READER,
  SCARD_F_INTERNAL_ERROR,
  SCARD_LEAVE_CARD,
  SCARD_RESET_CARD,
  SCARD_SCOPE_GLOBAL,
  SCARD_SCOPE_USER,
  SCARD_STATE_IGNORE,
  SCARD_S_SUCCESS,
} from './constants.js';
import { ClientState, ContextState } from './context.js';
import { PcscError, isPcscError } from './errors.js';
import { HandleAllocator } from './handles.js';
import { closeReader, onReaderRemoved } from './ifd-wrapper.js';
import { Notifier } from './notifier.js';
import { ReaderFactory } from './reader-factory.js';
import type { ReaderSlot, ReaderSlotHooks } from './reader-slot.js';
import {
  SHARING_EXCLUSIVE,
  evaluatePass,
  findReader,
  isPnpName,
  type PassEntry,
  type ReaderSnapshot,
} from './status-change.js';
import { REAL_TIMERS, type Timers } from './timers.js';
import { Winscard } from './winscard.js';
import { hexNumber } from '../util/hex.js';

export interface DaemonOptions {
  /** pcscd's auto power-off grace (default 5000 ms; 0 = power off at once). */
  powerOffGraceMs?: number;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
  /** Source for 31-bit handles (default Math.random); tests may make it deterministic. */
  random?: () => number;
  /**
   * Where pcscd's limit of 200 contexts applies. 'daemon' (default) is pcscd's: 200 in all, shared by every client.
   * 'client' gives each client its own 200, so that in a browser, where clients are unrelated extensions, one client
   * cannot lock every other out by opening contexts; a single client sees exactly pcscd's limit either way.
   */
  contextLimitScope?: 'daemon' | 'client';
  /**
   * The timers of the power-off grace and of GetStatusChange's timeout (default: the real ones), the same shape as
   * the CCID transport's `timers` option, so tests run the daemon on a manual clock.
   */
  timers?: Timers;
}

export interface DaemonStats {
  clients: number;
  contexts: number;
  handles: number;
  waiters: number;
  readers: number;
}

/** One entry of pcscd's READER_STATE array: the reader snapshot plus the negotiated protocol (0 = none). */
export interface PublishedReaderState extends ReaderSnapshot {
  readonly cardProtocol: number;
}

/** One client group's hold on one reader (PcscDaemon.holders). */
export interface ReaderHolder {
  /** The client group (in the connector: the extension id, else the page's origin). */
  readonly group: string;
  /** Card handles its clients have on the reader. */
  readonly handles: number;
  /** One of them holds the reader's transaction (SCardBeginTransaction's lock). */
  readonly transaction: boolean;
  /** One of them is connected SCARD_SHARE_EXCLUSIVE. */
  readonly exclusive: boolean;
}

/** Who holds a listed reader, by client group (groups with no handle on it are left out). */
export interface ReaderHolders {
  readonly reader: string;
  readonly holders: readonly ReaderHolder[];
}

export interface PcscClient extends PcscApi {
  readonly id: string;
  /** The client goes away (pcscd MSGCleanupClient): its waiters are unregistered, handles disconnected, lock holder reset. */
  close(): Promise<void>;
}

const hex = (n: number): string => `0x${hexNumber(n >>> 0, 0)}`;
const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

function multiStringLength(items: readonly string[]): number {
  return items.reduce((n, s) => n + utf8Length(s) + 1, 0) + 1;
}

/** Card handles one client group may hold on one reader with per-client limits: a quarter of pcscd's 200. */
export const FAIR_READER_HANDLES = PCSC_MAX_READER_HANDLES / 4;

export class PcscDaemon {
  readonly #log: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
  readonly #ids: HandleAllocator;
  readonly #readers = new ReaderFactory();
  readonly #server: Winscard;
  /** EHSignalEventToClients: wakes every GetStatusChange waiter. */
  readonly #events = new Notifier();
  readonly #hooks: ReaderSlotHooks;
  readonly #timers: Timers;
  readonly #contexts = new Map<number, ContextState>();
  readonly #contextLimitScope: 'daemon' | 'client';
  readonly #clients = new Set<ClientState>();
  readonly #unsubscribe = new Map<IfdReader, () => void>();
  #clientCounter = 0;
  #stopped = false;
  readonly #holderListeners = new Set<() => void>();
  #holdersScheduled = false;
  #holdersKey = '';

  /**
   * What the daemon holds right now: clients, contexts, card handles, and callers waiting (GetStatusChange waiters
   * and calls waiting for another handle's lock). Diagnostics for leak checks and the connector's window; pcscd has
   * no equivalent.
   */
  stats(): DaemonStats {
    let handles = 0;
    for (const ctx of this.#contexts.values()) handles += ctx.handles.size;
    let waiters = this.#events.waiting;
    for (const slot of this.#readers.slots) waiters += slot.changes.waiting;
    return {
      clients: this.#clients.size,
      contexts: this.#contexts.size,
      handles,
      waiters,
      readers: this.#readers.slots.length,
    };
  }

  /**
   * Who holds each listed reader, by client group: card handles, the transaction, exclusive access. A read-only
   * snapshot for the connector's window (pcscd has none: its clients cannot see each other), so the user can see which
   * app makes the others wait, and end its hold.
   */
  holders(): ReaderHolders[] {
    return this.#readers.slots.map((slot) => {
      const byGroup = new Map<string, { group: string; handles: number; transaction: boolean; exclusive: boolean }>();
      for (const client of this.#clients) {
        for (const ctx of client.contexts.values()) {
          for (const hCard of ctx.handles.keys()) {
            if (!slot.handles.has(hCard)) continue;
            const h = byGroup.get(client.group) ?? {
              group: client.group,
              handles: 0,
              transaction: false,
              exclusive: false,
            };
            h.handles++;
            // rContext->contexts is -1 while the reader's only handle is an exclusive one; that handle holds the lock
            // implicitly (RFLockSharing in SCardConnect, count 1): a transaction is one more count above it.
            const exclusive = slot.contexts === SHARING_EXCLUSIVE;
            if (slot.lockId !== 0 && slot.lockId === hCard && slot.lockCount > (exclusive ? 1 : 0))
              h.transaction = true;
            if (exclusive) h.exclusive = true;
            byGroup.set(client.group, h);
          }
        }
      }
      return { reader: slot.name, holders: [...byGroup.values()] };
    });
  }

  /**
   * `listener` runs (asynchronously, once per burst of calls) when `holders()` changed: a handle connected or gone, a
   * transaction begun or ended, an exclusive connection made or given up, a reader added or removed. Returns the
   * unsubscribe function. A listener that throws is logged, not propagated.
   */
  onHoldersChange(listener: () => void): () => void {
    if (this.#holderListeners.size === 0) this.#holdersKey = JSON.stringify(this.holders());
    this.#holderListeners.add(listener);
    return () => this.#holderListeners.delete(listener);
  }

  #touching<T>(call: Promise<T>): Promise<T> {
    return call.finally(() => this.#touchHolders());
  }

  /** After any call that may change who holds what: compares the snapshot once the burst is over, tells on a change. */
  #touchHolders(): void {
    if (this.#holderListeners.size === 0 || this.#holdersScheduled) return;
    this.#holdersScheduled = true;
    void Promise.resolve().then(() => {
      this.#holdersScheduled = false;
      const key = JSON.stringify(this.holders());
      if (key === this.#holdersKey) return;
      this.#holdersKey = key;
      for (const l of [...this.#holderListeners]) {
        try {
          l();
        } catch (e) {
          this.#log('error', `holders listener failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    });
  }

  constructor(options: DaemonOptions = {}) {
    this.#contextLimitScope = options.contextLimitScope ?? 'daemon';
    this.#log = options.log ?? (() => undefined);
    this.#ids = new HandleAllocator(options.random);
    this.#server = new Winscard(this.#readers, this.#ids, this.#log);
    this.#timers = options.timers ?? REAL_TIMERS;
    // Card removal and reader removal release handles and locks without a call of the holder.
    this.#events.subscribe(() => this.#touchHolders());
    this.#hooks = {
      signalClients: () => this.#events.notify(),
      powerOffGraceMs: options.powerOffGraceMs ?? PCSCLITE_POWER_OFF_GRACE_PERIOD_MS,
      timers: this.#timers,
      log: this.#log,
    };
  }

  // -----------------------------------------------------------------------------------------------------------------
  // Readers

  /** Registers every slot of a driver's reader (RFAddReader); resolves with their names once their card state is known. */
  async addReader(reader: IfdReader): Promise<string[]> {
    if (this.#stopped) throw new PcscError(SCARD_E_NO_SERVICE, 'the daemon was shut down');
    const slots = this.#readers.create(reader, this.#hooks);
    this.#unsubscribe.set(
      reader,
      onReaderRemoved(reader, () => {
        void this.removeReader(reader).catch((e: unknown) =>
          this.#log('error', `removing "${reader.friendlyName}": ${String(e)}`),
        );
      }),
    );
    await Promise.all(slots.map((s) => s.start()));
    this.#log('info', `reader added: ${slots.map((s) => s.name).join(', ')}`);
    return slots.map((s) => s.name);
  }

  /** RFRemoveReader: the reader's slots leave the list, their waiters wake, the driver is closed. */
  async removeReader(reader: IfdReader): Promise<void> {
    this.#unsubscribe.get(reader)?.();
    this.#unsubscribe.delete(reader);
    const slots = this.#readers.remove(reader);
    if (slots.length === 0) return;
    for (const s of slots) s.detach();
    this.#events.notify();
    this.#log('info', `reader removed: ${slots.map((s) => s.name).join(', ')}`);
    const closed = await closeReader(reader);
    if (!closed.ok) this.#log('warn', `closing "${reader.friendlyName}": ${closed.detail}`);
  }

  /** The names in slot order. */
  get readerNames(): readonly string[] {
    return this.#readers.names;
  }

  /**
   * pcscd's published READER_STATE array (eventhandler.h), read-only: one record per listed reader, in slot order. For
   * front ends that speak pcscd's socket protocol (src/host/pcscd), whose clients evaluate GetStatusChange themselves.
   */
  readerStates(): PublishedReaderState[] {
    return this.#readers.slots.map((s) => ({ ...s.snapshot(), atr: s.atr.slice(), cardProtocol: s.cardProtocol }));
  }

  /**
   * EHSignalEventToClients as a feed: `listener` runs (synchronously, after the published states changed) on a card
   * insertion or removal, a reader error, a sharing change, a reader added or removed — never on a reset, a reconnect
   * or a transaction, as in pcscd. Returns the unsubscribe function. A listener that throws is logged, not propagated.
   */
  onReaderEvent(listener: () => void): () => void {
    return this.#events.subscribe(() => {
      try {
        listener();
      } catch (e) {
        this.#log('error', `reader event listener failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
  }

  // -----------------------------------------------------------------------------------------------------------------
  // Clients

  /** A new client (one connection to pcscd in the real thing). */
  connect(info: { name?: string; group?: string } = {}): PcscClient {
    this.#clientCounter += 1;
    const id =
      info.name !== undefined && info.name !== ''
        ? `${info.name}#${this.#clientCounter}`
        : `client-${this.#clientCounter}`;
    const state = new ClientState(id, info.group);
    this.#clients.add(state);
    return new Client(this, state);
  }

  /** Stops everything: every client is cleaned up, pending and later calls reject with SCARD_E_NO_SERVICE. */
  async shutdown(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const c of [...this.#clients]) await this.closeClient(c);
    for (const reader of [...this.#unsubscribe.keys()]) await this.removeReader(reader);
  }

  /** MSGCleanupClient for every context of the client. */
  closeClient(client: ClientState): Promise<void> {
    return this.#touching(this.#closeClientImpl(client));
  }

  async #closeClientImpl(client: ClientState): Promise<void> {
    if (client.closed) return;
    client.closed = true;
    this.#clients.delete(client);
    for (const ctx of [...client.contexts.values()]) await this.#removeContext(client, ctx, SCARD_E_NO_SERVICE);
  }

  /**
   * winscard_svc.c MSGRemoveContext (ReleaseContext and client death): unregister the waiter; Disconnect(LEAVE) each
   * handle, except the one holding its reader's lock: the lock is dropped and that handle disconnects with RESET,
   * unless the card was already reset or removed under it.
   */
  async #removeContext(client: ClientState, ctx: ContextState, waiterCode: number): Promise<void> {
    ctx.released = true;
    ctx.cancelWait?.(waiterCode);
    ctx.cancelWait = undefined;
    client.contexts.delete(ctx.hContext);
    this.#contexts.delete(ctx.hContext);
    this.#ids.release(ctx.hContext);
    for (const hCard of [...ctx.handles.keys()]) {
      ctx.handles.delete(hCard);
      const slot = this.#readers.byHandle(hCard);
      let disposition = SCARD_LEAVE_CARD;
      if (slot !== undefined && slot.lockId !== 0 && slot.lockId === hCard) {
        slot.lockId = 0;
        const pending = slot.checkEventState(hCard);
        disposition = pending === SCARD_S_SUCCESS ? SCARD_RESET_CARD : SCARD_LEAVE_CARD;
      }
      try {
        await this.#server.disconnect(hCard, disposition);
      } catch (e) {
        this.#log(
          'warn',
          `cleaning up handle ${hex(hCard)} of ${client.id}: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
  }

  // -----------------------------------------------------------------------------------------------------------------
  // The client library's side of each call

  #alive(client: ClientState): void {
    if (this.#stopped) throw new PcscError(SCARD_E_NO_SERVICE, 'the PC/SC daemon was shut down');
    // The text names no client id: ids carry a daemon-wide counter, which tells a client how many others came before.
    if (client.closed) throw new PcscError(SCARD_E_NO_SERVICE, 'this client was closed (its daemon connection ended)');
  }

  #context(client: ClientState, hContext: number): ContextState {
    this.#alive(client);
    const ctx = client.contexts.get(hContext >>> 0);
    if (ctx === undefined || ctx.released) {
      throw new PcscError(
        SCARD_E_INVALID_HANDLE,
        `context ${hex(hContext)} is not an established context of this client`,
      );
    }
    return ctx;
  }

  #handleContext(client: ClientState, hCard: number): ContextState {
    this.#alive(client);
    const ctx = client.contextOfHandle(hCard >>> 0);
    if (ctx === undefined || ctx.released) {
      throw new PcscError(SCARD_E_INVALID_HANDLE, `card handle ${hex(hCard)} is not a connected handle of this client`);
    }
    return ctx;
  }

  /** Re-check, inside the context lock, that the handle is still this client's (it may have been disconnected meanwhile). */
  #stillOwned(client: ClientState, ctx: ContextState, hCard: number): void {
    this.#alive(client);
    if (ctx.released || !ctx.handles.has(hCard)) {
      throw new PcscError(SCARD_E_INVALID_HANDLE, `card handle ${hex(hCard)} is not a connected handle of this client`);
    }
  }

  /**
   * The client library's `if (SCARD_E_SHARING_VIOLATION == rv) { unlock context; sleep 100 ms; retry }` of
   * SCardReconnect, SCardBeginTransaction, SCardStatus and SCardTransmit, as a wait for the reader to change. The
   * context is not held while waiting, as in pcsc-lite.
   */
  async #retryOnSharingViolation<T>(
    client: ClientState,
    ctx: ContextState,
    hCard: number,
    attempt: () => Promise<T>,
  ): Promise<T> {
    for (;;) {
      let slot: ReaderSlot | undefined;
      let generation = 0;
      try {
        return await ctx.queue.run(async () => {
          this.#stillOwned(client, ctx, hCard);
          slot = this.#readers.byHandle(hCard);
          generation = slot?.changes.generation ?? 0;
          return await attempt();
        });
      } catch (e) {
        if (!isPcscError(e, SCARD_E_SHARING_VIOLATION) || slot === undefined) throw e;
      }
      await slot.changes.wait(generation).promise;
    }
  }

  async establishContext(client: ClientState, dwScope: number): Promise<{ hContext: number }> {
    this.#alive(client);
    if (!Number.isInteger(dwScope) || dwScope < SCARD_SCOPE_USER || dwScope > SCARD_SCOPE_GLOBAL) {
      throw new PcscError(
        SCARD_E_INVALID_VALUE,
        `scope ${dwScope} is none of SCARD_SCOPE_USER (0) … SCARD_SCOPE_GLOBAL (3)`,
      );
    }
    const perClient = this.#contextLimitScope === 'client';
    const established = perClient ? client.contexts.size : this.#contexts.size;
    if (established >= PCSC_MAX_CONTEXT_THREADS) {
      throw new PcscError(
        SCARD_E_NO_MEMORY,
        `${PCSC_MAX_CONTEXT_THREADS} contexts are established${perClient ? ' by this client' : ''}, pcscd's limit: release some first`,
      );
    }
    const hContext = this.#ids.allocate();
    const ctx = new ContextState(hContext, client.id);
    client.contexts.set(hContext, ctx);
    this.#contexts.set(hContext, ctx);
    return { hContext };
  }

  releaseContext(client: ClientState, hContext: number): Promise<void> {
    return this.#touching(this.#releaseContextImpl(client, hContext));
  }

  async #releaseContextImpl(client: ClientState, hContext: number): Promise<void> {
    const ctx = this.#context(client, hContext);
    await ctx.queue.run(async () => {
      this.#context(client, hContext);
      await this.#removeContext(client, ctx, SCARD_E_INVALID_HANDLE);
    });
  }

  async isValidContext(client: ClientState, hContext: number): Promise<void> {
    this.#context(client, hContext);
  }

  async listReaders(
    client: ClientState,
    hContext: number,
    bufferLength: number | undefined,
  ): Promise<{ readers: string[] }> {
    const ctx = this.#context(client, hContext);
    return ctx.queue.run(async () => {
      this.#context(client, hContext);
      const readers = [...this.#readers.names];
      if (readers.length === 0) throw new PcscError(SCARD_E_NO_READERS_AVAILABLE, 'no reader is connected');
      const needed = multiStringLength(readers);
      if (bufferLength !== undefined && bufferLength < needed) {
        throw new PcscError(
          SCARD_E_INSUFFICIENT_BUFFER,
          `the reader list needs ${needed} characters, the buffer has ${bufferLength}`,
          { needed },
        );
      }
      return { readers };
    });
  }

  async listReaderGroups(
    client: ClientState,
    hContext: number,
    bufferLength: number | undefined,
  ): Promise<{ groups: string[] }> {
    const ctx = this.#context(client, hContext);
    return ctx.queue.run(async () => {
      this.#context(client, hContext);
      const groups = [SCARD_DEFAULT_READERS];
      const needed = multiStringLength(groups);
      if (bufferLength !== undefined && bufferLength < needed) {
        throw new PcscError(
          SCARD_E_INSUFFICIENT_BUFFER,
          `the group list needs ${needed} characters, the buffer has ${bufferLength}`,
          { needed },
        );
      }
      return { groups };
    });
  }

  connectCard(
    client: ClientState,
    hContext: number,
    szReader: string,
    dwShareMode: number,
    dwPreferredProtocols: number,
  ): Promise<{ hCard: number; dwActiveProtocol: number }> {
    return this.#touching(this.#connectCardImpl(client, hContext, szReader, dwShareMode, dwPreferredProtocols));
  }

  async #connectCardImpl(
    client: ClientState,
    hContext: number,
    szReader: string,
    dwShareMode: number,
    dwPreferredProtocols: number,
  ): Promise<{ hCard: number; dwActiveProtocol: number }> {
    this.#alive(client);
    if (typeof szReader !== 'string' || szReader === '')
      throw new PcscError(SCARD_E_UNKNOWN_READER, 'no reader name given');
    if (utf8Length(szReader) > MAX_READERNAME) {
      throw new PcscError(
        SCARD_E_INVALID_VALUE,
        `reader name longer than ${MAX_READERNAME} bytes: "${szReader.slice(0, 40)}…"`,
      );
    }
    const ctx = this.#context(client, hContext);
    return ctx.queue.run(async () => {
      this.#context(client, hContext);
      if (this.#contextLimitScope === 'client') this.#checkFairShare(client, szReader);
      const r = await this.#server.connect(szReader, dwShareMode >>> 0, dwPreferredProtocols >>> 0);
      if (ctx.released || client.closed) {
        await this.#server.disconnect(r.hCard, SCARD_LEAVE_CARD);
        throw new PcscError(
          client.closed ? SCARD_E_NO_SERVICE : SCARD_E_INVALID_HANDLE,
          'the context was released during SCardConnect',
        );
      }
      if (ctx.handles.size >= PCSC_MAX_CONTEXT_CARD_HANDLES) {
        await this.#server.disconnect(r.hCard, SCARD_LEAVE_CARD);
        throw new PcscError(
          SCARD_E_NO_MEMORY,
          `this context already has ${PCSC_MAX_CONTEXT_CARD_HANDLES} card handles, pcscd's limit: disconnect some`,
        );
      }
      ctx.handles.set(r.hCard, { readerName: szReader });
      return { hCard: r.hCard, dwActiveProtocol: r.dwActiveProtocol };
    });
  }

  /**
   * With per-client limits (the browser, where clients are unrelated extensions), one client group (an extension, over
   * all its connections) may hold at most FAIR_READER_HANDLES of a reader's 200 handles, so that taking them all cannot
   * make every other app's SCardConnect fail. Over it: pcscd's code for a reader out of handles (SCARD_F_INTERNAL_ERROR,
   * winscard.c SCardConnect when RFAddReaderHandle fails).
   */
  #checkFairShare(client: ClientState, szReader: string): void {
    let held = 0;
    for (const other of this.#clients) {
      if (other.group !== client.group) continue;
      for (const c of other.contexts.values())
        for (const h of c.handles.values()) if (h.readerName === szReader) held++;
    }
    if (held >= FAIR_READER_HANDLES)
      throw new PcscError(
        SCARD_F_INTERNAL_ERROR,
        `this app already holds ${held} of the reader's ${PCSC_MAX_READER_HANDLES} handles, its fair share: ` +
          'disconnect some',
      );
  }

  reconnect(
    client: ClientState,
    hCard: number,
    share: number,
    preferred: number,
    init: number,
  ): Promise<{ dwActiveProtocol: number }> {
    return this.#touching(this.#reconnectImpl(client, hCard, share, preferred, init));
  }

  async #reconnectImpl(
    client: ClientState,
    hCard: number,
    share: number,
    preferred: number,
    init: number,
  ): Promise<{ dwActiveProtocol: number }> {
    const ctx = this.#handleContext(client, hCard);
    const dwActiveProtocol = await this.#retryOnSharingViolation(client, ctx, hCard >>> 0, () =>
      this.#server.reconnect(hCard >>> 0, share >>> 0, preferred >>> 0, init >>> 0),
    );
    return { dwActiveProtocol };
  }

  disconnect(client: ClientState, hCard: number, disposition: number): Promise<void> {
    return this.#touching(this.#disconnectImpl(client, hCard, disposition));
  }

  async #disconnectImpl(client: ClientState, hCard: number, disposition: number): Promise<void> {
    const ctx = this.#handleContext(client, hCard);
    await ctx.queue.run(async () => {
      this.#stillOwned(client, ctx, hCard >>> 0);
      await this.#server.disconnect(hCard >>> 0, disposition >>> 0);
      ctx.handles.delete(hCard >>> 0);
    });
  }

  beginTransaction(client: ClientState, hCard: number): Promise<void> {
    return this.#touching(this.#beginTransactionImpl(client, hCard));
  }

  async #beginTransactionImpl(client: ClientState, hCard: number): Promise<void> {
    const ctx = this.#handleContext(client, hCard);
    await this.#retryOnSharingViolation(client, ctx, hCard >>> 0, async () =>
      this.#server.beginTransaction(hCard >>> 0),
    );
  }

  endTransaction(client: ClientState, hCard: number, disposition: number): Promise<void> {
    return this.#touching(this.#endTransactionImpl(client, hCard, disposition));
  }

  async #endTransactionImpl(client: ClientState, hCard: number, disposition: number): Promise<void> {
    const d = disposition >>> 0;
    // winscard_clnt.c looks the handle up; winscard.c then checks the disposition before RFReaderInfoById.
    const ctx = this.#handleContext(client, hCard);
    await ctx.queue.run(async () => {
      this.#stillOwned(client, ctx, hCard >>> 0);
      await this.#server.endTransaction(hCard >>> 0, d);
    });
  }

  async status(
    client: ClientState,
    hCard: number,
  ): Promise<{ szReaderName: string; dwState: number; dwProtocol: number; atr: Uint8Array }> {
    const ctx = this.#handleContext(client, hCard);
    return this.#retryOnSharingViolation(client, ctx, hCard >>> 0, async () => {
      const info = ctx.handles.get(hCard >>> 0);
      const readerName = info?.readerName ?? '';
      // The client library looks the reader up in pcscd's published reader states first.
      if (!this.#readers.names.includes(readerName)) {
        throw new PcscError(SCARD_E_READER_UNAVAILABLE, `reader "${readerName}" is no longer connected`);
      }
      return this.#server.status(hCard >>> 0, readerName);
    });
  }

  async getStatusChange(
    client: ClientState,
    hContext: number,
    dwTimeout: number,
    states: ReaderStateIn[],
  ): Promise<{ readerStates: ReaderStateOut[] }> {
    this.#alive(client);
    if (states.length > PCSCLITE_MAX_READERS_CONTEXTS) {
      throw new PcscError(
        SCARD_E_INVALID_PARAMETER,
        `${states.length} reader states given; pcsc-lite takes at most ${PCSCLITE_MAX_READERS_CONTEXTS}`,
      );
    }
    const out = (entries: readonly PassEntry[]): ReaderStateOut[] =>
      entries.map((e, i) => {
        const src = states[i];
        const r: ReaderStateOut = {
          szReader: e.szReader,
          dwCurrentState: e.dwCurrentState,
          dwEventState: e.dwEventState >>> 0,
          rgbAtr: e.rgbAtr.slice(),
        };
        if (src !== undefined && 'pvUserData' in src) r.pvUserData = src.pvUserData;
        return r;
      });
    let entries: PassEntry[] = states.map((s) => ({
      szReader: s.szReader,
      dwCurrentState: s.dwCurrentState >>> 0,
      dwEventState: 0,
      rgbAtr: new Uint8Array(0),
    }));
    if (entries.every((e) => e.dwCurrentState & SCARD_STATE_IGNORE)) return { readerStates: out(entries) };
    const ctx = this.#context(client, hContext);
    return ctx.queue.run(async () => {
      this.#context(client, hContext);
      let readers = this.#readers.slots.map((s) => s.snapshot());
      for (const e of entries) {
        if (typeof e.szReader !== 'string')
          throw new PcscError(SCARD_E_INVALID_VALUE, 'a reader state has no reader name');
        if (findReader(readers, e.szReader) === undefined && !isPnpName(e.szReader)) {
          throw new PcscError(
            SCARD_E_UNKNOWN_READER,
            `no reader named "${e.szReader}"; SCardListReaders gives the names`,
          );
        }
      }
      let count = readers.length;
      const infinite = dwTimeout >>> 0 === INFINITE;
      const deadline = infinite ? Infinity : this.#now() + (dwTimeout >>> 0);
      for (;;) {
        const generation = this.#events.generation;
        const pass = evaluatePass(entries, readers, count);
        entries = pass.entries;
        count = pass.readerCount;
        if (pass.changed) return { readerStates: out(entries) };
        const remaining = deadline - this.#now();
        if (!infinite && remaining <= 0) {
          throw new PcscError(SCARD_E_TIMEOUT, `no change within ${dwTimeout} ms`, { readerStates: out(entries) });
        }
        const outcome = await this.#waitForEvent(ctx, generation, infinite ? undefined : remaining);
        if (outcome === 'timeout')
          throw new PcscError(SCARD_E_TIMEOUT, `no change within ${dwTimeout} ms`, { readerStates: out(entries) });
        if (outcome !== 'event') {
          throw new PcscError(
            outcome,
            outcome === SCARD_E_CANCELLED
              ? 'SCardCancel was called on this context'
              : 'the context went away while waiting',
            { readerStates: out(entries) },
          );
        }
        this.#alive(client);
        readers = this.#readers.slots.map((s) => s.snapshot());
      }
    });
  }

  #now(): number {
    return this.#timers.clock?.() ?? Date.now();
  }

  /** Wait for EHSignalEventToClients, a timeout, or a cancellation (SCardCancel, context release, client death). */
  #waitForEvent(
    ctx: ContextState,
    generation: number,
    timeoutMs: number | undefined,
  ): Promise<'event' | 'timeout' | number> {
    return new Promise((resolve) => {
      const wait = this.#events.wait(generation);
      let timer: unknown;
      const finish = (v: 'event' | 'timeout' | number): void => {
        wait.dispose();
        if (timer !== undefined) this.#timers.clearTimeout(timer);
        ctx.cancelWait = undefined;
        resolve(v);
      };
      if (timeoutMs !== undefined) timer = this.#timers.setTimeout(() => finish('timeout'), timeoutMs);
      ctx.cancelWait = (code) => finish(code);
      void wait.promise.then(() => finish('event'));
    });
  }

  async cancel(client: ClientState, hContext: number): Promise<void> {
    const ctx = this.#context(client, hContext);
    // 1.9.9: SUCCESS when nothing waits, else the waiter gets SCARD_E_CANCELLED.
    ctx.cancelWait?.(SCARD_E_CANCELLED);
  }

  async control(
    client: ClientState,
    hCard: number,
    code: number,
    input: Uint8Array,
    recvLength: number | undefined,
  ): Promise<{ output: Uint8Array }> {
    const ctx = this.#handleContext(client, hCard);
    if (input.length > MAX_BUFFER_SIZE_EXTENDED) {
      throw new PcscError(
        SCARD_E_INSUFFICIENT_BUFFER,
        `input of ${input.length} bytes; at most ${MAX_BUFFER_SIZE_EXTENDED}`,
      );
    }
    return ctx.queue.run(async () => {
      this.#stillOwned(client, ctx, hCard >>> 0);
      return { output: await this.#server.control(hCard >>> 0, code, input, recvLength) };
    });
  }

  async getAttrib(
    client: ClientState,
    hCard: number,
    attrId: number,
    bufferLength: number | undefined,
  ): Promise<{ attr: Uint8Array }> {
    const ctx = this.#handleContext(client, hCard);
    // winscard_clnt.c SCardGetSetAttrib: the attribute travels in a MAX_BUFFER_SIZE array.
    if (bufferLength !== undefined && bufferLength > MAX_BUFFER_SIZE) {
      throw new PcscError(
        SCARD_E_INSUFFICIENT_BUFFER,
        `attribute buffers are at most ${MAX_BUFFER_SIZE} bytes; ${bufferLength} was given`,
      );
    }
    return ctx.queue.run(async () => {
      this.#stillOwned(client, ctx, hCard >>> 0);
      return { attr: this.#server.getAttrib(hCard >>> 0, attrId, bufferLength) };
    });
  }

  async setAttrib(client: ClientState, hCard: number, attrId: number, attr: Uint8Array): Promise<void> {
    this.#alive(client);
    if (attr.length === 0)
      throw new PcscError(SCARD_E_INVALID_PARAMETER, 'SCardSetAttrib needs a value of at least one byte');
    const ctx = this.#handleContext(client, hCard);
    if (attr.length > MAX_BUFFER_SIZE)
      throw new PcscError(
        SCARD_E_INSUFFICIENT_BUFFER,
        `attribute value of ${attr.length} bytes; at most ${MAX_BUFFER_SIZE}`,
      );
    await ctx.queue.run(async () => {
      this.#stillOwned(client, ctx, hCard >>> 0);
      await this.#server.setAttrib(hCard >>> 0, attrId, attr);
    });
  }

  async transmit(
    client: ClientState,
    hCard: number,
    ioSendPci: ScardIoRequest,
    sendBuffer: Uint8Array,
    recvLength: number | undefined,
  ): Promise<{ recvPci: ScardIoRequest; recvBuffer: Uint8Array }> {
    const ctx = this.#handleContext(client, hCard);
    if (sendBuffer.length > MAX_BUFFER_SIZE_EXTENDED) {
      throw new PcscError(
        SCARD_E_INSUFFICIENT_BUFFER,
        `APDU of ${sendBuffer.length} bytes; at most ${MAX_BUFFER_SIZE_EXTENDED}`,
      );
    }
    const protocol = ioSendPci.dwProtocol >>> 0;
    const recvBuffer = await this.#retryOnSharingViolation(client, ctx, hCard >>> 0, () =>
      this.#server.transmit(hCard >>> 0, protocol, sendBuffer, recvLength ?? Infinity),
    );
    return { recvPci: { dwProtocol: protocol }, recvBuffer };
  }
}

/**
 * One client's PcscApi: every call attributed to it. Its methods follow `PcscApi`, which the protocol's function table
 * (src/protocol/functions.ts) is checked against when compiling, so this forwarding list cannot drift from the wire.
 */
class Client implements PcscClient {
  readonly id: string;

  constructor(
    private readonly daemon: PcscDaemon,
    private readonly state: ClientState,
  ) {
    this.id = state.id;
  }

  close(): Promise<void> {
    return this.daemon.closeClient(this.state);
  }

  SCardEstablishContext(dwScope: number): Promise<{ hContext: number }> {
    return this.daemon.establishContext(this.state, dwScope);
  }
  SCardReleaseContext(hContext: number): Promise<void> {
    return this.daemon.releaseContext(this.state, hContext);
  }
  SCardIsValidContext(hContext: number): Promise<void> {
    return this.daemon.isValidContext(this.state, hContext);
  }
  SCardListReaders(
    hContext: number,
    _groups?: string | null,
    options?: { bufferLength?: number },
  ): Promise<{ readers: string[] }> {
    return this.daemon.listReaders(this.state, hContext, options?.bufferLength);
  }
  SCardListReaderGroups(hContext: number, options?: { bufferLength?: number }): Promise<{ groups: string[] }> {
    return this.daemon.listReaderGroups(this.state, hContext, options?.bufferLength);
  }
  SCardConnect(
    hContext: number,
    szReader: string,
    dwShareMode: number,
    dwPreferredProtocols: number,
  ): Promise<{ hCard: number; dwActiveProtocol: number }> {
    return this.daemon.connectCard(this.state, hContext, szReader, dwShareMode, dwPreferredProtocols);
  }
  SCardReconnect(
    hCard: number,
    dwShareMode: number,
    dwPreferredProtocols: number,
    dwInitialization: number,
  ): Promise<{ dwActiveProtocol: number }> {
    return this.daemon.reconnect(this.state, hCard, dwShareMode, dwPreferredProtocols, dwInitialization);
  }
  SCardDisconnect(hCard: number, dwDisposition: number): Promise<void> {
    return this.daemon.disconnect(this.state, hCard, dwDisposition);
  }
  SCardBeginTransaction(hCard: number): Promise<void> {
    return this.daemon.beginTransaction(this.state, hCard);
  }
  SCardEndTransaction(hCard: number, dwDisposition: number): Promise<void> {
    return this.daemon.endTransaction(this.state, hCard, dwDisposition);
  }
  SCardStatus(hCard: number): Promise<{ szReaderName: string; dwState: number; dwProtocol: number; atr: Uint8Array }> {
    return this.daemon.status(this.state, hCard);
  }
  SCardGetStatusChange(
    hContext: number,
    dwTimeout: number,
    readerStates: ReaderStateIn[],
  ): Promise<{ readerStates: ReaderStateOut[] }> {
    return this.daemon.getStatusChange(this.state, hContext, dwTimeout, readerStates);
  }
  SCardControl(
    hCard: number,
    dwControlCode: number,
    input: Uint8Array,
    options?: { recvLength?: number },
  ): Promise<{ output: Uint8Array }> {
    return this.daemon.control(this.state, hCard, dwControlCode, input, options?.recvLength);
  }
  SCardGetAttrib(hCard: number, dwAttrId: number, options?: { bufferLength?: number }): Promise<{ attr: Uint8Array }> {
    return this.daemon.getAttrib(this.state, hCard, dwAttrId, options?.bufferLength);
  }
  SCardSetAttrib(hCard: number, dwAttrId: number, attr: Uint8Array): Promise<void> {
    return this.daemon.setAttrib(this.state, hCard, dwAttrId, attr);
  }
  SCardTransmit(
    hCard: number,
    ioSendPci: ScardIoRequest,
    sendBuffer: Uint8Array,
    options?: { recvLength?: number },
  ): Promise<{ recvPci: ScardIoRequest; recvBuffer: Uint8Array }> {
    return this.daemon.transmit(this.state, hCard, ioSendPci, sendBuffer, options?.recvLength);
  }
  SCardCancel(hContext: number): Promise<void> {
    return this.daemon.cancel(this.state, hContext);
  }
}
