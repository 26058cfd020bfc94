import { describe, expect, it } from 'vitest';
import { buildAtr, CardProfileError, supportedClasses, type AtrProfile } from '../../../../src/sim/card/atr.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.split(' ').map((b) => parseInt(b, 16)));
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

/** A tiny independent ATR walker (ISO 7816-3 §8.2): groups of interface bytes, historical bytes, TCK. */
function walk(atr: Uint8Array): {
  groups: Array<{ ta?: number; tb?: number; tc?: number; td?: number }>;
  historical: number[];
  tck: number | undefined;
} {
  let i = 1;
  let y = atr[i]! >> 4;
  const k = atr[i]! & 0x0f;
  i++;
  const groups: Array<{ ta?: number; tb?: number; tc?: number; td?: number }> = [];
  let needsTck = false;
  for (;;) {
    const g: { ta?: number; tb?: number; tc?: number; td?: number } = {};
    if (y & 1) g.ta = atr[i++]!;
    if (y & 2) g.tb = atr[i++]!;
    if (y & 4) g.tc = atr[i++]!;
    if (y & 8) g.td = atr[i++]!;
    groups.push(g);
    if (g.td === undefined) break;
    if ((g.td & 0x0f) !== 0) needsTck = true;
    y = g.td >> 4;
  }
  const historical = Array.from(atr.subarray(i, i + k));
  i += k;
  const tck = needsTck ? atr[i++] : undefined;
  expect(i).toBe(atr.length);
  return { groups, historical, tck };
}

function xorAfterTs(atr: Uint8Array): number {
  let x = 0;
  for (let i = 1; i < atr.length; i++) x ^= atr[i]!;
  return x;
}

describe('ATR builder (ISO 7816-3 §8)', () => {
  it('reproduces the real JCOP v2.4.1 ATR from its parameters', () => {
    const atr = buildAtr({
      protocols: [1],
      ta1: 0x13,
      tb1: 0x00,
      tc1: 0x00,
      t1: { ifsc: 254, bwi: 4, cwi: 5 },
      historical: ascii('JCOPv241'),
    });
    expect(atr).toEqual(hex('3B F8 13 00 00 81 31 FE 45 4A 43 4F 50 76 32 34 31 B7'));
  });

  it('puts T=1 parameters in a group after a TD(i ≥ 2) saying T=1, with TCK making the XOR zero', () => {
    const atr = buildAtr({ protocols: [1], t1: { ifsc: 0xfe, edc: 'crc' } });
    const { groups, tck } = walk(atr);
    expect(groups[0]!.td! & 0x0f).toBe(1);
    expect(groups[1]!.td! & 0x0f).toBe(1);
    expect(groups[2]!.ta).toBe(0xfe);
    expect(groups[2]!.tc).toBe(0x01);
    expect(tck).toBeDefined();
    expect(xorAfterTs(atr)).toBe(0);
  });

  it('a T=0-only card with nothing else to say has no TD1 and no TCK', () => {
    const atr = buildAtr({ protocols: [0], historical: [0x80] });
    expect(atr).toEqual(hex('3B 01 80'));
  });

  it('TC2 (WI) goes in group 2 after TD1 = T=0, still without TCK', () => {
    const atr = buildAtr({ protocols: [0], wi: 0x40 });
    expect(atr).toEqual(hex('3B 80 40 40'));
    expect(walk(atr).tck).toBeUndefined();
  });

  it('a card offering T=0 and T=1 announces both, T=0 first, and has a TCK', () => {
    const atr = buildAtr({ protocols: [0, 1], ta1: 0x96, t1: { ifsc: 254 } });
    const { groups, tck } = walk(atr);
    expect(groups[0]!.ta).toBe(0x96);
    expect(groups[0]!.td! & 0x0f).toBe(0);
    expect(groups[1]!.td! & 0x0f).toBe(1);
    expect(groups[2]!.ta).toBe(254);
    expect(tck).toBeDefined();
    expect(xorAfterTs(atr)).toBe(0);
  });

  it('TA2 encodes specific mode: bit 8 unable to change, bit 5 implicit, T in bits 4-1', () => {
    const fixed = walk(buildAtr({ protocols: [1], ta1: 0x96, specificMode: { protocol: 1 } }));
    expect(fixed.groups[1]!.ta).toBe(0x81);
    const implicit = walk(
      buildAtr({ protocols: [0], specificMode: { protocol: 0, implicitParameters: true, canChangeMode: true } }),
    );
    expect(implicit.groups[1]!.ta).toBe(0x10);
    // T=0 in specific mode needs TD1 to carry TA2, and still no TCK.
    expect(implicit.tck).toBeUndefined();
  });

  it('the class indicator sits in TA after TD = T=15, which forces a TCK even for T=0', () => {
    const atr = buildAtr({ protocols: [0], classes: ['A', 'B'], clockStop: 'no-preference' });
    const { groups, tck } = walk(atr);
    expect(groups[0]!.td! & 0x0f).toBe(0);
    expect(groups[1]!.td! & 0x0f).toBe(15);
    expect(groups[2]!.ta).toBe(0xc3);
    expect(tck).toBeDefined();
    expect(xorAfterTs(atr)).toBe(0);
  });

  it('the longest profile the builder accepts stays within 33 bytes (§8.2.1)', () => {
    const atr = buildAtr({
      protocols: [0, 1],
      ta1: 0x96,
      tb1: 0,
      tc1: 0,
      specificMode: { protocol: 0 },
      wi: 10,
      t1: { ifsc: 254, bwi: 4, cwi: 5, edc: 'crc' },
      classes: ['A', 'B', 'C'],
      historical: new Array<number>(15).fill(0x41),
    });
    expect(atr.length).toBeLessThanOrEqual(33);
    expect(xorAfterTs(atr)).toBe(0);
    expect(walk(atr).historical).toEqual(new Array<number>(15).fill(0x41));
  });

  it('inverse convention changes TS only', () => {
    const direct = buildAtr({ protocols: [1] });
    const inverse = buildAtr({ protocols: [1], convention: 'inverse' });
    expect(inverse[0]).toBe(0x3f);
    expect(direct[0]).toBe(0x3b);
    expect(inverse.subarray(1)).toEqual(direct.subarray(1));
  });

  it('a card without class indicator supports class A only', () => {
    expect(supportedClasses({ protocols: [0] })).toEqual(['A']);
    expect(supportedClasses({ protocols: [0], classes: ['C'] })).toEqual(['C']);
  });

  const bad: Array<[string, AtrProfile]> = [
    ['no protocol', { protocols: [] }],
    ['protocols out of order', { protocols: [1, 0] }],
    ['IFSC 255', { protocols: [1], t1: { ifsc: 255 } }],
    ['IFSC 0', { protocols: [1], t1: { ifsc: 0 } }],
    ['BWI 10', { protocols: [1], t1: { bwi: 10 } }],
    ['T=1 parameters without T=1', { protocols: [0], t1: { ifsc: 32 } }],
    ['WI 0', { protocols: [0], wi: 0 }],
    ['WI when T=1 comes first', { protocols: [1], wi: 10 }],
    ['16 historical bytes', { protocols: [0], historical: new Array<number>(16).fill(0) }],
    ['TA1 256', { protocols: [0], ta1: 256 }],
    ['specific mode on a protocol not offered', { protocols: [0], specificMode: { protocol: 1 } }],
    ['no class', { protocols: [0], classes: [] }],
  ];
  for (const [what, profile] of bad) {
    it(`rejects a profile with ${what} with a CardProfileError`, () => {
      expect(() => buildAtr(profile)).toThrow(CardProfileError);
    });
  }
});
