/**
 * Command APDU structure (ISO/IEC 7816-4 §5.1): which case it is and where its fields are. The APDU-level reader needs
 * this to map the APDU onto T=0 (ISO/IEC 7816-3 §12.2) and to refuse extended lengths it does not support.
 */
export interface CommandApdu {
  /** CLA INS P1 P2 */
  header: Uint8Array;
  /** Command data (Nc bytes). */
  data: Uint8Array;
  /** Maximum expected response length; 0 when no Le field. */
  ne: number;
  extended: boolean;
  /** ISO/IEC 7816-4 case: 1, 2, 3 or 4 (short or extended per `extended`). */
  apduCase: 1 | 2 | 3 | 4;
}

/** Offset inside the APDU of the field that is wrong: 0 when shorter than a header, 4 for the length fields. */
export interface ApduError {
  offset: number;
  reason: string;
}

export function parseCommandApdu(bytes: Uint8Array): CommandApdu | ApduError {
  if (bytes.length < 4) return { offset: 0, reason: 'an APDU has at least the 4 header bytes' };
  const header = bytes.subarray(0, 4);
  const empty = bytes.subarray(4, 4);
  if (bytes.length === 4) return { header, data: empty, ne: 0, extended: false, apduCase: 1 };
  const b4 = bytes[4]!;
  if (bytes.length === 5) return { header, data: empty, ne: b4 === 0 ? 256 : b4, extended: false, apduCase: 2 };
  if (b4 !== 0) {
    if (bytes.length === 5 + b4) return { header, data: bytes.subarray(5), ne: 0, extended: false, apduCase: 3 };
    if (bytes.length === 6 + b4) {
      const le = bytes[5 + b4]!;
      return { header, data: bytes.subarray(5, 5 + b4), ne: le === 0 ? 256 : le, extended: false, apduCase: 4 };
    }
    return { offset: 4, reason: `Lc ${b4} does not match the ${bytes.length - 5} bytes after it` };
  }
  const n = (bytes[5]! << 8) | (bytes[6] ?? 0);
  if (bytes.length === 7) return { header, data: empty, ne: n === 0 ? 65536 : n, extended: true, apduCase: 2 };
  if (bytes.length < 7 || n === 0) return { offset: 4, reason: 'malformed extended length field' };
  if (bytes.length === 7 + n) return { header, data: bytes.subarray(7), ne: 0, extended: true, apduCase: 3 };
  if (bytes.length === 9 + n) {
    const le = (bytes[7 + n]! << 8) | bytes[8 + n]!;
    return { header, data: bytes.subarray(7, 7 + n), ne: le === 0 ? 65536 : le, extended: true, apduCase: 4 };
  }
  return { offset: 4, reason: `extended Lc ${n} does not match the ${bytes.length - 7} bytes after it` };
}

export function isApduError(v: CommandApdu | ApduError): v is ApduError {
  return 'reason' in v;
}
