/**
 * Watching the slots of a reader: card insertions and removals and hardware errors, from the interrupt-IN endpoint
 * (RDR_to_PC_NotifySlotChange, RDR_to_PC_HardwareError: CCID 1.1 §6.3) or, when the reader has none or it fails,
 * by polling PC_to_RDR_GetSlotStatus as pcscd's status poll does.
 *
 * The transport owns the device and the command queue; the watch reads the interrupt endpoint (the only reader of
 * it, as the bulk pump is of bulk-IN) and sends its polls through the transport like any other command.
 */
import { CCID_ICC_ABSENT } from './constants.js';
import { IFD, isDriverError } from '../ifd/errors.js';
import { decodeInterrupt, encodeGetSlotStatus, type CcidResponse } from './messages.js';
import { DEFAULT_TIMEOUT_MS } from './timeouts.js';
import type { LogLevel, Timers } from './transport.js';
import type { CcidInterfaceInfo } from './types.js';
import { describeUsbError, type UsbErrorClassifier } from './usb-failure.js';

export interface HardwareErrorEvent {
  slot: number;
  seq: number;
  /** bHardwareErrorCode (CCID 1.1 §6.3.2; 0x01 = overcurrent). */
  code: number;
}

/** What the watch needs from the transport that owns it. */
export interface SlotWatchHost {
  readonly device: USBDevice;
  readonly info: CcidInterfaceInfo;
  readonly timers: Timers;
  readonly log: (level: LogLevel, msg: string) => void;
  readonly usbErrors: UsbErrorClassifier;
  /** Slot status polling period (ms). */
  readonly pollIntervalMs: number;
  /** The transport still works (not removed, not closed). */
  isOpen(): boolean;
  /** Sends one command through the transport's queue (for PC_to_RDR_GetSlotStatus). */
  command(slot: number, build: (seq: number) => Uint8Array, timeoutMs: number): Promise<CcidResponse>;
  /** A transfer found the device gone: the transport ends as removed. */
  deviceGone(cause: unknown): void;
}

const MAX_INTERRUPT_FAILURES = 10;

export class SlotWatch {
  private readonly maxSlotIndex: number;
  private readonly presence = new Map<number, boolean>();
  private readonly slotListeners = new Set<(slot: number, present: boolean) => void>();
  private readonly hardwareListeners = new Set<(e: HardwareErrorEvent) => void>();
  private interruptPumpRunning = false;
  private interruptFailed = false;
  private pollTimer: unknown;
  private polling = false;

  constructor(private readonly host: SlotWatchHost) {
    this.maxSlotIndex = host.info.descriptor.bMaxSlotIndex;
  }

  /** The last card presence seen for a slot (from the interrupt endpoint, polling or opening), if known. */
  slotPresence(slot: number): boolean | undefined {
    return this.presence.get(slot);
  }

  /** Records a presence learnt otherwise (the GetSlotStatus of opening) without telling the listeners. */
  recordPresence(slot: number, present: boolean): void {
    this.presence.set(slot, present);
  }

  /** See CcidTransport.onSlotChange. */
  onSlotChange(listener: (slot: number, present: boolean) => void): () => void {
    this.slotListeners.add(listener);
    this.updatePolling();
    return () => {
      this.slotListeners.delete(listener);
      this.updatePolling();
    };
  }

  onHardwareError(listener: (e: HardwareErrorEvent) => void): () => void {
    this.hardwareListeners.add(listener);
    return () => this.hardwareListeners.delete(listener);
  }

  /** Starts reading the interrupt endpoint, when the reader has one (this also drains a pending notification). */
  start(): void {
    const endpoint = this.host.info.interruptIn;
    if (this.interruptPumpRunning || endpoint === undefined) return;
    this.interruptPumpRunning = true;
    void this.runInterruptPump(endpoint).finally(() => {
      this.interruptPumpRunning = false;
    });
  }

  /** The transport ended: no more polls. The interrupt read ends when the interface is released. */
  stop(): void {
    if (this.pollTimer !== undefined) {
      this.host.timers.clearTimeout(this.pollTimer);
      this.pollTimer = undefined;
    }
  }

