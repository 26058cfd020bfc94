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
  return lrcOf(bytes, bytes.length);
}

// The loops below index the bytes rather than iterate them, and take an end so that a block's EDC can be computed and
// checked in place: a 65,000-byte ECHO through T=1 runs them over 512 blocks each way, and the profile of that figure
// (bench/README.md) showed the iterator loops and the per-block subarray and EDC arrays among its costs.
function lrcOf(bytes: Uint8Array, end: number, start = 0): number {
  let x = 0;
  let i = start;
  if (end - start >= WORDWISE_FROM) {
    // A long block (an I-block of a chain) is folded four bytes at a time: the exclusive-or of the bytes is that of the
    // four bytes of the exclusive-or of their 32-bit words, whatever the byte order. The words start at the first
    // 4-aligned byte; the bytes before and after them are taken one by one. (An array this long is never one V8 keeps
    // on its heap, so taking its buffer copies nothing.)
    const offset = bytes.byteOffset;
    const head = start + ((4 - ((offset + start) & 3)) & 3);
    for (; i < head; i++) x ^= bytes[i]!;
    const count = (end - head) >>> 2;
    const first = (offset + head) >>> 2;
    const words = wordsOver(bytes.buffer, first + count);
    let w = 0;
    for (let k = first; k < first + count; k++) w ^= words[k]!;
    x ^= (w ^ (w >>> 8) ^ (w >>> 16) ^ (w >>> 24)) & 0xff;
    i = head + count * 4;
  }
  for (; i < end; i++) x ^= bytes[i]!;
  return x;
}

/** Blocks from this length on have their LRC computed by words (about twice as fast on a 258-byte block). */
const WORDWISE_FROM = 128;

// The buffer last folded by words and a word view over the whole of it. Blocks are carved from shared 64 KiB slabs
// (src/util/fresh-bytes.ts), so consecutive blocks mostly share one buffer and the view is made once per slab instead
// of once per block (a typed array view costs about as much as folding a third of a block; bench/README.md).
let wordsBuffer: ArrayBufferLike | undefined;
let wordsView: Int32Array = new Int32Array(0);

/** An Int32Array over `buffer` from its start, at least `words` long (remade if the buffer is new or has grown). */
function wordsOver(buffer: ArrayBufferLike, words: number): Int32Array {
  if (buffer !== wordsBuffer || wordsView.length < words) {
    wordsBuffer = buffer;
    wordsView = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
  }
  return wordsView;
}

function crcOf(bytes: Uint8Array, end: number, start = 0): number {
  const table = crcTable();
  let crc = 0xffff;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ table[(crc ^ bytes[i]!) & 0xff]!;
  return crc;
}

/**
 * Reflected CRC-16 table for polynomial 0x8408, computed rather than copied from anywhere, on the first CRC: at module
 * load its 2,048 loop turns ran at every start of the connector's worker (issue 14), where T=1 cards almost all use
 * LRC (ISO 7816-3 §11.4.4: CRC only when the ATR's TCi says so).
 */
let crcTableMemo: Uint16Array | undefined;
function crcTable(): Uint16Array {
  if (crcTableMemo) return crcTableMemo;
  const table = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x8408 : c >>> 1;
    table[n] = c;
  }
  crcTableMemo = table;
  return table;
}

/** CRC-16 as libccid computes it for T=1: reflected 0x8408, preset 0xFFFF, no final XOR. Returns 0..0xFFFF. */
export function crc16(bytes: Uint8Array): number {
  return crcOf(bytes, bytes.length);
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
  const out = new Uint8Array(bytes.length + edcLength(kind));
  out.set(bytes, 0);
  writeEdc(out, bytes.length, kind);
  return out;
}

/**
 * Writes the EDC of `block[start, end)` at `block[end]` (and `block[end + 1]` for CRC, high byte first); `start` is 0
 * unless the block sits after other bytes in the array (room for a CCID header, t1.ts `T1Link.headroom`).
 */
export function writeEdc(block: Uint8Array, end: number, kind: EdcKind, start = 0): void {
  if (kind === 'lrc') {
    block[end] = lrcOf(block, end, start);
    return;
  }
  const crc = crcOf(block, end, start);
  block[end] = crc >>> 8;
  block[end + 1] = crc & 0xff;
}

/**
 * True when the last EDC bytes of `block` match the rest. A block too short to hold an EDC and anything before it
 * fails the check (it cannot be a valid block).
 */
export function checkEdc(block: Uint8Array, kind: EdcKind): boolean {
  const n = edcLength(kind);
  if (block.length <= n) return false;
  const end = block.length - n;
  if (kind === 'lrc') return block[end] === lrcOf(block, end);
  const crc = crcOf(block, end);
  return block[end] === crc >>> 8 && block[end + 1] === (crc & 0xff);
}
