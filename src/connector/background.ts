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
import { GRANTS_KEY, POLICY_KEY, Permissions, type PromptRequest } from './permissions.js';
import { isConnectorPage } from './page-server.js';

const settings: SettingsStore = {
  async get(key) {
    const items = await chrome.storage.local.get(key);
    return items[key];
  },
  async set(key, value) {
    await chrome.storage.local.set({ [key]: value });
  },
};

/** Open prompt windows: window id → client id (closing one unanswered leaves the request pending in the window). */
const promptWindows = new Map<number, string>();
const PROMPT_PAGE = chrome.runtime.getURL('pages/prompt.html');

/**
 * Prompt windows a previous instance of this worker opened and that are still open (a worker restart forgets
 * promptWindows): found through chrome.runtime.getContexts, so a request asked again reuses its window instead of
 * opening a second one, and closing it is still noticed.
 */
async function adoptOpenPrompts(): Promise<void> {
  if (typeof chrome.runtime.getContexts !== 'function') return;
  try {
    const contexts = await chrome.runtime.getContexts({ contextTypes: ['TAB'] });
    for (const c of contexts) {
      if (!c.documentUrl?.startsWith(PROMPT_PAGE) || c.windowId < 0) continue;
      const id = new URL(c.documentUrl).searchParams.get('id');
      if (id && !promptWindows.has(c.windowId)) promptWindows.set(c.windowId, id);
    }
  } catch {
    /* nothing to adopt */
  }
}
const adopted = adoptOpenPrompts();

async function openPrompt(request: PromptRequest): Promise<void> {
  await adopted;
  for (const [windowId, id] of promptWindows) {
    if (id === request.id) {
      await chrome.windows.update(windowId, { focused: true }).catch(() => promptWindows.delete(windowId));
      if (promptWindows.has(windowId)) return;
    }
  }
  const url = chrome.runtime.getURL(`pages/prompt.html?id=${encodeURIComponent(request.id)}`);
  const w = await chrome.windows.create({ url, type: 'popup', width: 480, height: 460, focused: true });
  if (w?.id !== undefined) promptWindows.set(w.id, request.id);
}

const permissions = new Permissions({
  store: {
    async load() {
      return (await chrome.storage.local.get(GRANTS_KEY))[GRANTS_KEY] as never;
    },
    async save(grants) {
      await chrome.storage.local.set({ [GRANTS_KEY]: grants });
    },
  },
  openPrompt,
  initialPolicy: chrome.storage.managed.get(POLICY_KEY).then((items) => items[POLICY_KEY]),
  log: (level, message) => service.logs.add(level, 'permissions', message),
  // chrome.management needs the "management" permission, which the release build does without (it would add an
  // install warning); the test build has it. Without it the prompt shows the id and the name the client gave.
  lookupName: async (id) => {
    if (typeof chrome.management?.get !== 'function') return null;
    try {
      return (await chrome.management.get(id)).name;
    } catch {
      return null;
    }
  },
});

const usb: UsbLike | null = typeof navigator !== 'undefined' && 'usb' in navigator ? navigator.usb : null;

export const service = new ConnectorService({
  usb,
  version: chrome.runtime.getManifest().version,
  settings,
  permissions,
  // The link to smart-card-host: one native port for the whole worker (each connectNative starts a host process).
  ...(typeof chrome.runtime.connectNative === 'function'
    ? {
        connectNative: (name: string) => chrome.runtime.connectNative(name),
        nativeLastError: () => chrome.runtime.lastError?.message,
      }
    : {}),
  // Everything is in the window's log (a ring buffer); the console gets warnings and errors only.
  log: (level, message) => {
    if (level === 'error') console.error(`[connector] ${message}`);
    else if (level === 'warn') console.warn(`[connector] ${message}`);
  },
});

// The prompt window closed: answered (nothing left to do) or closed unanswered, by the user or by another extension
// (any extension can close any window): not an answer, the request stays pending in the connector's window.
chrome.windows.onRemoved.addListener((windowId) => {
  const id = promptWindows.get(windowId);
  if (id === undefined) return;
  promptWindows.delete(windowId);
  permissions.dismiss(id);
});

// Administrator policy (read at start: initialPolicy above) followed live; grants changed by another of our pages (or a test) are re-read.
chrome.storage.onChanged.addListener((changes, area) => {
  if (area === 'managed' && POLICY_KEY in changes) permissions.setPolicy(changes[POLICY_KEY]?.newValue);
  if (area === 'local' && GRANTS_KEY in changes) void permissions.reload();
});

// Client extensions (the public protocol).
chrome.runtime.onConnectExternal.addListener((port) => {
  service.attachClient(port, port.sender ?? {});
});

// The connector's own pages (its window, the prompt) get the trusted comlink link; nothing else does (a content script
// carries our id but a web page's URL). Other extensions only ever come in through onConnectExternal above.
chrome.runtime.onConnect.addListener((port) => {
  if (port.name === PAGE_PORT_NAME && isConnectorPage(port.sender, chrome.runtime.id)) {
    service.attachPage(port);
  } else {
    port.disconnect();
  }
});

// Requests waiting for the user's answer are counted on the toolbar button (they are listed in its window).
/** The count this worker put on the button; null until it first did (a previous worker may have left one). */
let badge: number | null = null;
function showPendingBadge(reset = false): void {
  const n = permissions.pending.length;
  // Setting the badge to what it shows is skipped; so is clearing it during the start-up (below).
  if (n === badge || (badge === null && n === 0 && !reset)) return;
  badge = n;
  void chrome.action.setBadgeText({ text: n > 0 ? String(n) : '' }).catch(() => {});
  if (n > 0) void chrome.action.setBadgeBackgroundColor({ color: '#b00020' }).catch(() => {});
  void chrome.action
    .setTitle({ title: n > 0 ? `Smart card readers: ${n} app(s) waiting for your answer` : 'Smart card readers' })
    .catch(() => {});
}
permissions.onChange(() => showPendingBadge());

// The toolbar button opens the readers page.
chrome.action.onClicked.addListener(() => {
  void chrome.tabs.create({ url: chrome.runtime.getURL('pages/index.html') });
});

// USB hot-plug listeners go on now, synchronously (inside start(), before its first await).
export const started = service.start().catch((e: unknown) => console.error('[connector] start failed', e));

// A count a previous worker left on the button is cleared once the start-up is over, not during it: chrome.action's
// first use sets up its bindings (~10 ms of the worker's thread), which a woken worker's first call would wait behind.
const BADGE_RESET_DELAY_MS = 500;
void started.then(() => setTimeout(() => showPendingBadge(true), BADGE_RESET_DELAY_MS));
