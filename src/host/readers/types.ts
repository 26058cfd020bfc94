/** What every reader source of the Node host shares: a log and the place readers go (the daemon). */
import type { IfdReader } from '../../ifd/ifd.js';

export type HostLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type HostLog = (level: HostLogLevel, message: string) => void;

/** Where readers go: `PcscDaemon` has this shape. */
export interface ReaderSink {
  /** Registers the reader's slots; resolves with their PC/SC names. */
  addReader(reader: IfdReader): Promise<string[]>;
  removeReader(reader: IfdReader): Promise<void>;
}

/** A running source of readers (USB, simulated, vpcd). */
export interface ReaderSource {
  /** "usb", "sim", "vpcd". */
  readonly kind: string;
  /** Removes its readers from the sink and releases what it holds (devices, sockets). */
  stop(): Promise<void>;
}
