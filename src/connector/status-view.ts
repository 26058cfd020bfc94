/**
 * The connector's state as its pages show it (pages/messages.ts): pure functions from the device manager's entries,
 * the reader watcher's states and the router's connections, so each is tested apart from the worker.
 */
import { describeAtr, parseAtr } from '../ccid/atr.js';
import { SCARD_STATE_EXCLUSIVE, SCARD_STATE_INUSE, SCARD_STATE_MUTE, SCARD_STATE_PRESENT } from '../pcsc/constants.js';
import type { ReaderEntry } from '../usb/device-manager.js';
import type { AppView, ReaderView, SlotView } from './pages/messages.js';
import type { ReaderState } from './reader-watcher.js';
import { hexNumber, toHex } from '../util/hex.js';
import { cleanName } from '../util/sanitize.js';

const hexBytes = (b: Uint8Array) => toHex(b);
const hex4 = (n: number) => hexNumber(n, 4);

/** One PC/SC reader as the daemon last reported it (nothing known: no card). */
export function slotView(name: string, s: ReaderState | undefined): SlotView {
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
  };
}

/** One USB reader with its PC/SC readers (slots); `state` looks a PC/SC reader up by name. */
export function readerView(e: ReaderEntry, state: (name: string) => ReaderState | undefined): ReaderView {
  return {
    id: e.id,
    label: cleanName(e.label, 256),
    usbId: `${hex4(e.vendorId)}:${hex4(e.productId)}`,
    simulated: e.simulated,
    state: e.state,
    reason: e.reason ?? null,
    readerNames: [...e.readerNames],
    cards: e.readerNames.map((n) => ((state(n)?.state ?? 0) & SCARD_STATE_PRESENT) !== 0),
    slots: e.readerNames.map((n) => slotView(n, state(n))),
  };
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
