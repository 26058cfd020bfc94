import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bitRate, isValidFiDi, parseAtr } from '../../../src/ccid/atr.js';
import type { ParsedAtr } from '../../../src/ccid/atr.js';
import { DriverError, IFD } from '../../../src/ifd/errors.js';
import type { IfdCode } from '../../../src/ifd/errors.js';
import {
  buildPpsRequest,
  checkPpsResponse,
  choosePps1,
  planProtocol,
  readerSupportsRate,
  setParametersBody,
  t1WaitingIntegers,
} from '../../../src/ccid/pps.js';
import type { CcidClassDescriptor } from '../../../src/ccid/types.js';

const bytes = (s: string): Uint8Array => Uint8Array.from(s.trim().split(/\s+/).filter(Boolean), (h) => parseInt(h, 16));
const atr = (s: string): ParsedAtr => parseAtr(bytes(s));
const hexOf = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).toUpperCase().padStart(2, '0')).join(' ');

/** Gemalto GemPC Twin, from libccid `readers/GemPCTwin.txt`: 4 MHz, up to 344086 bps, TPDU, dwFeatures 0x10230. */
const GEMPC_TWIN: CcidClassDescriptor = {
  bLength: 0x36,
  bDescriptorType: 0x21,
  bcdCCID: 0x0100,
  bMaxSlotIndex: 0,
  bVoltageSupport: 0x07,
  dwProtocols: 0x03,
  dwDefaultClock: 4000,
  dwMaximumClock: 4000,
  bNumClockSupported: 0,
  dwDataRate: 10752,
  dwMaxDataRate: 344086,
  bNumDataRatesSupported: 0,
  dwMaxIFSD: 254,
  dwSynchProtocols: 0,
  dwMechanical: 0,
  dwFeatures: 0x00010230,
  dwMaxCCIDMessageLength: 271,
  bClassGetResponse: 0,
  bClassEnvelope: 0,
  wLcdLayout: 0,
  bPINSupport: 0,
  bMaxCCIDBusySlots: 1,
};
/** The data rate table the GemPC Twin reports (same dump). */
const GEMPC_TWIN_RATES = [
  10753, 14337, 15625, 17204, 20833, 21505, 23438, 25806, 28674, 31250, 32258, 34409, 39063, 41667, 43011, 46875, 52083,
  53763, 57348, 62500, 64516, 68817, 71685, 78125, 83333, 86022, 93750, 104167, 107527, 114695, 125000, 129032, 143369,
  156250, 166667, 172043, 215054, 229391, 250000, 344086,
];
/** Omnikey CardMan 3121, libccid `readers/CardMan3121.txt`: 3 MHz, ≤ 96774 bps, dwFeatures 0x205B2 (has 0x80). */
const CARDMAN_3121: CcidClassDescriptor = {
  ...GEMPC_TWIN,
  dwDefaultClock: 3000,
  dwMaximumClock: 12000,
  dwDataRate: 8065,
  dwMaxDataRate: 96774,
  dwSynchProtocols: 7,
  dwFeatures: 0x000205b2,
};
/** ACS ACR122U, libccid `readers/ACR122U_PICC.txt`: dwFeatures 0x20040 (proprietary automatic negotiation). */
const ACR122U: CcidClassDescriptor = { ...GEMPC_TWIN, dwFeatures: 0x00020040 };

const YUBIKEY4 = atr('3B F8 13 00 00 81 31 FE 15 59 75 62 69 6B 65 79 34 D4'); // TA1 0x13, T=1 only
const PN65O = atr('3B 8A 80 01 00 31 C1 73 C8 40 00 00 90 00 90'); // no TA1, T=0 default, T=1 offered
const ESTEID3 = atr('3B FE 18 00 00 80 31 FE 45 45 73 74 45 49 44 20 76 65 72 20 31 2E 30 A8'); // TA1 0x18, T=0 default
const BELGIAN_EID = atr('3B 98 13 40 0A A5 03 01 01 01 AD 13 11'); // TA1 0x13, TC2 10, T=0 only

function driverErrorOf(f: () => unknown): DriverError {
  try {
    f();
  } catch (e) {
    if (e instanceof DriverError) return e;
    throw e;
  }
  throw new Error('expected a DriverError');
}
const expectDriverError = (f: () => unknown, code: IfdCode, message?: RegExp): void => {
  const e = driverErrorOf(f);
  expect(e.code).toBe(code);
  if (message) expect(e.message).toMatch(message);
};

