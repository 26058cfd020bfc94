/**
 * Helpers of the device manager's tests: a fake daemon with PcscDaemon's addReader/removeReader shape (and its
 * 16-reader limit), waiting for the readers list, gates for pausing an open, and non-reader USB devices.
 */
import type { IfdReader } from '../../../src/ifd/ifd.js';
import { PcscError } from '../../../src/pcsc/errors.js';
import {
  PCSCLITE_MAX_READERS_CONTEXTS,
  SCARD_E_NO_MEMORY,
  SCARD_E_UNKNOWN_READER,
} from '../../../src/pcsc/constants.js';
import type { ReaderEntry, ReaderSink, UsbDeviceManager } from '../../../src/usb/device-manager.js';

export class FakeDaemon implements ReaderSink {
  readonly readers = new Map<IfdReader, string[]>();
  readonly addCalls: IfdReader[] = [];
  readonly removeCalls: IfdReader[] = [];
  /** When set, addReader waits for it. */
  gate: Promise<void> | undefined;
  #index = 0;

  async addReader(reader: IfdReader): Promise<string[]> {
    this.addCalls.push(reader);
    if (this.gate !== undefined) await this.gate;
    const used = [...this.readers.values()].reduce((n, names) => n + names.length, 0);
    if (used + reader.slots.length > PCSCLITE_MAX_READERS_CONTEXTS) {
      throw new PcscError(
        SCARD_E_NO_MEMORY,
        `no room for another reader (${PCSCLITE_MAX_READERS_CONTEXTS} slots in use)`,
      );
    }
    const index = this.#index++;
    const names = reader.slots.map((s) => `${reader.friendlyName} ${hex2(index)} ${hex2(s.slot)}`);
    this.readers.set(reader, names);
    return names;
  }

  async removeReader(reader: IfdReader): Promise<void> {
    this.removeCalls.push(reader);
    if (!this.readers.delete(reader)) throw new PcscError(SCARD_E_UNKNOWN_READER, 'not a reader of this daemon');
  }

  get readerNames(): string[] {
    return [...this.readers.values()].flat();
  }
}

const hex2 = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');

/** Resolves with the entries once `predicate` holds (checked now and after every change); rejects after `ms`. */
export function waitForEntries(
  manager: UsbDeviceManager,
  predicate: (entries: readonly ReaderEntry[]) => boolean,
  ms = 3000,
): Promise<readonly ReaderEntry[]> {
  return new Promise((resolve, reject) => {
    if (predicate(manager.entries)) {
      resolve(manager.entries);
      return;
    }
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting; entries: ${JSON.stringify(manager.entries)}`));
    }, ms);
    const off = manager.onChange((entries) => {
      if (!predicate(entries)) return;
      clearTimeout(timer);
      off();
      resolve(entries);
    });
  });
}

/** Resolves once `condition()` holds (checked every millisecond); rejects after `ms`. */
export async function until(condition: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 1));
  }
}

export interface Gate {
  promise: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** Lets every pending microtask and timer of zero delay run. */
export const settle = () => new Promise<void>((r) => setTimeout(r, 5));

/**
 * A USB device that is not a smart card reader: an interface of `interfaceClass`, and a configuration descriptor
 * (for the driver's probe of vendor-class devices) with that interface and two bulk endpoints, no CCID descriptor.
 */
export class GadgetDevice {
  opened = false;
  openCount = 0;
  readonly vendorId = 0x1234;
  readonly productId = 0x5678;
  readonly deviceClass = 0;
  readonly deviceSubclass = 0;
  readonly deviceProtocol = 0;
  readonly manufacturerName = 'Acme';
  readonly productName = 'Gadget';
  readonly serialNumber = null;
  readonly configurations: USBConfiguration[];
  readonly descriptor: Uint8Array;

  constructor(readonly interfaceClass: number) {
    const alternate = {
      alternateSetting: 0,
      interfaceClass,
      interfaceSubclass: 0,
      interfaceProtocol: 0,
      interfaceName: null,
      endpoints: [],
    } as unknown as USBAlternateInterface;
    const intf = { interfaceNumber: 0, alternate, alternates: [alternate], claimed: false } as USBInterface;
    this.configurations = [{ configurationValue: 1, configurationName: null, interfaces: [intf] }];
    this.descriptor = Uint8Array.from([
      9,
      2,
      32,
      0,
      1,
      1,
      0,
      0x80,
      50, // configuration
      9,
      4,
      0,
      0,
      2,
      interfaceClass,
      0,
      0,
      0, // interface
      7,
      5,
      0x81,
      2,
      64,
      0,
      0, // bulk IN
      7,
      5,
      0x02,
      2,
      64,
      0,
      0, // bulk OUT
    ]);
  }

  get configuration(): USBConfiguration {
    return this.configurations[0]!;
  }

  async open(): Promise<void> {
    this.opened = true;
    this.openCount++;
  }

  async close(): Promise<void> {
    this.opened = false;
  }

  async controlTransferIn(setup: USBControlTransferParameters, length: number): Promise<USBInTransferResult> {
    if (!this.opened) throw new DOMException('The device must be opened first.', 'InvalidStateError');
    if (setup.request === 6 && setup.value >> 8 === 2) {
      const bytes = this.descriptor.slice(0, length);
      return { status: 'ok', data: new DataView(bytes.buffer) };
    }
    return { status: 'stall' };
  }

  async claimInterface(): Promise<void> {
    throw new Error('GadgetDevice: nobody should claim a gadget');
  }

  asDevice(): USBDevice {
    return this as unknown as USBDevice;
  }
}
