import { describe, expect, it } from 'vitest';
import {
  DI_TABLE,
  FI_TABLE,
  bitRate,
  decodeFiDi,
  describeAtr,
  encodeAtrFields,
  isValidFiDi,
  parseAtr,
} from '../../../src/ccid/atr.js';
import type { AtrIssueKind, ParsedAtr } from '../../../src/ccid/atr.js';
import { DriverError, IFD } from '../../../src/ifd/errors.js';

const bytes = (s: string): Uint8Array => Uint8Array.from(s.trim().split(/\s+/).filter(Boolean), (h) => parseInt(h, 16));
const parse = (s: string): ParsedAtr => parseAtr(bytes(s));
const kinds = (atr: ParsedAtr): AtrIssueKind[] => atr.issues.map((i) => i.kind);

/**
 * Real ATRs with their expected decodings. Sources: pcsc-tools `smartcard_list.txt` (public ATR list), pyscard
 * `test/test_ATR.py`, illumos `usr/src/test/os-tests/tests/uccid/atrparse.c` and libccid's OpenPGP quirk ATR.
 */
interface RealAtr {
  name: string;
  atr: string;
  expect: Partial<
    Pick<
      ParsedAtr,
      | 'convention'
      | 'protocols'
      | 'defaultProtocol'
      | 'fidi'
      | 'fi'
      | 'di'
      | 'fMaxMHz'
      | 'n'
      | 'wi'
      | 'ifsc'
      | 'bwi'
      | 'cwi'
      | 'edc'
      | 'classIndicator'
      | 'clockStop'
      | 'tck'
      | 'specificMode'
    >
  > & {
    historical: string;
  };
}

