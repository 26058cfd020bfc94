/**
 * The pages' view of the connector's state: a PC/SC reader's card and ATR as shown, a USB reader with its slots, and
 * the connected apps counted per client from the router's connections.
 */
import { describe, expect, it } from 'vitest';
import { appViews, readerView, slotView } from '../../../src/connector/status-view.js';
import { describeAtr, parseAtr } from '../../../src/ccid/atr.js';
import {
  SCARD_STATE_EMPTY,
  SCARD_STATE_EXCLUSIVE,
  SCARD_STATE_INUSE,
  SCARD_STATE_MUTE,
  SCARD_STATE_PRESENT,
} from '../../../src/pcsc/constants.js';
import type { ReaderEntry } from '../../../src/usb/device-manager.js';

// The hello-world card's ATR (T=1).
const ATR = Uint8Array.of(0x3b, 0x8a, 0x80, 0x01, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x63, 0x61, 0x72, 0x64, 0x7e);

describe('slotView', () => {
  it('a reader never seen, or empty: no card, nothing decoded', () => {
    const none = {
      name: 'R',
      card: false,
      inUse: false,
      exclusive: false,
      mute: false,
      atr: null,
      atrInfo: null,
      protocols: null,
    };
    expect(slotView('R', undefined)).toEqual(none);
    expect(slotView('R', { state: SCARD_STATE_EMPTY, atr: new Uint8Array(0) })).toEqual(none);
  });

  it('a card: its ATR in hex, decoded in short, its protocols, and who holds it', () => {
    const v = slotView('R', { state: SCARD_STATE_PRESENT | SCARD_STATE_INUSE | SCARD_STATE_EXCLUSIVE, atr: ATR });
    expect(v).toMatchObject({ card: true, inUse: true, exclusive: true, mute: false });
    expect(v.atr).toBe('3B 8A 80 01 48 65 6C 6C 6F 20 63 61 72 64 7E');
    expect(v.atrInfo).toBe(describeAtr(parseAtr(ATR)));
    expect(v.protocols).toBe(
      parseAtr(ATR)
        .protocols.map((t) => `T=${t}`)
        .join(', '),
    );
  });

  it('an ATR that cannot be decoded says why; a mute card has no ATR', () => {
    const bad = slotView('R', { state: SCARD_STATE_PRESENT, atr: Uint8Array.of(0x12, 0x34) });
    expect(bad.atr).toBe('12 34');
    expect(bad.atrInfo).toMatch(/^cannot be decoded: invalid ATR: TS is 0x12/);
    expect(bad.protocols).toBeNull();
    const mute = slotView('R', { state: SCARD_STATE_PRESENT | SCARD_STATE_MUTE, atr: new Uint8Array(0) });
    expect(mute).toMatchObject({ card: true, mute: true, atr: null, atrInfo: null });
  });
});

describe('readerView', () => {
  it('shows the USB ids in hex and each slot as the watcher last saw it', () => {
    const entry: ReaderEntry = {
      id: 'd1',
      label: 'Demo',
      vendorId: 0x8e6,
      productId: 0x3437,
      simulated: true,
      state: 'ready',
      readerNames: ['A 00 00', 'A 00 01'],
    };
    const states = new Map([['A 00 01', { state: SCARD_STATE_PRESENT, atr: ATR }]]);
    const v = readerView(entry, (n) => states.get(n));
    expect(v).toMatchObject({ id: 'd1', label: 'Demo', usbId: '08E6:3437', simulated: true, reason: null });
    expect(v.state).toBe('ready');
    expect(v.readerNames).toEqual(['A 00 00', 'A 00 01']);
    expect(v.cards).toEqual([false, true]);
    expect(v.slots.map((s) => s.card)).toEqual([false, true]);
    const failed = { ...entry, state: 'failed' as const, reason: 'it broke', readerNames: [] };
    expect(readerView(failed, () => undefined)).toMatchObject({
      reason: 'it broke',
      cards: [],
      slots: [],
    });
  });
});

describe('appViews', () => {
  it('one row per client id and name with its number of ports; origin or "unknown" when there is no id', () => {
    const A = 'a'.repeat(32);
    const rows = appViews([
      { sender: { id: A }, name: 'App' },
      { sender: { id: A }, name: 'App' },
      { sender: { id: A }, name: 'Other tab' },
      { sender: { origin: 'https://example.com' }, name: '' },
      { sender: {}, name: 'x'.repeat(300) },
    ]);
    expect(rows).toEqual([
      { id: A, name: 'App', connections: 2 },
      { id: A, name: 'Other tab', connections: 1 },
      { id: 'https://example.com', name: '', connections: 1 },
      { id: 'unknown', name: `${'x'.repeat(127)}…`, connections: 1 },
    ]);
    expect(appViews([])).toEqual([]);
  });
});
