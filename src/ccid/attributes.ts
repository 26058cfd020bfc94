/**
 * Reader attributes (SCardGetAttrib) the driver answers, exactly as libccid's `IFDHGetCapabilities`
 * (`src/ifdhandler.c`) does. Tags the driver does not know give undefined: pcscd then answers FRIENDLY_NAME /
 * SYSTEM_NAME itself and SCARD_E_UNSUPPORTED_FEATURE for the rest (that fallback is the daemon's job).
 *
 * Multi-byte numbers are little-endian (libccid stores a host-order uint32 on little-endian hosts, which is what every
 * pcsc-lite client reads).
 */
import {
  SCARD_ATTR_ATR_STRING,
  SCARD_ATTR_CHANNEL_ID,
  SCARD_ATTR_ICC_INTERFACE_STATUS,
  SCARD_ATTR_ICC_PRESENCE,
  SCARD_ATTR_MAXINPUT,
  SCARD_ATTR_VENDOR_IFD_SERIAL_NO,
  SCARD_ATTR_VENDOR_IFD_VERSION,
  SCARD_ATTR_VENDOR_NAME,
} from '../pcsc/constants.js';

/** pcsc-lite `ifdhandler.h` TAG_IFD_ATR: libccid answers it like SCARD_ATTR_ATR_STRING. */
export const TAG_IFD_ATR = 0x0303;

/** CCID message header size, subtracted from dwMaxCCIDMessageLength for MAXINPUT. */
const CCID_HEADER_SIZE = 10;

/** Data channel type 0x0020 = USB (PC/SC part 3, SCARD_ATTR_CHANNEL_ID 0xDDDDCCCC). */
const CHANNEL_TYPE_USB = 0x0020;

export interface ReaderAttributeState {
  /** ATR of the powered card; absent or empty when no card has been powered. */
  atr?: Uint8Array;
  /**
   * The card is present as libccid's IFDHICCPresence says (a card seen "present and inactive" after it was powered
   * counts as removed). libccid answers both ICC_PRESENCE and ICC_INTERFACE_STATUS from this.
   */
  present: boolean;
  /** Kept for the slot's bookkeeping; libccid does not use it for any attribute (see ICC_INTERFACE_STATUS). */
  powered: boolean;
  /** USB iManufacturer; absent or empty = not known (libccid then returns an empty value). */
  vendorName?: string;
  /** USB bcdDevice. */
  bcdDevice: number;
  /** USB iSerialNumber; absent or empty = not known. */
  serial?: string;
  /** MAXINPUT value: dwMaxCCIDMessageLength − 10 (see `maxInputFor`). */
  maxInput: number;
  /** CHANNEL_ID value (see `channelIdFor`). */
  channelId: number;
  /** Not reported: libccid does not answer SCARD_ATTR_CURRENT_PROTOCOL_TYPE. */
  protocol?: 0 | 1;
}

