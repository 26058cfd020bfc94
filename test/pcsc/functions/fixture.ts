/**
 * Shared fixture of the per-function conformance suite (reference §2): a daemon with N readers (the CCID driver over
 * the simulator, or a tiny fake IFD handler where a test needs a driver behaviour the simulator cannot give on cue),
 * clients with an established context each, and the helpers that make a hang a failure instead of a stuck run.
 *
 * Everything built here is torn down when the test finishes (vitest `onTestFinished`).
 */
import { expect, onTestFinished } from 'vitest';
import { CcidReader } from '../../../src/ccid/reader.js';
import { DriverError, IFD, type IfdCode } from '../../../src/ifd/errors.js';
import type { IfdProtocol, IfdReader, IfdSlot, PowerAction } from '../../../src/ifd/ifd.js';
import {
  createSimulatedReader,
  helloWorldCardT1,
  type ProfileId,
  type SimulatedCard,
  type SimulatedReader,
} from '../../../src/sim/index.js';
import {
  PCSC_ERROR_CODES,
  PcscDaemon,
  PcscError,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  type PcscClient,
  type ReaderStateOut,
} from '../../../src/pcsc/index.js';
import { settle, SETTLE_MS, type Outcome } from '../../support/settle.js';

// ---------------------------------------------------------------------------------------------------------------------
// Bytes

export const hex = (s: string): Uint8Array =>
  Uint8Array.from(
    s
      .split(/\s+/)
      .filter(Boolean)
      .map((b) => parseInt(b, 16)),
  );
export const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
export const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
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
export const HELLO_RESPONSE = concat(ascii('Hello world!'), SW_OK);
/** INS not supported: what `00 00 00 00` answers when the hello-world applet is not selected (e.g. after a reset). */
export const SW_INS_NOT_SUPPORTED = hex('6D 00');
export const SELECT_PIN = hex('00 A4 04 00 06 D2 76 00 01 24 01');
export const verifyPin = (pin: string): Uint8Array => concat(hex(`00 20 00 80 ${pin.length.toString(16)}`), ascii(pin));
export const getChallenge = (le: number): Uint8Array => hex(`00 84 00 00 ${(le & 0xff).toString(16)}`);
export const echo = (data: Uint8Array): Uint8Array => concat(hex('80 EE 00 00'), Uint8Array.of(data.length), data);

// ---------------------------------------------------------------------------------------------------------------------
// Settling: a hang is a failure

export { settle, SETTLE_MS, type Outcome } from '../../support/settle.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const CODE_NAMES = new Map<number, string>();
for (const [name, code] of Object.entries(PCSC_ERROR_CODES)) if (!CODE_NAMES.has(code)) CODE_NAMES.set(code, name);

