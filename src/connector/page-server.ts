/**
 * What the worker serves to the connector's own pages (its window and the permission prompt): a `PageService` object
 * per page, called through comlink over the page's chrome.runtime port (comlink-port.ts), and pushes of the status
 * (on connecting and after every change) and of log entries (once the page watches the log) on the same port.
 *
 * Only the connector's own pages get here (background.ts checks `isConnectorPage`); client extensions connect through
 * onConnectExternal and speak the validated protocol (router.ts). The pages are trusted, but what they send still
 * crosses a JSON port: each argument is checked before it is used.
 */
import { exposeOnPort, pushOnPort, type LinkPort } from './comlink-port.js';
import { plainEntry, type LogEntry, type LogLevel } from './log.js';
import type { Decision, Permissions } from './permissions.js';
import type { ConnectorStatus, PagePush, PageService } from './pages/messages.js';
import { HOST_BACKEND_CHOICES, type HostBackendChoice } from '../protocol/native.js';

/** What the page server needs of the connector (ConnectorService fits). */
export interface PageBackend {
  status(): ConnectorStatus;
  setDemoReader(on: boolean): Promise<void>;
  /** After the page's requestDevice(): the readers now listed. */
  pickUpDevices(): Promise<readonly unknown[]>;
  /** Tries a failed reader again. */
  retryReader(id: string): Promise<unknown>;
  setLogApdus(on: boolean): Promise<void>;
  setHostEnabled(on: boolean): Promise<void>;
  setHostBackend(choice: HostBackendChoice): Promise<void>;
  retryHost(): void;
  /** Ends an app's hold on the readers (revoking it); resolves with the text for the window. */
  endHold(id: string): Promise<string>;
  readonly permissions: Pick<Permissions, 'answer' | 'revoke'> | null;
  readonly logs: {
    entries(): LogEntry[];
    readonly dropped: number;
    onEntry(listener: (entry: LogEntry) => void): () => void;
  };
}

export interface PageServerOptions {
  log?: (level: LogLevel, message: string) => void;
  /** How long new log entries are gathered before they go to the watching pages (default 150 ms). */
  logBatchMs?: number;
}

/** Who Chrome says opened a port (chrome.runtime.MessageSender's identifying fields). */
export interface PageSender {
  id?: string;
  url?: string;
}

/**
 * True for a page of the extension `extensionId` itself: same id and a URL in its own origin. A content script of the
 * extension carries the same id but the web page's URL, and a web page's script could talk to it: it is refused too.
 */
export function isConnectorPage(sender: PageSender | undefined, extensionId: string): boolean {
  if (!sender || !extensionId || sender.id !== extensionId || typeof sender.url !== 'string') return false;
  try {
    // Compared by parts: URL.origin is "null" for this scheme outside the browser (Node's WHATWG URL).
    const url = new URL(sender.url);
    return (
      url.protocol === 'chrome-extension:' && url.host === extensionId && url.username === '' && url.password === ''
    );
  } catch {
    return false;
  }
}

export class PageServer {
  readonly #backend: PageBackend;
  readonly #options: PageServerOptions;
  readonly #pages = new Set<LinkPort>();
  readonly #logWatchers = new Set<LinkPort>();
  #logBatch: LogEntry[] = [];
  #logTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(backend: PageBackend, options: PageServerOptions = {}) {
    this.#backend = backend;
    this.#options = options;
    backend.logs.onEntry((entry) => this.#queueLog(entry));
  }

  /** Pages connected now. */
  get pages(): number {
    return this.#pages.size;
  }

