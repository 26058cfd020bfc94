/**
 * Several PC/SC services seen as one: the daemon in the worker (WebUSB and demo readers) and the host's pcscd over
 * native messaging each implement `PcscApi`; `combinePcsc` merges them into a single `PcscApi`, the way one pcscd
 * serves every reader of a machine. Pure: no platform API, no driver; services come and go at run time (`add`,
 * `remove`; a service answering SCARD_E_NO_SERVICE is removed as if by `remove`).
 *
 * Design, with the pcsc-lite 1.9.9 behaviour each choice mirrors:
 * - Contexts and card handles are the combinator's own random 31-bit values (pcscd's SYS_RandomInt, `HandleAllocator`),
 *   mapped to per-service values: two services may well hand out the same numbers. A combined context establishes its
 *   per-service contexts lazily, on the first call that needs a service, so that a service added later needs nothing
 *   from the contexts already open and a service that never answers costs nothing until it is asked.
 * - Reader names are unique across services. A reader keeps its service's name unless a reader that appeared earlier
 *   (in any service) already holds it; it then gets the name pcscd would have given it had both been in one pcscd:
 *   RFSetReaderName's " XX YY" with XX the first index free for that name (deterministic, stable while the reader
 *   stays). Names without the " XX YY" tail get " (<service label>)". Calls map the names back.
 * - SCardListReaders is the union, in service order (order of `add`), each service's readers in its own order; a
 *   service that fails does not hide the others' readers; an empty union is SCARD_E_NO_READERS_AVAILABLE; a stated
 *   buffer smaller than the multi-string is SCARD_E_INSUFFICIENT_BUFFER with the length needed.
 * - SCardGetStatusChange: the 16-entry limit (PCSCLITE_MAX_READERS_CONTEXTS → SCARD_E_INVALID_PARAMETER), the
 *   all-IGNORE shortcut and the unknown-name check apply to the combined call, as winscard_clnt.c does. Each service
 *   with an entry of the call (or every service, when the call has the PnP entry) is asked at once with its own entries
 *   and one deadline for all (the remaining time at each (re)issue). The first service reporting a change ends the
 *   call; the others are cancelled (SCardCancel on their per-service context) and their last evaluated states are
 *   merged in.
 *   The PnP entry is CHANGED when the total number of readers differs from the number at the start of the call
 *   (1.9.9 `dwEventState` semantics); each service's own PnP entry is only used as a wake-up to re-read its list.
 * - SCardCancel on a combined context cancels every per-service wait; the combined call fails with SCARD_E_CANCELLED
 *   and the states as last evaluated (winscard_clnt.c). With nothing waiting it succeeds (1.9.9).
 * - A context is serialised the way the client library's per-context lock serialises it, per service: a blocked
 *   GetStatusChange holds the per-service contexts it waits on (calls on them queue in the service).
 * - A removed service's readers vanish: waiters see UNKNOWN | UNAVAILABLE, PnP fires, and its card handles answer as
 *   pcscd answers for a removed reader (readerfactory.c RFRemoveReader): SCardDisconnect succeeds ("ignore reader
 *   removal"), SCardStatus is SCARD_E_READER_UNAVAILABLE (the client library's reader lookup), the other calls are
 *   SCARD_E_INVALID_VALUE (RFReaderInfoById finds the handle in no reader), and a call running at the moment of the
 *   removal fails with SCARD_E_READER_UNAVAILABLE (the driver's IFD_NO_SUCH_DEVICE).
 * - Errors of a live service pass through with their pcsc-lite code unchanged. SCARD_E_NO_SERVICE is reserved for the
 *   combined service itself (after `close()`), as pcsc-lite's client library returns it when pcscd goes away.
 *
 * Limits of combining (where one pcscd would differ): pcscd's 200 handles per context apply per service; a service
 * whose readers fill all 16 entries of a wait gets no PnP entry of its own (its new readers are then not seen by that
 * wait); a service that hangs without failing holds up the calls that ask it (ListReaders asks every service): the
 * owner of the service is expected to `remove` it, which answers those calls at once.
 */
import type { PcscApi, ReaderStateIn, ReaderStateOut, ScardIoRequest } from './api.js';
import {
  INFINITE,
  MAX_READERNAME,
  PCSCLITE_MAX_READERS_CONTEXTS,
  SCARD_DEFAULT_READERS,
  SCARD_EJECT_CARD,
  SCARD_E_CANCELLED,
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_PARAMETER,
  SCARD_E_INVALID_VALUE,
  SCARD_E_NO_READERS_AVAILABLE,
  SCARD_E_NO_SERVICE,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_E_TIMEOUT,
  SCARD_E_UNKNOWN_READER,
  SCARD_LEAVE_CARD,
  SCARD_RESET_CARD,
  SCARD_STATE_CHANGED,
  SCARD_STATE_IGNORE,
  SCARD_STATE_UNAVAILABLE,
  SCARD_STATE_UNKNOWN,
  SCARD_UNPOWER_CARD,
} from './constants.js';
import { PcscError, isPcscError } from './errors.js';
import { HandleAllocator } from './handles.js';
import { Notifier, SerialQueue } from './notifier.js';
import { isPnpName } from './status-change.js';
import { hexNumber } from '../util/hex.js';

export interface PcscServiceEntry {
  /** Unique among the combined services (e.g. 'worker', 'host'). */
  id: string;
  /** For people: used in renamed reader names without an " XX YY" tail, and in messages. */
  label?: string;
  client: PcscApi;
}

