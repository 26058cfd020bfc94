/**
 * The CCID bulk transport over a W3C WebUSB `USBDevice`: owns the claimed interface, numbers commands (bSeq), routes
 * responses back to the command that waits for them, and watches slot changes.
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
import {
  CCID_HEADER_SIZE,
  CCID_ICC_ABSENT,
  CLASS_REQUEST,
  MAX_CCID_RESPONSE_SIZE,
  RDR_to_PC_SlotStatus,
  messageTypeName,
} from './constants.js';
import { DriverError, IFD, isDriverError } from '../ifd/errors.js';
import { decodeInterrupt, decodeResponse, encodeAbort, encodeGetSlotStatus, type CcidResponse } from './messages.js';
import type { CcidInterfaceInfo } from './types.js';

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
}

export interface CommandOptions {
  /** On timeout, abort the command on the reader (CCID 1.1 §5.3.1). Default true. */
  abortOnTimeout?: boolean;
}

export interface HardwareErrorEvent {
  slot: number;
  seq: number;
  /** bHardwareErrorCode (CCID 1.1 §6.3.2; 0x01 = overcurrent). */
  code: number;
}

export type TransportState = 'open' | 'removed' | 'closed';

// ---------------------------------------------------------------------------------------------------------------
// Errors of opening
// ---------------------------------------------------------------------------------------------------------------

/**
 * claimInterface was refused with a SecurityError: Chrome blocks WebUSB access to protected interface classes,
 * among them 0x0B smart card (Chromium `web_usb_service_impl.cc`, GetProtectedInterfaceClasses), for every
 * extension but Google's own Smart Card Connector. No flag or policy lifts it, so the user needs a clear reason.
 */
export class ProtectedInterfaceClassError extends DriverError {
  constructor(
    readonly interfaceNumber: number,
    readonly interfaceClass: number,
    cause: unknown,
  ) {
    super(
      IFD.NOT_SUPPORTED,
      interfaceClass === 0x0b
        ? `the browser refused to let this extension claim the reader's interface ${interfaceNumber}: Chrome protects USB ` +
            `interfaces of class 0x0B (smart card) from extensions and web pages, and no setting lifts that. ` +
            `Use the reader through the operating system's smart card service (PC/SC) instead, or a reader that exposes ` +
            `its CCID interface as vendor class 0xFF`
        : `the browser refused access to the reader's interface ${interfaceNumber} (class 0x${interfaceClass
            .toString(16)
            .toUpperCase()
            .padStart(2, '0')}) for security reasons: ${describe(cause)}`,
      { cause },
    );
  }
}

/** True for the error open() gives when the browser refuses to claim a protected interface class. */
export function isProtectedClassError(e: unknown): e is ProtectedInterfaceClassError {
  return e instanceof ProtectedInterfaceClassError;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Chrome: NotFoundError "The device was disconnected."; node-usb: LIBUSB_ERROR_NO_DEVICE / LIBUSB_TRANSFER_NO_DEVICE. */
function isDisconnectError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return e.name === 'NotFoundError' || /disconnected|NO_DEVICE|no such device/i.test(e.message);
}

/** node-usb's WebUSB applies its own transfer timeout (LIBUSB_TRANSFER_TIMED_OUT); our timers govern, so read again. */
function isTransferTimeout(e: unknown): boolean {
  return e instanceof Error && /TIMED_OUT|timed out/i.test(e.message);
}

function removedError(detail?: string, cause?: unknown): DriverError {
  return new DriverError(
    IFD.NO_SUCH_DEVICE,
    `the reader was removed${detail ? ` (${detail})` : ''}: plug it in again to use it`,
    cause === undefined ? undefined : { cause },
  );
}

// ---------------------------------------------------------------------------------------------------------------

const DEFAULT_TIMERS: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
};

/** libccid's DEFAULT_COM_READ_TIMEOUT. */
const DEFAULT_TIMEOUT_MS = 3000;
/** libccid IFDHCreateChannel: "100 ms just to resync the USB toggle bits". */
const RESYNC_TIMEOUT_MS = 100;
const DEFAULT_POLL_INTERVAL_MS = 400;
const DEFAULT_ABORT_TIMEOUT_MS = 1000;
/** setTimeout's limit (a larger delay fires at once in browsers and Node). */
const MAX_TIMER_MS = 0x7fffffff;
const MAX_CONSECUTIVE_STALLS = 3;
const MAX_INTERRUPT_FAILURES = 10;

