/**
 * The T=1 epilogue field: error detection code (ISO/IEC 7816-3 §11.4.4).
 *
 * LRC is one byte, the exclusive-or of every byte of the block before it. CRC is two bytes computed with the
 * polynomial x^16 + x^12 + x^5 + 1 of ISO/IEC 13239, bit-reflected (0x8408), starting from 0xFFFF, with no final
 * exclusive-or, most significant byte first — the variant that libccid and the readers it drives put on the wire, so
 * that a CRC card of this simulator interoperates with them.
 */

export type EdcKind = 'lrc' | 'crc';

/** Number of epilogue bytes for the block check in use. */
export function edcLength(kind: EdcKind): 1 | 2 {
  return kind === 'crc' ? 2 : 1;
}

// A word view over the whole of the buffer last folded, kept for the next block: frames are carved from shared slabs
// (src/util/fresh-bytes.ts), so one view serves a slab's many frames instead of a view made per frame.
let lastBuffer: ArrayBufferLike | null = null;
let lastWords: Int32Array = new Int32Array(0);

function wordView(buffer: ArrayBufferLike, wordsNeeded: number): Int32Array {
  if (buffer !== lastBuffer || lastWords.length < wordsNeeded) {
    lastBuffer = buffer;
    lastWords = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
  }
  return lastWords;
}

/** LRC over bytes[start, end). */
export function lrc(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let x = 0;
  let i = start;
  if (end - start >= 128 && end <= bytes.length) {
    // Long frames (chained I-blocks) by 32-bit words: XOR is bitwise, so the four bytes of the XOR of the words XORed
    // together give the XOR of their bytes, in either byte order. Bytes before the first 4-aligned one and after the
    // last whole word go one by one.
    const base = bytes.byteOffset;
    const head = Math.min(end, start + ((4 - ((base + start) & 3)) & 3));
    for (; i < head; i++) x ^= bytes[i]!;
    const count = (end - i) >>> 2;
    const first = (base + i) >>> 2;
    const words = wordView(bytes.buffer, first + count);
    let w = 0;
    for (let k = first; k < first + count; k++) w ^= words[k]!;
    x ^= (w ^ (w >>> 8) ^ (w >>> 16) ^ (w >>> 24)) & 0xff;
    i += count * 4;
  }
  for (; i < end; i++) x ^= bytes[i]!;
  return x;
}

/** Made on the first CRC, not at module load: the connector's worker loads the simulator at every start (issue 14). */
let crcTableMemo: Uint16Array | undefined;
function crcTable(): Uint16Array {
  if (crcTableMemo) return crcTableMemo;
  const table = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let v = n;
    for (let bit = 0; bit < 8; bit++) v = v & 1 ? (v >>> 1) ^ 0x8408 : v >>> 1;
    table[n] = v;
  }
  crcTableMemo = table;
  return table;
}

/** CRC over bytes[start, end), as a 16-bit number (sent high byte first). */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const table = crcTable();
  let v = 0xffff;
  for (let i = start; i < end; i++) v = (v >>> 8) ^ table[(v ^ bytes[i]!) & 0xff]!;
  return v;
}

/** Computes the EDC over block[0, end) and writes it at block[end] (and block[end + 1] for CRC). */
export function writeEdc(kind: EdcKind, block: Uint8Array, end: number): void {
  if (kind === 'crc') {
    const v = crc16(block, 0, end);
    block[end] = v >>> 8;
    block[end + 1] = v & 0xff;
  } else {
    block[end] = lrc(block, 0, end);
  }
}

/** True when the last edcLength(kind) bytes of the block are the EDC of the bytes before them. */
export function edcMatches(kind: EdcKind, block: Uint8Array): boolean {
  const n = edcLength(kind);
  if (block.length < n) return false;
  const end = block.length - n;
  if (kind === 'crc') {
    const v = crc16(block, 0, end);
    return block[end] === v >>> 8 && block[end + 1] === (v & 0xff);
  }
  return block[end] === lrc(block, 0, end);
}