describe('buildPpsRequest (ISO 7816-3 §9.2)', () => {
  it('builds PPSS, PPS0 and PCK without PPS1', () => {
    expect(hexOf(buildPpsRequest(0))).toBe('FF 00 FF');
    expect(hexOf(buildPpsRequest(1))).toBe('FF 01 FE');
  });

  it('sets PPS0 bit 5 and appends PPS1 when given', () => {
    expect(hexOf(buildPpsRequest(1, 0x13))).toBe('FF 11 13 FD');
    expect(hexOf(buildPpsRequest(0, 0x96))).toBe('FF 10 96 79');
  });

  it('makes every request XOR to zero', () => {
    for (const pps1 of [undefined, 0x11, 0x18, 0x94, 0xd7]) {
      for (const p of [0, 1] as const) expect(buildPpsRequest(p, pps1).reduce((a, b) => a ^ b, 0)).toBe(0);
    }
  });

  it('refuses a protocol other than T=0/T=1', () => {
    expectDriverError(() => buildPpsRequest(2 as 0 | 1), IFD.PROTOCOL_NOT_SUPPORTED, /T=2/);
  });

  it('refuses a PPS1 that is not a byte or names a reserved Fi/Di', () => {
    expectDriverError(() => buildPpsRequest(1, 0x70), IFD.ERROR_PTS_FAILURE);
    expectDriverError(() => buildPpsRequest(1, 0x10), IFD.ERROR_PTS_FAILURE);
    expectDriverError(() => buildPpsRequest(1, 0x111), IFD.ERROR_PTS_FAILURE);
    expectDriverError(() => buildPpsRequest(1, -1), IFD.ERROR_PTS_FAILURE);
  });
});

describe('checkPpsResponse (ISO 7816-3 §9.3)', () => {
  const request = bytes('FF 11 13 FD');

  it('accepts an echo and returns the protocol and PPS1', () => {
    expect(checkPpsResponse(request, bytes('FF 11 13 FD'))).toEqual({ ok: true, protocol: 1, pps1: 0x13 });
  });

  it('accepts an answer without PPS1 and returns the default Fi/Di 0x11', () => {
    expect(checkPpsResponse(request, bytes('FF 01 FE'))).toEqual({ ok: true, protocol: 1, pps1: 0x11 });
  });

  it('returns 0x11 when neither side carried PPS1', () => {
    expect(checkPpsResponse(bytes('FF 00 FF'), bytes('FF 00 FF'))).toEqual({ ok: true, protocol: 0, pps1: 0x11 });
  });

  it('accepts an answer leaving out PPS2 the request had', () => {
    expect(checkPpsResponse(bytes('FF 31 13 05 D8'), bytes('FF 11 13 FD'))).toMatchObject({ ok: true, pps1: 0x13 });
  });

  const failures: [string, string, RegExp][] = [
    ['another PPS1', 'FF 11 12 FC', /PPS1 0x12.*0x13/],
    ['another protocol', 'FF 10 13 FC', /T=0/],
    ['a wrong PCK', 'FF 11 13 FE', /PCK/],
    ['a wrong PPSS', 'FE 11 13 FC', /PPSS/],
    ['fewer bytes than PPS0 announces', 'FF 11 13', /announces 4/],
    ['more bytes than PPS0 announces', 'FF 01 13 ED', /announces 3/],
    ['nothing', '', /0 byte/],
    ['a PPS2 the request did not have', 'FF 31 13 00 DD', /PPS2/],
    ['the reserved bit 8 of PPS0', 'FF 91 13 7D', /reserved/],
  ];
  for (const [name, response, reason] of failures) {
    it(`fails on ${name}, saying why`, () => {
      const r = checkPpsResponse(request, bytes(response));
      expect(r.ok).toBe(false);
      expect(r.reason).toMatch(reason);
      expect(r.pps1).toBeUndefined();
    });
  }

  it('fails when the request itself is malformed', () => {
    expect(checkPpsResponse(bytes('FF 11'), bytes('FF 11 13 FD'))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/request/),
    });
  });
});

describe('readerSupportsRate (libccid find_baud_rate)', () => {
  it('accepts a rate within less than 2 bps of a table entry', () => {
    expect(readerSupportsRate(43010, [43011])).toBe(true);
    expect(readerSupportsRate(43012, [43011])).toBe(true);
    expect(readerSupportsRate(43013, [43011])).toBe(false);
    expect(readerSupportsRate(43009, [43011])).toBe(false);
    expect(readerSupportsRate(43010, [])).toBe(false);
  });
});