class ResponseTimeout extends Error {}

interface Waiter {
  slot: number;
  seq: number;
  /** 'command': a caller awaits the response; 'abort': the slot waits for the reply to PC_to_RDR_Abort. */
  kind: 'command' | 'abort';
  resolve(resp: CcidResponse): void;
  reject(err: Error): void;
  timer: unknown;
  /** The command's timeout (scaled), the base of time extensions. */
  timeoutMs: number;
  zlpExpected: boolean;
  settled: boolean;
}

interface SlotTicket {
  slot: number;
  resolve(): void;
  reject(err: Error): void;
}

const key = (slot: number, seq: number) => (slot << 8) | seq;

export class CcidTransport {
  private readonly timers: Timers;
  private readonly scale: number;
  private readonly log: (level: LogLevel, msg: string) => void;
  private readonly zlpDrain: boolean;
  private readonly pollIntervalMs: number;
  private readonly abortTimeoutMs: number;
  private readonly maxSlotIndex: number;
  private readonly maxBusySlots: number;
  private readonly bulkReadLength: number;

  private seq = 0;
  private readonly waiters = new Map<number, Waiter>();
  private readonly busySlots = new Set<number>();
  private readonly slotQueue: SlotTicket[] = [];
  private bulkPumpRunning = false;
  private interruptPumpRunning = false;
  private interruptFailed = false;
  private failure: DriverError | undefined;
  private currentState: TransportState = 'open';

