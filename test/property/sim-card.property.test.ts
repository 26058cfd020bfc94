import fc from 'fast-check';
import { describe, it } from 'vitest';
import { parseCommandApdu } from '../../src/sim/card/apdu.js';
import { CardApplications } from '../../src/sim/card/applets.js';
import { buildAtr, CardProfileError, type AtrProfile } from '../../src/sim/card/atr.js';
import { answerPps } from '../../src/sim/card/pps.js';
import { dualProtocolCard, helloWorldCardT0, helloWorldCardT1 } from '../../src/sim/card/profiles.js';

type Edc = 'lrc' | 'crc';

function crc(bytes: ArrayLike<number>, end: number): number {
  let v = 0xffff;
  for (let i = 0; i < end; i++) {
    v ^= bytes[i]!;
    for (let b = 0; b < 8; b++) v = v & 1 ? (v >>> 1) ^ 0x8408 : v >>> 1;
  }
  return v;
}

function withEdc(bytes: number[], edc: Edc): Uint8Array {
  if (edc === 'crc') {
    const v = crc(bytes, bytes.length);
    return Uint8Array.from([...bytes, v >> 8, v & 0xff]);
  }
  return Uint8Array.from([...bytes, bytes.reduce((a, b) => a ^ b, 0)]);
}

/** A card block is well formed: LEN fits the frame, is not FF, and the EDC is right. */
function wellFormedBlock(b: Uint8Array, edc: Edc): boolean {
  const n = edc === 'crc' ? 2 : 1;
  if (b.length < 3 + n || b[2] === 0xff || b.length !== 3 + b[2]! + n) return false;
  const body = Array.from(b.subarray(0, b.length - n));
  return withEdc(body, edc).every((v, i) => v === b[i]);
}

/** A T=0 answer is nothing, one procedure byte asking for data, or ends with SW1 SW2 (SW1 6x except 60, or 9x). */
function wellFormedT0(answer: Uint8Array): boolean {
  if (answer.length === 0) return true;
  let i = 0;
  while (answer[i] === 0x60) i++;
  if (answer.length - i === 1) return true;
  const sw1 = answer[answer.length - 2]!;
  return ((sw1 & 0xf0) === 0x60 && sw1 !== 0x60) || (sw1 & 0xf0) === 0x90;
}

/** Frames the T=1 property feeds: random bytes, or valid frames with random PCB and INF (to reach deeper states). */
const t1Input = (edc: Edc): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc
      .record({
        nad: fc.constantFrom(0, 0x12, 0x21),
        pcb: fc.oneof(
          fc.constantFrom(0x00, 0x20, 0x40, 0x60, 0x80, 0x90, 0x81, 0x92, 0xc0, 0xc1, 0xc2, 0xc3, 0xe3),
          fc.integer({ min: 0, max: 255 }),
        ),
        inf: fc.uint8Array({ maxLength: 40 }),
      })
      .map(({ nad, pcb, inf }) => withEdc([nad, pcb, inf.length, ...inf], edc)),
  );

