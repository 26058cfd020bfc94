/**
 * USB descriptors of a simulated reader (USB 2.0 §9.6) with the CCID class descriptor (CCID 1.1 §5.1), as the reader
 * returns them to a standard GET_DESCRIPTOR request.
 */
import type { CcidDescriptorFields, ReaderProfile } from './profiles.js';

import * as DESCRIPTOR_TYPE from './descriptor-type.js';
export { DESCRIPTOR_TYPE };

/** Endpoint numbers of the simulated CCID interface (direction bit not included, as WebUSB takes them). */
export const ENDPOINT = { BULK_OUT: 1, BULK_IN: 2, INTERRUPT_IN: 3 } as const;
export const BULK_PACKET_SIZE = 64;
export const INTERRUPT_PACKET_SIZE = 8;
export const CONFIGURATION_VALUE = 1;
export const INTERFACE_NUMBER = 0;

/**
 * Where one CCID function sits on its device: its interface number, endpoint numbers and iInterface string index. A
 * single-interface reader uses the defaults above; a composite device (composite.ts) gives each function its own.
 */
export interface FunctionLayout {
  interfaceNumber: number;
  endpoints: { BULK_OUT: number; BULK_IN: number; INTERRUPT_IN: number };
  interfaceStringIndex: number;
}

/** String descriptor indexes used by the simulator (0 = no string, USB 2.0 §9.6.7). */
export const STRING_INDEX = { MANUFACTURER: 1, PRODUCT: 2, SERIAL: 3, INTERFACE: 4 } as const;

/** English (United States), the one LANGID the simulated readers offer (USB LANGID table). */
export const LANGID_EN_US = 0x0409;

function le16(out: number[], v: number): void {
  out.push(v & 0xff, (v >>> 8) & 0xff);
}
function le32(out: number[], v: number): void {
  out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
}

/** The 54 bytes of the CCID class descriptor, fields packed little-endian in offset order (CCID 1.1 Table 5.1-1). */
export function encodeCcidClassDescriptor(d: CcidDescriptorFields): Uint8Array {
  const out: number[] = [];
  out.push(d.bLength, d.bDescriptorType);
  le16(out, d.bcdCCID);
  out.push(d.bMaxSlotIndex, d.bVoltageSupport);
  le32(out, d.dwProtocols);
  le32(out, d.dwDefaultClock);
  le32(out, d.dwMaximumClock);
  out.push(d.bNumClockSupported);
  le32(out, d.dwDataRate);
  le32(out, d.dwMaxDataRate);
  out.push(d.bNumDataRatesSupported);
  le32(out, d.dwMaxIFSD);
  le32(out, d.dwSynchProtocols);
  le32(out, d.dwMechanical);
  le32(out, d.dwFeatures);
  le32(out, d.dwMaxCCIDMessageLength);
  out.push(d.bClassGetResponse, d.bClassEnvelope);
  le16(out, d.wLcdLayout);
  out.push(d.bPINSupport, d.bMaxCCIDBusySlots);
  return Uint8Array.from(out);
}

/** Device descriptor, 18 bytes (USB 2.0 §9.6.1). bcdUSB 2.00, class defined at interface level. */
export function encodeDeviceDescriptor(p: ReaderProfile): Uint8Array {
  const out: number[] = [18, DESCRIPTOR_TYPE.DEVICE];
  le16(out, 0x0200);
  out.push(0, 0, 0, 64);
  le16(out, p.vendorId);
  le16(out, p.productId);
  le16(out, p.bcdDevice);
  out.push(
    p.manufacturer === null ? 0 : STRING_INDEX.MANUFACTURER,
    p.product === null ? 0 : STRING_INDEX.PRODUCT,
    p.serialNumber === null ? 0 : STRING_INDEX.SERIAL,
    1,
  );
  return Uint8Array.from(out);
}

export const DEFAULT_LAYOUT: FunctionLayout = {
  interfaceNumber: INTERFACE_NUMBER,
  endpoints: ENDPOINT,
  interfaceStringIndex: STRING_INDEX.INTERFACE,
};

