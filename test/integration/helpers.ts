/**
 * Shared helpers of the driver↔simulator integration suite: byte helpers, the benchmark card's APDUs, a settle-or-fail
 * race (a hang is a failure, never a stuck run), a bulk traffic recorder, and reader opening with tiny timeouts.
 */
import { expect } from 'vitest';
import { CcidReader, type CcidReaderOptions } from '../../src/ccid/reader.js';
import { DriverError, ifdCodeName } from '../../src/ifd/errors.js';
import {
  READER_ENDPOINT,
  createSimulatedReader,
  helloWorldCardT0,
  pinCard,
  type ProfileId,
  type ReaderProfile,
  type SimulatedReader,
  type SimulatedReaderOptions,
} from '../../src/sim/index.js';
import { settle as settleWithin, SETTLE_MS, type Outcome } from '../support/settle.js';

export const hex = (s: string): Uint8Array =>
  Uint8Array.from(
    s
      .split(/\s+/)
      .filter(Boolean)
      .map((b) => parseInt(b, 16)),
  );

export const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

export const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

export const SW_OK = hex('90 00');
export const SELECT_HELLO = hex('00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01');
export const HELLO = hex('00 00 00 00');
export const HELLO_RESPONSE = concat(new TextEncoder().encode('Hello world!'), SW_OK);
export const GET_RESPONSE_HELLO = hex('00 C0 00 00 0C');
export const PIN_AID = hex('D2 76 00 01 24 01');
export const SELECT_PIN = concat(hex('00 A4 04 00 06'), PIN_AID);

export const getChallenge = (le: number): Uint8Array => hex(`00 84 00 00 ${(le & 0xff).toString(16)}`);

/** Deterministic payload of n bytes. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Short ECHO: 80 EE 00 00 Lc data (1..255 bytes). */
export function echoShort(data: Uint8Array): Uint8Array {
  if (data.length < 1 || data.length > 255) throw new RangeError('short ECHO carries 1..255 bytes');
  return concat(hex('80 EE 00 00'), Uint8Array.of(data.length), data);
}

/** Extended ECHO: 80 EE 00 00 00 Lc1 Lc2 data (1..65535 bytes). */
export function echoExtended(data: Uint8Array): Uint8Array {
  return concat(hex('80 EE 00 00 00'), Uint8Array.of(data.length >> 8, data.length & 0xff), data);
}

export const ALL_PROFILES: readonly ProfileId[] = [
  'gempc-twin',
  'short-apdu',
  'extended-apdu',
  'two-slot',
  'pinpad',
  'vendor-class',
  'descriptor-after-endpoint',
  'no-interrupt',
  'k30',
  'character-level',
];

/** Timeouts scaled so that a 3 s driver timeout is 0.6 ms and the 60 s power-on one 12 ms: faults resolve at once. */
export const FAST: CcidReaderOptions = { timeoutScale: 0.0002, pollIntervalMs: 2 };

/** A generous bound for "settles": far above any scaled timeout, far below vitest's limit. */
export { SETTLE_MS, type Outcome } from '../support/settle.js';

/** Races `p` against a timer: fails the test if it has not settled within `ms`, else returns how it settled. */
export function settle<T>(p: Promise<T>, what = 'the call', ms = SETTLE_MS): Promise<Outcome<T>> {
  return settleWithin(p, ms, what);
}

/** Awaits p (with the hang guard) and returns its value; rethrows its error. */
export async function must<T>(p: Promise<T>, what = 'the call'): Promise<T> {
  const r = await settle(p, what);
  if (!r.ok) throw r.error;
  return r.value;
}

/** Awaits p (with the hang guard) and returns the DriverError it must reject with. */
export async function rejection(p: Promise<unknown>, what = 'the call'): Promise<DriverError> {
  const r = await settle(p, what);
  if (r.ok) throw new Error(`${what} resolved (${describeValue(r.value)}) where it had to fail`);
  if (!(r.error instanceof DriverError)) {
    throw new Error(`${what} rejected with a non-DriverError: ${String(r.error)}`, { cause: r.error });
  }
  return r.error;
}

/** Asserts a DriverError with this IFD code (and a message that says something). */
export async function expectIfd(p: Promise<unknown>, code: number, what = 'the call'): Promise<DriverError> {
  const e = await rejection(p, what);
  expect(ifdCodeName(e.code), e.message).toBe(ifdCodeName(code));
  expect(e.message.length).toBeGreaterThan(10);
  return e;
}

function describeValue(v: unknown): string {
  return v instanceof Uint8Array ? toHex(v) : String(v);
}

