/**
 * pcscd in-process: readers fed by drivers (readerfactory.c), clients (winscard_svc.c) and the SCard* functions
 * (winscard.c + the client library's per-context behaviour, winscard_clnt.c).
 */
import type { IfdReader } from '../ccid/ifd.js';
import type { PcscApi } from './api.js';

export interface DaemonOptions {
  /** pcscd's auto power-off grace (default 5000 ms; 0 = power off at once). */
  powerOffGraceMs?: number;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
  /** Source for 31-bit handles (default Math.random); tests may make it deterministic. */
  random?: () => number;
}

export interface PcscClient extends PcscApi {
  readonly id: string;
  /** The client goes away (pcscd MSGCleanupClient): its waiters are unregistered, handles disconnected, lock holder reset. */
  close(): Promise<void>;
}

export class PcscDaemon {
  constructor(options: DaemonOptions = {}) {
    void options;
    throw new Error('PcscDaemon: not implemented yet');
  }

  /** Registers every slot of a driver's reader (RFAddReader); resolves with their names. */
  addReader(reader: IfdReader): Promise<string[]> {
    void reader;
    return Promise.reject(new Error('not implemented yet'));
  }

  /** RFRemoveReader. */
  removeReader(reader: IfdReader): Promise<void> {
    void reader;
    return Promise.reject(new Error('not implemented yet'));
  }

  get readerNames(): readonly string[] {
    return [];
  }

  connect(info?: { name?: string }): PcscClient {
    void info;
    throw new Error('not implemented yet');
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
