import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  friendlyName,
  libccidReaderName,
  libccidReaderNames,
  unpackReaderNames,
} from '../../../src/ccid/reader-name.js';
import { LIBCCID_READER_COUNT, READER_WORD_MARKS } from '../../../src/ccid/reader-names.js';
import { packReaderNames, parseSupportedReaders } from '../../../scripts/gen-reader-names.mjs';

describe('friendlyName', () => {
  it('joins iManufacturer and iProduct with a space', () => {
    expect(friendlyName({ manufacturer: 'Gemalto', product: 'GemPC Twin' })).toBe('Gemalto GemPC Twin');
  });

  it("prefers libccid's name for a listed VID:PID, as pcscd shows it through libccid's Info.plist", () => {
    // 072F:90CC says "CCID USB Reader" in its USB strings; pcscd with libccid shows "ACS ACR 38U-CCID".
    expect(friendlyName({ manufacturer: 'ACS', product: 'CCID USB Reader', vendorId: 0x072f, productId: 0x90cc })).toBe(
      'ACS ACR 38U-CCID',
    );
    expect(libccidReaderName(0x08e6, 0x34d2)).toBe('SafeNet eToken Fusion');
    expect(libccidReaderName(0x08e6, 0x4433)).toBe('Gemalto Gemplus USB SmartCard Reader 433-Swap');
    expect(libccidReaderName(0x046a, 0x0005)).toBe('Cherry GmbH SmartBoard XX33');
    // Unsupported-section readers are in Info.plist too; disabled and duplicate entries are not.
    expect(libccidReaderName(0x072f, 0x2200)).toBe('ACS ACR122U PICC Interface');
    expect(libccidReaderName(0x1db2, 0x0600)).toBeUndefined();
    expect(libccidReaderName(0x1234, 0x5678)).toBeUndefined();
    expect(libccidReaderName(-1, 0x5678)).toBeUndefined();
    expect(libccidReaderName(0x10000, 0)).toBeUndefined();
  });

  it('holds every reader libccid lists, each with a name a C string can carry', () => {
    expect(libccidReaderNames().size).toBeGreaterThan(600);
    for (const [key, name] of libccidReaderNames()) {
      expect(key >>> 0).toBe(key);
      expect(name).toMatch(/^[\x20-\x7e]+$/);
      expect(name.length).toBeLessThan(121);
    }
  });

  it('uses whichever USB string exists, trimmed, and stops at a NUL', () => {
    expect(friendlyName({ product: '  Reader X  ' })).toBe('Reader X');
    expect(friendlyName({ manufacturer: 'ACME', product: '   ' })).toBe('ACME');
    expect(friendlyName({ manufacturer: 'ACME\0junk', product: 'Pad' })).toBe('ACME Pad');
  });

  it('never returns an empty name', () => {
    expect(friendlyName({ vendorId: 0x1a2b, productId: 0x3c })).toBe('CCID reader 1A2B:003C');
    expect(friendlyName({ vendorId: 0x1a2b, productId: 0x3c, manufacturer: ' ', product: '\0' })).toBe(
      'CCID reader 1A2B:003C',
    );
    expect(friendlyName({})).toBe('CCID reader');
  });
});

describe('the packed libccid table', () => {
  const listing = (names: ReadonlyMap<number, string>): string =>
    [...names]
      .sort(([a], [b]) => a - b)
      .map(([key, name]) => `${key.toString(16).padStart(8, '0')} ${name}\n`)
      .join('');

  it('gives every VID:PID the name the Map literal gave before the packing (libccid 5de6a96, 642 readers)', () => {
    // SHA-256 of "vvvvpppp name\n" lines, sorted, taken from the table as the unpacked Map literal it was until the
    // packed encoding (issue 14). Regenerating from a newer supported_readers.txt changes it: review, then update.
    const names = libccidReaderNames();
    expect(names.size).toBe(LIBCCID_READER_COUNT);
    expect(names.size).toBe(642);
    expect(createHash('sha256').update(listing(names)).digest('hex')).toBe(
      '4e902c4e3e384e2bfb33fad2289f39895b204f16780fae4f0144f82933fd1f0f',
    );
    expect(libccidReaderName(0x03eb, 0x6004)).toBe('ATMEL AT91SO CCID Smart Card Reader');
    expect(libccidReaderName(0x08e6, 0x3437)).toBe('Gemalto PC Twin Reader');
    expect(libccidReaderName(0xc1a6, 0x0131)).toBe('AvestUA AvestKey');
  });

  it('is unpacked once and kept', () => {
    expect(libccidReaderNames()).toBe(libccidReaderNames());
  });

  it('unpacks whatever the generator packs: any names, any keys, vendors and shared starts', () => {
    const nameChar = fc.constantFrom(..." #&()+,-./0123456789ABCDEFGHIJKLMNOPRSTUVWXYZ_abcdefghijklmnoprstuvwxyz@'");
    const name = fc.oneof(
      fc.string({ unit: nameChar, minLength: 1, maxLength: 120 }),
      fc.constantFrom('Gemalto PC Twin Reader', 'Gemalto USB Shell Token V2', 'Smart Card Reader Reader USB', 'ACS'),
    );
    const entries = fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), name), {
      maxLength: 60,
      selector: ([key]) => key,
    });
    fc.assert(
      fc.property(entries, (list) => {
        const sorted = [...list].sort(([a], [b]) => a - b);
        const { packed, words } = packReaderNames(sorted);
        expect(words.length).toBeLessThanOrEqual(READER_WORD_MARKS.length);
        expect([...unpackReaderNames(packed, words)]).toEqual(sorted);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps the first of two lines for one VID:PID and refuses a name the packing reserves characters of', () => {
    const entries = parseSupportedReaders('# comment\n0x08E6:0x3437:First name\n0x08E6:0x3437:Second\n');
    expect(entries).toEqual([[0x08e63437, 'First name']]);
    expect(() => packReaderNames([[1, 'a|b']])).toThrow(/reserves/);
    expect(() => packReaderNames([[1, 'a*b']])).toThrow(/reserves/);
    expect(() => parseSupportedReaders('0x08E6:3437:name\n')).toThrow(/0xVVVV:0xPPPP:name/);
  });
});
