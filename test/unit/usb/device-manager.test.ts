/**
 * The device manager over SimulatedUsb and simulated CCID readers, with a fake daemon of PcscDaemon's shape: granted
 * devices at start, hot-plug and unplug by events, Chrome's protected-class refusal, non-readers, open failures and
 * retries, unplug in the middle of opening, the 16-reader limit, duplicate events, stop, and the demo reader.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CcidReaderOptions } from '../../../src/ccid/reader.js';
import { CcidReader } from '../../../src/ccid/reader.js';
import { createDemoReader, DEMO_READER_LABEL } from '../../../src/sim/demo.js';
import { SimulatedUsb } from '../../../src/usb/simulated-usb.js';
import {
  ACR1252_DUAL,
  SimulatedCompositeDevice,
  createSimulatedReader,
  PROFILES,
  type ProfileId,
  type SimulatedReader,
} from '../../../src/sim/index.js';
import { UsbDeviceManager, type ReaderEntry, type UsbLogLevel } from '../../../src/usb/device-manager.js';
import {
  BUSY_EXPLANATION,
  PROTECTED_CLASS_EXPLANATION,
  TOO_MANY_READERS_EXPLANATION,
} from '../../../src/usb/errors.js';
import { FakeDaemon, GadgetDevice, gate, settle, until, waitForEntries } from './helpers.js';

const DRIVER: CcidReaderOptions = { timeoutScale: 0.01, pollIntervalMs: 5 };

interface Setup {
  usb: SimulatedUsb;
  daemon: FakeDaemon;
  manager: UsbDeviceManager;
  logs: { level: UsbLogLevel; message: string }[];
}

const managers: UsbDeviceManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
});

function setup(): Setup {
  const usb = new SimulatedUsb();
  const daemon = new FakeDaemon();
  const logs: Setup['logs'] = [];
  const manager = new UsbDeviceManager(usb, daemon, {
    driver: DRIVER,
    log: (level, message) => logs.push({ level, message }),
  });
  managers.push(manager);
  return { usb, daemon, manager, logs };
}

function reader(profile: ProfileId = 'gempc-twin', serialNumber?: string): SimulatedReader {
  return createSimulatedReader(profile, serialNumber === undefined ? {} : { serialNumber });
}

/** Makes claimInterface reject with `error` (once, or every time). */
function refuseClaim(device: SimulatedReader, error: () => Error, times = Infinity): { calls: number } {
  const original = device.claimInterface.bind(device);
  const counter = { calls: 0 };
  device.claimInterface = async (n: number) => {
    counter.calls++;
    if (counter.calls <= times) throw error();
    return original(n);
  };
  return counter;
}

const protectedClass = () => new DOMException('The requested interface implements a protected class.', 'SecurityError');
const busy = () => new DOMException('Unable to claim interface.', 'NetworkError');

const states = (entries: readonly ReaderEntry[]) => entries.map((e) => e.state);

