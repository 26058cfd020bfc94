import { describe, expect, it } from 'vitest';
import { PROFILES, type ProfileId } from '../../../../src/sim/reader/profiles.js';
import { encodeCcidClassDescriptor } from '../../../../src/sim/reader/descriptors.js';
import { openReader } from './ccid-helpers.js';

const getDescriptor = (type: number, index = 0) =>
  ({ requestType: 'standard', recipient: 'device', request: 6, value: (type << 8) | index, index: 0 }) as const;

function bytesOf(r: USBInTransferResult): Uint8Array {
  return new Uint8Array(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength);
}

/** Walks a configuration descriptor: [type, offset, bytes] of each descriptor. */
function walk(config: Uint8Array): { type: number; offset: number; body: Uint8Array }[] {
  const out = [];
  for (let at = 0; at < config.length;) {
    const len = config[at]!;
    out.push({ type: config[at + 1]!, offset: at, body: config.subarray(at, at + len) });
    if (len === 0) break;
    at += len;
  }
  return out;
}

describe('device descriptor', () => {
  it('carries the GemPC Twin VID:PID and bcdDevice from the libccid dump', async () => {
    const reader = await openReader('gempc-twin');
    const d = bytesOf(await reader.controlTransferIn(getDescriptor(1), 18));
    expect(d.length).toBe(18);
    expect(d[0]).toBe(18);
    expect(d[1]).toBe(1);
    expect(d[8]! | (d[9]! << 8)).toBe(0x08e6);
    expect(d[10]! | (d[11]! << 8)).toBe(0x3437);
    expect(d[12]! | (d[13]! << 8)).toBe(0x0100);
    expect(reader.vendorId).toBe(0x08e6);
    expect(reader.productId).toBe(0x3437);
    expect(reader.manufacturerName).toBe('Gemplus');
  });

  it('returns only the first wLength bytes when asked for less', async () => {
    const reader = await openReader('gempc-twin');
    const d = bytesOf(await reader.controlTransferIn(getDescriptor(1), 8));
    expect(d.length).toBe(8);
    expect(d[1]).toBe(1);
  });
});

describe('configuration descriptor', () => {
  it.each(Object.keys(PROFILES) as ProfileId[])(
    '%s: wTotalLength matches and the 54-byte CCID descriptor is where the profile says',
    async (id) => {
      const reader = await openReader(id);
      const profile = PROFILES[id];
      const head = bytesOf(await reader.controlTransferIn(getDescriptor(2), 9));
      expect(head.length).toBe(9);
      const total = head[2]! | (head[3]! << 8);
      const config = bytesOf(await reader.controlTransferIn(getDescriptor(2), total));
      expect(config.length).toBe(total);
      const parts = walk(config);
      expect(parts.reduce((n, p) => n + p.body.length, 0)).toBe(total);
      const types = parts.map((p) => p.type);
      const endpoints = profile.interruptEndpoint ? 3 : 2;
      expect(types.filter((t) => t === 5)).toHaveLength(endpoints);
      const ccidIndex = types.indexOf(0x21);
      const expectedIndex = profile.descriptorPlacement === 'interface' ? 2 : 2 + endpoints;
      expect(ccidIndex).toBe(expectedIndex);
      const ccid = parts[ccidIndex]!.body;
      expect(ccid.length).toBe(54);
      expect(ccid).toEqual(encodeCcidClassDescriptor(profile.ccid));
      const iface = parts[1]!.body;
      expect(iface[1]).toBe(4);
      expect(iface[4]).toBe(endpoints);
      expect(iface[5]).toBe(profile.interfaceClass);
      const dv = new DataView(ccid.buffer, ccid.byteOffset, 54);
      expect(dv.getUint32(40, true)).toBe(profile.ccid.dwFeatures);
      expect(dv.getUint32(44, true)).toBe(profile.ccid.dwMaxCCIDMessageLength);
      expect(ccid[4]).toBe(profile.ccid.bMaxSlotIndex);
    },
  );

  it('packs the GemPC Twin class descriptor field by field as the dump prints it', () => {
    const b = encodeCcidClassDescriptor(PROFILES['gempc-twin'].ccid);
    const dv = new DataView(b.buffer);
    expect(b[0]).toBe(0x36);
    expect(b[1]).toBe(0x21);
    expect(dv.getUint16(2, true)).toBe(0x0100);
    expect(b[5]).toBe(0x07); // bVoltageSupport
    expect(dv.getUint32(6, true)).toBe(3); // dwProtocols
    expect(dv.getUint32(10, true)).toBe(4000); // dwDefaultClock kHz
    expect(dv.getUint32(19, true)).toBe(10752); // dwDataRate
    expect(dv.getUint32(23, true)).toBe(344086); // dwMaxDataRate
    expect(dv.getUint32(28, true)).toBe(254); // dwMaxIFSD
    expect(b[52]).toBe(0x00); // bPINSupport
    expect(b[53]).toBe(1); // bMaxCCIDBusySlots
  });

  it('the PIN pad profile announces PIN verify+modify and a 2x16 LCD', () => {
    const b = encodeCcidClassDescriptor(PROFILES.pinpad.ccid);
    expect(b[50]! | (b[51]! << 8)).toBe(0x0210);
    expect(b[52]).toBe(0x03);
  });
});

