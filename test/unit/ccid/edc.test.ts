import { describe, expect, it } from 'vitest';
import { appendEdc, checkEdc, computeEdc, crc16, edcLength, lrc } from '../../../src/ccid/edc.js';

const h = (s: string): Uint8Array =>
  Uint8Array.from(
    s
      .trim()
      .split(/\s+/)
      .map((x) => parseInt(x, 16)),
  );

describe('lrc', () => {
  it('is the XOR of every byte, 0 for no bytes', () => {
    expect(lrc(new Uint8Array(0))).toBe(0);
    expect(lrc(h('5A'))).toBe(0x5a);
    expect(lrc(h('0F F0 FF'))).toBe(0x00);
  });

  it('is the XOR of every byte for long blocks too (taken by words), at every offset in their buffer', () => {
    const buffer = new ArrayBuffer(512);
    const all = new Uint8Array(buffer);
    for (let i = 0; i < all.length; i++) all[i] = (i * 131 + 7) & 0xff;
    for (let offset = 0; offset < 8; offset++) {
      for (const length of [127, 128, 129, 130, 131, 258, 259, 500]) {
        const block = new Uint8Array(buffer, offset, length);
        let x = 0;
        for (const b of block) x ^= b;
        expect(lrc(block)).toBe(x);
        const flipped = block.slice();
        flipped[length >> 1]! ^= 0x10;
        expect(lrc(flipped)).toBe(x ^ 0x10);
      }
    }
  });

  it('is right for long blocks of different buffers in turn, and of a buffer that grew since its last block', () => {
    const bytewise = (block: Uint8Array) => block.reduce((x, b) => x ^ b, 0);
    const fill = (a: Uint8Array, seed: number) => a.forEach((_, i) => (a[i] = (i * seed + 3) & 0xff));
    const a = new Uint8Array(300);
    const b = new Uint8Array(400);
    fill(a, 17);
    fill(b, 29);
    for (let round = 0; round < 3; round++) {
      expect(lrc(a.subarray(0, 259))).toBe(bytewise(a.subarray(0, 259)));
      expect(lrc(b.subarray(5, 305))).toBe(bytewise(b.subarray(5, 305)));
    }
    // A resizable ArrayBuffer (ES2024; the project's type library predates it).
    type Resizable = ArrayBuffer & { resize(n: number): void };
    const Resizable = ArrayBuffer as unknown as new (n: number, o: object) => Resizable;
    const growing = new Resizable(256, { maxByteLength: 1024 });
    fill(new Uint8Array(growing), 7);
    expect(lrc(new Uint8Array(growing, 0, 200))).toBe(bytewise(new Uint8Array(growing, 0, 200)));
    growing.resize(1024);
    const far = new Uint8Array(growing, 600, 300);
    fill(far, 11);
    expect(lrc(far)).toBe(bytewise(far));
  });

  // Blocks from ANSSI-FR/Open-ISO7816-Stack tests/reader_tests_apdu_t1.c (ISO 7816-3 Annex A examples).
  it.each([
    ['00 00 0F 00 A4 04 00 0A 45 75 74 77 74 75 36 41 70 70', 0xe0],
    ['00 00 02 90 00', 0x92],
    ['00 40 02 90 00', 0xd2],
    ['00 00 05 00 A4 04 00 05', 0xa0],
    ['00 C3 01 02', 0xc0],
    ['00 E1 01 0A', 0xea],
    ['00 20 0A 00 A4 04 00 16 75 36 41 70 70', 0x9e],
  ])('matches the LRC of the Annex A block %s', (body, expected) => {
    expect(lrc(h(body))).toBe(expected);
  });
});

describe('crc16', () => {
  it('gives the catalogue check value of CRC-16/MCRF4XX for "123456789"', () => {
    expect(crc16(new TextEncoder().encode('123456789'))).toBe(0x6f91);
  });

  it('starts from 0xFFFF: the CRC of no bytes is the preset', () => {
    expect(crc16(new Uint8Array(0))).toBe(0xffff);
  });

  // Blocks exchanged between libccid, a Gemalto TPDU reader and a CRC card (OsEID doc/T1_CRC.txt trace).
  it.each([
    ['00 C1 01 FE', '54 4E'],
    ['00 E1 01 FE', '57 75'],
    ['00 00 05 00 A4 00 00 00', 'B8 DA'],
    ['00 20 14 6F 17 81 02 7F FF 82 01 38 83 02 3F 00 86 03 11 3F FF 85 02', '10 29'],
    ['00 90 00', '20 6E'],
    ['00 60 07 00 02 8A 01 AA 90 00', 'A6 33'],
    ['00 80 00', 'B5 FF'],
    ['00 00 00', '39 33'],
  ])('computes the CRC a real reader and card exchanged for %s, high byte first', (body, edc) => {
    expect(Array.from(computeEdc(h(body), 'crc'))).toEqual(Array.from(h(edc)));
  });
});

describe('appendEdc / checkEdc', () => {
  it('appends one LRC byte or two CRC bytes', () => {
    expect(edcLength('lrc')).toBe(1);
    expect(edcLength('crc')).toBe(2);
    expect(Array.from(appendEdc(h('00 00 02 90 00'), 'lrc'))).toEqual([0, 0, 2, 0x90, 0, 0x92]);
    expect(Array.from(appendEdc(h('00 C1 01 FE'), 'crc'))).toEqual([0, 0xc1, 1, 0xfe, 0x54, 0x4e]);
  });

  it('accepts a block whose EDC matches and rejects any single flipped bit', () => {
    for (const kind of ['lrc', 'crc'] as const) {
      const block = appendEdc(h('00 40 07 75 74 77 74 75 90 00'), kind);
      expect(checkEdc(block, kind)).toBe(true);
      for (let i = 0; i < block.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const damaged = block.slice();
          damaged[i] = (damaged[i] ?? 0) ^ (1 << bit);
          expect(checkEdc(damaged, kind)).toBe(false);
        }
      }
    }
  });

  it('rejects the CRC when its two bytes are swapped (the byte order matters)', () => {
    expect(checkEdc(h('00 C1 01 FE 4E 54'), 'crc')).toBe(false);
    expect(checkEdc(h('00 C1 01 FE 54 4E'), 'crc')).toBe(true);
  });

  it('rejects blocks too short to hold anything before the EDC', () => {
    expect(checkEdc(new Uint8Array(0), 'lrc')).toBe(false);
    expect(checkEdc(h('00'), 'lrc')).toBe(false);
    expect(checkEdc(h('FF FF'), 'crc')).toBe(false);
  });
});
