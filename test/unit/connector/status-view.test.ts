/**
 * The pages' view of the connector's state: a PC/SC reader's card and ATR as shown, a USB reader with its slots, and
 * the connected apps counted per client from the router's connections.
 */
import { describe, expect, it } from 'vitest';
import {
  appViews,
  holderViews,
  hostReaderView,
  hostView,
  readerView,
  slotView,
} from '../../../src/connector/status-view.js';
import { holderSummary } from '../../../src/connector/pages/messages.js';
import { DEMO_READER_LABEL } from '../../../src/sim/demo.js';
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

describe('where readers come from', () => {
  const entry = (label: string, simulated: boolean): ReaderEntry => ({
    id: 'r1',
    label,
    vendorId: 0x08e6,
    productId: 0x3437,
    simulated,
    state: 'ready',
    readerNames: ['Gemalto PC Twin Reader 00 00'],
  });

  it('the demo reader, a USB reader of this browser, and the names clients see for them', () => {
    expect(readerView(entry(DEMO_READER_LABEL, true), () => undefined).origin).toBe('demo');
    const usb = readerView(
      entry('Gemalto GemPC Twin', false),
      () => undefined,
      () => 'Gemalto PC Twin Reader 01 00',
    );
    expect(usb.origin).toBe('browser');
    expect(usb.readerNames).toEqual(['Gemalto PC Twin Reader 01 00']);
    expect(usb.slots[0]!.name).toBe('Gemalto PC Twin Reader 01 00');
  });

  it("a host's reader: from its system service or its own stack, with its card", () => {
    const states = new Map([['R 00 00', { state: SCARD_STATE_PRESENT, atr: ATR }]]);
    const sys = hostReaderView('R 00 00', 'system', (n) => states.get(n));
    expect(sys).toMatchObject({ id: 'host:R 00 00', origin: 'system', usbId: '', state: 'ready', cards: [true] });
    expect(sys.slots[0]!.atr).toBe('3B 8A 80 01 48 65 6C 6C 6F 20 63 61 72 64 7E');
    expect(hostReaderView('R 00 00', 'own', () => undefined)).toMatchObject({ origin: 'own', cards: [false] });
  });
});

describe('hostView', () => {
  const backends = {
    system: { available: false, detail: 'pcscd is not running' },
    own: { available: true, detail: 'own stack, 1 reader' },
  };

  it('off, starting, unavailable', () => {
    expect(hostView({ state: 'off' }, false, 'auto', 0)).toMatchObject({
      state: 'off',
      enabled: false,
      text: 'Host: off (readers of this browser only).',
    });
    expect(hostView({ state: 'starting', attempt: 1 }, true, 'auto', 0).text).toBe('Host: starting…');
    expect(hostView({ state: 'starting', attempt: 3 }, true, 'auto', 0).text).toBe('Host: starting (attempt 3)…');
    expect(hostView({ state: 'unavailable', message: 'no API' }, true, 'auto', 0)).toMatchObject({
      state: 'unavailable',
      detail: 'no API',
    });
  });

  it('not installed: the one command that installs it', () => {
    const v = hostView(
      {
        state: 'not-installed',
        message: 'Specified native messaging host not found.',
        command: 'smart-card-host install',
      },
      true,
      'auto',
      0,
    );
    expect(v.text).toBe('Host not installed: run `smart-card-host install`');
    expect(v.installCommand).toBe('smart-card-host install');
    expect(v.detail).toMatch(/Try again/);
  });

  it('connected: version, platform and the backend serving', () => {
    const v = hostView(
      { state: 'connected', version: '0.2.0', platform: 'linux-x64', backend: 'own', ...backends },
      true,
      'auto',
      0,
    );
    expect(v).toMatchObject({ state: 'connected', version: '0.2.0', platform: 'linux-x64', backend: 'own' });
    expect(v.text).toBe('Host 0.2.0 on linux-x64: connected, readers from its own stack.');
    expect(v.backends).toEqual({
      system: 'pcscd is not running',
      own: 'own stack, 1 reader',
      systemAvailable: false,
      ownAvailable: true,
    });
    expect(v.offerOwn).toBe(false);
  });

  it('system service not running: says so and offers the own stack (only when there is one)', () => {
    const v = hostView(
      { state: 'connected', version: '0.2.0', platform: 'linux-x64', backend: null, ...backends },
      true,
      'system',
      0,
    );
    expect(v.state).toBe('no-backend');
    expect(v.text).toBe("Host 0.2.0: the system's smart card service is not running.");
    expect(v.detail).toBe('pcscd is not running');
    expect(v.offerOwn).toBe(true);
    const noOwn = hostView(
      {
        state: 'connected',
        version: '0.2.0',
        platform: 'linux-x64',
        backend: null,
        system: backends.system,
        own: { available: false, detail: 'node-usb is missing' },
      },
      true,
      'system',
      0,
    );
    expect(noOwn.offerOwn).toBe(false);
  });

  it('crashed: retrying in N s, counted from now', () => {
    const v = hostView(
      { state: 'crashed', message: 'Native host has exited.', retryInMs: 4000, retryAt: 10_000, failures: 3 },
      true,
      'auto',
      7_500,
    );
    expect(v).toMatchObject({ state: 'crashed', retryInS: 3, retryAt: 10_000, detail: 'Native host has exited.' });
    expect(v.text).toBe('Host stopped: starting it again in 3 s.');
  });

  it('version mismatch: the message says which side to update', () => {
    const v = hostView(
      { state: 'mismatch', message: 'update the connector', hostProtocol: 2, hostVersion: '3.0.0' },
      true,
      'auto',
      0,
    );
    expect(v).toMatchObject({
      state: 'mismatch',
      text: 'Host 3.0.0: version mismatch.',
      detail: 'update the connector',
    });
  });
});

