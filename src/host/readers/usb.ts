/**
 * Real USB readers for the Node host: node-usb's WebUSB (`usb` 3.x) under the same device manager and CCID driver
 * the connector uses in the browser (src/usb/device-manager.ts): class 0x0B and vendor-class CCID interfaces, hot-plug
 * from attach/detach events (no polling).
 *
 * node-usb is not quite WebUSB, and this module smooths the differences over:
 * - Its transfers time out (1000 ms by default) where WebUSB's never do; the CCID transport keeps one bulk-IN and one
 *   interrupt-IN read outstanding for as long as it waits (CCID 1.1 §6.2.2 time extensions can last minutes), so IN
 *   transfers are re-issued after each of our (long) timeouts until the device closes.
 * - It reports a STALL as a rejection ("Stall") and an unplug as "Disconnected"; they become WebUSB's 'stall' status
 *   and NotFoundError.
 * - It hands out a new device object per `getDevices()` call; devices are matched by node-usb's `handle` so that a
 *   'disconnect' event finds the reader it concerns.
 * - Without /sys/bus/usb/devices (a container or VM without USB) its `getDevices()` rejects and a 'connect' listener
 *   kills the process through an unhandled rejection: the bus is checked first and "no USB bus" reported in words.
 * - The operating system or another program may hold a reader (pcscd with libccid on Linux, the system CCID driver on
 *   macOS and Windows): the claim fails with "busy" or "access denied", and the log says what to do.
 */
import { existsSync } from 'node:fs';
import {
  UsbDeviceManager,
  type ReaderEntry,
  type UsbConnectionListener,
  type UsbLike,
} from '../../usb/device-manager.js';
import type { HostLog, ReaderSink, ReaderSource } from './types.js';
import { hexNumber } from '../../util/hex.js';

/** Where Linux lists USB devices; node-usb (libusb/nusb) needs it. */
export const LINUX_USB_SYSFS = '/sys/bus/usb/devices';

/**
 * How long one node-usb transfer may take before it is re-issued (IN) or reported (OUT, control). Long enough that a
 * healthy reader never hits it, short enough that a closed device's outstanding read ends soon: node-usb 3.1 does not
 * cancel a transfer when the interface is released or the device closed, it runs until this timeout (and keeps the
 * interface claimed, and Node's event loop alive, until then).
 */
export const NODE_USB_TRANSFER_TIMEOUT_MS = 5000;

/** The part of node-usb's `WebUSB` this module uses (its events carry `device`). */
export interface NodeUsbLike {
  getDevices(): Promise<USBDevice[]>;
  addEventListener(type: 'connect' | 'disconnect', listener: (event: { device: USBDevice }) => void): void;
  removeEventListener(type: 'connect' | 'disconnect', listener: (event: { device: USBDevice }) => void): void;
}

/** A node-usb device: WebUSB's methods with node-usb's extra timeout argument, and its stable `handle`. */
type NodeUsbDevice = USBDevice & {
  readonly handle?: string;
  readonly bus?: string;
  readonly address?: number;
  transferIn(endpointNumber: number, length: number, timeout?: number): Promise<USBInTransferResult>;
  transferOut(endpointNumber: number, data: BufferSource, timeout?: number): Promise<USBOutTransferResult>;
  controlTransferIn(
    setup: USBControlTransferParameters,
    length: number,
    timeout?: number,
  ): Promise<USBInTransferResult>;
  controlTransferOut(
    setup: USBControlTransferParameters,
    data?: BufferSource,
    timeout?: number,
  ): Promise<USBOutTransferResult>;
};

export interface UsbBusStatus {
  available: boolean;
  /** Why not, in words. */
  reason?: string;
}

/** Whether there is a USB bus node-usb can use. Only Linux is checked (its sysfs tree); others are assumed to. */
export function usbBusStatus(
  exists: (path: string) => boolean = existsSync,
  platform: string = process.platform,
): UsbBusStatus {
  if (platform !== 'linux' || exists(LINUX_USB_SYSFS)) return { available: true };
  return {
    available: false,
    reason:
      `no USB bus: ${LINUX_USB_SYSFS} does not exist (a container or virtual machine without USB access?); ` +
      'USB readers are off',
  };
}

