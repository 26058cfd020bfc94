import { getDataRates } from './class-requests.js';
import {
  CCID_CLASS_AUTO_IFSD,
  CCID_CLASS_EXCHANGE_MASK,
  CCID_CLASS_TPDU,
  CCID_CLASS_SHORT_APDU,
  CCID_CLASS_EXTENDED_APDU,
  CCID_CLASS_CHARACTER,
} from './constants.js';
import { exchangeLevel, type CcidInterfaceScan } from './descriptor.js';
import { discoverCcidInterfaces } from './descriptor-io.js';
import { DriverError, IFD, isDriverError, readerRemoved } from '../ifd/errors.js';
import type { IfdReader } from '../ifd/ifd.js';
import { firmwareRefusal, readerQuirks, type ReaderQuirks } from './known-readers.js';
import { friendlyName } from './reader-name.js';
import { CcidReaderSlot } from './reader-slot.js';
import { CcidTransport } from './transport.js';
import type { CcidClassDescriptor, CcidInterfaceInfo, ExchangeLevel } from './types.js';
import { classifyUsbError, type UsbErrorClassifier } from './usb-failure.js';

export type DriverLog = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;

export interface CcidReaderOptions {
  /** libccid `--enable-zlp`: drain the bogus zero-length packets of the Gemalto IDBridge K30/CT30 (off by default). */
  enableZlp?: boolean;
  /** Allow PC_to_RDR_Escape through SCardControl (libccid DRIVER_OPTION_CCID_EXCHANGE_AUTHORIZED; off by default). */
  allowEscape?: boolean;
  /** Use a reader whose firmware libccid refuses as buggy. */
  allowBogusFirmware?: boolean;
  /**
   * Which CCID interface `open` uses (bInterfaceNumber); default the first usable one. `openAll` opens every one, as
   * pcscd with libccid makes one reader per CCID interface of a composite device.
   */
  interfaceNumber?: number;
  /** Multiplies every timeout (tests use a small value so that faults resolve quickly). */
  timeoutScale?: number;
  /** GetSlotStatus polling period for readers without an interrupt endpoint (ms). */
  pollIntervalMs?: number;
  /**
   * Recognises the USB stack's rejections (gone, timed out, refused); the default knows WebUSB's DOMException names
   * and node-usb's libusb codes. A host whose USB stack rejects otherwise passes its own (see usb-failure.ts).
   */
  usbErrors?: UsbErrorClassifier;
  log?: DriverLog;
}

const LEVEL_BITS: Record<ExchangeLevel, number> = {
  character: CCID_CLASS_CHARACTER,
  tpdu: CCID_CLASS_TPDU,
  'short-apdu': CCID_CLASS_SHORT_APDU,
  'extended-apdu': CCID_CLASS_EXTENDED_APDU,
};

/**
 * The descriptor as the driver uses it: the reader's own, with the known-readers table's corrections applied (libccid
 * patches `_ccid_descriptor` in `ccid_open_hack_pre` the same way).
 */
export function effectiveDescriptor(d: CcidClassDescriptor, quirks: ReaderQuirks): CcidClassDescriptor {
  const out = { ...d };
  if (quirks.exchangeLevel !== undefined) {
    out.dwFeatures = (out.dwFeatures & ~CCID_CLASS_EXCHANGE_MASK) | LEVEL_BITS[quirks.exchangeLevel];
  }
  if (quirks.maxIfsd !== undefined) out.dwMaxIFSD = quirks.maxIfsd;
  if (quirks.maxDataRate !== undefined) out.dwMaxDataRate = Math.min(out.dwMaxDataRate, quirks.maxDataRate);
  if (quirks.pinSupport !== undefined) out.bPINSupport = quirks.pinSupport;
  if (quirks.autoIfsd === true) out.dwFeatures |= CCID_CLASS_AUTO_IFSD;
  return out;
}

/**
 * The descriptor an ICCD token is driven by (iccd.ts). Version A tokens take a whole short APDU in their XFR_BLOCK
 * sequence and run T=0's procedure bytes themselves, whatever level they report (real ones say character level);
 * version B tokens chain like CCID's extended level, which libccid switches them to when they report short APDU.
 * The chip is the token's own: there is no PPS or SetParameters to do (dwFeatures 0x40, which real ones report).
 */
export function iccdDescriptor(d: CcidClassDescriptor, iccd: 'A' | 'B' | undefined): CcidClassDescriptor {
  if (iccd === undefined) return d;
  const level = iccd === 'A' ? CCID_CLASS_SHORT_APDU : CCID_CLASS_EXTENDED_APDU;
  return { ...d, dwFeatures: (d.dwFeatures & ~CCID_CLASS_EXCHANGE_MASK) | level | 0x40 };
}

/**
 * A CCID reader: one claimed CCID interface of a USB device, its transport and its slots. This is what pcsc-lite's
 * reader factory gets from libccid's IFDHCreateChannel: a friendly name and one IFD handler per slot.
 */
