import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DriverError } from '../../src/ifd/errors.js';
import { decodeInterrupt, decodeResponse, encodeXfrBlock, responseError } from '../../src/ccid/messages.js';

const NUM_RUNS = 300;

describe('message decoders on arbitrary bytes', () => {
  it('decodeResponse only returns a consistent response or throws DriverError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        let r;
        try {
          r = decodeResponse(bytes);
        } catch (e) {
          return e instanceof DriverError;
        }
        expect(r.data.length).toBe(bytes.length - 10);
        expect([0, 1, 2]).toContain(r.iccStatus);
        expect([0, 1, 2]).toContain(r.commandStatus);
        // Mapping any decoded failure to an error value never throws.
        expect(responseError(r, 'test')).toBeInstanceOf(DriverError);
        return true;
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('decodeResponse accepts exactly the messages whose dwLength matches', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 30 }),
        fc.constantFrom(0x00, 0x01, 0x02, 0x40, 0x42, 0x80),
        (data, status) => {
          const b = new Uint8Array(10 + data.length);
          b[0] = 0x80;
          new DataView(b.buffer).setUint32(1, data.length, true);
          b[7] = status;
          b.set(data, 10);
          expect(Array.from(decodeResponse(b).data)).toEqual(Array.from(data));
          if (b.length > 10) expect(() => decodeResponse(b.subarray(0, b.length - 1))).toThrow(DriverError);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('decodeInterrupt only returns or throws DriverError, for any slot count', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), fc.integer({ min: 0, max: 31 }), (bytes, maxSlot) => {
        try {
          const m = decodeInterrupt(bytes, maxSlot);
          if (m.kind === 'slot-change') expect(m.slots).toHaveLength(maxSlot + 1);
          return true;
        } catch (e) {
          return e instanceof DriverError;
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('XfrBlock encoding round-trips through a DataBlock-shaped decode', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 0xffff }),
        (data, slot, seq, level) => {
          const msg = encodeXfrBlock(slot, seq, data, 0, level);
          msg[0] = 0x80; // as if echoed back as a DataBlock
          msg[7] = 0;
          msg[8] = 0;
          const r = decodeResponse(msg);
          expect([r.slot, r.seq, r.param]).toEqual([slot, seq, level >> 8]);
          expect(Array.from(r.data)).toEqual(Array.from(data));
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});
