import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeAtrFields, parseAtr } from '../../src/ccid/atr.js';
import type { ParsedAtr } from '../../src/ccid/atr.js';
import { DriverError, IFD } from '../../src/ifd/errors.js';

/** Random bytes, half of them starting with a valid TS so the parser gets past the first check. */
const atrLike = fc.oneof(
  fc.uint8Array({ maxLength: 48 }),
  fc
    .tuple(fc.constantFrom(0x3b, 0x3f), fc.uint8Array({ maxLength: 47 }))
    .map(([ts, rest]) => Uint8Array.of(ts, ...rest)),
);

function tryParse(bytes: Uint8Array): ParsedAtr | DriverError {
  try {
    return parseAtr(bytes);
  } catch (e) {
    if (e instanceof DriverError) return e;
    throw e;
  }
}

describe('parseAtr on random bytes', () => {
  it('returns a ParsedAtr or throws DriverError(IFD_COMMUNICATION_ERROR), nothing else', () => {
    fc.assert(
      fc.property(atrLike, (bytes) => {
        const r = tryParse(bytes);
        if (r instanceof DriverError) {
          expect(r.code).toBe(IFD.COMMUNICATION_ERROR);
          // Only unusable ATRs are refused: empty, bad TS, or no T0.
          expect(bytes.length < 2 || (bytes[0] !== 0x3b && bytes[0] !== 0x3f)).toBe(true);
        } else {
          expect(Array.from(r.bytes)).toEqual(Array.from(bytes));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('re-encodes TS, T0, interface bytes, historical bytes and TCK to the input, minus the extra bytes', () => {
    fc.assert(
      fc.property(atrLike, (bytes) => {
        const r = tryParse(bytes);
        if (r instanceof DriverError) return;
        const encoded = encodeAtrFields(r);
        expect(Array.from(encoded)).toEqual(Array.from(bytes.subarray(0, encoded.length)));
        expect(encoded.length + r.extraBytes.length).toBe(bytes.length);
        expect(Array.from(r.extraBytes)).toEqual(Array.from(bytes.subarray(encoded.length)));
      }),
      { numRuns: 500 },
    );
  });

  it('always yields values inside their ISO 7816-3 ranges', () => {
    fc.assert(
      fc.property(atrLike, (bytes) => {
        const r = tryParse(bytes);
        if (r instanceof DriverError) return;
        expect(r.fi).toBeGreaterThan(0);
        expect(r.di).toBeGreaterThan(0);
        expect(r.ifsc).toBeGreaterThanOrEqual(1);
        expect(r.ifsc).toBeLessThanOrEqual(254);
        expect(r.bwi).toBeLessThanOrEqual(9);
        expect(r.wi).toBeGreaterThan(0);
        expect(r.protocols.length).toBeGreaterThan(0);
        expect(new Set(r.protocols).size).toBe(r.protocols.length);
        expect(r.protocols).not.toContain(15);
        expect(r.groups.length).toBeGreaterThan(0);
        // A TCK is reported checked exactly when it was there.
        expect(r.tck === undefined).toBe(r.tckValid === undefined);
      }),
      { numRuns: 500 },
    );
  });

  it('flags a TCK as valid exactly when T0..TCK XOR to zero', () => {
    fc.assert(
      fc.property(atrLike, (bytes) => {
        const r = tryParse(bytes);
        if (r instanceof DriverError || r.tck === undefined) return;
        const end = encodeAtrFields(r).length;
        let x = 0;
        for (let i = 1; i < end; i++) x ^= bytes[i] ?? 0;
        expect(r.tckValid).toBe(x === 0);
      }),
      { numRuns: 500 },
    );
  });
});
