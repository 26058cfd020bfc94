import { describe, expect, it } from 'vitest';
import { crc16, edcLength, edcMatches, lrc, writeEdc } from '../../../../src/sim/card/edc.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('T=1 epilogue (ISO 7816-3 §11.4.4)', () => {
  it('LRC is the exclusive-or of the bytes: libccid WTX request 00 C3 01 09 carries CB', () => {
    expect(lrc(Uint8Array.of(0x00, 0xc3, 0x01, 0x09))).toBe(0xcb);
    expect(lrc(Uint8Array.of(0x00, 0xe3, 0x01, 0x09))).toBe(0xeb);
  });

  it('LRC of a long frame (taken by words) is still the exclusive-or of its bytes, at any offset and range', () => {
    const buffer = new ArrayBuffer(512);
    const all = new Uint8Array(buffer);
    for (let i = 0; i < all.length; i++) all[i] = (i * 97 + 3) & 0xff;
    for (let offset = 0; offset < 8; offset++) {
      for (const length of [128, 129, 131, 258, 260, 500]) {
        const frame = new Uint8Array(buffer, offset, length);
        for (const start of [0, 1, 2, 3]) {
          let x = 0;
          for (let i = start; i < length; i++) x ^= frame[i]!;
          expect(lrc(frame, start, length)).toBe(x);
        }
      }
    }
  });

  it('LRC of long frames is right for frames of different buffers in turn, and of a buffer that grew meanwhile', () => {
    const bytewise = (f: Uint8Array) => f.reduce((x, b) => x ^ b, 0);
    const fill = (f: Uint8Array, seed: number) => f.forEach((_, i) => (f[i] = (i * seed + 5) & 0xff));
    const a = new Uint8Array(300);
    const b = new Uint8Array(400);
    fill(a, 13);
    fill(b, 23);
    for (let round = 0; round < 3; round++) {
      expect(lrc(a, 0, 258)).toBe(bytewise(a.subarray(0, 258)));
      expect(lrc(b, 7, 307)).toBe(bytewise(b.subarray(7, 307)));
    }
    // A resizable ArrayBuffer (ES2024; the project's type library predates it).
    type Resizable = ArrayBuffer & { resize(n: number): void };
    const Resizable = ArrayBuffer as unknown as new (n: number, o: object) => Resizable;
    const growing = new Resizable(256, { maxByteLength: 1024 });
    fill(new Uint8Array(growing), 3);
    expect(lrc(new Uint8Array(growing, 0, 200))).toBe(bytewise(new Uint8Array(growing, 0, 200)));
    growing.resize(1024);
    const far = new Uint8Array(growing, 600, 300);
    fill(far, 19);
    expect(lrc(far)).toBe(bytewise(far));
  });

  it('CRC is the reflected x^16+x^12+x^5+1 from FFFF without final xor (check value of "123456789" is 6F91)', () => {
    expect(crc16(ascii('123456789'))).toBe(0x6f91);
    expect(crc16(new Uint8Array(0))).toBe(0xffff);
  });

  it('writes the CRC high byte first and recognises it', () => {
    const block = new Uint8Array(3 + 9 + 2);
    block.set(ascii('123456789'), 3);
    writeEdc('crc', block, 12);
    const v = crc16(block, 0, 12);
    expect(block[12]).toBe(v >>> 8);
    expect(block[13]).toBe(v & 0xff);
    expect(edcMatches('crc', block)).toBe(true);
    block[5] = block[5]! ^ 0x40;
    expect(edcMatches('crc', block)).toBe(false);
  });

  it('an LRC block whose check byte is changed no longer matches', () => {
    const block = Uint8Array.of(0x00, 0x00, 0x01, 0x42, 0);
    writeEdc('lrc', block, 4);
    expect(edcMatches('lrc', block)).toBe(true);
    block[4] = block[4]! ^ 1;
    expect(edcMatches('lrc', block)).toBe(false);
  });

  it('the epilogue is one byte for LRC and two for CRC', () => {
    expect(edcLength('lrc')).toBe(1);
    expect(edcLength('crc')).toBe(2);
    expect(edcMatches('crc', Uint8Array.of(1))).toBe(false);
  });
});
