/**
 * A small scripted driver for the daemon's unit suites (ifd-wrapper, reader-slot, winscard, daemon timers): an IfdSlot
 * whose every answer the test sets, recording the calls it gets, and a manual clock of the daemon's `Timers` shape.
 */
import {
  DriverError,
  type IfdCode,
  type IfdProtocol,
  type IfdReader,
  type IfdSlot,
  type PowerAction,
} from '../../../src/ifd/index.js';
import type { Timers } from '../../../src/pcsc/timers.js';

/** T=1 only (TD1 = T=1), TCK. */
export const T1_ATR = Uint8Array.of(0x3b, 0x80, 0x01, 0x81);
/** T=0 by default (TD1 = T=0), T=1 offered by TD2, TCK. */
export const DUAL_ATR = Uint8Array.of(0x3b, 0x80, 0x80, 0x01, 0x01);

/** What a call rejects with: an IFD code (a DriverError with "fake: <what>") or any thrown value. */
export type Failure = IfdCode | { raw: unknown };

function raise(f: Failure, what: string): never {
  if (typeof f === 'number') throw new DriverError(f, `fake: ${what}`);
  throw f.raw;
}

export class FakeSlot implements IfdSlot {
  present = true;
  atr: Uint8Array = T1_ATR;
  readonly calls: string[] = [];
  fail: {
    presence?: Failure;
    power?: Failure;
    setProtocol?: Failure;
    transmit?: Failure;
    control?: Failure;
    getAttribute?: Failure;
    setAttribute?: Failure;
  } = {};
  readonly attributes = new Map<number, Uint8Array>();
  /** Answers transmit; may return a promise the test settles (to hold the driver busy). */
  transmitHandler: (apdu: Uint8Array) => Uint8Array | Promise<Uint8Array> = () => Uint8Array.of(0x90, 0x00);
  controlHandler: (code: number, input: Uint8Array) => Uint8Array = () => new Uint8Array(0);
  readonly #listeners = new Set<(present: boolean) => void>();

  constructor(readonly slot = 0) {}

  async iccPresence(): Promise<boolean> {
    this.calls.push('iccPresence');
    if (this.fail.presence !== undefined) raise(this.fail.presence, 'presence');
    return this.present;
  }

  async power(action: PowerAction): Promise<Uint8Array> {
    this.calls.push(`power ${action}`);
    if (this.fail.power !== undefined) raise(this.fail.power, `power ${action}`);
    return action === 'down' ? new Uint8Array(0) : this.atr.slice();
  }

  async setProtocol(protocol: IfdProtocol): Promise<void> {
    this.calls.push(`setProtocol ${protocol}`);
    if (this.fail.setProtocol !== undefined) raise(this.fail.setProtocol, 'PPS');
  }

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    this.calls.push(`transmit ${apdu.length}`);
    if (this.fail.transmit !== undefined) raise(this.fail.transmit, 'transmit');
    return this.transmitHandler(apdu);
  }

  async control(code: number, input: Uint8Array): Promise<Uint8Array> {
    this.calls.push(`control ${code.toString(16)}`);
    if (this.fail.control !== undefined) raise(this.fail.control, 'control');
    return this.controlHandler(code, input);
  }

  getAttribute(tag: number): Uint8Array | undefined {
    this.calls.push(`getAttribute ${tag.toString(16)}`);
    if (this.fail.getAttribute !== undefined) raise(this.fail.getAttribute, 'get attribute');
    return this.attributes.get(tag);
  }

  async setAttribute(tag: number, value: Uint8Array): Promise<void> {
    this.calls.push(`setAttribute ${tag.toString(16)}`);
    if (this.fail.setAttribute !== undefined) raise(this.fail.setAttribute, 'set attribute');
    this.attributes.set(tag, value.slice());
  }

  onCardEvent(listener: (present: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  /** The card goes in or out, and the driver says so. */
  setCard(present: boolean): void {
    this.present = present;
    for (const l of [...this.#listeners]) l(present);
  }
}

export class FakeReader implements IfdReader {
  readonly slots: FakeSlot[];
  readonly #removed = new Set<() => void>();
  closed = false;
  closeFailure: unknown;

  constructor(
    readonly friendlyName = 'Fake Reader',
    slotCount = 1,
  ) {
    this.slots = Array.from({ length: slotCount }, (_, i) => new FakeSlot(i));
  }

  get slot0(): FakeSlot {
    return this.slots[0]!;
  }

  onRemoved(listener: () => void): () => void {
    this.#removed.add(listener);
    return () => this.#removed.delete(listener);
  }

  unplug(): void {
    for (const l of [...this.#removed]) l();
  }

  async close(): Promise<void> {
    if (this.closeFailure !== undefined) throw this.closeFailure;
    this.closed = true;
  }
}

/** Lets pending promise reactions run (a few macrotask turns; no real waiting). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A manual clock: nothing fires until `advance`. */
export class ManualClock implements Timers {
  now = 0;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void; ms: number }>();

  readonly setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.now + ms, fn, ms });
    return id;
  };

  readonly clearTimeout = (handle: unknown): void => {
    this.#timers.delete(handle as number);
  };

  readonly clock = (): number => this.now;

  /** The delays of the timers armed and not yet fired or cleared. */
  get pending(): number[] {
    return [...this.#timers.values()].map((t) => t.ms);
  }

  /** Moves the clock forward, firing due timers in order and letting promise reactions run between them. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      await flush();
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= end && (next === undefined || entry[1].at < next[1].at)) next = entry;
      }
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = end;
    await flush();
  }
}