/** Why a device could not be used, as the host tells the user. */
export type HostUsbFailure = { kind: 'busy' | 'access'; detail: string };

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function named(name: string, message: string, cause?: unknown): Error {
  const e = new Error(message, cause === undefined ? undefined : { cause });
  e.name = name;
  return e;
}

const BUSY = /busy|EBUSY|os error 16\b|LIBUSB_ERROR_BUSY/i;
const ACCESS = /permission denied|access denied|EACCES|EPERM|os error 13\b|LIBUSB_ERROR_ACCESS/i;
const GONE = /disconnected|no such device|NO_DEVICE|ENODEV|os error 19\b/i;
const TIMEOUT = /cancelled|timed out|TIMED_OUT|timeout/i;
const STALL = /\bstall|PIPE/i;

/** Classifies an open/claim failure as the host reports it, or undefined for other failures. */
export function classifyUsbFailure(e: unknown): HostUsbFailure | undefined {
  const m = messageOf(e);
  if (BUSY.test(m)) return { kind: 'busy', detail: m };
  if (ACCESS.test(m)) return { kind: 'access', detail: m };
  return undefined;
}

/**
 * A node-usb device made to behave like a WebUSB one (see the module comment). Devices are the same object for as long
 * as node-usb's handle lives, as WebUSB promises.
 */
export class NodeUsbDeviceAdapter implements USBDevice {
  #raw: NodeUsbDevice;
  /** Closed by us: an outstanding IN transfer stops being re-issued. */
  #closed = false;
  #gone = false;
  #configuration: USBConfiguration | null | undefined;
  #configurations: USBConfiguration[] | undefined;
  /** Set when opening or claiming failed because of the OS or another program. */
  failure: HostUsbFailure | undefined;
  /** Set when the descriptors could not be read without opening (permission denied on Linux, typically). */
  inspectError: string | undefined;

  constructor(
    raw: USBDevice,
    readonly timeoutMs = NODE_USB_TRANSFER_TIMEOUT_MS,
  ) {
    this.#raw = raw;
  }

  /** node-usb's location, "bus B address A", for messages. */
  get location(): string {
    const { bus, address } = this.#raw;
    return bus !== undefined && address !== undefined ? `bus ${bus} address ${address}` : 'unknown location';
  }

  /** The device was unplugged: later transfers fail with NotFoundError at once. */
  markGone(): void {
    this.#gone = true;
  }

  get usbVersionMajor() {
    return this.#raw.usbVersionMajor;
  }
  get usbVersionMinor() {
    return this.#raw.usbVersionMinor;
  }
  get usbVersionSubminor() {
    return this.#raw.usbVersionSubminor;
  }
  get deviceClass() {
    return this.#raw.deviceClass;
  }
  get deviceSubclass() {
    return this.#raw.deviceSubclass;
  }
  get deviceProtocol() {
    return this.#raw.deviceProtocol;
  }
  get vendorId() {
    return this.#raw.vendorId;
  }
  get productId() {
    return this.#raw.productId;
  }
  get deviceVersionMajor() {
    return this.#raw.deviceVersionMajor;
  }
  get deviceVersionMinor() {
    return this.#raw.deviceVersionMinor;
  }
  get deviceVersionSubminor() {
    return this.#raw.deviceVersionSubminor;
  }
  get manufacturerName() {
    return this.#string(() => this.#raw.manufacturerName);
  }
  get productName() {
    return this.#string(() => this.#raw.productName);
  }
  get serialNumber() {
    return this.#string(() => this.#raw.serialNumber);
  }
  get opened() {
    return this.#raw.opened;
  }

  /**
   * node-usb reads the descriptors (and every string they name) from the device on each access, opening it if
   * needed: read them once, and say why when that fails instead of throwing from a getter.
   */
  get configuration(): USBConfiguration | null {
    if (this.#configuration === undefined) {
      try {
        this.#configuration = this.#raw.configuration ?? null;
      } catch (e) {
        this.inspectError = messageOf(e);
        return null;
      }
    }
    return this.#configuration;
  }

  get configurations(): USBConfiguration[] {
    if (this.#configurations === undefined) {
      try {
        this.#configurations = [...(this.#raw.configurations ?? [])];
      } catch (e) {
        this.inspectError = messageOf(e);
        return [];
      }
    }
    return this.#configurations;
  }