describe('choosePps1 (libccid IFDHSetProtocolParameters)', () => {
  it('proposes TA1 when its rate beats the default and the reader has no table', () => {
    // 1000 · 4000 · 4 / 372 = 43010 bps > 10752, ≤ 344086.
    expect(choosePps1(YUBIKEY4, GEMPC_TWIN)).toBe(0x13);
    expect(choosePps1(YUBIKEY4, GEMPC_TWIN, [])).toBe(0x13);
  });

  it('proposes TA1 when its rate is in the reader table within 2 bps', () => {
    expect(choosePps1(YUBIKEY4, GEMPC_TWIN, GEMPC_TWIN_RATES)).toBe(0x13); // 43010 vs 43011
  });

  it("proposes nothing when TA1's rate is missing from the reader table", () => {
    expect(choosePps1(YUBIKEY4, GEMPC_TWIN, [10753, 21505, 32258])).toBeUndefined();
  });

  it('proposes nothing without TA1, with TA1 = 0x11, or with a TA1 slower than the default', () => {
    expect(choosePps1(PN65O, GEMPC_TWIN)).toBeUndefined();
    expect(choosePps1(atr('3B 10 11'), GEMPC_TWIN)).toBeUndefined();
    expect(choosePps1(atr('3B 10 01'), GEMPC_TWIN)).toBeUndefined(); // Fi 372 (4 MHz), D 1: same rate
    expect(choosePps1(atr('3B 10 21'), GEMPC_TWIN)).toBeUndefined(); // Fi 558: slower
  });

  it('proposes nothing for a TA1 naming a reserved Fi or Di', () => {
    expect(choosePps1(atr('3B 10 70'), GEMPC_TWIN)).toBeUndefined();
    expect(choosePps1(atr('3B 10 9A'), GEMPC_TWIN)).toBeUndefined();
  });

  it('accepts a rate exactly at dwMaxDataRate', () => {
    // 1000 · 3000 · 12 / 372 = 96774 bps = the CardMan 3121 maximum.
    expect(choosePps1(ESTEID3, CARDMAN_3121)).toBe(0x18);
  });

  it('steps TA1 down towards 0x94 when the card is faster than the reader', () => {
    const fast = atr('3B 10 97'); // Fi 512, Di 64: 500000 bps at 4 MHz > 344086
    expect(choosePps1(fast, GEMPC_TWIN)).toBe(0x96); // 250000 bps
    expect(choosePps1(fast, GEMPC_TWIN, GEMPC_TWIN_RATES)).toBe(0x96);
    expect(choosePps1(fast, GEMPC_TWIN, [125000])).toBe(0x95); // 250000 not in the table
    expect(choosePps1(fast, GEMPC_TWIN, [62500])).toBe(0x94);
    expect(choosePps1(fast, { ...GEMPC_TWIN, dwMaxDataRate: 100000 })).toBe(0x94); // 62500 ≤ 100000
    expect(choosePps1(fast, GEMPC_TWIN, [31250])).toBeUndefined(); // never below 0x94
  });

  it('does not step down a too-fast TA1 above 0x97 or below 0x95', () => {
    // 0x18: 129032 bps > 96776, ≤ 0x97 but nothing lies between 0x18 and 0x94 going down.
    expect(choosePps1(ESTEID3, { ...GEMPC_TWIN, dwMaxDataRate: 115200 })).toBeUndefined();
    // 0xD7: Fi 2048, Di 64: 125000 bps, above 0x97.
    expect(choosePps1(atr('3B 10 D7'), { ...GEMPC_TWIN, dwMaxDataRate: 100000 })).toBeUndefined();
  });

  it('uses dwDefaultClock for the rate', () => {
    // At 3 MHz TA1 0x13 gives 32258 bps, in the table; at 4 MHz 43010 would not be.
    expect(choosePps1(YUBIKEY4, CARDMAN_3121, [32258])).toBe(0x13);
    expect(choosePps1(YUBIKEY4, GEMPC_TWIN, [32258])).toBeUndefined();
  });
});

