import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DriverError, IFD } from '../../src/ifd/errors.js';
import {
  parsePinModifyStructure,
  parsePinVerifyStructure,
  parseT1SecureReply,
  secureBodyFromModify,
  secureBodyFromVerify,
} from '../../src/ccid/part10.js';

/** Run `f`; return its value or the DriverError it threw; anything else fails the property. */
function outcome<T>(f: () => T): T | DriverError {
  try {
    return f();
  } catch (e) {
    if (e instanceof DriverError) return e;
    throw e;
  }
}

function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
}

describe('PIN structure parsers on random bytes', () => {
  it('parsePinVerifyStructure returns a structure or IFD_NOT_SUPPORTED, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const r = outcome(() => parsePinVerifyStructure(bytes));
        if (r instanceof DriverError) {
          expect(r.code).toBe(IFD.NOT_SUPPORTED);
        } else {
          expect(r.abData.length).toBe(bytes.length - 19);
          expect(r.ulDataLength).toBe(r.abData.length);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('parsePinModifyStructure returns a structure or IFD_NOT_SUPPORTED, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const r = outcome(() => parsePinModifyStructure(bytes));
        if (r instanceof DriverError) {
          expect(r.code).toBe(IFD.NOT_SUPPORTED);
        } else {
          expect(r.abData.length).toBe(bytes.length - 24);
          expect(r.bNumberMessage <= 3 || r.bNumberMessage === 0xff).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a well-formed verify structure parses and its secure body keeps header minus 5 bytes plus the APDU', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 15, maxLength: 15 }),
        fc.uint8Array({ minLength: 4, maxLength: 40 }),
        (head, apdu) => {
          const bytes = Uint8Array.of(...head, ...le32(apdu.length), ...apdu);
          const pvs = parsePinVerifyStructure(bytes);
          const { body } = secureBodyFromVerify(pvs);
          expect(body.length).toBe(1 + 14 + apdu.length);
          expect(body[0]).toBe(0);
          expect([...body.subarray(15)]).toEqual([...apdu]);
          expect(body[7]).toBeGreaterThanOrEqual(1);
          expect(body[7]).toBeLessThanOrEqual(7);
          expect(pvs.secureTimeoutMs).toBeGreaterThanOrEqual(90_000);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a well-formed modify structure gives a body with as many message indexes as bNumberMessage says', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 20, maxLength: 20 }),
        fc.constantFrom(0, 1, 2, 3, 0xff),
        fc.uint8Array({ minLength: 4, maxLength: 40 }),
        (head, numberMessage, apdu) => {
          head[11] = numberMessage;
          const bytes = Uint8Array.of(...head, ...le32(apdu.length), ...apdu);
          const { body } = secureBodyFromModify(parsePinModifyStructure(bytes));
          const indexes = numberMessage === 0 ? 1 : numberMessage >= 3 ? 3 : 2;
          expect(body.length).toBe(1 + 13 + indexes + 3 + apdu.length);
          expect(body[0]).toBe(1);
          expect(body[11]).toBe(numberMessage);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('parseT1SecureReply on random bytes', () => {
  it('returns a reply or IFD_COMMUNICATION_ERROR, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.constantFrom('lrc' as const, 'crc' as const), (bytes, edc) => {
        const r = outcome(() => parseT1SecureReply(bytes, edc));
        if (r instanceof DriverError) expect(r.code).toBe(IFD.COMMUNICATION_ERROR);
        else expect(['data', 'wtx', 'status']).toContain(r.kind);
      }),
      { numRuns: 300 },
    );
  });
});