export interface CombinedPcscOptions {
  /** Source for the combined 31-bit handles (default Math.random). */
  random?: () => number;
  /**
   * Reader names shared with other combinators over the same services (default: this combinator's own). Several
   * clients each holding a combinator then see a reader under one name, whatever order each saw the readers come in.
   */
  names?: ReaderNameRegistry;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
}

export interface CombinedPcsc extends PcscApi {
  /** A service joins: its readers appear (PnP fires for waiters when the reader count changes). */
  add(entry: PcscServiceEntry): void;
  /**
   * A service leaves at once (its readers disappear, waiters and running calls are answered); the promise settles when
   * its per-service contexts have been cancelled and released (best effort: a dead service is not waited for long).
   */
  remove(id: string): Promise<void>;
  /** The ids of the services combined now, in order. */
  readonly serviceIds: readonly string[];
  /**
   * The readers as last listed (by SCardListReaders or a status-change wait), in union order: each combined name with
   * its service and the service's own name for it (a window showing where each reader comes from).
   */
  readerNames(): { name: string; service: string; raw: string }[];
  /** Releases every per-service context; later calls fail with SCARD_E_NO_SERVICE. The clients stay the caller's. */
  close(): Promise<void>;
}

/**
 * Who holds which combined reader name: a (service id, service's name) pair keeps the name it was given while any
 * combinator sharing the registry lists that reader; a name is given by the rule above (the service's own name when
 * free, else RFSetReaderName's first free " XX", else " (<label>)").
 */
export interface ReaderNameRegistry {
  /** The combined name for a service's reader; `taken` names more names not to give (readers not named yet). */
  claim(serviceId: string, label: string, raw: string, taken: (name: string) => boolean): string;
  /** One holder stopped listing the reader; the name is free once no holder lists it. */
  release(serviceId: string, raw: string): void;
}

export function createReaderNameRegistry(): ReaderNameRegistry {
  const byReader = new Map<string, { name: string; holders: number }>();
  const inUse = new Set<string>();
  const key = (serviceId: string, raw: string) => `${serviceId}\u0000${raw}`;
  return {
    claim(serviceId, label, raw, taken) {
      const k = key(serviceId, raw);
      const held = byReader.get(k);
      if (held !== undefined) {
        held.holders++;
        return held.name;
      }
      const name = freeName(raw, label, inUse, taken);
      byReader.set(k, { name, holders: 1 });
      inUse.add(name);
      return name;
    },
    release(serviceId, raw) {
      const k = key(serviceId, raw);
      const held = byReader.get(k);
      if (held === undefined) return;
      if (--held.holders > 0) return;
      byReader.delete(k);
      inUse.delete(held.name);
    },
  };
}

function freeName(raw: string, label: string, inUse: ReadonlySet<string>, taken: (name: string) => boolean): string {
  if (!inUse.has(raw)) return raw;
  const claimed = (n: string): boolean => inUse.has(n) || taken(n);
  const m = NAME_TAIL.exec(raw);
  if (m !== null) {
    // RFSetReaderName: the first index XX not in use for this name.
    for (let i = 0; i < 256; i++) {
      const candidate = `${m[1]} ${hex2(i)} ${m[3]}`;
      if (!claimed(candidate)) return candidate;
    }
  }
  // No " XX YY" tail (or no index left): " (<label>)", the name cut so that the whole stays within pcscd's
  // MAX_READERNAME (SCardConnect refuses longer names).
  for (let k = 1; ; k++) {
    const tail = ` (${label}${k > 1 ? ` ${k}` : ''})`;
    let head = raw;
    while (head.length > 0 && utf8Length(head + tail) > MAX_READERNAME - 1) head = head.slice(0, -1);
    const candidate = head + tail;
    if (!claimed(candidate)) return candidate;
  }
}

const hex = (n: number): string => `0x${hexNumber(n >>> 0, 1)}`;
const utf8Length = (s: string): number => new TextEncoder().encode(s).length;
const multiStringLength = (items: readonly string[]): number => items.reduce((n, s) => n + utf8Length(s) + 1, 0) + 1;
const hex2 = (n: number): string => hexNumber(n, 2);
/** RFSetReaderName's tail: " XX YY" (index, slot), two upper-case hex digits each. */
const NAME_TAIL = /^(.*) ([0-9A-F]{2}) ([0-9A-F]{2})$/s;

class Service {
  /** Raw reader names, as last listed by the service. */
  readers: string[] = [];
  readonly toCombined = new Map<string, string>();
  removed = false;
  /** Calls running now, told when the service leaves (a set, not a promise: nothing stays attached after a call). */
  readonly onGone = new Set<() => void>();
  /** Per-service GetStatusChange calls running now (per-service context → settled outcome). */
  readonly waits = new Map<number, Promise<Outcome>>();

  constructor(
    readonly id: string,
    readonly label: string,
    readonly client: PcscApi,
  ) {}
}

interface CardHandle {
  readonly hCard: number;
  readonly ctx: Context;
  readonly service: Service;
  readonly serviceHandle: number;
  /** The combined name given to SCardConnect (SCardStatus returns it). */
  readonly readerName: string;
}

class Context {
  readonly perService = new Map<Service, Promise<number>>();
  readonly handles = new Map<number, CardHandle>();
  /** GetStatusChange calls of the context, one at a time (the client library's per-context lock). */
  readonly waitQueue = new SerialQueue();
  released = false;
  cancelWait: ((code: number) => void) | undefined;

