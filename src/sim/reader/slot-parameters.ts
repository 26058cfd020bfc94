/**
 * Protocol data structures of GetParameters / ResetParameters / SetParameters (CCID 1.1 §6.1.7, Tables 6.1-8 and 6.1-9)
 * and their validation. A wrong field is reported by its offset in the whole message, as bError wants (§6.2.6).
 */
import type { AtrFacts } from './atr-facts.js';

export type ProtocolNum = 0 | 1;

/** Fi indexes with a defined value (ISO/IEC 7816-3 §8.3, Table 7): 7, 8, 14 and 15 are RFU. */
const FI_DEFINED = new Set([0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13]);
/** Di indexes with a defined value (ISO/IEC 7816-3 §8.3, Table 8): 0 and 10–15 are RFU. */
const DI_DEFINED = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9]);

export function isValidFiDi(fidi: number): boolean {
  return FI_DEFINED.has(fidi >> 4) && DI_DEFINED.has(fidi & 0x0f);
}

/** The structure the slot reports right after activation, from the ATR (and the PPS result in `fidi`). */
export function parametersFromAtr(protocol: ProtocolNum, facts: AtrFacts, fidi: number): Uint8Array {
  const convention = facts.inverse ? 0x02 : 0x00;
  if (protocol === 0) return Uint8Array.of(fidi, convention, facts.tc1, facts.wi, 0x00);
  return Uint8Array.of(
    fidi,
    0x10 | convention | (facts.crc ? 0x01 : 0x00),
    facts.tc1,
    ((facts.bwi & 0x0f) << 4) | (facts.cwi & 0x0f),
    0x00,
    facts.ifsc,
    0x00,
  );
}

export interface ParameterCheck {
  /** 0 when valid, else the message offset of the first wrong field. */
  errorOffset: number;
}

/**
 * Validates a SetParameters abProtocolDataStructure. Offsets: 1 dwLength, 7 bProtocolNum, 10+ the structure's fields.
 */
export function checkParameters(
  protocolNum: number,
  data: Uint8Array,
  opts: { dwProtocols: number; nadAccepted: boolean },
): ParameterCheck {
  if (protocolNum !== 0 && protocolNum !== 1) return { errorOffset: 7 };
  if ((opts.dwProtocols & (1 << protocolNum)) === 0) return { errorOffset: 7 };
  const expected = protocolNum === 0 ? 5 : 7;
  if (data.length !== expected) return { errorOffset: 1 };
  if (!isValidFiDi(data[0]!)) return { errorOffset: 10 };
  const tcck = data[1]!;
  if (protocolNum === 0) {
    // bmTCCKST0: only bit 1 (convention) may be set (Table 6.1-8).
    if ((tcck & ~0x02) !== 0) return { errorOffset: 11 };
    // bWaitingIntegerT0 0 is reserved (ISO/IEC 7816-3 §10.2: WI 0 is RFU).
    if (data[3] === 0) return { errorOffset: 13 };
    if (data[4]! > 3) return { errorOffset: 14 };
    return { errorOffset: 0 };
  }
  // bmTCCKST1: 0x10 | convention bit 1 | checksum bit 0 (Table 6.1-9).
  if ((tcck & 0xfc) !== 0x10) return { errorOffset: 11 };
  // bmWaitingIntegersT1: BWI 0–9 (ISO/IEC 7816-3 §11.4.3: 10–15 RFU).
  if (data[3]! >> 4 > 9) return { errorOffset: 13 };
  if (data[4]! > 3) return { errorOffset: 14 };
  const ifsc = data[5]!;
  if (ifsc === 0 || ifsc === 0xff) return { errorOffset: 15 };
  if (data[6] !== 0 && !opts.nadAccepted) return { errorOffset: 16 };
  return { errorOffset: 0 };
}
