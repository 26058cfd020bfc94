/**
 * Command APDU cases (ISO/IEC 7816-4 §5.1, Table 1 / 7816-3 §12.1.3), as the driver needs them to map an APDU onto T=0
 * and to pick a chaining strategy. The driver never rewrites an APDU it cannot classify: it sends it as given (the card
 * is the judge of its own commands) except where T=0 framing makes that impossible.
 */
export type ApduCase = '1' | '2S' | '3S' | '4S' | '2E' | '3E' | '4E';

export interface ApduShape {
  case: ApduCase;
  /** Nc: number of command data bytes. */
  nc: number;
  /** Offset of the command data in the APDU. */
  dataOffset: number;
  /** Ne as encoded (0 = none; a short Le of 00 means 256, an extended Le of 0000 means 65536). */
  ne: number;
}

/** Classifies a command APDU; returns undefined when its length fits no case (the caller decides what to do). */
export function classifyApdu(apdu: Uint8Array): ApduShape | undefined {
  const n = apdu.length;
  if (n < 4) return undefined;
  if (n === 4) return { case: '1', nc: 0, dataOffset: 4, ne: 0 };
  const b5 = apdu[4]!;
  if (n === 5) return { case: '2S', nc: 0, dataOffset: 5, ne: b5 === 0 ? 256 : b5 };
  if (b5 !== 0) {
    // Short Lc.
    if (n === 5 + b5) return { case: '3S', nc: b5, dataOffset: 5, ne: 0 };
    if (n === 6 + b5) {
      const le = apdu[n - 1]!;
      return { case: '4S', nc: b5, dataOffset: 5, ne: le === 0 ? 256 : le };
    }
    return undefined;
  }
  // b5 = 0 with more bytes: extended length (7816-4 §5.1).
  if (n === 7) {
    const le = (apdu[5]! << 8) | apdu[6]!;
    return { case: '2E', nc: 0, dataOffset: 7, ne: le === 0 ? 65536 : le };
  }
  if (n < 8) return undefined;
  const lc = (apdu[5]! << 8) | apdu[6]!;
  if (lc === 0) return undefined;
  if (n === 7 + lc) return { case: '3E', nc: lc, dataOffset: 7, ne: 0 };
  if (n === 9 + lc) {
    const le = (apdu[n - 2]! << 8) | apdu[n - 1]!;
    return { case: '4E', nc: lc, dataOffset: 7, ne: le === 0 ? 65536 : le };
  }
  return undefined;
}

/** True for the extended-length cases, which need an extended-APDU reader, T=1, or ENVELOPE over T=0. */
export function isExtended(shape: ApduShape): boolean {
  return shape.case === '2E' || shape.case === '3E' || shape.case === '4E';
}