const REAL_ATRS: RealAtr[] = [
  {
    name: 'NXP PN65o secure element (T=0 and T=1, JavaCard-like)',
    atr: '3B 8A 80 01 00 31 C1 73 C8 40 00 00 90 00 90',
    expect: {
      protocols: [0, 1],
      defaultProtocol: 0,
      fidi: 0x11,
      fi: 372,
      di: 1,
      ifsc: 32,
      bwi: 4,
      cwi: 13,
      edc: 'lrc',
      tck: 0x90,
      historical: '00 31 C1 73 C8 40 00 00 90 00',
    },
  },
  {
    name: 'Schlumberger Multiflex 3k (T=0 only, no TCK)',
    atr: '3B 02 14 50',
    expect: { protocols: [0], defaultProtocol: 0, fidi: 0x11, wi: 10, n: 0, historical: '14 50' },
  },
  {
    name: 'Yubico YubiKey 4 (illumos "Actual ATR (1)")',
    atr: '3B F8 13 00 00 81 31 FE 15 59 75 62 69 6B 65 79 34 D4',
    expect: {
      protocols: [1],
      defaultProtocol: 1,
      fidi: 0x13,
      fi: 372,
      di: 4,
      fMaxMHz: 5,
      n: 0,
      ifsc: 254,
      bwi: 1,
      cwi: 5,
      edc: 'lrc',
      tck: 0xd4,
      historical: '59 75 62 69 6B 65 79 34',
    },
  },
  {
    name: 'Yubico YubiKey 5 NFC',
    atr: '3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40',
    expect: {
      protocols: [1],
      fidi: 0x13,
      ifsc: 254,
      bwi: 1,
      cwi: 5,
      tck: 0x40,
      historical: '80 73 C0 21 C0 57 59 75 62 69 4B 65 79',
    },
  },
  {
    name: 'NXP J2D081 JCOP 2.4.2 (illumos "Actual ATR (2)")',
    atr: '3B F9 18 00 00 81 31 FE 45 4A 32 44 30 38 31 5F 50 56 B6',
    expect: {
      protocols: [1],
      fidi: 0x18,
      fi: 372,
      di: 12,
      ifsc: 254,
      bwi: 4,
      cwi: 5,
      edc: 'lrc',
      historical: '4A 32 44 30 38 31 5F 50 56',
    },
  },
  {
    name: 'illumos "Actual ATR (3)" (IFSC 128)',
    atr: '3B FC 18 00 00 81 31 80 45 90 67 46 4A 00 64 16 06 F2 72 7E 00 E0',
    expect: { protocols: [1], di: 12, ifsc: 128, bwi: 4, cwi: 5, historical: '90 67 46 4A 00 64 16 06 F2 72 7E 00' },
  },
  {
    name: 'pyscard ATR1: inverse convention, TB1 and TC1',
    atr: '3F 65 25 00 2C 09 69 90 00',
    expect: { convention: 'inverse', protocols: [0], fi: 372, di: 1, n: 0, historical: '2C 09 69 90 00' },
  },
  {
    name: 'pyscard ATR2: inverse convention, guard time 8',
    atr: '3F 65 25 08 93 04 6C 90 00',
    expect: { convention: 'inverse', protocols: [0], n: 8, historical: '93 04 6C 90 00' },
  },
  {
    name: 'pyscard ATR3: TA1 0x94 (Fi 512, Di 8)',
    atr: '3B 16 94 7C 03 01 00 00 0D',
    expect: { protocols: [0], fidi: 0x94, fi: 512, di: 8, fMaxMHz: 5, historical: '7C 03 01 00 00 0D' },
  },
  {
    name: 'pyscard ATR4',
    atr: '3B 65 00 00 9C 11 01 01 03',
    expect: { protocols: [0], fi: 372, di: 1, n: 0, historical: '9C 11 01 01 03' },
  },
  {
    name: 'pyscard ATR5: TC1 255, IFSC 82',
    atr: '3B E3 00 FF 81 31 52 45 A1 A2 A3 1B',
    expect: { protocols: [1], n: 255, ifsc: 0x52, bwi: 4, cwi: 5, tck: 0x1b, historical: 'A1 A2 A3' },
  },
  {
    name: 'pyscard ATR6: TB3 only',
    atr: '3B E5 00 00 81 21 45 9C 10 01 00 80 0D',
    expect: { protocols: [1], ifsc: 32, bwi: 4, cwi: 5, tck: 0x0d, historical: '9C 10 01 00 80' },
  },
  {
    name: 'OpenPGP card (libccid BWI quirk ATR)',
    atr: '3B FA 13 00 FF 81 31 80 45 00 31 C1 73 C0 01 00 00 90 00 B1',
    expect: {
      protocols: [1],
      fidi: 0x13,
      n: 255,
      ifsc: 128,
      bwi: 4,
      cwi: 5,
      tck: 0xb1,
      historical: '00 31 C1 73 C0 01 00 00 90 00',
    },
  },
  {
    name: 'Estonian EstEID 3.0 (T=0 default, T=1 offered)',
    atr: '3B FE 18 00 00 80 31 FE 45 45 73 74 45 49 44 20 76 65 72 20 31 2E 30 A8',
    expect: {
      protocols: [0, 1],
      defaultProtocol: 0,
      di: 12,
      ifsc: 254,
      bwi: 4,
      cwi: 5,
      tck: 0xa8,
      historical: '45 73 74 45 49 44 20 76 65 72 20 31 2E 30',
    },
  },
  {
    name: 'Estonian ID card (T=15 clock stop and class indicator)',
    atr: '3B DB 96 00 80 B1 FE 45 1F 83 00 12 23 3F 53 65 49 44 0F 90 00 F1',
    expect: {
      protocols: [0, 1],
      fidi: 0x96,
      fi: 512,
      di: 32,
      fMaxMHz: 5,
      ifsc: 254,
      bwi: 4,
      cwi: 5,
      classIndicator: 0x03,
      clockStop: 2,
      historical: '00 12 23 3F 53 65 49 44 0F 90 00',
    },
  },
  {
    name: 'Belgian eID (TC2 = 10)',
    atr: '3B 98 13 40 0A A5 03 01 01 01 AD 13 11',
    expect: { protocols: [0], fidi: 0x13, di: 4, wi: 10, historical: 'A5 03 01 01 01 AD 13 11' },
  },
  {
    name: 'SmartCard-HSM 4K USB token',
    atr: '3B DE 18 FF 81 91 FE 1F C3 80 31 81 54 48 53 4D 31 73 80 21 40 81 07 1C',
    expect: {
      protocols: [1],
      n: 255,
      di: 12,
      ifsc: 254,
      bwi: 4,
      cwi: 13,
      classIndicator: 0x03,
      clockStop: 3,
      historical: '80 31 81 54 48 53 4D 31 73 80 21 40 81 07',
    },
  },
  {
    name: 'MIFARE Classic 1K through a PC/SC part 3 contactless reader',
    atr: '3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A',
    expect: {
      protocols: [0, 1],
      defaultProtocol: 0,
      tck: 0x6a,
      historical: '80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00',
    },
  },
  {
    name: 'Spanish DNIe 4.0',
    atr: '3B 88 80 01 E1 F3 5E 11 77 81 00 00 A2',
    expect: { protocols: [0, 1], tck: 0xa2, historical: 'E1 F3 5E 11 77 81 00 00' },
  },
  {
    name: 'Gemalto IDPrime MD 3810 (T=0 implicit, no TD)',
    atr: '3B 7F 96 00 00 80 31 80 65 B0 84 23 27 E5 12 0F FE 82 90 00',
    expect: {
      protocols: [0],
      fidi: 0x96,
      fi: 512,
      di: 32,
      n: 0,
      historical: '80 31 80 65 B0 84 23 27 E5 12 0F FE 82 90 00',
    },
  },
  {
    name: 'JavaCOS A22 (BWI 9, the largest valid)',
    atr: '3B 9F 95 81 31 FE 9F 00 66 46 53 05 10 00 FF 71 DF 00 00 00 00 00 EC',
    expect: {
      protocols: [1],
      fidi: 0x95,
      fi: 512,
      di: 16,
      ifsc: 254,
      bwi: 9,
      cwi: 15,
      historical: '00 66 46 53 05 10 00 FF 71 DF 00 00 00 00 00',
    },
  },
  {
    name: 'Gemplus GemXplore GSM SIM (inverse convention)',
    atr: '3F 2F 00 80 59 AF 02 01 01 30 00 00 0A 0E 83 06 9F 12',
    expect: { convention: 'inverse', protocols: [0], historical: '80 59 AF 02 01 01 30 00 00 0A 0E 83 06 9F 12' },
  },
  {
    name: 'NXP J3H145 (TA1 only)',
    atr: '3B 11 95 80',
    expect: { protocols: [0], fidi: 0x95, fi: 512, di: 16, historical: '80' },
  },
];

