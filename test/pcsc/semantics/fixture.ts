/**
 * Shared fixture of the pcsc-lite conformance suites (test/pcsc/semantics, test/pcsc/scenarios): a daemon with N
 * simulated readers (the CCID driver over the simulator) or fake IFD readers, clients with one context each, and
 * helpers that turn "this call must wait" into ordering checks (a tracked call is still pending after one event and
 * settles after another) — never wall-clock assertions.
 */
import { afterEach, expect } from 'vitest';
import { CcidReader } from '../../../src/ccid/reader.js';
import { DriverError, IFD } from '../../../src/ifd/errors.js';
import type { IfdProtocol, IfdReader, IfdSlot, PowerAction } from '../../../src/ifd/ifd.js';
import {
  INFINITE,
  PcscDaemon,
  PcscError,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  pcscStringifyError,
  type PcscClient,
  type ReaderStateOut,
} from '../../../src/pcsc/index.js';
import {
  createSimulatedReader,
  helloWorldCardT1,
  type ProfileId,
  type SimCard,
  type SimulatedReader,
} from '../../../src/sim/index.js';
import { settle, SETTLE_MS, type Outcome } from '../../support/settle.js';

// ---------------------------------------------------------------------------------------------------------------------
// Bytes and the benchmark card's APDUs

export const hex = (s: string): Uint8Array =>
  Uint8Array.from(
    s
      .split(/\s+/)
      .filter(Boolean)
      .map((b) => parseInt(b, 16)),
  );
export const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

export const SW_OK = hex('90 00');
export const SELECT_HELLO = hex('00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01');
export const HELLO = hex('00 00 00 00');
export const HELLO_RESPONSE = Uint8Array.from([...new TextEncoder().encode('Hello world!'), 0x90, 0x00]);
export const echo = (data: Uint8Array): Uint8Array => Uint8Array.from([0x80, 0xee, 0x00, 0x00, data.length, ...data]);

// ---------------------------------------------------------------------------------------------------------------------
// Settling and ordering

export { settle, SETTLE_MS, type Outcome } from '../../support/settle.js';

/** Awaits `p` (hang guard) and returns its value, or fails with the PC/SC error it rejected with. */
export async function ok<T>(p: Promise<T>, what = 'the call'): Promise<T> {
  const r = await settle(p, SETTLE_MS, what);
  if (!r.ok) {
    const e = r.error;
    throw new Error(`${what} failed: ${e instanceof PcscError ? `${codeName(e.code)} ${e.message}` : String(e)}`, {
      cause: e,
    });
  }
  return r.value;
}

export function codeName(code: number): string {
  return `0x${(code >>> 0).toString(16).toUpperCase().padStart(8, '0')} (${pcscStringifyError(code)})`;
}

/** Awaits `p` (hang guard) and returns the PcscError it must reject with. */
export async function rejection(p: Promise<unknown>, what = 'the call'): Promise<PcscError> {
  const r = await settle(p, SETTLE_MS, what);
  if (r.ok) throw new Error(`${what} succeeded where it had to fail`);
  if (!(r.error instanceof PcscError))
    throw new Error(`${what} rejected with a non-PcscError: ${String(r.error)}`, { cause: r.error });
  return r.error;
}

/** `p` must reject with exactly this SCARD_* code. */
export async function expectCode(p: Promise<unknown>, code: number, what = 'the call'): Promise<PcscError> {
  const e = await rejection(p, what);
  expect(codeName(e.code), what).toBe(codeName(code));
  return e;
}

/** A call whose progress is observed without awaiting it. */
export interface Tracked<T> {
  readonly settled: boolean;
  readonly outcome: Outcome<T> | undefined;
  /** Resolves with the outcome (hang guard). */
  done(ms?: number): Promise<Outcome<T>>;
}