/** 0x8010000B → "SCARD_E_SHARING_VIOLATION (0x8010000B)" for readable failures. */
export function codeName(code: number): string {
  const h = `0x${(code >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
  return `${CODE_NAMES.get(code >>> 0) ?? 'unknown code'} (${h})`;
}

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return toHex(v);
  try {
    return JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? toHex(x) : x));
  } catch {
    return String(v);
  }
}

/** Awaits p (with the hang guard) and returns its value; a rejection fails the test with the code's name. */
export async function ok<T>(p: Promise<T>, what = 'the call'): Promise<T> {
  const r = await settle(p, SETTLE_MS, what);
  if (!r.ok) {
    const e = r.error;
    if (e instanceof PcscError) expect.fail(`${what} rejected with ${codeName(e.code)}: ${e.message}`);
    throw e;
  }
  return r.value;
}

/** Awaits p (with the hang guard); it must reject with a PcscError of exactly this code. Returns the error. */
export async function fails(p: Promise<unknown>, code: number, what = 'the call'): Promise<PcscError> {
  const r = await settle(p, SETTLE_MS, what);
  if (r.ok) expect.fail(`${what} resolved (${describe(r.value)}) where pcsc-lite returns ${codeName(code)}`);
  const e = r.error;
  if (!(e instanceof PcscError)) {
    expect.fail(`${what} rejected with a non-PcscError where pcsc-lite returns ${codeName(code)}: ${String(e)}`);
  }
  expect(codeName(e.code), `${what}: ${e.message}`).toBe(codeName(code));
  expect(e.code).toBe(code >>> 0);
  return e;
}

/** A call whose settling is observed without awaiting it (to show that it waits, and until when). */
export interface Watched<T> {
  readonly promise: Promise<T>;
  readonly settled: boolean;
  readonly outcome: Outcome<T> | undefined;
}

export function watch<T>(p: Promise<T>): Watched<T> {
  const w: { promise: Promise<T>; settled: boolean; outcome: Outcome<T> | undefined } = {
    promise: p,
    settled: false,
    outcome: undefined,
  };
  p.then(
    (value) => {
      w.settled = true;
      w.outcome = { ok: true, value };
    },
    (error: unknown) => {
      w.settled = true;
      w.outcome = { ok: false, error };
    },
  );
  return w;
}

/** Lets the daemon run for a while (timers included) and asserts the watched call is still pending. */
export async function stillPending(w: Watched<unknown>, what: string, ms = 60): Promise<void> {
  await sleep(ms);
  if (w.settled) {
    const o = w.outcome;
    const how =
      o === undefined
        ? ''
        : o.ok
          ? `resolved ${describe(o.value)}`
          : `rejected ${o.error instanceof PcscError ? codeName(o.error.code) : String(o.error)}`;
    expect.fail(`${what} had to wait but settled (${how})`);
  }
}

/** Polls until `cond` holds (bounded). */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = SETTLE_MS): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// A fake IFD handler: every driver answer on cue

/** A slot whose card, power, protocol, transmit, control and attribute answers the test sets. */
export class FakeSlot implements IfdSlot {
  present: boolean;
  atr: Uint8Array;
  powered = false;
  /** iccPresence rejects (IFDStatusICC fails: pcscd puts the reader in error, SCARD_UNKNOWN). */
  broken = false;
  /** power('up'/'reset') rejects with this code. */
  powerFailure: IfdCode | undefined;
  /** setProtocol rejects with this code. */
  protocolFailure: IfdCode | undefined;
  /** transmit rejects with this code. */
  transmitFailure: IfdCode | undefined;
  /** control rejects with this code. */
  controlFailure: IfdCode | undefined;
  /** getAttribute throws this code. */
  attributeFailure: IfdCode | undefined;
  /** setAttribute rejects with this code (default IFD_ERROR_TAG: no settable attribute). */
  setAttributeFailure: IfdCode | undefined = IFD.ERROR_TAG;
  readonly attributes = new Map<number, Uint8Array>();
  readonly setAttributes: Array<{ tag: number; value: Uint8Array }> = [];
  readonly calls: string[] = [];
  transmitHandler: (apdu: Uint8Array) => Uint8Array = () => SW_OK;
  controlHandler: (code: number, input: Uint8Array) => Uint8Array = () => new Uint8Array(0);
  readonly #listeners = new Set<(present: boolean) => void>();

  constructor(
    readonly slot: number,
    options: { atr?: Uint8Array; present?: boolean } = {},
  ) {
    this.atr = options.atr ?? T1_ATR;
    this.present = options.present ?? true;
  }

  async iccPresence(): Promise<boolean> {
    this.calls.push('iccPresence');
    if (this.broken) throw new DriverError(IFD.COMMUNICATION_ERROR, 'fake reader: stuck in error');
    return this.present;
  }

  async power(action: PowerAction): Promise<Uint8Array> {
    this.calls.push(`power ${action}`);
    if (action === 'down') {
      this.powered = false;
      return new Uint8Array(0);
    }
    if (!this.present) throw new DriverError(IFD.ICC_NOT_PRESENT, 'fake reader: no card');
    if (this.powerFailure !== undefined) {
      this.powered = false;
      throw new DriverError(this.powerFailure, 'fake reader: power failure');
    }
    this.powered = true;
    return Uint8Array.from(this.atr);
  }

  async setProtocol(protocol: IfdProtocol): Promise<void> {
    this.calls.push(`setProtocol ${protocol}`);
    if (this.protocolFailure !== undefined) throw new DriverError(this.protocolFailure, 'fake reader: PPS failure');
  }

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    this.calls.push(`transmit ${toHex(apdu)}`);
    if (this.transmitFailure !== undefined)
      throw new DriverError(this.transmitFailure, 'fake reader: transmit failure');
    if (!this.present) throw new DriverError(IFD.ICC_NOT_PRESENT, 'fake reader: no card');
    return this.transmitHandler(apdu);
  }

  async control(code: number, input: Uint8Array): Promise<Uint8Array> {
    this.calls.push(`control ${code.toString(16)} ${toHex(input)}`);
    if (this.controlFailure !== undefined) throw new DriverError(this.controlFailure, 'fake reader: control failure');
    return this.controlHandler(code, input);
  }

  getAttribute(tag: number): Uint8Array | undefined {
    this.calls.push(`getAttribute ${tag.toString(16)}`);
    if (this.attributeFailure !== undefined)
      throw new DriverError(this.attributeFailure, 'fake reader: attribute failure');
    return this.attributes.get(tag);
  }

  async setAttribute(tag: number, value: Uint8Array): Promise<void> {
    this.calls.push(`setAttribute ${tag.toString(16)}`);
    if (this.setAttributeFailure !== undefined)
      throw new DriverError(this.setAttributeFailure, 'fake reader: cannot set');
    this.setAttributes.push({ tag, value: Uint8Array.from(value) });
  }

  onCardEvent(listener: (present: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(present: boolean): void {
    for (const l of [...this.#listeners]) l(present);
  }

  insert(atr?: Uint8Array): void {
    if (atr !== undefined) this.atr = atr;
    this.present = true;
    this.emit(true);
  }

  remove(): void {
    this.present = false;
    this.powered = false;
    this.emit(false);
  }

  /**
   * The reader starts failing IFDHICCPresence (pcscd's status thread then sets SCARD_UNKNOWN). The listeners are woken
   * as pcscd's pthCardEvent would be, so the daemon asks again and sees the failure.
   */
  breakDown(): void {
    this.broken = true;
    this.emit(this.present);
  }

  repair(): void {
    this.broken = false;
    this.emit(this.present);
  }
}

export class FakeReader implements IfdReader {
  readonly slots: FakeSlot[];
  readonly #removed = new Set<() => void>();
  closed = false;

  constructor(
    readonly friendlyName = 'Fake Reader',
    slots: Array<{ atr?: Uint8Array; present?: boolean }> = [{}],
  ) {
    this.slots = slots.map((o, i) => new FakeSlot(i, o));
  }

  get slot0(): FakeSlot {
    const s = this.slots[0];
    if (s === undefined) throw new Error('no slot');
    return s;
  }

  onRemoved(listener: () => void): () => void {
    this.#removed.add(listener);
    return () => this.#removed.delete(listener);
  }

  /** Unplugged. */
  unplug(): void {
    for (const l of [...this.#removed]) l();
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** JCOP-like T=1 ATR (TD1 says T=1: T=1 only). */
export const T1_ATR = hex('3B F8 13 00 00 81 31 FE 45 4A 43 4F 50 76 32 34 31 B7');
/** T=0 only (no TD1). */
export const T0_ATR = hex('3B 67 00 00 48 65 6C 6C 6F 54 30');
/** T=0 by default (TD1 = T=0), T=1 offered by TD2; TCK present because T=1 is indicated. */
export const DUAL_ATR = withTck(hex('3B 80 80 01'));

function withTck(atr: Uint8Array): Uint8Array {
  let x = 0;
  for (let i = 1; i < atr.length; i++) x ^= atr[i] ?? 0;
  return concat(atr, Uint8Array.of(x));
}

// ---------------------------------------------------------------------------------------------------------------------
// The daemon, its readers and clients

export interface SimSpec {
  profile: ProfileId;
  /** Cards per slot (slot 0 first); undefined = empty slot. */
  cards?: Array<SimulatedCard | undefined>;
}

export interface SimRig {
  sim: SimulatedReader;
  reader: CcidReader;
  names: string[];
}

export interface Rig {
  daemon: PcscDaemon;
  /** Opens a client with an established SYSTEM context. */
  client(name?: string): Promise<{ client: PcscClient; ctx: number }>;
  addSim(spec: SimSpec): Promise<SimRig>;
  addFake(reader?: FakeReader): Promise<{ reader: FakeReader; names: string[] }>;
}

/** A daemon (powerOffGraceMs 20) torn down at the end of the test. */
export function rig(options: { powerOffGraceMs?: number } = {}): Rig {
  const daemon = new PcscDaemon({ powerOffGraceMs: options.powerOffGraceMs ?? 20 });
  const sims: CcidReader[] = [];
  const clients: PcscClient[] = [];
  onTestFinished(async () => {
    for (const c of clients) await settle(c.close(), SETTLE_MS, 'client.close').catch(() => undefined);
    await settle(daemon.shutdown(), SETTLE_MS, 'daemon.shutdown').catch(() => undefined);
    for (const r of sims) await r.close().catch(() => undefined);
  });
  let n = 0;
  return {
    daemon,
    async client(name) {
      const client = daemon.connect({ name: name ?? `client-${++n}` });
      clients.push(client);
      const { hContext } = await ok(client.SCardEstablishContext(SCARD_SCOPE_SYSTEM), 'SCardEstablishContext');
      return { client, ctx: hContext };
    },
    async addSim(spec) {
      const sim = createSimulatedReader(spec.profile);
      (spec.cards ?? []).forEach((card, slot) => {
        if (card !== undefined) sim.insertCard(card, slot);
      });
      const reader = await ok(CcidReader.open(sim, { timeoutScale: 0.01, pollIntervalMs: 5 }), 'CcidReader.open');
      sims.push(reader);
      const names = await ok(daemon.addReader(reader), 'daemon.addReader');
      return { sim, reader, names };
    },
    async addFake(reader = new FakeReader()) {
      const names = await ok(daemon.addReader(reader), 'daemon.addReader');
      return { reader, names };
    },
  };
}

/** The first name of a reader (a one-slot reader has one). */
/**
 * The common starting point of many checks: one simulated reader with a card and two clients, A and B, each with a
 * SHARED handle on it (ha, hb).
 */
export async function twoHandles(options: { profile?: ProfileId; card?: SimulatedCard; protocols?: number } = {}) {
  const r = rig();
  const card = options.card ?? helloWorldCardT1();
  const sim = await r.addSim({ profile: options.profile ?? 'gempc-twin', cards: [card] });
  const reader = first(sim.names);
  const protocols = options.protocols ?? SCARD_PROTOCOL_T1;
  const a = await r.client('A');
  const b = await r.client('B');
  const ha = (await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, protocols))).hCard;
  const hb = (await ok(b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_SHARED, protocols))).hCard;
  return { r, sim: sim.sim, ccid: sim.reader, reader, card, a, b, ha, hb };
}

export function first(names: string[]): string {
  const n = names[0];
  if (n === undefined) throw new Error('the reader has no slot name');
  return n;
}

/** GetStatusChange with UNAWARE: the reader's state as the daemon sees it now. */
export async function readerState(client: PcscClient, ctx: number, reader: string): Promise<ReaderStateOut> {
  const { readerStates } = await ok(
    client.SCardGetStatusChange(ctx, 0, [{ szReader: reader, dwCurrentState: 0 }]),
    'GetStatusChange',
  );
  const s = readerStates[0];
  if (s === undefined) throw new Error('GetStatusChange returned no state');
  return s;
}

/** Waits (bounded) until the reader's event state has all the `mask` bits (and none of `without`). */
export async function waitState(
  client: PcscClient,
  ctx: number,
  reader: string,
  mask: number,
  without = 0,
): Promise<ReaderStateOut> {
  let last: ReaderStateOut | undefined;
  await until(
    async () => {
      last = await readerState(client, ctx, reader);
      return (last.dwEventState & mask) === mask && (last.dwEventState & without) === 0;
    },
    `reader state with 0x${mask.toString(16)} and without 0x${without.toString(16)} (last 0x${(last?.dwEventState ?? 0).toString(16)})`,
  );
  if (last === undefined) throw new Error('unreachable');
  return last;
}

/** Bytes equality with a readable failure. */
export function expectBytes(actual: Uint8Array, expected: Uint8Array, what = 'bytes'): void {
  expect(toHex(actual), what).toBe(toHex(expected));
}
