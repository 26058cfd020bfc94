/**
 * The CCID bulk transport over a W3C WebUSB `USBDevice`: owns the claimed interface, numbers commands (bSeq), routes
 * responses back to the command that waits for them. Slot changes are watched by slot-watch.ts, the class requests
 * are class-requests.ts, and what a rejected USB call means is usb-failure.ts.
 *
 * It runs unchanged on Chrome's navigator.usb, on node-usb's WebUSB and on a simulator, so it relies only on what the
 * WebUSB interface guarantees. The one property that shapes everything: a WebUSB transfer has no timeout and cannot
 * be cancelled (only releaseInterface/close abort it). Hence
 * - exactly ONE transferIn is outstanding on bulk-IN at a time (the pump); two racing readers would each take
 *   whichever response came next;
 * - a command's timeout is a timer beside the read, not a property of the read: when it fires the command is aborted
 *   (CCID 1.1 §5.3.1) and failed, the read stays outstanding, and whatever arrives later for that bSeq is discarded;
 * - libccid's "drain a ZLP with a 10 ms read before each write" (--enable-zlp) cannot exist here; see handleBulk.
 *
 * libccid behaviours mirrored (src/ccid_usb.c, src/commands.c, src/ifdhandler.c) and gaps closed: bSeq is checked for
 * every command (libccid skips XfrBlock and Secure), a time extension is honoured for every command (libccid ignores
 * it for some), and responses from several slots are routed by bSlot/bSeq (libccid's multi-slot extension).
 */
import { sendAbortRequest, type ClassRequestChannel } from './class-requests.js';
import {
  CCID_HEADER_SIZE,
  CCID_ICC_ABSENT,
  MAX_CCID_RESPONSE_SIZE,
  PC_to_RDR_Abort,
  RDR_to_PC_SlotStatus,
  RESPONSE_TYPE_FOR,
  messageTypeName,
} from './constants.js';
import { DriverError, IFD, isDriverError } from '../ifd/errors.js';
import { decodeResponse, encodeAbort, encodeGetSlotStatus, type CcidResponse } from './messages.js';
import { SlotWatch, type HardwareErrorEvent } from './slot-watch.js';
import { iccdExchange, type IccdChannel } from './iccd.js';
import { DEFAULT_TIMEOUT_MS } from './timeouts.js';
import type { CcidInterfaceInfo } from './types.js';
import {
  ProtectedInterfaceClassError,
  classifyUsbError,
  describeUsbError as describe,
  removedError,
  type UsbErrorClassifier,
} from './usb-failure.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The timer functions the transport uses, injectable so tests run on a manual clock. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface CcidTransportOptions {
  /**
   * The reader sends a zero-length bulk-IN packet before responses (some Gemalto IDBridge K30/CT30 firmwares;
   * libccid's --enable-zlp). ZLPs are never taken for responses whatever this says; with it, one ZLP per command is
   * expected and logged at debug level instead of as a warning.
   */
  zlpDrain?: boolean;
  /** Slot status polling period when the reader has no interrupt endpoint (default 400 ms, pcscd's status poll). */
  pollIntervalMs?: number;
  log?: (level: LogLevel, msg: string) => void;
  timers?: Timers;
  /** Multiplies every timeout (integration tests on a simulator use a small scale). Default 1. */
  timeoutScale?: number;
  /** How long the reply to PC_to_RDR_Abort is awaited before the slot is used again (default 1000 ms, scaled). */
  abortTimeoutMs?: number;
  /** Recognises the USB stack's rejections (see usb-failure.ts); default `classifyUsbError`. */
  usbErrors?: UsbErrorClassifier;
}

export interface CommandOptions {
  /** On timeout, abort the command on the reader (CCID 1.1 §5.3.1). Default true. */
  abortOnTimeout?: boolean;
}

export type TransportState = 'open' | 'removed' | 'closed';

// ---------------------------------------------------------------------------------------------------------------

const DEFAULT_TIMERS: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
};

/** libccid IFDHCreateChannel: "100 ms just to resync the USB toggle bits". */
const RESYNC_TIMEOUT_MS = 100;
const DEFAULT_POLL_INTERVAL_MS = 400;
const DEFAULT_ABORT_TIMEOUT_MS = 1000;
/** setTimeout's limit (a larger delay fires at once in browsers and Node). */
const MAX_TIMER_MS = 0x7fffffff;
const MAX_CONSECUTIVE_STALLS = 3;

class ResponseTimeout extends Error {}

const DEFAULT_COMMAND_OPTIONS: CommandOptions = Object.freeze({});

interface Waiter {
  slot: number;
  seq: number;
  /** 'command': a caller awaits the response; 'abort': the slot waits for the reply to PC_to_RDR_Abort. */
  kind: 'command' | 'abort';
  /** bMessageType of the command sent (PC_to_RDR_Abort for an abort wait). */
  command: number;
  resolve(resp: CcidResponse): void;
  reject(err: Error): void;
  timer: unknown;
  /** The command's timeout (scaled), the base of time extensions. */
  timeoutMs: number;
  zlpExpected: boolean;
  settled: boolean;
  /** When it was registered (WaiterTable keeps the waits in that order, as a Map would). */
  order: number;
}

interface SlotTicket {
  slot: number;
  resolve(): void;
  reject(err: Error): void;
}

const key = (slot: number, seq: number) => (slot << 8) | seq;

// A Map or Set that goes from empty to one entry and back with every command (the common case: one command at a time)
// rebuilds its small hash table each time in V8: about 150 bytes of garbage per message for the waits and 120 for the
// busy slots (bench/README.md, the T=1 ECHO). These two tables are made once per transport instead.

