import { describe, expect, it } from 'vitest';
import { copyOfBytes, freshBytes } from '../../../src/util/fresh-bytes.js';

describe('freshBytes', () => {
  it('gives n zero bytes that no other array shares, across slab boundaries and for large sizes', () => {
    const arrays: Uint8Array[] = [];
    // 300 × 265 bytes spans more than one 64 KiB slab; the 10,000-byte ones are allocated on their own.
    for (let i = 0; i < 300; i++) arrays.push(freshBytes(i % 50 === 0 ? 10_000 : 265));
    for (const a of arrays) {
      expect(a.length === 265 || a.length === 10_000).toBe(true);
      expect(a.every((b) => b === 0)).toBe(true);
    }
    arrays.forEach((a, i) => a.fill(i & 0xff));
    arrays.forEach((a, i) => expect(a.every((b) => b === (i & 0xff))).toBe(true));
  });

  it('gives empty arrays for 0', () => {
    expect(freshBytes(0).length).toBe(0);
  });
});

describe('copyOfBytes', () => {
  const source = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);

  it.each([
    [0, 300],
    [10, 268],
    [3, 9],
    [299, 300],
    [5, 5],
    [290, 400],
  ])('copies bytes[%i, %i) as slice does', (start, end) => {
    const copy = copyOfBytes(source, start, end);
    expect(Array.from(copy)).toEqual(Array.from(source.slice(start, end)));
  });

  it('copies the whole array by default, and the copy does not follow later changes of the source', () => {
    const short = Uint8Array.of(1, 2, 3);
    const copy = copyOfBytes(short);
    short[0] = 9;
    expect(Array.from(copy)).toEqual([1, 2, 3]);
    const long = source.slice();
    const longCopy = copyOfBytes(long, 1);
    long[1] = 0xee;
    expect(longCopy[0]).toBe(source[1]);
  });
});
