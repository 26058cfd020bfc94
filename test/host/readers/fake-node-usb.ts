/**
 * A stand-in for node-usb 3.x's `WebUSB` over simulated readers, with node-usb's habits rather than WebUSB's: a new
 * device object per `getDevices()` call and per event (matched by `handle`), transfers that take a timeout argument,
 * a STALL as a rejection ("transferIn error: Stall"), an unplug as "… error: Disconnected", and open/claim failures as
 * plain errors with the OS's words.
 */
import type { SimulatedReader } from '../../../src/sim/index.js';

type Listener = (event: { device: USBDevice }) => void;

/** node-usb's wording for an unplugged device (nusb TransferError::Disconnected, Debug-formatted). */
function nodeUsbError(what: string, e: unknown): Error {
  if (e instanceof Error && e.name === 'NotFoundError') return new Error(`${what} error: Disconnected`);
  return new Error(`${what} error: ${e instanceof Error ? e.message : String(e)}`);
}

export interface FakeFailures {
  /** claimInterface rejects with this message (e.g. EBUSY). */
  claim?: string;
  /** open rejects with this message (e.g. EACCES). */
  open?: string;
  /** controlTransferIn rejects with this message. */
  control?: string;
}

/** One node-usb device object over a simulated reader. Several may exist for one reader, with the same handle. */
export class FakeNodeUsbDevice {
  readonly timeouts: number[];

  constructor(
    readonly sim: SimulatedReader,
    readonly handle: string,
    readonly address: number,
    private readonly failures: FakeFailures,
    timeouts: number[],
  ) {
    this.timeouts = timeouts;
  }

  readonly bus = '1';
  get vendorId() {
    return this.sim.vendorId;
  }
  get productId() {
    return this.sim.productId;
  }
  get deviceClass() {
    return this.sim.deviceClass;
  }
  get deviceSubclass() {
    return this.sim.deviceSubclass;
  }
  get deviceProtocol() {
    return this.sim.deviceProtocol;
  }
  get deviceVersionMajor() {
    return this.sim.deviceVersionMajor;
  }
  get deviceVersionMinor() {
    return this.sim.deviceVersionMinor;
  }
  get deviceVersionSubminor() {
    return this.sim.deviceVersionSubminor;
  }
  get usbVersionMajor() {
    return this.sim.usbVersionMajor;
  }
  get usbVersionMinor() {
    return this.sim.usbVersionMinor;
  }
  get usbVersionSubminor() {
    return this.sim.usbVersionSubminor;
  }
  get manufacturerName() {
    return this.sim.manufacturerName ?? null;
  }
  get productName() {
    return this.sim.productName ?? null;
  }
  get serialNumber() {
    return this.sim.serialNumber ?? null;
  }
  get opened() {
    return this.sim.opened;
  }
  get configuration() {
    return this.sim.configuration;
  }
  get configurations() {
    return this.sim.configurations;
  }