describe('WebUSB configuration objects', () => {
  it('lists bulk-OUT 1, bulk-IN 2 and interrupt-IN 3', async () => {
    const reader = await openReader('gempc-twin');
    const alt = reader.configuration!.interfaces[0]!.alternate;
    expect(alt.interfaceClass).toBe(0x0b);
    expect(alt.endpoints.map((e) => [e.endpointNumber, e.direction, e.type])).toEqual([
      [1, 'out', 'bulk'],
      [2, 'in', 'bulk'],
      [3, 'in', 'interrupt'],
    ]);
    expect(reader.configuration!.interfaces[0]!.claimed).toBe(true);
  });

  it('has no interrupt endpoint on the no-interrupt profile and vendor class 0xFF on the vendor profile', async () => {
    const a = await openReader('no-interrupt');
    expect(a.configuration!.interfaces[0]!.alternate.endpoints).toHaveLength(2);
    const b = await openReader('vendor-class');
    expect(b.configuration!.interfaces[0]!.alternate.interfaceClass).toBe(0xff);
  });
});

describe('string descriptors', () => {
  it('gives the LANGID list, then UTF-16LE product and interface strings', async () => {
    const reader = await openReader('extended-apdu');
    const langs = bytesOf(await reader.controlTransferIn(getDescriptor(3, 0), 255));
    expect(Array.from(langs)).toEqual([4, 3, 0x09, 0x04]);
    const device = bytesOf(await reader.controlTransferIn(getDescriptor(1), 18));
    const product = bytesOf(await reader.controlTransferIn(getDescriptor(3, device[15]!), 255));
    expect(product[1]).toBe(3);
    expect(new TextDecoder('utf-16le').decode(product.subarray(2))).toBe('OMNIKEY 3x21 Smart Card Reader');
    const config = bytesOf(await reader.controlTransferIn(getDescriptor(2), 255));
    const iInterface = config[9 + 8]!;
    expect(iInterface).not.toBe(0);
    const name = bytesOf(await reader.controlTransferIn(getDescriptor(3, iInterface), 255));
    expect(new TextDecoder('utf-16le').decode(name.subarray(2))).toBe('OMNIKEY 3x21 Smart Card Reader');
  });

  it('stalls on a string index the reader does not have, and reports the serial number it was given', async () => {
    const reader = await openReader('gempc-twin', { serialNumber: 'SIM-0001' });
    expect((await reader.controlTransferIn(getDescriptor(3, 9), 255)).status).toBe('stall');
    expect(reader.serialNumber).toBe('SIM-0001');
    const device = bytesOf(await reader.controlTransferIn(getDescriptor(1), 18));
    const serial = bytesOf(await reader.controlTransferIn(getDescriptor(3, device[16]!), 255));
    expect(new TextDecoder('utf-16le').decode(serial.subarray(2))).toBe('SIM-0001');
  });
});

describe('CCID class requests (CCID 1.1 §5.3)', () => {
  const classIn = (request: number) =>
    ({ requestType: 'class', recipient: 'interface', request, value: 0, index: 0 }) as const;

  it('GET_CLOCK_FREQUENCIES and GET_DATA_RATES answer little-endian dwords from the dump', async () => {
    const reader = await openReader('gempc-twin');
    const clocks = (await reader.controlTransferIn(classIn(2), 256)).data!;
    expect(clocks.byteLength).toBe(4);
    expect(clocks.getUint32(0, true)).toBe(4000);
    const rates = (await reader.controlTransferIn(classIn(3), 1024)).data!;
    expect(rates.byteLength).toBe(40 * 4);
    expect(rates.getUint32(0, true)).toBe(10753);
    expect(rates.getUint32(39 * 4, true)).toBe(344086);
  });

  it('stalls them on a reader whose dump says it does not support them', async () => {
    const reader = await openReader('vendor-class');
    expect((await reader.controlTransferIn(classIn(2), 256)).status).toBe('stall');
    expect((await reader.controlTransferIn(classIn(3), 256)).status).toBe('stall');
  });
});