export class CcidReader implements IfdReader {
  readonly slots: readonly CcidReaderSlot[];
  readonly #removedListeners = new Set<() => void>();
  #removed = false;

  private constructor(
    readonly device: USBDevice,
    readonly info: CcidInterfaceInfo,
    readonly descriptor: CcidClassDescriptor,
    readonly level: ExchangeLevel,
    readonly quirks: ReaderQuirks,
    readonly transport: CcidTransport,
    readonly friendlyName: string,
    readonly interfaceName: string | undefined,
    readonly serialNumber: string | undefined,
    readonly dataRates: number[] | undefined,
    options: CcidReaderOptions,
    log: DriverLog,
  ) {
    const slots: CcidReaderSlot[] = [];
    for (let i = 0; i <= descriptor.bMaxSlotIndex; i++) {
      slots.push(
        new CcidReaderSlot(i, transport, {
          descriptor,
          level,
          dataRates,
          log,
          readerGone: () =>
            transport.state === 'open'
              ? undefined
              : readerRemoved(
                  transport.state === 'closed'
                    ? 'the reader was closed by the driver'
                    : 'the reader was removed: plug it in again to use it',
                ),
          quirks,
          vendorId: device.vendorId,
          productId: device.productId,
          bcdDevice: (device.deviceVersionMajor << 8) | (device.deviceVersionMinor << 4) | device.deviceVersionSubminor,
          vendorName: device.manufacturerName ?? '',
          serialNumber: device.serialNumber ?? undefined,
          allowEscape: options.allowEscape === true || quirks.escapeAlwaysAllowed === true,
        }),
      );
    }
    this.slots = slots;
    transport.onSlotChange((slot, present) => this.slots[slot]?.cardEvent(present));
    // A transfer that finds the device gone ends the reader as a USB `disconnect` event would.
    transport.onRemoved(() => this.markRemoved());
    // The device may have gone between the transport's opening and now (its removal listeners then already ran).
    if (transport.state === 'removed') this.markRemoved();
  }

  /**
   * Opens one CCID interface of `device` (libccid `OpenUSBByName` + `IFDHCreateChannel`): the first usable one, or
   * `options.interfaceNumber`. Reads the configuration descriptor, finds the CCID class descriptor, applies the
   * known-readers quirks, claims the interface, resynchronises, and asks for the data-rate table when the reader has
   * one.
   */
  static async open(device: USBDevice, options: CcidReaderOptions = {}): Promise<CcidReader> {
    const scan = await CcidReader.#scan(device, options);
    const wanted = options.interfaceNumber;
    const info = wanted === undefined ? scan.readers[0] : scan.readers.find((r) => r.interfaceNumber === wanted);
    if (info === undefined) throw noUsableInterface(scan, wanted);
    return CcidReader.#openInterface(device, info, options);
  }

  /**
   * Opens every usable CCID interface of `device`, each as its own reader, in interface order: pcscd's hotplug
   * (`hotplug_libudev.c`) adds one reader per CCID interface and libccid opens the interface it is given, so a dual
   * reader or a smart card keyboard's extra functions show as separate readers told apart by their iInterface.
   * An interface that fails to open is left out (logged) as pcscd leaves out a reader whose IFDHCreateChannel fails;
   * when none opens, the first failure is thrown.
   */
  static async openAll(device: USBDevice, options: CcidReaderOptions = {}): Promise<CcidReader[]> {
    const scan = await CcidReader.#scan(device, options);
    if (scan.readers.length === 0) throw noUsableInterface(scan, undefined);
    const log: DriverLog = options.log ?? (() => {});
    for (const r of scan.rejected) log('warn', `interface ${r.interfaceNumber} left out: ${r.reason}`);
    const readers: CcidReader[] = [];
    const failures: { interfaceNumber: number; error: unknown }[] = [];
    for (const info of scan.readers) {
      try {
        readers.push(await CcidReader.#openInterface(device, info, options));
      } catch (e) {
        failures.push({ interfaceNumber: info.interfaceNumber, error: e });
        if (isDriverError(e, IFD.NO_SUCH_DEVICE)) break;
      }
    }
    // When nothing opened, the caller reports the failure once; a partial open is worth a warning per interface.
    if (readers.length === 0) throw failures[0]!.error;
    for (const f of failures) {
      log('warn', `interface ${f.interfaceNumber} could not be opened: ${(f.error as Error).message}`);
    }
    return readers;
  }

  static async #scan(device: USBDevice, options: CcidReaderOptions): Promise<CcidInterfaceScan> {
    if (!device.opened) {
      try {
        await device.open();
      } catch (e) {
        throw asOpenError(e, 'open the USB device', options.usbErrors ?? classifyUsbError);
      }
    }
    return discoverCcidInterfaces(device, options.usbErrors ?? classifyUsbError);
  }