export function track<T>(p: Promise<T>, what = 'the tracked call'): Tracked<T> {
  let outcome: Outcome<T> | undefined;
  const settledP: Promise<Outcome<T>> = p.then(
    (value) => (outcome = { ok: true, value }),
    (error: unknown) => (outcome = { ok: false, error }),
  );
  return {
    get settled() {
      return outcome !== undefined;
    },
    get outcome() {
      return outcome;
    },
    done: async (ms = SETTLE_MS) => {
      const r = await settle(settledP, ms, what);
      if (!r.ok) throw r.error;
      return r.value;
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Lets the daemon run for a while (a few of its internal polls): long enough for a call that could go on, to go on. */
export const WAIT_MS = 250;
export const letRun = (ms = WAIT_MS): Promise<void> => sleep(ms);

/** Asserts a tracked call is still pending after letting the daemon run. */
export async function expectPending(t: Tracked<unknown>, what: string, ms = WAIT_MS): Promise<void> {
  await letRun(ms);
  expect(t.settled, `${what} must still be waiting (settled: ${describeOutcome(t.outcome)})`).toBe(false);
}

function describeOutcome(o: Outcome<unknown> | undefined): string {
  if (o === undefined) return 'no';
  if (o.ok) return 'resolved';
  return o.error instanceof PcscError ? `rejected ${codeName(o.error.code)}` : `rejected ${String(o.error)}`;
}

/** The tracked call must settle successfully (hang guard) and returns its value. */
export async function expectResolves<T>(t: Tracked<T>, what: string): Promise<T> {
  const o = await t.done();
  if (!o.ok) throw new Error(`${what} must succeed, got ${describeOutcome(o)}`, { cause: o.error });
  return o.value;
}

/** The tracked call must reject with this code (hang guard). */
export async function expectSettlesWith(t: Tracked<unknown>, code: number, what: string): Promise<void> {
  const o = await t.done();
  expect(describeOutcome(o), what).toBe(`rejected ${codeName(code)}`);
}

/** Polls `cond` until it holds (fails the test after `ms`). */
export async function waitFor(cond: () => boolean, what: string, ms = SETTLE_MS): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await sleep(2);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// States

export const hi = (state: number): number => (state >>> 16) & 0xffff;
export const lo = (state: number): number => state & 0xffff;
export const stateHex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

/** Asserts an event state exactly, printed in hex. */
export function expectState(actual: number | undefined, expected: number, what = 'dwEventState'): void {
  expect(actual === undefined ? 'undefined' : stateHex(actual), what).toBe(stateHex(expected));
}

// ---------------------------------------------------------------------------------------------------------------------
// Fake IFD readers (for what the simulator cannot do quickly or at all: errors, power failures, 65536 events)

/** The hello-world T=1 card's ATR (3B F8 13 00 00 81 31 FE 45 "JCOPv241" B7). */
export const FAKE_ATR = helloWorldCardT1().atr;

export class FakeSlot implements IfdSlot {
  present: boolean;
  powered = false;
  /** When set, IFDHICCPresence fails (the reader is in error). */
  failing = false;
  /** When set, powering the card up or resetting it fails (a mute card). */
  mute = false;
  atr: Uint8Array = FAKE_ATR;
  protocol: IfdProtocol | undefined;
  readonly powerLog: PowerAction[] = [];
  /** When set, Transmit does not answer until the reader is unplugged (then IFD_NO_SUCH_DEVICE). */
  holdTransmit = false;
  readonly held: ((e: Error) => void)[] = [];
  readonly transmitted: Uint8Array[] = [];
  readonly #listeners = new Set<(present: boolean) => void>();

  constructor(
    readonly slot: number,
    present = true,
  ) {
    this.present = present;
  }

  iccPresence(): Promise<boolean> {
    if (this.failing) return Promise.reject(new DriverError(IFD.COMMUNICATION_ERROR, 'fake reader in error'));
    return Promise.resolve(this.present);
  }

  power(action: PowerAction): Promise<Uint8Array> {
    this.powerLog.push(action);
    if (this.failing) return Promise.reject(new DriverError(IFD.COMMUNICATION_ERROR, 'fake reader in error'));
    if (!this.present) return Promise.reject(new DriverError(IFD.ICC_NOT_PRESENT, 'no card'));
    if (action === 'down') {
      this.powered = false;
      this.protocol = undefined;
      return Promise.resolve(new Uint8Array(0));
    }
    if (this.mute) {
      this.powered = false;
      return Promise.reject(new DriverError(IFD.ERROR_POWER_ACTION, 'mute card'));
    }
    this.powered = true;
    this.protocol = undefined;
    return Promise.resolve(this.atr.slice());
  }

  /** When set, PPS takes this long, and a second PPS after the ATR fails (as on a real card: PPS only right after reset). */
  ppsDelayMs = 0;

  async setProtocol(protocol: IfdProtocol): Promise<void> {
    if (!this.present) throw new DriverError(IFD.ICC_NOT_PRESENT, 'no card');
    if (this.ppsDelayMs > 0) {
      if (this.protocol !== undefined) throw new DriverError(IFD.ERROR_PTS_FAILURE, 'PPS after the protocol was set');
      this.protocol = protocol;
      await new Promise((r) => setTimeout(r, this.ppsDelayMs));
      return;
    }
    this.protocol = protocol;
  }

  transmit(apdu: Uint8Array): Promise<Uint8Array> {
    if (this.failing) return Promise.reject(new DriverError(IFD.COMMUNICATION_ERROR, 'fake reader in error'));
    if (!this.present) return Promise.reject(new DriverError(IFD.ICC_NOT_PRESENT, 'no card'));
    this.transmitted.push(apdu.slice());
    if (this.holdTransmit) return new Promise<Uint8Array>((_, reject) => this.held.push(reject));
    return Promise.resolve(SW_OK.slice());
  }

  control(_code: number, _input: Uint8Array): Promise<Uint8Array> {
    return Promise.reject(new DriverError(IFD.ERROR_NOT_SUPPORTED, 'no control codes'));
  }

  getAttribute(_tag: number): Uint8Array | undefined {
    return undefined;
  }

  setAttribute(_tag: number, _value: Uint8Array): Promise<void> {
    return Promise.reject(new DriverError(IFD.ERROR_TAG, 'no attributes'));
  }

  onCardEvent(listener: (present: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Card in: presence true, then the event. */
  insert(): void {
    this.present = true;
    this.emit(true);
  }

  /** Card out: presence false (contacts lost), then the event. */
  remove(): void {
    this.present = false;
    this.powered = false;
    this.protocol = undefined;
    this.emit(false);
  }

  /** The reader goes into (or out of) error: presence requests fail; an event prompts the daemon to look. */
  setFailing(on: boolean): void {
    this.failing = on;
    this.emit(this.present);
  }

  emit(present: boolean): void {
    for (const l of [...this.#listeners]) l(present);
  }
}

export class FakeReader implements IfdReader {
  readonly slots: FakeSlot[];
  readonly #removed = new Set<() => void>();
  closed = false;

  constructor(
    readonly friendlyName = 'Fake Reader',
    options: { interfaceName?: string; serialNumber?: string; slots?: number; present?: boolean } = {},
  ) {
    if (options.interfaceName !== undefined) this.interfaceName = options.interfaceName;
    if (options.serialNumber !== undefined) this.serialNumber = options.serialNumber;
    this.slots = Array.from({ length: options.slots ?? 1 }, (_, i) => new FakeSlot(i, options.present ?? true));
  }

  readonly interfaceName?: string;
  readonly serialNumber?: string;

  onRemoved(listener: () => void): () => void {
    this.#removed.add(listener);
    return () => this.#removed.delete(listener);
  }

  /** The reader is unplugged. */
  unplug(): void {
    for (const s of this.slots) {
      s.failing = true;
      for (const reject of s.held.splice(0)) reject(new DriverError(IFD.NO_SUCH_DEVICE, 'fake reader unplugged'));
    }
    for (const l of [...this.#removed]) l();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// The rig

export const GRACE_MS = 20;

export interface SimSpec {
  profile?: ProfileId;
  /** Cards per slot (index = slot); null/undefined = empty. Default: one hello-world T=1 card in slot 0. */
  cards?: (SimCard | null | undefined)[];
}

export interface Client {
  api: PcscClient;
  ctx: number;
}

export interface Rig {
  daemon: PcscDaemon;
  sims: SimulatedReader[];
  readers: CcidReader[];
  /** Reader names, in the order the readers were added (every slot). */
  names: string[];
  /** One name per sim (its slot 0). */
  name: string;
  clients: Client[];
  /** A client of its own for watching states (so the tests' contexts stay free). */
  observer: Client;
  /** A new client with one context. */
  newClient(name?: string): Promise<Client>;
  /** Adds a simulated reader; returns its names. */
  addSim(spec?: SimSpec): Promise<{ sim: SimulatedReader; reader: CcidReader; names: string[] }>;
  /** The reader's current event state (one pass of GetStatusChange with UNAWARE). */
  state(name?: string): Promise<ReaderStateOut>;
  /** Waits until the daemon's state of `name` satisfies `pred` (GetStatusChange loop on the observer). */
  until(pred: (s: ReaderStateOut) => boolean, what: string, name?: string): Promise<ReaderStateOut>;
  /** Inserts a card and waits until the daemon shows it present with a new event counter. */
  insert(card?: SimCard, simIndex?: number, slot?: number): Promise<ReaderStateOut>;
  /** Removes the card and waits until the daemon shows the slot empty. */
  remove(simIndex?: number, slot?: number): Promise<ReaderStateOut>;
  close(): Promise<void>;
}

export const DRIVER_OPTIONS = { timeoutScale: 0.01, pollIntervalMs: 5 } as const;

export async function openSim(spec: SimSpec = {}): Promise<{ sim: SimulatedReader; reader: CcidReader }> {
  const sim = createSimulatedReader(spec.profile ?? 'gempc-twin');
  const cards = spec.cards ?? [helloWorldCardT1()];
  cards.forEach((c, slot) => {
    if (c) sim.insertCard(c, slot);
  });
  const reader = await CcidReader.open(sim, DRIVER_OPTIONS);
  return { sim, reader };
}

export async function newClient(daemon: PcscDaemon, name = 'client'): Promise<Client> {
  const api = daemon.connect({ name });
  const { hContext } = await ok(api.SCardEstablishContext(SCARD_SCOPE_SYSTEM), 'SCardEstablishContext');
  return { api, ctx: hContext };
}

export interface RigOptions {
  sims?: SimSpec[];
  clients?: number;
  graceMs?: number;
}

let seed = 1;

export async function rig(options: RigOptions = {}): Promise<Rig> {
  // Deterministic but distinct handles per rig.
  let x = (seed++ * 2654435761) >>> 0 || 1;
  const random = (): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 0x100000000;
  };
  const daemon = new PcscDaemon({ powerOffGraceMs: options.graceMs ?? GRACE_MS, random });
  const sims: SimulatedReader[] = [];
  const readers: CcidReader[] = [];
  const names: string[] = [];
  const firstNames: string[] = [];
  const addSim = async (spec: SimSpec = {}) => {
    const { sim, reader } = await openSim(spec);
    const n = await ok(daemon.addReader(reader), 'addReader');
    sims.push(sim);
    readers.push(reader);
    names.push(...n);
    firstNames.push(n[0] ?? '');
    return { sim, reader, names: n };
  };
  for (const spec of options.sims ?? [{}]) await addSim(spec);
  const clients: Client[] = [];
  for (let i = 0; i < (options.clients ?? 2); i++) clients.push(await newClient(daemon, String.fromCharCode(65 + i)));
  const observer = await newClient(daemon, 'observer');

  const state = async (name = firstNames[0] ?? ''): Promise<ReaderStateOut> => {
    const r = await settle(observer.api.SCardGetStatusChange(observer.ctx, 0, [{ szReader: name, dwCurrentState: 0 }]));
    if (r.ok) return r.value.readerStates[0]!;
    throw r.error;
  };
  const until = async (
    pred: (s: ReaderStateOut) => boolean,
    what: string,
    name = firstNames[0] ?? '',
  ): Promise<ReaderStateOut> => {
    const deadline = Date.now() + SETTLE_MS;
    let s = await state(name);
    while (!pred(s)) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what} (last state ${stateHex(s.dwEventState)})`);
      const r = await settle(
        observer.api.SCardGetStatusChange(observer.ctx, 200, [
          { szReader: name, dwCurrentState: s.dwEventState & ~0x2 },
        ]),
      );
      if (r.ok) s = r.value.readerStates[0]!;
      else if (r.error instanceof PcscError && r.error.readerStates?.[0]) s = r.error.readerStates[0];
      else s = await state(name);
    }
    return s;
  };
  const slotName = (simIndex: number, slot: number): string => {
    const base = firstNames[simIndex] ?? '';
    return slot === 0 ? base : `${base.slice(0, -2)}${slot.toString(16).toUpperCase().padStart(2, '0')}`;
  };
  return {
    daemon,
    sims,
    readers,
    names,
    get name() {
      return firstNames[0] ?? '';
    },
    clients,
    observer,
    newClient: (n) => newClient(daemon, n),
    addSim,
    state,
    until,
    async insert(card = helloWorldCardT1(), simIndex = 0, slot = 0) {
      const name = slotName(simIndex, slot);
      const before = hi((await state(name)).dwEventState);
      sims[simIndex]!.insertCard(card, slot);
      return until(
        (s) => (s.dwEventState & 0x20) !== 0 && hi(s.dwEventState) !== before,
        'the daemon to see the card inserted',
        name,
      );
    },
    async remove(simIndex = 0, slot = 0) {
      const name = slotName(simIndex, slot);
      sims[simIndex]!.removeCard(slot);
      return until((s) => (s.dwEventState & 0x10) !== 0, 'the daemon to see the card removed', name);
    },
    async close() {
      await settle(daemon.shutdown(), SETTLE_MS, 'daemon.shutdown');
    },
  };
}

/** A daemon holding fake readers. */
export async function fakeRig(
  readers: FakeReader[],
  options: { clients?: number; graceMs?: number } = {},
): Promise<{ daemon: PcscDaemon; names: string[]; clients: Client[]; observer: Client; close(): Promise<void> }> {
  const daemon = new PcscDaemon({ powerOffGraceMs: options.graceMs ?? GRACE_MS });
  const names: string[] = [];
  for (const r of readers) names.push(...(await ok(daemon.addReader(r), 'addReader')));
  const clients: Client[] = [];
  for (let i = 0; i < (options.clients ?? 2); i++) clients.push(await newClient(daemon, String.fromCharCode(65 + i)));
  const observer = await newClient(daemon, 'observer');
  return { daemon, names, clients, observer, close: async () => void (await settle(daemon.shutdown())) };
}

/** Connects SHARED, T=1 (the hello-world card), returning the handle. */
export async function connectShared(c: Client, name: string, protocols = SCARD_PROTOCOL_T1): Promise<number> {
  const { hCard } = await ok(c.api.SCardConnect(c.ctx, name, SCARD_SHARE_SHARED, protocols), 'SCardConnect');
  return hCard;
}

/** Transmits over T=1 and returns the response bytes. */
export async function tx(c: Client, hCard: number, apdu: Uint8Array): Promise<Uint8Array> {
  const { recvBuffer } = await ok(c.api.SCardTransmit(hCard, { dwProtocol: SCARD_PROTOCOL_T1 }, apdu), 'SCardTransmit');
  return recvBuffer;
}

export { INFINITE };

/**
 * Call at a test file's top level: returns `useRig`, which awaits a rig and closes it after the test it was made in.
 */
export function closeRigsAfterEach(): <T extends { close(): Promise<void> }>(r: Promise<T>) => Promise<T> {
  let cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup) await c();
    cleanup = [];
  });
  return async <T extends { close(): Promise<void> }>(r: Promise<T>): Promise<T> => {
    const x = await r;
    cleanup.push(() => x.close());
    return x;
  };
}

/** Clients A and B of a rig, each with a SHARED handle on the rig's reader (hA, hB). */
export async function twoSharedHandles(r: Rig): Promise<{ r: Rig; a: Client; b: Client; hA: number; hB: number }> {
  const [a, b] = r.clients as [Client, Client];
  const hA = await connectShared(a, r.name);
  const hB = await connectShared(b, r.name);
  return { r, a, b, hA, hB };
}