describe('planProtocol (when libccid does PPS and SetParameters)', () => {
  it('does a PPS with TA1 when the default protocol is wanted and TA1 is worth using', () => {
    const plan = planProtocol(YUBIKEY4, GEMPC_TWIN, 1);
    expect(plan.doPps).toBe(true);
    expect(hexOf(plan.ppsRequest ?? new Uint8Array())).toBe('FF 11 13 FD');
    expect(plan.doSetParameters).toBe(true);
    expect(plan.fidi).toBe(0x13);
  });

  it('skips PPS for the default protocol at the default Fi/Di', () => {
    const plan = planProtocol(PN65O, GEMPC_TWIN, 0);
    expect(plan).toEqual({ doPps: false, doSetParameters: true, fidi: 0x11 });
  });

  it('does a PPS without PPS1 to select a protocol that is not the default', () => {
    const plan = planProtocol(PN65O, GEMPC_TWIN, 1);
    expect(plan.doPps).toBe(true);
    expect(hexOf(plan.ppsRequest ?? new Uint8Array())).toBe('FF 01 FE');
    expect(plan.fidi).toBe(0x11);
  });

  it('does a PPS with protocol and PPS1 together', () => {
    expect(hexOf(planProtocol(ESTEID3, GEMPC_TWIN, 1).ppsRequest ?? new Uint8Array())).toBe('FF 11 18 F6');
  });

  it('skips the PPS but still sets Fi/Di when the reader does automatic PPS (dwFeatures 0x80)', () => {
    const plan = planProtocol(YUBIKEY4, CARDMAN_3121, 1);
    expect(plan).toEqual({ doPps: false, doSetParameters: true, fidi: 0x13 });
    expect(planProtocol(PN65O, CARDMAN_3121, 1).doPps).toBe(false);
  });

  it('skips both PPS and SetParameters when the reader negotiates itself (dwFeatures 0x40)', () => {
    expect(planProtocol(YUBIKEY4, ACR122U, 1)).toEqual({ doPps: false, doSetParameters: false, fidi: 0x11 });
    expect(planProtocol(PN65O, ACR122U, 1).doPps).toBe(false);
  });

  it("never does a PPS with a card in specific mode but sets TA1's Fi/Di", () => {
    const specific = atr('3B 90 13 11 01 93'); // TA1 0x13, TA2 0x01: specific mode T=1, explicit parameters
    expect(specific.specificMode).toBe(true);
    expect(planProtocol(specific, GEMPC_TWIN, 1)).toEqual({ doPps: false, doSetParameters: true, fidi: 0x13 });
  });

  it('refuses a card in specific mode whose TA1 rate the reader table lacks', () => {
    expectDriverError(
      () => planProtocol(atr('3B 90 13 11 01 93'), GEMPC_TWIN, 1, [10753, 21505]),
      IFD.COMMUNICATION_ERROR,
      /specific mode at 43010 bps/,
    );
  });

  it('refuses a card in specific mode with implicit parameters (TA2 bit 5)', () => {
    expectDriverError(() => planProtocol(atr('3B 90 13 11 11 83'), GEMPC_TWIN, 1), IFD.COMMUNICATION_ERROR, /implicit/);
  });

  it('refuses another protocol than the specific mode one', () => {
    expectDriverError(
      () => planProtocol(atr('3B 80 10 80'), GEMPC_TWIN, 1),
      IFD.PROTOCOL_NOT_SUPPORTED,
      /specific mode T=0/,
    );
  });

  it('refuses a protocol the card does not offer', () => {
    expectDriverError(() => planProtocol(BELGIAN_EID, GEMPC_TWIN, 1), IFD.PROTOCOL_NOT_SUPPORTED, /does not offer T=1/);
  });

  it('refuses a protocol the reader does not support (dwProtocols)', () => {
    expectDriverError(
      () => planProtocol(YUBIKEY4, { ...GEMPC_TWIN, dwProtocols: 0x01 }, 1),
      IFD.ERROR_NOT_SUPPORTED,
      /reader does not support T=1/,
    );
  });

  it('refuses a protocol other than 0 or 1', () => {
    expectDriverError(() => planProtocol(YUBIKEY4, GEMPC_TWIN, 3 as 0 | 1), IFD.PROTOCOL_NOT_SUPPORTED);
  });

  it('lets the reader table veto TA1 for a negotiable card, falling back to 0x11', () => {
    expect(planProtocol(YUBIKEY4, GEMPC_TWIN, 1, [10753])).toEqual({ doPps: false, doSetParameters: true, fidi: 0x11 });
  });
});

