import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAtr } from '../../../src/ccid/atr.js';
import type { ParsedAtr } from '../../../src/ccid/atr.js';
import { DriverError, IFD } from '../../../src/ifd/errors.js';
import {
  DEFAULT_TIMEOUT_MS,
  ESCAPE_TIMEOUT_MS,
  NON_ISO_CARD_TIMEOUT_MS,
  POWER_ON_TIMEOUT_MS,
  exchangeTimeoutMs,
  secureTimeoutMs,
  timeExtensionMs,
} from '../../../src/ccid/timeouts.js';

const atr = (s: string): ParsedAtr => parseAtr(Uint8Array.from(s.split(' '), (h) => parseInt(h, 16)));

const T0_DEFAULTS = atr('3B 02 14 50'); // N 0, WI 10
const BELGIAN_EID = atr('3B 98 13 40 0A A5 03 01 01 01 AD 13 11'); // TA1 0x13, WI 10
const GUARD_8 = atr('3F 65 25 08 93 04 6C 90 00'); // TC1 = 8
const WI_1 = atr('3B 80 40 01'); // TC2 = 1
const YUBIKEY4 = atr('3B F8 13 00 00 81 31 FE 15 59 75 62 69 6B 65 79 34 D4'); // BWI 1, CWI 5
const PN65O = atr('3B 8A 80 01 00 31 C1 73 C8 40 00 00 90 00 90'); // T=1 defaults BWI 4, CWI 13
const J2D081 = atr('3B F9 18 00 00 81 31 FE 45 4A 32 44 30 38 31 5F 50 56 B6'); // TA1 0x18, BWI 4, CWI 5
const OPENPGP = atr('3B FA 13 00 FF 81 31 80 45 00 31 C1 73 C0 01 00 00 90 00 B1'); // N 255, TB3 0x45 → BWI 7 quirk

describe('fixed timeouts (libccid)', () => {
  it('waits 3 s by default, 60 s for power on, 30 s for escape', () => {
    expect(DEFAULT_TIMEOUT_MS).toBe(3000);
    expect(POWER_ON_TIMEOUT_MS).toBe(60000);
    expect(ESCAPE_TIMEOUT_MS).toBe(30000);
    expect(NON_ISO_CARD_TIMEOUT_MS).toBe(60000);
  });
});