  private readonly presence = new Map<number, boolean>();
  private readonly slotListeners = new Set<(slot: number, present: boolean) => void>();
  private readonly hardwareListeners = new Set<(e: HardwareErrorEvent) => void>();
  private readonly removedListeners = new Set<() => void>();
  private pollTimer: unknown;
  private polling = false;

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
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.abortTimeoutMs = options.abortTimeoutMs ?? DEFAULT_ABORT_TIMEOUT_MS;
    const d = info.descriptor;
    this.maxSlotIndex = d.bMaxSlotIndex;
    // CCID 1.1 §5.1 bMaxCCIDBusySlots: how many slots may have a command in progress at once (at least one).
    this.maxBusySlots = Math.max(1, Math.min(d.bMaxCCIDBusySlots, d.bMaxSlotIndex + 1));
    // Read enough that no response is cut: the reader's own maximum, or the largest extended APDU response,
    // rounded up to whole packets so the transfer ends on a packet boundary rather than overflowing.
    const wanted = Math.max(d.dwMaxCCIDMessageLength, MAX_CCID_RESPONSE_SIZE);
    const packet = info.bulkInMaxPacketSize > 0 ? info.bulkInMaxPacketSize : 64;
    this.bulkReadLength = Math.ceil(wanted / packet) * packet;
  }

  /**
   * Opens the device if needed, selects the configuration, claims the interface (and its alternate setting), then
   * resynchronises with the reader as libccid's IFDHCreateChannel does: a GetSlotStatus with the default timeout,
   * then up to two with 100 ms. A pending interrupt notification is drained by the interrupt pump, which starts
   * here on a reader that has an interrupt endpoint.
   */
  static async open(device: USBDevice, info: CcidInterfaceInfo, options: CcidTransportOptions = {}): Promise<CcidTransport> {
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
      if (openedHere) await device.close().catch(() => {});
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
    } catch (e) {
      await undo(false);
      if (e instanceof Error && e.name === 'SecurityError') {
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
        : new DriverError(IFD.COMMUNICATION_ERROR, `could not set up the reader's interface: ${describe(e)}`, { cause: e });
    }
  }

  get state(): TransportState {
    return this.currentState;
  }

  /** The last card presence seen for a slot (from the interrupt endpoint, polling or opening), if known. */
  slotPresence(slot: number): boolean | undefined {
    return this.presence.get(slot);
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
  async command(
    slot: number,
    build: (seq: number) => Uint8Array,
    timeoutMs: number,
    options: CommandOptions = {},
  ): Promise<CcidResponse> {
    this.checkUsable();
    if (!Number.isInteger(slot) || slot < 0 || slot > this.maxSlotIndex) {
      throw new DriverError(
        IFD.COMMUNICATION_ERROR,
        `slot ${slot} does not exist: this reader has slot${this.maxSlotIndex ? `s 0..${this.maxSlotIndex}` : ' 0'}`,
      );
    }
    if (!(timeoutMs > 0)) {
      throw new DriverError(IFD.COMMUNICATION_ERROR, `command timeout ${timeoutMs} ms: a positive number is required`);
    }
    await this.acquireSlot(slot);
    let releaseAfter: Promise<void> | undefined;
    try {
      this.checkUsable();
      const seq = this.seq;
      this.seq = (this.seq + 1) & 0xff;
      const msg = build(seq);
      checkBuiltMessage(msg, slot, seq);
      const scaled = Math.min(timeoutMs * this.scale, MAX_TIMER_MS);
      try {
        return await this.exchange(slot, seq, msg, scaled);
      } catch (e) {
        if (!(e instanceof ResponseTimeout)) throw e;
        if (options.abortOnTimeout !== false && this.currentState === 'open') {
          releaseAfter = (await this.abortCommand(slot, seq)).finished;
        }
        throw new DriverError(
          IFD.RESPONSE_TIMEOUT,
          `the reader did not answer ${messageTypeName(msg[0]!)} on slot ${slot} within ${Math.round(scaled)} ms` +
            (releaseAfter ? '; the command was aborted' : ''),
        );
      }
    } finally {
      if (releaseAfter) void releaseAfter.then(() => this.releaseSlot(slot));
      else this.releaseSlot(slot);
    }
  }

  /**
   * A class-specific IN request on the interface (CCID 1.1 §5.3: GET_CLOCK_FREQUENCIES, GET_DATA_RATES). A stall
   * means the reader does not support it: IFD_NOT_SUPPORTED.
   */
  async classRequestIn(request: number, length: number): Promise<Uint8Array> {
    this.checkUsable();
    let result: USBInTransferResult;
    try {
      result = await this.device.controlTransferIn(
        { requestType: 'class', recipient: 'interface', request, value: 0, index: this.info.interfaceNumber },
        length,
      );
    } catch (e) {
      throw this.transferError(e, `class request 0x${request.toString(16)}`);
    }
    if (result.status === 'stall') {
      throw new DriverError(IFD.NOT_SUPPORTED, `the reader does not support class request 0x${request.toString(16)}`);
    }
    if (result.status !== 'ok') {
      throw new DriverError(IFD.COMMUNICATION_ERROR, `class request 0x${request.toString(16)} ended with '${result.status}'`);
    }
    const d = result.data;
    return d ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice() : new Uint8Array(0);
  }

  /** GET_CLOCK_FREQUENCIES (kHz), asked for bNumClockSupported values; [] when the descriptor announces none. */
  async getClockFrequencies(): Promise<number[]> {
    const n = this.info.descriptor.bNumClockSupported;
    return n === 0 ? [] : u32List(await this.classRequestIn(CLASS_REQUEST.GET_CLOCK_FREQUENCIES, n * 4));
  }

  /** GET_DATA_RATES (bps), asked only when bNumDataRatesSupported ≠ 0, as libccid does. */
  async getDataRates(): Promise<number[]> {
    const n = this.info.descriptor.bNumDataRatesSupported;
    return n === 0 ? [] : u32List(await this.classRequestIn(CLASS_REQUEST.GET_DATA_RATES, n * 4));
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
    this.slotListeners.add(listener);
    this.updatePolling();
    return () => {
      this.slotListeners.delete(listener);
      this.updatePolling();
    };
  }

  /** RDR_to_PC_HardwareError notifications (CCID 1.1 §6.3.2). Returns the unregister function. */
  onHardwareError(listener: (e: HardwareErrorEvent) => void): () => void {
    this.hardwareListeners.add(listener);
    return () => this.hardwareListeners.delete(listener);
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
    await this.device.close().catch((e: unknown) => this.log('debug', `close: ${describe(e)}`));
  }

  // -------------------------------------------------------------------------------------------------------------
  // Internals: opening
  // -------------------------------------------------------------------------------------------------------------

  private async resynchronise(): Promise<void> {
    if (this.info.interruptIn !== undefined) this.startInterruptPump();
    const attempts = [DEFAULT_TIMEOUT_MS, RESYNC_TIMEOUT_MS, RESYNC_TIMEOUT_MS];
    let last: unknown;
    for (const timeout of attempts) {
      try {
        const resp = await this.command(0, (seq) => encodeGetSlotStatus(0, seq), timeout, { abortOnTimeout: false });
        this.presence.set(0, resp.iccStatus !== CCID_ICC_ABSENT);
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
    for (let i = 0; i < this.slotQueue.length && this.busySlots.size < this.maxBusySlots; ) {
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

  private exchange(slot: number, seq: number, msg: Uint8Array, timeoutMs: number): Promise<CcidResponse> {
    return new Promise<CcidResponse>((resolve, reject) => {
      const waiter: Waiter = {
        slot,
        seq,
        kind: 'command',
        resolve,
        reject,
        timer: undefined,
        timeoutMs,
        zlpExpected: this.zlpDrain,
        settled: false,
      };
      this.addWaiter(waiter);
      this.write(msg).then(
        () => {
          if (!waiter.settled) this.armTimer(waiter, timeoutMs);
        },
        (e: unknown) => {
          if (waiter.settled) return;
          this.settle(waiter);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  private addWaiter(w: Waiter): void {
    const k = key(w.slot, w.seq);
    const previous = this.waiters.get(k);
    if (previous) {
      // Only an abort that is still waiting for its reply can hold this (slot, seq) after 256 commands: give up on it.
      this.log('warn', `slot ${w.slot} seq ${w.seq}: dropping the wait for an earlier abort reply`);
      this.settle(previous);
      previous.reject(new DriverError(IFD.COMMUNICATION_ERROR, 'superseded'));
    }
    this.waiters.set(k, w);
    this.ensureBulkPump();
  }

  private armTimer(w: Waiter, ms: number): void {
    if (w.timer !== undefined) this.timers.clearTimeout(w.timer);
    w.timer = this.timers.setTimeout(() => {
      if (w.settled) return;
      this.settle(w);
      w.reject(new ResponseTimeout());
    }, Math.min(ms, MAX_TIMER_MS));
  }

  private settle(w: Waiter): void {
    w.settled = true;
    if (w.timer !== undefined) this.timers.clearTimeout(w.timer);
    w.timer = undefined;
    const k = key(w.slot, w.seq);
    if (this.waiters.get(k) === w) this.waiters.delete(k);
  }

  private async write(msg: Uint8Array): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let result: USBOutTransferResult;
      try {
        result = await this.device.transferOut(this.info.bulkOut, msg as Uint8Array<ArrayBuffer>);
      } catch (e) {
        throw this.transferError(e, messageTypeName(msg[0]!));
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
        throw new DriverError(IFD.COMMUNICATION_ERROR, `sending ${messageTypeName(msg[0]!)} to the reader failed ('${result.status}')`);
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
    if (isDisconnectError(e)) {
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
      resolve: () => done(),
      reject: () => done(),
      timer: undefined,
      timeoutMs: this.abortTimeoutMs * this.scale,
      zlpExpected: false,
      settled: false,
    };
    this.addWaiter(waiter);
    this.log('warn', `slot ${slot}: command seq ${seq} timed out; aborting it`);
    try {
      const r = await this.device.controlTransferOut({
        requestType: 'class',
        recipient: 'interface',
        request: CLASS_REQUEST.ABORT,
        value: (seq << 8) | slot,
        index: this.info.interfaceNumber,
      });
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
    void this.runBulkPump();
  }

  /** The only reader of bulk-IN: one transferIn at a time, for as long as someone waits for a response. */
  private async runBulkPump(): Promise<void> {
    let stalls = 0;
    try {
      while (this.currentState === 'open' && this.waiters.size > 0) {
        let result: USBInTransferResult;
        try {
          result = await this.device.transferIn(this.info.bulkIn, this.bulkReadLength);
        } catch (e) {
          if (this.currentState !== 'open') return;
          if (isTransferTimeout(e)) continue;
          const err = this.transferError(e, 'reading a response');
          if (this.currentState === 'open') this.failWaiters(err);
          continue;
        }
        if (this.currentState !== 'open') return;
        if (result.status === 'stall') {
          // libccid clears a halted endpoint and reads again; a reader that keeps stalling fails the commands.
          if (++stalls > MAX_CONSECUTIVE_STALLS) {
            this.failWaiters(new DriverError(IFD.COMMUNICATION_ERROR, 'the reader keeps stalling its bulk-IN endpoint'));
            stalls = 0;
            continue;
          }
          this.log('warn', 'bulk-IN stalled: clearing the halt and reading again');
          try {
            await this.device.clearHalt('in', this.info.bulkIn);
          } catch (e) {
            const err = this.transferError(e, 'clearing the bulk-IN halt');
            if (this.currentState === 'open') this.failWaiters(err);
          }
          continue;
        }
        stalls = 0;
        if (result.status === 'babble') {
          // The reader sent more than a whole message: that response is lost, and nothing says whose it was.
          this.failWaiters(
            new DriverError(IFD.COMMUNICATION_ERROR, 'the reader sent more data than a response may hold (USB babble); the response was lost'),
          );
          continue;
        }
        const d = result.data;
        this.handleBulk(d ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(0));
      }
    } finally {
      this.bulkPumpRunning = false;
      if (this.currentState === 'open' && this.waiters.size > 0) this.ensureBulkPump();
    }
  }

  private handleBulk(bytes: Uint8Array): void {
    if (bytes.length === 0) {
      // Some Gemalto IDBridge K30/CT30 firmwares send a zero-length packet before a response. libccid drains it
      // with a 10 ms read before each write (--enable-zlp); a WebUSB read cannot time out, so such a read would
      // stay outstanding and swallow the next real response. Instead a ZLP is simply never a response.
      const expecting = [...this.waiters.values()].find((w) => w.zlpExpected);
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
      const commands = [...this.waiters.values()].filter((w) => w.kind === 'command');
      const target =
        bytes.length > 6 ? this.waiters.get(key(bytes[5]!, bytes[6]!)) : commands.length === 1 ? commands[0] : undefined;
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
        this.log('debug', `discarded the late ${messageTypeName(resp.type)} of aborted seq ${resp.seq} on slot ${resp.slot}`);
      }
      return;
    }
    if (resp.commandStatus === 2) {
      // CCID 1.1 §6.2.6 time extension; libccid CCID_Receive waits again for the original timeout × bError.
      const ms = w.timeoutMs * (resp.error > 0 ? resp.error : 1);
      this.log('debug', `slot ${resp.slot} seq ${resp.seq}: time extension requested (×${resp.error}), waiting ${Math.round(ms)} ms more`);
      this.armTimer(w, ms);
      return;
    }
    this.settle(w);
    w.resolve(resp);
  }

  /** Fails every waiter: commands reject with err, abort waits simply end. */
  private failWaiters(err: DriverError): void {
    for (const w of [...this.waiters.values()]) {
      this.settle(w);
      w.reject(err);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Internals: interrupt-IN pump and polling
  // -------------------------------------------------------------------------------------------------------------

  private startInterruptPump(): void {
    if (this.interruptPumpRunning || this.info.interruptIn === undefined) return;
    this.interruptPumpRunning = true;
    void this.runInterruptPump(this.info.interruptIn).finally(() => {
      this.interruptPumpRunning = false;
    });
  }

  /** wMaxPacketSize of the interrupt endpoint: reading exactly one packet keeps two notifications from merging. */
  private interruptPacketSize(endpoint: number): number {
    const intf = this.device.configuration?.interfaces.find((i) => i.interfaceNumber === this.info.interfaceNumber);
    const alt = intf?.alternates.find((a) => a.alternateSetting === this.info.alternateSetting) ?? intf?.alternate;
    const ep = alt?.endpoints.find((e) => e.endpointNumber === endpoint && e.direction === 'in');
    if (ep && ep.packetSize > 0) return ep.packetSize;
    // Unknown: large enough for a 4-byte HardwareError and a NotifySlotChange of every slot.
    return Math.max(8, 1 + Math.ceil((this.maxSlotIndex + 1) / 4));
  }

  private async runInterruptPump(endpoint: number): Promise<void> {
    const length = this.interruptPacketSize(endpoint);
    let failures = 0;
    while (this.currentState === 'open') {
      let result: USBInTransferResult;
      try {
        result = await this.device.transferIn(endpoint, length);
      } catch (e) {
        if (this.currentState !== 'open') return;
        if (isTransferTimeout(e)) continue;
        if (isDisconnectError(e)) {
          this.fail(removedError(undefined, e), 'removed');
          return;
        }
        this.fallBackToPolling(`the interrupt endpoint failed (${describe(e)})`);
        return;
      }
      if (this.currentState !== 'open') return;
      if (result.status !== 'ok') {
        if (++failures > MAX_INTERRUPT_FAILURES) {
          this.fallBackToPolling(`the interrupt endpoint keeps answering '${result.status}'`);
          return;
        }
        if (result.status === 'stall') {
          try {
            await this.device.clearHalt('in', endpoint);
          } catch (e) {
            if (isDisconnectError(e)) {
              this.fail(removedError(undefined, e), 'removed');
              return;
            }
            this.fallBackToPolling(`clearing the interrupt endpoint's halt failed (${describe(e)})`);
            return;
          }
        }
        continue;
      }
      failures = 0;
      const d = result.data;
      const bytes = d ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(0);
      if (bytes.length === 0) continue;
      let message;
      try {
        message = decodeInterrupt(bytes, this.maxSlotIndex);
      } catch (e) {
        this.log('warn', `ignored an interrupt message: ${describe(e)}`);
        continue;
      }
      if (message.kind === 'slot-change') {
        for (const s of message.slots) this.notePresence(s.slot, s.present, s.changed);
      } else {
        this.log('error', `slot ${message.slot}: the reader reports hardware error 0x${message.code.toString(16)}`);
        for (const l of [...this.hardwareListeners]) {
          try {
            l({ slot: message.slot, seq: message.seq, code: message.code });
          } catch (e) {
            this.log('error', `a hardware error listener threw: ${describe(e)}`);
          }
        }
      }
    }
  }

  private fallBackToPolling(reason: string): void {
    this.log('warn', `${reason}; polling slot status instead`);
    this.interruptFailed = true;
    this.updatePolling();
  }

  private notePresence(slot: number, present: boolean, changed: boolean): void {
    const before = this.presence.get(slot);
    this.presence.set(slot, present);
    if (!changed && before === present) return;
    for (const l of [...this.slotListeners]) {
      try {
        l(slot, present);
      } catch (e) {
        this.log('error', `a slot change listener threw: ${describe(e)}`);
      }
    }
  }

  private shouldPoll(): boolean {
    return (
      this.currentState === 'open' &&
      this.slotListeners.size > 0 &&
      (this.info.interruptIn === undefined || this.interruptFailed)
    );
  }

  private updatePolling(): void {
    if (this.shouldPoll()) {
      if (this.pollTimer === undefined && !this.polling) this.schedulePoll();
    } else if (this.pollTimer !== undefined) {
      this.timers.clearTimeout(this.pollTimer);
      this.pollTimer = undefined;
    }
  }

  private schedulePoll(): void {
    this.pollTimer = this.timers.setTimeout(() => {
      this.pollTimer = undefined;
      void this.pollOnce();
    }, this.pollIntervalMs);
  }

  /** pcscd's status poll: GetSlotStatus on every slot; a change of bmICCStatus absent/present is an event. */
  private async pollOnce(): Promise<void> {
    if (!this.shouldPoll()) return;
    this.polling = true;
    try {
      for (let slot = 0; slot <= this.maxSlotIndex && this.shouldPoll(); slot++) {
        try {
          const resp = await this.command(slot, (seq) => encodeGetSlotStatus(slot, seq), DEFAULT_TIMEOUT_MS);
          this.notePresence(slot, resp.iccStatus !== CCID_ICC_ABSENT, false);
        } catch (e) {
          if (isDriverError(e, IFD.NO_SUCH_DEVICE)) return;
          this.log('debug', `slot ${slot} status poll: ${describe(e)}`);
        }
      }
    } finally {
      this.polling = false;
      if (this.shouldPoll() && this.pollTimer === undefined) this.schedulePoll();
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
    if (this.pollTimer !== undefined) {
      this.timers.clearTimeout(this.pollTimer);
      this.pollTimer = undefined;
    }
    for (const w of [...this.waiters.values()]) {
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

function u32List(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= bytes.length; i += 4) {
    out.push((bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0);
  }
  return out;
}
