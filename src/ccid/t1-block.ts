/**
 * T=1 block codec (ISO/IEC 7816-3 §11.3): NAD PCB LEN [INF] EDC.
 *
 * Decoding never throws: a block that is not valid in the sense of §11.6.3.1 (bad EDC, LEN not matching the bytes
 * received, LEN = 0xFF, a reserved PCB coding, an S-block whose INF has the wrong length or a reserved value) comes
 * back as `{ ok: false, reason, edcError }`. `edcError` tells the protocol which R-block to answer with: "EDC and/or
 * parity error" (PCB 0x81/0x91) or "other error" (0x82/0x92), §11.3.2.2.
 *
 * Encoding a block that cannot exist (INF longer than 254 bytes, a sequence number other than 0/1, an IFS outside
 * 1..254) is a programming error and throws a RangeError naming the problem.
 */
import { checkEdc, edcLength, writeEdc, type EdcKind } from './edc.js';
import { freshBytes } from '../util/fresh-bytes.js';
import { hexByte } from '../util/hex.js';

/** Information block: carries application data; N(S) alternates 0/1, M set when more blocks of the chain follow. */
export interface T1IBlock {
  type: 'I';
  ns: 0 | 1;
  more: boolean;
  inf: Uint8Array;
}

/** Receive-ready block: acknowledges a chained I-block or asks for the I-block with N(S) = N(R); may flag an error. */
export interface T1RBlock {
  type: 'R';
  nr: 0 | 1;
  error: 'none' | 'edc' | 'other';
}

export type T1SKind = 'resynch' | 'ifs' | 'abort' | 'wtx';

/** Supervisory block. `value` is the one INF byte of IFS (the new IFSC/IFSD) and WTX (the BWT multiplier). */
export interface T1SBlock {
  type: 'S';
  kind: T1SKind;
  response: boolean;
  value?: number;
}

export type T1Block = T1IBlock | T1RBlock | T1SBlock;

export type T1DecodeResult =
  { ok: true; nad: number; block: T1Block } | { ok: false; reason: string; edcError: boolean };

/** Largest INF field: LEN 0xFF is reserved (§11.3.2.3). */
export const MAX_INF = 254;

// PCB codings, §11.3.2.2.
const PCB_R = 0x80;
const PCB_S = 0xc0;
const I_NS = 0x40;
const I_MORE = 0x20;
const R_NR = 0x10;
const S_RESPONSE = 0x20;

const S_CODES: Record<T1SKind, number> = { resynch: 0x00, ifs: 0x01, abort: 0x02, wtx: 0x03 };
const S_KINDS: readonly T1SKind[] = ['resynch', 'ifs', 'abort', 'wtx'];
const R_ERRORS: readonly T1RBlock['error'][] = ['none', 'edc', 'other'];
/** The INF of R-blocks and of S-blocks without a value: only ever read (copied into the block being built). */
const NO_INF = new Uint8Array(0);

function pcbOf(block: T1Block): number {
  switch (block.type) {
    case 'I':
      return (block.ns ? I_NS : 0) | (block.more ? I_MORE : 0);
    case 'R':
      return PCB_R | (block.nr ? R_NR : 0) | R_ERRORS.indexOf(block.error);
    case 'S':
      return PCB_S | (block.response ? S_RESPONSE : 0) | S_CODES[block.kind];
  }
}

function infOf(block: T1Block): Uint8Array {
  switch (block.type) {
    case 'I':
      if (block.inf.length > MAX_INF) {
        throw new RangeError(`T=1 I-block INF of ${block.inf.length} bytes exceeds the maximum of ${MAX_INF}`);
      }
      return block.inf;
    case 'R':
      return NO_INF;
    case 'S': {
      const needsValue = block.kind === 'ifs' || block.kind === 'wtx';
      if (!needsValue) return NO_INF;
      const v = block.value;
      if (v === undefined || !Number.isInteger(v) || v < 0 || v > 0xff) {
        throw new RangeError(`T=1 S(${block.kind}) needs a one-byte value, got ${String(v)}`);
      }
      if (block.kind === 'ifs' && (v === 0 || v === 0xff)) {
        throw new RangeError(`T=1 S(IFS) value ${v} is reserved: IFSC/IFSD range is 1..254 (ISO 7816-3 §11.4.2)`);
      }
      return Uint8Array.of(v);
    }
  }
}

function checkSequence(name: string, v: number): void {
  if (v !== 0 && v !== 1) throw new RangeError(`T=1 ${name} must be 0 or 1, got ${String(v)}`);
}

/**
 * Builds the bytes of one block: prologue, INF, EDC. Throws RangeError for a block that cannot be encoded. With
 * `headroom` the array starts with that many zero bytes before the block, for a link to write its own framing into
 * (t1.ts `T1Link.headroom`: the CCID link's 10-byte XfrBlock header, so that the block is not copied into a message).
 */
