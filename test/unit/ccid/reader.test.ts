/**
 * CcidReader.open / openAll (reader.ts): which interfaces of a device become readers.
 */
import { describe, expect, it } from 'vitest';
import { CcidReader } from '../../../src/ccid/reader.js';
import { IFD } from '../../../src/ifd/errors.js';
import {
  ACR1252_DUAL,
  CHERRY_KC_1000_SC,
  SimulatedCompositeDevice,
  helloWorldCardT0,
  helloWorldCardT1,
} from '../../../src/sim/index.js';

const FAST = { timeoutScale: 0.01, pollIntervalMs: 5 };
const SELECT_HELLO = Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x0a, 0xa0, 0, 0, 0, 0x62, 0x03, 0x01, 0x0c, 0x06, 0x01]);
const HELLO = Uint8Array.of(0, 0, 0, 0);
const text = (b: Uint8Array) => new TextDecoder().decode(b.subarray(0, -2));

describe('composite devices: one reader per CCID interface (pcscd + libccid)', () => {
  it('openAll opens both interfaces of the ACR1252 Dual, each with its own descriptor and interface name', async () => {
    const device = new SimulatedCompositeDevice(ACR1252_DUAL);
    device.readers[0]!.insertCard(helloWorldCardT1());
    device.readers[1]!.insertCard(helloWorldCardT0());
    const readers = await CcidReader.openAll(device, FAST);
    expect(readers.map((r) => [r.info.interfaceNumber, r.interfaceName, r.level])).toEqual([
      [0, 'ACR1252 Dual Reader PICC', 'extended-apdu'],
      [1, 'ACR1252 Dual Reader SAM', 'short-apdu'],
    ]);
    expect(readers.map((r) => r.friendlyName)).toEqual(['ACS ACR1252 Dual Reader', 'ACS ACR1252 Dual Reader']);
    // Both work, independently: T=1 on the PICC interface, T=0 on the SAM interface.
    for (const [reader, protocol] of [
      [readers[0]!, 2],
      [readers[1]!, 1],
    ] as const) {
      const slot = reader.slots[0]!;
      await slot.power('up');
      await slot.setProtocol(protocol);
      expect([...(await slot.transmit(SELECT_HELLO)).slice(-2)]).toEqual([0x90, 0x00]);
      const reply = await slot.transmit(HELLO);
      expect(protocol === 1 ? [...reply] : text(reply)).toEqual(protocol === 1 ? [0x61, 0x0c] : 'Hello world!');
    }
    // Closing one reader leaves the device open for the other.
    await readers[0]!.close();
    expect(device.opened).toBe(true);
    expect([...(await readers[1]!.slots[0]!.transmit(SELECT_HELLO)).slice(-2)]).toEqual([0x90, 0x00]);
    await readers[1]!.close();
    expect(device.opened).toBe(false);
  });

  it('open takes the first CCID interface, or the one named by interfaceNumber', async () => {
    const device = new SimulatedCompositeDevice(ACR1252_DUAL);
    const first = await CcidReader.open(device, FAST);
    expect(first.info.interfaceNumber).toBe(0);
    const second = await CcidReader.open(device, { ...FAST, interfaceNumber: 1 });
    expect(second.interfaceName).toBe('ACR1252 Dual Reader SAM');
    await expect(CcidReader.open(device, { ...FAST, interfaceNumber: 5 })).rejects.toMatchObject({
      code: IFD.NOT_SUPPORTED,
      message: expect.stringContaining('no CCID interface numbered 5'),
    });
    await first.close();
    await second.close();
  });

  it('a smart card keyboard: the HID interfaces are not readers, the CCID interface 2 is', async () => {
    const device = new SimulatedCompositeDevice(CHERRY_KC_1000_SC);
    device.readers[0]!.insertCard(helloWorldCardT1());
    const readers = await CcidReader.openAll(device, FAST);
    expect(readers.map((r) => [r.info.interfaceNumber, r.friendlyName, r.interfaceName])).toEqual([
      [2, 'Cherry KC 1000 SC', 'KC 1000 SC'],
    ]);
    const slot = readers[0]!.slots[0]!;
    await slot.power('up');
    await slot.setProtocol(2);
    expect([...(await slot.transmit(SELECT_HELLO)).slice(-2)]).toEqual([0x90, 0x00]);
    await readers[0]!.close();
  });

  it('unplugging a composite device removes every reader on it', async () => {
    const device = new SimulatedCompositeDevice(ACR1252_DUAL);
    const readers = await CcidReader.openAll(device, FAST);
    const removed: number[] = [];
    readers.forEach((r, i) => r.onRemoved(() => removed.push(i)));
    device.unplug();
    await Promise.all(readers.map((r) => r.slots[0]!.iccPresence().catch(() => undefined)));
    for (const r of readers) {
      await expect(r.slots[0]!.power('up')).rejects.toMatchObject({ code: IFD.NO_SUCH_DEVICE });
    }
    expect(removed.sort()).toEqual([0, 1]);
  });
});
