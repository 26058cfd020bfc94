import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSimulatedReader } from '../../src/sim/reader/device.js';
import type { ProfileId } from '../../src/sim/reader/profiles.js';
import { TestCard } from '../unit/sim/reader/test-card.js';

const PROFILE_IDS: ProfileId[] = ['gempc-twin', 'short-apdu', 'extended-apdu', 'two-slot', 'vendor-class'];
const RESPONSE_TYPES = new Set([0x80, 0x81, 0x82, 0x83, 0x84]);
const COMMAND_TYPES = [0x62, 0x63, 0x65, 0x6f, 0x6c, 0x6d, 0x61, 0x6b, 0x6e, 0x6a, 0x69, 0x71, 0x73];

/** A well-framed command: dwLength right, any type (mostly real ones), any slot/seq/bytes 7-9, random payload. */
const framedCommand = fc
  .record({
    type: fc.oneof(fc.constantFrom(...COMMAND_TYPES), fc.integer({ min: 0, max: 255 })),
    slot: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })),
    seq: fc.integer({ min: 0, max: 255 }),
    b7: fc.integer({ min: 0, max: 255 }),
    b8: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })),
    b9: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })),
    data: fc.uint8Array({ maxLength: 300 }),
  })
  .map((c) => {
    const out = new Uint8Array(10 + c.data.length);
    out[0] = c.type;
    new DataView(out.buffer).setUint32(1, c.data.length, true);
    out[5] = c.slot;
    out[6] = c.seq;
    out[7] = c.b7;
    out[8] = c.b8;
    out[9] = c.b9;
    out.set(c.data, 10);
    return out;
  });

describe('simulated reader on random input', () => {
  it('answers every well-framed command with one well-formed RDR_to_PC message echoing bSlot and bSeq', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...PROFILE_IDS),
        fc.boolean(),
        fc.array(framedCommand, { minLength: 1, maxLength: 12 }),
        async (profile, t1, commands) => {
          const reader = createSimulatedReader(profile);
          await reader.open();
          await reader.claimInterface(0);
          reader.insertCard(new TestCard({ protocol: t1 ? 1 : 0 }));
          for (const command of commands) {
            // A PIN-pad Secure must not wait for the user: old, new and confirmation PINs are typed beforehand.
            reader.keypad.clear();
            for (let k = 0; k < 3; k++) reader.keypad.enter('1234');
            const out = await reader.transferOut(1, command);
            expect(out.status).toBe('ok');
            const r = await reader.transferIn(2, 70000);
            expect(r.status).toBe('ok');
            const dv = r.data!;
            expect(dv.byteLength).toBeGreaterThanOrEqual(10);
            expect(RESPONSE_TYPES.has(dv.getUint8(0))).toBe(true);
            expect(dv.getUint32(1, true)).toBe(dv.byteLength - 10);
            expect(dv.getUint8(5)).toBe(command[5]);
            expect(dv.getUint8(6)).toBe(command[6]);
            const status = dv.getUint8(7);
            expect(status & 0x03).not.toBe(3);
            expect(status & 0x3c).toBe(0);
            // Time extensions only come from a card asking for WTX, which TestCard does not here.
            expect(status & 0xc0).not.toBe(0xc0);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('never throws or hangs on random bytes: every transfer gets an answer or a documented failure', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 80 }), { minLength: 1, maxLength: 10 }),
        async (transfers) => {
          const reader = createSimulatedReader('extended-apdu');
          await reader.open();
          await reader.claimInterface(0);
          reader.insertCard(new TestCard({ protocol: 1 }));
          for (const bytes of transfers) {
            reader.keypad.clear();
            for (let k = 0; k < 3; k++) reader.keypad.enter('1234');
            const out = await reader.transferOut(1, bytes);
            expect(out.status).toBe('ok');
            const r = await reader.transferIn(2, 70000);
            const dv = r.data!;
            expect(dv.byteLength).toBeGreaterThanOrEqual(10);
            expect(RESPONSE_TYPES.has(dv.getUint8(0))).toBe(true);
            expect(dv.getUint32(1, true)).toBe(dv.byteLength - 10);
            if (bytes.length >= 7) expect(dv.getUint8(6)).toBe(bytes[6]);
          }
        },
      ),
      { numRuns: 80 },
    );
  });
});