/** The waits by key(slot, seq), in registration order. */
class WaiterTable {
  private readonly byKey: (Waiter | undefined)[];
  private count = 0;
  private registered = 0;

  constructor(slots: number) {
    this.byKey = new Array<Waiter | undefined>(slots * 256).fill(undefined);
  }

  get size(): number {
    return this.count;
  }

  /** The wait for a key; a reader may send any bSlot, so keys beyond this reader's slots simply find none. */
  get(k: number): Waiter | undefined {
    return k < this.byKey.length ? this.byKey[k] : undefined;
  }

  set(k: number, w: Waiter): void {
    if (this.byKey[k] === undefined) {
      this.count++;
      w.order = ++this.registered;
    } else {
      w.order = this.byKey[k].order; // a Map keeps a replaced entry's place
    }
    this.byKey[k] = w;
  }

  delete(k: number): void {
    if (this.byKey[k] === undefined) return;
    this.byKey[k] = undefined;
    this.count--;
  }

  /** A snapshot of the waits in the order they were registered (as a Map iterates). */
  values(): Waiter[] {
    const out: Waiter[] = [];
    if (this.count === 0) return out;
    for (const w of this.byKey) if (w !== undefined) out.push(w);
    return out.sort((a, b) => a.order - b.order);
  }
}

/** The slots with a command in progress. */
class SlotSet {
  private readonly flags: boolean[];
  private count = 0;

  constructor(slots: number) {
    this.flags = new Array<boolean>(slots).fill(false);
  }

  get size(): number {
    return this.count;
  }

  has(slot: number): boolean {
    return this.flags[slot] === true;
  }

  add(slot: number): void {
    if (this.flags[slot] === true) return;
    this.flags[slot] = true;
    this.count++;
  }

  delete(slot: number): void {
    if (this.flags[slot] !== true) return;
    this.flags[slot] = false;
    this.count--;
  }
}

/**
 * The interfaces of each device that transports hold. WebUSB's open/close are per device while a composite device
 * has one reader per CCID interface: a reader closing must not close the device under its siblings.
 */
const heldInterfaces = new WeakMap<USBDevice, Set<number>>();

function hold(device: USBDevice, interfaceNumber: number): void {
  let held = heldInterfaces.get(device);
  if (held === undefined) heldInterfaces.set(device, (held = new Set()));
  held.add(interfaceNumber);
}

/** Forgets the interface; true when no other interface of the device is held (the device may be closed). */
function letGo(device: USBDevice, interfaceNumber: number): boolean {
  const held = heldInterfaces.get(device);
  held?.delete(interfaceNumber);
  return held === undefined || held.size === 0;
}

export class CcidTransport implements ClassRequestChannel {
  private readonly timers: Timers;
  private readonly scale: number;
  private readonly log: (level: LogLevel, msg: string) => void;
  private readonly zlpDrain: boolean;
  private readonly abortTimeoutMs: number;
  private readonly usbErrors: UsbErrorClassifier;
  private readonly maxSlotIndex: number;
  private readonly maxBusySlots: number;
  private readonly bulkReadLength: number;

  private seq = 0;
  private readonly waiters: WaiterTable;
  private readonly busySlots: SlotSet;
  private readonly slotQueue: SlotTicket[] = [];
  private bulkPumpRunning = false;
  /** Consecutive bulk-IN stalls in the pump's current run. */
  private bulkStalls = 0;
  private failure: DriverError | undefined;
  private currentState: TransportState = 'open';

  private readonly removedListeners = new Set<() => void>();
  private readonly watch: SlotWatch;

  private constructor(
    readonly device: USBDevice,
    readonly info: CcidInterfaceInfo,
    options: CcidTransportOptions,
  ) {
    this.timers = options.timers ?? DEFAULT_TIMERS;
    const scale = options.timeoutScale ?? 1;
    this.scale = Number.isFinite(scale) && scale > 0 ? scale : 1;
    this.log = options.log ?? (() => {});
    this.zlpDrain = options.zlpDrain ?? false;
    this.abortTimeoutMs = options.abortTimeoutMs ?? DEFAULT_ABORT_TIMEOUT_MS;
    this.usbErrors = options.usbErrors ?? classifyUsbError;
    const d = info.descriptor;
    this.maxSlotIndex = d.bMaxSlotIndex;
    this.waiters = new WaiterTable(d.bMaxSlotIndex + 1);
    this.busySlots = new SlotSet(d.bMaxSlotIndex + 1);
    // CCID 1.1 §5.1 bMaxCCIDBusySlots: how many slots may have a command in progress at once (at least one).
    this.maxBusySlots = Math.max(1, Math.min(d.bMaxCCIDBusySlots, d.bMaxSlotIndex + 1));
    // Read enough that no response is cut: the reader's own maximum, or the largest extended APDU response,
    // rounded up to whole packets so the transfer ends on a packet boundary rather than overflowing.
    const wanted = Math.max(d.dwMaxCCIDMessageLength, MAX_CCID_RESPONSE_SIZE);
    const packet = info.bulkInMaxPacketSize > 0 ? info.bulkInMaxPacketSize : 64;
    this.bulkReadLength = Math.ceil(wanted / packet) * packet;
    this.watch = new SlotWatch({
      device,
      info,
      timers: this.timers,
      log: this.log,
      usbErrors: this.usbErrors,
      pollIntervalMs: options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      isOpen: () => this.currentState === 'open',
      command: (slot, build, timeoutMs) => this.command(slot, build, timeoutMs),
      deviceGone: (cause) => this.fail(removedError(undefined, cause), 'removed'),
    });
  }

