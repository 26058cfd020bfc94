/**
 * The simulated composite devices (composite.ts): descriptors as a real composite device returns them, requests
 * routed to the function that owns the interface or endpoint, protected interfaces refused.
 */
import { describe, expect, it } from 'vitest';
import { ACR1252_DUAL, CHERRY_KC_1000_SC, SimulatedCompositeDevice } from '../../../../src/sim/index.js';

const getDescriptor = (type: number, index = 0) =>
  ({ requestType: 'standard', recipient: 'device', request: 6, value: (type << 8) | index, index: 0 }) as const;

function bytesOf(r: USBInTransferResult): Uint8Array {
  return new Uint8Array(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength);
}

/** [bDescriptorType, bytes] of each descriptor of a configuration descriptor. */
function walk(config: Uint8Array): { type: number; body: Uint8Array }[] {
  const out = [];
  for (let at = 0; at < config.length && config[at]! > 0; at += config[at]!) {
    out.push({ type: config[at + 1]!, body: config.subarray(at, at + config[at]!) });
  }
  return out;
}

async function configuration(device: USBDevice): Promise<Uint8Array> {
  const head = bytesOf(await device.controlTransferIn(getDescriptor(2), 9));
  return bytesOf(await device.controlTransferIn(getDescriptor(2), head[2]! | (head[3]! << 8)));
}

async function stringAt(device: USBDevice, index: number): Promise<string> {
  const b = bytesOf(await device.controlTransferIn(getDescriptor(3, index), 255));
  let s = '';
  for (let i = 2; i < b[0]!; i += 2) s += String.fromCharCode(b[i]! | (b[i + 1]! << 8));
  return s;
}

describe('SimulatedCompositeDevice', () => {
  it('ACR1252 Dual: two CCID interfaces, each with its endpoints, class descriptor and iInterface', async () => {
    const device = new SimulatedCompositeDevice(ACR1252_DUAL);
    await device.open();
    const config = await configuration(device);
    expect(config[4]).toBe(2); // bNumInterfaces
    const parts = walk(config);
    const interfaces = parts.filter((p) => p.type === 4).map((p) => p.body);
    expect(interfaces.map((i) => [i[2], i[5], i[6], i[7]])).toEqual([
      [0, 0x0b, 0, 0],
      [1, 0x0b, 0, 0],
    ]);
    expect(await stringAt(device, interfaces[0]![8]!)).toBe('ACR1252 Dual Reader PICC');
    expect(await stringAt(device, interfaces[1]![8]!)).toBe('ACR1252 Dual Reader SAM');
    // Each interface carries its own 54-byte class descriptor: dwFeatures 0x00040040 then 0x000204BA.
    const classDescriptors = parts.filter((p) => p.type === 0x21).map((p) => p.body);
    expect(classDescriptors.map((c) => c.length)).toEqual([54, 54]);
    const features = classDescriptors.map((c) => new DataView(c.buffer, c.byteOffset).getUint32(40, true));
    expect(features).toEqual([0x00040040, 0x000204ba]);
    const endpoints = parts.filter((p) => p.type === 5).map((p) => p.body[2]);
    expect(new Set(endpoints).size).toBe(6);
    expect(device.configuration!.interfaces.map((i) => i.interfaceNumber)).toEqual([0, 1]);
  });

  it('Cherry KC 1000 SC: two HID interfaces, then CCID on interface 2; HID cannot be claimed', async () => {
    const device = new SimulatedCompositeDevice(CHERRY_KC_1000_SC);
    await device.open();
    const interfaces = walk(await configuration(device))
      .filter((p) => p.type === 4)
      .map((p) => [p.body[2], p.body[5], p.body[6], p.body[7]]);
    expect(interfaces).toEqual([
      [0, 3, 1, 1],
      [1, 3, 0, 0],
      [2, 0x0b, 0, 0],
    ]);
    await expect(device.claimInterface(0)).rejects.toMatchObject({ name: 'SecurityError' });
    await expect(device.claimInterface(7)).rejects.toMatchObject({ name: 'NotFoundError' });
    await device.claimInterface(2);
    expect(device.configuration!.interfaces.find((i) => i.interfaceNumber === 2)!.claimed).toBe(true);
  });

  it('routes bulk transfers to the function owning the endpoint, and unplugs every function at once', async () => {
    const device = new SimulatedCompositeDevice(ACR1252_DUAL);
    let unplugged = 0;
    device.onunplug = () => unplugged++;
    await device.open();
    await device.claimInterface(1);
    const sam = device.readers[1]!;
    const bulkOut = sam.layout.endpoints.BULK_OUT;
    // PC_to_RDR_GetSlotStatus, slot 0, seq 7 → RDR_to_PC_SlotStatus echoing seq 7 (CCID 1.1 §6.1.6, §6.2.2).
    const sent = await device.transferOut(bulkOut, Uint8Array.of(0x65, 0, 0, 0, 0, 0, 7, 0, 0, 0));
    expect(sent.status).toBe('ok');
    const reply = bytesOf(await device.transferIn(sam.layout.endpoints.BULK_IN, 64));
    expect([reply[0], reply[6]]).toEqual([0x81, 7]);
    // The PICC interface was not claimed: its endpoints refuse transfers.
    const picc = device.readers[0]!;
    await expect(device.transferOut(picc.layout.endpoints.BULK_OUT, new Uint8Array(10))).rejects.toMatchObject({
      name: 'NotFoundError',
    });
    picc.unplug();
    expect(device.unplugged).toBe(true);
    expect(sam.unplugged).toBe(true);
    expect(unplugged).toBe(1);
    await expect(device.open()).rejects.toMatchObject({ name: 'NotFoundError' });
  });
});