describe('start', () => {
  it('opens every granted device, ignores ungranted ones, and hands the readers to the daemon', async () => {
    const { usb, daemon, manager } = setup();
    const twin = reader('gempc-twin', 'TWIN-1');
    const vendor = reader('vendor-class');
    const stranger = reader('short-apdu');
    usb.plug(twin);
    usb.plug(vendor);
    usb.plug(stranger, { granted: false });

    await manager.start();

    const entries = manager.entries;
    expect(states(entries)).toEqual(['ready', 'ready']);
    expect(daemon.readers.size).toBe(2);
    const [a, b] = entries;
    expect(a).toMatchObject({ vendorId: 0x08e6, productId: 0x3437, serialNumber: 'TWIN-1', simulated: false });
    expect(a!.readerNames).toEqual(daemon.readers.get(daemon.addCalls[0]!));
    expect(a!.readerNames[0]).toMatch(/ 00 00$/);
    expect(a!.label).toBe(daemon.addCalls[0]!.friendlyName);
    expect(b!.serialNumber).toBeUndefined();
    expect(a!.reason).toBeUndefined();
    expect(new Set(entries.map((e) => e.id)).size).toBe(2);
    expect(stranger.opened).toBe(false);
    expect(twin.opened && vendor.opened).toBe(true);
  });

  it('survives a getDevices that rejects (node-usb without a USB bus) and still hears hot-plug', async () => {
    const { daemon, logs } = setup();
    const usb = new SimulatedUsb();
    usb.getDevices = () => Promise.reject(new Error('LIBUSB_ERROR_OTHER'));
    const manager = new UsbDeviceManager(usb, daemon, {
      driver: DRIVER,
      log: (level, message) => logs.push({ level, message }),
    });
    managers.push(manager);
    await manager.start();
    expect(logs.some((l) => l.level === 'warn' && l.message.includes('LIBUSB_ERROR_OTHER'))).toBe(true);
    usb.plug(reader());
    await waitForEntries(manager, (e) => e[0]?.state === 'ready');
  });

  it('is idempotent: a second start adds no second listener', async () => {
    const { usb, daemon, manager } = setup();
    await manager.start();
    await manager.start();
    usb.plug(reader());
    await waitForEntries(manager, (e) => e[0]?.state === 'ready');
    await settle();
    expect(daemon.addCalls).toHaveLength(1);
  });
});

describe('hot-plug', () => {
  it('a connect event opens the reader; a disconnect marks it removed, takes it out of the daemon and drops the entry', async () => {
    const { usb, daemon, manager } = setup();
    await manager.start();
    expect(manager.entries).toEqual([]);

    const twin = reader();
    usb.plug(twin);
    expect(states(manager.entries)).toEqual(['opening']);
    const [entry] = await waitForEntries(manager, (e) => e[0]?.state === 'ready');
    expect(daemon.readerNames).toEqual(entry!.readerNames);
    const ifd = daemon.addCalls[0] as CcidReader;
    expect(ifd).toBeInstanceOf(CcidReader);
    let removedFired = 0;
    ifd.onRemoved(() => removedFired++);

    twin.unplug();
    // The entry goes at once, and the reader fails fast from the same moment.
    expect(manager.entries).toEqual([]);
    expect(ifd.removed).toBe(true);
    expect(removedFired).toBe(1);
    await settle();
    expect(daemon.removeCalls).toEqual([ifd]);
    expect(daemon.readers.size).toBe(0);
  });

  it('reports every change to onChange listeners, and a throwing listener breaks nothing', async () => {
    const { usb, manager, logs } = setup();
    const seen: string[][] = [];
    manager.onChange(() => {
      throw new Error('listener bug');
    });
    const off = manager.onChange((entries) => seen.push(states(entries)));
    await manager.start();
    const twin = reader();
    usb.plug(twin);
    await waitForEntries(manager, (e) => e[0]?.state === 'ready');
    twin.unplug();
    expect(seen).toEqual([['opening'], ['ready'], []]);
    expect(logs.some((l) => l.level === 'error' && l.message.includes('listener bug'))).toBe(true);
    off();
    usb.plug(reader());
    await waitForEntries(manager, (e) => e[0]?.state === 'ready');
    expect(seen).toHaveLength(3);
  });

  it('a two-slot reader lists both slot names', async () => {
    const { usb, manager } = setup();
    await manager.start();
    usb.plug(reader('two-slot'));
    const [entry] = await waitForEntries(manager, (e) => e[0]?.state === 'ready');
    expect(entry!.readerNames).toHaveLength(2);
    expect(entry!.readerNames[1]).toMatch(/ 01$/);
  });
});

