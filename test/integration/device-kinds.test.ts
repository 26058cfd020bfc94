/**
 * Kinds of devices beyond the single-interface bulk CCID reader, through the whole stack as a PC/SC client sees them:
 * simulated USB → UsbDeviceManager → CCID driver →
 * PcscDaemon. Each device is built from a real device's descriptor
 * dump in libccid's `readers/` folder (see src/sim/reader/composite-profiles.ts and profiles.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CcidReaderOptions } from '../../src/ccid/reader.js';
import {
  PcscDaemon,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  type PcscClient,
} from '../../src/pcsc/index.js';
import {
  ACR1252_DUAL,
  CHERRY_KC_1000_SC,
  ICCD_A_EGATE,
  ICCD_B_RUTOKEN_MAGISTRA,
  SimulatedCompositeDevice,
  createSimulatedReader,
  helloWorldCardT0,
  helloWorldCardT1,
} from '../../src/sim/index.js';
import { UsbDeviceManager } from '../../src/usb/device-manager.js';
import { SimulatedUsb } from '../../src/usb/simulated-usb.js';
import { settle } from '../unit/usb/helpers.js';

const DRIVER: CcidReaderOptions = { timeoutScale: 0.01, pollIntervalMs: 5 };
const SELECT_HELLO = Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x0a, 0xa0, 0, 0, 0, 0x62, 0x03, 0x01, 0x0c, 0x06, 0x01]);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup() {
  const usb = new SimulatedUsb();
  const daemon = new PcscDaemon({ powerOffGraceMs: 0 });
  const manager = new UsbDeviceManager(usb, daemon, { driver: DRIVER });
  const client = daemon.connect({ name: 'test' });
  cleanups.push(() => daemon.shutdown());
  cleanups.push(() => manager.stop());
  cleanups.push(async () => client.close());
  return { usb, daemon, manager, client };
}

/** SCardConnect, SELECT the hello-world applet, then its hello command; returns the status word and the text. */
async function hello(client: PcscClient, reader: string, protocol: number): Promise<string> {
  const { hContext } = await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
  try {
    const { hCard, dwActiveProtocol } = await client.SCardConnect(hContext, reader, SCARD_SHARE_SHARED, protocol);
    expect(dwActiveProtocol).toBe(protocol);
    const pci = { dwProtocol: protocol };
    expect([...(await client.SCardTransmit(hCard, pci, SELECT_HELLO)).recvBuffer.slice(-2)]).toEqual([0x90, 0x00]);
    let reply = (await client.SCardTransmit(hCard, pci, Uint8Array.of(0, 0, 0, 0))).recvBuffer;
    if (reply.length === 2 && reply[0] === 0x61) {
      // T=0: the response waits for GET RESPONSE (ISO 7816-3 §12.2.2; pcsc-lite leaves it to the application).
      reply = (await client.SCardTransmit(hCard, pci, Uint8Array.of(0, 0xc0, 0, 0, reply[1]!))).recvBuffer;
    }
    await client.SCardDisconnect(hCard, SCARD_LEAVE_CARD);
    return new TextDecoder().decode(reply.slice(0, -2));
  } finally {
    await client.SCardReleaseContext(hContext);
  }
}

describe('composite devices through the daemon', () => {
  it('the ACR1252 Dual gives two readers named by their interfaces, as pcscd does, both answering', async () => {
    const { usb, daemon, manager, client } = setup();
    const device = new SimulatedCompositeDevice(ACR1252_DUAL);
    device.readers[0]!.insertCard(helloWorldCardT1());
    device.readers[1]!.insertCard(helloWorldCardT0());
    usb.plug(device);
    await manager.start();
    const [entry] = manager.entries;
    expect(entry).toMatchObject({ state: 'ready' });
    // pcscd 1.9.9 + libccid on Linux: one reader per CCID interface (hotplug_libudev.c), "[iInterface]", index XX.
    expect(entry!.readerNames).toEqual([
      'ACS ACR1252 Dual Reader [ACR1252 Dual Reader PICC] 00 00',
      'ACS ACR1252 Dual Reader [ACR1252 Dual Reader SAM] 01 00',
    ]);
    expect(daemon.readerNames).toEqual(entry!.readerNames);
    expect(await hello(client, entry!.readerNames[0]!, SCARD_PROTOCOL_T1)).toBe('Hello world!');
    expect(await hello(client, entry!.readerNames[1]!, SCARD_PROTOCOL_T0)).toBe('Hello world!');
    device.unplug();
    await settle();
    expect(daemon.readerNames).toEqual([]);
  });

  it('a smart card keyboard gives one reader, for its CCID interface', async () => {
    const { usb, manager, client } = setup();
    const device = new SimulatedCompositeDevice(CHERRY_KC_1000_SC);
    device.readers[0]!.insertCard(helloWorldCardT1());
    usb.plug(device);
    await manager.start();
    expect(manager.entries[0]!.readerNames).toEqual(['Cherry KC 1000 SC [KC 1000 SC] 00 00']);
    expect(await hello(client, 'Cherry KC 1000 SC [KC 1000 SC] 00 00', SCARD_PROTOCOL_T1)).toBe('Hello world!');
  });
});

describe('a character-level reader through the daemon', () => {
  it('the O2Micro OZ776 (readers/Oz776S.txt) answers T=0 and T=1 cards, the driver framing them', async () => {
    const { usb, manager, client } = setup();
    const device = createSimulatedReader('character-level');
    device.insertCard(helloWorldCardT0());
    usb.plug(device);
    await manager.start();
    // libccid's name for 0B97:7762; no iInterface, no serial number.
    expect(manager.entries[0]!.readerNames).toEqual(['O2 Micro Oz776 00 00']);
    expect(await hello(client, 'O2 Micro Oz776 00 00', SCARD_PROTOCOL_T0)).toBe('Hello world!');
    device.removeCard();
    device.insertCard(helloWorldCardT1());
    await settle();
    expect(await hello(client, 'O2 Micro Oz776 00 00', SCARD_PROTOCOL_T1)).toBe('Hello world!');
  });
});

describe('ICCD tokens through the daemon (ISO/IEC 7816-12, control transfers)', () => {
  it('version A (e-gate, vendor class) and B (Rutoken Magistra) are readers with a card', async () => {
    const { usb, manager, client } = setup();
    const a = createSimulatedReader(ICCD_A_EGATE);
    a.insertCard(helloWorldCardT0());
    const b = createSimulatedReader(ICCD_B_RUTOKEN_MAGISTRA);
    b.insertCard(helloWorldCardT1());
    usb.plug(a);
    await manager.start();
    usb.plug(b);
    await manager.addDevice(b); // the hot-plug's attempt, awaited: the second reader takes index 01
    // libccid's names for 0973:0003 and 0A89:0060 (supported_readers.txt) are their USB strings, as ours.
    expect(manager.entries.map((e) => [e.state, e.readerNames])).toEqual([
      ['ready', ['SchlumbergerSema SchlumbergerSema Cyberflex Access 00 00']],
      ['ready', ['Aktiv Co., ProgramPark Rutoken Magistra 01 00']],
    ]);
    expect(await hello(client, 'SchlumbergerSema SchlumbergerSema Cyberflex Access 00 00', SCARD_PROTOCOL_T0)).toBe(
      'Hello world!',
    );
    expect(await hello(client, 'Aktiv Co., ProgramPark Rutoken Magistra 01 00', SCARD_PROTOCOL_T1)).toBe(
      'Hello world!',
    );
  });
});
