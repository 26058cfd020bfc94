/**
 * PcscApi over the operating system's PC/SC service (pcsc-lite's libpcsclite, macOS's PCSC.framework, Windows'
 * winscard.dll), called through koffi.
 *
 * Threads: every call that reaches the service runs with koffi's `.async`, on libuv's thread pool, so a slow card
 * never blocks the host's event loop. The pool has 4 threads unless UV_THREADPOOL_SIZE says otherwise, and libuv reads
 * that variable once, when the pool first starts: a host that serves many clients sets it in its environment (or at
 * the very top of its entry module, before any fs/dns/crypto call). This module does not touch it. To keep the pool
 * usable, calls are queued in JavaScript per system context instead of piling up blocked pool threads: a caller
 * context holds at most two pool threads at a time, one for its pending SCardGetStatusChange and one for the rest;
 * and waits beyond `waitLimit(pool size)` across the process are refused (SCARD_E_SERVER_TOO_BUSY) rather than
 * allowed to take the last threads.
 *
 * Contexts: pcsc-lite's client library locks a context for the whole of a call, so a call on a context (or on a card
 * connected through it) that has a wait pending would block until the wait ends. Each caller context is therefore two
 * system contexts: the "main" one for cards and other calls, and a "wait" one (established at the first
 * SCardGetStatusChange) that only ever waits. SCardCancel cancels the wait context. It is the one call made
 * synchronously: it takes no lock in pcsc-lite and only sends a message to the service, and it must not queue behind
 * a pool full of waits it is meant to end.
 *
 * Handles: the caller's `hContext`/`hCard` are our own numbers, mapped through tables to the system's. A caller context
 * stands for two system contexts, the system's handles are pointer-sized on Windows (possibly beyond 2^53), and an
 * unknown handle is answered SCARD_E_INVALID_HANDLE here without handing a stray value to the system library.
 */
import type { PcscApi, ReaderStateIn, ReaderStateOut, ScardIoRequest } from '../../pcsc/api.js';
import {
  MAX_BUFFER_SIZE,
  MAX_BUFFER_SIZE_EXTENDED,
  SCARD_E_CANCELLED,
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_PARAMETER,
  SCARD_E_INVALID_VALUE,
  SCARD_E_NO_SERVICE,
  SCARD_E_SERVER_TOO_BUSY,
  SCARD_E_TIMEOUT,
  SCARD_F_INTERNAL_ERROR,
  SCARD_PROTOCOL_RAW,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_S_SUCCESS,
  toUnsigned32,
} from '../../pcsc/constants.js';
import { PcscError } from '../../pcsc/errors.js';
import {
  currentPlatform,
  loadWinscard,
  type NativeFn,
  type WinscardLibrary,
  type WinscardPlatform,
} from './winscard-ffi.js';

export interface SystemPcscOptions {
  /** Library to load instead of the platform's default (e.g. a specific libpcsclite.so.1). */
  libraryPath?: string;
  /**
   * libuv's thread pool size, when the host set UV_THREADPOOL_SIZE some other way than in this process's environment
   * (default: UV_THREADPOOL_SIZE, else libuv's 4). Pending waits may hold all but two threads of it (see waitLimit).
   */
  threadPoolSize?: number;
}

/** Waits pending in this process, across every SystemPcsc: they share libuv's one pool. */
let pendingWaits = 0;

/**
 * How many SCardGetStatusChange may be pending at once: the pool less two threads, one for the other PC/SC calls and
 * one for the rest of the host (fs, dns, crypto). Beyond that a wait would stall everything else, so it is refused with
 * SCARD_E_SERVER_TOO_BUSY and a message naming UV_THREADPOOL_SIZE.
 */
export function waitLimit(threadPoolSize: number): number {
  return Math.max(1, Math.floor(threadPoolSize) - 2);
}

function defaultThreadPoolSize(): number {
  const n = Number(process.env.UV_THREADPOOL_SIZE);
  // libuv clamps the variable to 1..1024 and falls back to 4 when it is unset or not a number.
  return Number.isFinite(n) && n >= 1 ? Math.min(n, 1024) : 4;
}