describe("Chrome's protected interface class", () => {
  it('a class-0x0B reader whose claim is refused is listed as blocked with the explanation, not added, and closed', async () => {
    const { usb, daemon, manager } = setup();
    await manager.start();
    const twin = reader();
    const claims = refuseClaim(twin, protectedClass);
    usb.plug(twin);
    const [entry] = await waitForEntries(manager, (e) => e[0]?.state === 'blocked');
    expect(entry!.reason).toBe(PROTECTED_CLASS_EXPLANATION);
    expect(entry!.readerNames).toEqual([]);
    expect(entry!.label).toBe('Gemplus USB SmartCard Reader');
    expect(daemon.addCalls).toEqual([]);
    expect(twin.opened).toBe(false);
    expect(claims.calls).toBe(1);

    // Blocked is final for this device: a repeated connect does not hammer claimInterface.
    usb.emit('connect', twin);
    await settle();
    expect(claims.calls).toBe(1);
    expect(states(manager.entries)).toEqual(['blocked']);

    // It still goes away when unplugged.
    twin.unplug();
    expect(manager.entries).toEqual([]);
  });

  it('the explanation says why and what works instead, in plain words', () => {
    const text = PROTECTED_CLASS_EXPLANATION;
    expect(text).toMatch(/Chrome/);
    expect(text).toMatch(/0x0B/);
    expect(text).toMatch(/vendor-specific interface \(class 0xFF\)/);
    expect(text).toMatch(/pcscd/);
    expect(text).toMatch(/Windows/);
    expect(text).toMatch(/macOS/);
    expect(text).toMatch(/ChromeOS/);
    expect(text).not.toMatch(/SecurityError|IFD_|claimInterface/);
  });

  it('addDevice (after requestDevice) resolves with the blocked entry', async () => {
    const { daemon, manager } = setup();
    const twin = reader();
    refuseClaim(twin, protectedClass);
    const entry = await manager.addDevice(twin);
    expect(entry).toMatchObject({ state: 'blocked', reason: PROTECTED_CLASS_EXPLANATION });
    expect(daemon.addCalls).toEqual([]);
    expect(twin.opened).toBe(false);
  });
});

describe('devices that are not smart card readers', () => {
  it('a HID device is ignored quietly, without being opened', async () => {
    const { usb, manager, logs } = setup();
    const keyboard = new GadgetDevice(0x03);
    usb.plug(keyboard.asDevice());
    await manager.start();
    expect(manager.entries).toEqual([]);
    expect(keyboard.openCount).toBe(0);
    expect(await manager.addDevice(keyboard.asDevice())).toBeUndefined();
    expect(logs.filter((l) => l.level !== 'debug')).toEqual([]);
  });

  it('a vendor-class gadget without a CCID descriptor is probed, closed again and dropped quietly', async () => {
    const { usb, daemon, manager, logs } = setup();
    await manager.start();
    const gadget = new GadgetDevice(0xff);
    const seen: number[] = [];
    manager.onChange((e) => seen.push(e.length));
    usb.plug(gadget.asDevice());
    await waitForEntries(manager, (e) => e.length === 0 && seen.length >= 2);
    expect(gadget.openCount).toBe(1);
    expect(gadget.opened).toBe(false);
    expect(daemon.addCalls).toEqual([]);
    expect(logs.filter((l) => l.level !== 'debug')).toEqual([]);
    expect(await manager.addDevice(gadget.asDevice())).toBeUndefined();
  });
});

