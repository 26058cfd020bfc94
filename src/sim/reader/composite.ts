/**
 * A simulated composite USB device (USB 2.0 §9.6.3: one configuration, several interfaces): one or more CCID
 * functions, each a SimulatedReader on its own interface and endpoints, beside interfaces the smart card stack does
 * not drive (a keyboard's HID interfaces). This is what smart card keyboards and dual (contact + contactless or
 * PICC + SAM) readers are; pcscd with libccid makes one reader per CCID interface, told apart by the interface part
 * of their names (pcsc-lite `hotplug_libudev.c` reads iInterface per interface).
 *
 * Standard device requests (descriptors) are answered here; everything addressed to an interface or an endpoint goes
 * to the function that owns it. The other interfaces accept nothing but their descriptors: claiming one fails as
 * Chrome fails a protected HID interface (SecurityError), and none of their endpoints exist for transfers.
 */
import { DESCRIPTOR_TYPE, STRING_INDEX, encodeInterfaceBlock, encodeString, wrapConfiguration } from './descriptors.js';
import { SimulatedReader, type SimulatedReaderOptions } from './device.js';
import type { ReaderProfile } from './profiles.js';
import { UNPLUGGABLE, type UnpluggableDevice } from './unpluggable.js';

/** A CCID function of the composite device. */
export interface CompositeCcidFunction {
  kind: 'ccid';
  interfaceNumber: number;
  /** The function's CCID side: class descriptor, endpoints, iInterface (`interfaceName`), class requests. */
  profile: ReaderProfile;
}

/** An interface the stack does not drive (HID, CDC...): only its descriptors exist. */
export interface CompositeOtherFunction {
  kind: 'other';
  interfaceNumber: number;
  interfaceClass: number;
  interfaceSubclass: number;
  interfaceProtocol: number;
  interfaceName: string | null;
  /** Class-specific descriptor bytes after the interface descriptor (a HID descriptor, USB HID 1.11 §6.2.1). */
  classDescriptor: Uint8Array;
  /** One interrupt-IN endpoint (HID reports) or none. */
  interruptIn: boolean;
}

export type CompositeFunction = CompositeCcidFunction | CompositeOtherFunction;

export interface CompositeProfile {
  id: string;
  /** The libccid dump(s) the values come from. */
  source: string;
  vendorId: number;
  productId: number;
  bcdDevice: number;
  manufacturer: string | null;
  product: string | null;
  serialNumber: string | null;
  functions: readonly CompositeFunction[];
}

function domError(name: string, message: string): DOMException {
  return new DOMException(message, name);
}

/** A HID class descriptor (USB HID 1.11 §6.2.1): bcdHID 1.11, no country, one report descriptor of `reportLength`. */
// Marked pure for the bundler: a bundle that uses none of these profiles (the connector's worker) leaves them out.
/* @__NO_SIDE_EFFECTS__ */
export function hidDescriptor(reportLength: number): Uint8Array {
  return Uint8Array.of(9, 0x21, 0x11, 0x01, 0, 1, 0x22, reportLength & 0xff, reportLength >> 8);
}

export class SimulatedCompositeDevice implements UnpluggableDevice {
  readonly profile: CompositeProfile;
  /** The CCID functions, in interface order: insert cards, inject faults, unplug through them. */
  readonly readers: readonly SimulatedReader[];
  /** Called once when the device is unplugged (for a fake `navigator.usb` to fire 'disconnect'). */
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

  readonly #byInterface = new Map<number, SimulatedReader>();
  readonly #strings = new Map<number, string>();
  readonly #config: Uint8Array;
  #open = false;
  #configured = true;
  #unplugged = false;

