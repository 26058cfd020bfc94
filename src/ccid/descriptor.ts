/**
 * USB descriptors of a CCID reader, pure: parsing the raw configuration descriptor, decoding the 54-byte CCID class
 * descriptor and finding the CCID interfaces. Reading them from a device is descriptor-io.ts.
 *
 * WebUSB exposes interfaces and endpoints but not class-specific descriptors, so the driver reads the whole
 * configuration descriptor itself and picks the CCID class descriptor (CCID 1.1 §5.1) out of the "extra" bytes, as
 * libusb hands them to libccid (`ccid_usb.c` get_ccid_device_descriptor).
 */
import {
  CCID_CLASS_DESCRIPTOR_LENGTH,
  CCID_CLASS_EXCHANGE_MASK,
  CCID_CLASS_EXTENDED_APDU,
  CCID_CLASS_SHORT_APDU,
  CCID_CLASS_TPDU,
  CCID_CLASS_CHARACTER,
  PROTOCOL_CCID,
  PROTOCOL_ICCD_A,
  PROTOCOL_ICCD_B,
  USB_CLASS_CCID,
  USB_CLASS_VENDOR_SPECIFIC,
  USB_DT_CONFIGURATION,
  USB_DT_DEVICE,
  USB_DT_ENDPOINT,
  USB_DT_INTERFACE,
  USB_DT_INTERFACE_ASSOCIATION,
} from './constants.js';
import { DriverError, IFD } from '../ifd/errors.js';
import type { CcidClassDescriptor, CcidInterfaceInfo, ExchangeLevel } from './types.js';
import { hexNumber } from '../util/hex.js';

// ---------------------------------------------------------------------------------------------------------------
// Parsed standard descriptors
// ---------------------------------------------------------------------------------------------------------------

export type UsbEndpointType = 'control' | 'isochronous' | 'bulk' | 'interrupt';

export interface UsbEndpointDescriptor {
  /** bEndpointAddress, with the direction bit. */
  address: number;
  /** Endpoint number without the direction bit, as WebUSB's transferIn/transferOut take it. */
  number: number;
  direction: 'in' | 'out';
  type: UsbEndpointType;
  /** wMaxPacketSize bits 0-10 (USB 2.0 §9.6.6; bits 11-12 are high-bandwidth extra transactions). */
  maxPacketSize: number;
  bInterval: number;
  /** Class/vendor descriptors that follow this endpoint before the next endpoint or interface (libusb's `extra`). */
  extra: Uint8Array;
}

export interface UsbInterfaceDescriptor {
  interfaceNumber: number;
  alternateSetting: number;
  /** bNumEndpoints as declared (the parser checks that exactly this many endpoint descriptors follow). */
  numEndpoints: number;
  interfaceClass: number;
  interfaceSubclass: number;
  interfaceProtocol: number;
  iInterface: number;
  endpoints: UsbEndpointDescriptor[];
  /** Class/vendor descriptors between this interface descriptor and its first endpoint (libusb's `extra`). */
  extra: Uint8Array;
}

export interface UsbConfigurationDescriptor {
  configurationValue: number;
  numInterfaces: number;
  iConfiguration: number;
  bmAttributes: number;
  /** bMaxPower in 2 mA units. */
  bMaxPower: number;
  /** Every interface descriptor, each alternate setting separately, in descriptor order. */
  interfaces: UsbInterfaceDescriptor[];
  /** Descriptors before the first interface (e.g. an interface association descriptor). */
  extra: Uint8Array;
}

// ---------------------------------------------------------------------------------------------------------------

/** wLength of a configuration descriptor's header (USB 2.0 §9.6.3), which carries wTotalLength. */
export const CONFIG_HEADER_LENGTH = 9;

// ---------------------------------------------------------------------------------------------------------------
// Parsing the configuration descriptor
// ---------------------------------------------------------------------------------------------------------------

function malformed(reason: string): DriverError {
  return new DriverError(IFD.COMMUNICATION_ERROR, `malformed USB configuration descriptor: ${reason}`);
}

/** "interface 0 (alternate 0) declares 3 endpoints but 2 follow": one text for the three places that find it. */
function endpointCountMismatch(iface: UsbInterfaceDescriptor, following: string): string {
  const where = `interface ${iface.interfaceNumber} (alternate ${iface.alternateSetting})`;
  return `${where} declares ${iface.numEndpoints} endpoints but ${following} follow`;
}

const ENDPOINT_TYPES: readonly UsbEndpointType[] = ['control', 'isochronous', 'bulk', 'interrupt'];