  /**
   * Opens the device if needed, selects the configuration, claims the interface (and its alternate setting), then
   * resynchronises with the reader as libccid's IFDHCreateChannel does: a GetSlotStatus with the default timeout,
   * then up to two with 100 ms. A pending interrupt notification is drained by the interrupt pump, which starts
   * here on a reader that has an interrupt endpoint.
   */
  static async open(
    device: USBDevice,
    info: CcidInterfaceInfo,
    options: CcidTransportOptions = {},
  ): Promise<CcidTransport> {
    const classify = options.usbErrors ?? classifyUsbError;
    const isDisconnectError = (e: unknown) => classify(e) === 'gone';
    let openedHere = false;
    if (!device.opened) {
      try {
        await device.open();
        openedHere = true;
      } catch (e) {
        throw isDisconnectError(e)
          ? removedError('while opening it', e)
          : new DriverError(IFD.COMMUNICATION_ERROR, `could not open the USB device: ${describe(e)}`, { cause: e });
      }
    }
    const undo = async (claimed: boolean) => {
      if (claimed) await device.releaseInterface(info.interfaceNumber).catch(() => {});
      const last = letGo(device, info.interfaceNumber);
      if (openedHere && last) await device.close().catch(() => {});
    };

    try {
      if (device.configuration?.configurationValue !== info.configurationValue) {
        await device.selectConfiguration(info.configurationValue);
      }
    } catch (e) {
      await undo(false);
      throw isDisconnectError(e)
        ? removedError('while selecting its configuration', e)
        : new DriverError(
            IFD.COMMUNICATION_ERROR,
            `could not select USB configuration ${info.configurationValue}: ${describe(e)}`,
            { cause: e },
          );
    }

    try {
      await device.claimInterface(info.interfaceNumber);
      hold(device, info.interfaceNumber);
    } catch (e) {
      await undo(false);
      if (classify(e) === 'refused') {
        throw new ProtectedInterfaceClassError(info.interfaceNumber, info.interfaceClass, e);
      }
      if (isDisconnectError(e)) throw removedError('while claiming its interface', e);
      throw new DriverError(
        IFD.COMMUNICATION_ERROR,
        `could not claim interface ${info.interfaceNumber} of the reader: another program or driver may hold it ` +
          `(pcscd or the operating system's CCID driver); ${describe(e)}`,
        { cause: e },
      );
    }

    let transport: CcidTransport | undefined;
    try {
      if (info.alternateSetting !== 0) {
        await device.selectAlternateInterface(info.interfaceNumber, info.alternateSetting);
      }
      transport = new CcidTransport(device, info, options);
      await transport.resynchronise();
      return transport;
    } catch (e) {
      transport?.fail(new DriverError(IFD.COMMUNICATION_ERROR, 'the reader could not be opened'), 'closed');
      await undo(true);
      if (isDriverError(e)) throw e;
      throw isDisconnectError(e)
        ? removedError('while opening it', e)
        : new DriverError(IFD.COMMUNICATION_ERROR, `could not set up the reader's interface: ${describe(e)}`, {
            cause: e,
          });
    }
  }

  get state(): TransportState {
    return this.currentState;
  }