export interface SystemPcsc extends PcscApi {
  /** Cancels pending waits, releases every context still open, unloads nothing (koffi keeps the library). */
  close(): Promise<void>;
}

/** What a person can do when the service is not there, per platform. */
function noServiceHint(platform: WinscardPlatform | null): string {
  switch (platform) {
    case 'linux':
      return (
        'the PC/SC service pcscd is not running: start pcscd: systemctl start pcscd.socket' +
        ' (Debian/Ubuntu: apt install pcscd)'
      );
    case 'darwin':
      return 'the PC/SC service of macOS (com.apple.ctkpcscd) is not running: connect a reader or restart the Mac';
    case 'win32':
      return 'the Smart Card service is not running: sc start SCardSvr (services.msc, "Smart Card")';
    default:
      return `no PC/SC service is known on ${process.platform}`;
  }
}

function noLibraryHint(platform: WinscardPlatform | null, path: string | undefined, cause: unknown): string {
  const what = cause instanceof Error ? cause.message : String(cause);
  const install = platform === 'linux' ? ' (install it: apt install libpcsclite1 pcscd)' : '';
  return `cannot load the PC/SC library ${path ?? ''}${install}: ${what}`;
}

/** A FIFO per system context: pcsc-lite serializes calls on a context anyway; this keeps the queue out of the pool. */
class Queue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

interface ContextEntry {
  main: number | bigint;
  wait: number | bigint | null;
  mainQueue: Queue;
  waitQueue: Queue;
  /** Set while a SCardGetStatusChange is inside the system library (or about to be). */
  waiting: boolean;
  /** Counts the waits, so that a cancel aimed at one wait never ends the next. */
  waitSeq: number;
  /** The waitSeq of the wait being cancelled, or -1. */
  cancelling: number;
  cards: Set<number>;
}

interface CardEntry {
  native: number | bigint;
  context: number;
}

const U32_MAX = 0xffffffff;
/** Spare receive buffers kept per SystemPcsc: as many as calls may be inside the library at once, in practice. */
const MAX_SPARE_BUFFERS = 4;

function u32(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > U32_MAX) {
    throw new PcscError(SCARD_E_INVALID_PARAMETER, `${name} must be an integer from 0 to 0xFFFFFFFF (got ${typeof v})`);
  }
  return v;
}

function bytes(name: string, v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) {
    throw new PcscError(SCARD_E_INVALID_PARAMETER, `${name} must be a Uint8Array (got ${typeof v})`);
  }
  return v;
}

/** Splits a multi-string ("a\0b\0\0") as pcsc-lite returns it; `length` counts the final NUL. */
export function parseMultiString(buf: Uint8Array, length: number): string[] {
  const out: string[] = [];
  const end = Math.min(length, buf.length);
  let start = 0;
  for (let i = 0; i < end; i++) {
    if (buf[i] !== 0) continue;
    if (i === start) break; // the empty string that ends the list
    out.push(Buffer.from(buf.subarray(start, i)).toString('utf8'));
    start = i + 1;
  }
  return out;
}

function cString(buf: Uint8Array, length: number): string {
  const end = buf.subarray(0, Math.min(length, buf.length)).indexOf(0);
  return Buffer.from(buf.subarray(0, end < 0 ? Math.min(length, buf.length) : end)).toString('utf8');
}