describe('holders', () => {
  const A = 'fhjfogpingjmigcfkipfiefoebccegbj';
  const B = 'gcfbioddjpfnegbamejphmfbhcakhcki';
  const held = [
    { group: B, handles: 2, transaction: false, exclusive: false },
    { group: A, handles: 3, transaction: true, exclusive: true },
  ];

  it('names each holder by id with its cleaned name, the one others wait for first', () => {
    const names = new Map([[A, 'Evil\u202e app\n']]);
    expect(holderViews(held, (id) => names.get(id))).toEqual([
      { id: A, name: 'Evil app', handles: 3, transaction: true, exclusive: true },
      { id: B, name: '', handles: 2, transaction: false, exclusive: false },
    ]);
    expect(holderViews([], () => 'x')).toEqual([]);
  });

  it('puts them in words: handles, transaction, exclusive', () => {
    const [a, b] = holderViews(held, () => undefined);
    expect(holderSummary(a!)).toBe('3 handles, transaction, exclusive');
    expect(holderSummary(b!)).toBe('2 handles');
    expect(holderSummary({ ...b!, handles: 1, transaction: true })).toBe('1 handle, transaction');
  });

  it("goes under each of the worker's readers by its daemon name, and nowhere on the host's", () => {
    const entry: ReaderEntry = {
      id: 'd1',
      label: 'Demo',
      vendorId: 0x8e6,
      productId: 0x3437,
      simulated: true,
      state: 'ready',
      readerNames: ['A 00 00', 'A 00 01'],
    };
    const byReader = new Map([['A 00 01', holderViews(held, () => undefined)]]);
    const v = readerView(
      entry,
      () => undefined,
      (n) => `${n} (renamed)`,
      (n) => byReader.get(n) ?? [],
    );
    expect(v.slots.map((s) => [s.name, s.holders?.map((h) => h.id)])).toEqual([
      ['A 00 00 (renamed)', []],
      ['A 00 01 (renamed)', [A, B]],
    ]);
    expect(readerView(entry, () => undefined).slots[0]).not.toHaveProperty('holders');
    expect(hostReaderView('Host R', 'system', () => undefined).slots[0]).not.toHaveProperty('holders');
  });
});
