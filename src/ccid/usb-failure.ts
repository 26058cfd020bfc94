/**
 * What a rejected USBDevice call means to the driver, and the driver errors that follow from it.
 *
 * The driver runs on any WebUSB-shaped device: Chrome's navigator.usb, node-usb's WebUSB, the simulator. They reject
 * in different dialects: Chrome and the simulator with the DOMException names the W3C WebUSB specification defines
 * (NotFoundError when the device is gone, SecurityError for a protected interface class, §"protected interface
 * classes"), node-usb with plain Errors carrying libusb's codes (LIBUSB_ERROR_NO_DEVICE, LIBUSB_TRANSFER_TIMED_OUT).
 *
 * Design: recognising a dialect is a pure function, `UsbErrorClassifier`, that the transport is given
 * (`CcidReaderOptions.usbErrors`, `CcidTransportOptions.usbErrors`) rather than one it hard-codes, and the USB edge
 * (`src/usb/errors.ts`) builds its open-failure reasons on the same function, so a dialect is taught in one place.
 * The default below knows every platform this project hands the driver, so the simulator, the connector and the
 * node-usb host work without passing anything; a platform with another dialect passes its own classifier. We chose
 * injection over wrapping the device at the edge: a wrapper would have to be applied by every host (and forgotten by
 * one), would hide the real device from code that compares identities, and would still need a default for the
 * simulator. What each kind *does* (fail the transport as removed, read again, refuse to open) stays with the driver.
 */
import { DriverError, IFD } from '../ifd/errors.js';
import { hexNumber } from '../util/hex.js';

/**
 * 'gone': the device was unplugged (IFD_NO_SUCH_DEVICE, the transport ends as removed).
 * 'timed-out': the USB stack gave up waiting on a transfer (node-usb applies its own timeout; WebUSB transfers never
 *   time out): the driver's own timers govern, so the transfer is simply made again.
 * 'refused': the platform does not let us use the interface (WebUSB SecurityError: a protected interface class).
 * 'failed': anything else: IFD_COMMUNICATION_ERROR for the operation.
 */
export type UsbFailureKind = 'gone' | 'timed-out' | 'refused' | 'failed';

export type UsbErrorClassifier = (e: unknown) => UsbFailureKind;

function nameOf(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const name = (e as { name?: unknown }).name;
  return typeof name === 'string' ? name : undefined;
}

function messageOf(e: unknown): string {
  if (typeof e === 'object' && e !== null) {
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  }
  return '';
}

/**
 * The default classifier: WebUSB's DOMException names (Chrome: NotFoundError "The device was disconnected.") and
 * node-usb's libusb codes (LIBUSB_ERROR_NO_DEVICE / LIBUSB_TRANSFER_NO_DEVICE; LIBUSB_TRANSFER_TIMED_OUT).
 */
export const classifyUsbError: UsbErrorClassifier = (e) => {
  const name = nameOf(e);
  if (name === 'SecurityError') return 'refused';
  const message = messageOf(e);
  if (name === 'NotFoundError' || /disconnected|NO_DEVICE|no such device/i.test(message)) return 'gone';
  if (/TIMED_OUT|timed out/i.test(message)) return 'timed-out';
  return 'failed';
};

/** "Name: message" of a rejection, for error texts (a WebUSB rejection carries no received data). */
export function describeUsbError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** The error every command gets once the device is gone. */
export function removedError(detail?: string, cause?: unknown): DriverError {
  return new DriverError(
    IFD.NO_SUCH_DEVICE,
    `the reader was removed${detail ? ` (${detail})` : ''}: plug it in again to use it`,
    cause === undefined ? undefined : { cause },
  );
}

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
        ? `the browser refused to let this extension claim the reader's interface ${interfaceNumber}: Chrome ` +
            `protects USB interfaces of class 0x0B (smart card) from extensions and web pages, and no setting lifts ` +
            `that. Use the reader through the operating system's smart card service (PC/SC) instead, or a reader ` +
            `that exposes its CCID interface as vendor class 0xFF`
        : `the browser refused access to the reader's interface ${interfaceNumber} (class 0x${hexNumber(
            interfaceClass,
            2,
          )}) for security reasons: ${describeUsbError(cause)}`,
      { cause },
    );
  }
}

/** True for the error open() gives when the browser refuses to claim a protected interface class. */
export function isProtectedClassError(e: unknown): e is ProtectedInterfaceClassError {
  return e instanceof ProtectedInterfaceClassError;
}