  constructor(
    readonly hContext: number,
    readonly dwScope: number,
  ) {}
}

type Outcome = { ok: true; states: ReaderStateOut[] } | { ok: false; error: unknown };

function settle<T extends ReaderStateOut[]>(p: Promise<{ readerStates: T }>): Promise<Outcome> {
  return p.then(
    (r) => ({ ok: true, states: r.readerStates }),
    (error: unknown) => ({ ok: false, error }),
  );
}

function delay(ms: number): { promise: Promise<void>; clear: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, clear: () => clearTimeout(timer) };
}

export function combinePcsc(services: readonly PcscServiceEntry[], options: CombinedPcscOptions = {}): CombinedPcsc {
  const combined = new Combined(options);
  for (const s of services) combined.add(s);
  return combined;
}

class Combined implements CombinedPcsc {
  readonly #log: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
  readonly #ids: HandleAllocator;
  readonly #services = new Map<string, Service>();
  /** Combined reader name → its service and the service's name for it. */
  readonly #names = new Map<string, { service: Service; raw: string }>();
  readonly #contexts = new Map<number, Context>();
  /** Services added or removed: wakes waiters so that they re-read the reader lists. */
  readonly #topology = new Notifier();
  readonly #registry: ReaderNameRegistry;
  #closed = false;

  constructor(options: CombinedPcscOptions) {
    this.#registry = options.names ?? createReaderNameRegistry();
    this.#log = options.log ?? (() => undefined);
    this.#ids = new HandleAllocator(options.random);
  }

  get serviceIds(): readonly string[] {
    return [...this.#services.keys()];
  }

  readerNames(): { name: string; service: string; raw: string }[] {
    const out: { name: string; service: string; raw: string }[] = [];
    for (const s of this.#services.values()) {
      for (const raw of s.readers) out.push({ name: s.toCombined.get(raw) ?? raw, service: s.id, raw });
    }
    return out;
  }

  // -----------------------------------------------------------------------------------------------------------------
  // Services

  add(entry: PcscServiceEntry): void {
    this.#alive();
    if (typeof entry?.id !== 'string' || entry.id === '' || typeof entry.client !== 'object' || entry.client === null) {
      throw new PcscError(SCARD_E_INVALID_PARAMETER, 'a service needs a non-empty string id and a client');
    }
    if (this.#services.has(entry.id)) {
      throw new PcscError(
        SCARD_E_INVALID_PARAMETER,
        `a service with id "${entry.id}" is already combined: remove it first`,
      );
    }
    this.#services.set(entry.id, new Service(entry.id, entry.label ?? entry.id, entry.client));
    this.#log('info', `PC/SC service "${entry.id}" added`);
    this.#topology.notify();
  }

  remove(id: string): Promise<void> {
    const service = this.#services.get(id);
    if (service === undefined) return Promise.resolve();
    return this.#detach(service, 'removed');
  }

  /** The service leaves the combined view now; its contexts are cancelled and released in the background. */
  async #detach(service: Service, why: string): Promise<void> {
    if (service.removed) return;
    service.removed = true;
    this.#services.delete(service.id);
    for (const raw of service.readers) {
      const name = service.toCombined.get(raw);
      if (name !== undefined) {
        this.#names.delete(name);
        this.#registry.release(service.id, raw);
      }
    }
    service.readers = [];
    service.toCombined.clear();
    for (const tell of [...service.onGone]) tell();
    service.onGone.clear();
    this.#log('info', `PC/SC service "${service.id}" ${why}`);
    this.#topology.notify();
    // Cancel its waits first: a per-service ReleaseContext queues behind a blocked GetStatusChange of that context.
    await Promise.all([...service.waits].map(([h, w]) => this.#stopWait(service, h, w)));
    const contexts: Promise<number>[] = [];
    for (const ctx of this.#contexts.values()) {
      const p = ctx.perService.get(service);
      if (p !== undefined) contexts.push(p);
      ctx.perService.delete(service);
    }
    await Promise.all(
      contexts.map(async (p) => {
        try {
          await service.client.SCardReleaseContext(await p);
        } catch (e) {
          this.#log('debug', `releasing a context of the removed service "${service.id}": ${String(e)}`);
        }
      }),
    );
  }

  /**
   * Races a service call with the service's removal; SCARD_E_NO_SERVICE from it removes the service. `what` names the
   * call in errors (a function: built only when an error needs it, not on every transmit). One promise per call, settled
   * by whichever comes first (no race of two promises, no async function around it: every transmit comes through here).
   */
  #via<T>(service: Service, call: () => Promise<T>, what: string | (() => string)): Promise<T> {
    const name = (): string => (typeof what === 'string' ? what : what());
    if (service.removed)
      return Promise.reject(new PcscError(SCARD_E_READER_UNAVAILABLE, `${name()}: service "${service.label}" left`));
    let p: Promise<T>;
    try {
      p = call();
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const tell = (): void => {
        if (done) return;
        done = true;
        reject(new PcscError(SCARD_E_READER_UNAVAILABLE, `${name()}: service "${service.label}" left during the call`));
      };
      service.onGone.add(tell);
      p.then(
        (value) => {
          service.onGone.delete(tell);
          if (done) return;
          done = true;
          resolve(value);
        },
        (e: unknown) => {
          service.onGone.delete(tell);
          if (done) return;
          done = true;
          if (isPcscError(e, SCARD_E_NO_SERVICE)) {
            void this.#detach(service, 'stopped answering (SCARD_E_NO_SERVICE)');
            reject(
              new PcscError(SCARD_E_READER_UNAVAILABLE, `${name()}: service "${service.label}" is gone`, { cause: e }),
            );
          } else reject(e);
        },
      );
    });
  }