export function encodeBlock(block: T1Block, options: { nad?: number; edc: EdcKind; headroom?: number }): Uint8Array {
  const nad = options.nad ?? 0;
  if (!Number.isInteger(nad) || nad < 0 || nad > 0xff) throw new RangeError(`T=1 NAD must be a byte, got ${nad}`);
  const room = options.headroom ?? 0;
  if (!Number.isInteger(room) || room < 0 || room > 64) {
    throw new RangeError(`T=1 block headroom must be 0..64 bytes, got ${room}`);
  }
  if (block.type === 'I') checkSequence('N(S)', block.ns);
  if (block.type === 'R') {
    checkSequence('N(R)', block.nr);
    if (!R_ERRORS.includes(block.error)) throw new RangeError(`T=1 R-block error ${String(block.error)} is unknown`);
  }
  if (block.type === 'S' && !S_KINDS.includes(block.kind)) {
    throw new RangeError(`T=1 S-block kind ${String(block.kind)} is unknown`);
  }
  const inf = infOf(block);
  // One array for the whole block, its EDC written in place (the profile of T=1 chaining, bench/README.md).
  const out = freshBytes(room + 3 + inf.length + edcLength(options.edc));
  out[room] = nad;
  out[room + 1] = pcbOf(block);
  out[room + 2] = inf.length;
  out.set(inf, room + 3);
  writeEdc(out, room + 3 + inf.length, options.edc, room);
  return out;
}

function invalid(reason: string, edcError = false): T1DecodeResult {
  return { ok: false, reason, edcError };
}

/** Reads one received block. Never throws; see the module comment for what counts as invalid. */
export function decodeBlock(bytes: Uint8Array, edc: EdcKind): T1DecodeResult {
  return decode(bytes, edc, true);
}

/**
 * Like decodeBlock, but an I-block's INF is a view into `bytes`, not a copy: for a caller that copies it anyway before
 * `bytes` can change (the T=1 protocol gathers a chained answer's INF fields into one array), one array less per block.
 */
export function decodeBlockInPlace(bytes: Uint8Array, edc: EdcKind): T1DecodeResult {
  return decode(bytes, edc, false);
}

function decode(bytes: Uint8Array, edc: EdcKind, copyInf: boolean): T1DecodeResult {
  const edcLen = edcLength(edc);
  if (bytes.length < 3 + edcLen) {
    return invalid(`block of ${bytes.length} bytes is shorter than prologue and ${edc.toUpperCase()} (${3 + edcLen})`);
  }
  const nad = bytes[0] ?? 0;
  const pcb = bytes[1] ?? 0;
  const len = bytes[2] ?? 0;
  // §11.3.2.3: LEN 0xFF is reserved.
  if (len === 0xff) return invalid('LEN 0xFF is reserved');
  if (bytes.length !== 3 + len + edcLen) {
    return invalid(`LEN says ${len} INF bytes but the block holds ${bytes.length - 3 - edcLen}`);
  }
  if (!checkEdc(bytes, edc)) return invalid(`${edc.toUpperCase()} mismatch`, true);

  if ((pcb & 0x80) === 0) {
    // I-block: 0 N(S) M 0 0 0 0 0; b5..b1 are reserved for future use.
    if ((pcb & 0x1f) !== 0) return invalid(`I-block PCB ${hexByte(pcb)} has reserved bits set`);
    // Only an I-block's INF is handed on, so only an I-block gets an array for it (one view less per R-block).
    const inf = copyInf ? bytes.slice(3, 3 + len) : bytes.subarray(3, 3 + len);
    return { ok: true, nad, block: { type: 'I', ns: pcb & I_NS ? 1 : 0, more: (pcb & I_MORE) !== 0, inf } };
  }
  if ((pcb & 0xc0) === PCB_R) {
    // R-block: 1 0 0 N(R) then 0000 (no error), 0001 (EDC/parity), 0010 (other); everything else is reserved.
    if ((pcb & 0x20) !== 0) return invalid(`R-block PCB ${hexByte(pcb)} has reserved bit b6 set`);
    const error = R_ERRORS[pcb & 0x0f];
    if (error === undefined) return invalid(`R-block PCB ${hexByte(pcb)} has a reserved error coding`);
    if (len !== 0) return invalid(`R-block carries ${len} INF bytes; it must have none`);
    return { ok: true, nad, block: { type: 'R', nr: pcb & R_NR ? 1 : 0, error } };
  }
  // S-block: 1 1 response then 00000 RESYNCH, 00001 IFS, 00010 ABORT, 00011 WTX; other codings are reserved.
  const kind = S_KINDS[pcb & 0x1f];
  if (kind === undefined) return invalid(`S-block PCB ${hexByte(pcb)} has a reserved coding`);
  const response = (pcb & S_RESPONSE) !== 0;
  if (kind === 'ifs' || kind === 'wtx') {
    if (len !== 1) return invalid(`S(${kind.toUpperCase()}) carries ${len} INF bytes; it must carry exactly 1`);
    const value = bytes[3]!; // LEN is 1: the INF byte
    // §11.4.2: IFSC and IFSD range 0x01..0xFE; 0x00 and 0xFF are reserved.
    if (kind === 'ifs' && (value === 0 || value === 0xff)) return invalid(`S(IFS) value ${hexByte(value)} is reserved`);
    return { ok: true, nad, block: { type: 'S', kind, response, value } };
  }
  if (len !== 0) return invalid(`S(${kind.toUpperCase()}) carries ${len} INF bytes; it must have none`);
  return { ok: true, nad, block: { type: 'S', kind, response } };
}

/** A short human description, e.g. `I(1, M=1, 10 bytes)`, `R(0, EDC error)`, `S(WTX request, 2)`: for messages. */
export function describeBlock(block: T1Block): string {
  switch (block.type) {
    case 'I':
      return `I(${block.ns}${block.more ? ', M=1' : ''}, ${block.inf.length} bytes)`;
    case 'R':
      return `R(${block.nr}${block.error === 'none' ? '' : block.error === 'edc' ? ', EDC error' : ', other error'})`;
    case 'S':
      return `S(${block.kind.toUpperCase()} ${block.response ? 'response' : 'request'}${
        block.value === undefined ? '' : `, ${block.value}`
      })`;
  }
}
