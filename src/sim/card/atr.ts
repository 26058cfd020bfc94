/**
 * The card's answer-to-reset, built from a profile (ISO/IEC 7816-3 §8).
 *
 * Layout (§8.2): TS, T0 (Y1 and K), interface bytes in groups — group i is TAi TBi TCi TDi, each present when the
 * matching bit of Yi says so, and TDi's high nibble is Yi+1 and its low nibble a protocol type T — then K historical
 * bytes and TCK. The builder places each parameter where §8.3 puts it:
 * - group 1 (global): TA1 Fi/Di, TB1 (deprecated, only if given), TC1 extra guard time N;
 * - group 2: TA2 specific mode (global), TC2 WI (specific to T=0, so only when TD1 says T=0);
 * - after a TDi (i ≥ 2) saying T=1: IFSC (TA), BWI/CWI (TB), block check (TC bit 1 = CRC) (§11.4.1);
 * - after a TDi (i ≥ 2) saying T=15: the class indicator and clock stop (TA) (§8.3).
 * TCK is present unless T=0 is the only protocol indicated (§8.2.5).
 */

import type { CardProtocol, VoltageClass } from '../card-interface.js';
import type { EdcKind } from './edc.js';

/** A profile the simulated card cannot be built from (a programming mistake in a test or profile). */
export class CardProfileError extends Error {
  override readonly name = 'CardProfileError';
}

export interface T1AtrParameters {
  /** IFSC, 1..254 (§11.4.2; default 32 when absent). */
  ifsc?: number;
  /** BWI 0..9 (default 4). Giving either bwi or cwi puts a TB in the ATR. */
  bwi?: number;
  /** CWI 0..15 (default 13). */
  cwi?: number;
  /** Block check; giving it puts a TC in the ATR (default LRC when absent). */
  edc?: EdcKind;
}

export interface SpecificMode {
  /** The protocol the card is fixed to (TA2 bits 4-1). */
  protocol: CardProtocol;
  /** TA2 bit 5: the parameters are implicit, not those of TA1. */
  implicitParameters?: boolean;
  /** TA2 bit 8 = 0 means the card can switch to negotiable mode (by a warm reset). Default false. */
  canChangeMode?: boolean;
}

/** §8.3: clock stop indicator, TA(T=15) bits 8-7. */
export type ClockStop = 'not-supported' | 'low' | 'high' | 'no-preference';

export interface AtrProfile {
  /** TS (§8.1): 'direct' 0x3B (default) or 'inverse' 0x3F. */
  convention?: 'direct' | 'inverse';
  /** Protocols the card offers, ascending; the first is the one of negotiable mode when there is no PPS (§8.2.3). */
  protocols: readonly CardProtocol[];
  /** TA1: Fi (high nibble) and Di (low nibble) indices the card supports (§8.3). */
  ta1?: number;
  /** TB1: deprecated (§8.3), emitted only when given, for reproducing real ATRs. */
  tb1?: number;
  /** TC1: extra guard time N (§8.3). */
  tc1?: number;
  /** TA2: the card is in specific mode (§6.3.1, §8.3). */
  specificMode?: SpecificMode;
  /** TC2: waiting time integer WI for T=0 (§10.2; default 10, 0 reserved). */
  wi?: number;
  /** Parameters specific to T=1. */
  t1?: T1AtrParameters;
  /** Classes of operating conditions the card supports (§8.3 class indicator). Absent means class A only. */
  classes?: readonly VoltageClass[];
  /** Clock stop indicator, sent with the class indicator (default 'not-supported'). */
  clockStop?: ClockStop;
  /** Historical bytes, at most 15 (§8.2.4; ISO/IEC 7816-4 §8). */
  historical?: ArrayLike<number>;
}

const CLASS_BITS: Record<VoltageClass, number> = { A: 0x01, B: 0x02, C: 0x04 };
const CLOCK_STOP_BITS: Record<ClockStop, number> = { 'not-supported': 0, low: 0x40, high: 0x80, 'no-preference': 0xc0 };

interface Group {
  ta?: number | undefined;
  tb?: number | undefined;
  tc?: number | undefined;
}

function checkByte(name: string, value: number | undefined, min = 0, max = 0xff): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new CardProfileError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

function groupIsEmpty(g: Group): boolean {
  return g.ta === undefined && g.tb === undefined && g.tc === undefined;
}

/** The T=1 group's TA/TB/TC from the profile (undefined fields stay absent). */
function t1Group(t1: T1AtrParameters | undefined): Group {
  if (!t1) return {};
  const tb = t1.bwi !== undefined || t1.cwi !== undefined ? ((t1.bwi ?? 4) << 4) | (t1.cwi ?? 13) : undefined;
  const tc = t1.edc === undefined ? undefined : t1.edc === 'crc' ? 0x01 : 0x00;
  return { ta: t1.ifsc, tb, tc };
}

