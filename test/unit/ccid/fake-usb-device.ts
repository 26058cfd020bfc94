/**
 * A minimal scripted WebUSB `USBDevice` for the driver's unit tests, plus a manual clock.
 *
 * It behaves as Chrome's implementation does where the transport depends on it: transfers never time out; a
 * pending transfer rejects with AbortError when the interface is released or the device closed, and with
 * NotFoundError when the device is disconnected. It also refuses a second concurrent transferIn on one endpoint
 * (recorded in `concurrentReads`), so tests can assert the transport never races two reads.
 */

type InResult = USBInTransferResult | Error;

interface PendingRead {
  length: number;
  resolve(r: USBInTransferResult): void;
  reject(e: Error): void;
}

export interface FakeEndpointSpec {
  endpointNumber: number;
  direction: 'in' | 'out';
  type: 'bulk' | 'interrupt';
  packetSize: number;
}

export function okIn(bytes: Uint8Array | number[]): USBInTransferResult {
  const b = bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes);
  // Offset the view inside a larger buffer, as node-usb and Chrome may: the transport must honour byteOffset.
  const buf = new Uint8Array(b.length + 3);
  buf.set(b, 3);
  return { status: 'ok', data: new DataView(buf.buffer, 3, b.length) };
}

export class FakeUsbDevice {
  opened = false;
  configurationValue: number | undefined = 1;
  readonly calls: string[] = [];
  readonly bulkOut: Uint8Array[] = [];
  readonly controlOut: { setup: USBControlTransferParameters; data?: BufferSource }[] = [];
  readonly clearHalts: { direction: USBDirection; endpoint: number }[] = [];
  concurrentReads = 0;
  disconnected = false;

  /** Answers controlTransferIn; default: stall. */
  onControlIn: (setup: USBControlTransferParameters, length: number) => USBInTransferResult = () => ({
    status: 'stall',
  });
  /** Answers controlTransferOut; default: ok. */
  onControlOut: (setup: USBControlTransferParameters) => USBOutTransferResult = () => ({
    status: 'ok',
    bytesWritten: 0,
  });
  /** Called for every bulk-OUT message, after it is recorded; scripts replies with `reply`/`queueIn`. */
  onBulkOut: (msg: Uint8Array, endpoint: number) => void = () => {};
  /** Result of transferOut; default ok with every byte written. */
  outResult: (msg: Uint8Array) => USBOutTransferResult | Error = (msg) => ({ status: 'ok', bytesWritten: msg.length });
  claimError: Error | undefined;

  private readonly queues = new Map<number, InResult[]>();
  private readonly pending = new Map<number, PendingRead>();

  constructor(
    readonly bulkInEndpoint = 2,
    readonly endpoints: FakeEndpointSpec[] = [
      { endpointNumber: 1, direction: 'out', type: 'bulk', packetSize: 64 },
      { endpointNumber: 2, direction: 'in', type: 'bulk', packetSize: 64 },
      { endpointNumber: 3, direction: 'in', type: 'interrupt', packetSize: 8 },
    ],
    readonly interfaceNumber = 0,
  ) {}

  get configuration(): USBConfiguration | undefined {
    if (this.configurationValue === undefined) return undefined;
    const alternate: USBAlternateInterface = {
      alternateSetting: 0,
      interfaceClass: 0x0b,
      interfaceSubclass: 0,
      interfaceProtocol: 0,
      interfaceName: null,
      endpoints: this.endpoints.map((e) => ({ ...e })),
    };
    return {
      configurationValue: this.configurationValue,
      configurationName: null,
      interfaces: [{ interfaceNumber: this.interfaceNumber, alternate, alternates: [alternate], claimed: false }],
    };
  }

  /** This fake as the WebUSB type the code under test takes. */
  get usb(): USBDevice {
    return this as unknown as USBDevice;
  }

  // --- scripting -------------------------------------------------------------------------------------------

  /** Queues a result for endpoint `ep` (or delivers it to the read waiting there). */
  queueIn(ep: number, result: InResult): void {
    const waiting = this.pending.get(ep);
    if (waiting) {
      this.pending.delete(ep);
      if (result instanceof Error) waiting.reject(result);
      else waiting.resolve(result);
      return;
    }
    const q = this.queues.get(ep) ?? [];
    q.push(result);
    this.queues.set(ep, q);
  }

  /** Queues bytes on bulk-IN. */
  reply(bytes: Uint8Array | number[]): void {
    this.queueIn(this.bulkInEndpoint, okIn(bytes));
  }