  // -----------------------------------------------------------------------------------------------------------------
  // Names

  /** The service listed these readers: keep the names already given, name the new ones, forget the gone ones. */
  #setReaders(service: Service, raws: readonly string[]): void {
    // After close() the names were given back: a late answer must not take any again.
    if (service.removed || this.#closed) return;
    const keep = new Set(raws);
    for (const [raw, name] of service.toCombined) {
      if (!keep.has(raw)) {
        service.toCombined.delete(raw);
        this.#names.delete(name);
        this.#registry.release(service.id, raw);
      }
    }
    for (const raw of raws) {
      if (service.toCombined.has(raw)) continue;
      const name = this.#freeName(service, raw);
      service.toCombined.set(raw, name);
      this.#names.set(name, { service, raw });
    }
    service.readers = [...raws];
  }

  #freeName(service: Service, raw: string): string {
    // Raw names of readers not named yet are kept free for them (a reader keeps its own name when it can).
    const pending = (n: string): boolean => {
      for (const s of this.#services.values()) if (s.readers.includes(n) && !s.toCombined.has(n)) return true;
      return false;
    };
    return this.#registry.claim(service.id, service.label, raw, pending);
  }

  #totalReaders(): number {
    let n = 0;
    for (const s of this.#services.values()) n += s.readers.length;
    return n;
  }

  #union(): string[] {
    const out: string[] = [];
    for (const s of this.#services.values()) for (const raw of s.readers) out.push(s.toCombined.get(raw) ?? raw);
    return out;
  }

  /**
   * Re-reads the reader list of each service (all of them, or those given); a failing service counts as empty. The
   * lists are applied in service order, whatever order the answers came in, so that naming stays deterministic.
   */
  async #refresh(ctx: Context, only?: readonly Service[]): Promise<void> {
    const targets = only ?? [...this.#services.values()];
    const lists = await Promise.all(
      targets.map(async (service) => {
        try {
          const h = await this.#serviceContext(ctx, service);
          return (await this.#via(service, () => service.client.SCardListReaders(h), 'SCardListReaders')).readers;
        } catch (e) {
          if (!isPcscError(e, SCARD_E_NO_READERS_AVAILABLE)) {
            const why = e instanceof Error ? e.message : String(e);
            this.#log('warn', `listing the readers of "${service.label}": ${why}`);
          }
          return [];
        }
      }),
    );
    targets.forEach((service, k) => this.#setReaders(service, lists[k] ?? []));
  }

  // -----------------------------------------------------------------------------------------------------------------
  // Contexts and handles

  #alive(): void {
    if (this.#closed) throw new PcscError(SCARD_E_NO_SERVICE, 'the combined PC/SC service was closed');
  }

  #context(hContext: number): Context {
    this.#alive();
    const ctx = this.#contexts.get(hContext >>> 0);
    if (ctx === undefined || ctx.released) {
      throw new PcscError(SCARD_E_INVALID_HANDLE, `context ${hex(hContext)} is not an established context`);
    }
    return ctx;
  }

  #handle(hCard: number): CardHandle {
    this.#alive();
    for (const ctx of this.#contexts.values()) {
      const h = ctx.handles.get(hCard >>> 0);
      if (h !== undefined && !ctx.released) return h;
    }
    throw new PcscError(SCARD_E_INVALID_HANDLE, `card handle ${hex(hCard)} is not a connected handle`);
  }

