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
export const HOST_SERVICE = 'host';

/** A combined client: the PC/SC API over every service, its reader names' origins, and client death. */
export type CombinedClient = RouterDaemonClient & Pick<CombinedPcsc, 'readerNames' | 'serviceIds'>;

export interface CombinedDaemonOptions {
  log?: (level: LogLevel, message: string) => void;
  random?: () => number;
}

export class CombinedDaemon implements RouterDaemon {
  readonly #worker: RouterDaemon;
  readonly #options: CombinedDaemonOptions;
  readonly #clients = new Set<CombinedPcsc>();
  /** One naming for all: a reader has the same name for every client and in the window, whatever each saw first. */
  readonly #names = createReaderNameRegistry();
  #host: PcscServiceEntry | null = null;

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

  connect(info?: { name?: string }): CombinedClient {
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
    // The combinator's methods, bound (it keeps its state in private fields), plus close() for client death. Each
    // method is bound once, not at every call the router makes.
    const bound = new Map<PropertyKey, { method: unknown; bound: unknown }>();
    return new Proxy(combined, {
      get(target, prop) {
        if (prop === 'close') return close;
        const v: unknown = Reflect.get(target, prop, target);
        if (typeof v !== 'function') return v;
        const known = bound.get(prop);
        if (known?.method === v) return known.bound;
        const b = (v as (...a: unknown[]) => unknown).bind(target);
        bound.set(prop, { method: v, bound: b });
        return b;
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