describe('parseAtr on real ATRs', () => {
  for (const { name, atr, expect: want } of REAL_ATRS) {
    it(`decodes ${name} without issues`, () => {
      const parsed = parse(atr);
      const { historical, ...fields } = want;
      expect(parsed).toMatchObject(fields);
      expect(Array.from(parsed.historical)).toEqual(Array.from(bytes(historical)));
      expect(parsed.issues).toEqual([]);
      if (parsed.tckExpected) expect(parsed.tckValid).toBe(true);
      else expect(parsed.tck).toBeUndefined();
      expect(Array.from(encodeAtrFields(parsed))).toEqual(Array.from(bytes(atr)));
    });
  }

  it('splits the interface bytes into groups TA1..TD1, TA2..TD2, …', () => {
    const atr = parse('3B DB 96 00 80 B1 FE 45 1F 83 00 12 23 3F 53 65 49 44 0F 90 00 F1');
    expect(atr.groups).toEqual([
      { ta: 0x96, tc: 0x00, td: 0x80 },
      { td: 0xb1 },
      { ta: 0xfe, tb: 0x45, td: 0x1f },
      { ta: 0x83 },
    ]);
    expect(atr.ts).toBe(0x3b);
    expect(atr.t0).toBe(0xdb);
  });

  it('keeps a copy of the input bytes that later changes to the input do not affect', () => {
    const input = bytes('3B 02 14 50');
    const parsed = parseAtr(input);
    input[3] = 0x00;
    expect(Array.from(parsed.bytes)).toEqual([0x3b, 0x02, 0x14, 0x50]);
    expect(Array.from(parsed.historical)).toEqual([0x14, 0x50]);
  });

  it('has one empty group when T0 announces no interface bytes', () => {
    expect(parse('3B 02 14 50').groups).toEqual([{}]);
  });
});

