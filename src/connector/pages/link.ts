/// <reference types="chrome" />
/**
 * The pages' link to the worker: a chrome.runtime port named PAGE_PORT_NAME, with the worker's PageService called
 * through comlink (comlink-port.ts) and the status and log pushed on the same port. When the port drops (the worker
 * stopped or restarted) the calls in flight reject, `onGone` runs, and the page decides whether to connect again.
 */
import type { Remote } from 'comlink';
import { onPush, wrapPort } from '../comlink-port.js';
import { PAGE_PORT_NAME, type PagePush, type PageService } from './messages.js';

export interface ServiceLink {
  /** The worker's service: each call resolves with the text to show, or rejects with an Error saying why. */
  service: Remote<PageService>;
  disconnect(): void;
}

export function connectService(handlers: { onPush: (event: PagePush) => void; onGone: () => void }): ServiceLink {
  const port = chrome.runtime.connect({ name: PAGE_PORT_NAME });
  const gone = 'the connector service went away (it restarts by itself); try again';
  const { remote, endpoint } = wrapPort<PageService>(port, gone);
  onPush<PagePush>(port, handlers.onPush);
  port.onDisconnect.addListener(() => {
    void chrome.runtime.lastError;
    handlers.onGone();
  });
  return {
    service: remote,
    disconnect: () => {
      // Chrome tells only the other end: the calls in flight are failed here.
      endpoint.close('disconnected from the connector service');
      port.disconnect();
    },
  };
}