/** A CCID message seen on a bulk pipe. */
export interface Frame {
  type: number;
  slot: number;
  seq: number;
  b7: number;
  b8: number;
  b9: number;
  data: Uint8Array;
}

function frame(bytes: Uint8Array): Frame {
  return {
    type: bytes[0] ?? -1,
    slot: bytes[5] ?? -1,
    seq: bytes[6] ?? -1,
    b7: bytes[7] ?? -1,
    b8: bytes[8] ?? -1,
    b9: bytes[9] ?? -1,
    data: bytes.slice(10),
  };
}

/** Records what the driver writes on bulk-OUT and reads on bulk-IN (the simulator's own objects, wrapped). */
export class Traffic {
  readonly out: Frame[] = [];
  /** Raw bulk-IN transfers as the driver got them (zero-length packets included). */
  readonly inRaw: Uint8Array[] = [];

  /** Called before the nth bulk-OUT transfer (1-based, counted since the last clear) reaches the simulator. */
  beforeOut: ((n: number) => void) | undefined;

  constructor(readonly sim: SimulatedReader) {
    const transferOut = sim.transferOut.bind(sim);
    const transferIn = sim.transferIn.bind(sim);
    sim.transferOut = async (ep: number, data: BufferSource) => {
      const b =
        data instanceof ArrayBuffer
          ? new Uint8Array(data)
          : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      this.out.push(frame(b.slice()));
      this.beforeOut?.(this.out.length);
      return transferOut(ep, data);
    };
    sim.transferIn = async (ep: number, length: number) => {
      const r = await transferIn(ep, length);
      if (ep === READER_ENDPOINT.BULK_IN) {
        const d = r.data;
        this.inRaw.push(
          d ? new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength)) : new Uint8Array(0),
        );
      }
      return r;
    };
  }

  /** Commands of one message type written so far. */
  ofType(type: number): Frame[] {
    return this.out.filter((f) => f.type === type);
  }

  clear(): void {
    this.out.length = 0;
    this.inRaw.length = 0;
  }
}

export interface Rig {
  sim: SimulatedReader;
  reader: CcidReader;
  traffic: Traffic;
}

/** A simulated reader (profile id or object) opened by the driver with tiny timeouts. */
export async function openRig(
  profile: ProfileId | ReaderProfile,
  options: CcidReaderOptions = {},
  simOptions: SimulatedReaderOptions = {},
): Promise<Rig> {
  const sim = createSimulatedReader(profile, simOptions);
  const traffic = new Traffic(sim);
  const reader = await must(CcidReader.open(sim, { ...FAST, ...options }), 'CcidReader.open');
  return { sim, reader, traffic };
}

/** Power up and set the protocol; returns the ATR. */
export async function powerAndSet(reader: CcidReader, protocol: 1 | 2, slot = 0): Promise<Uint8Array> {
  const s = reader.slots[slot]!;
  const atr = await must(s.power('up'), 'power up');
  await must(s.setProtocol(protocol), 'setProtocol');
  return atr;
}

/** Waits (with a bound) until `cond` holds, letting timers and microtasks run. */
export async function until(cond: () => boolean, what: string, ms = SETTLE_MS): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Exact byte comparison that reports the length and the first difference instead of dumping 64 KiB. */
export function expectBytes(actual: Uint8Array, expected: Uint8Array, what = 'bytes'): void {
  let first = -1;
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (actual[i] !== expected[i]) {
      first = i;
      break;
    }
  }
  if (first === -1 && actual.length === expected.length) return;
  const at = first === -1 ? n : first;
  const window = (b: Uint8Array) => toHex(b.subarray(Math.max(0, at - 4), at + 8));
  expect.fail(
    `${what}: got ${actual.length} bytes, want ${expected.length}; first difference at ${at}: ` +
      `got …${window(actual)}…, want …${window(expected)}… (tail got ${toHex(actual.subarray(-4))}, want ${toHex(expected.subarray(-4))})`,
  );
}

/**
 * The GemPC Pinpad with a PIN card: `pinCard()` for T=1, or the T=0 card (every simulated card carries the PIN
 * applet), powered, the protocol set, the PIN applet selected.
 */
export async function pinRig(card: 'T=1' | 'T=0'): Promise<Rig> {
  const rig = await openRig('pinpad');
  rig.sim.insertCard(card === 'T=1' ? pinCard() : helloWorldCardT0());
  await powerAndSet(rig.reader, card === 'T=1' ? 2 : 1);
  expect(await must(rig.reader.slots[0]!.transmit(SELECT_PIN))).toEqual(SW_OK);
  return rig;
}