describe('parseAtr: the specific mode (TA2)', () => {
  it('reads TA2 as specific mode, its protocol, and that the mode can change (b8 = 0)', () => {
    const atr = parse('3B 80 90 11 01 00'); // illumos "T=0, T=1 TA2 says neg, T=1 def"
    expect(atr.specificMode).toBe(true);
    expect(atr.specificProtocol).toBe(1);
    expect(atr.canChangeMode).toBe(true);
    expect(atr.implicitParameters).toBe(true); // TA2 = 0x11 has b5 set
    expect(atr.protocols).toEqual([0, 1]);
    expect(atr.defaultProtocol).toBe(1);
  });

  it('reads b8 = 1 of TA2 as "cannot change mode"', () => {
    const atr = parse('3B 80 10 80'); // illumos "T0 TA2 says not neg"
    expect(atr.specificMode).toBe(true);
    expect(atr.canChangeMode).toBe(false);
    expect(atr.specificProtocol).toBe(0);
  });

  it('reads b5 = 1 of TA2 as implicit parameters while keeping TA1 visible', () => {
    const atr = parse('3B 90 24 10 90'); // illumos "T0 TA2 says not neg, don't honor Fi/Di"
    expect(atr.implicitParameters).toBe(true);
    expect(atr.groups[0]?.ta).toBe(0x24);
  });

  it('reads b5 = 0 of TA2 as explicit parameters (those of TA1)', () => {
    expect(parse('3B 90 24 10 80').implicitParameters).toBe(false);
  });

  it('is in negotiable mode when TA2 is absent', () => {
    const atr = parse('3B 80 01 81');
    expect(atr.specificMode).toBe(false);
    expect(atr.specificProtocol).toBeUndefined();
    expect(atr.canChangeMode).toBeUndefined();
  });

  it('reports reserved bits 7-6 of TA2', () => {
    expect(kinds(parse('3B 80 10 60'))).toEqual(['reserved-value']);
  });
});

describe('parseAtr: T=1 parameters come from the first TA/TB/TC after a TD naming T=1', () => {
  it('selects CRC when bit 1 of the first TC for T=1 is set', () => {
    expect(parse('3B 80 81 41 01 41').edc).toBe('crc'); // illumos "T=1, Checksum (CRC)"
    expect(parse('3B 80 81 41 00 40').edc).toBe('lrc');
  });

  it('reads BWI/CWI from TB3 and IFSC from TA3', () => {
    expect(parse('3B 80 81 21 59 79')).toMatchObject({ bwi: 5, cwi: 9 }); // illumos "T=1, BWI/CWI"
    expect(parse('3B 80 81 11 49 59').ifsc).toBe(73); // illumos "T=1, IFSC"
  });

  it('ignores TA/TB/TC of a group belonging to T=15 for T=1 parameters', () => {
    // TD1 = T=0 then TD2 = T=15 with TA3/TB3: not T=1 bytes.
    const atr = parse('3B 80 80 3F 47 22 5A');
    expect(atr.ifsc).toBe(32);
    expect(atr.bwi).toBe(4);
    expect(atr.cwi).toBe(13);
    expect(atr.clockStop).toBe(1);
    expect(atr.classIndicator).toBe(7);
  });

  it('decodes the T=15 clock stop indicator', () => {
    expect(parse('3B 80 80 1F 07 18').clockStop).toBe(0);
    expect(parse('3B 80 80 1F 47 58').clockStop).toBe(1);
    expect(parse('3B 80 80 1F 87 98').clockStop).toBe(2);
    expect(parse('3B 80 80 1F C7 D8').clockStop).toBe(3);
  });

  it('reports reserved bits in the T=1 TC byte but still reads bit 1', () => {
    const atr = parse('3B 80 81 41 03 43');
    expect(atr.edc).toBe('crc');
    expect(kinds(atr)).toEqual(['reserved-value']);
  });
});