describe('simulated card fed arbitrary input', () => {
  for (const edc of ['lrc', 'crc'] as const) {
    it(`T=1 (${edc}): any block sequence gets a well-formed block or null, never an exception`, () => {
      fc.assert(
        fc.property(fc.array(t1Input(edc), { maxLength: 12 }), fc.integer({ min: 1, max: 40 }), (blocks, ifsc) => {
          const card = helloWorldCardT1({ edc, ifsc });
          card.activate('A');
          for (const b of blocks) {
            const answer = card.t1Block(b);
            if (answer !== null && !wellFormedBlock(answer, edc)) return false;
          }
          return true;
        }),
        { numRuns: 200 },
      );
    });
  }

  it('T=0: any sequence of transmissions gets a well-formed answer, never an exception', () => {
    const header = fc
      .tuple(
        fc.constantFrom(0x00, 0x80, 0xff, 0x01),
        fc.constantFrom(0xa4, 0x84, 0xee, 0x20, 0x00, 0xc0, 0x60, 0x9a, 0xb0),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 20 }),
      )
      .map((h) => Uint8Array.from(h));
    fc.assert(
      fc.property(
        fc.array(fc.oneof(header, fc.uint8Array({ maxLength: 24 })), { maxLength: 12 }),
        fc.constantFrom('ins', 'complement', 'mixed'),
        fc.integer({ min: 0, max: 2 }),
        (inputs, procedure, nulls) => {
          const card = helloWorldCardT0({ t0DataProcedure: procedure, faults: { t0NullBytes: nulls } });
          card.activate('A');
          return inputs.every((bytes) => wellFormedT0(card.t0Transmit(bytes)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('PPS: any request gets null or a response with PPSS FF, the same T and a right PCK', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), (request) => {
        const card = dualProtocolCard();
        card.activate('A');
        const r = card.pps(request);
        if (r === null) return true;
        return r[0] === 0xff && (r[1]! & 0x0f) === (request[1]! & 0x0f) && r.reduce((a, b) => a ^ b, 0) === 0;
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 3, maxLength: 6 }), fc.integer({ min: 0, max: 255 }), (req, ta1) => {
        const outcome = answerPps(req, { protocols: [0, 1], ta1 });
        return outcome === null || outcome.response.reduce((a, b) => a ^ b, 0) === 0;
      }),
      { numRuns: 300 },
    );
  });

  it('APDUs: any bytes get a status word; those that are no APDU get 67 00', () => {
    const apdu = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc
        .tuple(
          fc.constantFrom(0x00, 0x80),
          fc.constantFrom(0xa4, 0x84, 0xee, 0x20, 0x00),
          fc.uint8Array({ minLength: 2, maxLength: 40 }),
        )
        .map(([cla, ins, rest]) => Uint8Array.from([cla, ins, ...rest])),
    );
    fc.assert(
      fc.property(fc.array(apdu, { maxLength: 8 }), (apdus) => {
        const apps = new CardApplications({ seed: 1 });
        for (const a of apdus) {
          const r = apps.processApdu(a);
          if (r.sw < 0x6100 || r.sw > 0x9fff) return false;
          if (parseCommandApdu(a) === null && r.sw !== 0x6700) return false;
          const c = parseCommandApdu(a);
          if (c !== null && c.ne > 0 && r.data.length > c.ne) return false;
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('ATR builder: any profile gives a CardProfileError or an ATR whose TCK, when present, zeroes the XOR', () => {
    const profile: fc.Arbitrary<AtrProfile> = fc.record(
      {
        protocols: fc.constantFrom<AtrProfile['protocols']>([0], [1], [0, 1], [1, 0], []),
        ta1: fc.integer({ min: 0, max: 260 }),
        tc1: fc.integer({ min: 0, max: 255 }),
        wi: fc.integer({ min: 0, max: 255 }),
        t1: fc.record(
          {
            ifsc: fc.integer({ min: 0, max: 255 }),
            bwi: fc.integer({ min: 0, max: 12 }),
            edc: fc.constantFrom<Edc>('lrc', 'crc'),
          },
          { requiredKeys: [] },
        ),
        classes: fc.subarray(['A', 'B', 'C'] as const),
        historical: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 16 }),
      },
      { requiredKeys: ['protocols'] },
    );
    fc.assert(
      fc.property(profile, (p) => {
        let atr: Uint8Array;
        try {
          atr = buildAtr(p);
        } catch (e) {
          return e instanceof CardProfileError;
        }
        const onlyT0 = p.protocols.length === 1 && p.protocols[0] === 0 && p.classes === undefined;
        const xor = atr.subarray(1).reduce((a, b) => a ^ b, 0);
        return atr.length <= 33 && (atr[0] === 0x3b || atr[0] === 0x3f) && (onlyT0 || xor === 0);
      }),
      { numRuns: 300 },
    );
  });
});