describe('secureTimeoutMs: max(90 s, bTimeOut + 10 s)', () => {
  it('waits at least 90 s', () => {
    expect(secureTimeoutMs(0)).toBe(90000);
    expect(secureTimeoutMs(30)).toBe(90000);
    expect(secureTimeoutMs(80)).toBe(90000);
  });

  it('waits bTimeOut + 10 s beyond 80 s', () => {
    expect(secureTimeoutMs(81)).toBe(91000);
    expect(secureTimeoutMs(255)).toBe(265000);
  });

  it('refuses a bTimeOut that is not a byte', () => {
    for (const bad of [-1, 256, 1.5, Number.NaN]) {
      let caught: unknown;
      try {
        secureTimeoutMs(bad);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(DriverError);
      expect((caught as DriverError).code).toBe(IFD.COMMUNICATION_ERROR);
    }
  });
});

describe('timeExtensionMs (CCID_Receive on bStatus 0x80)', () => {
  it('multiplies the original timeout by bError', () => {
    expect(timeExtensionMs(3000, 2)).toBe(6000);
    expect(timeExtensionMs(1511, 10)).toBe(15110);
  });

  it('keeps the original timeout when bError is 0', () => {
    expect(timeExtensionMs(3000, 0)).toBe(3000);
  });
});

describe('exchangeTimeoutMs for T=0: max(3000, 261·EGT + 6·WWT, 5·EGT + 260·WWT)', () => {
  it('uses the outgoing-case sum with default parameters at 4 MHz', () => {
    // EGT = 12·372/4000 = 1.116 ms, WWT = 960·10·372/4000 = 892.8 ms; 5·1.116 + 260·892.8 = 232133.58.
    expect(exchangeTimeoutMs(T0_DEFAULTS, 0, 4000, 0x11)).toBe(232133);
  });

  it('scales with the clock', () => {
    // EGT = 1.488, WWT = 1190.4 at 3 MHz: 7.44 + 309504 = 309511.44.
    expect(exchangeTimeoutMs(T0_DEFAULTS, 0, 3000, 0x11)).toBe(309511);
  });

  it('shortens EGT with D but not WWT (WWT uses Fi only)', () => {
    // Fi 372, Di 4: EGT = 12·93/4000 = 0.279; 5·0.279 + 232128 = 232129.395.
    expect(exchangeTimeoutMs(BELGIAN_EID, 0, 4000, 0x13)).toBe(232129);
  });

  it('adds TC1 extra guard time to EGT', () => {
    // EGT = 1.116 + 372·8/4000 = 1.86; 5·1.86 + 232128 = 232137.3.
    expect(exchangeTimeoutMs(GUARD_8, 0, 4000, 0x11)).toBe(232137);
  });

  it('uses TC2 as WI', () => {
    // Fi 512, Di 32 at 20 MHz, WI 1: EGT = 0.0096, WWT = 24.576; 5·0.0096 + 260·24.576 = 6389.808.
    expect(exchangeTimeoutMs(WI_1, 0, 20000, 0x96)).toBe(6389);
  });

  it('never goes below 3000 ms', () => {
    // WI 1 at 200 MHz: the sums are 16.5 and 464.4 ms.
    expect(exchangeTimeoutMs(WI_1, 0, 200000, 0x11)).toBe(3000);
  });
});

describe('exchangeTimeoutMs for T=1: 260·EGT + BWT + 260·CWT + 1000', () => {
  it('computes a YubiKey 4 at its TA1 (Fi 372, Di 4, BWI 1, CWI 5)', () => {
    // etu = 0.02325, EGT = 0.279, BWT = 0.25575 + 2·960·372/4000 = 178.81575, CWT = 43·0.02325 = 0.99975:
    // 72.54 + 178.81575 + 259.935 = 511.29075 → 511 + 1000.
    expect(exchangeTimeoutMs(YUBIKEY4, 1, 4000, 0x13)).toBe(1511);
  });

  it('is not floored at 3000 ms, as in libccid', () => {
    expect(exchangeTimeoutMs(YUBIKEY4, 1, 4000, 0x13)).toBeLessThan(3000);
  });

  it('uses the negotiated Fi/Di, not TA1', () => {
    // etu = 0.093: 260·1.116 + (1.023 + 178.56) + 260·3.999 = 1509.483.
    expect(exchangeTimeoutMs(YUBIKEY4, 1, 4000, 0x11)).toBe(2509);
  });

  it('uses the default BWI 4 and CWI 13 without T=1 bytes (CWT dominates)', () => {
    // BWT = 1.023 + 16·960·372/4000 = 1429.503, CWT = 8203·0.093 = 762.879: 290.16 + 1429.503 + 198348.54.
    expect(exchangeTimeoutMs(PN65O, 1, 4000, 0x11)).toBe(201068);
  });

  it('follows TB3 and Di', () => {
    // Fi 372, Di 12: etu = 0.00775, EGT 0.093, BWT 0.08525 + 1428.48, CWT 43·0.00775: 24.18 + 1428.56525 + 86.645.
    expect(exchangeTimeoutMs(J2D081, 1, 4000, 0x18)).toBe(2539);
  });

  it("uses libccid's BWI 7 for the OpenPGP card, with TC1 = 255 in EGT", () => {
    // EGT = 0.279 + 93·255/4000 = 6.20775, BWT = 0.25575 + 128·960·372/4000 = 11428.09575, CWT = 0.99975:
    // 1614.015 + 11428.09575 + 259.935 = 13302.04575.
    expect(exchangeTimeoutMs(OPENPGP, 1, 4000, 0x13)).toBe(14302);
  });
});

describe('exchangeTimeoutMs on values libccid calls non-ISO', () => {
  it('waits 60 s for a reserved Fi/Di', () => {
    expect(exchangeTimeoutMs(YUBIKEY4, 1, 4000, 0x70)).toBe(60000);
    expect(exchangeTimeoutMs(T0_DEFAULTS, 0, 4000, 0x10)).toBe(60000);
    expect(exchangeTimeoutMs(T0_DEFAULTS, 0, 4000, 0x111)).toBe(60000);
  });

  it('waits 60 s for a clock of 0 or a clock that is not a number', () => {
    expect(exchangeTimeoutMs(YUBIKEY4, 1, 0, 0x13)).toBe(60000);
    expect(exchangeTimeoutMs(T0_DEFAULTS, 0, Number.NaN, 0x11)).toBe(60000);
    expect(exchangeTimeoutMs(T0_DEFAULTS, 0, -4000, 0x11)).toBe(60000);
  });

  it('refuses a protocol other than T=0/T=1', () => {
    expect(() => exchangeTimeoutMs(T0_DEFAULTS, 2 as 0 | 1, 4000, 0x11)).toThrow(DriverError);
  });
});

describe('exchangeTimeoutMs properties', () => {
  it('gives a whole number of ms, at least 3000 for T=0 and more than 1000 for T=1, for any parsable ATR', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 33 }).map((rest) => Uint8Array.of(0x3b, ...rest)),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 1000, max: 20000 }),
        (bytes, fidi, clock) => {
          const parsed = parseAtr(bytes);
          const t0 = exchangeTimeoutMs(parsed, 0, clock, fidi);
          const t1 = exchangeTimeoutMs(parsed, 1, clock, fidi);
          expect(Number.isInteger(t0)).toBe(true);
          expect(Number.isInteger(t1)).toBe(true);
          expect(t0).toBeGreaterThanOrEqual(3000);
          expect(t1).toBeGreaterThan(1000);
        },
      ),
      { numRuns: 300 },
    );
  });
});
