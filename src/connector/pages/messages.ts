import type { ReaderEntryState } from '../../usb/device-manager.js';
import type { LogEntry } from '../log.js';
import type { AppPermissionView, Decision, PromptRequest } from '../permissions.js';
import type { HostBackend, HostBackendChoice } from '../../protocol/native.js';

export type { AppPermissionView, Decision, LogEntry, PromptRequest };

/**
 * What passes between the connector's page and its worker (JSON only: it crosses a chrome.runtime port). Kept apart
 * from service.ts so that the page bundle does not pull the daemon in.
 */

/**
 * Where a reader comes from: a USB reader this browser opened (WebUSB), the demo reader, or one the host serves from
 * the operating system's PC/SC service (`system`) or from its own stack (`own`).
 */
export type ReaderOrigin = 'browser' | 'demo' | 'system' | 'own';

/** Where a reader comes from, in words (the window's badge). */
export const ORIGIN_TEXT: Record<ReaderOrigin, string> = {
  browser: 'this browser',
  demo: 'demo',
  system: "the host's system service",
  own: "the host's own stack",
};

/** One reader row of the page. */
export interface ReaderView {
  id: string;
  origin: ReaderOrigin;
  label: string;
  /** "08E6:3437" */
  usbId: string;
  simulated: boolean;
  state: ReaderEntryState;
  reason: string | null;
  readerNames: string[];
  /** Whether each of readerNames holds a card (as the daemon last reported). */
  cards: boolean[];
  /** Each of readerNames as the daemon last reported it (same order). */
  slots: SlotView[];
}

/** One PC/SC reader (a slot of a USB reader). */
export interface SlotView {
  name: string;
  card: boolean;
  /** Held by an application (SCARD_STATE_INUSE), exclusively (SCARD_STATE_EXCLUSIVE). */
  inUse: boolean;
  exclusive: boolean;
  /** The card does not answer (SCARD_STATE_MUTE). */
  mute: boolean;
  /** "3B 8F …" when a card is there. */
  atr: string | null;
  /** The ATR decoded in short (protocols, Fi/Di, …) or why it cannot be. */
  atrInfo: string | null;
  /** Protocols the card offers, from its ATR ("T=1"). */
  protocols: string | null;
  /**
   * The apps holding this reader (card handles, its transaction, exclusive access), for the worker's own readers;
   * absent for the host's readers, whose holders the connector cannot see.
   */
  holders?: HolderView[];
}

/** One app's hold on a reader (status-view.ts holderViews). */
export interface HolderView {
  /** The extension id (else the page's origin): the identity, shown first. */
  id: string;
  /** Its name, cleaned (sanitize.ts); '' when unknown. */
  name: string;
  /** Its card handles on the reader. */
  handles: number;
  /** It holds the reader's transaction (others wait until it ends). */
  transaction: boolean;
  /** It is connected exclusively (others cannot connect). */
  exclusive: boolean;
}

/** A hold in words: "3 handles, transaction, exclusive". */
export function holderSummary(h: HolderView): string {
  return [
    `${h.handles} ${h.handles === 1 ? 'handle' : 'handles'}`,
    ...(h.transaction ? ['transaction'] : []),
    ...(h.exclusive ? ['exclusive'] : []),
  ].join(', ');
}

export interface AppView {
  /** The client extension's id. */
  id: string;
  /** The name it gave when connecting (its port name), if any. */
  name: string;
  /** Its open ports. */
  connections: number;
}

export interface ConnectorStatus {
  version: string;
  /** Random per worker start; a change means the worker restarted. */
  instance: string;
  /** False when this browser has no WebUSB (real readers cannot be used; the demo reader still works). */
  usb: boolean;
  demoReader: boolean;
  readers: ReaderView[];
  apps: AppView[];
  /** Open client connections. */
  connectedApps: number;
  /** Apps with a decision (policy, built-in, the user's), connected or not. */
  permissions: AppPermissionView[];
  /** Apps waiting for the user's answer. */
  prompts: PromptRequest[];
  /** The "Log APDUs" switch. */
  logApdus: boolean;
  /** The link to smart-card-host (native messaging). */
  host: HostView;
}

/** The host link as the window shows it (status-view.ts `hostView`). */
export interface HostView {
  /** The user's switch (stored). */
  enabled: boolean;
  /** The user's backend choice (stored). */
  choice: HostBackendChoice;
  /** 'off' | 'unavailable' | 'starting' | 'not-installed' | 'connected' | 'no-backend' | 'crashed' | 'mismatch'. */
  state: HostViewState;
  /** One line for people: what the link is doing. */
  text: string;
  /** More words when there are any (why it failed, what to do). */
  detail: string | null;
  /** The host's package version and platform once it answered. */
  version: string | null;
  platform: string | null;
  /** What serves calls now. */
  backend: HostBackend | null;
  /** Each backend as the host sees it (null before it answered). */
  backends: { system: string; own: string; systemAvailable: boolean; ownAvailable: boolean } | null;
  /** When crashed: seconds until the next start, and when (epoch ms). */
  retryInS: number | null;
  retryAt: number | null;
  /** When not installed: the one command that installs it. */
  installCommand: string | null;
  /** The system service is not running but the host's own stack is there: the window offers to switch. */
  offerOwn: boolean;
}

export type HostViewState =
  'off' | 'unavailable' | 'starting' | 'not-installed' | 'connected' | 'no-backend' | 'crashed' | 'mismatch';

/**
 * What the worker serves to its own pages (page-server.ts), called through comlink over a chrome.runtime port
 * (comlink-port.ts): the page holds a typed proxy and awaits each call. Every answer is the short text the page shows
 * the user; a failure rejects with an Error whose message says why. Arguments and answers must survive JSON.
 */
export interface PageService {
  setDemoReader(on: boolean): Promise<string>;
  /** After navigator.usb.requestDevice() on the page: open what getDevices() now lists. */
  pickUpDevices(): Promise<string>;
  retry(readerId: string): Promise<string>;
  /** The prompt window's answer. */
  answerPrompt(clientId: string, decision: Decision): Promise<string>;
  /** Revoke an allowed app, or unblock a blocked one: its next call asks again. */
  revoke(clientId: string): Promise<string>;
  /**
   * Ends an app's hold on the readers (the window's "End" under a reader): its access is revoked as by `revoke` (its
   * daemon clients close: handles, transactions and exclusive access released), so waiting apps go on.
   */
  endHold(clientId: string): Promise<string>;
  setLogApdus(on: boolean): Promise<string>;
  /** The host link's switch (stored). */
  setHostEnabled(on: boolean): Promise<string>;
  /** The host's backend: "auto", "system" or "own" (stored). */
  setHostBackend(choice: HostBackendChoice): Promise<string>;
  /** Starts the host again now (after a failure, or once it is installed). */
  retryHost(): Promise<string>;
  /** The whole log now (as a `log` push with reset), then new entries as they come (pushes). */
  watchLog(): Promise<void>;
}

/**
 * Worker → page, pushed on the same port outside comlink (comlink callbacks would need MessagePorts, which a
 * chrome.runtime port cannot carry): a status on connecting and after every change, log entries once watched.
 */
export type PagePush =
  | { type: 'status'; status: ConnectorStatus }
  /** Log entries (oldest first); `reset`: the whole buffer, replacing what the page has. */
  | { type: 'log'; entries: LogEntry[]; reset: boolean; dropped: number };

/** The port name the connector page uses for its internal connection. */
export const PAGE_PORT_NAME = 'connector-page';

/** A JSON port to the connector's own page (chrome.runtime.Port has this shape). */
export type { LinkPort as PagePort } from '../comlink-port.js';
