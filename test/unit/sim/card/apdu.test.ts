import { describe, expect, it } from 'vitest';
import { parseCommandApdu } from '../../../../src/sim/card/apdu.js';

const hex = (s: string): Uint8Array =>
  s === '' ? new Uint8Array(0) : Uint8Array.from(s.split(' ').map((b) => parseInt(b, 16)));

describe('command APDU parsing (ISO 7816-4 §5.1)', () => {
  it('case 1: header only', () => {
    const c = parseCommandApdu(hex('00 00 00 00'))!;
    expect(c).toMatchObject({ cla: 0, ins: 0, p1: 0, p2: 0, ne: 0, extended: false });
    expect(c.data.length).toBe(0);
  });

  it('case 2S: Le 00 means 256', () => {
    expect(parseCommandApdu(hex('00 84 00 00 08'))!.ne).toBe(8);
    expect(parseCommandApdu(hex('00 84 00 00 00'))!.ne).toBe(256);
  });

  it('case 3S and 4S: Lc then data, then an optional Le', () => {
    const c3 = parseCommandApdu(hex('80 EE 00 00 03 01 02 03'))!;
    expect(Array.from(c3.data)).toEqual([1, 2, 3]);
    expect(c3.ne).toBe(0);
    const c4 = parseCommandApdu(hex('80 EE 00 00 03 01 02 03 00'))!;
    expect(Array.from(c4.data)).toEqual([1, 2, 3]);
    expect(c4.ne).toBe(256);
  });

  it('case 2E: 00 then a two-byte Le, 0000 meaning 65536', () => {
    expect(parseCommandApdu(hex('00 84 00 00 00 01 00'))).toMatchObject({ ne: 256, extended: true });
    expect(parseCommandApdu(hex('00 84 00 00 00 00 00'))!.ne).toBe(65536);
  });

  it('case 3E and 4E: 00, a two-byte Lc, data, then an optional two-byte Le', () => {
    const c3 = parseCommandApdu(hex('80 EE 00 00 00 00 02 AA BB'))!;
    expect(c3).toMatchObject({ ne: 0, extended: true });
    expect(Array.from(c3.data)).toEqual([0xaa, 0xbb]);
    const c4 = parseCommandApdu(hex('80 EE 00 00 00 00 02 AA BB 00 00'))!;
    expect(c4.ne).toBe(65536);
    expect(Array.from(c4.data)).toEqual([0xaa, 0xbb]);
  });

  it('the data field is a view of the input, not a copy', () => {
    const bytes = hex('80 EE 00 00 02 01 02');
    const c = parseCommandApdu(bytes)!;
    expect(c.data.buffer).toBe(bytes.buffer);
  });

  for (const bad of [
    '',
    '00',
    '00 A4 04',
    '00 A4 04 00 02 3F',
    '00 A4 04 00 02 3F 00 00 00',
    '00 84 00 00 00 01',
    '80 EE 00 00 00 00 00 01',
    '80 EE 00 00 00 00 02 AA',
    '80 EE 00 00 00 00 02 AA BB 00',
  ]) {
    it(`rejects malformed "${bad}"`, () => {
      expect(parseCommandApdu(hex(bad))).toBeNull();
    });
  }
});
