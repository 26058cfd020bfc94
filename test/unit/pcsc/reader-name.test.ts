import { describe, expect, it } from 'vitest';
import {
  MAX_READER_NAME_PREFIX_BYTES,
  buildReaderName,
  firstFreeIndex,
  readerNameIndex,
} from '../../../src/pcsc/reader-name.js';

describe('buildReaderName', () => {
  it('appends index and slot as two uppercase hex digits', () => {
    expect(buildReaderName({ friendly: 'Gemalto GemPC Twin', index: 0, slot: 0 })).toBe('Gemalto GemPC Twin 00 00');
    expect(buildReaderName({ friendly: 'R', index: 10, slot: 0 })).toBe('R 0A 00');
  });

  it('names the slots of a two-slot reader 00 and 01', () => {
    expect(buildReaderName({ friendly: 'Dual', index: 0, slot: 0 })).toBe('Dual 00 00');
    expect(buildReaderName({ friendly: 'Dual', index: 0, slot: 1 })).toBe('Dual 00 01');
  });

  it('adds the interface string in brackets and the serial in parentheses', () => {
    expect(
      buildReaderName({
        friendly: 'Gemalto Prox-DU',
        interfaceString: 'Prox-DU Contact',
        serial: '09A00795',
        index: 0,
        slot: 0,
      }),
    ).toBe('Gemalto Prox-DU [Prox-DU Contact] (09A00795) 00 00');
    expect(buildReaderName({ friendly: 'R', serial: 'S1', index: 1, slot: 0 })).toBe('R (S1) 01 00');
  });

  it('leaves the serial out when the interface string already contains it', () => {
    expect(
      buildReaderName({
        friendly: 'Gemalto Prox-DU',
        interfaceString: 'Prox-DU Contact_09A00795',
        serial: '09A00795',
        index: 0,
        slot: 0,
      }),
    ).toBe('Gemalto Prox-DU [Prox-DU Contact_09A00795] 00 00');
  });

  it('replaces each UTF-8 byte of a non-ASCII interface character by a dot', () => {
    expect(buildReaderName({ friendly: 'R', interfaceString: 'Lecteur é€', index: 0, slot: 0 })).toBe(
      'R [Lecteur .....] 00 00',
    );
  });

  it('treats empty interface and serial strings as absent', () => {
    expect(buildReaderName({ friendly: 'R', interfaceString: '', serial: '', index: 0, slot: 0 })).toBe('R 00 00');
  });

  it('cuts the name to 121 bytes before " XX YY" so it fits pcscd\'s 128-byte buffer', () => {
    const name = buildReaderName({ friendly: 'A'.repeat(100), serial: 'B'.repeat(50), index: 0, slot: 0 });
    expect(MAX_READER_NAME_PREFIX_BYTES).toBe(121);
    expect(name).toBe(`${'A'.repeat(100)} (${'B'.repeat(19)} 00 00`);
    expect(name.length).toBe(127);
  });

  it('never cuts inside a multi-byte character', () => {
    const name = buildReaderName({ friendly: `${'A'.repeat(120)}é`, index: 0, slot: 0 });
    expect(name).toBe(`${'A'.repeat(120)} 00 00`);
    expect(new TextEncoder().encode(name).length).toBeLessThanOrEqual(127);
  });

  it('rejects index or slot values that do not fit two hex digits', () => {
    expect(() => buildReaderName({ friendly: 'R', index: 256, slot: 0 })).toThrow(RangeError);
    expect(() => buildReaderName({ friendly: 'R', index: 0, slot: -1 })).toThrow(RangeError);
    expect(() => buildReaderName({ friendly: 'R', index: 0.5, slot: 0 })).toThrow(RangeError);
  });
});

describe('firstFreeIndex', () => {
  it('returns the lowest index not in use', () => {
    expect(firstFreeIndex([])).toBe(0);
    expect(firstFreeIndex([0, 1, 3])).toBe(2);
    expect(firstFreeIndex(new Set([1]))).toBe(0);
  });

  it('returns undefined when all 16 reader contexts are taken', () => {
    expect(firstFreeIndex(Array.from({ length: 16 }, (_, i) => i))).toBeUndefined();
    expect(firstFreeIndex([0, 1], 2)).toBeUndefined();
  });
});

describe('readerNameIndex', () => {
  it('reads back the XX of a built name', () => {
    expect(readerNameIndex(buildReaderName({ friendly: 'R (x)', index: 0x0b, slot: 1 }))).toBe(0x0b);
    expect(readerNameIndex('no digits')).toBeUndefined();
  });
});
