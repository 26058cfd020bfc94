/**
 * The Node host as a library: the PC/SC daemon and its readers in-process, behind the same promise-based SCard* API
 * as the client library — no pcscd, no socket.
 *
 * ```ts
 * import { openPcsc, SCARD_SCOPE_SYSTEM } from 'smart-card-connector/host';
 * const pcsc = await openPcsc({ demo: true });            // usb: true by default; sim: ['pinpad']; vpcd: 35963
 * const { hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
 * ...
 * await pcsc.close();                                     // cards powered down, readers and devices released
 * ```
 */
import { PcscDaemon, type PcscClient } from '../pcsc/index.js';
import { startReaders, type HostLog, type ReaderOptions, type ReaderSet } from './readers/index.js';

export * from '../pcsc/constants.js';
export {
  PcscError,
  isPcscError,
  type PcscApi,
  type ReaderStateIn,
  type ReaderStateOut,
  type ScardIoRequest,
} from '../pcsc/index.js';
export { PcscDaemon, type PcscClient } from '../pcsc/index.js';
export { startReaders, type ReaderOptions, type ReaderSet, type HostLog, type HostLogLevel } from './readers/index.js';
export { servePcscd, type PcscdServer, type PcscdServeOptions } from './pcscd/server.js';

export interface OpenPcscOptions extends ReaderOptions {
  /** Where the daemon, the driver and the reader sources log (default: nowhere). */
  log?: HostLog;
  /** pcscd's power-off grace after the last handle goes (default 5000 ms). */
  powerOffGraceMs?: number;
  /** The client's name in the daemon's log. */
  name?: string;
}

export interface Pcsc extends PcscClient {
  /** The daemon, for more clients (`daemon.connect()`) or serving it on a socket. */
  readonly daemon: PcscDaemon;
  /** The running reader sources (the simulated devices, the vpcd reader's port, the USB readers list). */
  readonly readers: ReaderSet;
  /** Ends the client, powers every card down, releases every reader and the daemon. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a daemon with the requested readers and returns one client of it. USB readers are on unless `usb: false`;
 * without a USB bus that source just logs why and stays empty.
 */
export async function openPcsc(options: OpenPcscOptions = {}): Promise<Pcsc> {
  const log = options.log ?? (() => {});
  const daemonOptions: ConstructorParameters<typeof PcscDaemon>[0] = { log };
  if (options.powerOffGraceMs !== undefined) daemonOptions.powerOffGraceMs = options.powerOffGraceMs;
  const daemon = new PcscDaemon(daemonOptions);
  let readers: ReaderSet;
  try {
    readers = await startReaders(daemon, options, log);
  } catch (e) {
    await daemon.shutdown();
    throw e;
  }
  const client = daemon.connect({ name: options.name ?? 'library' });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await client.close();
      await readers.stop();
      await daemon.shutdown();
    })();
    return closing;
  };
  // The client's methods use `this`: bind them onto one object with the extras.
  const api = Object.create(client) as Pcsc;
  Object.defineProperties(api, {
    daemon: { value: daemon, enumerable: true },
    readers: { value: readers, enumerable: true },
    close: { value: close, enumerable: true },
  });
  return api;
}
