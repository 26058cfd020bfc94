/**
 * One reader list for clients: every daemon client the router (or the reader watcher) opens is a `combinePcsc`
 * (src/pcsc/combined.ts) over the worker's own daemon (service 'worker': WebUSB and demo readers) and, while the host
 * link is up, the host's service (service 'host', shared by all: the host is one client of its own daemon per link).
 *
 * All share one reader naming (a reader that must be renamed because another holds its name is renamed alike for
 * every client and in the window, however the clients saw the readers come).
 *
 * Each combined client keeps its own daemon client on the worker side, so pcscd's per-client rules still hold there
 * (200 contexts per client, client death releases everything); closing it releases its contexts on the host too.
 */
import { combinePcsc, createReaderNameRegistry, type CombinedPcsc, type PcscServiceEntry } from '../pcsc/combined.js';
import type { PcscApi } from '../pcsc/api.js';
import type { RouterDaemon, RouterDaemonClient } from './router.js';
import type { LogLevel } from './log.js';

export const WORKER_SERVICE = 'worker';
const noop = (): void => {};
export const HOST_SERVICE = 'host';

/** A combined client: the PC/SC API over every service, its reader names' origins, and client death. */
export type CombinedClient = RouterDaemonClient & Pick<CombinedPcsc, 'readerNames' | 'serviceIds'>;

export interface CombinedDaemonOptions {
  log?: (level: LogLevel, message: string) => void;
  random?: () => number;
}

/**
 * The calls that need no reader: answered during the initial reader scan (a woken worker's first call is most often
 * SCardEstablishContext), unless a call of the same client is already waiting for the scan (its calls keep their order).
 */
const CONTEXT_ONLY: ReadonlySet<PropertyKey> = new Set([
  'SCardEstablishContext',
  'SCardReleaseContext',
  'SCardIsValidContext',
]);

/** The service's initial reader scan while it runs (initialScan). */
interface Scan {
  done: Promise<void>;
  /** A client's call waits for it: start what was put off now. */
  needed: () => void;
}

export class CombinedDaemon implements RouterDaemon {
  readonly #worker: RouterDaemon;
  readonly #options: CombinedDaemonOptions;
  readonly #clients = new Set<CombinedPcsc>();
  /** One naming for all: a reader has the same name for every client and in the window, whatever each saw first. */
  readonly #names = createReaderNameRegistry();
  #host: PcscServiceEntry | null = null;
  #scan: Scan | null = null;

  constructor(worker: RouterDaemon, options: CombinedDaemonOptions = {}) {
    this.#worker = worker;
    this.#options = options;
  }

  /** Combined clients open now. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Whether the host's service is combined now. */
  get hasHost(): boolean {
    return this.#host !== null;
  }

  /**
   * The service's initial reader scan (the readers granted before, the demo reader if it was on) runs until `done`
   * settles: pcscd answers once its initial scan is done, so every call but CONTEXT_ONLY's waits for it, and a client's
   * call waiting calls `needed` (the service puts the demo reader's set-up off until then, or a short while).
   */
  initialScan(done: Promise<unknown>, needed: () => void): void {
    const scan: Scan = { done: done.then(noop, noop), needed };
    this.#scan = scan;
    void scan.done.then(() => {
      if (this.#scan === scan) this.#scan = null;
    });
  }

  /**
   * `passive`: the client's waiting calls do not hurry the scan (the reader watcher's, which starts with the service).
   */
  connect(info?: { name?: string }, options: { passive?: boolean } = {}): CombinedClient {
    const worker = this.#worker.connect(info);
    const combined = combinePcsc([{ id: WORKER_SERVICE, label: 'this browser', client: worker }], {
      ...(this.#options.random ? { random: this.#options.random } : {}),
      names: this.#names,
      log: (level, message) => this.#log(level, message),
    });
    if (this.#host) combined.add(this.#host);
    this.#clients.add(combined);
    let closed: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closed ??= (async () => {
        this.#clients.delete(combined);
        await combined.close().catch(() => undefined);
        await worker.close();
      })();
      return closed;
    };
    // Calls of this client waiting for the initial scan (later calls of this client wait behind them), and the last.
    let waiting = 0;
    let tail: Promise<void> = Promise.resolve();
    const currentScan = (): Scan | null => this.#scan;
    // The combinator's methods, bound (it keeps its state in private fields), plus close() for client death. Each
    // method is bound once, not at every call the router makes.
    const boundMethods = new Map<PropertyKey, { method: unknown; bound: (...a: unknown[]) => unknown }>();
    return new Proxy(combined, {
      get(target, prop) {
        if (prop === 'close') return close;
        const v: unknown = Reflect.get(target, prop, target);
        if (typeof v !== 'function') return v;
        let known = boundMethods.get(prop);
        if (known?.method !== v) {
          known = { method: v, bound: (v as (...a: unknown[]) => unknown).bind(target) };
          boundMethods.set(prop, known);
        }
        const bound = known.bound;
        const scan = currentScan();
        if ((scan === null && waiting === 0) || typeof prop !== 'string' || !prop.startsWith('SCard')) return bound;
        if (CONTEXT_ONLY.has(prop) && waiting === 0) return bound;
        return (...args: unknown[]) => {
          if (scan && !options.passive) scan.needed();
          waiting++;
          const prev = scan ? Promise.all([tail, scan.done]) : tail;
          const result = prev.then(() => {
            waiting--;
            return bound(...args);
          });
          // The next waiting call starts once this one is answered or has run for a task: as if each had arrived in
          // its own message task (a quick call done before the next begins; a wait for a change lets the next go).
          tail = prev.then(() =>
            Promise.race([result.then(noop, noop), new Promise<void>((resolve) => setTimeout(resolve, 0))]),
          );
          return result;
        };
      },
    });
  }

  /**
   * The host's service came (every combined client gains its readers) or went (null: its readers vanish from every
   * client, calls on them fail with the combinator's removal codes). A new service replaces the previous one.
   */
  async setHost(client: PcscApi | null, label = 'smart-card-host'): Promise<void> {
    const entry = client ? { id: HOST_SERVICE, label, client } : null;
    this.#host = entry;
    await Promise.all(
      [...this.#clients].map(async (c) => {
        await c.remove(HOST_SERVICE).catch(() => undefined);
        // Another setHost may have run meanwhile: only the latest entry is added.
        if (entry && this.#host === entry && this.#clients.has(c)) {
          try {
            c.add(entry);
          } catch (e) {
            this.#log('debug', `adding the host to a combined client: ${String(e)}`);
          }
        }
      }),
    );
  }

  #log(level: LogLevel, message: string): void {
    try {
      this.#options.log?.(level, message);
    } catch {
      /* a failing logger must not break a call */
    }
  }
}
