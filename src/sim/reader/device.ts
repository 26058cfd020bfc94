/**
 * A simulated CCID reader behind a WebUSB `USBDevice` (W3C WebUSB §6): the driver talks to it exactly as it would to a
 * real reader through `navigator.usb`, with standard and CCID class control requests, bulk-OUT commands, bulk-IN
 * responses and interrupt-IN notifications. The CCID state machine per slot lives in `slot.ts`; faults in `faults.ts`.
 *
 * Zero latency by default: a command is processed during its transferOut and its response is queued at once, so a
 * driver's transferIn resolves in the next microtask. `latencyMs` delays every response (the slot is busy meanwhile).
 */
import type { SimCard } from '../card-interface.js';
import { copyOfBytes, freshBytes } from '../../util/fresh-bytes.js';
import {
  CLASS_REQUEST,
  COMMAND_STATUS,
  FIELD_OFFSET,
  HEADER_LENGTH,
  ICC_STATUS,
  PC_TO_RDR,
  RDR_TO_PC,
  SLOT_ERROR,
  responseTypeFor,
} from './ccid-constants.js';
import {
  CONFIGURATION_VALUE,
  DEFAULT_LAYOUT,
  DESCRIPTOR_TYPE,
  encodeConfigurationDescriptor,
  encodeDeviceDescriptor,
  encodeStringDescriptor,
  endpointLayout,
  type FunctionLayout,
} from './descriptors.js';
import { FaultPlan, applyResponseFaults, type EndpointName, type FaultSpec } from './faults.js';
import { InEndpoint } from './in-endpoint.js';
import { Keypad } from './keypad.js';
import { PROFILES, isProfileId, type ProfileId, type ReaderProfile } from './profiles.js';
import { Slot, type Command, type EscapeHandler, type Outcome } from './slot.js';
import { IccdFunction } from './iccd.js';
import { UNPLUGGABLE, type UnpluggableDevice } from './unpluggable.js';

export interface SimulatedReaderOptions {
  /** Delay before each response, in ms (0 = zero latency, the default). */
  latencyMs?: number;
  /** Overrides the profile's serial number string (null = none). */
  serialNumber?: string | null;
  /** Whether the device starts configured, as an operating system normally leaves it (default true). */
  configured?: boolean;
  /** Answers PC_to_RDR_Escape; without one Escape fails with bError 0 (command not supported). */
  escape?: EscapeHandler;
  /** Interface and endpoint numbers when the reader is one function of a composite device (composite.ts). */
  layout?: FunctionLayout;
}

function domError(name: string, message: string): DOMException {
  return new DOMException(message, name);
}
const disconnected = () => domError('NotFoundError', 'The device was disconnected.');
const notOpen = () => domError('InvalidStateError', 'The device must be opened first.');
const cancelled = () => domError('AbortError', 'The transfer was cancelled.');
const badEndpoint = () =>
  domError('NotFoundError', 'The specified endpoint is not part of a claimed and selected alternate interface.');