  async open(): Promise<void> {
    if (this.failures.open !== undefined) throw new Error(`open error: ${this.failures.open}`);
    await this.sim.open();
  }
  async close(): Promise<void> {
    await this.sim.close();
  }
  async forget(): Promise<void> {
    await this.sim.close();
  }
  async reset(): Promise<void> {
    await this.sim.reset();
  }
  async selectConfiguration(value: number): Promise<void> {
    await this.sim
      .selectConfiguration(value)
      .catch((e: unknown) => Promise.reject(nodeUsbError('selectConfiguration', e)));
  }
  async claimInterface(n: number): Promise<void> {
    if (this.failures.claim !== undefined) throw new Error(`claimInterface error: ${this.failures.claim}`);
    await this.sim.claimInterface(n).catch((e: unknown) => Promise.reject(nodeUsbError('claimInterface', e)));
  }
  async releaseInterface(n: number): Promise<void> {
    await this.sim.releaseInterface(n);
  }
  async selectAlternateInterface(n: number, alt: number): Promise<void> {
    await this.sim.selectAlternateInterface(n, alt);
  }
  async clearHalt(direction: USBDirection, ep: number): Promise<void> {
    await this.sim.clearHalt(direction, ep).catch((e: unknown) => Promise.reject(nodeUsbError('clearHalt', e)));
  }
  async controlTransferIn(
    setup: USBControlTransferParameters,
    length: number,
    timeout = 1000,
  ): Promise<USBInTransferResult> {
    this.timeouts.push(timeout);
    if (this.failures.control !== undefined) throw new Error(`controlTransferIn error: ${this.failures.control}`);
    const r = await this.sim
      .controlTransferIn(setup, length)
      .catch((e: unknown) => Promise.reject(nodeUsbError('controlTransferIn', e)));
    if (r.status === 'stall') throw new Error('controlTransferIn error: Stall');
    return r;
  }
  async controlTransferOut(
    setup: USBControlTransferParameters,
    data?: BufferSource,
    timeout = 1000,
  ): Promise<USBOutTransferResult> {
    this.timeouts.push(timeout);
    const r = await this.sim
      .controlTransferOut(setup, data)
      .catch((e: unknown) => Promise.reject(nodeUsbError('controlTransferOut', e)));
    if (r.status === 'stall') throw new Error('controlTransferOut error: Stall');
    return r;
  }
  async transferIn(ep: number, length: number, timeout = 1000): Promise<USBInTransferResult> {
    this.timeouts.push(timeout);
    const r = await this.sim
      .transferIn(ep, length)
      .catch((e: unknown) => Promise.reject(nodeUsbError('transferIn', e)));
    if (r.status === 'stall') throw new Error('transferIn error: Stall');
    return r;
  }
  async transferOut(ep: number, data: BufferSource, timeout = 1000): Promise<USBOutTransferResult> {
    this.timeouts.push(timeout);
    const r = await this.sim
      .transferOut(ep, data)
      .catch((e: unknown) => Promise.reject(nodeUsbError('transferOut', e)));
    if (r.status === 'stall') throw new Error('transferOut error: Stall');
    return r;
  }
}

interface Plugged {
  sim: SimulatedReader;
  handle: string;
  address: number;
  failures: FakeFailures;
}

/** node-usb's `new WebUSB({ allowAllDevices: true })`, over simulated readers. */
export class FakeNodeUsb {
  readonly #plugged = new Map<string, Plugged>();
  readonly #listeners = { connect: new Set<Listener>(), disconnect: new Set<Listener>() };
  /** Every timeout argument any transfer received. */
  readonly timeouts: number[] = [];
  /** How many times getDevices / addEventListener were called (the no-bus path must call neither). */
  calls = { getDevices: 0, addEventListener: 0 };
  #next = 1;

  get listenerCount(): number {
    return this.#listeners.connect.size + this.#listeners.disconnect.size;
  }

  #object(p: Plugged): USBDevice {
    return new FakeNodeUsbDevice(p.sim, p.handle, p.address, p.failures, this.timeouts) as unknown as USBDevice;
  }

  /** Adds a device; with `event`, fires 'connect' (hot-plug), else it is simply there (present at start). */
  plug(sim: SimulatedReader, options: { event?: boolean; failures?: FakeFailures } = {}): string {
    const n = this.#next++;
    const p: Plugged = { sim, handle: `DeviceId(${n})`, address: n + 1, failures: options.failures ?? {} };
    this.#plugged.set(p.handle, p);
    if (options.event === true) for (const l of [...this.#listeners.connect]) l({ device: this.#object(p) });
    return p.handle;
  }

  /** Pulls a device out: the simulated reader is unplugged and 'disconnect' fires with a fresh device object. */
  unplug(handle: string): void {
    const p = this.#plugged.get(handle);
    if (p === undefined) return;
    this.#plugged.delete(handle);
    p.sim.unplug();
    for (const l of [...this.#listeners.disconnect]) l({ device: this.#object(p) });
  }

  async getDevices(): Promise<USBDevice[]> {
    this.calls.getDevices++;
    return [...this.#plugged.values()].map((p) => this.#object(p));
  }

  addEventListener(type: 'connect' | 'disconnect', listener: Listener): void {
    this.calls.addEventListener++;
    this.#listeners[type].add(listener);
  }

  removeEventListener(type: 'connect' | 'disconnect', listener: Listener): void {
    this.#listeners[type].delete(listener);
  }
}