/**
 * Parses a whole configuration descriptor (USB 2.0 §9.6.3-§9.6.6) into interfaces (every alternate setting) and
 * endpoints, keeping the class/vendor descriptors after each interface and after each endpoint as libusb does
 * (`extra`: everything up to the next endpoint, interface, configuration or device descriptor; an interface
 * association descriptor also ends it, since it introduces the next function).
 * Bytes beyond wTotalLength are ignored; anything malformed is a DriverError(IFD_COMMUNICATION_ERROR) saying what.
 */
export function parseConfigurationDescriptor(bytes: Uint8Array): UsbConfigurationDescriptor {
  if (bytes.length < CONFIG_HEADER_LENGTH) {
    throw malformed(`${bytes.length} bytes, the configuration header alone is 9`);
  }
  const bLength = bytes[0]!;
  if (bytes[1] !== USB_DT_CONFIGURATION) {
    throw malformed(`bDescriptorType is ${bytes[1]}, expected 2 (configuration)`);
  }
  if (bLength < CONFIG_HEADER_LENGTH) throw malformed(`configuration bLength ${bLength} is below 9`);
  const total = u16(bytes, 2);
  if (total > bytes.length) throw malformed(`wTotalLength ${total} but only ${bytes.length} bytes were given`);
  if (total < bLength) throw malformed(`wTotalLength ${total} is shorter than the configuration header (${bLength})`);

  const config: UsbConfigurationDescriptor = {
    numInterfaces: bytes[4]!,
    configurationValue: bytes[5]!,
    iConfiguration: bytes[6]!,
    bmAttributes: bytes[7]!,
    bMaxPower: bytes[8]!,
    interfaces: [],
    extra: new Uint8Array(0),
  };

  // Descriptor boundaries first: every bLength must fit and be at least 2, or the walk would loop or overrun.
  const starts: number[] = [];
  for (let pos = bLength; pos < total;) {
    const len = bytes[pos]!;
    if (pos + 1 >= total) throw malformed(`a descriptor at offset ${pos} is cut short after 1 byte`);
    if (len < 2) throw malformed(`the descriptor at offset ${pos} has bLength ${len} (at least 2 is required)`);
    if (pos + len > total) {
      throw malformed(`the descriptor at offset ${pos} (bLength ${len}) runs past wTotalLength ${total}`);
    }
    starts.push(pos);
    pos += len;
  }

  const ends = (type: number) =>
    type === USB_DT_INTERFACE ||
    type === USB_DT_ENDPOINT ||
    type === USB_DT_CONFIGURATION ||
    type === USB_DT_DEVICE ||
    type === USB_DT_INTERFACE_ASSOCIATION;

  let current: UsbInterfaceDescriptor | undefined;
  let i = 0;
  // Collects the descriptors from starts[i] up to the next boundary descriptor, as one "extra" byte run.
  const takeExtra = (): Uint8Array => {
    const from = starts[i];
    while (i < starts.length && !ends(bytes[starts[i]! + 1]!)) i++;
    if (from === undefined) return new Uint8Array(0);
    const to = i < starts.length ? starts[i]! : total;
    return bytes.slice(from, to);
  };

  config.extra = takeExtra();
  while (i < starts.length) {
    const pos = starts[i]!;
    const len = bytes[pos]!;
    const type = bytes[pos + 1]!;
    i++;
    if (type === USB_DT_INTERFACE) {
      if (current && current.endpoints.length !== current.numEndpoints) {
        throw malformed(endpointCountMismatch(current, String(current.endpoints.length)));
      }
      if (len < 9) throw malformed(`the interface descriptor at offset ${pos} has bLength ${len}, below 9`);
      current = {
        interfaceNumber: bytes[pos + 2]!,
        alternateSetting: bytes[pos + 3]!,
        numEndpoints: bytes[pos + 4]!,
        interfaceClass: bytes[pos + 5]!,
        interfaceSubclass: bytes[pos + 6]!,
        interfaceProtocol: bytes[pos + 7]!,
        iInterface: bytes[pos + 8]!,
        endpoints: [],
        extra: new Uint8Array(0),
      };
      current.extra = takeExtra();
      config.interfaces.push(current);
    } else if (type === USB_DT_ENDPOINT) {
      if (!current) throw malformed(`an endpoint descriptor at offset ${pos} comes before any interface descriptor`);
      if (len < 7) throw malformed(`the endpoint descriptor at offset ${pos} has bLength ${len}, below 7`);
      if (current.endpoints.length >= current.numEndpoints) {
        throw malformed(endpointCountMismatch(current, 'more'));
      }
      const address = bytes[pos + 2]!;
      const endpoint: UsbEndpointDescriptor = {
        address,
        number: address & 0x0f,
        direction: address & 0x80 ? 'in' : 'out',
        type: ENDPOINT_TYPES[bytes[pos + 3]! & 0x03]!,
        maxPacketSize: u16(bytes, pos + 4) & 0x07ff,
        bInterval: bytes[pos + 6]!,
        extra: new Uint8Array(0),
      };
      endpoint.extra = takeExtra();
      current.endpoints.push(endpoint);
    } else if (type === USB_DT_CONFIGURATION || type === USB_DT_DEVICE) {
      throw malformed(
        `a ${type === USB_DT_DEVICE ? 'device' : 'second configuration'} descriptor at offset ${pos} inside the configuration`,
      );
    } else {
      // An interface association descriptor: it belongs to no interface; skip it and what follows it.
      takeExtra();
    }
  }
  if (current && current.endpoints.length !== current.numEndpoints) {
    throw malformed(endpointCountMismatch(current, String(current.endpoints.length)));
  }
  return config;
}

