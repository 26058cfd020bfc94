/**
 * The Node host's USB source (src/host/readers/usb.ts) over a node-usb stand-in yielding simulated readers: readers
 * present at start, hot-plug both ways with node-usb's fresh device objects, a reader held by another program (busy),
 * one the user may not open, the no-USB-bus path, and the adapter's node-usb → WebUSB transfer semantics.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PcscDaemon, SCARD_PROTOCOL_T1, SCARD_SCOPE_SYSTEM, SCARD_SHARE_SHARED } from '../../../src/pcsc/index.js';
import { createSimulatedReader, helloWorldCardT1 } from '../../../src/sim/index.js';
import {
  classifyUsbFailure,
  NodeUsbDeviceAdapter,
  startUsbReaders,
  usbBusStatus,
  type UsbSource,
} from '../../../src/host/readers/usb.js';
import { startReaders } from '../../../src/host/readers/index.js';
import { FakeNodeUsb } from './fake-node-usb.js';
import { SELECT_HELLO } from '../../support/hello.js';

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

interface Rig {
  usb: FakeNodeUsb;
  daemon: PcscDaemon;
  source: UsbSource;
  logs: string[];
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await r.source.stop();
    await r.daemon.shutdown();
  }
});

async function rig(prepare: (usb: FakeNodeUsb) => void = () => {}): Promise<Rig> {
  const usb = new FakeNodeUsb();
  prepare(usb);
  const logs: string[] = [];
  const daemon = new PcscDaemon({ log: (level, message) => logs.push(`${level} ${message}`) });
  const source = await startUsbReaders(daemon, { usb, log: (level, message) => logs.push(`${level} ${message}`) });
  const r = { usb, daemon, source, logs };
  rigs.push(r);
  return r;
}

function withCard(profile: Parameters<typeof createSimulatedReader>[0] = 'gempc-twin') {
  const sim = createSimulatedReader(profile);
  sim.insertCard(helloWorldCardT1());
  return sim;
}

describe('USB readers through node-usb', () => {
  it('opens the readers present at start and serves their cards through the daemon', async () => {
    const { daemon, source } = await rig((usb) => {
      usb.plug(withCard());
      usb.plug(createSimulatedReader('vendor-class'));
    });
    expect(source.active).toBe(true);
    expect(source.entries.map((e) => e.state)).toEqual(['ready', 'ready']);
    expect(daemon.readerNames).toEqual(['Gemalto PC Twin Reader 00 00', 'SCM Microsystems Inc. SPR 532 01 00']);
    const pcsc = daemon.connect();
    const { hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { hCard } = await pcsc.SCardConnect(hContext, daemon.readerNames[0]!, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const { recvBuffer } = await pcsc.SCardTransmit(hCard, { dwProtocol: SCARD_PROTOCOL_T1 }, SELECT_HELLO);
    expect(recvBuffer).toEqual(Uint8Array.of(0x90, 0x00));
    await pcsc.close();
  });

  it('hands node-usb long timeouts, never its 1000 ms default', async () => {
    const { usb, daemon } = await rig((u) => u.plug(withCard()));
    const pcsc = daemon.connect();
    const { hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    await pcsc.SCardConnect(hContext, daemon.readerNames[0]!, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(usb.timeouts.length).toBeGreaterThan(3);
    expect(new Set(usb.timeouts)).toEqual(new Set([5000]));
    await pcsc.close();
  });

  it('follows hot-plug: connect adds, card events are logged, disconnect (a new object) removes', async () => {
    const { usb, daemon, logs } = await rig();
    expect(daemon.readerNames).toEqual([]);
    const sim = createSimulatedReader('gempc-twin');
    const handle = usb.plug(sim, { event: true });
    await until(() => daemon.readerNames.length === 1, 'the reader to be added');
    expect(logs).toContain('info reader added: Gemalto PC Twin Reader 00 00');
    sim.insertCard(helloWorldCardT1());
    await until(() => logs.some((l) => l.includes('card inserted')), 'the insertion to be logged');
    expect(logs).toContain('info Gemalto PC Twin Reader 00 00: card inserted');
    usb.unplug(handle);
    await until(() => daemon.readerNames.length === 0, 'the reader to be removed');
    expect(logs).toContain('info reader removed: Gemalto PC Twin Reader 00 00');
  });

  it('says in words that another program holds a busy reader, what to do, and keeps serving the others', async () => {
    const { daemon, source, logs } = await rig((usb) => {
      usb.plug(withCard(), { failures: { claim: 'Device or resource busy (os error 16)' } });
      usb.plug(withCard('short-apdu'));
    });
    expect(source.entries.map((e) => e.state)).toEqual(['failed', 'ready']);
    expect(daemon.readerNames).toEqual(['Alcor Micro AU9520 00 00']);
    const line = logs.find((l) => l.includes('in use by another program'));
    expect(line).toBeDefined();
    expect(line).toMatch(/^error USB reader "[^"]+" \(08E6:3437, bus 1 address 2\) is in use by another program/);
    expect(line).toContain('pcscd');
    expect(line).toContain('sudo systemctl stop pcscd.socket pcscd');
    // One line for the failure, not one per layer.
    expect(logs.filter((l) => l.startsWith('error') || l.startsWith('warn'))).toHaveLength(1);
  });

  it('says when the user may not open the device, and how to allow it', async () => {
    const { source, logs } = await rig((usb) =>
      usb.plug(withCard(), { failures: { open: 'Permission denied (os error 13)' } }),
    );
    expect(source.entries.map((e) => e.state)).toEqual(['failed']);
    expect(logs.find((l) => l.includes('no permission to open it'))).toMatch(/run smart-card-host as root|udev rule/i);
  });

  it('explains a denied transfer as a permission problem, never as Chrome refusing the reader', async () => {
    const { source, logs } = await rig((usb) =>
      usb.plug(withCard(), { failures: { control: 'Permission denied (os error 13)' } }),
    );
    expect(source.entries.map((e) => e.state)).toEqual(['failed']);
    expect(logs.some((l) => l.includes('no permission to open it'))).toBe(true);
    expect(logs.some((l) => /chrome/i.test(l))).toBe(false);
  });

  it('without a USB bus, reports "no USB bus" and never touches node-usb (its listener would crash)', async () => {
    const status = usbBusStatus(() => false, 'linux');
    expect(status).toEqual({
      available: false,
      reason: expect.stringMatching(/^no USB bus: \/sys\/bus\/usb\/devices does not exist/),
    });
    expect(usbBusStatus(() => true, 'linux').available).toBe(true);
    expect(usbBusStatus(() => false, 'darwin').available).toBe(true);

    const usb = new FakeNodeUsb();
    const logs: string[] = [];
    const daemon = new PcscDaemon();
    const source = await startUsbReaders(daemon, { usb, busStatus: status, log: (l, m) => logs.push(`${l} ${m}`) });
    expect(source.active).toBe(false);
    expect(source.reason).toMatch(/no USB bus/);
    expect(usb.calls).toEqual({ getDevices: 0, addEventListener: 0 });
    expect(logs).toEqual([expect.stringMatching(/^warn no USB bus/)]);
    await source.stop();
  });

  it('combines with the demo reader through startReaders', async () => {
    const usb = new FakeNodeUsb();
    usb.plug(withCard('extended-apdu'));
    const daemon = new PcscDaemon();
    const set = await startReaders(daemon, { demo: true, usb: { usb } });
    expect(daemon.readerNames).toEqual([
      'Gemalto PC Twin Reader 00 00',
      'HID Global OMNIKEY 3x21 Smart Card Reader [OMNIKEY 3x21 Smart Card Reader] 01 00',
    ]);
    await set.stop();
    expect(daemon.readerNames).toEqual([]);
    expect(usb.listenerCount).toBe(0);
  });
});

describe('node-usb itself', () => {
  it('loads from its prebuilt binary and has the WebUSB shape used here (the bus untouched)', async () => {
    const mod = await import('usb');
    const usb = new mod.WebUSB({ allowAllDevices: true });
    for (const method of ['getDevices', 'addEventListener', 'removeEventListener'] as const) {
      expect(typeof usb[method]).toBe('function');
    }
    // node-usb 3 has no legacy `usb.on('attach')`: hot-plug is the WebUSB events only.
    expect('on' in mod.usb).toBe(false);
  });
});

describe('NodeUsbDeviceAdapter', () => {
  /** A node-usb device whose IN transfers follow a script of outcomes. */
  function scripted(outcomes: (Error | USBInTransferResult)[]) {
    const timeouts: number[] = [];
    const raw = {
      transferIn: async (_ep: number, _len: number, timeout: number) => {
        timeouts.push(timeout);
        const next = outcomes.shift();
        if (next === undefined) return new Promise<USBInTransferResult>(() => {});
        if (next instanceof Error) throw next;
        return next;
      },
      close: async () => {},
    };
    return { raw: raw as unknown as USBDevice, timeouts };
  }

  it('re-issues an IN transfer that node-usb timed out, as WebUSB waits as long as it takes', async () => {
    const data = new DataView(Uint8Array.of(1, 2, 3).buffer);
    const { raw, timeouts } = scripted([
      new Error('transferIn error: Cancelled'),
      new Error('transferIn error: Cancelled'),
      { status: 'ok', data },
    ]);
    const d = new NodeUsbDeviceAdapter(raw, 1234);
    const r = await d.transferIn(2, 64);
    expect(r.status).toBe('ok');
    expect(new Uint8Array(r.data!.buffer)).toEqual(Uint8Array.of(1, 2, 3));
    expect(timeouts).toEqual([1234, 1234, 1234]);
  });

  it('maps a STALL rejection to the stall status and an unplug to NotFoundError', async () => {
    const stall = new NodeUsbDeviceAdapter(scripted([new Error('transferIn error: Stall')]).raw);
    expect((await stall.transferIn(2, 64)).status).toBe('stall');
    const gone = new NodeUsbDeviceAdapter(scripted([new Error('transferIn error: Disconnected')]).raw);
    await expect(gone.transferIn(2, 64)).rejects.toMatchObject({ name: 'NotFoundError' });
  });

  it('stops re-issuing once the device is closed', async () => {
    const { raw, timeouts } = scripted([
      new Error('transferIn error: Cancelled'),
      new Error('transferIn error: Cancelled'),
    ]);
    const d = new NodeUsbDeviceAdapter(raw);
    const pending = d.transferIn(2, 64);
    await d.close();
    await expect(pending).rejects.toMatchObject({ name: 'InvalidStateError' });
    expect(timeouts.length).toBeLessThanOrEqual(2);
  });

  it('classifies busy and access failures, and nothing else', () => {
    expect(classifyUsbFailure(new Error('claimInterface error: Device or resource busy (os error 16)'))?.kind).toBe(
      'busy',
    );
    expect(classifyUsbFailure(new Error('LIBUSB_ERROR_BUSY'))?.kind).toBe('busy');
    expect(classifyUsbFailure(new Error('open error: Permission denied (os error 13)'))?.kind).toBe('access');
    expect(classifyUsbFailure(new Error('LIBUSB_ERROR_ACCESS'))?.kind).toBe('access');
    expect(classifyUsbFailure(new Error('transferIn error: Cancelled'))).toBeUndefined();
  });
});
