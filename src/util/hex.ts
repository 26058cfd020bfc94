/**
 * Hexadecimal text for bytes and numbers: the one place the stack formats and parses hex (logs, error texts, the
 * samples' output). Pure: no platform API.
 */

/**
 * `bytes` as two hex digits per byte joined by `separator`: toHex([0x90, 0]) = '90 00';
 * toHex(b, '', 'lower') = '9000'.
 */
export function toHex(bytes: Uint8Array, separator = ' ', letterCase: 'upper' | 'lower' = 'upper'): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0) out += separator;
    out += bytes[i]!.toString(16).padStart(2, '0');
  }
  return letterCase === 'upper' ? out.toUpperCase() : out;
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
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}