  /** The context's per-service context, established on first use (see the design notes above). */
  #serviceContext(ctx: Context, service: Service): Promise<number> {
    let p = ctx.perService.get(service);
    if (p === undefined) {
      // The service's own promise is kept (not the one raced with its removal), so that a removal can still release it.
      const established = service.client.SCardEstablishContext(ctx.dwScope).then((r) => r.hContext);
      p = established;
      ctx.perService.set(service, established);
      established.catch(() => {
        if (ctx.perService.get(service) === established) ctx.perService.delete(service);
      });
    }
    const raw = p;
    return this.#via(service, () => raw, 'SCardEstablishContext');
  }

  async SCardEstablishContext(dwScope: number): Promise<{ hContext: number }> {
    this.#alive();
    // The scope check of winscard_clnt.c; the services see the same scope when their contexts are established.
    if (!Number.isInteger(dwScope) || dwScope < 0 || dwScope > 3) {
      throw new PcscError(
        SCARD_E_INVALID_VALUE,
        `scope ${dwScope} is none of SCARD_SCOPE_USER (0) … SCARD_SCOPE_GLOBAL (3)`,
      );
    }
    const hContext = this.#ids.allocate();
    this.#contexts.set(hContext, new Context(hContext, dwScope));
    return { hContext };
  }

  async SCardReleaseContext(hContext: number): Promise<void> {
    const ctx = this.#context(hContext);
    await this.#release(ctx, SCARD_E_INVALID_HANDLE);
  }

  /** MSGRemoveContext: the waiter ends, every per-service context is released (the services disconnect its handles). */
  async #release(ctx: Context, waiterCode: number): Promise<void> {
    ctx.released = true;
    ctx.cancelWait?.(waiterCode);
    await ctx.waitQueue.run(async () => undefined);
    this.#contexts.delete(ctx.hContext);
    this.#ids.release(ctx.hContext);
    for (const h of ctx.handles.keys()) this.#ids.release(h);
    ctx.handles.clear();
    const entries = [...ctx.perService];
    ctx.perService.clear();
    await Promise.all(
      entries.map(async ([service, p]) => {
        try {
          const h = await p;
          await this.#via(service, () => service.client.SCardReleaseContext(h), 'SCardReleaseContext');
        } catch (e) {
          this.#log('debug', `releasing the context on "${service.label}": ${String(e)}`);
        }
      }),
    );
  }

  async SCardIsValidContext(hContext: number): Promise<void> {
    this.#context(hContext);
  }

  async SCardListReaders(
    hContext: number,
    _groups?: string | null,
    options?: { bufferLength?: number },
  ): Promise<{ readers: string[] }> {
    const ctx = this.#context(hContext);
    await this.#refresh(ctx);
    this.#context(hContext);
    const readers = this.#union();
    if (readers.length === 0) {
      throw new PcscError(SCARD_E_NO_READERS_AVAILABLE, 'no reader is connected to any PC/SC service');
    }
    const needed = multiStringLength(readers);
    const bufferLength = options?.bufferLength;
    if (bufferLength !== undefined && bufferLength < needed) {
      const detail = `the reader list needs ${needed} characters, the buffer has ${bufferLength}`;
      throw new PcscError(SCARD_E_INSUFFICIENT_BUFFER, detail, { needed });
    }
    return { readers };
  }

  async SCardListReaderGroups(hContext: number, options?: { bufferLength?: number }): Promise<{ groups: string[] }> {
    this.#context(hContext);
    const groups = [SCARD_DEFAULT_READERS];
    const needed = multiStringLength(groups);
    const bufferLength = options?.bufferLength;
    if (bufferLength !== undefined && bufferLength < needed) {
      const detail = `the group list needs ${needed} characters, the buffer has ${bufferLength}`;
      throw new PcscError(SCARD_E_INSUFFICIENT_BUFFER, detail, { needed });
    }
    return { groups };
  }

  async SCardConnect(
    hContext: number,
    szReader: string,
    dwShareMode: number,
    dwPreferredProtocols: number,
  ): Promise<{ hCard: number; dwActiveProtocol: number }> {
    this.#alive();
    // winscard_clnt.c's order: missing name, name too long, then the context.
    if (typeof szReader !== 'string' || szReader === '') {
      throw new PcscError(SCARD_E_UNKNOWN_READER, 'no reader name given');
    }
    if (utf8Length(szReader) > MAX_READERNAME) {
      const detail = `reader name of ${utf8Length(szReader)} bytes; at most ${MAX_READERNAME}`;
      throw new PcscError(SCARD_E_INVALID_VALUE, detail);
    }
    const ctx = this.#context(hContext);
    let target = this.#names.get(szReader);
    if (target === undefined) {
      await this.#refresh(ctx);
      target = this.#names.get(szReader);
    }
    if (target === undefined) {
      throw new PcscError(SCARD_E_UNKNOWN_READER, `no reader named "${szReader}"; SCardListReaders gives the names`);
    }
    const { service, raw } = target;
    const h = await this.#serviceContext(ctx, service);
    const r = await this.#via(
      service,
      () => service.client.SCardConnect(h, raw, dwShareMode, dwPreferredProtocols),
      `SCardConnect to "${szReader}"`,
    );
    if (ctx.released || this.#closed || service.removed) {
      if (!service.removed) await service.client.SCardDisconnect(r.hCard, SCARD_LEAVE_CARD).catch(() => undefined);
      if (this.#closed) {
        throw new PcscError(SCARD_E_NO_SERVICE, 'the combined PC/SC service was closed during SCardConnect');
      }
      if (ctx.released) throw new PcscError(SCARD_E_INVALID_HANDLE, 'the context was released during SCardConnect');
      throw new PcscError(SCARD_E_READER_UNAVAILABLE, `reader "${szReader}" went away during SCardConnect`);
    }
    const hCard = this.#ids.allocate();
    ctx.handles.set(hCard, { hCard, ctx, service, serviceHandle: r.hCard, readerName: szReader });
    return { hCard, dwActiveProtocol: r.dwActiveProtocol };
  }

  /** A call on a card handle, routed to its service; a removed service's handle answers INVALID_VALUE (see above). */
  #onHandle<T>(hCard: number, fn: string, call: (client: PcscApi, h: number) => Promise<T>): Promise<T> {
    let h: CardHandle;
    try {
      h = this.#handle(hCard);
    } catch (e) {
      return Promise.reject(e);
    }
    if (h.service.removed) {
      const detail = `card handle ${hex(hCard)}: reader "${h.readerName}" was removed (its service left)`;
      return Promise.reject(new PcscError(SCARD_E_INVALID_VALUE, detail));
    }
    const reader = h.readerName;
    return this.#via(
      h.service,
      () => call(h.service.client, h.serviceHandle),
      () => `${fn} on "${reader}"`,
    );
  }

  SCardReconnect(
    hCard: number,
    dwShareMode: number,
    dwPreferredProtocols: number,
    dwInitialization: number,
  ): Promise<{ dwActiveProtocol: number }> {
    return this.#onHandle(hCard, 'SCardReconnect', (c, h) =>
      c.SCardReconnect(h, dwShareMode, dwPreferredProtocols, dwInitialization),
    );
  }

  async SCardDisconnect(hCard: number, dwDisposition: number): Promise<void> {
    const h = this.#handle(hCard);
    const d = dwDisposition >>> 0;
    if (h.service.removed) {
      // winscard.c SCardDisconnect: the disposition is checked first, then a gone reader is ignored.
      if (d !== SCARD_LEAVE_CARD && d !== SCARD_RESET_CARD && d !== SCARD_UNPOWER_CARD && d !== SCARD_EJECT_CARD) {
        const detail = `disposition ${dwDisposition} is none of SCARD_LEAVE_CARD, _RESET_, _UNPOWER_, _EJECT_CARD`;
        throw new PcscError(SCARD_E_INVALID_VALUE, detail);
      }
      this.#forget(h);
      return;
    }
    try {
      const call = (): Promise<void> => h.service.client.SCardDisconnect(h.serviceHandle, dwDisposition);
      await this.#via(h.service, call, `SCardDisconnect on "${h.readerName}"`);
    } catch (e) {
      // The service went away under the call: as for a removed reader, the handle is gone.
      if (!h.service.removed) throw e;
    }
    this.#forget(h);
  }

  #forget(h: CardHandle): void {
    if (h.ctx.handles.delete(h.hCard)) this.#ids.release(h.hCard);
  }

  SCardBeginTransaction(hCard: number): Promise<void> {
    return this.#onHandle(hCard, 'SCardBeginTransaction', (c, h) => c.SCardBeginTransaction(h));
  }

  SCardEndTransaction(hCard: number, dwDisposition: number): Promise<void> {
    return this.#onHandle(hCard, 'SCardEndTransaction', (c, h) => c.SCardEndTransaction(h, dwDisposition));
  }

  async SCardStatus(
    hCard: number,
  ): Promise<{ szReaderName: string; dwState: number; dwProtocol: number; atr: Uint8Array }> {
    const h = this.#handle(hCard);
    if (h.service.removed) {
      throw new PcscError(SCARD_E_READER_UNAVAILABLE, `reader "${h.readerName}" is no longer connected`);
    }
    const r = await this.#onHandle(hCard, 'SCardStatus', (c, sh) => c.SCardStatus(sh));
    // The service answers with its own name for the reader: give back the combined one, as given to SCardConnect.
    return { ...r, szReaderName: h.readerName };
  }

  SCardControl(
    hCard: number,
    dwControlCode: number,
    input: Uint8Array,
    options?: { recvLength?: number },
  ): Promise<{ output: Uint8Array }> {
    return this.#onHandle(hCard, 'SCardControl', (c, h) => c.SCardControl(h, dwControlCode, input, options));
  }

  SCardGetAttrib(hCard: number, dwAttrId: number, options?: { bufferLength?: number }): Promise<{ attr: Uint8Array }> {
    return this.#onHandle(hCard, 'SCardGetAttrib', (c, h) => c.SCardGetAttrib(h, dwAttrId, options));
  }

  SCardSetAttrib(hCard: number, dwAttrId: number, attr: Uint8Array): Promise<void> {
    return this.#onHandle(hCard, 'SCardSetAttrib', (c, h) => c.SCardSetAttrib(h, dwAttrId, attr));
  }

  SCardTransmit(
    hCard: number,
    ioSendPci: ScardIoRequest,
    sendBuffer: Uint8Array,
    options?: { recvLength?: number },
  ): Promise<{ recvPci: ScardIoRequest; recvBuffer: Uint8Array }> {
    return this.#onHandle(hCard, 'SCardTransmit', (c, h) => c.SCardTransmit(h, ioSendPci, sendBuffer, options));
  }

  async SCardCancel(hContext: number): Promise<void> {
    const ctx = this.#context(hContext);
    // 1.9.9: SUCCESS when nothing waits; else the combined waiter cancels each per-service wait and gets E_CANCELLED.
    ctx.cancelWait?.(SCARD_E_CANCELLED);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // The names go back to a shared registry (other combinators may name these readers differently from now on).
    for (const service of this.#services.values()) {
      for (const raw of service.toCombined.keys()) this.#registry.release(service.id, raw);
      service.toCombined.clear();
    }
    await Promise.all([...this.#contexts.values()].map((ctx) => this.#release(ctx, SCARD_E_NO_SERVICE)));
  }

  // -----------------------------------------------------------------------------------------------------------------
  // SCardGetStatusChange

  /**
   * Ends a per-service wait: SCardCancel on its context until the wait settles. The cancel is repeated because it may
   * reach the service before its waiter is registered (pcscd then answers SUCCESS and the waiter would stay); the
   * repetition stops as soon as the wait is over.
   */
  async #stopWait(service: Service, hService: number, wait: Promise<Outcome>): Promise<Outcome> {
    let settled = false;
    void wait.then(() => {
      settled = true;
    });
    let ms = 1;
    while (!settled) {
      try {
        await service.client.SCardCancel(hService);
      } catch (e) {
        // The context or the service is gone: the wait ends with it (or never, if the service hangs).
        return settled ? wait : { ok: false, error: e };
      }
      const d = delay(ms);
      await Promise.race([wait, d.promise]);
      d.clear();
      ms = Math.min(ms * 2, 50);
    }
    return wait;
  }

  async SCardGetStatusChange(
    hContext: number,
    dwTimeout: number,
    readerStates: ReaderStateIn[],
  ): Promise<{ readerStates: ReaderStateOut[] }> {
    this.#alive();
    if (!Array.isArray(readerStates)) throw new PcscError(SCARD_E_INVALID_PARAMETER, 'readerStates must be an array');
    if (readerStates.length > PCSCLITE_MAX_READERS_CONTEXTS) {
      throw new PcscError(
        SCARD_E_INVALID_PARAMETER,
        `${readerStates.length} reader states given; pcsc-lite takes at most ${PCSCLITE_MAX_READERS_CONTEXTS}`,
      );
    }
    const out: ReaderStateOut[] = readerStates.map((s) => {
      const r: ReaderStateOut = {
        szReader: s.szReader,
        dwCurrentState: s.dwCurrentState >>> 0,
        dwEventState: 0,
        rgbAtr: new Uint8Array(0),
      };
      if ('pvUserData' in s) r.pvUserData = s.pvUserData;
      return r;
    });
    if (out.every((e) => e.dwCurrentState & SCARD_STATE_IGNORE)) return { readerStates: out };
    const ctx = this.#context(hContext);
    return ctx.waitQueue.run(async () => {
      this.#context(hContext);
      let cancelled: number | undefined;
      let wakeCancel: () => void = () => undefined;
      const cancelPromise = new Promise<void>((resolve) => {
        wakeCancel = resolve;
      });
      ctx.cancelWait = (code) => {
        cancelled ??= code;
        wakeCancel();
      };
      try {
        return { readerStates: await this.#waitForChange(ctx, dwTimeout >>> 0, out, () => cancelled, cancelPromise) };
      } finally {
        ctx.cancelWait = undefined;
      }
    });
  }

  async #waitForChange(
    ctx: Context,
    dwTimeout: number,
    out: ReaderStateOut[],
    cancelled: () => number | undefined,
    cancelPromise: Promise<void>,
  ): Promise<ReaderStateOut[]> {
    const infinite = dwTimeout === INFINITE;
    const deadline = infinite ? Infinity : Date.now() + dwTimeout;
    const active = out.map((_, i) => i).filter((i) => !(out[i]!.dwCurrentState & SCARD_STATE_IGNORE));
    const pnp = active.filter((i) => isPnpName(out[i]!.szReader));
    const named = active.filter((i) => !isPnpName(out[i]!.szReader));

    let topologyGeneration = this.#topology.generation;
    await this.#refresh(ctx);
    for (const i of named) {
      const name = out[i]!.szReader;
      if (typeof name !== 'string') throw new PcscError(SCARD_E_INVALID_VALUE, 'a reader state has no reader name');
      if (!this.#names.has(name)) {
        throw new PcscError(SCARD_E_UNKNOWN_READER, `no reader named "${name}"; SCardListReaders gives the names`);
      }
    }
    const countAtStart = this.#totalReaders();
    /** Entries whose reader left with its service: no service answers for them any more. */
    const orphaned = new Set<number>();
    const target = new Map<number, { service: Service; raw: string }>();
    for (const i of named) target.set(i, this.#names.get(out[i]!.szReader)!);
    /** Per service: the PnP current state to give next (its last PnP event state). */
    const pnpCurrent = new Map<Service, number>();
    const pending = new Map<Service, { h: number; wait: Promise<Outcome>; indices: number[] }>();

    const localPass = (): boolean => {
      let changed = false;
      for (const i of named) {
        const t = target.get(i)!;
        if (!t.service.removed && t.service.toCombined.get(t.raw) === out[i]!.szReader) continue;
        orphaned.add(i);
        // status-change.ts: a named reader that disappeared is UNKNOWN | UNAVAILABLE, CHANGED unless known so.
        const e = out[i]!;
        e.dwEventState = SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE;
        if (!(e.dwCurrentState & SCARD_STATE_UNKNOWN)) {
          e.dwEventState |= SCARD_STATE_CHANGED;
          changed = true;
        }
      }
      if (pnp.length > 0 && this.#totalReaders() !== countAtStart) {
        for (const i of pnp) out[i]!.dwEventState = (out[i]!.dwEventState | SCARD_STATE_CHANGED) >>> 0;
        changed = true;
      }
      return changed;
    };

    const merge = (indices: readonly number[], states: readonly ReaderStateOut[]): boolean => {
      let changed = false;
      indices.forEach((i, k) => {
        const s = states[k];
        if (s === undefined || orphaned.has(i)) return;
        out[i]!.dwEventState = s.dwEventState >>> 0;
        out[i]!.rgbAtr = s.rgbAtr;
        if (s.dwEventState & SCARD_STATE_CHANGED) changed = true;
      });
      return changed;
    };

    const launch = async (service: Service): Promise<void> => {
      const indices = named.filter((i) => !orphaned.has(i) && target.get(i)!.service === service);
      // The service's own PnP entry, unless the caller's entries already fill pcsc-lite's 16 (then a reader added to
      // that service is seen only through the caller's own entries: a documented limit of combining).
      const withPnp = pnp.length > 0 && indices.length < PCSCLITE_MAX_READERS_CONTEXTS;
      if (indices.length === 0 && !withPnp) return;
      const states: ReaderStateIn[] = indices.map((i) => ({
        szReader: target.get(i)!.raw,
        dwCurrentState: out[i]!.dwCurrentState,
      }));
      if (withPnp) states.push({ szReader: out[pnp[0]!]!.szReader, dwCurrentState: pnpCurrent.get(service) ?? 0 });
      const h = await this.#serviceContext(ctx, service);
      const timeout = infinite ? INFINITE : Math.max(0, deadline - Date.now());
      const wait = settle(service.client.SCardGetStatusChange(h, timeout, states));
      service.waits.set(h, wait);
      void wait.then(() => {
        if (service.waits.get(h) === wait) service.waits.delete(h);
      });
      pending.set(service, { h, wait, indices });
    };

    const stopAll = async (): Promise<boolean> => {
      let changed = false;
      const all = [...pending];
      pending.clear();
      const outcomes = await Promise.all(
        all.map(async ([service, p]) => ({
          p,
          o: service.removed ? undefined : await this.#stopWait(service, p.h, p.wait),
        })),
      );
      for (const { p, o } of outcomes) {
        if (o === undefined) continue;
        const states = o.ok ? o.states : isPcscError(o.error) ? o.error.readerStates : undefined;
        if (states !== undefined && merge(p.indices, states) && o.ok) changed = true;
      }
      return changed;
    };

    /**
     * A service failed otherwise. With entries of the caller's, its error is the call's (its pcsc-lite code); with only
     * the PnP entry, the others' readers are still watched and the service is left out of this call.
     */
    const giveUp = (service: Service, e: unknown): void => {
      if (named.some((i) => !orphaned.has(i) && target.get(i)!.service === service)) throw e;
      const why = e instanceof Error ? e.message : String(e);
      this.#log('warn', `"${service.label}" is not watched for new readers: ${why}`);
    };

    const fail = (code: number, detail: string): PcscError =>
      new PcscError(code, detail, { readerStates: out.map((e) => ({ ...e })) });

    try {
      let relaunch = [...this.#services.values()];
      for (;;) {
        if (localPass()) {
          await stopAll();
          return out;
        }
        const c = cancelled();
        if (c !== undefined) {
          await stopAll();
          const why =
            c === SCARD_E_CANCELLED ? 'SCardCancel was called on this context' : 'the context went away while waiting';
          throw fail(c, why);
        }
        for (const service of relaunch) {
          if (service.removed || pending.has(service)) continue;
          try {
            await launch(service);
          } catch (e) {
            if (!service.removed) giveUp(service, e);
          }
        }
        relaunch = [];
        if (pending.size === 0 && !infinite && Date.now() >= deadline) {
          throw fail(SCARD_E_TIMEOUT, `no change within ${dwTimeout} ms`);
        }

        // Wait for the first of: a service's answer, a service added or removed, SCardCancel, the deadline (only when
        // no service is asked: otherwise their own timeouts carry the deadline).
        const topo = this.#topology.wait(topologyGeneration);
        const timer = pending.size === 0 && !infinite ? delay(Math.max(0, deadline - Date.now())) : undefined;
        type Wake =
          | { kind: 'service'; service: Service; o: Outcome }
          | { kind: 'topology' }
          | { kind: 'cancel' }
          | { kind: 'timeout' };
        const wakes: Promise<Wake>[] = [
          ...[...pending].map(([service, p]) => p.wait.then((o): Wake => ({ kind: 'service', service, o }))),
          topo.promise.then((): Wake => ({ kind: 'topology' })),
          cancelPromise.then((): Wake => ({ kind: 'cancel' })),
        ];
        if (timer !== undefined) wakes.push(timer.promise.then((): Wake => ({ kind: 'timeout' })));
        const wake = await Promise.race(wakes);
        topo.dispose();
        timer?.clear();

        if (wake.kind === 'cancel') continue;
        if (wake.kind === 'timeout') throw fail(SCARD_E_TIMEOUT, `no change within ${dwTimeout} ms`);
        if (wake.kind === 'topology') {
          // A service came or went. The per-service contexts are busy with their waits (a service serialises a
          // context's calls, as the client library's per-context lock does), so the waits end before the lists are
          // re-read.
          topologyGeneration = this.#topology.generation;
          for (const [service] of pending) if (service.removed) pending.delete(service);
          if (await stopAll()) return out;
          await this.#refresh(ctx);
          relaunch = [...this.#services.values()];
          continue;
        }
        const { service, o } = wake;
        const p = pending.get(service);
        pending.delete(service);
        if (p === undefined || service.removed) continue;
        if (o.ok) {
          if (merge(p.indices, o.states)) {
            await stopAll();
            return out;
          }
          // Only the service's PnP entry fired: re-read its list; the combined PnP decides by the total count.
          const pnpState = o.states[p.indices.length];
          if (pnpState !== undefined) pnpCurrent.set(service, pnpState.dwEventState >>> 0);
          await this.#refresh(ctx, [service]);
          relaunch = [service];
          continue;
        }
        const e = o.error;
        if (isPcscError(e, SCARD_E_TIMEOUT)) {
          if (e.readerStates !== undefined) merge(p.indices, e.readerStates);
          if (await stopAll()) return out;
          throw fail(SCARD_E_TIMEOUT, `no change within ${dwTimeout} ms`);
        }
        if (isPcscError(e, SCARD_E_NO_SERVICE)) {
          await this.#detach(service, 'stopped answering (SCARD_E_NO_SERVICE)');
          continue;
        }
        if (isPcscError(e, SCARD_E_CANCELLED) && cancelled() === undefined) {
          // Not the caller's SCardCancel: a repeated cancel of #stopWait that reached the service after the wait it
          // was meant for (over a message channel the answer may still be on its way). Ask again.
          relaunch = [service];
          continue;
        }
        if (isPcscError(e, SCARD_E_UNKNOWN_READER)) {
          // One of its readers left between our listing and its call: re-read, the local pass reports the entry.
          await this.#refresh(ctx, [service]);
          relaunch = [service];
          continue;
        }
        giveUp(service, e);
      }
    } finally {
      await stopAll();
    }
  }
}
