/** The pcsc-lite daemon port: public entry point. */
export {
  PcscDaemon,
  type PcscClient,
  type DaemonOptions,
  type DaemonStats,
  type PublishedReaderState,
  type ReaderHolder,
  type ReaderHolders,
} from './daemon.js';
export { PcscError, isPcscError } from './errors.js';
export type { Timers as DaemonTimers } from './timers.js';
export type { PcscApi, ReaderStateIn, ReaderStateOut, ScardIoRequest } from './api.js';
export * from './constants.js';