// ---------------------------------------------------------------------------------------------------------------
// The CCID class descriptor
// ---------------------------------------------------------------------------------------------------------------

/**
 * Decodes the 54-byte CCID class descriptor (CCID 1.1 §5.1, Table 5.1-1; little-endian). Like libccid, bLength and
 * bDescriptorType are kept but not checked: five real readers in libccid's `readers/` say type 0xFF. Fewer than 54
 * bytes is a DriverError(IFD_COMMUNICATION_ERROR); bytes after the 54th are ignored.
 */
export function parseCcidClassDescriptor(bytes: Uint8Array): CcidClassDescriptor {
  if (bytes.length < CCID_CLASS_DESCRIPTOR_LENGTH) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `the CCID class descriptor has ${bytes.length} bytes, CCID 1.1 §5.1 requires ${CCID_CLASS_DESCRIPTOR_LENGTH}`,
    );
  }
  return {
    bLength: bytes[0]!,
    bDescriptorType: bytes[1]!,
    bcdCCID: u16(bytes, 2),
    bMaxSlotIndex: bytes[4]!,
    bVoltageSupport: bytes[5]!,
    dwProtocols: u32(bytes, 6),
    dwDefaultClock: u32(bytes, 10),
    dwMaximumClock: u32(bytes, 14),
    bNumClockSupported: bytes[18]!,
    dwDataRate: u32(bytes, 19),
    dwMaxDataRate: u32(bytes, 23),
    bNumDataRatesSupported: bytes[27]!,
    dwMaxIFSD: u32(bytes, 28),
    dwSynchProtocols: u32(bytes, 32),
    dwMechanical: u32(bytes, 36),
    dwFeatures: u32(bytes, 40),
    dwMaxCCIDMessageLength: u32(bytes, 44),
    bClassGetResponse: bytes[48]!,
    bClassEnvelope: bytes[49]!,
    wLcdLayout: u16(bytes, 50),
    bPINSupport: bytes[52]!,
    bMaxCCIDBusySlots: bytes[53]!,
  };
}

/** The inverse of parseCcidClassDescriptor: the 54 wire bytes (for fixtures, simulators and round-trip tests). */
export function encodeCcidClassDescriptor(d: CcidClassDescriptor): Uint8Array {
  const b = new Uint8Array(CCID_CLASS_DESCRIPTOR_LENGTH);
  const v = new DataView(b.buffer);
  b[0] = d.bLength;
  b[1] = d.bDescriptorType;
  v.setUint16(2, d.bcdCCID, true);
  b[4] = d.bMaxSlotIndex;
  b[5] = d.bVoltageSupport;
  v.setUint32(6, d.dwProtocols >>> 0, true);
  v.setUint32(10, d.dwDefaultClock >>> 0, true);
  v.setUint32(14, d.dwMaximumClock >>> 0, true);
  b[18] = d.bNumClockSupported;
  v.setUint32(19, d.dwDataRate >>> 0, true);
  v.setUint32(23, d.dwMaxDataRate >>> 0, true);
  b[27] = d.bNumDataRatesSupported;
  v.setUint32(28, d.dwMaxIFSD >>> 0, true);
  v.setUint32(32, d.dwSynchProtocols >>> 0, true);
  v.setUint32(36, d.dwMechanical >>> 0, true);
  v.setUint32(40, d.dwFeatures >>> 0, true);
  v.setUint32(44, d.dwMaxCCIDMessageLength >>> 0, true);
  b[48] = d.bClassGetResponse;
  b[49] = d.bClassEnvelope;
  v.setUint16(50, d.wLcdLayout, true);
  b[52] = d.bPINSupport;
  b[53] = d.bMaxCCIDBusySlots;
  return b;
}

