/**
 * The connector's state as its pages show it (pages/messages.ts): pure functions from the device manager's entries,
 * the reader watcher's states and the router's connections, so each is tested apart from the worker.
 */
import { describeAtr, parseAtr } from '../ccid/atr.js';
import { SCARD_STATE_EXCLUSIVE, SCARD_STATE_INUSE, SCARD_STATE_MUTE, SCARD_STATE_PRESENT } from '../pcsc/constants.js';
import type { ReaderEntry } from '../usb/device-manager.js';
import type { AppView, HolderView, HostView, ReaderOrigin, ReaderView, SlotView } from './pages/messages.js';
import type { ReaderHolder } from '../pcsc/index.js';
import type { ReaderState } from '../protocol/reader-watcher.js';
import type { HostLinkState } from './host-link.js';
import type { HostBackend, HostBackendChoice } from '../protocol/native.js';
import { DEMO_READER_LABEL } from '../sim/demo.js';
import { hexNumber, toHex } from '../util/hex.js';
import { cleanName } from '../util/sanitize.js';

const hexBytes = (b: Uint8Array) => toHex(b);
const hex4 = (n: number) => hexNumber(n, 4);

/** One PC/SC reader as the daemon last reported it (nothing known: no card). */
export function slotView(name: string, s: ReaderState | undefined, holders?: HolderView[]): SlotView {
  const state = s?.state ?? 0;
  const card = (state & SCARD_STATE_PRESENT) !== 0;
  let atrInfo: string | null = null;
  let protocols: string | null = null;
  const atr = card && s && s.atr.length > 0 ? s.atr : null;
  if (atr) {
    try {
      const parsed = parseAtr(atr);
      atrInfo = describeAtr(parsed);
      protocols = parsed.protocols.map((t) => `T=${t}`).join(', ');
    } catch (e) {
      atrInfo = `cannot be decoded: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  return {
    name,
    card,
    inUse: (state & SCARD_STATE_INUSE) !== 0,
    exclusive: (state & SCARD_STATE_EXCLUSIVE) !== 0,
    mute: (state & SCARD_STATE_MUTE) !== 0,
    atr: atr ? hexBytes(atr) : null,
    atrInfo,
    protocols,
    ...(holders !== undefined ? { holders } : {}),
  };
}

/**
 * The daemon's holders of one reader (PcscDaemon.holders, by client group: the extension id, else the origin) for the
 * window, with each app's name as `nameOf` knows it, cleaned (sanitize.ts); the ones holding the transaction or
 * exclusive access first, as they are the ones others wait for.
 */
export function holderViews(
  holders: readonly ReaderHolder[],
  nameOf: (id: string) => string | undefined,
): HolderView[] {
  const rank = (h: ReaderHolder) => (h.transaction || h.exclusive ? 0 : 1);
  return [...holders]
    .sort((a, b) => rank(a) - rank(b))
    .map((h) => ({
      id: h.group,
      name: cleanName(nameOf(h.group) ?? ''),
      handles: h.handles,
      transaction: h.transaction,
      exclusive: h.exclusive,
    }));
}

/**
 * One USB reader with its PC/SC readers (slots); `state` looks a PC/SC reader up by name, `name` gives the name clients
 * see for the worker daemon's name (the combined reader list may rename a reader whose name the host's readers hold).
 */
export function readerView(
  e: ReaderEntry,
  state: (name: string) => ReaderState | undefined,
  name: (daemonName: string) => string = (n) => n,
  holders?: (daemonName: string) => HolderView[],
): ReaderView {
  const names = e.readerNames.map(name);
  return {
    id: e.id,
    origin: e.simulated && e.label === DEMO_READER_LABEL ? 'demo' : 'browser',
    label: cleanName(e.label, 256),
    usbId: `${hex4(e.vendorId)}:${hex4(e.productId)}`,
    simulated: e.simulated,
    state: e.state,
    reason: e.reason ?? null,
    readerNames: names,
    cards: names.map((n) => ((state(n)?.state ?? 0) & SCARD_STATE_PRESENT) !== 0),
    slots: e.readerNames.map((raw, i) => slotView(names[i]!, state(names[i]!), holders?.(raw))),
  };
}

/** A reader the host serves: one row per PC/SC reader (the host does not tell how its readers group by device). */
export function hostReaderView(
  name: string,
  backend: HostBackend | null,
  state: (name: string) => ReaderState | undefined,
): ReaderView {
  const origin: ReaderOrigin = backend === 'system' ? 'system' : 'own';
  const present = ((state(name)?.state ?? 0) & SCARD_STATE_PRESENT) !== 0;
  return {
    id: `host:${name}`,
    origin,
    label: cleanName(name, 256),
    usbId: '',
    simulated: false,
    state: 'ready',
    reason: null,
    readerNames: [name],
    cards: [present],
    slots: [slotView(name, state(name))],
  };
}

const BACKEND_TEXT: Record<HostBackend, string> = { system: 'system service', own: 'own stack' };

/** The host link's state in words for the window; `now` for the seconds until a retry. */
export function hostView(link: HostLinkState, enabled: boolean, choice: HostBackendChoice, now: number): HostView {
  const view: HostView = {
    enabled,
    choice,
    state: link.state === 'connected' && link.backend === null ? 'no-backend' : link.state,
    text: '',
    detail: null,
    version: null,
    platform: null,
    backend: null,
    backends: null,
    retryInS: null,
    retryAt: null,
    installCommand: null,
    offerOwn: false,
  };
  switch (link.state) {
    case 'off':
      view.text = enabled ? 'Host: not started yet.' : 'Host: off (readers of this browser only).';
      break;
    case 'unavailable':
      view.text = 'Host: native messaging is not available in this browser.';
      view.detail = link.message;
      break;
    case 'starting':
      view.text = link.attempt > 1 ? `Host: starting (attempt ${link.attempt})…` : 'Host: starting…';
      break;
    case 'not-installed':
      view.text = `Host not installed: run \`${link.command}\``;
      view.detail = `Then press “Try again”. From a checkout of the project: \`npm run host -- install\`. (${link.message})`;
      view.installCommand = link.command;
      break;
    case 'connected': {
      view.version = link.version;
      view.platform = link.platform;
      view.backend = link.backend;
      view.backends = {
        system: link.system.detail,
        own: link.own.detail,
        systemAvailable: link.system.available,
        ownAvailable: link.own.available,
      };
      if (link.backend !== null) {
        view.text = `Host ${link.version} on ${link.platform}: connected, readers from its ${BACKEND_TEXT[link.backend]}.`;
        break;
      }
      const wanted: HostBackend = choice === 'own' ? 'own' : 'system';
      const detail = wanted === 'own' ? link.own.detail : link.system.detail;
      view.text =
        wanted === 'system'
          ? `Host ${link.version}: the system's smart card service is not running.`
          : `Host ${link.version}: its own stack is not available.`;
      view.detail = detail;
      view.offerOwn = wanted === 'system' && link.own.available;
      break;
    }
    case 'crashed': {
      const s = Math.max(0, Math.ceil((link.retryAt - now) / 1000));
      view.text = `Host stopped: starting it again in ${s} s.`;
      view.detail = link.message;
      view.retryInS = s;
      view.retryAt = link.retryAt;
      break;
    }
    case 'mismatch':
      view.text = `Host ${link.hostVersion}: version mismatch.`;
      view.detail = link.message;
      break;
  }
  return view;
}

/**
 * The connected apps, one row per client id and name it gave, with its number of open ports. `id`: the extension id,
 * else the origin (web pages), else "unknown"; the name is cleaned for display (sanitize.ts: no controls or
 * bidirectional overrides, at most 128 characters).
 */
export function appViews(
  connections: readonly { sender: { id?: string; origin?: string }; name: string }[],
): AppView[] {
  const apps = new Map<string, AppView>();
  for (const c of connections) {
    const id = c.sender.id ?? c.sender.origin ?? 'unknown';
    const name = cleanName(c.name);
    const key = `${id}\u0000${name}`;
    const app = apps.get(key) ?? { id, name, connections: 0 };
    app.connections++;
    apps.set(key, app);
  }
  return [...apps.values()];
}