  /** The last card presence seen for a slot (from the interrupt endpoint, polling or opening), if known. */
  slotPresence(slot: number): boolean | undefined {
    return this.watch.slotPresence(slot);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Commands
  // -------------------------------------------------------------------------------------------------------------

  /**
   * Sends one command and resolves with its response (any bmCommandStatus but 2: a failed response is returned,
   * not thrown, so the caller can map it with responseError or read its bStatus).
   *
   * `build` receives the bSeq the transport assigned and returns the whole message (use the messages.ts encoders).
   * Commands to one slot run one at a time, in call order; at most bMaxCCIDBusySlots slots are busy at once. The
   * timeout runs from the end of the write; a time extension (bmCommandStatus 2) restarts it as timeoutMs × bError
   * (× 1 when bError is 0), for every message type. On timeout the command is aborted on the reader (ABORT class
   * request, then PC_to_RDR_Abort with the same bSeq; CCID 1.1 §5.3.1) and the call fails with IFD_RESPONSE_TIMEOUT;
   * the slot is used again once the reader has answered the abort (or after abortTimeoutMs).
   */
  command(
    slot: number,
    build: (seq: number) => Uint8Array,
    timeoutMs: number,
    options: CommandOptions = DEFAULT_COMMAND_OPTIONS,
  ): Promise<CcidResponse> {
    // Not an async function: the response settles the promise returned here straight from the bulk-IN pump, with no
    // async frame and no exchange promise between them (two promises and turns less per message; bench/README.md,
    // the T=1 ECHO). Everything still fails as a rejected promise, never as a throw.
    try {
      this.checkUsable();
      if (!Number.isInteger(slot) || slot < 0 || slot > this.maxSlotIndex) {
        throw new DriverError(
          IFD.COMMUNICATION_ERROR,
          `slot ${slot} does not exist: this reader has slot${this.maxSlotIndex ? `s 0..${this.maxSlotIndex}` : ' 0'}`,
        );
      }
      if (!(timeoutMs > 0)) {
        throw new DriverError(
          IFD.COMMUNICATION_ERROR,
          `command timeout ${timeoutMs} ms: a positive number is required`,
        );
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<CcidResponse>((resolve, reject) => {
      const start = (): void => this.startCommand(slot, build, timeoutMs, options, resolve, reject);
      // A free slot is taken at once, without a queued ticket; the command still goes on a turn later, as when its
      // ticket is granted at once (a call made just before the reader goes away fails rather than reaching the reader).
      if (this.takeFreeSlot(slot)) void Promise.resolve().then(start);
      else this.acquireSlot(slot).then(start, reject);
    });
  }

  /** The command on its slot: numbered, built, sent; its outcome settles the caller's promise and frees the slot. */
  private startCommand(
    slot: number,
    build: (seq: number) => Uint8Array,
    timeoutMs: number,
    options: CommandOptions,
    resolve: (resp: CcidResponse) => void,
    reject: (e: unknown) => void,
  ): void {
    let seq: number;
    let msg: Uint8Array;
    let scaled: number;
    try {
      this.checkUsable();
      seq = this.seq;
      this.seq = (this.seq + 1) & 0xff;
      msg = build(seq);
      checkBuiltMessage(msg, slot, seq);
      scaled = Math.min(timeoutMs * this.scale, MAX_TIMER_MS);
    } catch (e) {
      this.releaseSlot(slot);
      reject(e);
      return;
    }
    // One outcome per command (as a promise settles once): the slot must not be released twice, since a second
    // release could free it under the command the first one let in.
    let over = false;
    const answered = (resp: CcidResponse): void => {
      if (over) return;
      over = true;
      this.releaseSlot(slot);
      resolve(resp);
    };
    const failed = (e: unknown): void => {
      if (over) return;
      over = true;
      if (!(e instanceof ResponseTimeout)) {
        this.releaseSlot(slot);
        reject(e);
        return;
      }
      this.afterTimeout(slot, seq, msg, scaled, options).then(reject, reject);
    };
    if (this.info.iccd !== undefined) {
      this.iccdCommand(msg, scaled).then(answered, failed);
      return;
    }
    try {
      this.exchange(slot, seq, msg, scaled, answered, failed);
    } catch (e) {
      failed(e);
    }
  }

  /**
   * A command timed out: abort it on the reader (unless told not to, or ICCD, which has no Abort: ISO/IEC 7816-12
   * defines none of CCID's §5.3.1 pair) and free its slot once the reader answered the abort. Resolves with the error
   * the caller gets.
   */
  private async afterTimeout(
    slot: number,
    seq: number,
    msg: Uint8Array,
    scaled: number,
    options: CommandOptions,
  ): Promise<DriverError> {
    let releaseAfter: Promise<void> | undefined;
    try {
      if (options.abortOnTimeout !== false && this.currentState === 'open' && this.info.iccd === undefined) {
        releaseAfter = (await this.abortCommand(slot, seq)).finished;
      }
    } finally {
      if (releaseAfter) void releaseAfter.then(() => this.releaseSlot(slot));
      else this.releaseSlot(slot);
    }
    return new DriverError(
      IFD.RESPONSE_TIMEOUT,
      `the reader did not answer ${messageTypeName(msg[0]!)} on slot ${slot} within ${Math.round(scaled)} ms` +
        (releaseAfter ? '; the command was aborted' : ''),
    );
  }

  /**
   * A class IN control transfer to the CCID interface (the channel class-requests.ts sends GET_CLOCK_FREQUENCIES
   * and GET_DATA_RATES through): a rejected transfer becomes a DriverError, and a vanished device ends the transport.
   */
  async controlIn(request: number, length: number): Promise<USBInTransferResult> {
    this.checkUsable();
    try {
      return await this.device.controlTransferIn(
        { requestType: 'class', recipient: 'interface', request, value: 0, index: this.info.interfaceNumber },
        length,
      );
    } catch (e) {
      throw this.transferError(e, `class request 0x${request.toString(16)}`);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Slot changes
  // -------------------------------------------------------------------------------------------------------------

  /**
   * Card insertions/removals: `present` is the slot's new state. A quick remove-and-reinsert reported by the
   * interrupt endpoint (changed bit set, still present) is delivered as present = true again. Without an interrupt
   * endpoint, GetSlotStatus is polled every pollIntervalMs while at least one listener is registered.
   * Returns the function that unregisters the listener.
   */
  onSlotChange(listener: (slot: number, present: boolean) => void): () => void {
    return this.watch.onSlotChange(listener);
  }

  /** RDR_to_PC_HardwareError notifications (CCID 1.1 §6.3.2). Returns the unregister function. */
  onHardwareError(listener: (e: HardwareErrorEvent) => void): () => void {
    return this.watch.onHardwareError(listener);
  }

  // -------------------------------------------------------------------------------------------------------------
  // End of life
  // -------------------------------------------------------------------------------------------------------------

  /**
   * The reader was unplugged (the device manager calls this on navigator.usb's `disconnect` event): every pending
   * and later command rejects with IFD_NO_SUCH_DEVICE, pumps and polling stop.
   */
  /**
   * Called once when the transport learns the device is gone — from markRemoved(), or by itself when a transfer
   * fails because the device was disconnected — so the reader can be taken away even without a USB `disconnect`
   * event (node-usb, or an event that never came).
   */
  onRemoved(listener: () => void): () => void {
    this.removedListeners.add(listener);
    return () => this.removedListeners.delete(listener);
  }

  markRemoved(): void {
    this.fail(removedError(), 'removed');
  }

  /** Releases the interface and closes the device; pending and later commands reject with IFD_NO_SUCH_DEVICE. */
  async close(): Promise<void> {
    if (this.currentState === 'closed') return;
    this.fail(new DriverError(IFD.NO_SUCH_DEVICE, 'the reader was closed by the driver'), 'closed');
    this.currentState = 'closed';
    // Releasing the interface aborts the outstanding transfers (WebUSB), which ends the pumps.
    await this.device.releaseInterface(this.info.interfaceNumber).catch((e: unknown) => {
      this.log('debug', `releaseInterface during close: ${describe(e)}`);
    });
    if (letGo(this.device, this.info.interfaceNumber)) {
      await this.device.close().catch((e: unknown) => this.log('debug', `close: ${describe(e)}`));
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Internals: opening
  // -------------------------------------------------------------------------------------------------------------

  private async resynchronise(): Promise<void> {
    this.watch.start();
    const attempts = [DEFAULT_TIMEOUT_MS, RESYNC_TIMEOUT_MS, RESYNC_TIMEOUT_MS];
    let last: unknown;
    for (const timeout of attempts) {
      try {
        const resp = await this.command(0, (seq) => encodeGetSlotStatus(0, seq), timeout, { abortOnTimeout: false });
        this.watch.recordPresence(0, resp.iccStatus !== CCID_ICC_ABSENT);
        return;
      } catch (e) {
        if (isDriverError(e, IFD.NO_SUCH_DEVICE)) throw e;
        last = e;
        this.log('debug', `resynchronising: ${describe(e)}`);
      }
    }
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `the reader did not answer GetSlotStatus when opened (${attempts.length} attempts): unplug it and plug it in again`,
      { cause: last },
    );
  }

  // -------------------------------------------------------------------------------------------------------------
  // Internals: slot scheduling
  // -------------------------------------------------------------------------------------------------------------

  /**
   * Takes the slot when nothing is queued before it and the bMaxCCIDBusySlots limit allows: what dispatchSlots would do
   * at once for a ticket queued now, without the ticket and its promise (the path of every command on an idle slot).
   */
  private takeFreeSlot(slot: number): boolean {
    if (this.slotQueue.length !== 0 || this.busySlots.has(slot) || this.busySlots.size >= this.maxBusySlots) {
      return false;
    }
    this.busySlots.add(slot);
    return true;
  }

  private acquireSlot(slot: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.slotQueue.push({ slot, resolve, reject });
      this.dispatchSlots();
    });
  }

  private releaseSlot(slot: number): void {
    this.busySlots.delete(slot);
    this.dispatchSlots();
  }

  /** First come, first served per slot, within the bMaxCCIDBusySlots limit. */
  private dispatchSlots(): void {
    for (let i = 0; i < this.slotQueue.length && this.busySlots.size < this.maxBusySlots;) {
      const ticket = this.slotQueue[i]!;
      if (this.busySlots.has(ticket.slot)) {
        i++;
        continue;
      }
      this.busySlots.add(ticket.slot);
      this.slotQueue.splice(i, 1);
      ticket.resolve();
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Internals: one exchange
  // -------------------------------------------------------------------------------------------------------------

  /** Sends a command and waits for its response: `resolve` or `reject` is called once, by the pump or a timer. */
  private exchange(
    slot: number,
    seq: number,
    msg: Uint8Array,
    timeoutMs: number,
    resolve: (resp: CcidResponse) => void,
    reject: (e: Error) => void,
  ): void {
    const waiter: Waiter = {
      slot,
      seq,
      kind: 'command',
      command: msg[0]!,
      resolve,
      reject,
      timer: undefined,
      timeoutMs,
      zlpExpected: this.zlpDrain,
      settled: false,
      order: 0,
    };
    // The pump starts reading after the command is written, not before: a reader that has its response ready by
    // then (the simulator does at once) hands it to a transferIn that finds it queued, instead of one waiting for it
    // (bench/README.md, the T=1 ECHO). Nothing else changes: the response is routed by the waiter registered here.
    this.addWaiter(waiter, false);
    this.send(
      msg,
      () => this.written(waiter),
      (e) => this.writeFailed(waiter, e),
      // The read's reaction is queued before the write's: a response already there settles the waiter before the
      // write's check would arm its timer.
      () => this.ensureBulkPump(),
    );
  }

  /** The command is written: its timeout starts, unless its response came first. */
  private written(w: Waiter): void {
    if (!w.settled) this.armTimer(w, w.timeoutMs);
  }

  private writeFailed(w: Waiter, e: unknown): void {
    if (w.settled) return;
    this.settle(w);
    w.reject(e instanceof Error ? e : new Error(String(e)));
  }

  /**
   * An ICCD token (iccd.ts): the CCID command becomes class requests on the control pipe, the answer the RDR_to_PC
   * message a bulk reader would have sent. The timeout runs over the whole exchange, polling included.
   */
  private iccdCommand(msg: Uint8Array, timeoutMs: number): Promise<CcidResponse> {
    const version = this.info.iccd!;
    const index = this.info.interfaceNumber;
    let expired = false;
    const what = (request: number) => `ICCD request 0x${request.toString(16)}`;
    const channel: IccdChannel = {
      controlIn: async (request, value, length) => {
        this.checkUsable();
        let r: USBInTransferResult;
        try {
          r = await this.device.controlTransferIn(
            { requestType: 'class', recipient: 'interface', request, value, index },
            length,
          );
        } catch (e) {
          throw this.transferError(e, what(request));
        }
        if (r.status !== 'ok') {
          throw new DriverError(IFD.COMMUNICATION_ERROR, `the token answered ${what(request)} with '${r.status}'`);
        }
        const d = r.data;
        return d ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice() : new Uint8Array(0);
      },
      controlOut: async (request, value, data) => {
        this.checkUsable();
        let r: USBOutTransferResult;
        try {
          r = await this.device.controlTransferOut(
            { requestType: 'class', recipient: 'interface', request, value, index },
            data as Uint8Array<ArrayBuffer>,
          );
        } catch (e) {
          throw this.transferError(e, what(request));
        }
        if (r.status !== 'ok') {
          throw new DriverError(IFD.COMMUNICATION_ERROR, `the token answered ${what(request)} with '${r.status}'`);
        }
      },
      sleep: (ms) => new Promise((resolve) => this.timers.setTimeout(resolve, ms)),
      expired: () => expired,
    };
    return new Promise<CcidResponse>((resolve, reject) => {
      let settled = false;
      const timer = this.timers.setTimeout(() => {
        expired = true;
        if (settled) return;
        settled = true;
        reject(new ResponseTimeout());
      }, timeoutMs);
      iccdExchange(version, channel, msg).then(
        (bytes) => {
          if (settled) return;
          settled = true;
          this.timers.clearTimeout(timer);
          try {
            resolve(decodeResponse(bytes));
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        },
        (e: unknown) => {
          if (settled) return;
          settled = true;
          this.timers.clearTimeout(timer);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  /** Registers a wait for (slot, seq); the bulk-IN pump is started unless the caller starts it itself (`pump`). */
  private addWaiter(w: Waiter, pump = true): void {
    const k = key(w.slot, w.seq);
    const previous = this.waiters.get(k);
    if (previous) {
      // Only an abort that is still waiting for its reply can hold this (slot, seq) after 256 commands: give up on it.
      this.log('warn', `slot ${w.slot} seq ${w.seq}: dropping the wait for an earlier abort reply`);
      this.settle(previous);
      previous.reject(new DriverError(IFD.COMMUNICATION_ERROR, 'superseded'));
    }
    this.waiters.set(k, w);
    if (pump) this.ensureBulkPump();
  }

  private armTimer(w: Waiter, ms: number): void {
    if (w.timer !== undefined) this.timers.clearTimeout(w.timer);
    w.timer = this.timers.setTimeout(
      () => {
        if (w.settled) return;
        this.settle(w);
        w.reject(new ResponseTimeout());
      },
      Math.min(ms, MAX_TIMER_MS),
    );
  }

  private settle(w: Waiter): void {
    w.settled = true;
    if (w.timer !== undefined) this.timers.clearTimeout(w.timer);
    w.timer = undefined;
    const k = key(w.slot, w.seq);
    if (this.waiters.get(k) === w) this.waiters.delete(k);
  }

  /** One bulk-OUT message, as a promise (the abort's; a command's goes through `send` itself). */
  private write(msg: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => this.send(msg, resolve, reject));
  }

  /**
   * One bulk-OUT message: `done` once it is written whole, else `failed` with the error. The first transfer is made and
   * checked here without an async function or a promise of its own (a turn and a promise less on every command;
   * bench/README.md, the T=1 ECHO); a stall or a short write goes on in writeAgain. `issued` runs once the transfer
   * is issued, before its outcome can be seen. A transfer that throws instead of rejecting fails a turn later, as a
   * rejection would.
   */
  private send(msg: Uint8Array, done: () => void, failed: (e: unknown) => void, issued?: () => void): void {
    let sent: Promise<USBOutTransferResult>;
    try {
      sent = this.device.transferOut(this.info.bulkOut, msg as Uint8Array<ArrayBuffer>);
    } catch (e) {
      const err = this.transferError(e, messageTypeName(msg[0]!));
      issued?.();
      void Promise.resolve().then(() => failed(err));
      return;
    }
    issued?.();
    sent.then(
      (result) => {
        if (result.status === 'ok' && result.bytesWritten === msg.length) done();
        else this.writeAgain(msg, result).then(done, failed);
      },
      (e: unknown) => failed(this.transferError(e, messageTypeName(msg[0]!))),
    );
  }

  /** What follows a first transfer that was not written whole: `first` is its result. */
  private async writeAgain(msg: Uint8Array, first: USBOutTransferResult): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let result: USBOutTransferResult;
      if (attempt === 0) {
        result = first;
      } else {
        try {
          result = await this.device.transferOut(this.info.bulkOut, msg as Uint8Array<ArrayBuffer>);
        } catch (e) {
          throw this.transferError(e, messageTypeName(msg[0]!));
        }
      }
      if (result.status === 'stall' && attempt === 0) {
        this.log('warn', `bulk-OUT stalled on ${messageTypeName(msg[0]!)}: clearing the halt and sending again`);
        try {
          await this.device.clearHalt('out', this.info.bulkOut);
        } catch (e) {
          throw this.transferError(e, 'clearing the bulk-OUT halt');
        }
        continue;
      }
      if (result.status !== 'ok') {
        throw new DriverError(
          IFD.COMMUNICATION_ERROR,
          `sending ${messageTypeName(msg[0]!)} to the reader failed ('${result.status}')`,
        );
      }
      if (result.bytesWritten !== msg.length) {
        throw new DriverError(
          IFD.COMMUNICATION_ERROR,
          `the reader took ${result.bytesWritten} of the ${msg.length} bytes of ${messageTypeName(msg[0]!)}`,
        );
      }
      return;
    }
  }

  /** Turns a rejected transfer into a DriverError; a vanished device fails the whole transport. */
  private transferError(e: unknown, what: string): DriverError {
    if (this.usbErrors(e) === 'gone') {
      this.fail(removedError(undefined, e), 'removed');
      return this.failure!;
    }
    if (this.failure) return this.failure;
    return new DriverError(IFD.COMMUNICATION_ERROR, `USB transfer for ${what} failed: ${describe(e)}`, { cause: e });
  }

  /**
   * CCID 1.1 §5.3.1: ABORT class request with wValue = bSeq << 8 | bSlot, then PC_to_RDR_Abort with the same bSeq.
   * Resolves once both are sent, with `finished`: a promise that settles when the reader has answered the Abort (its
   * RDR_to_PC_SlotStatus) or abortTimeoutMs has passed; the aborted command's own late reply is discarded meanwhile.
   */
  private async abortCommand(slot: number, seq: number): Promise<{ finished: Promise<void> }> {
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const waiter: Waiter = {
      slot,
      seq,
      kind: 'abort',
      command: PC_to_RDR_Abort,
      resolve: () => done(),
      reject: () => done(),
      timer: undefined,
      timeoutMs: this.abortTimeoutMs * this.scale,
      zlpExpected: false,
      settled: false,
      order: 0,
    };
    this.addWaiter(waiter);
    this.log('warn', `slot ${slot}: command seq ${seq} timed out; aborting it`);
    try {
      const r = await sendAbortRequest(this.device, this.info.interfaceNumber, slot, seq);
      if (r.status !== 'ok') this.log('info', `the reader answered the ABORT request with '${r.status}'`);
      await this.write(encodeAbort(slot, seq));
    } catch (e) {
      this.log('warn', `aborting seq ${seq} on slot ${slot} failed: ${describe(e)}`);
      if (!waiter.settled) {
        this.settle(waiter);
        done();
      }
      return { finished };
    }
    if (!waiter.settled) this.armTimer(waiter, waiter.timeoutMs);
    return { finished };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Internals: bulk-IN pump
  // -------------------------------------------------------------------------------------------------------------

  private ensureBulkPump(): void {
    if (this.bulkPumpRunning || this.currentState !== 'open') return;
    this.bulkPumpRunning = true;
    this.bulkStalls = 0;
    this.readBulk();
  }

  /**
   * The only reader of bulk-IN: one transferIn at a time, for as long as someone waits for a response. A chain of
   * callbacks rather than an async loop: no async function started, and no promise of its own, per message (the
   * pump ends with each response when one command runs at a time; bench/README.md, the T=1 ECHO).
   */
  private readBulk(): void {
    if (this.currentState !== 'open' || this.waiters.size === 0) {
      this.endBulkPump();
      return;
    }
    let read: Promise<USBInTransferResult>;
    try {
      read = this.device.transferIn(this.info.bulkIn, this.bulkReadLength);
    } catch (e) {
      this.pumpStep(() => this.onBulkInFailure(e));
      return;
    }
    read.then(
      (result) => {
        // pumpStep inlined on the path of every response (no closure made for it).
        try {
          this.onBulkIn(result);
        } catch (e) {
          this.endBulkPump();
          throw e;
        }
      },
      (e: unknown) => this.pumpStep(() => this.onBulkInFailure(e)),
    );
  }

  /** Runs one step of the pump; should it throw, the pump stops (and restarts if someone still waits). */
  private pumpStep(step: () => void): void {
    try {
      step();
    } catch (e) {
      this.endBulkPump();
      throw e;
    }
  }

  private endBulkPump(): void {
    this.bulkPumpRunning = false;
    if (this.currentState === 'open' && this.waiters.size > 0) this.ensureBulkPump();
  }

  private onBulkInFailure(e: unknown): void {
    if (this.currentState !== 'open') return this.endBulkPump();
    if (this.usbErrors(e) !== 'timed-out') {
      const err = this.transferError(e, 'reading a response');
      if (this.currentState === 'open') this.failWaiters(err);
    }
    this.readBulk();
  }

  private onBulkIn(result: USBInTransferResult): void {
    if (this.currentState !== 'open') return this.endBulkPump();
    if (result.status === 'stall') {
      // libccid clears a halted endpoint and reads again; a reader that keeps stalling fails the commands.
      if (++this.bulkStalls > MAX_CONSECUTIVE_STALLS) {
        this.failWaiters(new DriverError(IFD.COMMUNICATION_ERROR, 'the reader keeps stalling its bulk-IN endpoint'));
        this.bulkStalls = 0;
        return this.readBulk();
      }
      this.log('warn', 'bulk-IN stalled: clearing the halt and reading again');
      const clearFailed = (e: unknown): void => {
        const err = this.transferError(e, 'clearing the bulk-IN halt');
        if (this.currentState === 'open') this.failWaiters(err);
      };
      let cleared: Promise<void>;
      try {
        cleared = this.device.clearHalt('in', this.info.bulkIn);
      } catch (e) {
        clearFailed(e);
        return this.readBulk();
      }
      cleared.then(
        () => this.pumpStep(() => this.readBulk()),
        (e: unknown) =>
          this.pumpStep(() => {
            clearFailed(e);
            this.readBulk();
          }),
      );
      return;
    }
    this.bulkStalls = 0;
    if (result.status === 'babble') {
      // The reader sent more than a whole message: that response is lost, and nothing says whose it was.
      this.failWaiters(
        new DriverError(
          IFD.COMMUNICATION_ERROR,
          'the reader sent more data than a response may hold (USB babble); the response was lost',
        ),
      );
      return this.readBulk();
    }
    const d = result.data;
    this.handleBulk(d ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(0));
    this.readBulk();
  }

  private handleBulk(bytes: Uint8Array): void {
    if (bytes.length === 0) {
      // Some Gemalto IDBridge K30/CT30 firmwares send a zero-length packet before a response. libccid drains it
      // with a 10 ms read before each write (--enable-zlp); a WebUSB read cannot time out, so such a read would
      // stay outstanding and swallow the next real response. Instead a ZLP is simply never a response.
      const expecting = this.waiters.values().find((w) => w.zlpExpected);
      if (expecting) {
        expecting.zlpExpected = false;
        this.log('debug', 'skipped the zero-length packet this reader sends before a response');
      } else {
        this.log('warn', 'skipped an unexpected zero-length bulk-IN packet');
      }
      return;
    }

    let resp: CcidResponse;
    try {
      resp = decodeResponse(bytes);
    } catch (e) {
      const err = e as DriverError;
      // A malformed response still names its command when its header is there; else, with a single command
      // waiting, it can only be that command's.
      const commands = this.waiters.values().filter((w) => w.kind === 'command');
      const target =
        bytes.length > 6
          ? this.waiters.get(key(bytes[5]!, bytes[6]!))
          : commands.length === 1
            ? commands[0]
            : undefined;
      if (target && target.kind === 'command') {
        this.settle(target);
        target.reject(err);
      } else {
        this.log('warn', `discarded a malformed response nobody waits for: ${err.message}`);
      }
      return;
    }

    const w = this.waiters.get(key(resp.slot, resp.seq));
    if (!w) {
      this.log(
        'warn',
        `discarded ${messageTypeName(resp.type)} for slot ${resp.slot} seq ${resp.seq}: no command waits for it (stale, duplicate or foreign)`,
      );
      return;
    }
    if (w.kind === 'abort') {
      if (resp.type === RDR_to_PC_SlotStatus && resp.commandStatus !== 2) {
        this.settle(w);
        w.resolve(resp);
        this.log('debug', `slot ${resp.slot}: the reader acknowledged the abort of seq ${resp.seq}`);
      } else {
        this.log(
          'debug',
          `discarded the late ${messageTypeName(resp.type)} of aborted seq ${resp.seq} on slot ${resp.slot}`,
        );
      }
      return;
    }
    const mismatch = responseTypeMismatch(w.command, resp);
    if (mismatch !== undefined) {
      // It carries this command's bSlot and bSeq, so it is no stale or foreign response (those have another bSeq and
      // were discarded above): the reader answered this command wrongly. Taking it would hand the caller, say, an
      // Escape reply as an ATR; waiting on could only end in a timeout. The command fails now.
      this.settle(w);
      w.reject(mismatch);
      return;
    }
    if (resp.commandStatus === 2) {
      // CCID 1.1 §6.2.6 time extension; libccid CCID_Receive waits again for the original timeout × bError.
      const ms = w.timeoutMs * (resp.error > 0 ? resp.error : 1);
      this.log(
        'debug',
        `slot ${resp.slot} seq ${resp.seq}: time extension requested (×${resp.error}), waiting ${Math.round(ms)} ms more`,
      );
      this.armTimer(w, ms);
      return;
    }
    this.settle(w);
    w.resolve(resp);
  }

  /** Fails every waiter: commands reject with err, abort waits simply end. */
  private failWaiters(err: DriverError): void {
    for (const w of this.waiters.values()) {
      this.settle(w);
      w.reject(err);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Internals: failure
  // -------------------------------------------------------------------------------------------------------------

  private checkUsable(): void {
    if (this.failure) throw this.failure;
  }

  /** Ends the transport: every waiter and queued command rejects with err; later calls too. */
  private fail(err: DriverError, state: TransportState): void {
    if (this.failure) return;
    this.failure = err;
    this.currentState = state;
    this.watch.stop();
    for (const w of this.waiters.values()) {
      this.settle(w);
      w.reject(err);
    }
    for (const t of this.slotQueue.splice(0)) t.reject(err);
    if (state === 'removed') {
      for (const l of [...this.removedListeners]) {
        try {
          l();
        } catch (e) {
          this.log('error', `a removal listener failed: ${(e as Error).message}`);
        }
      }
    }
  }
}

/**
 * CCID 1.1 §6.2: each PC_to_RDR command has one RDR_to_PC response type (RESPONSE_TYPE_FOR). A reader that does not
 * support a command may refuse it with RDR_to_PC_SlotStatus (bmCommandStatus 1, bError 0: §6.2.6), so a SlotStatus
 * that is not "processed" is accepted for any command; everything else of another type is an error.
 */
function responseTypeMismatch(command: number, resp: CcidResponse): DriverError | undefined {
  const expected = RESPONSE_TYPE_FOR[command];
  if (expected === undefined || resp.type === expected) return undefined;
  if (resp.type === RDR_to_PC_SlotStatus && resp.commandStatus !== 0) return undefined;
  return new DriverError(
    IFD.COMMUNICATION_ERROR,
    `the reader answered ${messageTypeName(command)} on slot ${resp.slot} with ${messageTypeName(resp.type)}, ` +
      `not ${messageTypeName(expected)} (CCID 1.1 §6.2); the command failed`,
  );
}

function checkBuiltMessage(msg: Uint8Array, slot: number, seq: number): void {
  if (msg.length < CCID_HEADER_SIZE || msg[5] !== slot || msg[6] !== seq) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `internal error: the command built for slot ${slot} seq ${seq} has ${msg.length} bytes, slot ${msg[5]}, seq ${msg[6]}`,
    );
  }
  const dwLength = (msg[1]! | (msg[2]! << 8) | (msg[3]! << 16) | (msg[4]! << 24)) >>> 0;
  if (dwLength !== msg.length - CCID_HEADER_SIZE) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `internal error: the command says dwLength ${dwLength} but carries ${msg.length - CCID_HEADER_SIZE} bytes`,
    );
  }
}