  /** A connector page connected (chrome.runtime.onConnect, name PAGE_PORT_NAME, sender checked by the caller). */
  attach(port: LinkPort): void {
    this.#pages.add(port);
    port.onDisconnect.addListener(() => this.#forget(port));
    exposeOnPort(this.#serviceFor(port), port);
    this.#push(port, { type: 'status', status: this.#backend.status() });
  }

  /** Pushes the status to every page (after any change). */
  publish(status: ConnectorStatus): void {
    for (const page of [...this.#pages]) this.#push(page, { type: 'status', status });
  }

  #log(level: LogLevel, message: string): void {
    try {
      this.#options.log?.(level, message);
    } catch {
      /* a failing logger must not break a page */
    }
  }

  /** The object one page calls: its own methods only (exposeOnPort serves nothing else), bound to its port. */
  #serviceFor(port: LinkPort): PageService {
    const b = this.#backend;
    const run = async (request: string, body: () => Promise<string>): Promise<string> => {
      try {
        return await body();
      } catch (e) {
        this.#log('error', `connector page request ${request}: ${String(e)}`);
        throw e instanceof Error ? e : new Error(String(e));
      }
    };
    const permissions = () => {
      if (!b.permissions) throw new Error('this connector has no permissions');
      return b.permissions;
    };
    return {
      setDemoReader: (on: boolean) =>
        run('setDemoReader', async () => {
          await b.setDemoReader(boolean('setDemoReader', 'on', on));
          return on ? 'Demo reader plugged in.' : 'Demo reader unplugged.';
        }),
      pickUpDevices: () =>
        run('pickUpDevices', async () => {
          const entries = await b.pickUpDevices();
          return `${entries.length} reader(s) listed.`;
        }),
      retry: (readerId: string) =>
        run('retry', async () => {
          await b.retryReader(string('retry', 'readerId', readerId));
          return 'Tried again.';
        }),
      answerPrompt: (clientId: string, decision: Decision) =>
        run('answerPrompt', async () => {
          string('answerPrompt', 'clientId', clientId);
          if (decision !== 'allow' && decision !== 'block') {
            throw new TypeError('answerPrompt needs decision: "allow" or "block"');
          }
          await permissions().answer(clientId, decision);
          return decision === 'allow' ? 'Allowed.' : 'Blocked.';
        }),
      revoke: (clientId: string) =>
        run('revoke', async () => {
          await permissions().revoke(string('revoke', 'clientId', clientId));
          return 'Done: the app will be asked again on its next call.';
        }),
      endHold: (clientId: string) => run('endHold', () => b.endHold(string('endHold', 'clientId', clientId))),
      setLogApdus: (on: boolean) =>
        run('setLogApdus', async () => {
          await b.setLogApdus(boolean('setLogApdus', 'on', on));
          return on ? 'APDU logging is on.' : 'APDU logging is off.';
        }),
      setHostEnabled: (on: boolean) =>
        run('setHostEnabled', async () => {
          await b.setHostEnabled(boolean('setHostEnabled', 'on', on));
          return on ? 'Host link on: starting the host.' : 'Host link off.';
        }),
      setHostBackend: (choice: HostBackendChoice) =>
        run('setHostBackend', async () => {
          if (!HOST_BACKEND_CHOICES.includes(choice)) {
            throw new TypeError(`setHostBackend needs choice: one of ${HOST_BACKEND_CHOICES.join(', ')}`);
          }
          await b.setHostBackend(choice);
          return `Host backend: ${choice === 'auto' ? 'automatic' : choice === 'system' ? 'system service' : 'own stack'}.`;
        }),
      retryHost: () =>
        run('retryHost', async () => {
          b.retryHost();
          return 'Starting the host…';
        }),
      watchLog: () => {
        this.#logWatchers.add(port);
        this.#push(port, { type: 'log', entries: b.logs.entries(), reset: true, dropped: b.logs.dropped });
        return Promise.resolve();
      },
    };
  }

  #push(port: LinkPort, event: PagePush): void {
    try {
      pushOnPort(port, event);
    } catch {
      // Chrome throws on a port that is already gone: the page left.
      this.#forget(port);
    }
  }

  #forget(port: LinkPort): void {
    this.#pages.delete(port);
    this.#logWatchers.delete(port);
  }

  /** New log entries go to watching pages in batches (a busy client must not flood them with one message per entry). */
  #queueLog(entry: LogEntry): void {
    if (this.#logWatchers.size === 0) return;
    this.#logBatch.push(entry);
    this.#logTimer ??= setTimeout(() => {
      this.#logTimer = null;
      // Made here, once per batch, and only while a page watches: a call's line is built when it is shown.
      const entries = this.#logBatch.map(plainEntry);
      this.#logBatch = [];
      const dropped = this.#backend.logs.dropped;
      for (const page of [...this.#logWatchers]) this.#push(page, { type: 'log', entries, reset: false, dropped });
    }, this.#options.logBatchMs ?? 150);
  }
}

// Arguments cross a JSON port: checked here, named in the error, never echoed.
function boolean(request: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${request} needs ${name}: a boolean (got ${typeof value})`);
  return value;
}
function string(request: string, name: string, value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`${request} needs ${name}: a string (got ${typeof value})`);
  return value;
}
