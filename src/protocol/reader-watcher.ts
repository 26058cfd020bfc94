/**
 * Follows the daemon's readers as any PC/SC client would: SCardListReaders, then SCardGetStatusChange on every reader
 * and on `\\?PnP?\Notification` (pcsc-lite's reader-list change pseudo reader, whose dwCurrentState carries the
 * reader count in its high 16 bits). After each change it reports every reader's state and ATR: the protocol's
 * `readers` event, which the connector sends to its subscribed clients (and its pages show as card presence) and the
 * native host to the connector.
 */
import type { PcscApi } from '../pcsc/api.js';
import {
  INFINITE,
  PNP_NOTIFICATION_READER_NAME,
  SCARD_E_NO_READERS_AVAILABLE,
  SCARD_SCOPE_SYSTEM,
  SCARD_STATE_CHANGED,
} from '../pcsc/constants.js';
import { isPcscError } from '../pcsc/errors.js';
import type { ReaderInfo } from './codec.js';

type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What the watcher needs of the daemon (PcscDaemon fits): one client of its own. */
export interface WatchedDaemon {
  connect(info?: { name?: string }): WatcherClient;
}
export type WatcherClient = Pick<
  PcscApi,
  'SCardEstablishContext' | 'SCardListReaders' | 'SCardGetStatusChange' | 'SCardIsValidContext'
> & { close(): Promise<void> };

export interface ReaderState {
  /** dwEventState without SCARD_STATE_CHANGED. */
  state: number;
  atr: Uint8Array;
}

export interface ReaderWatcherOptions {
  /** Called after every look at the readers (with the same list when only a wait ended). */
  onChange: (readers: ReaderInfo[]) => void;
  log?: (level: LogLevel, message: string) => void;
  /** Pause before looking again after an error (default 100 ms). */
  retryMs?: number;
}

export class ReaderWatcher {
  readonly #daemon: WatchedDaemon;
  readonly #options: ReaderWatcherOptions;
  readonly #states = new Map<string, ReaderState>();
  #running: Promise<void> | undefined;
  #stopping = false;

  constructor(daemon: WatchedDaemon, options: ReaderWatcherOptions) {
    this.#daemon = daemon;
    this.#options = options;
  }

  /** The readers as last seen. */
  get readers(): ReaderInfo[] {
    return [...this.#states].map(([name, v]) => ({ name, state: v.state, atr: v.atr }));
  }

  /** A reader as last seen, if it was there. */
  state(name: string): ReaderState | undefined {
    return this.#states.get(name);
  }

  /** Starts watching (once); resolves when the watcher has stopped. */
  start(): Promise<void> {
    this.#running ??= this.#run();
    return this.#running;
  }

  /** Stops after the current wait ends (the daemon's shutdown ends it). */
  stop(): void {
    this.#stopping = true;
  }

  #log(level: LogLevel, message: string): void {
    try {
      this.#options.log?.(level, message);
    } catch {
      /* a failing logger must not stop the watcher */
    }
  }

  async #run(): Promise<void> {
    const client = this.#daemon.connect({ name: 'connector: reader watcher' });
    const pause = (ms: number) => new Promise<void>((r) => setTimeout(() => r(), ms));
    let hContext: number | undefined;
    while (!this.#stopping) {
      try {
        hContext ??= (await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
        let names: string[] = [];
        try {
          names = (await client.SCardListReaders(hContext, null)).readers;
        } catch (e) {
          if (!isPcscError(e, SCARD_E_NO_READERS_AVAILABLE)) throw e;
        }
        // First a zero-timeout look to learn the current states, then wait for the next change.
        const now = await client
          .SCardGetStatusChange(
            hContext,
            0,
            names.map((n) => ({ szReader: n, dwCurrentState: 0 })),
          )
          .catch(() => null);
        this.#states.clear();
        for (const r of now?.readerStates ?? []) {
          this.#states.set(r.szReader, { state: r.dwEventState & ~SCARD_STATE_CHANGED, atr: r.rgbAtr });
        }
        this.#publish();
        const pnpCount = names.length << 16;
        await client.SCardGetStatusChange(hContext, INFINITE, [
          { szReader: PNP_NOTIFICATION_READER_NAME, dwCurrentState: pnpCount },
          ...[...this.#states].map(([n, v]) => ({ szReader: n, dwCurrentState: v.state })),
        ]);
      } catch (e) {
        if (this.#stopping) break;
        // A reader vanished under the wait (READER_UNAVAILABLE, UNKNOWN_READER), a context gone: look again shortly.
        this.#log('debug', `reader watcher: ${String(e)}`);
        if (hContext !== undefined) {
          const valid = await client.SCardIsValidContext(hContext).then(
            () => true,
            () => false,
          );
          if (!valid) hContext = undefined;
        }
        await pause(this.#options.retryMs ?? 100);
      }
    }
    await client.close().catch(() => {});
  }

  #publish(): void {
    try {
      this.#options.onChange(this.readers);
    } catch (e) {
      this.#log('warn', `publishing readers: ${String(e)}`);
    }
  }
}