/** Checks a profile; throws CardProfileError naming the first thing wrong. */
export function validateAtrProfile(p: AtrProfile): void {
  if (p.protocols.length === 0) throw new CardProfileError('a card offers at least one protocol');
  for (let i = 0; i < p.protocols.length; i++) {
    const t = p.protocols[i]!;
    if (t !== 0 && t !== 1) throw new CardProfileError(`protocol T=${String(t)} is not simulated (only T=0 and T=1)`);
    if (i > 0 && t <= p.protocols[i - 1]!) {
      throw new CardProfileError('protocols must be listed once each, in ascending order (§8.2.3)');
    }
  }
  checkByte('TA1', p.ta1);
  checkByte('TB1', p.tb1);
  checkByte('TC1', p.tc1);
  checkByte('WI (TC2)', p.wi, 1, 255);
  if (p.wi !== undefined && p.protocols[0] !== 0) {
    throw new CardProfileError('WI (TC2) is specific to T=0 and needs T=0 as the first offered protocol');
  }
  if (p.specificMode && !p.protocols.includes(p.specificMode.protocol)) {
    throw new CardProfileError(`specific mode T=${p.specificMode.protocol} must be one of the offered protocols`);
  }
  if (p.t1) {
    if (!p.protocols.includes(1)) throw new CardProfileError('T=1 parameters given for a card that does not offer T=1');
    checkByte('IFSC', p.t1.ifsc, 1, 254);
    checkByte('BWI', p.t1.bwi, 0, 9);
    checkByte('CWI', p.t1.cwi, 0, 15);
  }
  if (p.classes !== undefined) {
    if (p.classes.length === 0)
      throw new CardProfileError('a card supports at least one class of operating conditions');
    for (const c of p.classes) {
      if (!(c in CLASS_BITS)) throw new CardProfileError(`unknown class ${String(c)} (A, B or C)`);
    }
  }
  const hist = p.historical ?? [];
  if (hist.length > 15) throw new CardProfileError(`at most 15 historical bytes (K is 4 bits), got ${hist.length}`);
  for (let i = 0; i < hist.length; i++) checkByte(`historical byte ${i}`, hist[i]);
}

/** Builds the ATR a profile describes. Throws CardProfileError on an impossible profile or an ATR over 33 bytes. */
export function buildAtr(p: AtrProfile): Uint8Array {
  validateAtrProfile(p);
  const first = p.protocols[0]!;
  const group1: Group = { ta: p.ta1, tb: p.tb1, tc: p.tc1 };
  const sm = p.specificMode;
  const ta2 = sm ? (sm.canChangeMode ? 0 : 0x80) | (sm.implicitParameters ? 0x10 : 0) | sm.protocol : undefined;
  // tds[i] is the T of TD(i+1); after[i] is the group that TD(i+1) announces (group i+2).
  const tds: number[] = [first];
  const after: Group[] = [{ ta: ta2, tc: p.wi }];
  if (p.protocols.includes(1)) {
    const g = t1Group(p.t1);
    // T=1 parameters live in a group after a TD(i ≥ 2) saying T=1; a second offered protocol also needs its TD.
    if (first !== 1 || !groupIsEmpty(g)) {
      tds.push(1);
      after.push(g);
    }
  }
  if (p.classes !== undefined) {
    let y = 0;
    for (const c of p.classes) y |= CLASS_BITS[c];
    tds.push(15);
    after.push({ ta: CLOCK_STOP_BITS[p.clockStop ?? 'not-supported'] | y });
  }
  // T=0 alone with nothing in group 2 needs no TD1 at all (T=0 is the default, §8.2.3).
  if (tds.length === 1 && first === 0 && groupIsEmpty(after[0]!)) {
    tds.pop();
    after.pop();
  }

  const hist = p.historical ?? [];
  const out: number[] = [p.convention === 'inverse' ? 0x3f : 0x3b];
  const yBits = (g: Group, hasTd: boolean): number =>
    (g.ta !== undefined ? 0x10 : 0) |
    (g.tb !== undefined ? 0x20 : 0) |
    (g.tc !== undefined ? 0x40 : 0) |
    (hasTd ? 0x80 : 0);
  const pushGroup = (g: Group): void => {
    if (g.ta !== undefined) out.push(g.ta);
    if (g.tb !== undefined) out.push(g.tb);
    if (g.tc !== undefined) out.push(g.tc);
  };
  out.push(yBits(group1, tds.length > 0) | hist.length);
  pushGroup(group1);
  for (let i = 0; i < tds.length; i++) {
    const next = after[i]!;
    out.push(yBits(next, i + 1 < tds.length) | tds[i]!);
    pushGroup(next);
  }
  for (let i = 0; i < hist.length; i++) out.push(hist[i]!);
  if (tds.some((t) => t !== 0)) {
    let tck = 0;
    for (let i = 1; i < out.length; i++) tck ^= out[i]!;
    out.push(tck);
  }
  // §8.2.1: at most 32 characters after TS.
  if (out.length > 33)
    throw new CardProfileError(`the ATR would be ${out.length} bytes; at most 33 are allowed (§8.2.1)`);
  return Uint8Array.from(out);
}

/** The classes of operating conditions a profile supports: its class indicator, or class A alone (§8.3). */
export function supportedClasses(p: AtrProfile): readonly VoltageClass[] {
  return p.classes ?? ['A'];
}
