/**
 * Command and response APDUs as the card reads and writes them (ISO/IEC 7816-4 §5.1).
 */

/** Status words the simulated card uses (ISO/IEC 7816-4 §5.1.3, table 5–6). */
import * as SW from './sw.js';
export { SW };

/** A command APDU (§5.1). Ne = 0 means the command has no Le field. */
export interface CommandApdu {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  /** The command data field (Nc bytes), a view into the bytes parsed. */
  readonly data: Uint8Array;
  /** Maximum number of response data bytes expected: 0 (no Le), 1..256 (short), 1..65536 (extended). */
  readonly ne: number;
  readonly extended: boolean;
}

/** A response APDU: data then the status word. */
export interface ResponseApdu {
  readonly data: Uint8Array;
  readonly sw: number;
}

const EMPTY = new Uint8Array(0);

/**
 * Parses a command APDU by the length rules of ISO/IEC 7816-4 §5.1 (cases 1, 2S, 3S, 4S, 2E, 3E, 4E). Returns null when
 * the bytes fit none of the cases (the card answers 67 00). The data field is a view, not a copy.
 */
export function parseCommandApdu(apdu: Uint8Array): CommandApdu | null {
  const n = apdu.length;
  if (n < 4) return null;
  const cla = apdu[0]!;
  const ins = apdu[1]!;
  const p1 = apdu[2]!;
  const p2 = apdu[3]!;
  const make = (data: Uint8Array, ne: number, extended: boolean): CommandApdu => ({
    cla,
    ins,
    p1,
    p2,
    data,
    ne,
    extended,
  });
  if (n === 4) return make(EMPTY, 0, false); // case 1
  const b4 = apdu[4]!;
  if (n === 5) return make(EMPTY, b4 === 0 ? 256 : b4, false); // case 2S
  if (b4 !== 0) {
    // short Lc
    if (n === 5 + b4) return make(apdu.subarray(5, 5 + b4), 0, false); // case 3S
    if (n === 6 + b4) {
      const le = apdu[n - 1]!;
      return make(apdu.subarray(5, 5 + b4), le === 0 ? 256 : le, false); // case 4S
    }
    return null;
  }
  // b4 = 00 and more than 5 bytes: extended length fields (§5.1: "00" then two bytes).
  if (n < 7) return null;
  const ext = (apdu[5]! << 8) | apdu[6]!;
  if (n === 7) return make(EMPTY, ext === 0 ? 65536 : ext, true); // case 2E
  if (ext === 0) return null; // an extended Lc of zero is not a valid encoding
  if (n === 7 + ext) return make(apdu.subarray(7, 7 + ext), 0, true); // case 3E
  if (n === 9 + ext) {
    const le = (apdu[n - 2]! << 8) | apdu[n - 1]!;
    return make(apdu.subarray(7, 7 + ext), le === 0 ? 65536 : le, true); // case 4E
  }
  return null;
}