describe('setParametersBody (CCID 1.1 §6.1.7, as libccid builds it)', () => {
  it('builds the 5-byte T=0 body: Fi/Di, convention, TC1, TC2, clock stop', () => {
    expect(hexOf(setParametersBody(0, BELGIAN_EID, 0x13))).toBe('13 00 00 0A 00');
    expect(hexOf(setParametersBody(0, atr('3B 80 40 35'), 0x11))).toBe('11 00 00 35 00');
  });

  it('sets bit 1 of bmTCCKST0 and the guard time for an inverse-convention card', () => {
    expect(hexOf(setParametersBody(0, atr('3F 65 25 08 93 04 6C 90 00'), 0x11))).toBe('11 02 08 0A 00');
  });

  it('sends WI 10 for a reserved TC2 = 0', () => {
    expect(hexOf(setParametersBody(0, atr('3B 80 40 00'), 0x11))).toBe('11 00 00 0A 00');
  });

  it('builds the 7-byte T=1 body: Fi/Di, 0x10|CRC|convention, TC1, BWI/CWI, clock stop, IFSC, NAD', () => {
    expect(hexOf(setParametersBody(1, YUBIKEY4, 0x13))).toBe('13 10 00 15 00 FE 00');
    expect(hexOf(setParametersBody(1, atr('3B E3 00 FF 81 31 52 45 A1 A2 A3 1B'), 0x11))).toBe('11 10 FF 45 00 52 00');
  });

  it('uses BWI/CWI 0x4D and IFSC 0x20 when the ATR has no T=1 bytes', () => {
    expect(hexOf(setParametersBody(1, PN65O, 0x11))).toBe('11 10 00 4D 00 20 00');
  });

  it('sets the CRC bit and the inverse-convention bit of bmTCCKST1', () => {
    expect(hexOf(setParametersBody(1, atr('3B 80 81 41 01 41'), 0x11))).toBe('11 11 00 4D 00 20 00');
    expect(hexOf(setParametersBody(1, atr('3F 80 81 41 01 41'), 0x11))).toBe('11 13 00 4D 00 20 00');
  });

  it('uses the Fi/Di it is given, not TA1', () => {
    expect(setParametersBody(1, YUBIKEY4, 0x11)[0]).toBe(0x11);
  });

  it('raises BWI to 7 for the OpenPGP card, as libccid does', () => {
    const openpgp = atr('3B FA 13 00 FF 81 31 80 45 00 31 C1 73 C0 01 00 00 90 00 B1');
    expect(t1WaitingIntegers(openpgp)).toBe(0x75);
    expect(hexOf(setParametersBody(1, openpgp, 0x13))).toBe('13 10 FF 75 00 80 00');
    expect(t1WaitingIntegers(YUBIKEY4)).toBe(0x15);
  });

  it('refuses a reserved Fi/Di or a protocol other than 0/1', () => {
    expectDriverError(() => setParametersBody(1, YUBIKEY4, 0x70), IFD.ERROR_PTS_FAILURE);
    expectDriverError(() => setParametersBody(1, YUBIKEY4, 0x1ff), IFD.ERROR_PTS_FAILURE);
    expectDriverError(() => setParametersBody(2 as 0 | 1, YUBIKEY4, 0x11), IFD.PROTOCOL_NOT_SUPPORTED);
  });
});

describe('PPS properties', () => {
  it('judges any pair of byte strings without throwing, and only accepts answers that XOR to zero', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (request, response) => {
        const r = checkPpsResponse(request, response);
        if (r.ok) {
          expect(response.reduce((a, b) => a ^ b, 0)).toBe(0);
          expect(r.protocol).toBe((request[1] ?? 0) & 0x0f);
          expect(r.pps1).toBeDefined();
        } else {
          expect(r.reason).toEqual(expect.any(String));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('accepts the echo of every request it builds, returning its PPS1 or 0x11', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0 as const, 1 as const),
        fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
        (p, pps1) => {
          if (pps1 !== undefined && !isValidFiDi(pps1)) {
            expect(() => buildPpsRequest(p, pps1)).toThrow(DriverError);
            return;
          }
          const request = buildPpsRequest(p, pps1);
          expect(checkPpsResponse(request, request)).toEqual({ ok: true, protocol: p, pps1: pps1 ?? 0x11 });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('proposes only a PPS1 the reader can do, never slower than the default', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 1000, max: 20000 }),
        fc.integer({ min: 9600, max: 1_000_000 }),
        (ta1, clock, maxRate) => {
          const card = parseAtr(Uint8Array.of(0x3b, 0x10, ta1));
          const reader = { ...GEMPC_TWIN, dwDefaultClock: clock, dwMaxDataRate: maxRate };
          const pps1 = choosePps1(card, reader);
          if (pps1 === undefined) return;
          expect(isValidFiDi(pps1)).toBe(true);
          expect(bitRate(pps1, clock)).toBeGreaterThan(bitRate(0x11, clock));
          expect(bitRate(pps1, clock)).toBeLessThanOrEqual(maxRate);
        },
      ),
      { numRuns: 300 },
    );
  });
});