  static async #openInterface(
    device: USBDevice,
    info: CcidInterfaceInfo,
    options: CcidReaderOptions,
  ): Promise<CcidReader> {
    const log: DriverLog = options.log ?? (() => {});
    const vid = device.vendorId;
    const pid = device.productId;
    const bcdDevice =
      (device.deviceVersionMajor << 8) | (device.deviceVersionMinor << 4) | device.deviceVersionSubminor;
    const refusal = firmwareRefusal(vid, pid, bcdDevice, { allowBogusFirmware: options.allowBogusFirmware === true });
    if (refusal !== undefined) throw refusal;
    const quirks = readerQuirks(vid, pid, {
      enableZlp: options.enableZlp === true,
      bcdDevice,
      reportedExchangeLevel: exchangeLevel(info.descriptor),
    });
    const descriptor = iccdDescriptor(effectiveDescriptor(info.descriptor, quirks), info.iccd);
    const level = exchangeLevel(descriptor);
    const transportOptions: Parameters<typeof CcidTransport.open>[2] = { zlpDrain: quirks.zlp, log };
    if (options.timeoutScale !== undefined) transportOptions.timeoutScale = options.timeoutScale;
    if (options.pollIntervalMs !== undefined) transportOptions.pollIntervalMs = options.pollIntervalMs;
    if (options.usbErrors !== undefined) transportOptions.usbErrors = options.usbErrors;
    const transport = await CcidTransport.open(device, { ...info, descriptor }, transportOptions);
    let dataRates: number[] | undefined;
    if (descriptor.bNumDataRatesSupported > 0) {
      // GET_DATA_RATES (CCID 1.1 §5.3.3); libccid treats a failure as "no table".
      try {
        const rates = await getDataRates(transport);
        if (rates.length > 0) dataRates = rates;
      } catch (e) {
        log('warn', `GET_DATA_RATES failed (${(e as Error).message}); assuming no data rate table`);
      }
    }
    const nameParts: Parameters<typeof friendlyName>[0] = { vendorId: vid, productId: pid };
    if (device.manufacturerName) nameParts.manufacturer = device.manufacturerName;
    if (device.productName) nameParts.product = device.productName;
    const name = friendlyName(nameParts);
    const alternate = device.configuration?.interfaces.find(
      (i) => i.interfaceNumber === info.interfaceNumber,
    )?.alternate;
    const interfaceName = alternate?.interfaceName ?? undefined;
    return new CcidReader(
      device,
      info,
      descriptor,
      level,
      quirks,
      transport,
      name,
      interfaceName === null || interfaceName === '' ? undefined : interfaceName,
      device.serialNumber ?? undefined,
      dataRates,
      options,
      log,
    );
  }

  /** The USB stack told us the device is gone (navigator.usb `disconnect`): end everything at once. */
  markRemoved(): void {
    if (this.#removed) return;
    this.#removed = true;
    this.transport.markRemoved();
    const gone = readerRemoved('the reader was removed: plug it in again to use it');
    for (const slot of this.slots) slot.readerGone(gone);
    for (const l of [...this.#removedListeners]) l();
  }

  get removed(): boolean {
    return this.#removed;
  }

  onRemoved(listener: () => void): () => void {
    this.#removedListeners.add(listener);
    return () => this.#removedListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#removed) return;
    this.#removed = true;
    const gone = readerRemoved('the reader was closed by the driver');
    for (const slot of this.slots) slot.readerGone(gone);
    await this.transport.close();
    for (const l of [...this.#removedListeners]) l();
  }
}

/** No CCID interface to open: why each smart-card-looking interface was left out. */
function noUsableInterface(scan: CcidInterfaceScan, wanted: number | undefined): DriverError {
  if (wanted !== undefined) {
    const rejected = scan.rejected.find((r) => r.interfaceNumber === wanted);
    return new DriverError(
      IFD.NOT_SUPPORTED,
      rejected !== undefined
        ? `interface ${wanted} of this USB device cannot be used: ${rejected.reason}`
        : `this USB device has no CCID interface numbered ${wanted}`,
    );
  }
  const why = scan.rejected.map((r) => `interface ${r.interfaceNumber}: ${r.reason}`).join('; ');
  return new DriverError(
    IFD.NOT_SUPPORTED,
    why === ''
      ? 'this USB device has no CCID smart card reader interface'
      : `this USB device has no usable CCID interface (${why})`,
  );
}

/** WebUSB open/claim failures as driver errors. */
function asOpenError(e: unknown, what: string, classify: UsbErrorClassifier): DriverError {
  if (e instanceof DriverError) return e;
  if (classify(e) === 'gone') return readerRemoved(`the reader was removed while trying to ${what}`);
  return new DriverError(IFD.COMMUNICATION_ERROR, `could not ${what}: ${(e as Error)?.message ?? String(e)}`, {
    cause: e,
  });
}
