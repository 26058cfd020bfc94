/** A tiny CCID encoder/decoder of the tests' own, so the tests check the simulator against CCID 1.1, not itself. */
import {
  createSimulatedReader,
  type SimulatedReader,
  type SimulatedReaderOptions,
} from '../../../../src/sim/reader/device.js';
import type { ProfileId } from '../../../../src/sim/reader/profiles.js';

export const BULK_OUT = 1;
export const BULK_IN = 2;
export const INTERRUPT_IN = 3;

export function msg(
  type: number,
  slot: number,
  seq: number,
  data: ArrayLike<number> = [],
  b7 = 0,
  b8 = 0,
  b9 = 0,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(10 + data.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, data.length, true);
  out[5] = slot;
  out[6] = seq;
  out[7] = b7;
  out[8] = b8;
  out[9] = b9;
  out.set(Array.from(data), 10);
  return out;
}

export interface Resp {
  type: number;
  dwLength: number;
  slot: number;
  seq: number;
  status: number;
  error: number;
  byte9: number;
  data: Uint8Array;
  raw: Uint8Array;
}

export function parse(r: USBInTransferResult): Resp {
  const dv = r.data!;
  const raw = new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
  return {
    type: raw[0]!,
    dwLength: raw.length >= 5 ? dv.getUint32(1, true) : -1,
    slot: raw[5]!,
    seq: raw[6]!,
    status: raw[7]!,
    error: raw[8]!,
    byte9: raw[9]!,
    data: raw.subarray(10),
    raw,
  };
}

export async function openReader(profile: ProfileId, options?: SimulatedReaderOptions): Promise<SimulatedReader> {
  const reader = createSimulatedReader(profile, options);
  await reader.open();
  await reader.claimInterface(0);
  return reader;
}

export async function send(reader: SimulatedReader, message: Uint8Array): Promise<void> {
  const r = await reader.transferOut(BULK_OUT, message as Uint8Array<ArrayBuffer>);
  if (r.status !== 'ok') throw new Error(`bulk-OUT ${r.status}`);
}

export async function receive(reader: SimulatedReader, length = 70000): Promise<Resp> {
  const r = await reader.transferIn(BULK_IN, length);
  if (r.status !== 'ok') throw new Error(`bulk-IN ${r.status}`);
  return parse(r);
}

export async function exchange(reader: SimulatedReader, message: Uint8Array): Promise<Resp> {
  await send(reader, message);
  return receive(reader);
}

export function hex(bytes: ArrayLike<number>): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

export function bytes(h: string): Uint8Array {
  const clean = h.replace(/\s+/g, '');
  return Uint8Array.from(clean.match(/../g) ?? [], (x) => parseInt(x, 16));
}

/** Whether a promise has settled, without waiting for it (a few microtask turns). */
export async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return done;
}
