/**
 * The error detection code (EDC) that ends every T=1 block: the epilogue field of ISO/IEC 7816-3 §11.3.1/§11.4.4.
 *
 * The card's ATR chooses it (first TC for T=1, bit 1: 0 = LRC, 1 = CRC). The LRC is one byte: the exclusive-or of
 * every byte of the prologue and information fields. The CRC is two bytes; ISO 7816-3 only refers to ISO/IEC 13239,
 * which leaves the variant open. We compute the one libccid (`src/openct/checksum.c`) and real readers and cards
 * interoperate with on Linux: polynomial x^16 + x^12 + x^5 + 1 processed least-significant bit first (reflected form
 * 0x8408), register preset to 0xFFFF, no final inversion (the catalogued "CRC-16/MCRF4XX"), and the two bytes
 * transmitted high byte first. Observed on the wire with a Gemalto TPDU reader and a card answering in kind (OsEID
 * `doc/T1_CRC.txt`): `00 C1 01 FE` is followed by `54 4E`. Windows' driver is reported to use a different CRC there, so
 * there is no single de-facto standard; matching libccid keeps us compatible with the cards pcsc-lite users have.
 */

/** Which epilogue the block carries (§11.4.4). */
export type EdcKind = 'lrc' | 'crc';

/** Number of EDC bytes: 1 for LRC, 2 for CRC. */
export function edcLength(kind: EdcKind): 1 | 2 {
  return kind === 'crc' ? 2 : 1;
}

/** Longitudinal redundancy check: XOR of all bytes (§11.4.4). */
export function lrc(bytes: Uint8Array): number {
  let x = 0;
  for (const b of bytes) x ^= b;
  return x;
}

/** Reflected CRC-16 table for polynomial 0x8408, computed once rather than copied from anywhere. */
const CRC_TABLE: Uint16Array = (() => {
  const table = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x8408 : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-16 as libccid computes it for T=1: reflected 0x8408, preset 0xFFFF, no final XOR. Returns 0..0xFFFF. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) crc = (crc >>> 8) ^ (CRC_TABLE[(crc ^ b) & 0xff] ?? 0);
  return crc;
}

/** The epilogue bytes for `bytes` (prologue + INF), in transmission order. */
export function computeEdc(bytes: Uint8Array, kind: EdcKind): Uint8Array {
  if (kind === 'lrc') return Uint8Array.of(lrc(bytes));
  const crc = crc16(bytes);
  // High byte first, as libccid transmits it (checksum.c: rc[0] = v >> 8).
  return Uint8Array.of(crc >>> 8, crc & 0xff);
}

/** `bytes` followed by its EDC: a whole block ready to send. */
export function appendEdc(bytes: Uint8Array, kind: EdcKind): Uint8Array {
  const edc = computeEdc(bytes, kind);
  const out = new Uint8Array(bytes.length + edc.length);
  out.set(bytes, 0);
  out.set(edc, bytes.length);
  return out;
}

/**
 * True when the last EDC bytes of `block` match the rest. A block too short to hold an EDC and anything before it
 * fails the check (it cannot be a valid block).
 */
export function checkEdc(block: Uint8Array, kind: EdcKind): boolean {
  const n = edcLength(kind);
  if (block.length <= n) return false;
  const body = block.subarray(0, block.length - n);
  const expected = computeEdc(body, kind);
  for (let i = 0; i < n; i++) if (block[block.length - n + i] !== expected[i]) return false;
  return true;
}