describe('open failures', () => {
  it('a busy reader is failed with the reason and closed; a reconnect (new device object) succeeds', async () => {
    const { usb, daemon, manager } = setup();
    await manager.start();
    const first = reader();
    refuseClaim(first, busy);
    usb.plug(first);
    const [failed] = await waitForEntries(manager, (e) => e[0]?.state === 'failed');
    expect(failed!.reason).toBe(BUSY_EXPLANATION);
    expect(first.opened).toBe(false);
    expect(daemon.addCalls).toEqual([]);

    first.unplug();
    expect(manager.entries).toEqual([]);
    usb.plug(reader());
    await waitForEntries(manager, (e) => e.length === 1 && e[0]!.state === 'ready');
    expect(daemon.readers.size).toBe(1);
  });

  it('a failed device is retried by a later connect event for the same device', async () => {
    const { usb, manager } = setup();
    await manager.start();
    const twin = reader();
    const claims = refuseClaim(twin, busy, 1);
    usb.plug(twin);
    const [failed] = await waitForEntries(manager, (e) => e[0]?.state === 'failed');
    usb.emit('connect', twin);
    const [ready] = await waitForEntries(manager, (e) => e[0]?.state === 'ready');
    expect(ready!.id).toBe(failed!.id);
    expect(ready!.reason).toBeUndefined();
    expect(claims.calls).toBe(2);
  });

  it('retry(id) tries a failed entry again; addDevice on a failed device retries too', async () => {
    const { usb, manager } = setup();
    await manager.start();
    const twin = reader();
    refuseClaim(twin, busy, 2);
    usb.plug(twin);
    const [failed] = await waitForEntries(manager, (e) => e[0]?.state === 'failed');
    expect((await manager.retry(failed!.id))?.state).toBe('failed');
    expect((await manager.addDevice(twin))?.state).toBe('ready');
    expect(await manager.retry('usb-unknown')).toBeUndefined();
  });

  it('a claim error without a DOMException name still gives a failed entry with the driver message', async () => {
    const { usb, manager } = setup();
    await manager.start();
    const twin = reader();
    refuseClaim(twin, () => new Error('LIBUSB_ERROR_BUSY'));
    usb.plug(twin);
    const [failed] = await waitForEntries(manager, (e) => e[0]?.state === 'failed');
    expect(failed!.reason).toMatch(/^Could not claim interface 0 of the reader/);
    expect(failed!.reason).toMatch(/LIBUSB_ERROR_BUSY/);
    expect(failed!.reason).toMatch(/plug it in again/);
    expect(twin.opened).toBe(false);
  });

  it('a reader that never answers is failed and closed', async () => {
    const { usb, manager } = setup();
    await manager.start();
    const twin = reader();
    twin.transferIn = () => new Promise(() => {});
    usb.plug(twin);
    const [failed] = await waitForEntries(manager, (e) => e[0]?.state === 'failed');
    expect(failed!.reason).toBeTruthy();
    expect(twin.opened).toBe(false);
  });
});

describe('unplugged while opening', () => {
  it('during claimInterface: the entry goes at once, nothing reaches the daemon, no error escapes', async () => {
    const { usb, daemon, manager } = setup();
    await manager.start();
    const twin = reader();
    const g = gate();
    const original = twin.claimInterface.bind(twin);
    twin.claimInterface = async (n) => {
      await g.promise;
      return original(n);
    };
    usb.plug(twin);
    await settle();
    expect(states(manager.entries)).toEqual(['opening']);
    twin.unplug();
    expect(manager.entries).toEqual([]);
    g.open();
    await settle();
    await settle();
    expect(manager.entries).toEqual([]);
    expect(daemon.addCalls).toEqual([]);
  });

  it('while the daemon adds it: the reader is marked removed and taken out of the daemon once added', async () => {
    const { usb, daemon, manager } = setup();
    await manager.start();
    const g = gate();
    daemon.gate = g.promise;
    const twin = reader();
    usb.plug(twin);
    await until(() => daemon.addCalls.length === 1);
    const ifd = daemon.addCalls[0] as CcidReader;
    twin.unplug();
    expect(manager.entries).toEqual([]);
    expect(ifd.removed).toBe(true);
    g.open();
    await settle();
    expect(daemon.removeCalls).toEqual([ifd]);
    expect(daemon.readers.size).toBe(0);
  });

  it('removeDevice while the daemon adds it: taken out again and the device closed', async () => {
    const { usb, daemon, manager } = setup();
    await manager.start();
    const g = gate();
    daemon.gate = g.promise;
    const twin = reader();
    usb.plug(twin);
    await until(() => daemon.addCalls.length === 1);
    const removal = manager.removeDevice(twin);
    expect(manager.entries).toEqual([]);
    g.open();
    await removal;
    expect(daemon.readers.size).toBe(0);
    expect(twin.opened).toBe(false);
  });
});

