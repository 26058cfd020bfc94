/**
 * T=1 block framing as the reader builds and checks it (ISO/IEC 7816-3 §11.3–§11.4): prologue NAD PCB LEN, INF, and
 * the epilogue EDC (LRC §11.4.4, or CRC as ISO/IEC 13239 with the reflected polynomial 0x8408, initial 0xFFFF).
 */
export type T1Edc = 'lrc' | 'crc';

import * as PCB from './pcb.js';
export { PCB };

export function lrc(bytes: Uint8Array, end = bytes.length): number {
  let x = 0;
  for (let i = 0; i < end; i++) x ^= bytes[i]!;
  return x;
}

export function crc16(bytes: Uint8Array, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = 0; i < end; i++) {
    crc ^= bytes[i]!;
    for (let b = 0; b < 8; b++) crc = crc & 1 ? (crc >>> 1) ^ 0x8408 : crc >>> 1;
  }
  return crc;
}

export function edcLength(edc: T1Edc): number {
  return edc === 'crc' ? 2 : 1;
}

/** Builds a whole block: NAD PCB LEN INF EDC. */
export function buildBlock(nad: number, pcb: number, inf: Uint8Array, edc: T1Edc): Uint8Array {
  const out = new Uint8Array(3 + inf.length + edcLength(edc));
  out[0] = nad;
  out[1] = pcb;
  out[2] = inf.length;
  out.set(inf, 3);
  const end = 3 + inf.length;
  if (edc === 'crc') {
    const c = crc16(out, end);
    // CRC is sent high byte first (libccid proto-t1 and ISO/IEC 13239 as used by ISO 7816-3 §11.4.4).
    out[end] = c >>> 8;
    out[end + 1] = c & 0xff;
  } else {
    out[end] = lrc(out, end);
  }
  return out;
}

export interface ParsedBlock {
  nad: number;
  pcb: number;
  inf: Uint8Array;
}

/** Checks LEN and EDC; null when the block is malformed (§11.6.3: treated as a transmission error). */
export function parseBlock(block: Uint8Array, edc: T1Edc): ParsedBlock | null {
  const epilogue = edcLength(edc);
  if (block.length < 3 + epilogue) return null;
  const len = block[2]!;
  if (len === 0xff || block.length !== 3 + len + epilogue) return null;
  const end = 3 + len;
  if (edc === 'crc') {
    const c = crc16(block, end);
    if (block[end] !== c >>> 8 || block[end + 1] !== (c & 0xff)) return null;
  } else if (block[end] !== lrc(block, end)) {
    return null;
  }
  return { nad: block[0]!, pcb: block[1]!, inf: block.subarray(3, end) };
}

export function isIBlock(pcb: number): boolean {
  return (pcb & 0x80) === 0;
}
export function isRBlock(pcb: number): boolean {
  return (pcb & 0xc0) === 0x80;
}
export function isSBlock(pcb: number): boolean {
  return (pcb & 0xc0) === 0xc0;
}
