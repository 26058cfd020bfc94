/** USB device management: the readers list over a `USB`-shaped object (navigator.usb, node-usb, SimulatedUsb). */
export {
  UsbDeviceManager,
  type UsbLike,
  type UsbConnectionEventLike,
  type UsbConnectionListener,
  type ReaderSink,
  type ReaderEntry,
  type ReaderEntryState,
  type UsbDeviceManagerOptions,
  type AddDeviceOptions,
  type UsbLog,
  type UsbLogLevel,
} from './device-manager.js';
export {
  REQUEST_DEVICE_FILTERS,
  USB_CLASS_SMART_CARD,
  USB_CLASS_VENDOR_SPECIFIC,
  looksLikeSmartCardReader,
  hasSmartCardInterface,
  interfaceClasses,
} from './filters.js';
export {
  describeOpenFailure,
  PROTECTED_CLASS_EXPLANATION,
  TOO_MANY_READERS_EXPLANATION,
  BUSY_EXPLANATION,
  type OpenFailure,
  type OpenFailureState,
  type OpenFailureContext,
} from './errors.js';