function u32le(value: number, what: string): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${what} must be an unsigned 32-bit integer, got ${value}`);
  }
  return new Uint8Array([value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24]);
}

/**
 * A USB string as libccid holds it: libusb_get_string_descriptor_ascii keeps UTF-16 code units up to 0xFF as one byte
 * and turns the others into '?', into a 128-byte buffer (127 characters + NUL); the C string ends at a NUL.
 * Returns the bytes plus the terminating NUL (libccid's length is strlen + 1), or an empty value for no string.
 */
function usbStringAttribute(s: string | undefined): Uint8Array {
  if (s === undefined) return new Uint8Array(0);
  const bytes: number[] = [];
  for (let i = 0; i < s.length && bytes.length < 127; i++) {
    const unit = s.charCodeAt(i);
    if (unit === 0) break;
    bytes.push(unit <= 0xff ? unit : 0x3f);
  }
  if (bytes.length === 0) return new Uint8Array(0);
  bytes.push(0);
  return Uint8Array.from(bytes);
}

/**
 * The value libccid returns for `tag`, or undefined when it does not know the tag (IFD_ERROR_TAG).
 * - ATR_STRING (and TAG_IFD_ATR): the ATR bytes; empty when no card is powered.
 * - ICC_PRESENCE: 1 byte, 2 = present, 0 = absent (PC/SC part 3 codes; libccid never reports 1 or 4).
 * - ICC_INTERFACE_STATUS: 1 byte, 1 when the card is present, else 0. libccid asks IFDHICCPresence, not the power
 *   state, although the attribute is meant to say whether the contacts are active; we mirror libccid.
 * - VENDOR_NAME / VENDOR_IFD_SERIAL_NO: the USB string + NUL, or empty when the device has none.
 * - VENDOR_IFD_VERSION: u32 bcdDevice << 16 (0xMMmmbbbb with MM.mm = bcdDevice, build 0).
 * - MAXINPUT, CHANNEL_ID: u32.
 * Throws RangeError only for state values a USB device cannot have (e.g. bcdDevice > 0xFFFF).
 */
export function readerAttribute(tag: number, state: ReaderAttributeState): Uint8Array | undefined {
  switch (tag) {
    case SCARD_ATTR_ATR_STRING:
    case TAG_IFD_ATR:
      return state.atr === undefined ? new Uint8Array(0) : Uint8Array.from(state.atr);
    case SCARD_ATTR_ICC_PRESENCE:
      return Uint8Array.of(state.present ? 2 : 0);
    case SCARD_ATTR_ICC_INTERFACE_STATUS:
      return Uint8Array.of(state.present ? 1 : 0);
    case SCARD_ATTR_VENDOR_NAME:
      return usbStringAttribute(state.vendorName);
    case SCARD_ATTR_VENDOR_IFD_VERSION:
      if (!Number.isInteger(state.bcdDevice) || state.bcdDevice < 0 || state.bcdDevice > 0xffff) {
        throw new RangeError(`bcdDevice must be 0..0xFFFF, got ${state.bcdDevice}`);
      }
      return u32le((state.bcdDevice << 16) >>> 0, 'VENDOR_IFD_VERSION');
    case SCARD_ATTR_VENDOR_IFD_SERIAL_NO:
      return usbStringAttribute(state.serial);
    case SCARD_ATTR_MAXINPUT:
      return u32le(state.maxInput, 'MAXINPUT');
    case SCARD_ATTR_CHANNEL_ID:
      return u32le(state.channelId, 'CHANNEL_ID');
    default:
      return undefined;
  }
}

/**
 * MAXINPUT = dwMaxCCIDMessageLength − 10. A descriptor below 10 (libccid would wrap the unsigned subtraction to about
 * 4 GiB) gives 0.
 */
export function maxInputFor(dwMaxCCIDMessageLength: number): number {
  if (!Number.isInteger(dwMaxCCIDMessageLength) || dwMaxCCIDMessageLength < CCID_HEADER_SIZE) return 0;
  return Math.min(dwMaxCCIDMessageLength - CCID_HEADER_SIZE, 0xffffffff);
}

/**
 * CHANNEL_ID = 0x0020 << 16 | bus << 8 | address (libccid: USB bus number and device address).
 *
 * WebUSB exposes neither. Convention for this stack: bus 0 and address = the reader's index (the XX of its name) + 1,
 * so the value stays in the USB address range (1..127), is stable while the reader is plugged in, and differs between
 * readers. Throws RangeError when bus or address is not 0..255.
 */
export function channelIdFor(location: { bus: number; address: number }): number {
  const { bus, address } = location;
  for (const [name, v] of [
    ['bus', bus],
    ['address', address],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`USB ${name} must be 0..255, got ${v}`);
  }
  return ((CHANNEL_TYPE_USB << 16) | (bus << 8) | address) >>> 0;
}

/** The WebUSB convention of `channelIdFor`: bus 0, address = reader index + 1. */
export function webUsbChannelId(readerIndex: number): number {
  return channelIdFor({ bus: 0, address: readerIndex + 1 });
}