describe('the daemon limit', () => {
  it('the 17th reader is failed with the limit explained, its device closed; freeing a place and retrying works', async () => {
    const { usb, daemon, manager } = setup();
    const devices = Array.from({ length: 17 }, (_, i) => reader('gempc-twin', `SN${i}`));
    for (const d of devices) usb.plug(d);
    await manager.start();
    const entries = manager.entries;
    expect(entries).toHaveLength(17);
    expect(states(entries.slice(0, 16))).toEqual(Array(16).fill('ready'));
    // Which one loses the race is up to the daemon; with one slot each, exactly one fails.
    expect(entries.filter((e) => e.state === 'failed')).toHaveLength(1);
    const loser = entries.find((e) => e.state === 'failed')!;
    expect(loser.reason).toBe(TOO_MANY_READERS_EXPLANATION);
    expect(loser.readerNames).toEqual([]);
    const loserDevice = devices.find((d) => d.serialNumber === loser.serialNumber)!;
    expect(loserDevice.opened).toBe(false);
    expect(daemon.readers.size).toBe(16);

    const victim = devices.find((d) => d !== loserDevice)!;
    victim.unplug();
    await settle();
    expect((await manager.retry(loser.id))?.state).toBe('ready');
    expect(daemon.readers.size).toBe(16);
  });
});

describe('composite devices', () => {
  it('one entry, one reader per CCID interface; one the daemon has no room for is closed', async () => {
    const { usb, daemon, manager } = setup();
    const devices = Array.from({ length: 15 }, (_, i) => reader('gempc-twin', `SN${i}`));
    for (const d of devices) usb.plug(d);
    await manager.start();
    expect(daemon.readers.size).toBe(15);
    const dual = new SimulatedCompositeDevice(ACR1252_DUAL);
    usb.plug(dual);
    const entry = await manager.addDevice(dual);
    // The PICC interface takes the 16th place; the SAM interface is refused and closed, the device stays open.
    expect(entry).toMatchObject({ state: 'ready', readerNames: ['ACS ACR1252 Dual Reader 0F 00'] });
    expect(daemon.readers.size).toBe(16);
    expect(dual.opened).toBe(true);
    const sam = dual.configuration!.interfaces.find((i) => i.interfaceNumber === 1)!;
    expect(sam.claimed).toBe(false);
    dual.unplug();
    await settle();
    expect(daemon.readers.size).toBe(15);
    expect(manager.entryFor(dual)).toBeUndefined();
  });
});

describe('duplicate events', () => {
  it('connect events for a device being opened or ready are ignored', async () => {
    const { usb, daemon, manager } = setup();
    await manager.start();
    const twin = reader();
    usb.plug(twin);
    usb.emit('connect', twin);
    usb.emit('connect', twin);
    await waitForEntries(manager, (e) => e[0]?.state === 'ready');
    usb.emit('connect', twin);
    await settle();
    expect(manager.entries).toHaveLength(1);
    expect(daemon.addCalls).toHaveLength(1);
  });

  it('a device both in getDevices and in a connect event is opened once', async () => {
    const { usb, daemon, manager } = setup();
    const twin = reader();
    usb.plug(twin);
    const starting = manager.start();
    usb.emit('connect', twin);
    await starting;
    await settle();
    expect(states(manager.entries)).toEqual(['ready']);
    expect(daemon.addCalls).toHaveLength(1);
  });

  it('a disconnect for an unknown device, and a second disconnect, do nothing', async () => {
    const { usb, daemon, manager } = setup();
    await manager.start();
    const twin = reader();
    usb.plug(twin);
    await waitForEntries(manager, (e) => e[0]?.state === 'ready');
    usb.emit('disconnect', reader());
    expect(manager.entries).toHaveLength(1);
    twin.unplug();
    usb.emit('disconnect', twin);
    await settle();
    expect(daemon.removeCalls).toHaveLength(1);
  });
});

