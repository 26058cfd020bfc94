/**
 * Reading a CCID reader's USB descriptors over WebUSB (USB 2.0 §9.4.3 GET_DESCRIPTOR): the whole configuration
 * descriptor, which WebUSB does not expose with its class-specific parts, and string descriptors. The bytes are
 * parsed by descriptor.ts, which does no I/O.
 */
import { USB_DT_CONFIGURATION, USB_DT_STRING, USB_REQ_GET_DESCRIPTOR } from './constants.js';
import {
  CONFIG_HEADER_LENGTH,
  parseConfigurationDescriptor,
  scanCcidInterfaces,
  type CcidInterfaceScan,
} from './descriptor.js';
import { DriverError, IFD } from '../ifd/errors.js';
import { classifyUsbError, describeUsbError, type UsbErrorClassifier } from './usb-failure.js';

function transferFailed(what: string, e: unknown, usbErrors: UsbErrorClassifier): DriverError {
  const detail = describeUsbError(e);
  if (usbErrors(e) === 'gone') {
    return new DriverError(IFD.NO_SUCH_DEVICE, `the reader was removed while reading its ${what} (${detail})`, {
      cause: e,
    });
  }
  return new DriverError(IFD.COMMUNICATION_ERROR, `could not read the reader's ${what}: ${detail}`, { cause: e });
}

function viewBytes(data: DataView | undefined): Uint8Array {
  return data ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(0);
}

async function getDescriptor(
  device: USBDevice,
  value: number,
  index: number,
  length: number,
  what: string,
  usbErrors: UsbErrorClassifier,
) {
  let result: USBInTransferResult;
  try {
    result = await device.controlTransferIn(
      { requestType: 'standard', recipient: 'device', request: USB_REQ_GET_DESCRIPTOR, value, index },
      length,
    );
  } catch (e) {
    throw transferFailed(what, e, usbErrors);
  }
  if (result.status !== 'ok') {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `the reader answered GET_DESCRIPTOR for its ${what} with '${result.status}'`,
    );
  }
  return viewBytes(result.data);
}

/**
 * Reads configuration descriptor `configIndex` (default the first) with all its interface, endpoint and class
 * descriptors: 9 bytes first for wTotalLength, then the whole of it (USB 2.0 §9.4.3). The device must be open.
 */
export async function readConfigurationDescriptor(
  device: USBDevice,
  configIndex = 0,
  usbErrors: UsbErrorClassifier = classifyUsbError,
): Promise<Uint8Array> {
  const value = (USB_DT_CONFIGURATION << 8) | (configIndex & 0xff);
  const head = await getDescriptor(device, value, 0, CONFIG_HEADER_LENGTH, 'configuration descriptor', usbErrors);
  if (head.length < CONFIG_HEADER_LENGTH || head[1] !== USB_DT_CONFIGURATION) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `the reader's configuration descriptor header is malformed (${head.length} bytes, type ${head[1] ?? 'missing'})`,
    );
  }
  const total = u16(head, 2);
  if (total < CONFIG_HEADER_LENGTH) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `the reader's configuration descriptor says wTotalLength ${total}, below 9`,
    );
  }
  const all = await getDescriptor(device, value, 0, total, 'configuration descriptor', usbErrors);
  if (all.length !== total) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `the reader returned ${all.length} bytes of configuration descriptor but wTotalLength is ${total}`,
    );
  }
  return all.slice();
}

/**
 * Reads string descriptor `index` as text (USB 2.0 §9.6.7). Without `langId`, string descriptor 0 (the LANGID
 * list) is read first and its first language used. Index 0 means "no string": returns ''.
 */
export async function readStringDescriptor(
  device: USBDevice,
  index: number,
  langId?: number,
  usbErrors: UsbErrorClassifier = classifyUsbError,
): Promise<string> {
  if (!Number.isInteger(index) || index < 0 || index > 255) {
    throw new DriverError(IFD.COMMUNICATION_ERROR, `string descriptor index ${index} is not a byte`);
  }
  if (index === 0) return '';
  let lang = langId;
  if (lang === undefined) {
    const what = 'language list (string descriptor 0)';
    const langs = await getDescriptor(device, USB_DT_STRING << 8, 0, 255, what, usbErrors);
    checkStringDescriptor(langs, what);
    if (langs[0]! < 4) {
      throw new DriverError(
        IFD.COMMUNICATION_ERROR,
        'the reader lists no language for its strings (string descriptor 0 is empty)',
      );
    }
    lang = u16(langs, 2);
  }
  const what = `string descriptor ${index}`;
  const bytes = await getDescriptor(device, (USB_DT_STRING << 8) | index, lang, 255, what, usbErrors);
  checkStringDescriptor(bytes, what);
  let text = '';
  for (let i = 2; i + 1 < bytes[0]!; i += 2) text += String.fromCharCode(u16(bytes, i));
  return text;
}

function checkStringDescriptor(bytes: Uint8Array, what: string): void {
  if (bytes.length < 2 || bytes[1] !== USB_DT_STRING) {
    throw new DriverError(IFD.COMMUNICATION_ERROR, `the reader's ${what} is not a string descriptor`);
  }
  const bLength = bytes[0]!;
  if (bLength < 2 || bLength > bytes.length || bLength % 2 !== 0) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `the reader's ${what} has bLength ${bLength} but ${bytes.length} bytes arrived (must be even and at most that)`,
    );
  }
}

/** Reads and parses configuration 0 of an open device and scans it for CCID interfaces. */
export async function discoverCcidInterfaces(
  device: USBDevice,
  usbErrors: UsbErrorClassifier = classifyUsbError,
): Promise<CcidInterfaceScan> {
  return scanCcidInterfaces(parseConfigurationDescriptor(await readConfigurationDescriptor(device, 0, usbErrors)));
}

function u16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}