describe('parseAtr: unusable ATRs throw DriverError(IFD_COMMUNICATION_ERROR)', () => {
  const unusable: [string, string][] = [
    ['empty', ''],
    ['TS alone, no T0', '3F'],
    ['TS 0x3A', '3A 00'],
    ['TS 0xFF', 'FF 00'],
    ['TS 0x00 (34 zero bytes)', Array(34).fill('00').join(' ')],
  ];
  for (const [name, atr] of unusable) {
    it(`rejects ${name}`, () => {
      let caught: unknown;
      try {
        parse(atr);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(DriverError);
      expect((caught as DriverError).code).toBe(IFD.COMMUNICATION_ERROR);
      expect((caught as DriverError).message).toMatch(/ATR/);
    });
  }

  it('names the bad TS value in the message', () => {
    expect(() => parse('42')).toThrow(/0x42/);
  });
});

describe('parseAtr: tolerated defects are decoded and reported', () => {
  it('accepts a wrong TCK (as libccid does) and reports it', () => {
    const atr = parse('3B F8 13 00 00 81 31 FE 15 59 75 62 69 6B 65 79 34 D5');
    expect(atr.tck).toBe(0xd5);
    expect(atr.tckValid).toBe(false);
    expect(kinds(atr)).toEqual(['bad-tck']);
    expect(atr.ifsc).toBe(254);
    expect(atr.protocols).toEqual([1]);
  });

  it('reports a bad TCK when T=15 makes TCK mandatory (illumos "T0 w/ T=15 and bad cksum")', () => {
    expect(kinds(parse('3B 80 80 1F 00 00'))).toEqual(['bad-tck']);
    expect(kinds(parse('3B 80 80 1F 00 24'))).toEqual(['bad-tck']);
  });

  it('reports a missing TCK when T=1 is offered (pyscard "3B F2 95 12 34 01 36 06")', () => {
    const atr = parse('3B F2 95 12 34 01 36 06');
    expect(kinds(atr)).toEqual(['missing-tck']);
    expect(atr.tck).toBeUndefined();
    expect(atr.tckExpected).toBe(true);
    expect(atr).toMatchObject({ fidi: 0x95, n: 0x34, protocols: [1] });
    expect(Array.from(atr.historical)).toEqual([0x36, 0x06]);
  });

  it('reports a missing TCK when only T=15 makes it mandatory', () => {
    expect(kinds(parse('3B 80 80 1F 00'))).toEqual(['missing-tck']);
  });

  it('reports bytes after a T=0 ATR as extra bytes and leaves them out of the decoding', () => {
    const atr = parse('3B 02 14 50 11'); // a real Mastercard/Visa ATR from the public list
    expect(kinds(atr)).toEqual(['extra-bytes']);
    expect(Array.from(atr.extraBytes)).toEqual([0x11]);
    expect(atr.tck).toBeUndefined();
    expect(Array.from(atr.historical)).toEqual([0x14, 0x50]);
  });

  it('reports bytes after the TCK as extra bytes', () => {
    const atr = parse('3B 80 01 81 00 00');
    expect(atr.tckValid).toBe(true);
    expect(kinds(atr)).toEqual(['extra-bytes']);
    expect(atr.extraBytes.length).toBe(2);
  });

  it('reports an ATR longer than 33 bytes and decodes it anyway', () => {
    const atr = parse(
      '3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40 01 02 03 04 05 06 07 08 09 0A 0B',
    );
    expect(kinds(atr)).toContain('too-long');
    expect(kinds(atr)).toContain('extra-bytes');
    expect(atr.ifsc).toBe(254);
    expect(atr.tckValid).toBe(true);
  });

  const truncations: [string, string][] = [
    ['TA1 announced but absent (illumos "Overrun T0 (1)")', '3B 10'],
    ['TD1 announced but absent', '3B 80'],
    ['historical bytes announced but absent', '3B 01'],
    ['every interface byte announced but absent', '3B FF'],
    ['TA2 announced by TD1 but absent', '3B 80 10'],
    ['TA3 announced by TD2 but absent', '3B 80 80 10'],
    ['a chain of TD bytes that never ends (illumos "Overrun TD")', `3B ${Array(32).fill('80').join(' ')}`],
  ];
  for (const [name, atr] of truncations) {
    it(`reports a truncated ATR: ${name}`, () => {
      const parsed = parse(atr);
      expect(kinds(parsed)).toContain('truncated');
      expect(parsed.tck).toBeUndefined();
      expect(Array.from(encodeAtrFields(parsed))).toEqual(Array.from(bytes(atr)));
    });
  }

  it('negotiates Fi=372 Di=1 when TA1 names a reserved Fi, and flags it', () => {
    const atr = parse('3B 10 71');
    expect(atr).toMatchObject({ fidi: 0x11, fi: 372, di: 1, fMaxMHz: 5, fiReserved: true, diReserved: false });
    expect(atr.groups[0]?.ta).toBe(0x71);
    expect(kinds(atr)).toEqual(['reserved-value']);
    expect(atr.issues[0]?.message).toMatch(/reserved Fi;/);
    expect(describeAtr(atr)).toContain('Fi reserved Di=1');
  });

  it("negotiates Fi=372 Di=1 when TA1 names a reserved Di, but shows the card's real Fi", () => {
    // TA1 = 30: Fi index 3 is Fi=744 (8 MHz), Di index 0 is RFU (ISO 7816-3 Tables 7 and 8).
    const atr = parse('3B 10 30');
    expect(atr).toMatchObject({ fidi: 0x11, fi: 744, fMaxMHz: 8, di: 1, fiReserved: false, diReserved: true });
    expect(atr.issues[0]?.message).toMatch(/reserved Di;/);
    expect(describeAtr(atr)).toContain('Fi=744 Di reserved (8 MHz)');
    expect(parse('3B 10 9A')).toMatchObject({ fidi: 0x11, fi: 512, diReserved: true });
    expect(parse('3B 10 10')).toMatchObject({ fidi: 0x11, fi: 372, di: 1, diReserved: true });
    expect(parse('3B 10 F0')).toMatchObject({ fidi: 0x11, fi: 372, fiReserved: true, diReserved: true });
    expect(parse('3B 10 F0').issues[0]?.message).toMatch(/reserved Fi and Di;/);
    expect(parse('3B 10 96')).toMatchObject({ fidi: 0x96, fi: 512, di: 32, fiReserved: false, diReserved: false });
  });

  it('falls back to WI = 10 when TC2 is 0 (reserved)', () => {
    const atr = parse('3B 80 40 00');
    expect(atr.wi).toBe(10);
    expect(kinds(atr)).toEqual(['reserved-value']);
  });

  it('reads TC2 as WI (illumos "T0 TC2 set")', () => {
    expect(parse('3B 80 40 35').wi).toBe(0x35);
  });

  it('falls back to IFSC 32 when IFSC is 0, and clamps 255 to 254 as libccid does', () => {
    const zero = parse('3B 80 81 11 00 10');
    expect(zero.ifsc).toBe(32);
    expect(kinds(zero)).toEqual(['reserved-value']);
    const ff = parse('3B 80 81 11 FF EF');
    expect(ff.ifsc).toBe(254);
    expect(kinds(ff)).toEqual(['reserved-value']);
  });

  it('falls back to BWI 4 when BWI is above 9 but keeps CWI', () => {
    const atr = parse('3B 80 81 21 A5 85');
    expect(atr).toMatchObject({ bwi: 4, cwi: 5 });
    expect(kinds(atr)).toEqual(['reserved-value']);
  });

  it('reports T=15 in TD1 and offers T=0 (illumos "T=15 in TD1")', () => {
    const atr = parse('3B 80 0F 8F');
    expect(kinds(atr)).toEqual(['reserved-value']);
    expect(atr.protocols).toEqual([0]);
    expect(atr.tckValid).toBe(true);
  });

  it('lists every offered protocol in TD order without T=15 (illumos "T0 with random prots")', () => {
    const atr = parse('3B 80 84 85 88 0F 06');
    expect(atr.protocols).toEqual([4, 5, 8]);
    expect(atr.defaultProtocol).toBe(4);
  });

  it('deduplicates protocols named by several TD bytes', () => {
    expect(parse('3B 80 81 31 FE 45 8B').protocols).toEqual([1]);
    expect(parse('3B 80 80 01 01').protocols).toEqual([0, 1]);
  });

  it('gives every issue a message a person can act on', () => {
    const atr = parse('3B 80 81 21 A5 86 00');
    expect(atr.issues.length).toBeGreaterThan(0);
    for (const issue of atr.issues) expect(issue.message.length).toBeGreaterThan(10);
  });
});

describe('Fi/Di tables (ISO 7816-3 Tables 7 and 8)', () => {
  it('has 16 entries each with RFU entries marked', () => {
    expect(FI_TABLE).toHaveLength(16);
    expect(DI_TABLE).toHaveLength(16);
    expect(FI_TABLE.flatMap((e, i) => (e.rfu ? [i] : []))).toEqual([7, 8, 14, 15]);
    expect(DI_TABLE.flatMap((e, i) => (e.rfu ? [i] : []))).toEqual([0, 10, 11, 12, 13, 14, 15]);
  });

  it('maps Fi indexes to Fi and fmax', () => {
    expect(FI_TABLE.map((e) => e.fi)).toEqual([
      372, 372, 558, 744, 1116, 1488, 1860, 0, 0, 512, 768, 1024, 1536, 2048, 0, 0,
    ]);
    expect(FI_TABLE[0]?.fMaxMHz).toBe(4);
    expect(FI_TABLE[1]?.fMaxMHz).toBe(5);
    expect(FI_TABLE[10]?.fMaxMHz).toBe(7.5);
    expect(FI_TABLE[13]?.fMaxMHz).toBe(20);
  });

  it('maps Di indexes to Di', () => {
    expect(DI_TABLE.map((e) => e.di)).toEqual([0, 1, 2, 4, 8, 16, 32, 64, 12, 20, 0, 0, 0, 0, 0, 0]);
  });

  it('decodes a TA1 byte', () => {
    expect(decodeFiDi(0x96)).toEqual({ fi: 512, di: 32, fMaxMHz: 5, valid: true });
    expect(decodeFiDi(0x11)).toEqual({ fi: 372, di: 1, fMaxMHz: 5, valid: true });
    expect(decodeFiDi(0x7a).valid).toBe(false);
    expect(isValidFiDi(0x13)).toBe(true);
    expect(isValidFiDi(0x10)).toBe(false);
    expect(isValidFiDi(0x100)).toBe(false);
    expect(isValidFiDi(1.5)).toBe(false);
  });

  it('computes the bit rate f·D/F truncated as libccid does', () => {
    expect(bitRate(0x11, 4000)).toBe(10752); // 4 MHz / 372
    expect(bitRate(0x96, 4000)).toBe(250000); // 4 MHz · 32 / 512
    expect(bitRate(0x18, 4000)).toBe(129032); // 4 MHz · 12 / 372
    expect(bitRate(0x70, 4000)).toBe(10752); // RFU → default
  });
});

describe('describeAtr', () => {
  it('summarises a T=1 card', () => {
    const text = describeAtr(parse('3B F8 13 00 00 81 31 FE 15 59 75 62 69 6B 65 79 34 D4'));
    expect(text).toContain('T=1');
    expect(text).toContain('Fi=372 Di=4');
    expect(text).toContain('IFSC 254');
    expect(text).toContain('BWI 1');
    expect(text).toContain('CWI 5');
    expect(text).toContain('LRC');
    expect(text).toContain('TCK ok');
    expect(text).not.toContain('T=0');
  });

  it('names the default protocol when several are offered', () => {
    expect(describeAtr(parse('3B 8A 80 01 00 31 C1 73 C8 40 00 00 90 00 90'))).toContain('T=0, T=1 (default T=0)');
  });

  it('mentions CRC, inverse convention, specific mode and issues', () => {
    expect(describeAtr(parse('3B 80 81 41 01 41'))).toContain('CRC');
    expect(describeAtr(parse('3F 65 25 00 2C 09 69 90 00'))).toContain('inverse convention');
    expect(describeAtr(parse('3B 80 10 80'))).toContain('specific mode T=0');
    expect(describeAtr(parse('3B F2 95 12 34 01 36 06'))).toContain('missing-tck');
  });

  it('describes the class indicator and clock stop', () => {
    expect(describeAtr(parse('3B DB 96 00 80 B1 FE 45 1F 83 00 12 23 3F 53 65 49 44 0F 90 00 F1'))).toContain(
      'class AB, clock stop in state H',
    );
  });
});
