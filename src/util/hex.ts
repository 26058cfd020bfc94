/**
 * Hexadecimal text for bytes and numbers: the one place the stack formats and parses hex (logs, error texts, the
 * samples' output). Pure: no platform API.
 */

/** Byte → its two digits, in each case: one lookup per byte (the wire protocol turns every APDU into hex and back). */
const LOWER = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
const UPPER = LOWER.map((d) => d.toUpperCase());

/**
 * `bytes` as two hex digits per byte joined by `separator`: toHex([0x90, 0]) = '90 00';
 * toHex(b, '', 'lower') = '9000'.
 */
export function toHex(bytes: Uint8Array, separator = ' ', letterCase: 'upper' | 'lower' = 'upper'): string {
  const digits = letterCase === 'upper' ? UPPER : LOWER;
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0) out += separator;
    out += digits[bytes[i]!]!;
  }
  return out;
}

/** An unsigned number in upper-case hex, zero-padded to `digits`: hexNumber(0x3b, 2) = '3B', hexNumber(0x8e6, 4). */
export function hexNumber(n: number, digits = 2): string {
  return n.toString(16).toUpperCase().padStart(digits, '0');
}

/** One byte (n & 0xFF) as two upper-case hex digits. */
export function hexByte(n: number): string {
  return hexNumber(n & 0xff, 2);
}

/**
 * Parses hex text: pairs of digits, either case, optionally separated by whitespace ('3B 8E', '3b8e'). Throws a
 * RangeError naming the problem (the text's length, the offending position) for anything else.
 */
export function fromHex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, '');
  if (digits.length % 2 !== 0) throw new RangeError(`hex text has an odd number of digits (${digits.length})`);
  const bad = digits.search(/[^0-9a-fA-F]/);
  if (bad !== -1) throw new RangeError(`hex text has a non-hex character at digit ${bad}`);
  return hexDigitsToBytes(digits);
}

/** Value of a hex digit's char code (0-9, a-f, A-F). */
function nibble(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57;
}

/**
 * The bytes of hex digits already checked (an even number of 0-9, a-f, A-F, nothing else): for callers that check
 * with errors of their own (fromHex above, the wire protocol's hexIn).
 */
export function hexDigitsToBytes(digits: string): Uint8Array {
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++)
    out[i] = (nibble(digits.charCodeAt(2 * i)) << 4) | nibble(digits.charCodeAt(2 * i + 1));
  return out;
}
