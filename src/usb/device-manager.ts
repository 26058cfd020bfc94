/**
 * USB device management: which readers exist, opening them with the CCID driver, handing them to the daemon, and
 * taking them away again when they are unplugged.
 *
 * Pure: nothing from `chrome.*`. It works against a `USB`-shaped object (`UsbLike`), so the same code runs on
 * `navigator.usb` in an extension service worker or page, on node-usb's WebUSB, or on the simulator's `SimulatedUsb`.
 *
 * Hot-plug comes from `connect`/`disconnect` events only; there is no polling (Google's connector polls the device list
 * every second, which costs USB traffic and keeps devices busy). A device that fails to open stays listed as 'failed'
 * with the reason; a later `connect` for it (or `retry`) tries again.
 *
 * Devices are identified by object identity, as WebUSB guarantees: one physical device is one `USBDevice` object per
 * context until it is disconnected; a re-plugged device is a new object.
 */
import type { IfdReader } from '../ifd/ifd.js';
import { discoverCcidInterfaces } from '../ccid/descriptor-io.js';
import { firmwareRefusal } from '../ccid/known-readers.js';
import { CcidReader, type CcidReaderOptions } from '../ccid/reader.js';
import { describeOpenFailure } from './errors.js';
import { hasSmartCardInterface, looksLikeSmartCardReader } from './filters.js';
import { hexNumber } from '../util/hex.js';
import { quoteUntrusted } from '../util/sanitize.js';

export type UsbLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type UsbLog = (level: UsbLogLevel, message: string) => void;

/** What the manager reads from a `connect`/`disconnect` event (a W3C `USBConnectionEvent` has it). */
export interface UsbConnectionEventLike {
  readonly device: USBDevice;
}

export type UsbConnectionListener = (event: UsbConnectionEventLike) => void;

/** The subset of W3C `USB` (navigator.usb) the manager needs. `navigator.usb` is assignable to it. */
export interface UsbLike {
  getDevices(): Promise<USBDevice[]>;
  addEventListener(type: 'connect' | 'disconnect', listener: UsbConnectionListener): void;
  removeEventListener(type: 'connect' | 'disconnect', listener: UsbConnectionListener): void;
}

/** Where opened readers go: the daemon (PcscDaemon has this shape). */
export interface ReaderSink {
  /** Registers the reader's slots; resolves with their PC/SC names. */
  addReader(reader: IfdReader): Promise<string[]>;
  removeReader(reader: IfdReader): Promise<void>;
}

export type ReaderEntryState = 'opening' | 'ready' | 'blocked' | 'unsupported' | 'failed';

/** One USB reader as the readers list shows it. */
export interface ReaderEntry {
  /** Stable for as long as the device object lives (until unplugged or removed). */
  readonly id: string;
  readonly label: string;
  readonly vendorId: number;
  readonly productId: number;
  readonly serialNumber?: string;
  /** True for the demo reader and other simulated devices. */
  readonly simulated: boolean;
  readonly state: ReaderEntryState;
  /** Why the reader is 'blocked', 'unsupported' or 'failed', in plain words for a person. */
  readonly reason?: string;
  /** The PC/SC names of its slots once 'ready'; empty otherwise. */
  readonly readerNames: readonly string[];
}

export interface UsbDeviceManagerOptions {
  /** Options for the CCID driver (its `log` defaults to the manager's). */
  driver?: CcidReaderOptions;
  log?: UsbLog;
}

export interface AddDeviceOptions {
  simulated?: boolean;
  /** Shown instead of the reader's own name. */
  label?: string;
}

type Ending = 'unplugged' | 'removed';

interface DeviceRecord {
  readonly id: string;
  readonly device: USBDevice;
  label: string;
  readonly explicitLabel: boolean;
  readonly simulated: boolean;
  state: ReaderEntryState;
  reason: string | undefined;
  readerNames: string[];
  /**
   * The opened readers, one per CCID interface (a composite device has several, as pcscd makes one reader per CCID
   * interface), from the moment the driver returns them until they are closed or removed.
   */
  readers: CcidReader[];
  /** True while the daemon holds the readers (addReader resolved, removeReader not yet called). */
  inDaemon: boolean;
  /** Set once the device was unplugged or removed: a running open attempt must undo its work. */
  ending: Ending | undefined;
  /** The running open attempt, if any. */
  attempt: Promise<void> | undefined;
}

const hex4 = (n: number) => hexNumber(n, 4);

