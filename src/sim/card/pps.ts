/**
 * The card's side of protocol and parameters selection (ISO/IEC 7816-3 §9).
 *
 * Request and response are PPSS (0xFF), PPS0 (bit 5/6/7: PPS1/2/3 follow; bits 4-1: T), optional PPS1 (Fi/Di), PPS2,
 * PPS3, and PCK (the exclusive-or of all the bytes is 00) (§9.2). The card answers a request it accepts with PPSS, PPS0
 * with the same T, and PPS1 echoed if it takes the proposed Fi/Di, or without PPS1 to stay at Fd/Dd (§9.3). A request
 * that is erroneous (bad PPSS, PCK, length, bit 8 of PPS0, or a protocol the card does not offer) gets no response
 * (§9.1: the interface device then deactivates).
 */

import type { CardProtocol } from '../card-interface.js';

/** Fi by index (§8.3 table 7); 0 means reserved for future use. */
export const FI_TABLE: readonly number[] = [
  372, 372, 558, 744, 1116, 1488, 1860, 0, 0, 512, 768, 1024, 1536, 2048, 0, 0,
];
/** Di by index (§8.3 table 8); 0 means reserved for future use. */
export const DI_TABLE: readonly number[] = [0, 1, 2, 4, 8, 16, 32, 64, 12, 20, 0, 0, 0, 0, 0, 0];

/** The default Fi/Di pair, Fd = 372 and Dd = 1 (§7.1). */
export const DEFAULT_FIDI = 0x11;

/** How the card treats a well-formed request for Fi/Di it does not take (§9.3 leaves the choice to the card). */
export type PpsRefusal = 'default' | 'mute';

export interface PpsPolicy {
  /** Protocols the card offers in its ATR. */
  protocols: readonly CardProtocol[];
  /** The card's TA1, or undefined when absent (then only the default pair is taken). */
  ta1: number | undefined;
  /** Answer without PPS1 ('default', the card stays at Fd/Dd) or not at all ('mute'). Default 'default'. */
  refusal?: PpsRefusal;
  /** Overrides which Fi/Di bytes the card takes. */
  acceptsFidi?: (fidi: number) => boolean;
}

export interface PpsOutcome {
  /** The bytes the card sends. */
  response: Uint8Array;
  /** The protocol now in use. */
  protocol: CardProtocol;
  /** The Fi/Di byte now in use. */
  fidi: number;
}

/**
 * The Fi/Di pairs a card with this TA1 takes: the default pair, and pairs with TA1's Fi and a D no greater than TA1's
 * (the card's clock divider is fixed, slower baud rates are fine) — libccid steps D down like this when the reader
 * cannot reach TA1's rate. Reserved values are never taken.
 */
export function cardTakesFidi(ta1: number | undefined, fidi: number): boolean {
  if (fidi === DEFAULT_FIDI) return true;
  if (ta1 === undefined) return false;
  const f = FI_TABLE[fidi >>> 4]!;
  const d = DI_TABLE[fidi & 0x0f]!;
  if (f === 0 || d === 0) return false;
  const cardD = DI_TABLE[ta1 & 0x0f]!;
  return fidi >>> 4 === ta1 >>> 4 && d <= cardD;
}

/** Answers one PPS request, or returns null when the card stays silent. Never throws. */
export function answerPps(request: Uint8Array, policy: PpsPolicy): PpsOutcome | null {
  if (request.length < 3 || request[0] !== 0xff) return null;
  const pps0 = request[1]!;
  if (pps0 & 0x80) return null; // bit 8 is reserved, 0
  const has1 = (pps0 & 0x10) !== 0;
  const has2 = (pps0 & 0x20) !== 0;
  const has3 = (pps0 & 0x40) !== 0;
  const expected = 3 + (has1 ? 1 : 0) + (has2 ? 1 : 0) + (has3 ? 1 : 0);
  if (request.length !== expected) return null;
  let check = 0;
  for (const b of request) check ^= b;
  if (check !== 0) return null;
  const t = pps0 & 0x0f;
  if (t !== 0 && t !== 1) return null;
  const protocol: CardProtocol = t;
  if (!policy.protocols.includes(protocol)) return null;

  let fidi = DEFAULT_FIDI;
  let echoPps1 = false;
  if (has1) {
    const proposed = request[2]!;
    const takes = policy.acceptsFidi ? policy.acceptsFidi(proposed) : cardTakesFidi(policy.ta1, proposed);
    if (takes) {
      fidi = proposed;
      echoPps1 = true;
    } else if ((policy.refusal ?? 'default') === 'mute') {
      return null;
    }
  }
  // PPS2 (SPU) and PPS3 are not supported: they are left out of the response, which §9.3 allows.
  const response = echoPps1 ? Uint8Array.of(0xff, 0x10 | t, fidi, 0) : Uint8Array.of(0xff, t, 0);
  let pck = 0;
  for (let i = 0; i < response.length - 1; i++) pck ^= response[i]!;
  response[response.length - 1] = pck;
  return { response, protocol, fidi };
}