describe('removeDevice and stop', () => {
  it('removeDevice takes a ready reader out of the daemon and closes the device, which stays plugged', async () => {
    const { usb, daemon, manager } = setup();
    await manager.start();
    const twin = reader();
    usb.plug(twin);
    await waitForEntries(manager, (e) => e[0]?.state === 'ready');
    const ifd = daemon.addCalls[0] as CcidReader;
    await manager.removeDevice(twin);
    expect(manager.entries).toEqual([]);
    expect(daemon.removeCalls).toEqual([ifd]);
    expect(ifd.removed).toBe(true);
    expect(twin.opened).toBe(false);
    expect(usb.devices).toContain(twin);
    // It can be added again.
    expect((await manager.addDevice(twin))?.state).toBe('ready');
  });

  it('stop removes every reader, closes every device and stops listening; start again picks them up', async () => {
    const { usb, daemon, manager } = setup();
    const a = reader();
    const b = reader('vendor-class');
    usb.plug(a);
    usb.plug(b);
    await manager.start();
    expect(daemon.readers.size).toBe(2);
    await manager.stop();
    expect(manager.entries).toEqual([]);
    expect(daemon.readers.size).toBe(0);
    expect(a.opened || b.opened).toBe(false);
    usb.plug(reader());
    await settle();
    expect(manager.entries).toEqual([]);
    await manager.start();
    expect(states(manager.entries)).toEqual(['ready', 'ready', 'ready']);
  });
});

describe('the demo reader', () => {
  it('is a ready entry labelled as simulated, with the hello-world card answering through the driver', async () => {
    const { daemon, manager } = setup();
    const demo = createDemoReader();
    expect(demo.label).toBe(DEMO_READER_LABEL);
    expect(demo.label).toMatch(/simulated/);
    const entry = await manager.addDevice(demo.device, { simulated: true, label: demo.label });
    expect(entry).toMatchObject({
      state: 'ready',
      label: 'Demo reader (simulated)',
      simulated: true,
      vendorId: 0x08e6,
      productId: 0x3437,
    });
    expect(entry!.readerNames).toEqual(daemon.readerNames);

    const slot = daemon.addCalls[0]!.slots[0]!;
    expect(await slot.iccPresence()).toBe(true);
    await slot.power('up');
    await slot.setProtocol(2);
    const select = Uint8Array.from([
      0x00, 0xa4, 0x04, 0x00, 0x0a, 0xa0, 0x00, 0x00, 0x00, 0x62, 0x03, 0x01, 0x0c, 0x06, 0x01,
    ]);
    expect([...(await slot.transmit(select)).slice(-2)]).toEqual([0x90, 0x00]);
    const hello = await slot.transmit(Uint8Array.of(0, 0, 0, 0));
    expect(new TextDecoder().decode(hello.slice(0, -2))).toBe('Hello world!');

    demo.removeCard();
    expect(demo.cardPresent).toBe(false);
    expect(await slot.iccPresence()).toBe(false);
    demo.insertCard();
    demo.insertCard(); // no effect: already in
    expect(demo.cardPresent).toBe(true);
    expect(await slot.iccPresence()).toBe(true);
  });
});

describe('readers the driver refuses', () => {
  it('firmware libccid knows to be buggy is unsupported (retrying would not help), with the upgrade advice', async () => {
    const { manager, daemon } = setup();
    // An SCM SPR 532 (04E6:E003) with firmware 5.00, below the 5.10 libccid requires.
    const spr532 = createSimulatedReader({
      ...PROFILES['pinpad'],
      id: 'old-spr532',
      vendorId: 0x04e6,
      productId: 0xe003,
      bcdDevice: 0x0500,
    });
    const entry = await manager.addDevice(spr532);
    expect(entry?.state).toBe('unsupported');
    expect(entry?.reason).toMatch(/firmware 5\.00 is known to be buggy/);
    expect(entry?.reason).toMatch(/^This reader is not supported: .*upgrade the reader firmware/);
    expect(entry?.reason).not.toMatch(/plug it in again/);
    expect(spr532.opened).toBe(false);
    expect(daemon.addCalls).toEqual([]);
  });

  it('the same reader opens when the driver is told to allow bogus firmware', async () => {
    const usb = new SimulatedUsb();
    const daemon = new FakeDaemon();
    const manager = new UsbDeviceManager(usb, daemon, { driver: { ...DRIVER, allowBogusFirmware: true } });
    managers.push(manager);
    const spr532 = createSimulatedReader({
      ...PROFILES['pinpad'],
      id: 'old-spr532',
      vendorId: 0x04e6,
      productId: 0xe003,
      bcdDevice: 0x0500,
    });
    expect((await manager.addDevice(spr532))?.state).toBe('ready');
  });
});
