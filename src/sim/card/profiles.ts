/**
 * Ready-made simulated cards. Each call returns a new card (inserted, unpowered). Every card carries the benchmark
 * applications of applets.ts; the profiles differ in what their ATR offers.
 */

import type { CardProtocol } from '../card-interface.js';
import type { AtrProfile, T1AtrParameters } from './atr.js';
import { SimulatedCard, type SimulatedCardOptions } from './card.js';
import type { EdcKind } from './edc.js';

export interface CardProfileOptions extends Omit<SimulatedCardOptions, 'atr'> {
  /** T=1 cards: the IFSC their ATR announces (default 254). Ignored by T=0-only cards. */
  ifsc?: number;
  /** T=1 cards: the block check their ATR announces (default LRC). Ignored by T=0-only cards. */
  edc?: EdcKind;
}

const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

function t1Parameters(o: CardProfileOptions): T1AtrParameters {
  return { ifsc: o.ifsc ?? 254, bwi: 4, cwi: 5, ...(o.edc === 'crc' ? { edc: 'crc' as const } : {}) };
}

function make(atr: AtrProfile, o: CardProfileOptions): SimulatedCard {
  const { ifsc: _ifsc, edc: _edc, ...rest } = o;
  return new SimulatedCard({ ...rest, atr });
}

/**
 * A JavaCard-like T=1 card. With the defaults its ATR is the real JCOP v2.4.1 ATR
 * 3B F8 13 00 00 81 31 FE 45 4A 43 4F 50 76 32 34 31 B7 (TA1 13, TD1 T=1, TD2 T=1, TA3 IFSC 254, TB3 BWI 4 CWI 5);
 * `edc: 'crc'` adds TC3 = 01.
 */
export function helloWorldCardT1(options: CardProfileOptions = {}): SimulatedCard {
  return make(
    { protocols: [1], ta1: 0x13, tb1: 0x00, tc1: 0x00, t1: t1Parameters(options), historical: ascii('JCOPv241') },
    options,
  );
}

/** A T=0-only card: ATR 3B 67 00 00 "HelloT0" (no TD1, so T=0 at Fd/Dd, no TCK). */
export function helloWorldCardT0(options: CardProfileOptions = {}): SimulatedCard {
  return make({ protocols: [0], tb1: 0x00, tc1: 0x00, historical: ascii('HelloT0') }, options);
}

export interface DualProtocolOptions extends CardProfileOptions {
  /** TA1 offered (default 0x96: Fi 512, Di 32; 0x13 is Fi 372, Di 4). */
  ta1?: number;
}

/** A negotiable card offering T=0 (default) and T=1, with a TA1 worth a PPS. */
export function dualProtocolCard(options: DualProtocolOptions = {}): SimulatedCard {
  const { ta1, ...rest } = options;
  return make({ protocols: [0, 1], ta1: ta1 ?? 0x96, t1: t1Parameters(rest), historical: ascii('DualT0T1') }, rest);
}

export interface SpecificModeOptions extends CardProfileOptions {
  /** The protocol TA2 fixes (default T=1). */
  protocol?: CardProtocol;
  /** TA1 (default 0x96), in use from the ATR on since TA2 does not say "implicit". */
  ta1?: number;
}

/** A card in specific mode (TA2 present): no PPS, the protocol and TA1's Fi/Di apply at once (§6.3.1). */
export function specificModeCard(options: SpecificModeOptions = {}): SimulatedCard {
  const { protocol, ta1, ...rest } = options;
  const p = protocol ?? 1;
  const atr: AtrProfile =
    p === 1
      ? {
          protocols: [1],
          ta1: ta1 ?? 0x96,
          specificMode: { protocol: 1 },
          t1: t1Parameters(rest),
          historical: ascii('Specific'),
        }
      : { protocols: [0], ta1: ta1 ?? 0x96, specificMode: { protocol: 0 }, historical: ascii('Specific') };
  return make(atr, rest);
}

/** A T=1 card meant for the PIN applet (options `pin`, `pinTries`, `pinAid`). */
export function pinCard(options: CardProfileOptions = {}): SimulatedCard {
  return make({ protocols: [1], ta1: 0x13, t1: t1Parameters(options), historical: ascii('PinCard') }, options);
}

/** A T=1 card of class C only (1.8 V): mute at 5 V and 3 V. Its ATR carries the class indicator TA(T=15) = 0x04. */
export function lowVoltageCard(options: CardProfileOptions = {}): SimulatedCard {
  return make(
    { protocols: [1], ta1: 0x13, t1: t1Parameters(options), classes: ['C'], historical: ascii('Class C') },
    options,
  );
}