export function openSystemPcsc(options: SystemPcscOptions = {}): SystemPcsc {
  const platform = currentPlatform();
  let lib: WinscardLibrary | null = null;
  let loadError: string | null = null;
  if (!platform) {
    loadError = noServiceHint(null);
  } else {
    try {
      lib = loadWinscard(platform, options.libraryPath);
    } catch (e) {
      loadError = noLibraryHint(platform, options.libraryPath ?? undefined, e);
    }
  }
  const contexts = new Map<number, ContextEntry>();
  const cards = new Map<number, CardEntry>();
  let nextContext = 1;
  let nextCard = 1;
  let closed = false;
  const poolSize = options.threadPoolSize ?? defaultThreadPoolSize();
  const maxWaits = waitLimit(poolSize);

  /**
   * Receive buffers of the default size (MAX_BUFFER_SIZE_EXTENDED), kept between calls: a fresh 64 KiB per APDU
   * (allocated, zeroed, then collected) cost as much CPU as koffi's call into the library itself (bench/README.md, "The
   * host link: where the time goes per hop"). A buffer is taken by one call at a time and comes back only after a
   * successful call, with the part the library said it filled zeroed again: spare buffers hold no card data, and a
   * later call's answer is cut to the length the library gives for that call. A failed call's buffer is dropped.
   */
  const spare: Uint8Array[] = [];
  const receiveBuffer = (size: number): Uint8Array =>
    (size === MAX_BUFFER_SIZE_EXTENDED ? spare.pop() : undefined) ?? new Uint8Array(size);
  const giveBack = (buf: Uint8Array, used: number): void => {
    if (buf.length !== MAX_BUFFER_SIZE_EXTENDED || spare.length >= MAX_SPARE_BUFFERS) return;
    buf.fill(0, 0, used);
    spare.push(buf);
  };

  const library = (): WinscardLibrary => {
    if (closed) throw new PcscError(SCARD_E_NO_SERVICE, 'this system PC/SC connection is closed');
    if (!lib) throw new PcscError(SCARD_E_NO_SERVICE, loadError ?? noServiceHint(platform));
    return lib;
  };

  /** Runs `fn` on the thread pool; resolves with the system's return code, unsigned. */
  const callAsync = (fn: NativeFn, ...args: unknown[]): Promise<number> =>
    new Promise((resolve, reject) => {
      try {
        fn.async(...args, (err: unknown, rv: unknown) => {
          // koffi could not run the call on its worker (not an answer of the service).
          if (err) {
            reject(
              new PcscError(
                SCARD_F_INTERNAL_ERROR,
                `the PC/SC library call could not run: ${err instanceof Error ? err.message : 'unknown failure'}`,
              ),
            );
          } else {
            resolve(toUnsigned32(Number(rv)));
          }
        });
      } catch (e) {
        // koffi refuses arguments it cannot convert before the call starts.
        reject(new PcscError(SCARD_E_INVALID_PARAMETER, `an argument does not fit the PC/SC call: ${String(e)}`));
      }
    });

  const fail = (rv: number, what: string, extra: { needed?: number; readerStates?: ReaderStateOut[] } = {}): never => {
    if (rv === SCARD_E_NO_SERVICE) throw new PcscError(rv, `${what}: ${noServiceHint(platform)}`, extra);
    throw new PcscError(rv, `${what}: the system PC/SC service answered so`, extra);
  };

  const ctx = (hContext: unknown): ContextEntry => {
    const e = typeof hContext === 'number' ? contexts.get(hContext) : undefined;
    if (!e) throw new PcscError(SCARD_E_INVALID_HANDLE, 'hContext is not a context established here');
    return e;
  };
  const card = (hCard: unknown): { c: CardEntry; e: ContextEntry } => {
    const c = typeof hCard === 'number' ? cards.get(hCard) : undefined;
    const e = c ? contexts.get(c.context) : undefined;
    if (!c || !e) throw new PcscError(SCARD_E_INVALID_HANDLE, 'hCard is not a card handle connected here');
    return { c, e };
  };

  const establish = async (scope: number): Promise<number | bigint> => {
    const l = library();
    const out: (number | bigint)[] = [0];
    const rv = await callAsync(l.SCardEstablishContext, scope, null, null, out);
    if (rv !== SCARD_S_SUCCESS) fail(rv, 'SCardEstablishContext');
    return out[0] as number | bigint;
  };

  /** Cancels the wait pending on `e`, again every 50 ms until it has ended: a cancel sent just before pcsc-lite's
   * client marks the wait cancellable is dropped (SCardCancel answers success when nothing waits). */
  const cancelWait = (e: ContextEntry): void => {
    if (!e.waiting || e.wait === null || e.cancelling === e.waitSeq) return;
    const seq = e.waitSeq;
    e.cancelling = seq;
    const l = lib;
    const tick = (): void => {
      if (!e.waiting || e.waitSeq !== seq || e.wait === null || !l) {
        if (e.cancelling === seq) e.cancelling = -1;
        return;
      }
      l.SCardCancel(e.wait);
      setTimeout(tick, 50).unref?.();
    };
    tick();
  };

  /** Releases both system contexts of `e` once its wait (if any) has ended. */
  const release = async (id: number, e: ContextEntry): Promise<number> => {
    contexts.delete(id);
    for (const h of e.cards) cards.delete(h);
    cancelWait(e);
    const l = library();
    // Read e.wait inside the queue: a wait queued before us may still be establishing it.
    const rvWait = await e.waitQueue.run(() =>
      e.wait === null ? Promise.resolve(SCARD_S_SUCCESS) : callAsync(l.SCardReleaseContext, e.wait),
    );
    const rv = await e.mainQueue.run(() => callAsync(l.SCardReleaseContext, e.main));
    return rv !== SCARD_S_SUCCESS ? rv : rvWait;
  };

  const readerStatesOut = (raw: Record<string, unknown>[], given: ReaderStateIn[]): ReaderStateOut[] =>
    given.map((g, i) => {
      const r = raw[i] ?? {};
      const atr = (r.rgbAtr as Uint8Array | undefined) ?? new Uint8Array(0);
      const cb = Math.min(Number(r.cbAtr ?? 0), atr.length);
      const out: ReaderStateOut = {
        szReader: g.szReader,
        dwCurrentState: g.dwCurrentState,
        dwEventState: toUnsigned32(Number(r.dwEventState ?? 0)),
        rgbAtr: Uint8Array.from(atr.subarray(0, cb)),
      };
      if ('pvUserData' in g) out.pvUserData = g.pvUserData;
      return out;
    });

  const api: SystemPcsc = {
    async SCardEstablishContext(dwScope) {
      const scope = u32('dwScope', dwScope);
      const main = await establish(scope);
      const id = nextContext++;
      contexts.set(id, {
        main,
        wait: null,
        mainQueue: new Queue(),
        waitQueue: new Queue(),
        waiting: false,
        waitSeq: 0,
        cancelling: -1,
        cards: new Set(),
      });
      return { hContext: id };
    },

    async SCardReleaseContext(hContext) {
      const e = ctx(hContext);
      const rv = await release(hContext, e);
      if (rv !== SCARD_S_SUCCESS) fail(rv, 'SCardReleaseContext');
    },

    async SCardIsValidContext(hContext) {
      const e = ctx(hContext);
      const l = library();
      const rv = await e.mainQueue.run(() => callAsync(l.SCardIsValidContext, e.main));
      if (rv !== SCARD_S_SUCCESS) fail(rv, 'SCardIsValidContext');
    },

    async SCardListReaders(hContext, _groups, opts) {
      const e = ctx(hContext);
      const l = library();
      const stated = opts?.bufferLength === undefined ? undefined : u32('bufferLength', opts.bufferLength);
      return e.mainQueue.run(async () => {
        // Without a stated buffer: ask for the size, then fetch; a reader plugged in between makes the second call
        // answer SCARD_E_INSUFFICIENT_BUFFER, so try again (pcsc-lite's SCARD_AUTOALLOCATE does the same dance).
        for (let attempt = 0; ; attempt++) {
          let size = stated;
          if (size === undefined) {
            const len = [0];
            const rv = await callAsync(l.SCardListReaders, e.main, null, null, len);
            if (rv !== SCARD_S_SUCCESS) fail(rv, 'SCardListReaders');
            size = Number(len[0]);
          }
          const buf = new Uint8Array(size);
          const len = [size];
          const rv = await callAsync(l.SCardListReaders, e.main, null, buf, len);
          if (rv === SCARD_E_INSUFFICIENT_BUFFER && stated === undefined && attempt < 3) continue;
          if (rv !== SCARD_S_SUCCESS) {
            fail(rv, 'SCardListReaders', rv === SCARD_E_INSUFFICIENT_BUFFER ? { needed: Number(len[0]) } : {});
          }
          return { readers: parseMultiString(buf, Number(len[0])) };
        }
      });
    },

    async SCardListReaderGroups(hContext, opts) {
      const e = ctx(hContext);
      const l = library();
      const stated = opts?.bufferLength === undefined ? undefined : u32('bufferLength', opts.bufferLength);
      return e.mainQueue.run(async () => {
        let size = stated;
        if (size === undefined) {
          const len = [0];
          const rv = await callAsync(l.SCardListReaderGroups, e.main, null, len);
          if (rv !== SCARD_S_SUCCESS) fail(rv, 'SCardListReaderGroups');
          size = Number(len[0]);
        }
        const buf = new Uint8Array(size);
        const len = [size];
        const rv = await callAsync(l.SCardListReaderGroups, e.main, buf, len);
        if (rv !== SCARD_S_SUCCESS) {
          fail(rv, 'SCardListReaderGroups', rv === SCARD_E_INSUFFICIENT_BUFFER ? { needed: Number(len[0]) } : {});
        }
        return { groups: parseMultiString(buf, Number(len[0])) };
      });
    },

    async SCardConnect(hContext, szReader, dwShareMode, dwPreferredProtocols) {
      const e = ctx(hContext);
      if (typeof szReader !== 'string') {
        throw new PcscError(SCARD_E_INVALID_PARAMETER, `szReader must be a string (got ${typeof szReader})`);
      }
      const share = u32('dwShareMode', dwShareMode);
      const protocols = u32('dwPreferredProtocols', dwPreferredProtocols);
      const l = library();
      return e.mainQueue.run(async () => {
        const h: (number | bigint)[] = [0];
        const active = [0];
        const rv = await callAsync(l.SCardConnect, e.main, szReader, share, protocols, h, active);
        if (rv !== SCARD_S_SUCCESS) fail(rv, 'SCardConnect');
        const id = nextCard++;
        cards.set(id, { native: h[0] as number | bigint, context: hContext });
        e.cards.add(id);
        return { hCard: id, dwActiveProtocol: Number(active[0]) };
      });
    },

    async SCardReconnect(hCard, dwShareMode, dwPreferredProtocols, dwInitialization) {
      const { c, e } = card(hCard);
      const share = u32('dwShareMode', dwShareMode);
      const protocols = u32('dwPreferredProtocols', dwPreferredProtocols);
      const init = u32('dwInitialization', dwInitialization);
      const l = library();
      return e.mainQueue.run(async () => {
        const active = [0];
        const rv = await callAsync(l.SCardReconnect, c.native, share, protocols, init, active);
        if (rv !== SCARD_S_SUCCESS) fail(rv, 'SCardReconnect');
        return { dwActiveProtocol: Number(active[0]) };
      });
    },

    async SCardDisconnect(hCard, dwDisposition) {
      const { c, e } = card(hCard);
      const disposition = u32('dwDisposition', dwDisposition);
      const l = library();
      await e.mainQueue.run(async () => {
        const rv = await callAsync(l.SCardDisconnect, c.native, disposition);
        // The handle is gone on the system side unless it was not valid there to begin with.
        if (rv === SCARD_S_SUCCESS || rv === SCARD_E_INVALID_HANDLE) {
          cards.delete(hCard);
          e.cards.delete(hCard);
        }
        if (rv !== SCARD_S_SUCCESS) fail(rv, 'SCardDisconnect');
      });
    },

    async SCardBeginTransaction(hCard) {
      const { c, e } = card(hCard);
      const l = library();
      await e.mainQueue.run(async () => {
        const rv = await callAsync(l.SCardBeginTransaction, c.native);
        if (rv !== SCARD_S_SUCCESS) fail(rv, 'SCardBeginTransaction');
      });
    },

    async SCardEndTransaction(hCard, dwDisposition) {
      const { c, e } = card(hCard);
      const disposition = u32('dwDisposition', dwDisposition);
      const l = library();
      await e.mainQueue.run(async () => {
        const rv = await callAsync(l.SCardEndTransaction, c.native, disposition);
        if (rv !== SCARD_S_SUCCESS) fail(rv, 'SCardEndTransaction');
      });
    },

    async SCardStatus(hCard) {
      const { c, e } = card(hCard);
      const l = library();
      return e.mainQueue.run(async () => {
        // Room for any reader name (pcsc-lite's MAX_READERNAME is 128) and any ATR of the platform.
        const name = new Uint8Array(1024);
        const nameLen = [name.length];
        const state = [0];
        const protocol = [0];
        const atr = new Uint8Array(l.types.atrFieldSize);
        const atrLen = [atr.length];
        const rv = await callAsync(l.SCardStatus, c.native, name, nameLen, state, protocol, atr, atrLen);
        if (rv !== SCARD_S_SUCCESS) fail(rv, 'SCardStatus');
        return {
          szReaderName: cString(name, Number(nameLen[0])),
          dwState: toUnsigned32(Number(state[0])),
          dwProtocol: Number(protocol[0]),
          atr: Uint8Array.from(atr.subarray(0, Math.min(Number(atrLen[0]), atr.length))),
        };
      });
    },

    async SCardGetStatusChange(hContext, dwTimeout, readerStates) {
      const e = ctx(hContext);
      const timeout = u32('dwTimeout', dwTimeout);
      if (!Array.isArray(readerStates)) {
        throw new PcscError(SCARD_E_INVALID_PARAMETER, `readerStates must be an array (got ${typeof readerStates})`);
      }
      readerStates.forEach((r, i) => {
        if (typeof r?.szReader !== 'string') {
          throw new PcscError(SCARD_E_INVALID_PARAMETER, `readerStates[${i}].szReader must be a string`);
        }
        u32(`readerStates[${i}].dwCurrentState`, r.dwCurrentState);
      });
      const l = library();
      // One wait at a time per caller context, on the context's own wait context (see the module comment).
      return e.waitQueue.run(async () => {
        if (!contexts.has(hContext)) throw new PcscError(SCARD_E_INVALID_HANDLE, 'hContext was released');
        if (e.wait === null) e.wait = await establish(0);
        // Released while the wait context was being established: the release queued behind us frees it.
        if (!contexts.has(hContext)) throw new PcscError(SCARD_E_INVALID_HANDLE, 'hContext was released');
        // Checked and counted in the same turn, so two waits starting together cannot both pass.
        if (pendingWaits >= maxWaits) {
          throw new PcscError(
            SCARD_E_SERVER_TOO_BUSY,
            `${pendingWaits} SCardGetStatusChange calls already wait on libuv's thread pool of ${poolSize} threads: ` +
              'start the host with a larger UV_THREADPOOL_SIZE (2 + one per client context that waits)',
          );
        }
        const raw = readerStates.map((r) => ({
          szReader: r.szReader,
          pvUserData: null,
          dwCurrentState: r.dwCurrentState,
          dwEventState: 0,
          cbAtr: 0,
          rgbAtr: new Uint8Array(l.types.atrFieldSize),
        }));
        e.waitSeq++;
        e.waiting = true;
        pendingWaits++;
        let rv: number;
        try {
          rv = await callAsync(l.SCardGetStatusChange, e.wait, timeout, raw, raw.length);
        } finally {
          e.waiting = false;
          pendingWaits--;
        }
        const out = readerStatesOut(raw, readerStates);
        if (rv === SCARD_E_TIMEOUT || rv === SCARD_E_CANCELLED) {
          fail(rv, 'SCardGetStatusChange', { readerStates: out });
        }
        if (rv !== SCARD_S_SUCCESS) fail(rv, 'SCardGetStatusChange');
        return { readerStates: out };
      });
    },

    async SCardControl(hCard, dwControlCode, input, opts) {
      const { c, e } = card(hCard);
      const code = u32('dwControlCode', dwControlCode);
      const send = bytes('input', input);
      const size = opts?.recvLength === undefined ? MAX_BUFFER_SIZE_EXTENDED : u32('recvLength', opts.recvLength);
      const l = library();
      return e.mainQueue.run(async () => {
        const recv = receiveBuffer(size);
        const returned = [0];
        const rv = await callAsync(l.SCardControl, c.native, code, send, send.length, recv, size, returned);
        if (rv !== SCARD_S_SUCCESS) {
          fail(rv, 'SCardControl', rv === SCARD_E_INSUFFICIENT_BUFFER ? { needed: Number(returned[0]) } : {});
        }
        const n = Math.min(Number(returned[0]), size);
        const output = recv.slice(0, n);
        giveBack(recv, n);
        return { output };
      });
    },

    async SCardGetAttrib(hCard, dwAttrId, opts) {
      const { c, e } = card(hCard);
      const id = u32('dwAttrId', dwAttrId);
      // pcsc-lite carries attributes in a MAX_BUFFER_SIZE field of its IPC message: that much always suffices.
      const size = opts?.bufferLength === undefined ? MAX_BUFFER_SIZE : u32('bufferLength', opts.bufferLength);
      const l = library();
      return e.mainQueue.run(async () => {
        const buf = new Uint8Array(size);
        const len = [size];
        const rv = await callAsync(l.SCardGetAttrib, c.native, id, buf, len);
        if (rv !== SCARD_S_SUCCESS) {
          fail(rv, 'SCardGetAttrib', rv === SCARD_E_INSUFFICIENT_BUFFER ? { needed: Number(len[0]) } : {});
        }
        return { attr: Uint8Array.from(buf.subarray(0, Math.min(Number(len[0]), size))) };
      });
    },

    async SCardSetAttrib(hCard, dwAttrId, attr) {
      const { c, e } = card(hCard);
      const id = u32('dwAttrId', dwAttrId);
      const value = bytes('attr', attr);
      const l = library();
      await e.mainQueue.run(async () => {
        const rv = await callAsync(l.SCardSetAttrib, c.native, id, value, value.length);
        if (rv !== SCARD_S_SUCCESS) fail(rv, 'SCardSetAttrib');
      });
    },

    async SCardTransmit(hCard, ioSendPci, sendBuffer, opts) {
      const { c, e } = card(hCard);
      const protocol = u32('ioSendPci.dwProtocol', (ioSendPci as ScardIoRequest | undefined)?.dwProtocol);
      const send = bytes('sendBuffer', sendBuffer);
      const size = opts?.recvLength === undefined ? MAX_BUFFER_SIZE_EXTENDED : u32('recvLength', opts.recvLength);
      const l = library();
      // The library's own SCARD_IO_REQUEST constants, as C callers pass SCARD_PCI_T0/T1/RAW.
      const pci =
        protocol === SCARD_PROTOCOL_T0
          ? l.pci.T0
          : protocol === SCARD_PROTOCOL_T1
            ? l.pci.T1
            : protocol === SCARD_PROTOCOL_RAW
              ? l.pci.RAW
              : null;
      if (pci === null) {
        throw new PcscError(SCARD_E_INVALID_VALUE, 'ioSendPci.dwProtocol must be SCARD_PROTOCOL_T0, _T1 or _RAW');
      }
      return e.mainQueue.run(async () => {
        const recv = receiveBuffer(size);
        const len = [size];
        // pioRecvPci stays NULL: pcsc-lite 1.9.9 fills it with the IFD's protocol number (1 for T=1), not a
        // SCARD_PROTOCOL_* value; like the in-process daemon, we answer with the protocol sent.
        const rv = await callAsync(l.SCardTransmit, c.native, pci, send, send.length, null, recv, len);
        if (rv !== SCARD_S_SUCCESS) {
          fail(rv, 'SCardTransmit', rv === SCARD_E_INSUFFICIENT_BUFFER ? { needed: Number(len[0]) } : {});
        }
        const n = Math.min(Number(len[0]), size);
        const recvBuffer = recv.slice(0, n);
        giveBack(recv, n);
        return { recvPci: { dwProtocol: protocol }, recvBuffer };
      });
    },

    async SCardCancel(hContext) {
      const e = ctx(hContext);
      const l = library();
      if (e.waiting) {
        cancelWait(e);
        return;
      }
      // Nothing waits: let the service answer for the context (pcsc-lite answers success).
      const rv = toUnsigned32(Number(l.SCardCancel(e.main)));
      if (rv !== SCARD_S_SUCCESS) fail(rv, 'SCardCancel');
    },

    async close() {
      if (closed) return;
      const entries = [...contexts.entries()];
      await Promise.allSettled(entries.map(([id, e]) => release(id, e)));
      closed = true;
    },
  };
  return api;
}
