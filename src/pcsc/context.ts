/**
 * What the client library (winscard_clnt.c) and pcscd's per-client thread (winscard_svc.c) keep per client: its
 * contexts, each with its card handles (SCONTEXTMAP / cardsList) and its lock (a context runs one call at a time), and
 * whether a GetStatusChange of the context can be cancelled right now.
 */
import { SerialQueue } from './notifier.js';

export interface CardHandleInfo {
  /** The reader name given to SCardConnect (SCardStatus returns it). */
  readonly readerName: string;
}

export class ContextState {
  /** currentContextMap->mMutex. */
  readonly queue = new SerialQueue();
  readonly handles = new Map<number, CardHandleInfo>();
  released = false;
  /** Set while a GetStatusChange of this context waits (currentContextMap->cancellable): cancels it. */
  cancelWait: ((code: number) => void) | undefined;

  constructor(
    readonly hContext: number,
    readonly clientId: string,
  ) {}
}

export class ClientState {
  readonly contexts = new Map<number, ContextState>();
  closed = false;

  /** Clients of one group (one extension's connections) share the fair share of each reader's handles. */
  readonly group: string;

  constructor(
    readonly id: string,
    group?: string,
  ) {
    this.group = group ?? id;
  }

  /** The context owning hCard, among this client's. */
  contextOfHandle(hCard: number): ContextState | undefined {
    for (const ctx of this.contexts.values()) if (ctx.handles.has(hCard)) return ctx;
    return undefined;
  }
}
