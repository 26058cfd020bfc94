/**
 * The device manager with the real PcscDaemon: what a PC/SC client sees as readers are plugged, refused, unplugged,
 * and past the daemon's limit, and the demo reader answering the hello-world exchange through SCardTransmit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CcidReaderOptions } from '../../../src/ccid/reader.js';
import {
  PcscDaemon,
  SCARD_E_NO_READERS_AVAILABLE,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  isPcscError,
  type PcscClient,
} from '../../../src/pcsc/index.js';
import { createDemoReader } from '../../../src/sim/demo.js';
import { SimulatedUsb } from '../../../src/usb/simulated-usb.js';
import { createSimulatedReader } from '../../../src/sim/index.js';
import { UsbDeviceManager } from '../../../src/usb/device-manager.js';
import { PROTECTED_CLASS_EXPLANATION, TOO_MANY_READERS_EXPLANATION } from '../../../src/usb/errors.js';
import { settle, waitForEntries } from './helpers.js';

const DRIVER: CcidReaderOptions = { timeoutScale: 0.01, pollIntervalMs: 5 };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup() {
  const usb = new SimulatedUsb();
  const daemon = new PcscDaemon({ powerOffGraceMs: 0 });
  const manager = new UsbDeviceManager(usb, daemon, { driver: DRIVER });
  cleanups.push(() => daemon.shutdown());
  cleanups.push(() => manager.stop());
  return { usb, daemon, manager };
}

async function listReaders(client: PcscClient): Promise<string[]> {
  const { hContext } = await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
  try {
    return (await client.SCardListReaders(hContext)).readers;
  } catch (e) {
    if (isPcscError(e, SCARD_E_NO_READERS_AVAILABLE)) return [];
    throw e;
  } finally {
    await client.SCardReleaseContext(hContext);
  }
}

describe('UsbDeviceManager with PcscDaemon', () => {
  it('granted and hot-plugged readers appear to clients, and disappear when unplugged', async () => {
    const { usb, daemon, manager } = setup();
    const client = daemon.connect({ name: 'test' });
    cleanups.push(() => client.close());
    const first = createSimulatedReader('gempc-twin');
    usb.plug(first);
    await manager.start();
    const [entry] = manager.entries;
    expect(entry!.state).toBe('ready');
    expect(await listReaders(client)).toEqual(entry!.readerNames);

    const second = createSimulatedReader('vendor-class');
    usb.plug(second);
    const entries = await waitForEntries(manager, (e) => e.length === 2 && e.every((x) => x.state === 'ready'));
    expect(await listReaders(client)).toEqual(entries.flatMap((e) => e.readerNames));

    first.unplug();
    await settle();
    expect(await listReaders(client)).toEqual(entries[1]!.readerNames);
    second.unplug();
    await settle();
    expect(await listReaders(client)).toEqual([]);
    expect(daemon.readerNames).toEqual([]);
  });

  it('a reader Chrome refuses is blocked and never reaches the daemon', async () => {
    const { usb, daemon, manager } = setup();
    const twin = createSimulatedReader('gempc-twin');
    twin.claimInterface = async () => {
      throw new DOMException('The requested interface implements a protected class.', 'SecurityError');
    };
    usb.plug(twin);
    await manager.start();
    expect(manager.entries[0]).toMatchObject({ state: 'blocked', reason: PROTECTED_CLASS_EXPLANATION });
    expect(daemon.readerNames).toEqual([]);
    expect(twin.opened).toBe(false);
  });

  it("17 readers: one is failed with the daemon's limit explained and closed; 16 are listed", async () => {
    const { usb, daemon, manager } = setup();
    const devices = Array.from({ length: 17 }, () => createSimulatedReader('gempc-twin'));
    await manager.start();
    for (const d of devices) {
      usb.plug(d);
      await waitForEntries(manager, (e) => e.at(-1)?.state !== 'opening');
    }
    const entries = manager.entries;
    expect(entries.slice(0, 16).every((e) => e.state === 'ready')).toBe(true);
    expect(entries[16]).toMatchObject({ state: 'failed', reason: TOO_MANY_READERS_EXPLANATION, readerNames: [] });
    expect(devices[16]!.opened).toBe(false);
    expect(daemon.readerNames).toHaveLength(16);

    devices[0]!.unplug();
    await settle();
    expect((await manager.retry(entries[16]!.id))?.state).toBe('ready');
    expect(daemon.readerNames).toHaveLength(16);
  });

  it('the demo reader answers the hello-world exchange through SCardConnect/SCardTransmit', async () => {
    const { daemon, manager } = setup();
    const demo = createDemoReader();
    const entry = await manager.addDevice(demo.device, { simulated: true, label: demo.label });
    expect(entry).toMatchObject({ state: 'ready', label: 'Demo reader (simulated)', simulated: true });
    const client = daemon.connect({ name: 'demo' });
    cleanups.push(() => client.close());
    const { hContext } = await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { hCard, dwActiveProtocol } = await client.SCardConnect(
      hContext,
      entry!.readerNames[0]!,
      SCARD_SHARE_SHARED,
      SCARD_PROTOCOL_T1,
    );
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
    const pci = { dwProtocol: SCARD_PROTOCOL_T1 };
    const select = Uint8Array.from([
      0x00, 0xa4, 0x04, 0x00, 0x0a, 0xa0, 0x00, 0x00, 0x00, 0x62, 0x03, 0x01, 0x0c, 0x06, 0x01,
    ]);
    expect([...(await client.SCardTransmit(hCard, pci, select)).recvBuffer.slice(-2)]).toEqual([0x90, 0x00]);
    const hello = (await client.SCardTransmit(hCard, pci, Uint8Array.of(0, 0, 0, 0))).recvBuffer;
    expect(new TextDecoder().decode(hello.slice(0, -2))).toBe('Hello world!');
    await client.SCardDisconnect(hCard, SCARD_LEAVE_CARD);
    await client.SCardReleaseContext(hContext);
  });
});