/** The exchange level from dwFeatures & 0x70000 (CCID 1.1 §5.1). Other bit combinations are not a level. */
export function exchangeLevel(d: CcidClassDescriptor): ExchangeLevel {
  const level = d.dwFeatures & CCID_CLASS_EXCHANGE_MASK;
  switch (level) {
    case CCID_CLASS_CHARACTER:
      return 'character';
    case CCID_CLASS_TPDU:
      return 'tpdu';
    case CCID_CLASS_SHORT_APDU:
      return 'short-apdu';
    case CCID_CLASS_EXTENDED_APDU:
      return 'extended-apdu';
    default:
      throw new DriverError(
        IFD.NOT_SUPPORTED,
        `the reader's dwFeatures 0x${hexNumber(d.dwFeatures, 8)} names no single exchange level (bits 0x${hexNumber(level, 5)}; CCID 1.1 §5.1 allows 0, 0x10000, 0x20000 or 0x40000)`,
      );
  }
}

/** ISO 7816-3 §11.4.2: the IFSD in force before any S(IFS) exchange. */
const DEFAULT_IFSD = 32;
const MAX_IFSD = 254;

/**
 * The IFSD to announce for T=1 (ISO 7816-3 §11.4.2 allows 1..254). Real descriptors report dwMaxIFSD 0 (ten TPDU
 * readers in libccid's `readers/`) or more than 254; libccid would send those as they are. Above 254 is clamped to
 * 254; 0 means the reader states no limit of its own, so the ISO default 32 is used rather than 1, which would make
 * every block carry a single byte.
 */
export function effectiveIfsd(d: CcidClassDescriptor): number {
  const v = d.dwMaxIFSD >>> 0;
  if (v === 0) return DEFAULT_IFSD;
  return Math.min(v, MAX_IFSD);
}

// ---------------------------------------------------------------------------------------------------------------
// Finding CCID interfaces
// ---------------------------------------------------------------------------------------------------------------

/** An interface that looks like a smart card reader but that this driver cannot drive, with the reason. */
export interface RejectedCcidInterface {
  interfaceNumber: number;
  alternateSetting: number;
  interfaceClass: number;
  reason: string;
}

export interface CcidInterfaceScan {
  readers: CcidInterfaceInfo[];
  rejected: RejectedCcidInterface[];
}

/**
 * Finds the CCID interfaces of a configuration, with the reason for each smart-card-looking interface left out.
 *
 * - Class 0x0B, subclass 0, protocol 0 (CCID 1.1 §4.3). Protocols 1 and 2 are ICCD (control-transfer based), not
 *   supported by this bulk transport.
 * - Class 0xFF carrying a 54-byte class descriptor (libccid's ALLOW_PROPRIETARY_CLASS; SCM, Reiner SCT, ...).
 * - The class descriptor is the interface's extra bytes when they are exactly 54 long, else (interface extra
 *   empty) the last endpoint's extra bytes when those are 54 long: O2Micro OZ776, Reiner SCT, Bludrive II
 *   (libccid's O2MICRO_OZ776_PATCH). Any other extra length is rejected, as libccid does.
 * - Endpoints by type and direction: bulk-OUT, bulk-IN, optional interrupt-IN.
 * - Each interface number is reported once, with the first alternate setting that qualifies; composite devices
 *   yield several readers.
 */
export function scanCcidInterfaces(config: UsbConfigurationDescriptor): CcidInterfaceScan {
  const readers: CcidInterfaceInfo[] = [];
  const rejected: RejectedCcidInterface[] = [];
  const found = new Set<number>();
  const reasons = new Map<number, RejectedCcidInterface>();

  for (const intf of config.interfaces) {
    if (found.has(intf.interfaceNumber)) continue;
    const outcome = examineInterface(config, intf);
    if (outcome === undefined) continue;
    if (typeof outcome === 'string') {
      if (!reasons.has(intf.interfaceNumber)) {
        reasons.set(intf.interfaceNumber, {
          interfaceNumber: intf.interfaceNumber,
          alternateSetting: intf.alternateSetting,
          interfaceClass: intf.interfaceClass,
          reason: outcome,
        });
      }
      continue;
    }
    found.add(intf.interfaceNumber);
    readers.push(outcome);
  }
  for (const [num, r] of reasons) if (!found.has(num)) rejected.push(r);
  return { readers, rejected };
}

/** The CCID interfaces of a configuration (see scanCcidInterfaces for the rules and the reasons for rejections). */
export function findCcidInterfaces(config: UsbConfigurationDescriptor): CcidInterfaceInfo[] {
  return scanCcidInterfaces(config).readers;
}

