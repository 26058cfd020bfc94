/// <reference types="chrome" />
/**
 * The connector's service worker: it hosts the whole stack (pcsc-lite daemon, CCID driver, router) itself.
 *
 * Why the worker and not an offscreen document: the worker has navigator.usb (getDevices and connect/disconnect
 * events, Chrome 118+) and receives onConnectExternal directly, and an open USB device keeps it alive; an offscreen
 * document would add a relay hop to every APDU. The price: an idle worker stops. Clients keep it alive with their
 * 10 s pings; when it does restart, they see a new instance id in `pong` and learn that their contexts are gone.
 *
 * Every listener is registered synchronously at the top level, as MV3 requires for events that wake the worker.
 */
import { ConnectorService, PAGE_PORT_NAME, type SettingsStore } from './service.js';
import type { UsbLike } from '../usb/device-manager.js';

const settings: SettingsStore = {
  async get(key) {
    const items = await chrome.storage.local.get(key);
    return items[key];
  },
  async set(key, value) {
    await chrome.storage.local.set({ [key]: value });
  },
};

const usb: UsbLike | null = typeof navigator !== 'undefined' && 'usb' in navigator ? (navigator.usb as UsbLike) : null;

export const service = new ConnectorService({
  usb,
  version: chrome.runtime.getManifest().version,
  settings,
  log: (level, message) => {
    const f = level === 'error' ? console.error : level === 'warn' ? console.warn : level === 'info' ? console.info : console.debug;
    f(`[connector] ${message}`);
  },
});

// Client extensions (the public protocol).
chrome.runtime.onConnectExternal.addListener((port) => {
  service.attachClient(port, port.sender ?? {});
});

// The connector's own page (and nothing else of ours).
chrome.runtime.onConnect.addListener((port) => {
  if (port.name === PAGE_PORT_NAME && port.sender?.id === chrome.runtime.id) {
    service.attachPage(port);
  } else {
    port.disconnect();
  }
});

// The toolbar button opens the readers page.
chrome.action.onClicked.addListener(() => {
  void chrome.tabs.create({ url: chrome.runtime.getURL('pages/index.html') });
});

// USB hot-plug listeners go on now, synchronously (inside start(), before its first await).
export const started = service.start().catch((e: unknown) => console.error('[connector] start failed', e));