  constructor(profile: CompositeProfile, options: Omit<SimulatedReaderOptions, 'layout'> = {}) {
    this.profile = profile;
    this.vendorId = profile.vendorId;
    this.productId = profile.productId;
    this.deviceVersionMajor = profile.bcdDevice >> 8;
    this.deviceVersionMinor = (profile.bcdDevice >> 4) & 0x0f;
    this.deviceVersionSubminor = profile.bcdDevice & 0x0f;
    this.manufacturerName = profile.manufacturer;
    this.productName = profile.product;
    this.serialNumber = profile.serialNumber;
    if (profile.manufacturer !== null) this.#strings.set(STRING_INDEX.MANUFACTURER, profile.manufacturer);
    if (profile.product !== null) this.#strings.set(STRING_INDEX.PRODUCT, profile.product);
    if (profile.serialNumber !== null) this.#strings.set(STRING_INDEX.SERIAL, profile.serialNumber);

    const functions = [...profile.functions].sort((a, b) => a.interfaceNumber - b.interfaceNumber);
    let nextEndpoint = 1;
    let nextString = STRING_INDEX.INTERFACE;
    const readers: SimulatedReader[] = [];
    const blocks: Uint8Array[] = [];
    const interfaces: USBInterface[] = [];
    for (const f of functions) {
      const stringIndex = nextString++;
      if (f.kind === 'ccid') {
        const endpoints = { BULK_OUT: nextEndpoint, BULK_IN: nextEndpoint + 1, INTERRUPT_IN: nextEndpoint + 2 };
        nextEndpoint += 3;
        const layout = { interfaceNumber: f.interfaceNumber, endpoints, interfaceStringIndex: stringIndex };
        // Each function carries the device's strings, so that it also stands alone (tests, logs).
        const reader = new SimulatedReader(
          {
            ...f.profile,
            vendorId: profile.vendorId,
            productId: profile.productId,
            bcdDevice: profile.bcdDevice,
            manufacturer: profile.manufacturer,
            product: profile.product,
            serialNumber: profile.serialNumber,
          },
          { ...options, layout },
        );
        readers.push(reader);
        this.#byInterface.set(f.interfaceNumber, reader);
        if (f.profile.interfaceName !== null) this.#strings.set(stringIndex, f.profile.interfaceName);
        blocks.push(encodeInterfaceBlock(reader.profile, layout));
        interfaces.push(reader.configurations[0]!.interfaces[0]!);
      } else {
        const endpoint = f.interruptIn ? nextEndpoint++ : undefined;
        if (f.interfaceName !== null) this.#strings.set(stringIndex, f.interfaceName);
        const block = [9, DESCRIPTOR_TYPE.INTERFACE, f.interfaceNumber, 0, endpoint === undefined ? 0 : 1];
        block.push(f.interfaceClass, f.interfaceSubclass, f.interfaceProtocol);
        block.push(f.interfaceName === null ? 0 : stringIndex);
        block.push(...f.classDescriptor);
        if (endpoint !== undefined) block.push(7, DESCRIPTOR_TYPE.ENDPOINT, 0x80 | endpoint, 0x03, 8, 0, 10);
        blocks.push(Uint8Array.from(block));
        const alternate = {
          alternateSetting: 0,
          interfaceClass: f.interfaceClass,
          interfaceSubclass: f.interfaceSubclass,
          interfaceProtocol: f.interfaceProtocol,
          interfaceName: f.interfaceName,
          endpoints:
            endpoint === undefined
              ? []
              : [{ endpointNumber: endpoint, direction: 'in', type: 'interrupt', packetSize: 8 }],
        } as USBAlternateInterface;
        interfaces.push({ interfaceNumber: f.interfaceNumber, alternate, alternates: [alternate], claimed: false });
      }
    }
    this.readers = readers;
    const body = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of blocks) {
      body.set(b, at);
      at += b.length;
    }
    this.#config = wrapConfiguration(functions.length, 0, body);
    this.configurations = [{ configurationValue: 1, configurationName: null, interfaces }];
    for (const r of readers) r.onunplug = () => this.unplug();
  }

  get configuration(): USBConfiguration | null {
    return this.#configured ? this.configurations[0]! : null;
  }

  get opened(): boolean {
    return this.#open;
  }

  get unplugged(): boolean {
    return this.#unplugged;
  }

  async open(): Promise<void> {
    if (this.#unplugged) throw domError('NotFoundError', 'The device was disconnected.');
    for (const r of this.readers) await r.open();
    this.#open = true;
  }

  async close(): Promise<void> {
    if (this.#unplugged) throw domError('NotFoundError', 'The device was disconnected.');
    for (const r of this.readers) await r.close();
    this.#open = false;
  }

  async forget(): Promise<void> {
    if (this.#open) await this.close();
  }

  async selectConfiguration(configurationValue: number): Promise<void> {
    this.#requireOpen();
    for (const r of this.readers) await r.selectConfiguration(configurationValue);
    this.#configured = true;
  }

  async claimInterface(interfaceNumber: number): Promise<void> {
    await this.#owner(interfaceNumber).claimInterface(interfaceNumber);
  }

  async releaseInterface(interfaceNumber: number): Promise<void> {
    await this.#owner(interfaceNumber).releaseInterface(interfaceNumber);
  }

  async selectAlternateInterface(interfaceNumber: number, alternateSetting: number): Promise<void> {
    await this.#owner(interfaceNumber).selectAlternateInterface(interfaceNumber, alternateSetting);
  }

  async reset(): Promise<void> {
    this.#requireOpen();
    for (const r of this.readers) await r.reset();
  }

  async clearHalt(direction: USBDirection, endpointNumber: number): Promise<void> {
    await this.#endpointOwner(direction, endpointNumber).clearHalt(direction, endpointNumber);
  }

  async controlTransferIn(setup: USBControlTransferParameters, length: number): Promise<USBInTransferResult> {
    this.#requireOpen();
    if (setup.requestType === 'standard' && setup.recipient === 'device' && setup.request === 0x06) {
      const type = setup.value >> 8;
      const index = setup.value & 0xff;
      let answer: Uint8Array | null = null;
      if (type === DESCRIPTOR_TYPE.CONFIGURATION && index === 0) answer = this.#config;
      else if (type === DESCRIPTOR_TYPE.STRING && index === 0) answer = Uint8Array.of(4, DESCRIPTOR_TYPE.STRING, 9, 4);
      else if (type === DESCRIPTOR_TYPE.STRING) {
        const text = this.#strings.get(index);
        answer = text === undefined ? null : encodeString(text);
      } else if (type === DESCRIPTOR_TYPE.DEVICE && index === 0) {
        return this.readers[0]!.controlTransferIn(setup, length);
      }
      if (answer === null) return { status: 'stall', data: new DataView(new ArrayBuffer(0)) };
      const n = Math.min(answer.length, Math.max(0, length));
      return { status: 'ok', data: new DataView(answer.buffer, answer.byteOffset, n) };
    }
    if (setup.recipient === 'interface') return this.#owner(setup.index & 0xff).controlTransferIn(setup, length);
    return this.readers[0]!.controlTransferIn(setup, length);
  }

  async controlTransferOut(setup: USBControlTransferParameters, data?: BufferSource): Promise<USBOutTransferResult> {
    this.#requireOpen();
    if (setup.recipient === 'interface') return this.#owner(setup.index & 0xff).controlTransferOut(setup, data);
    return this.readers[0]!.controlTransferOut(setup, data);
  }

  async transferIn(endpointNumber: number, length: number): Promise<USBInTransferResult> {
    return this.#endpointOwner('in', endpointNumber).transferIn(endpointNumber, length);
  }

  async transferOut(endpointNumber: number, data: BufferSource): Promise<USBOutTransferResult> {
    return this.#endpointOwner('out', endpointNumber).transferOut(endpointNumber, data);
  }

  async isochronousTransferIn(): Promise<USBIsochronousInTransferResult> {
    throw domError('NotSupportedError', 'This device has no isochronous endpoints.');
  }

  async isochronousTransferOut(): Promise<USBIsochronousOutTransferResult> {
    throw domError('NotSupportedError', 'This device has no isochronous endpoints.');
  }

  /** The whole device is pulled out: every function fails its transfers with NotFoundError. */
  unplug(): void {
    if (this.#unplugged) return;
    this.#unplugged = true;
    this.#open = false;
    for (const r of this.readers) {
      r.onunplug = null;
      r.unplug();
    }
    this.onunplug?.();
  }

  #requireOpen(): void {
    if (this.#unplugged) throw domError('NotFoundError', 'The device was disconnected.');
    if (!this.#open) throw domError('InvalidStateError', 'The device must be opened first.');
  }

  /** The CCID function on `interfaceNumber`; another interface is refused as Chrome refuses a protected class. */
  #owner(interfaceNumber: number): SimulatedReader {
    this.#requireOpen();
    const r = this.#byInterface.get(interfaceNumber);
    if (r !== undefined) return r;
    if (this.profile.functions.some((f) => f.interfaceNumber === interfaceNumber)) {
      throw domError('SecurityError', 'The requested interface implements a protected class.');
    }
    throw domError(
      'NotFoundError',
      'The interface number provided is not supported by the device in its current configuration.',
    );
  }

  #endpointOwner(direction: USBDirection, endpointNumber: number): SimulatedReader {
    this.#requireOpen();
    const r = this.readers.find((x) => x.ownsEndpoint(direction, endpointNumber));
    if (r === undefined) {
      throw domError(
        'NotFoundError',
        'The specified endpoint is not part of a claimed and selected alternate interface.',
      );
    }
    return r;
  }
}