/** undefined: not a smart card interface at all; string: why it cannot be used; else the reader. */
function examineInterface(
  config: UsbConfigurationDescriptor,
  intf: UsbInterfaceDescriptor,
): CcidInterfaceInfo | string | undefined {
  const isCcidClass = intf.interfaceClass === USB_CLASS_CCID;
  const isVendor = intf.interfaceClass === USB_CLASS_VENDOR_SPECIFIC;
  if (!isCcidClass && !isVendor) return undefined;

  let placement: 'interface' | 'endpoint';
  let classBytes: Uint8Array;
  const last = intf.endpoints[intf.endpoints.length - 1];
  if (intf.extra.length === CCID_CLASS_DESCRIPTOR_LENGTH) {
    placement = 'interface';
    classBytes = intf.extra;
  } else if (intf.extra.length === 0 && last && last.extra.length === CCID_CLASS_DESCRIPTOR_LENGTH) {
    placement = 'endpoint';
    classBytes = last.extra;
  } else {
    // A vendor-class interface without a CCID descriptor is simply something else (a vendor function).
    if (isVendor) return undefined;
    return intf.extra.length === 0
      ? 'class 0x0B interface without a 54-byte CCID class descriptor (neither after the interface nor after its last endpoint)'
      : `class 0x0B interface whose class-specific descriptor is ${intf.extra.length} bytes long, not the 54 of CCID 1.1 §5.1`;
  }

  // ICCD (ISO/IEC 7816-12): bInterfaceProtocol 1 = version A, 2 = version B, on class 0x0B or on a vendor-class
  // interface with the CCID descriptor (libccid reads bInterfaceProtocol whatever the class: e-gate, Oberthur
  // CosmoCard). The token answers on the control pipe, so bulk endpoints are not required.
  const iccd =
    intf.interfaceProtocol === PROTOCOL_ICCD_A ? 'A' : intf.interfaceProtocol === PROTOCOL_ICCD_B ? 'B' : undefined;
  if (isCcidClass && iccd === undefined) {
    if (intf.interfaceProtocol !== PROTOCOL_CCID) {
      return `unknown bInterfaceProtocol ${intf.interfaceProtocol} for class 0x0B (0 = CCID, 1/2 = ICCD)`;
    }
    if (intf.interfaceSubclass !== 0) {
      return `bInterfaceSubClass ${intf.interfaceSubclass} for class 0x0B (CCID 1.1 §4.3 defines only 0)`;
    }
  }

  const bulkOut = intf.endpoints.find((e) => e.type === 'bulk' && e.direction === 'out');
  const bulkIn = intf.endpoints.find((e) => e.type === 'bulk' && e.direction === 'in');
  const interruptIn = intf.endpoints.find((e) => e.type === 'interrupt' && e.direction === 'in');
  if (iccd === undefined && (!bulkOut || !bulkIn)) {
    const missing = bulkOut ? 'bulk-IN endpoint' : bulkIn ? 'bulk-OUT endpoint' : 'bulk endpoints';
    const what = isVendor
      ? `a vendor-class (0xFF) interface with a CCID class descriptor and bInterfaceProtocol ${intf.interfaceProtocol}`
      : 'a CCID interface';
    return (
      `${what} but no ${missing}: bulk CCID (bInterfaceProtocol 0) needs bulk-OUT and bulk-IN ` +
      '(CCID 1.1 §3), and only ICCD tokens (bInterfaceProtocol 1 or 2, ISO/IEC 7816-12) do without them'
    );
  }

  const info: CcidInterfaceInfo = {
    configurationValue: config.configurationValue,
    interfaceNumber: intf.interfaceNumber,
    alternateSetting: intf.alternateSetting,
    interfaceClass: intf.interfaceClass,
    interfaceSubclass: intf.interfaceSubclass,
    interfaceProtocol: intf.interfaceProtocol,
    bulkOut: bulkOut?.number ?? 0,
    bulkIn: bulkIn?.number ?? 0,
    bulkInMaxPacketSize: bulkIn?.maxPacketSize ?? 64,
    descriptor: parseCcidClassDescriptor(classBytes),
    descriptorPlacement: placement,
    iInterface: intf.iInterface,
  };
  // An ICCD token's slot is polled (its optional interrupt-IN, version B, is not needed for that).
  if (interruptIn && iccd === undefined) info.interruptIn = interruptIn.number;
  if (iccd !== undefined) info.iccd = iccd;
  return info;
}

// ---------------------------------------------------------------------------------------------------------------

function u16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}