  /** True while a transferIn waits on endpoint `ep`. */
  isReading(ep: number): boolean {
    return this.pending.has(ep);
  }

  /** The length asked by the transferIn waiting on `ep`. */
  pendingReadLength(ep: number): number | undefined {
    return this.pending.get(ep)?.length;
  }

  /** Unplug: pending and later transfers reject with NotFoundError, as Chrome's do. */
  disconnect(): void {
    this.disconnected = true;
    this.rejectPending(new DOMException('The device was disconnected.', 'NotFoundError'));
  }

  // --- USBDevice ---------------------------------------------------------------------------------------------

  async open(): Promise<void> {
    this.calls.push('open');
    this.checkConnected();
    this.opened = true;
  }

  async close(): Promise<void> {
    this.calls.push('close');
    this.rejectPending(new DOMException('The transfer was cancelled.', 'AbortError'));
    this.opened = false;
  }

  async selectConfiguration(value: number): Promise<void> {
    this.calls.push(`selectConfiguration ${value}`);
    this.checkConnected();
    this.configurationValue = value;
  }

  async claimInterface(n: number): Promise<void> {
    this.calls.push(`claimInterface ${n}`);
    this.checkConnected();
    if (this.claimError) throw this.claimError;
  }

  async releaseInterface(n: number): Promise<void> {
    this.calls.push(`releaseInterface ${n}`);
    this.rejectPending(new DOMException('The transfer was cancelled.', 'AbortError'));
  }

  async selectAlternateInterface(n: number, alt: number): Promise<void> {
    this.calls.push(`selectAlternateInterface ${n} ${alt}`);
    this.checkConnected();
  }

  async controlTransferIn(setup: USBControlTransferParameters, length: number): Promise<USBInTransferResult> {
    this.checkConnected();
    return this.onControlIn(setup, length);
  }

  async controlTransferOut(setup: USBControlTransferParameters, data?: BufferSource): Promise<USBOutTransferResult> {
    this.checkConnected();
    this.controlOut.push(data === undefined ? { setup } : { setup, data });
    return this.onControlOut(setup);
  }

  async clearHalt(direction: USBDirection, endpoint: number): Promise<void> {
    this.checkConnected();
    this.clearHalts.push({ direction, endpoint });
  }

  async transferOut(endpoint: number, data: BufferSource): Promise<USBOutTransferResult> {
    this.checkConnected();
    const bytes = toBytes(data);
    this.bulkOut.push(bytes);
    const r = this.outResult(bytes);
    if (r instanceof Error) throw r;
    // The reader sees the command once the transfer is done.
    queueMicrotask(() => this.onBulkOut(bytes, endpoint));
    return r;
  }

  transferIn(endpoint: number, length: number): Promise<USBInTransferResult> {
    if (this.disconnected) return Promise.reject(new DOMException('The device was disconnected.', 'NotFoundError'));
    if (this.pending.has(endpoint)) {
      this.concurrentReads++;
      return Promise.reject(new Error(`test fake: a second transferIn on endpoint ${endpoint} while one is pending`));
    }
    const q = this.queues.get(endpoint);
    const next = q?.shift();
    if (next !== undefined) return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
    return new Promise((resolve, reject) => this.pending.set(endpoint, { length, resolve, reject }));
  }

  private rejectPending(e: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(e);
  }

  private checkConnected(): void {
    if (this.disconnected) throw new DOMException('The device was disconnected.', 'NotFoundError');
  }
}

function toBytes(data: BufferSource): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
}

// ---------------------------------------------------------------------------------------------------------------

/** A manual clock implementing the transport's Timers: nothing fires until `advance`. */
export class ManualTimers {
  now = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  readonly setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.now + ms, fn });
    return id;
  };

  readonly clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };

  get pendingCount(): number {
    return this.timers.size;
  }

  /** Moves the clock forward, firing due timers in order and letting promise reactions run between them. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      await flush();
      let nextId: number | undefined;
      let nextAt = Infinity;
      for (const [id, t] of this.timers) {
        if (t.at <= end && t.at < nextAt) {
          nextAt = t.at;
          nextId = id;
        }
      }
      if (nextId === undefined) break;
      const t = this.timers.get(nextId)!;
      this.timers.delete(nextId);
      this.now = t.at;
      t.fn();
    }
    this.now = end;
    await flush();
  }
}

/** Lets pending promise reactions run (a few macrotask turns; no real waiting). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}
