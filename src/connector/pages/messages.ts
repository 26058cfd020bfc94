import type { ReaderEntryState } from '../../usb/device-manager.js';

/**
 * What passes between the connector's page and its worker (JSON only: it crosses a chrome.runtime port). Kept apart
 * from service.ts so that the page bundle does not pull the daemon in.
 */

/** One reader row of the page. */
export interface ReaderView {
  id: string;
  label: string;
  /** "08E6:3437" */
  usbId: string;
  simulated: boolean;
  state: ReaderEntryState;
  reason: string | null;
  readerNames: string[];
  /** Whether each of readerNames holds a card (as the daemon last reported). */
  cards: boolean[];
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
}

/** Page → worker. */
export type PageRequest =
  | { type: 'set-demo-reader'; on: boolean }
  /** After navigator.usb.requestDevice() on the page: open what getDevices() now lists. */
  | { type: 'pick-up-devices' }
  | { type: 'retry'; id: string };

/** Worker → page. */
export type PageMessage =
  | { type: 'status'; status: ConnectorStatus }
  | { type: 'done'; request: PageRequest['type']; ok: boolean; message: string };

/** The port name the connector page uses for its internal connection. */
export const PAGE_PORT_NAME = 'connector-page';

/** A JSON port to the connector's own page (chrome.runtime.Port has this shape). */
export interface PagePort {
  postMessage(message: unknown): void;
  onMessage: { addListener(listener: (message: unknown) => void): void };
  onDisconnect: { addListener(listener: () => void): void };
}