function deviceLabel(device: USBDevice): string {
  const parts = [device.manufacturerName, device.productName].filter(
    (s): s is string => typeof s === 'string' && s.trim() !== '',
  );
  const name = parts.join(' ').trim();
  return name === '' ? `USB device ${hex4(device.vendorId)}:${hex4(device.productId)}` : name;
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/** Closes a device an open attempt may have left open; never throws. */
async function closeQuietly(device: USBDevice, log: UsbLog): Promise<void> {
  try {
    if (device.opened) await device.close();
  } catch (e) {
    log('debug', `closing ${deviceLabel(device)} after a failed open: ${describe(e)}`);
  }
}

export class UsbDeviceManager {
  readonly #usb: UsbLike;
  readonly #readers: ReaderSink;
  readonly #driver: CcidReaderOptions;
  readonly #log: UsbLog;
  readonly #records = new Map<USBDevice, DeviceRecord>();
  readonly #listeners = new Set<(entries: readonly ReaderEntry[]) => void>();
  #nextId = 1;
  #started = false;
  #snapshot: readonly ReaderEntry[] | undefined;

  readonly #onConnect: UsbConnectionListener = (event) => {
    const device = event?.device;
    if (device === undefined || device === null) return;
    this.#consider(device, {}, 'connect').catch((e: unknown) => this.#log('error', `connect handler: ${describe(e)}`));
  };

  readonly #onDisconnect: UsbConnectionListener = (event) => {
    const device = event?.device;
    if (device === undefined || device === null) return;
    this.#end(device, 'unplugged').catch((e: unknown) => this.#log('error', `disconnect handler: ${describe(e)}`));
  };

  constructor(usb: UsbLike, readers: ReaderSink, options: UsbDeviceManagerOptions = {}) {
    this.#usb = usb;
    this.#readers = readers;
    this.#log = options.log ?? (() => {});
    this.#driver = { ...options.driver, log: options.driver?.log ?? this.#log };
  }

  /**
   * Listens for hot-plug and opens every device already granted (`getDevices`). The listeners are registered before
   * anything is awaited, so calling this at the top level of a service worker catches the event that woke it.
   * Resolves once every granted device has been tried.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#usb.addEventListener('connect', this.#onConnect);
    this.#usb.addEventListener('disconnect', this.#onDisconnect);
    let devices: USBDevice[];
    try {
      devices = await this.#usb.getDevices();
    } catch (e) {
      this.#log('warn', `could not list USB devices: ${describe(e)}`);
      return;
    }
    if (!this.#started) return;
    await Promise.all(
      devices.map((d) => this.#consider(d, {}, 'granted').catch((e: unknown) => this.#log('error', describe(e)))),
    );
  }

  /**
   * Stops listening, removes every reader from the daemon and closes every device. `start()` may be called again.
   */
  async stop(): Promise<void> {
    if (this.#started) {
      this.#usb.removeEventListener('connect', this.#onConnect);
      this.#usb.removeEventListener('disconnect', this.#onDisconnect);
      this.#started = false;
    }
    await Promise.all([...this.#records.keys()].map((d) => this.#end(d, 'removed')));
  }

  /**
   * Adds a device the user just granted (after `requestDevice`) or a simulated one (the demo reader), whether or not
   * `start()` was called. Resolves with its entry once the open attempt settled, or undefined when the device is not a
   * smart card reader (or went away meanwhile). Adding a listed device again returns its entry, retrying a failed one.
   */
  async addDevice(device: USBDevice, options: AddDeviceOptions = {}): Promise<ReaderEntry | undefined> {
    return this.#consider(device, options, 'added');
  }

  /** Removes a device from the list: the daemon forgets the reader and the device is closed (it stays granted). */
  async removeDevice(device: USBDevice): Promise<void> {
    await this.#end(device, 'removed');
  }

  /** Tries a 'failed' entry again (no effect on other states). Resolves with the entry after the attempt. */
  async retry(id: string): Promise<ReaderEntry | undefined> {
    const rec = [...this.#records.values()].find((r) => r.id === id);
    if (rec === undefined) return undefined;
    if (rec.state === 'failed') this.#open(rec);
    await rec.attempt;
    return this.#entryOf(rec.device);
  }

  /** The readers list, in the order the devices appeared. */
  get entries(): readonly ReaderEntry[] {
    this.#snapshot ??= Object.freeze([...this.#records.values()].map(toEntry));
    return this.#snapshot;
  }

  /** The entry of a device, if it is listed. */
  entryFor(device: USBDevice): ReaderEntry | undefined {
    return this.#entryOf(device);
  }

  /** Calls `listener` with the new list after every change; returns the unsubscribe function. */
  onChange(listener: (entries: readonly ReaderEntry[]) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  // ---------------------------------------------------------------------------------------------------------------

  #entryOf(device: USBDevice): ReaderEntry | undefined {
    const rec = this.#records.get(device);
    return rec === undefined ? undefined : this.entries.find((e) => e.id === rec.id);
  }

  #changed(): void {
    this.#snapshot = undefined;
    const entries = this.entries;
    for (const l of [...this.#listeners]) {
      try {
        l(entries);
      } catch (e) {
        this.#log('error', `onChange listener threw: ${describe(e)}`);
      }
    }
  }

  async #consider(
    device: USBDevice,
    options: AddDeviceOptions,
    via: 'granted' | 'connect' | 'added',
  ): Promise<ReaderEntry | undefined> {
    const existing = this.#records.get(device);
    if (existing !== undefined) {
      // 'failed' is only set as an attempt ends, so a failed entry can be retried even before its promise settled.
      if (existing.state === 'failed') {
        this.#log('info', `${quoteUntrusted(existing.label)}: trying again (${via})`);
        this.#open(existing);
      } else {
        this.#log('debug', `${quoteUntrusted(existing.label)}: already ${existing.state}; ignoring the ${via} event`);
      }
      await existing.attempt;
      return this.#entryOf(device);
    }
    if (!looksLikeSmartCardReader(device)) {
      this.#log(
        'debug',
        `${deviceLabel(device)} (${hex4(device.vendorId)}:${hex4(device.productId)}) is not a smart card reader; ignored`,
      );
      return undefined;
    }
    const rec: DeviceRecord = {
      id: `usb-${this.#nextId++}`,
      device,
      label: options.label ?? deviceLabel(device),
      explicitLabel: options.label !== undefined,
      simulated: options.simulated === true,
      state: 'opening',
      reason: undefined,
      readerNames: [],
      readers: [],
      inDaemon: false,
      ending: undefined,
      attempt: undefined,
    };
    this.#records.set(device, rec);
    this.#open(rec);
    await rec.attempt;
    return this.#entryOf(device);
  }

  /** Starts an open attempt for `rec` (state 'opening'); `rec.attempt` settles when it is over and never rejects. */
  #open(rec: DeviceRecord): void {
    rec.state = 'opening';
    rec.reason = undefined;
    rec.readerNames = [];
    this.#changed();
    const attempt = this.#attemptOpen(rec)
      .catch((e: unknown) => this.#log('error', `${quoteUntrusted(rec.label)}: ${describe(e)}`))
      .finally(() => {
        if (rec.attempt === attempt) rec.attempt = undefined;
      });
    rec.attempt = attempt;
  }

  async #attemptOpen(rec: DeviceRecord): Promise<void> {
    const { device } = rec;
    let readers: CcidReader[];
    try {
      if (!hasSmartCardInterface(device) && !(await this.#isVendorClassReader(device))) {
        // A vendor-class gadget, not a CCID reader: drop it quietly.
        await closeQuietly(device, this.#log);
        if (rec.ending === undefined) {
          this.#log(
            'debug',
            `${quoteUntrusted(rec.label)}: its vendor-class interface is not CCID; not a smart card reader, ignored`,
          );
          this.#records.delete(device);
          this.#changed();
        }
        return;
      }
      readers = await CcidReader.openAll(device, this.#driver);
    } catch (e) {
      await closeQuietly(device, this.#log);
      if (rec.ending !== undefined) return;
      this.#fail(rec, e);
      return;
    }

    if (rec.ending !== undefined) {
      await this.#dispose(rec, readers, []);
      return;
    }
    rec.readers = readers;
    if (!rec.explicitLabel) rec.label = readers[0]!.friendlyName;

    // One daemon reader per interface, in interface order, as pcscd's hotplug adds them. A reader the daemon refuses
    // (its limit of 16) is closed; the others stay.
    const names: string[] = [];
    const added: CcidReader[] = [];
    let refusal: unknown;
    for (const reader of readers) {
      if (rec.ending !== undefined) break;
      try {
        names.push(...(await this.#readers.addReader(reader)));
        added.push(reader);
      } catch (e) {
        refusal ??= e;
        this.#log(
          'warn',
          `${quoteUntrusted(rec.label)}: the daemon refused interface ${reader.info.interfaceNumber}: ${describe(e)}`,
        );
        await reader
          .close()
          .catch((err: unknown) => this.#log('debug', `${quoteUntrusted(rec.label)}: close: ${describe(err)}`));
      }
    }

    if (rec.ending !== undefined) {
      // Unplugged or removed while the daemon was adding them: the ending already marked them removed if unplugged.
      rec.readers = [];
      await this.#dispose(rec, readers, added);
      return;
    }
    if (added.length === 0) {
      rec.readers = [];
      await closeQuietly(device, this.#log);
      this.#fail(rec, refusal);
      return;
    }
    rec.readers = added;
    rec.inDaemon = true;
    rec.state = 'ready';
    rec.readerNames = [...names];
    this.#log('info', `${quoteUntrusted(rec.label)}: ready as ${names.map((n) => quoteUntrusted(n)).join(', ')}`);
    this.#changed();
  }

  /** A vendor-class-only device: read its configuration descriptor to see whether it carries a CCID interface. */
  async #isVendorClassReader(device: USBDevice): Promise<boolean> {
    if (!device.opened) await device.open();
    const scan = await discoverCcidInterfaces(device);
    return scan.readers.length > 0 || scan.rejected.length > 0;
  }

  #fail(rec: DeviceRecord, e: unknown): void {
    const failure = describeOpenFailure(e, { firmwareRefused: this.#refusesFirmware(rec.device) });
    rec.readers = [];
    rec.inDaemon = false;
    rec.readerNames = [];
    if (failure.state === 'gone') {
      // The device vanished during the attempt; its disconnect event removes the entry. Until then (or if it never
      // comes, as when a NotFoundError meant something else), show it as failed rather than lose it silently.
      rec.state = 'failed';
    } else {
      rec.state = failure.state;
    }
    rec.reason = failure.reason;
    const level: UsbLogLevel = failure.state === 'blocked' || failure.state === 'unsupported' ? 'warn' : 'error';
    this.#log(level, `${quoteUntrusted(rec.label)}: ${rec.state}: ${describe(e)}`);
    this.#changed();
  }

  #refusesFirmware(device: USBDevice): boolean {
    const bcdDevice =
      (device.deviceVersionMajor << 8) | (device.deviceVersionMinor << 4) | device.deviceVersionSubminor;
    return (
      firmwareRefusal(device.vendorId, device.productId, bcdDevice, {
        allowBogusFirmware: this.#driver.allowBogusFirmware === true,
      }) !== undefined
    );
  }

  /** Undoes opened readers after their device ended: out of the daemon (those added), then closed or marked removed. */
  async #dispose(rec: DeviceRecord, readers: readonly CcidReader[], inDaemon: readonly CcidReader[]): Promise<void> {
    if (rec.ending === 'unplugged') for (const r of readers) r.markRemoved();
    for (const reader of inDaemon) {
      await this.#readers
        .removeReader(reader)
        .catch((e: unknown) => this.#log('warn', `${quoteUntrusted(rec.label)}: removeReader: ${describe(e)}`));
    }
    if (rec.ending !== 'unplugged') {
      for (const reader of readers) {
        await reader
          .close()
          .catch((e: unknown) => this.#log('debug', `${quoteUntrusted(rec.label)}: close: ${describe(e)}`));
      }
    }
    await closeQuietly(rec.device, this.#log);
  }

  /** The device was unplugged or is being removed: the entry goes at once, the readers are undone. */
  async #end(device: USBDevice, ending: Ending): Promise<void> {
    const rec = this.#records.get(device);
    if (rec === undefined) return;
    this.#records.delete(device);
    rec.ending = ending;
    this.#log('info', `${quoteUntrusted(rec.label)}: ${ending === 'unplugged' ? 'unplugged' : 'removed'}`);
    // Pending and later calls on the readers fail at once (IFD_NO_SUCH_DEVICE) rather than time out.
    if (ending === 'unplugged') for (const r of rec.readers) r.markRemoved();
    this.#changed();
    const readers = rec.readers;
    if (readers.length > 0 && rec.inDaemon) {
      rec.readers = [];
      rec.inDaemon = false;
      await this.#dispose(rec, readers, readers);
    } else if (rec.attempt !== undefined) {
      // The attempt sees `ending` and undoes its own work.
      await rec.attempt;
    } else if (ending === 'removed') {
      await closeQuietly(device, this.#log);
    }
  }
}

function toEntry(rec: DeviceRecord): ReaderEntry {
  const entry: {
    -readonly [K in keyof ReaderEntry]: ReaderEntry[K];
  } = {
    id: rec.id,
    label: rec.label,
    vendorId: rec.device.vendorId,
    productId: rec.device.productId,
    simulated: rec.simulated,
    state: rec.state,
    readerNames: Object.freeze([...rec.readerNames]),
  };
  const serial = rec.device.serialNumber;
  if (typeof serial === 'string' && serial !== '') entry.serialNumber = serial;
  if (rec.reason !== undefined) entry.reason = rec.reason;
  return Object.freeze(entry);
}