/** Endpoints in descriptor order: bulk-OUT, bulk-IN, then interrupt-IN when the profile has one. */
export function endpointLayout(
  p: ReaderProfile,
  endpoints: FunctionLayout['endpoints'] = ENDPOINT,
): { address: number; attributes: number; packetSize: number; interval: number }[] {
  const eps =
    p.bulkEndpoints === false
      ? []
      : [
          { address: endpoints.BULK_OUT, attributes: 0x02, packetSize: BULK_PACKET_SIZE, interval: 0 },
          { address: 0x80 | endpoints.BULK_IN, attributes: 0x02, packetSize: BULK_PACKET_SIZE, interval: 0 },
        ];
  if (p.interruptEndpoint) {
    eps.push({
      address: 0x80 | endpoints.INTERRUPT_IN,
      attributes: 0x03,
      packetSize: INTERRUPT_PACKET_SIZE,
      interval: 0x10,
    });
  }
  return eps;
}

/**
 * The full configuration descriptor (USB 2.0 §9.6.3): configuration, interface, then the CCID class descriptor after the
 * interface descriptor (CCID 1.1 §5.1) or, for profiles that say so, after the last endpoint descriptor.
 */
export function encodeConfigurationDescriptor(p: ReaderProfile): Uint8Array {
  // bmAttributes: bit 7 reserved (1), bit 5 remote wake-up when dwFeatures says USB wake up (CCID 1.1 §5.1).
  return wrapConfiguration(1, p.ccid.dwFeatures & 0x100000 ? 0x20 : 0, encodeInterfaceBlock(p, DEFAULT_LAYOUT));
}

/** A configuration descriptor header (USB 2.0 §9.6.3) in front of `body`, with wTotalLength computed. */
export function wrapConfiguration(numInterfaces: number, extraAttributes: number, body: Uint8Array): Uint8Array {
  const out: number[] = [9, DESCRIPTOR_TYPE.CONFIGURATION];
  le16(out, 9 + body.length);
  out.push(numInterfaces, CONFIGURATION_VALUE, 0, 0x80 | extraAttributes, 50);
  const bytes = new Uint8Array(9 + body.length);
  bytes.set(out);
  bytes.set(body, 9);
  return bytes;
}

/**
 * One CCID function's descriptors: interface (class, subclass and protocol from the profile: 0x0B/0/0 for CCID, 0x0B
 * with protocol 1/2 for ICCD, 0xFF for vendor class), the class descriptor, endpoints.
 */
export function encodeInterfaceBlock(p: ReaderProfile, layout: FunctionLayout): Uint8Array {
  const eps = endpointLayout(p, layout.endpoints);
  const ccid = encodeCcidClassDescriptor(p.ccid);
  const out: number[] = [];
  const subclass = p.interfaceSubclass ?? 0;
  const protocol = p.interfaceProtocol ?? 0;
  out.push(9, DESCRIPTOR_TYPE.INTERFACE, layout.interfaceNumber, 0, eps.length, p.interfaceClass, subclass, protocol);
  out.push(p.interfaceName === null ? 0 : layout.interfaceStringIndex);
  if (p.descriptorPlacement === 'interface') out.push(...ccid);
  for (const ep of eps) {
    out.push(7, DESCRIPTOR_TYPE.ENDPOINT, ep.address, ep.attributes);
    le16(out, ep.packetSize);
    out.push(ep.interval);
  }
  if (p.descriptorPlacement === 'endpoint') out.push(...ccid);
  return Uint8Array.from(out);
}

/** String descriptor (USB 2.0 §9.6.7): index 0 is the LANGID list; others UTF-16LE text. Null when absent. */
export function encodeStringDescriptor(p: ReaderProfile, index: number): Uint8Array | null {
  if (index === 0) return Uint8Array.from([4, DESCRIPTOR_TYPE.STRING, LANGID_EN_US & 0xff, LANGID_EN_US >>> 8]);
  const text =
    index === STRING_INDEX.MANUFACTURER
      ? p.manufacturer
      : index === STRING_INDEX.PRODUCT
        ? p.product
        : index === STRING_INDEX.SERIAL
          ? p.serialNumber
          : index === STRING_INDEX.INTERFACE
            ? p.interfaceName
            : null;
  return text === null ? null : encodeString(text);
}

/** A string descriptor's bytes for `text` (UTF-16LE after bLength and bDescriptorType). */
export function encodeString(text: string): Uint8Array {
  // bLength is one byte: at most 126 UTF-16 code units fit.
  const units = Math.min(text.length, 126);
  const out = new Uint8Array(2 + 2 * units);
  out[0] = out.length;
  out[1] = DESCRIPTOR_TYPE.STRING;
  for (let i = 0; i < units; i++) {
    const c = text.charCodeAt(i);
    out[2 + 2 * i] = c & 0xff;
    out[3 + 2 * i] = c >>> 8;
  }
  return out;
}