  /** wMaxPacketSize of the interrupt endpoint: reading exactly one packet keeps two notifications from merging. */
  private interruptPacketSize(endpoint: number): number {
    const { device, info } = this.host;
    const intf = device.configuration?.interfaces.find((i) => i.interfaceNumber === info.interfaceNumber);
    const alt = intf?.alternates.find((a) => a.alternateSetting === info.alternateSetting) ?? intf?.alternate;
    const ep = alt?.endpoints.find((e) => e.endpointNumber === endpoint && e.direction === 'in');
    if (ep && ep.packetSize > 0) return ep.packetSize;
    // Unknown: large enough for a 4-byte HardwareError and a NotifySlotChange of every slot.
    return Math.max(8, 1 + Math.ceil((this.maxSlotIndex + 1) / 4));
  }

  private async runInterruptPump(endpoint: number): Promise<void> {
    const { host } = this;
    const length = this.interruptPacketSize(endpoint);
    let failures = 0;
    while (host.isOpen()) {
      let result: USBInTransferResult;
      try {
        result = await host.device.transferIn(endpoint, length);
      } catch (e) {
        if (!host.isOpen()) return;
        const kind = host.usbErrors(e);
        if (kind === 'timed-out') continue;
        if (kind === 'gone') {
          host.deviceGone(e);
          return;
        }
        this.fallBackToPolling(`the interrupt endpoint failed (${describeUsbError(e)})`);
        return;
      }
      if (!host.isOpen()) return;
      if (result.status !== 'ok') {
        if (++failures > MAX_INTERRUPT_FAILURES) {
          this.fallBackToPolling(`the interrupt endpoint keeps answering '${result.status}'`);
          return;
        }
        if (result.status === 'stall') {
          try {
            await host.device.clearHalt('in', endpoint);
          } catch (e) {
            if (host.usbErrors(e) === 'gone') {
              host.deviceGone(e);
              return;
            }
            this.fallBackToPolling(`clearing the interrupt endpoint's halt failed (${describeUsbError(e)})`);
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
        host.log('warn', `ignored an interrupt message: ${describeUsbError(e)}`);
        continue;
      }
      if (message.kind === 'slot-change') {
        for (const s of message.slots) this.notePresence(s.slot, s.present, s.changed);
      } else {
        host.log('error', `slot ${message.slot}: the reader reports hardware error 0x${message.code.toString(16)}`);
        for (const l of [...this.hardwareListeners]) {
          try {
            l({ slot: message.slot, seq: message.seq, code: message.code });
          } catch (e) {
            host.log('error', `a hardware error listener threw: ${describeUsbError(e)}`);
          }
        }
      }
    }
  }

  private fallBackToPolling(reason: string): void {
    this.host.log('warn', `${reason}; polling slot status instead`);
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
        this.host.log('error', `a slot change listener threw: ${describeUsbError(e)}`);
      }
    }
  }

  private shouldPoll(): boolean {
    return (
      this.host.isOpen() &&
      this.slotListeners.size > 0 &&
      (this.host.info.interruptIn === undefined || this.interruptFailed)
    );
  }

  private updatePolling(): void {
    if (this.shouldPoll()) {
      if (this.pollTimer === undefined && !this.polling) this.schedulePoll();
    } else if (this.pollTimer !== undefined) {
      this.host.timers.clearTimeout(this.pollTimer);
      this.pollTimer = undefined;
    }
  }

  private schedulePoll(): void {
    this.pollTimer = this.host.timers.setTimeout(() => {
      this.pollTimer = undefined;
      void this.pollOnce();
    }, this.host.pollIntervalMs);
  }

  /** pcscd's status poll: GetSlotStatus on every slot; a change of bmICCStatus absent/present is an event. */
  private async pollOnce(): Promise<void> {
    if (!this.shouldPoll()) return;
    this.polling = true;
    try {
      for (let slot = 0; slot <= this.maxSlotIndex && this.shouldPoll(); slot++) {
        try {
          const resp = await this.host.command(slot, (seq) => encodeGetSlotStatus(slot, seq), DEFAULT_TIMEOUT_MS);
          this.notePresence(slot, resp.iccStatus !== CCID_ICC_ABSENT, false);
        } catch (e) {
          if (isDriverError(e, IFD.NO_SUCH_DEVICE)) return;
          this.host.log('debug', `slot ${slot} status poll: ${describeUsbError(e)}`);
        }
      }
    } finally {
      this.polling = false;
      if (this.shouldPoll() && this.pollTimer === undefined) this.schedulePoll();
    }
  }
}