  #string(read: () => string | null | undefined): string | null {
    try {
      return read() ?? null;
    } catch {
      return null;
    }
  }

  async open(): Promise<void> {
    this.failure = undefined;
    try {
      await this.#raw.open();
      this.#closed = false;
    } catch (e) {
      this.failure = classifyUsbFailure(e);
      throw this.#error(e, 'open');
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#raw.close();
  }

  async forget(): Promise<void> {
    this.#closed = true;
    await this.#raw.forget();
  }

  async selectConfiguration(configurationValue: number): Promise<void> {
    this.#configuration = undefined;
    try {
      await this.#raw.selectConfiguration(configurationValue);
    } catch (e) {
      throw this.#error(e, 'selectConfiguration');
    }
  }

  async claimInterface(interfaceNumber: number): Promise<void> {
    try {
      await this.#raw.claimInterface(interfaceNumber);
    } catch (e) {
      this.failure = classifyUsbFailure(e);
      throw this.#error(e, 'claimInterface');
    }
  }

  async releaseInterface(interfaceNumber: number): Promise<void> {
    await this.#raw.releaseInterface(interfaceNumber);
  }

  async selectAlternateInterface(interfaceNumber: number, alternateSetting: number): Promise<void> {
    try {
      await this.#raw.selectAlternateInterface(interfaceNumber, alternateSetting);
    } catch (e) {
      throw this.#error(e, 'selectAlternateInterface');
    }
  }

  async controlTransferIn(setup: USBControlTransferParameters, length: number): Promise<USBInTransferResult> {
    this.#checkGone();
    try {
      return await this.#raw.controlTransferIn(setup, length, this.timeoutMs);
    } catch (e) {
      if (STALL.test(messageOf(e))) return { status: 'stall' };
      throw this.#error(e, 'controlTransferIn');
    }
  }

  async controlTransferOut(setup: USBControlTransferParameters, data?: BufferSource): Promise<USBOutTransferResult> {
    this.#checkGone();
    try {
      return await this.#raw.controlTransferOut(setup, data ?? new Uint8Array(0), this.timeoutMs);
    } catch (e) {
      if (STALL.test(messageOf(e))) return { status: 'stall', bytesWritten: 0 };
      throw this.#error(e, 'controlTransferOut');
    }
  }

  async clearHalt(direction: USBDirection, endpointNumber: number): Promise<void> {
    this.#checkGone();
    try {
      await this.#raw.clearHalt(direction, endpointNumber);
    } catch (e) {
      throw this.#error(e, 'clearHalt');
    }
  }

  /**
   * WebUSB's transferIn waits as long as it takes; node-usb's gives up after its timeout. Re-issue it until data, a
   * stall, an error or the device's closing ends it.
   */
  async transferIn(endpointNumber: number, length: number): Promise<USBInTransferResult> {
    for (;;) {
      this.#checkGone();
      if (this.#closed) throw named('InvalidStateError', 'transferIn: the device is closed');
      try {
        return await this.#raw.transferIn(endpointNumber, length, this.timeoutMs);
      } catch (e) {
        const m = messageOf(e);
        if (STALL.test(m)) return { status: 'stall' };
        if (this.#closed && !this.#gone)
          throw named('InvalidStateError', `transferIn: the device was closed (${m})`, e);
        if (TIMEOUT.test(m) && !GONE.test(m) && !this.#gone) continue;
        throw this.#error(e, 'transferIn');
      }
    }
  }

  async transferOut(endpointNumber: number, data: BufferSource): Promise<USBOutTransferResult> {
    this.#checkGone();
    try {
      return await this.#raw.transferOut(endpointNumber, data, this.timeoutMs);
    } catch (e) {
      if (STALL.test(messageOf(e))) return { status: 'stall', bytesWritten: 0 };
      throw this.#error(e, 'transferOut');
    }
  }

  async isochronousTransferIn(): Promise<USBIsochronousInTransferResult> {
    throw named('NotSupportedError', 'isochronous transfers are not used by CCID readers');
  }

  async isochronousTransferOut(): Promise<USBIsochronousOutTransferResult> {
    throw named('NotSupportedError', 'isochronous transfers are not used by CCID readers');
  }

  async reset(): Promise<void> {
    try {
      await this.#raw.reset();
    } catch (e) {
      throw this.#error(e, 'reset');
    }
  }

  #checkGone(): void {
    if (this.#gone) throw named('NotFoundError', 'the USB device was disconnected');
  }

  /** node-usb's error as the WebUSB DOMException name the driver and the device manager understand. */
  #error(e: unknown, what: string): Error {
    const m = messageOf(e);
    if (this.#gone || GONE.test(m) || (e instanceof Error && e.name === 'NotFoundError'))
      return named('NotFoundError', `${what}: the USB device was disconnected (${m})`, e);
    // Not SecurityError: in the device manager that means Chrome's protected-class refusal, which it explains as such.
    this.failure ??= classifyUsbFailure(e);
    if (BUSY.test(m)) return named('NetworkError', `${what}: the USB device is busy (${m})`, e);
    if (ACCESS.test(m)) return named('NetworkError', `${what}: access to the USB device was denied (${m})`, e);
    return named('NetworkError', `${what}: ${m}`, e);
  }
}

/**
 * node-usb's `WebUSB` as the device manager's `UsbLike`: one adapter per node-usb handle, 'connect'/'disconnect'
 * events carrying the adapters.
 */
export class NodeUsbAdapter implements UsbLike {
  readonly #usb: NodeUsbLike;
  readonly #timeoutMs: number;
  readonly #devices = new Map<unknown, NodeUsbDeviceAdapter>();
  readonly #listeners = { connect: new Set<UsbConnectionListener>(), disconnect: new Set<UsbConnectionListener>() };
  readonly #raw = {
    connect: (event: { device: USBDevice }) => {
      const device = this.#wrap(event.device);
      for (const l of [...this.#listeners.connect]) l({ device });
    },
    disconnect: (event: { device: USBDevice }) => {
      const key = keyOf(event.device);
      const device = this.#devices.get(key);
      if (device === undefined) return;
      this.#devices.delete(key);
      device.markGone();
      for (const l of [...this.#listeners.disconnect]) l({ device });
    },
  };

  constructor(usb: NodeUsbLike, timeoutMs = NODE_USB_TRANSFER_TIMEOUT_MS) {
    this.#usb = usb;
    this.#timeoutMs = timeoutMs;
  }

  /** Every adapter handed out and not yet disconnected. */
  get devices(): readonly NodeUsbDeviceAdapter[] {
    return [...this.#devices.values()];
  }

  async getDevices(): Promise<USBDevice[]> {
    return (await this.#usb.getDevices()).map((d) => this.#wrap(d));
  }

  addEventListener(type: 'connect' | 'disconnect', listener: UsbConnectionListener): void {
    const set = this.#listeners[type];
    if (set.size === 0) this.#usb.addEventListener(type, this.#raw[type]);
    set.add(listener);
  }

  removeEventListener(type: 'connect' | 'disconnect', listener: UsbConnectionListener): void {
    const set = this.#listeners[type];
    if (!set.delete(listener)) return;
    if (set.size === 0) this.#usb.removeEventListener(type, this.#raw[type]);
  }

  #wrap(raw: USBDevice): NodeUsbDeviceAdapter {
    const key = keyOf(raw);
    let device = this.#devices.get(key);
    if (device === undefined) {
      device = new NodeUsbDeviceAdapter(raw, this.#timeoutMs);
      this.#devices.set(key, device);
    }
    return device;
  }
}

function keyOf(raw: USBDevice): unknown {
  const handle = (raw as { handle?: unknown }).handle;
  return typeof handle === 'string' && handle !== '' ? handle : raw;
}

const hex4 = (n: number) => hexNumber(n, 4);

/** What the host says about a reader it cannot use. */
export function explainFailure(entry: ReaderEntry, device: NodeUsbDeviceAdapter | undefined): string {
  const ids = `${hex4(entry.vendorId)}:${hex4(entry.productId)}`;
  const who = `USB reader "${entry.label}" (${ids}, ${device?.location ?? 'unknown location'})`;
  if (device?.failure?.kind === 'busy') {
    return (
      `${who} is in use by another program or driver (${device.failure.detail}). On Linux this is usually pcscd ` +
      'with libccid: stop it (sudo systemctl stop pcscd.socket pcscd) or run this host in its place; on macOS and ' +
      "Windows, the system's smart card service. Then unplug the reader and plug it in again, or restart " +
      'smart-card-host.'
    );
  }
  if (device?.failure?.kind === 'access') {
    return (
      `${who}: no permission to open it (${device.failure.detail}). Run smart-card-host as root, or give your user ` +
      'access to the device with a udev rule (see docs/host.md), then plug the reader in again.'
    );
  }
  return `${who} cannot be used: ${entry.reason ?? entry.state}`;
}

export interface UsbSourceOptions {
  /** node-usb's WebUSB, or a stand-in (tests). Default: the `usb` package's `new WebUSB({ allowAllDevices: true })`. */
  usb?: NodeUsbLike;
  /** Whether a USB bus exists (default: `usbBusStatus()`); tests inject the no-bus case. */
  busStatus?: UsbBusStatus;
  /** Transfer timeout handed to node-usb (default 5000 ms). */
  transferTimeoutMs?: number;
  log?: HostLog;
}

export interface UsbSource extends ReaderSource {
  readonly kind: 'usb';
  /** False when there is no USB bus or node-usb could not load; `reason` says why. */
  readonly active: boolean;
  readonly reason?: string;
  /** The readers list (empty when inactive). */
  readonly entries: readonly ReaderEntry[];
  /** Calls `listener` after each change of the readers list. */
  onChange(listener: (entries: readonly ReaderEntry[]) => void): () => void;
}

function inactive(reason: string): UsbSource {
  return { kind: 'usb', active: false, reason, entries: [], onChange: () => () => {}, stop: async () => {} };
}

/** The manager's messages that the host reports in its own words, or that the daemon already logs. */
const MANAGER_ECHO = /: (failed|blocked|unsupported): |: ready as |: unplugged$|: removed$|: trying again/;

/**
 * Starts the USB reader source: every CCID reader present now, and every one plugged in later, is opened and added to
 * `sink`. Never rejects for a missing bus or a reader it cannot use: those are logged in words and the others served.
 */
export async function startUsbReaders(sink: ReaderSink, options: UsbSourceOptions = {}): Promise<UsbSource> {
  const log = options.log ?? (() => {});
  const bus = options.busStatus ?? (options.usb !== undefined ? { available: true } : usbBusStatus());
  if (!bus.available) {
    const reason = bus.reason ?? 'no USB bus';
    log('warn', reason);
    return inactive(reason);
  }
  let raw = options.usb;
  if (raw === undefined) {
    try {
      const mod = await import('usb');
      raw = new mod.WebUSB({ allowAllDevices: true });
    } catch (e) {
      const reason = `USB readers are off: node-usb (the "usb" package) could not load: ${messageOf(e)}`;
      log('error', reason);
      return inactive(reason);
    }
  }
  const usb = new NodeUsbAdapter(raw, options.transferTimeoutMs);
  const manager = new UsbDeviceManager(usb, sink, {
    log: (level, message) => log(level === 'info' || MANAGER_ECHO.test(message) ? 'debug' : level, message),
  });
  const reported = new Set<string>();
  const unsubscribe = manager.onChange((entries) => {
    for (const entry of entries) {
      if (entry.state === 'opening' || entry.state === 'ready') {
        reported.delete(entry.id);
        continue;
      }
      if (reported.has(entry.id)) continue;
      reported.add(entry.id);
      const device = usb.devices.find((d) => manager.entryFor(d)?.id === entry.id);
      log(entry.state === 'failed' ? 'error' : 'warn', explainFailure(entry, device));
    }
  });
  try {
    await manager.start();
  } catch (e) {
    unsubscribe();
    await manager.stop().catch(() => {});
    const reason = `USB readers are off: ${messageOf(e)}`;
    log('error', reason);
    return inactive(reason);
  }
  const unreadable = usb.devices.filter((d) => d.inspectError !== undefined && manager.entryFor(d) === undefined);
  if (unreadable.length > 0) {
    log(
      'warn',
      `${unreadable.length} USB device${unreadable.length === 1 ? '' : 's'} could not be inspected ` +
        `(${unreadable[0]!.inspectError}); if a reader is among them, run as root or allow your user to use it ` +
        '(udev rule, see docs/host.md)',
    );
  }
  return {
    kind: 'usb',
    active: true,
    get entries() {
      return manager.entries;
    },
    onChange: (listener) => manager.onChange(listener),
    stop: async () => {
      unsubscribe();
      await manager.stop();
    },
  };
}
