import { describe, expect, it } from 'vitest';
import { fromHex, hexByte, hexNumber, toHex } from '../../../src/util/hex.js';

describe('toHex', () => {
  it('writes two upper-case digits per byte, space-separated by default', () => {
    expect(toHex(Uint8Array.of(0x3b, 0x8e, 0x00, 0x0a, 0xff))).toBe('3B 8E 00 0A FF');
  });
  it('takes another separator and lower case', () => {
    expect(toHex(Uint8Array.of(0x90, 0x00), '')).toBe('9000');
    expect(toHex(Uint8Array.of(0xab, 0xcd), ':', 'lower')).toBe('ab:cd');
  });
  it('is empty for no bytes and honours a view’s offset', () => {
    expect(toHex(new Uint8Array(0))).toBe('');
    const view = new Uint8Array(Uint8Array.of(1, 2, 3, 4).buffer, 1, 2);
    expect(toHex(view)).toBe('02 03');
  });
});

describe('hexNumber and hexByte', () => {
  it('pads to the width and upper-cases', () => {
    expect(hexNumber(0x8e6, 4)).toBe('08E6');
    expect(hexNumber(0x3b)).toBe('3B');
    expect(hexNumber(0x12345, 4)).toBe('12345');
    expect(hexByte(0x1ff)).toBe('FF');
    expect(hexByte(5)).toBe('05');
  });
});

describe('fromHex', () => {
  it('reads either case, with or without whitespace', () => {
    expect(Array.from(fromHex('3B 8e\n00'))).toEqual([0x3b, 0x8e, 0]);
    expect(Array.from(fromHex('a0000000620301'))).toEqual([0xa0, 0, 0, 0, 0x62, 3, 1]);
    expect(fromHex('').length).toBe(0);
  });
  it('round-trips toHex', () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(fromHex(toHex(bytes))).toEqual(bytes);
    expect(fromHex(toHex(bytes, '', 'lower'))).toEqual(bytes);
  });
  it('refuses odd lengths and non-hex characters without echoing the text', () => {
    expect(() => fromHex('ABC')).toThrow(/odd number of digits \(3\)/);
    expect(() => fromHex('12 zz')).toThrow(/non-hex character at digit 2/);
    expect(() => fromHex('0x12')).toThrow(RangeError);
  });
});
