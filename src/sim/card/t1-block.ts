/**
 * T=1 block frame, as the card reads and writes it (ISO/IEC 7816-3 §11.3, §11.4).
 *
 * A block is NAD PCB LEN INF EDC. The PCB says the kind (§11.3.2.2): I-block `0 N(S) M xxxxx`, R-block
 * `1 0 0 N(R) error(4)`, S-block `1 1 response type(5)`. LEN 0xFF is reserved (§11.3.2.3).
 */

import { freshBytes } from '../../util/fresh-bytes.js';
import { edcLength, edcMatches, writeEdc, type EdcKind } from './edc.js';

/** PCB of an I-block (§11.3.2.2): N(S) in bit 7, more-data bit M in bit 6. */
export function iBlockPcb(ns: number, more: boolean): number {
  return ((ns & 1) << 6) | (more ? 0x20 : 0);
}

/** R-block error codes (§11.3.2.2): 0 no error, 1 EDC or parity error, 2 other error. */
export const R_ERROR = { NONE: 0, EDC: 1, OTHER: 2 } as const;
export type RError = (typeof R_ERROR)[keyof typeof R_ERROR];

/** PCB of an R-block (§11.3.2.2): N(R) in bit 5. */
export function rBlockPcb(nr: number, error: RError): number {
  return 0x80 | ((nr & 1) << 4) | error;
}

/** S-block types (§11.3.2.2, bits 5-1 of the PCB). */
export const S_TYPE = { RESYNCH: 0, IFS: 1, ABORT: 2, WTX: 3 } as const;

/** PCB of an S-block: 0xC0 | type for a request, 0xE0 | type for a response. */
export function sBlockPcb(type: number, response: boolean): number {
  return 0xc0 | (response ? 0x20 : 0) | type;
}

/** §11.3.2.1: the answer's NAD carries the received DAD as its SAD and the received SAD as its DAD. */
export function swapNadNibbles(nad: number): number {
  return ((nad << 4) | (nad >>> 4)) & 0xff;
}

export type BlockKind = 'I' | 'R' | 'S';

export function blockKind(pcb: number): BlockKind {
  if ((pcb & 0x80) === 0) return 'I';
  return (pcb & 0x40) === 0 ? 'R' : 'S';
}

/** A received block, its INF a view into the received bytes (copy it before keeping it). */
export interface ReceivedBlock {
  readonly nad: number;
  readonly pcb: number;
  readonly inf: Uint8Array;
}

/** Why a received frame is unusable: its EDC does not match, or its LEN does not fit the frame (§11.6.3 rule 7). */
export type FrameError = 'edc' | 'length';

export type FrameReading = { ok: true; block: ReceivedBlock } | { ok: false; error: FrameError };

/**
 * Reads one frame. The length is checked before the EDC: a frame whose size disagrees with its LEN cannot have a
 * meaningful EDC position.
 */
const NO_INF = new Uint8Array(0);

export function readFrame(bytes: Uint8Array, edc: EdcKind): FrameReading {
  const n = edcLength(edc);
  if (bytes.length < 3 + n) return { ok: false, error: 'length' };
  const len = bytes[2]!;
  if (len === 0xff || bytes.length !== 3 + len + n) return { ok: false, error: 'length' };
  if (!edcMatches(edc, bytes)) return { ok: false, error: 'edc' };
  // An empty INF (every R-block, most S-blocks) is a shared empty array rather than a view made for it.
  return { ok: true, block: { nad: bytes[0]!, pcb: bytes[1]!, inf: len === 0 ? NO_INF : bytes.subarray(3, 3 + len) } };
}

/**
 * Allocates a frame with its prologue filled in; the caller writes `len` INF bytes at offset 3, then seals it. This
 * lets the chaining code copy response bytes straight into the frame.
 */
export function openFrame(nad: number, pcb: number, len: number, edc: EdcKind): Uint8Array {
  const frame = freshBytes(3 + len + edcLength(edc));
  frame[0] = nad;
  frame[1] = pcb;
  frame[2] = len;
  return frame;
}

/** Writes the EDC of a frame made by openFrame. */
export function sealFrame(frame: Uint8Array, edc: EdcKind): Uint8Array {
  writeEdc(edc, frame, frame.length - edcLength(edc));
  return frame;
}

/** A whole frame in one call, for short blocks (R- and S-blocks). */
export function buildFrame(nad: number, pcb: number, inf: ArrayLike<number>, edc: EdcKind): Uint8Array {
  const frame = openFrame(nad, pcb, inf.length, edc);
  frame.set(inf, 3);
  return sealFrame(frame, edc);
}