function bytesOf(data: BufferSource | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function okOut(bytesWritten: number): USBOutTransferResult {
  return { status: 'ok', bytesWritten };
}
const stallOut = (): USBOutTransferResult => ({ status: 'stall', bytesWritten: 0 });
const stallIn = (): USBInTransferResult => ({ status: 'stall', data: new DataView(new ArrayBuffer(0)) });

/** Encodes an RDR_to_PC message (CCID 1.1 §6.2): 10-byte header then the payload. */
export function encodeResponse(
  type: number,
  slot: number,
  seq: number,
  status: number,
  error: number,
  byte9: number,
  data: Uint8Array,
): Uint8Array {
  const out = freshBytes(HEADER_LENGTH + data.length);
  out[0] = type;
  out[1] = data.length & 0xff;
  out[2] = (data.length >>> 8) & 0xff;
  out[3] = (data.length >>> 16) & 0xff;
  out[4] = (data.length >>> 24) & 0xff;
  out[5] = slot;
  out[6] = seq;
  out[7] = status;
  out[8] = error;
  out[9] = byte9;
  out.set(data, HEADER_LENGTH);
  return out;
}

export class SimulatedReader implements UnpluggableDevice {
  readonly profile: ReaderProfile;
  readonly keypad = new Keypad();
  /** The fault plan: pending faults, the log of fired ones and their count (`faults.injected`). */
  readonly faults = new FaultPlan();
  /** Called once when the reader is unplugged (for a fake `navigator.usb` to fire 'disconnect'). */
  onunplug: (() => void) | null = null;
  readonly [UNPLUGGABLE] = true as const;

  readonly usbVersionMajor = 2;
  readonly usbVersionMinor = 0;
  readonly usbVersionSubminor = 0;
  readonly deviceClass = 0;
  readonly deviceSubclass = 0;
  readonly deviceProtocol = 0;
  readonly vendorId: number;
  readonly productId: number;
  readonly deviceVersionMajor: number;
  readonly deviceVersionMinor: number;
  readonly deviceVersionSubminor: number;
  readonly manufacturerName: string | null;
  readonly productName: string | null;
  readonly serialNumber: string | null;
  readonly configurations: USBConfiguration[];

  private isOpen = false;
  private isUnplugged = false;
  private isForgotten = false;
  private configured: boolean;
  private claimed = false;
  private readonly latencyMs: number;
  private readonly slots: Slot[];
  private readonly bulkIn = new InEndpoint();
  private readonly interruptIn = new InEndpoint();
  private readonly halted = new Set<EndpointName>();
  private readonly armedStalls = new Set<EndpointName>();
  private readonly cancels = new Map<number, (error: number) => void>();
  private busySlots = 0;
  private generation = 0;
  private lastResponse: Uint8Array | null = null;
  private readonly effectiveProfile: ReaderProfile;
  /** The ICCD side (control-pipe exchanges) when the profile is an ICCD token. */
  private readonly iccd: IccdFunction | null;
  /** Interface number, endpoint numbers and iInterface index of the CCID function. */
  readonly layout: FunctionLayout;

  constructor(profile: ReaderProfile, options: SimulatedReaderOptions = {}) {
    this.profile = profile;
    this.layout = options.layout ?? DEFAULT_LAYOUT;
    this.effectiveProfile =
      options.serialNumber !== undefined ? { ...profile, serialNumber: options.serialNumber } : profile;
    this.latencyMs = Math.max(0, options.latencyMs ?? 0);
    this.configured = options.configured ?? true;
    this.vendorId = profile.vendorId;
    this.productId = profile.productId;
    this.deviceVersionMajor = profile.bcdDevice >> 8;
    this.deviceVersionMinor = (profile.bcdDevice >> 4) & 0x0f;
    this.deviceVersionSubminor = profile.bcdDevice & 0x0f;
    this.manufacturerName = profile.manufacturer;
    this.productName = profile.product;
    this.serialNumber = this.effectiveProfile.serialNumber;
    const escape = options.escape ?? null;
    // An ICCD token (bInterfaceProtocol 1 = version A, 2 = version B; ISO/IEC 7816-12) drives its chip as a CCID
    // slot would at TPDU level (A: the token runs T=0's procedure bytes) or extended APDU level (B: it chains).
    const iccd = profile.interfaceProtocol === 1 ? 'A' : profile.interfaceProtocol === 2 ? 'B' : null;
    const slotProfile =
      iccd === null
        ? profile
        : {
            ...profile,
            ccid: {
              ...profile.ccid,
              dwFeatures: (profile.ccid.dwFeatures & ~0x70000) | (iccd === 'A' ? 0x10000 : 0x40000),
            },
          };
    this.slots = Array.from(
      { length: profile.ccid.bMaxSlotIndex + 1 },
      (_, i) => new Slot(i, slotProfile, this.keypad, escape),
    );
    this.iccd = iccd === null ? null : new IccdFunction(iccd, this.slots[0]!);
    this.configurations = [this.buildConfiguration()];
  }

  // --- WebUSB object model ---------------------------------------------------------------------------------------

  private buildConfiguration(): USBConfiguration {
    const endpoints: USBEndpoint[] = endpointLayout(this.profile, this.layout.endpoints).map((e) => ({
      endpointNumber: e.address & 0x0f,
      direction: e.address & 0x80 ? 'in' : 'out',
      type: e.attributes === 0x03 ? 'interrupt' : 'bulk',
      packetSize: e.packetSize,
    }));
    const alternate = {
      alternateSetting: 0,
      interfaceClass: this.profile.interfaceClass,
      interfaceSubclass: this.profile.interfaceSubclass ?? 0,
      interfaceProtocol: this.profile.interfaceProtocol ?? 0,
      interfaceName: this.profile.interfaceName,
      endpoints,
    } as USBAlternateInterface;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the getter below runs with the literal as `this`
    const device = this;
    const iface = {
      interfaceNumber: this.layout.interfaceNumber,
      alternate,
      alternates: [alternate],
      get claimed() {
        return device.claimed;
      },
    } as USBInterface;
    return { configurationValue: CONFIGURATION_VALUE, configurationName: null, interfaces: [iface] };
  }

  get configuration(): USBConfiguration | null {
    return this.configured ? this.configurations[0]! : null;
  }

  get opened(): boolean {
    return this.isOpen;
  }

  /** True once `unplug()` was called. */
  get unplugged(): boolean {
    return this.isUnplugged;
  }

  // --- Device lifecycle --------------------------------------------------------------------------------------------

  async open(): Promise<void> {
    if (this.isUnplugged) throw disconnected();
    if (this.isForgotten) throw domError('NotFoundError', 'The device was forgotten.');
    this.isOpen = true;
  }

  async close(): Promise<void> {
    if (this.isUnplugged) throw disconnected();
    this.isOpen = false;
    this.claimed = false;
    this.bulkIn.rejectAll(cancelled);
    this.interruptIn.rejectAll(cancelled);
  }

  async forget(): Promise<void> {
    if (this.isOpen) await this.close();
    this.isForgotten = true;
  }

  async selectConfiguration(configurationValue: number): Promise<void> {
    this.requireOpen();
    if (configurationValue !== CONFIGURATION_VALUE) {
      throw domError('NotFoundError', 'The configuration value provided is not supported by the device.');
    }
    this.claimed = false;
    this.configured = true;
  }

  async claimInterface(interfaceNumber: number): Promise<void> {
    this.requireConfigured();
    if (interfaceNumber !== this.layout.interfaceNumber) throw this.noInterface();
    this.claimed = true;
  }

  async releaseInterface(interfaceNumber: number): Promise<void> {
    this.requireConfigured();
    if (interfaceNumber !== this.layout.interfaceNumber) throw this.noInterface();
    this.claimed = false;
  }

  async selectAlternateInterface(interfaceNumber: number, alternateSetting: number): Promise<void> {
    this.requireConfigured();
    if (interfaceNumber !== this.layout.interfaceNumber) throw this.noInterface();
    if (!this.claimed) throw domError('InvalidStateError', 'The interface must be claimed first.');
    if (alternateSetting !== 0) {
      throw domError('NotFoundError', 'The alternate setting provided is not supported by the device.');
    }
  }

  async reset(): Promise<void> {
    this.requireOpen();
    // A USB reset restarts the reader: responses in flight are lost, cards are deactivated but stay inserted.
    this.generation++;
    this.bulkIn.rejectAll(cancelled);
    this.interruptIn.rejectAll(cancelled);
    this.bulkIn.clear();
    this.interruptIn.clear();
    this.halted.clear();
    this.keypad.interrupt();
    this.cancels.clear();
    this.busySlots = 0;
    for (const s of this.slots) {
      s.busy = false;
      s.powerDown();
    }
  }

  async clearHalt(direction: USBDirection, endpointNumber: number): Promise<void> {
    this.requireOpen();
    const name = this.endpointName(direction, endpointNumber);
    if (name === null || !this.claimed) throw badEndpoint();
    this.halted.delete(name);
  }

  async isochronousTransferIn(
    _endpointNumber: number,
    _packetLengths: number[],
  ): Promise<USBIsochronousInTransferResult> {
    throw domError('NotSupportedError', 'A CCID reader has no isochronous endpoints.');
  }

  async isochronousTransferOut(
    _endpointNumber: number,
    _data: BufferSource,
    _packetLengths: number[],
  ): Promise<USBIsochronousOutTransferResult> {
    throw domError('NotSupportedError', 'A CCID reader has no isochronous endpoints.');
  }

  private requireOpen(): void {
    if (this.isUnplugged) throw disconnected();
    if (!this.isOpen) throw notOpen();
  }

  private requireConfigured(): void {
    this.requireOpen();
    if (!this.configured) throw domError('InvalidStateError', 'The device must have a configuration selected.');
  }

  private noInterface(): DOMException {
    return domError(
      'NotFoundError',
      'The interface number provided is not supported by the device in its current configuration.',
    );
  }

  /** Whether endpoint `n` in `direction` belongs to this reader's CCID interface (a composite device routes by it). */
  ownsEndpoint(direction: USBDirection, n: number): boolean {
    return this.endpointName(direction, n) !== null;
  }

  private endpointName(direction: USBDirection, n: number): EndpointName | null {
    const ep = this.layout.endpoints;
    const bulk = this.profile.bulkEndpoints !== false;
    if (direction === 'out' && n === ep.BULK_OUT && bulk) return 'bulk-out';
    if (direction === 'in' && n === ep.BULK_IN && bulk) return 'bulk-in';
    if (direction === 'in' && n === ep.INTERRUPT_IN && this.profile.interruptEndpoint) return 'interrupt-in';
    return null;
  }

  // --- Control pipe ------------------------------------------------------------------------------------------------

  async controlTransferIn(setup: USBControlTransferParameters, length: number): Promise<USBInTransferResult> {
    this.requireOpen();
    this.checkControlRecipient(setup);
    if (this.iccd !== null && setup.requestType === 'class' && setup.recipient === 'interface') {
      const data = await this.iccd.in(setup.request);
      if (data === null) return stallIn();
      const n = Math.min(data.length, Math.max(0, length));
      return { status: 'ok', data: new DataView(data.buffer, data.byteOffset, n) };
    }
    const answer = this.controlIn(setup);
    if (answer === null) return stallIn();
    const n = Math.min(answer.length, Math.max(0, length));
    return { status: 'ok', data: new DataView(answer.buffer, answer.byteOffset, n) };
  }

  async controlTransferOut(setup: USBControlTransferParameters, data?: BufferSource): Promise<USBOutTransferResult> {
    this.requireOpen();
    this.checkControlRecipient(setup);
    const bytes = bytesOf(data);
    if (this.iccd !== null && setup.requestType === 'class' && setup.recipient === 'interface') {
      return (await this.iccd.out(setup.request, setup.value, bytes.slice())) ? okOut(bytes.length) : stallOut();
    }
    if (
      setup.requestType === 'class' &&
      setup.recipient === 'interface' &&
      setup.request === CLASS_REQUEST.ABORT &&
      (setup.index & 0xff) === this.layout.interfaceNumber
    ) {
      // ABORT (CCID 1.1 §5.3.1): wValue = bSeq << 8 | bSlot.
      const slot = this.slots[setup.value & 0xff];
      if (slot === undefined) return stallOut();
      slot.abortSeq = (setup.value >> 8) & 0xff;
      this.cancels.get(slot.index)?.(SLOT_ERROR.CMD_ABORTED);
      return okOut(bytes.length);
    }
    return stallOut();
  }

  private checkControlRecipient(setup: USBControlTransferParameters): void {
    if (setup.recipient === 'interface' && (!this.claimed || (setup.index & 0xff) !== this.layout.interfaceNumber)) {
      throw domError('InvalidStateError', 'The specified interface has not been claimed.');
    }
    if (setup.recipient === 'endpoint' && !this.claimed) throw badEndpoint();
  }

  private controlIn(setup: USBControlTransferParameters): Uint8Array | null {
    if (setup.requestType === 'standard' && setup.recipient === 'device') {
      if (setup.request === 0x06) {
        const type = setup.value >> 8;
        const index = setup.value & 0xff;
        if (type === DESCRIPTOR_TYPE.DEVICE && index === 0) return encodeDeviceDescriptor(this.effectiveProfile);
        if (type === DESCRIPTOR_TYPE.CONFIGURATION && index === 0) return encodeConfigurationDescriptor(this.profile);
        if (type === DESCRIPTOR_TYPE.STRING) return encodeStringDescriptor(this.effectiveProfile, index);
        return null;
      }
      if (setup.request === 0x00) return Uint8Array.of(0, 0); // GET_STATUS: bus powered, no remote wake-up armed
      if (setup.request === 0x08) return Uint8Array.of(this.configured ? CONFIGURATION_VALUE : 0);
      return null;
    }
    if (setup.requestType === 'class' && setup.recipient === 'interface') {
      // GET_CLOCK_FREQUENCIES / GET_DATA_RATES (CCID 1.1 §5.3.2, §5.3.3): arrays of little-endian dwords.
      const list =
        setup.request === CLASS_REQUEST.GET_CLOCK_FREQUENCIES
          ? this.profile.clockFrequencies
          : setup.request === CLASS_REQUEST.GET_DATA_RATES
            ? this.profile.dataRates
            : null;
      if (list === null) return null;
      const out = new Uint8Array(4 * list.length);
      const view = new DataView(out.buffer);
      list.forEach((v, i) => view.setUint32(4 * i, v, true));
      return out;
    }
    return null;
  }

  // --- Bulk and interrupt pipes ------------------------------------------------------------------------------------

  // transferIn and transferOut are not async functions: a zero-latency transfer settles with the endpoint queue's own
  // promise (or an already resolved one) instead of wrapping it in another, one promise and turn less per message.
  // Every error still comes as a rejected promise, never as a synchronous throw, as from an async function.

  transferIn(endpointNumber: number, length: number): Promise<USBInTransferResult> {
    try {
      this.requireOpen();
      const name = this.endpointName('in', endpointNumber);
      if (name === null || !this.claimed) throw badEndpoint();
      if (!Number.isInteger(length) || length < 0) throw new TypeError(`transfer length ${length} is not a byte count`);
      if (this.halted.has(name)) return Promise.resolve(stallIn());
      if (this.armedStalls.delete(name)) {
        this.halted.add(name);
        return Promise.resolve(stallIn());
      }
      const queue = name === 'bulk-in' ? this.bulkIn : this.interruptIn;
      return queue.take(length);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  transferOut(endpointNumber: number, data: BufferSource): Promise<USBOutTransferResult> {
    try {
      this.requireOpen();
      const name = this.endpointName('out', endpointNumber);
      if (name === null || !this.claimed) throw badEndpoint();
      if (this.halted.has(name)) return Promise.resolve(stallOut());
      if (this.armedStalls.delete(name)) {
        this.halted.add(name);
        return Promise.resolve(stallOut());
      }
      const bytes = bytesOf(data);
      this.receiveCommand(bytes);
      return Promise.resolve(okOut(bytes.length));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** One bulk-OUT transfer = one PC_to_RDR message (CCID 1.1 §6.1). */
  private receiveCommand(raw: Uint8Array): void {
    const index = this.faults.countCommand();
    const type = raw[0] ?? 0;
    const slotIndex = raw[5] ?? 0;
    const seq = raw[6] ?? 0;
    if (raw.length < HEADER_LENGTH) {
      // Not even a header: answer on the fields we have, pointing at dwLength.
      this.emit(index, type, slotIndex, seq, failure(FIELD_OFFSET.dwLength));
      return;
    }
    const dwLength = (raw[1]! | (raw[2]! << 8) | (raw[3]! << 16) | (raw[4]! << 24)) >>> 0;
    if (dwLength !== raw.length - HEADER_LENGTH || raw.length > this.profile.ccid.dwMaxCCIDMessageLength) {
      this.emit(index, type, slotIndex, seq, failure(FIELD_OFFSET.dwLength));
      return;
    }
    const slot = this.slots[slotIndex];
    if (slot === undefined) {
      this.emit(index, type, slotIndex, seq, failure(FIELD_OFFSET.bSlot));
      return;
    }
    slot.lastSeq = seq;
    const cmd: Command = {
      type,
      slot: slotIndex,
      seq,
      b7: raw[7]!,
      b8: raw[8]!,
      b9: raw[9]!,
      // Our own copy: the caller may reuse its buffer while a chained APDU is being collected.
      data: copyOfBytes(raw, HEADER_LENGTH),
    };
    if (type === PC_TO_RDR.Abort) {
      this.cancels.get(slotIndex)?.(SLOT_ERROR.CMD_ABORTED);
    } else if (slot.abortSeq !== null) {
      // Between the class ABORT request and PC_to_RDR_Abort every command to the slot fails (CCID 1.1 §5.3.1).
      this.emit(index, type, slotIndex, seq, failure(SLOT_ERROR.CMD_ABORTED));
      return;
    }
    if (slot.busy || this.busySlots >= this.profile.ccid.bMaxCCIDBusySlots) {
      this.emit(index, type, slotIndex, seq, failure(SLOT_ERROR.CMD_SLOT_BUSY));
      return;
    }
    this.run(index, cmd, slot);
  }

  private run(index: number, cmd: Command, slot: Slot): void {
    const result = slot.handle(cmd);
    if (!(result instanceof Promise) && this.latencyMs === 0) {
      this.emit(index, cmd.type, cmd.slot, cmd.seq, result);
      return;
    }
    const generation = this.generation;
    slot.busy = true;
    this.busySlots++;
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      if (generation !== this.generation) return;
      slot.busy = false;
      this.busySlots--;
      this.cancels.delete(slot.index);
      this.emit(index, cmd.type, cmd.slot, cmd.seq, o);
    };
    this.cancels.set(slot.index, (error) => {
      if (this.keypad.waiting) this.keypad.interrupt();
      finish(failure(error));
    });
    const later = (o: Outcome) => {
      if (this.latencyMs === 0) finish(o);
      else timer = setTimeout(() => finish(o), this.latencyMs);
    };
    if (result instanceof Promise) result.then(later, () => finish(failure(SLOT_ERROR.HW_ERROR)));
    else later(result);
  }

  private emit(index: number, commandType: number, slotIndex: number, seq: number, o: Outcome): void {
    if (this.isUnplugged) return;
    const icc = this.slots[slotIndex]?.iccStatus ?? ICC_STATUS.ABSENT;
    const responseType = responseTypeFor(commandType);
    const final = encodeResponse(responseType, slotIndex, seq, (o.commandStatus << 6) | icc, o.error, o.byte9, o.data);
    const fired = this.faults.take(index, commandType);
    if (
      fired.length === 0 &&
      o.timeExtensions.length === 0 &&
      this.profile.quirks?.zlpBeforeResponseTo?.includes(commandType) !== true
    ) {
      // The common case, without the packet list below: the response alone.
      this.lastResponse = final;
      this.bulkIn.push(final);
      return;
    }
    const timeExtension = (m: number) =>
      encodeResponse(responseType, slotIndex, seq, (COMMAND_STATUS.TIME_EXTENSION << 6) | icc, m, 0, new Uint8Array(0));
    const packets: Uint8Array[] = o.timeExtensions.map(timeExtension);
    if (this.profile.quirks?.zlpBeforeResponseTo?.includes(commandType)) packets.push(new Uint8Array(0));
    packets.push(...applyResponseFaults(final, fired, timeExtension, this.lastResponse));
    this.lastResponse = final;
    for (const p of packets) this.bulkIn.push(p);
  }

  // --- Simulation controls -----------------------------------------------------------------------------------------

  /** Puts a card in a slot; the reader notices at once (interrupt-IN NotifySlotChange, CCID 1.1 §6.3.1). */
  insertCard(card: SimCard, slot = 0): void {
    const s = this.slotAt(slot);
    if (s.card !== null) throw new Error(`slot ${slot} already holds a card: removeCard(${slot}) first`);
    s.card = card;
    this.notifySlotChange(slot);
    s.autoActivate();
  }

  /** Pulls the card out: contacts lost at once; a command waiting on the card fails with ICC_MUTE. */
  removeCard(slot = 0): void {
    const s = this.slotAt(slot);
    if (s.card === null) return;
    s.detach();
    this.cancels.get(slot)?.(SLOT_ERROR.ICC_MUTE);
    this.notifySlotChange(slot);
  }

  /** The card currently in a slot, if any. */
  cardIn(slot = 0): SimCard | null {
    return this.slotAt(slot).card;
  }

  /** What the reader knows about a slot (as bmICCStatus says: 0 active, 1 inactive, 2 absent). */
  slotStatus(slot = 0): { iccStatus: number; busy: boolean; muted: boolean } {
    const s = this.slotAt(slot);
    return { iccStatus: s.iccStatus, busy: s.busy, muted: s.muted };
  }

  /** Plans or triggers a fault (see `faults.ts`). */
  injectFault(spec: FaultSpec): void {
    switch (spec.kind) {
      case 'stall': {
        const queue =
          spec.endpoint === 'bulk-in' ? this.bulkIn : spec.endpoint === 'interrupt-in' ? this.interruptIn : null;
        this.faults.record(spec);
        // A transfer already waiting on the endpoint is "the next transfer": it gets the stall.
        if (queue !== null && queue.waiting > 0) {
          this.halted.add(spec.endpoint);
          queue.stallAll();
        } else {
          this.armedStalls.add(spec.endpoint);
        }
        return;
      }
      case 'mute':
        this.slotAt(spec.slot ?? 0).muted = true;
        this.faults.record(spec);
        return;
      case 'hardware-error': {
        const s = this.slotAt(spec.slot ?? 0);
        if (!this.profile.interruptEndpoint) throw new Error(`profile ${this.profile.id} has no interrupt endpoint`);
        this.faults.record(spec);
        this.interruptIn.push(Uint8Array.of(RDR_TO_PC.HardwareError, s.index, s.lastSeq, spec.code ?? 0x01));
        return;
      }
      default:
        this.faults.plan(spec);
    }
  }

  /** Ends a 'mute' fault: the card answers again. */
  unmute(slot = 0): void {
    this.slotAt(slot).muted = false;
  }

  /** The reader is pulled out: every pending and later transfer rejects with NotFoundError. */
  unplug(): void {
    if (this.isUnplugged) return;
    this.isUnplugged = true;
    this.isOpen = false;
    this.claimed = false;
    this.generation++;
    this.keypad.interrupt();
    this.cancels.clear();
    this.bulkIn.rejectAll(disconnected);
    this.interruptIn.rejectAll(disconnected);
    this.onunplug?.();
  }

  private slotAt(slot: number): Slot {
    const s = this.slots[slot];
    if (s === undefined) {
      throw new RangeError(`slot ${slot} does not exist: ${this.profile.id} has slots 0..${this.slots.length - 1}`);
    }
    return s;
  }

  /**
   * RDR_to_PC_NotifySlotChange (CCID 1.1 §6.3.1): two bits per slot, bit 0 card present, bit 1 changed. Unread
   * notifications are merged so that a quick remove/insert still shows "changed".
   */
  private notifySlotChange(changedSlot: number): void {
    if (!this.profile.interruptEndpoint) return;
    const size = 1 + Math.ceil((this.slots.length * 2) / 8);
    const msg = new Uint8Array(size);
    msg[0] = RDR_TO_PC.NotifySlotChange;
    this.slots.forEach((s, i) => {
      const bit = 2 * i;
      if (s.present) msg[1 + (bit >> 3)]! |= 1 << (bit & 7);
    });
    const changedBit = 2 * changedSlot + 1;
    msg[1 + (changedBit >> 3)]! |= 1 << (changedBit & 7);
    const last = this.interruptIn.lastQueued();
    if (last !== undefined && last[0] === RDR_TO_PC.NotifySlotChange && last.length === size) {
      for (let i = 1; i < size; i++) msg[i]! |= last[i]! & 0xaa; // keep earlier "changed" bits
      this.interruptIn.replaceLast(msg);
    } else {
      this.interruptIn.push(msg);
    }
  }
}

function failure(error: number): Outcome {
  return { commandStatus: COMMAND_STATUS.FAILED, error, byte9: 0, data: new Uint8Array(0), timeExtensions: [] };
}

/** A simulated reader from a profile id of PROFILES or a profile object. */
export function createSimulatedReader(
  profile: ProfileId | ReaderProfile,
  options: SimulatedReaderOptions = {},
): SimulatedReader {
  if (typeof profile === 'string') {
    if (!isProfileId(profile)) {
      throw new RangeError(`unknown reader profile "${profile}": one of ${Object.keys(PROFILES).join(', ')}`);
    }
    return new SimulatedReader(PROFILES[profile], options);
  }
  return new SimulatedReader(profile, options);
}
