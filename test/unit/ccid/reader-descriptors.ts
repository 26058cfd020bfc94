/**
 * Real readers' CCID class descriptors, as test data.
 *
 * Source: libccid's `readers/` folder (github.com/LudovicRousseau/CCID), text dumps written by libccid's `parse`
 * tool. The dumps print decoded fields, not bytes; the 54 bytes are rebuilt here by packing each printed field
 * little-endian at its CCID 1.1 §5.1 offset (clock "x.yyy MHz" → kHz, dwProtocols printed as two 16-bit halves,
 * bcdCCID "1.10" → 0x0110). Interface class/subclass/protocol, bNumEndpoints, bInterfaceNumber and the VID:PID are
 * the dumps' too.
 *
 * The dumps do not print endpoint descriptors, so endpoint addresses and packet sizes below are typical values
 * chosen here (bulk-OUT 0x01, bulk-IN 0x82, interrupt-IN 0x83, shifted by 3 per extra interface; 64-byte bulk,
 * 8-byte interrupt packets), as are iInterface indexes where a dump printed the string itself, and so is
 * the placement of the class descriptor for the three readers libccid's O2MICRO_OZ776_PATCH names (O2Micro OZ776,
 * Reiner SCT, Bludrive II): after the last endpoint, as those readers report it.
 *
 * Used by the descriptor tests, and useful to anyone who needs a real reader's descriptors (simulator profiles,
 * integration tests).
 */
import type { CcidClassDescriptor } from '../../../src/ccid/types.js';

export interface CcidFields {
  bLength?: number;
  bDescriptorType?: number;
  bcdCCID: number;
  bMaxSlotIndex: number;
  bVoltageSupport: number;
  dwProtocols: number;
  dwDefaultClock: number;
  dwMaximumClock: number;
  bNumClockSupported: number;
  dwDataRate: number;
  dwMaxDataRate: number;
  bNumDataRatesSupported: number;
  dwMaxIFSD: number;
  dwSynchProtocols: number;
  dwMechanical: number;
  dwFeatures: number;
  dwMaxCCIDMessageLength: number;
  bClassGetResponse: number;
  bClassEnvelope: number;
  wLcdLayout: number;
  bPINSupport: number;
  bMaxCCIDBusySlots: number;
}

export interface FixtureInterface {
  interfaceNumber: number;
  interfaceClass: number;
  interfaceSubclass: number;
  interfaceProtocol: number;
  iInterface: number;
  /** 2 = bulk pair only, 3 = bulk pair + interrupt-IN (the dumps' bNumEndpoints). */
  numEndpoints: 2 | 3;
  placement: 'interface' | 'endpoint';
  ccid: CcidClassDescriptor;
}

export interface ReaderFixture {
  name: string;
  /** Path of the dump in LudovicRousseau/CCID. */
  source: string;
  vendorId: number;
  productId: number;
  interfaces: FixtureInterface[];
  /** The full configuration descriptor (configuration value 1), as GET_DESCRIPTOR would return it. */
  configuration: Uint8Array;
}

/** The CCID class descriptor's 54 bytes, packed field by field (CCID 1.1 §5.1, Table 5.1-1). */
export function packCcidClassDescriptor(f: CcidFields): Uint8Array {
  const b = new Uint8Array(54);
  const v = new DataView(b.buffer);
  let at = 0;
  const u8 = (x: number) => {
    v.setUint8(at, x);
    at += 1;
  };
  const u16 = (x: number) => {
    v.setUint16(at, x, true);
    at += 2;
  };
  const u32 = (x: number) => {
    v.setUint32(at, x, true);
    at += 4;
  };
  u8(f.bLength ?? 0x36);
  u8(f.bDescriptorType ?? 0x21);
  u16(f.bcdCCID);
  u8(f.bMaxSlotIndex);
  u8(f.bVoltageSupport);
  u32(f.dwProtocols);
  u32(f.dwDefaultClock);
  u32(f.dwMaximumClock);
  u8(f.bNumClockSupported);
  u32(f.dwDataRate);
  u32(f.dwMaxDataRate);
  u8(f.bNumDataRatesSupported);
  u32(f.dwMaxIFSD);
  u32(f.dwSynchProtocols);
  u32(f.dwMechanical);
  u32(f.dwFeatures);
  u32(f.dwMaxCCIDMessageLength);
  u8(f.bClassGetResponse);
  u8(f.bClassEnvelope);
  u16(f.wLcdLayout);
  u8(f.bPINSupport);
  u8(f.bMaxCCIDBusySlots);
  if (at !== 54) throw new Error(`packed ${at} bytes`);
  return b;
}

function fullDescriptor(f: CcidFields): CcidClassDescriptor {
  return { bLength: 0x36, bDescriptorType: 0x21, ...f };
}

/** A standard interface descriptor (USB 2.0 §9.6.5). */
export function interfaceDescriptor(
  num: number,
  alt: number,
  numEndpoints: number,
  cls: number,
  sub: number,
  proto: number,
  iInterface: number,
): Uint8Array {
  return Uint8Array.of(9, 4, num, alt, numEndpoints, cls, sub, proto, iInterface);
}

/** A standard endpoint descriptor (USB 2.0 §9.6.6); type 2 = bulk, 3 = interrupt. */
export function endpointDescriptor(address: number, type: number, maxPacketSize: number, interval = 0): Uint8Array {
  return Uint8Array.of(7, 5, address, type, maxPacketSize & 0xff, maxPacketSize >> 8, interval);
}

/** A configuration descriptor (USB 2.0 §9.6.3) around the given descriptors, with wTotalLength computed. */
export function configurationDescriptor(
  numInterfaces: number,
  parts: Uint8Array[],
  configurationValue = 1,
): Uint8Array {
  const total = 9 + parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  out.set([9, 2, total & 0xff, total >> 8, numInterfaces, configurationValue, 0, 0x80, 50]);
  let at = 9;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The descriptors of one CCID interface: interface, [class descriptor], endpoints, [class descriptor]. */
export function ccidInterfaceParts(i: FixtureInterface, classBytes: Uint8Array, endpointBase = 0): Uint8Array[] {
  const parts = [
    interfaceDescriptor(
      i.interfaceNumber,
      0,
      i.numEndpoints,
      i.interfaceClass,
      i.interfaceSubclass,
      i.interfaceProtocol,
      i.iInterface,
    ),
  ];
  if (i.placement === 'interface') parts.push(classBytes);
  parts.push(endpointDescriptor(0x01 + endpointBase, 2, 64), endpointDescriptor(0x82 + endpointBase, 2, 64));
  if (i.numEndpoints === 3) parts.push(endpointDescriptor(0x83 + endpointBase, 3, 8, 16));
  if (i.placement === 'endpoint') parts.push(classBytes);
  return parts;
}

interface Spec {
  name: string;
  source: string;
  vendorId: number;
  productId: number;
  interfaces: (Omit<FixtureInterface, 'ccid'> & { fields: CcidFields })[];
}

function build(spec: Spec): ReaderFixture {
  const parts: Uint8Array[] = [];
  const interfaces: FixtureInterface[] = [];
  spec.interfaces.forEach((s, n) => {
    const { fields, ...rest } = s;
    const fi: FixtureInterface = { ...rest, ccid: fullDescriptor(fields) };
    interfaces.push(fi);
    parts.push(...ccidInterfaceParts(fi, packCcidClassDescriptor(fields), n * 3));
  });
  return {
    name: spec.name,
    source: spec.source,
    vendorId: spec.vendorId,
    productId: spec.productId,
    interfaces,
    configuration: configurationDescriptor(spec.interfaces.length, parts),
  };
}

const CCID_IF = { interfaceNumber: 0, interfaceClass: 0x0b, interfaceSubclass: 0, interfaceProtocol: 0, iInterface: 0 };

/** Gemalto (Gemplus) GemPC Twin 08E6:3437: TPDU, T=0/T=1, one slot. `readers/GemPCTwin.txt`. */
export const GEMPC_TWIN = build({
  name: 'Gemplus GemPC Twin',
  source: 'readers/GemPCTwin.txt',
  vendorId: 0x08e6,
  productId: 0x3437,
  interfaces: [
    {
      ...CCID_IF,
      numEndpoints: 3,
      placement: 'interface',
      fields: {
        bcdCCID: 0x0100,
        bMaxSlotIndex: 0,
        bVoltageSupport: 0x07,
        dwProtocols: 0x00000003,
        dwDefaultClock: 4000,
        dwMaximumClock: 4000,
        bNumClockSupported: 0,
        dwDataRate: 10752,
        dwMaxDataRate: 344086,
        bNumDataRatesSupported: 0,
        dwMaxIFSD: 254,
        dwSynchProtocols: 0,
        dwMechanical: 0,
        dwFeatures: 0x00010230,
        dwMaxCCIDMessageLength: 271,
        bClassGetResponse: 0x00,
        bClassEnvelope: 0x00,
        wLcdLayout: 0,
        bPINSupport: 0,
        bMaxCCIDBusySlots: 1,
      },
    },
  ],
});

/** Aktiv Rutoken ECP 0A89:0030: short APDU level, T=1 only, no interrupt endpoint. `readers/Aktiv_Rutoken_ECP.txt`. */
export const RUTOKEN_ECP = build({
  name: 'Aktiv Rutoken ECP',
  source: 'readers/Aktiv_Rutoken_ECP.txt',
  vendorId: 0x0a89,
  productId: 0x0030,
  interfaces: [
    {
      ...CCID_IF,
      numEndpoints: 2,
      placement: 'interface',
      fields: {
        bcdCCID: 0x0100,
        bMaxSlotIndex: 0,
        bVoltageSupport: 0x01,
        dwProtocols: 0x00000002,
        dwDefaultClock: 3580,
        dwMaximumClock: 3580,
        bNumClockSupported: 0,
        dwDataRate: 9600,
        dwMaxDataRate: 9600,
        bNumDataRatesSupported: 0,
        dwMaxIFSD: 254,
        dwSynchProtocols: 0,
        dwMechanical: 0,
        dwFeatures: 0x00020840,
        dwMaxCCIDMessageLength: 271,
        bClassGetResponse: 0xff,
        bClassEnvelope: 0xff,
        wLcdLayout: 0,
        bPINSupport: 0,
        bMaxCCIDBusySlots: 1,
      },
    },
  ],
});

/** HID Global OMNIKEY 3x21 076B:3031: short and extended APDU level. `readers/HID_Global_OMNIKEY_3x21_Smart_Card_Reader.txt`. */
export const OMNIKEY_3X21 = build({
  name: 'HID Global OMNIKEY 3x21',
  source: 'readers/HID_Global_OMNIKEY_3x21_Smart_Card_Reader.txt',
  vendorId: 0x076b,
  productId: 0x3031,
  interfaces: [
    {
      ...CCID_IF,
      iInterface: 3,
      numEndpoints: 3,
      placement: 'interface',
      fields: {
        bcdCCID: 0x0110,
        bMaxSlotIndex: 0,
        bVoltageSupport: 0x07,
        dwProtocols: 0x00000003,
        dwDefaultClock: 4800,
        dwMaximumClock: 4800,
        bNumClockSupported: 1,
        dwDataRate: 10752,
        dwMaxDataRate: 412903,
        bNumDataRatesSupported: 106,
        dwMaxIFSD: 254,
        dwSynchProtocols: 0x00000007,
        dwMechanical: 0,
        dwFeatures: 0x000407ba,
        dwMaxCCIDMessageLength: 271,
        bClassGetResponse: 0xff,
        bClassEnvelope: 0xff,
        wLcdLayout: 0,
        bPINSupport: 0,
        bMaxCCIDBusySlots: 1,
      },
    },
  ],
});

/** SCM SCR331-DI 04E6:5111: two slots (contact + contactless), vendor class 0xFF. `readers/SCR331-DI.txt`. */
export const SCR331_DI = build({
  name: 'SCM Microsystems SCR331-DI',
  source: 'readers/SCR331-DI.txt',
  vendorId: 0x04e6,
  productId: 0x5111,
  interfaces: [
    {
      ...CCID_IF,
      interfaceClass: 0xff,
      iInterface: 4,
      numEndpoints: 3,
      placement: 'interface',
      fields: {
        bcdCCID: 0x0100,
        bMaxSlotIndex: 1,
        bVoltageSupport: 0x01,
        dwProtocols: 0x00000003,
        dwDefaultClock: 4000,
        dwMaximumClock: 12000,
        bNumClockSupported: 0,
        dwDataRate: 10753,
        dwMaxDataRate: 344105,
        bNumDataRatesSupported: 0,
        dwMaxIFSD: 252,
        dwSynchProtocols: 0,
        dwMechanical: 0,
        dwFeatures: 0x000100ba,
        dwMaxCCIDMessageLength: 263,
        bClassGetResponse: 0xff,
        bClassEnvelope: 0xff,
        wLcdLayout: 0,
        bPINSupport: 0,
        bMaxCCIDBusySlots: 1,
      },
    },
  ],
});

/** Gemplus GemPC Pinpad 08E6:3478: PIN verification and modification. `readers/GemPCPinpad.txt`. */
export const GEMPC_PINPAD = build({
  name: 'Gemplus GemPC Pinpad',
  source: 'readers/GemPCPinpad.txt',
  vendorId: 0x08e6,
  productId: 0x3478,
  interfaces: [
    {
      ...CCID_IF,
      numEndpoints: 3,
      placement: 'interface',
      fields: {
        bcdCCID: 0x0100,
        bMaxSlotIndex: 0,
        bVoltageSupport: 0x07,
        dwProtocols: 0x00000003,
        dwDefaultClock: 4000,
        dwMaximumClock: 4000,
        bNumClockSupported: 0,
        dwDataRate: 10752,
        dwMaxDataRate: 500000,
        bNumDataRatesSupported: 0,
        dwMaxIFSD: 254,
        dwSynchProtocols: 0,
        dwMechanical: 0,
        dwFeatures: 0x00010230,
        dwMaxCCIDMessageLength: 271,
        bClassGetResponse: 0x00,
        bClassEnvelope: 0x00,
        wLcdLayout: 0,
        bPINSupport: 0x03,
        bMaxCCIDBusySlots: 1,
      },
    },
  ],
});

/** SCM SPR532 04E6:E003: PIN pad on a vendor-class (0xFF) interface. `readers/SPR532.txt`. */
export const SPR532 = build({
  name: 'SCM Microsystems SPR532',
  source: 'readers/SPR532.txt',
  vendorId: 0x04e6,
  productId: 0xe003,
  interfaces: [
    {
      ...CCID_IF,
      interfaceClass: 0xff,
      iInterface: 4,
      numEndpoints: 3,
      placement: 'interface',
      fields: {
        bcdCCID: 0x0100,
        bMaxSlotIndex: 0,
        bVoltageSupport: 0x01,
        dwProtocols: 0x00000003,
        dwDefaultClock: 4000,
        dwMaximumClock: 8000,
        bNumClockSupported: 0,
        dwDataRate: 10753,
        dwMaxDataRate: 344105,
        bNumDataRatesSupported: 0,
        dwMaxIFSD: 254,
        dwSynchProtocols: 0,
        dwMechanical: 0,
        dwFeatures: 0x000100ba,
        dwMaxCCIDMessageLength: 270,
        bClassGetResponse: 0xff,
        bClassEnvelope: 0xff,
        wLcdLayout: 0,
        bPINSupport: 0x03,
        bMaxCCIDBusySlots: 1,
      },
    },
  ],
});

/** O2Micro OZ776 0B97:7762: character level; class descriptor after the last endpoint. `readers/Oz776S.txt`. */
export const O2MICRO_OZ776 = build({
  name: 'O2Micro CCID SC Reader (OZ776)',
  source: 'readers/Oz776S.txt',
  vendorId: 0x0b97,
  productId: 0x7762,
  interfaces: [
    {
      ...CCID_IF,
      numEndpoints: 3,
      placement: 'endpoint',
      fields: {
        bcdCCID: 0x0100,
        bMaxSlotIndex: 0,
        bVoltageSupport: 0x03,
        dwProtocols: 0x00000003,
        dwDefaultClock: 4000,
        dwMaximumClock: 4000,
        bNumClockSupported: 0,
        dwDataRate: 9600,
        dwMaxDataRate: 307200,
        bNumDataRatesSupported: 0,
        dwMaxIFSD: 254,
        dwSynchProtocols: 0,
        dwMechanical: 0,
        dwFeatures: 0x00000030,
        dwMaxCCIDMessageLength: 271,
        bClassGetResponse: 0x00,
        bClassEnvelope: 0x00,
        wLcdLayout: 0,
        bPINSupport: 0,
        bMaxCCIDBusySlots: 1,
      },
    },
  ],
});

/** Reiner SCT cyberJack pinpad(a) 0C4B:0300: vendor class, PIN pad, descriptor after the last endpoint. `readers/ReinerSCT.txt`. */
export const REINER_SCT = build({
  name: 'Reiner-SCT cyberJack pinpad(a)',
  source: 'readers/ReinerSCT.txt',
  vendorId: 0x0c4b,
  productId: 0x0300,
  interfaces: [
    {
      ...CCID_IF,
      interfaceClass: 0xff,
      numEndpoints: 3,
      placement: 'endpoint',
      fields: {
        bcdCCID: 0x1000,
        bMaxSlotIndex: 0,
        bVoltageSupport: 0x07,
        dwProtocols: 0x00000003,
        dwDefaultClock: 4000,
        dwMaximumClock: 8000,
        bNumClockSupported: 0,
        dwDataRate: 10072,
        dwMaxDataRate: 250000,
        bNumDataRatesSupported: 0,
        dwMaxIFSD: 254,
        dwSynchProtocols: 0x00000007,
        dwMechanical: 0,
        dwFeatures: 0x00010030,
        dwMaxCCIDMessageLength: 270,
        bClassGetResponse: 0xff,
        bClassEnvelope: 0xff,
        wLcdLayout: 0,
        bPINSupport: 0x03,
        bMaxCCIDBusySlots: 1,
      },
    },
  ],
});

/** Bludrive II CCID 1B0E:1078: class 0x0B with the descriptor after the last endpoint. `readers/BludriveII.txt`. */
export const BLUDRIVE_II = build({
  name: 'BLUTRONICS BLUDRIVE II CCID',
  source: 'readers/BludriveII.txt',
  vendorId: 0x1b0e,
  productId: 0x1078,
  interfaces: [
    {
      ...CCID_IF,
      numEndpoints: 3,
      placement: 'endpoint',
      fields: {
        bcdCCID: 0x0100,
        bMaxSlotIndex: 0,
        bVoltageSupport: 0x01,
        dwProtocols: 0x00000003,
        dwDefaultClock: 3580,
        dwMaximumClock: 3580,
        bNumClockSupported: 1,
        dwDataRate: 9600,
        dwMaxDataRate: 115200,
        bNumDataRatesSupported: 15,
        dwMaxIFSD: 252,
        dwSynchProtocols: 0,
        dwMechanical: 0,
        dwFeatures: 0x00010130,
        dwMaxCCIDMessageLength: 271,
        bClassGetResponse: 0x00,
        bClassEnvelope: 0x00,
        wLcdLayout: 0,
        bPINSupport: 0,
        bMaxCCIDBusySlots: 1,
      },
    },
  ],
});

/**
 * Gemplus "Token GEM USB COMBI" 08E6:ACE0 (Verisign secure token): vendor class 0xFF, subclass 92, two endpoints,
 * and a class descriptor whose bDescriptorType is 0xFF. `readers/Verisign_secure_token.txt`.
 */
export const VERISIGN_SECURE_TOKEN = build({
  name: 'Gemplus Token GEM USB COMBI (Verisign secure token)',
  source: 'readers/Verisign_secure_token.txt',
  vendorId: 0x08e6,
  productId: 0xace0,
  interfaces: [
    {
      ...CCID_IF,
      interfaceClass: 0xff,
      interfaceSubclass: 92,
      numEndpoints: 2,
      placement: 'interface',
      fields: {
        bDescriptorType: 0xff,
        bcdCCID: 0x0100,
        bMaxSlotIndex: 0,
        bVoltageSupport: 0x01,
        dwProtocols: 0x00000003,
        dwDefaultClock: 1500,
        dwMaximumClock: 1500,
        bNumClockSupported: 0,
        dwDataRate: 4032,
        dwMaxDataRate: 46875,
        bNumDataRatesSupported: 0,
        dwMaxIFSD: 254,
        dwSynchProtocols: 0,
        dwMechanical: 0,
        dwFeatures: 0x00010230,
        dwMaxCCIDMessageLength: 271,
        bClassGetResponse: 0x00,
        bClassEnvelope: 0x00,
        wLcdLayout: 0,
        bPINSupport: 0,
        bMaxCCIDBusySlots: 1,
      },
    },
  ],
});

/** ACS ACR1252 Dual Reader 072F:223B: composite, two CCID interfaces (PICC, SAM). `readers/ACS_ACR1252_Dual_Reader.txt`. */
export const ACR1252_DUAL = build({
  name: 'ACS ACR1252 Dual Reader',
  source: 'readers/ACS_ACR1252_Dual_Reader.txt',
  vendorId: 0x072f,
  productId: 0x223b,
  interfaces: [
    {
      ...CCID_IF,
      iInterface: 4,
      numEndpoints: 3,
      placement: 'interface',
      fields: {
        bcdCCID: 0x0100,
        bMaxSlotIndex: 0,
        bVoltageSupport: 0x07,
        dwProtocols: 0x00000002,
        dwDefaultClock: 4000,
        dwMaximumClock: 4000,
        bNumClockSupported: 0,
        dwDataRate: 10752,
        dwMaxDataRate: 250000,
        bNumDataRatesSupported: 0,
        dwMaxIFSD: 254,
        dwSynchProtocols: 0,
        dwMechanical: 0,
        dwFeatures: 0x00040040,
        dwMaxCCIDMessageLength: 522,
        bClassGetResponse: 0x00,
        bClassEnvelope: 0x00,
        wLcdLayout: 0,
        bPINSupport: 0,
        bMaxCCIDBusySlots: 1,
      },
    },
    {
      ...CCID_IF,
      interfaceNumber: 1,
      iInterface: 5,
      numEndpoints: 3,
      placement: 'interface',
      fields: {
        bcdCCID: 0x0110,
        bMaxSlotIndex: 0,
        bVoltageSupport: 0x01,
        dwProtocols: 0x00000003,
        dwDefaultClock: 3420,
        dwMaximumClock: 3420,
        bNumClockSupported: 0,
        dwDataRate: 9193,
        dwMaxDataRate: 213750,
        bNumDataRatesSupported: 0,
        dwMaxIFSD: 254,
        dwSynchProtocols: 0,
        dwMechanical: 0,
        dwFeatures: 0x000204ba,
        dwMaxCCIDMessageLength: 288,
        bClassGetResponse: 0x00,
        bClassEnvelope: 0x00,
        wLcdLayout: 0,
        bPINSupport: 0,
        bMaxCCIDBusySlots: 1,
      },
    },
  ],
});

/** Gemalto Hybrid Smartcard Reader 08E6:5743: two slots, T=0 only, dwMaxIFSD 0. `readers/Gemalto_HybridSmartcardReader.txt`. */
export const GEMALTO_HYBRID = build({
  name: 'Gemalto Hybrid Smartcard Reader',
  source: 'readers/Gemalto_HybridSmartcardReader.txt',
  vendorId: 0x08e6,
  productId: 0x5743,
  interfaces: [
    {
      ...CCID_IF,
      numEndpoints: 3,
      placement: 'interface',
      fields: {
        bcdCCID: 0x0110,
        bMaxSlotIndex: 1,
        bVoltageSupport: 0x02,
        dwProtocols: 0x00000001,
        dwDefaultClock: 3686,
        dwMaximumClock: 3686,
        bNumClockSupported: 0,
        dwDataRate: 9910,
        dwMaxDataRate: 9910,
        bNumDataRatesSupported: 0,
        dwMaxIFSD: 0,
        dwSynchProtocols: 0,
        dwMechanical: 0,
        dwFeatures: 0x00010070,
        dwMaxCCIDMessageLength: 271,
        bClassGetResponse: 0x00,
        bClassEnvelope: 0x00,
        wLcdLayout: 0,
        bPINSupport: 0,
        bMaxCCIDBusySlots: 1,
      },
    },
  ],
});

/** ActivCard USB Reader V2 09C3:0008: class 0x0B, subclass 1, protocol 1 (ICCD version A). `readers/ActivCardV2.txt`. */
export const ACTIVCARD_V2_ICCD = build({
  name: 'ActivCard USB Reader V2',
  source: 'readers/ActivCardV2.txt',
  vendorId: 0x09c3,
  productId: 0x0008,
  interfaces: [
    {
      ...CCID_IF,
      interfaceSubclass: 1,
      interfaceProtocol: 1,
      iInterface: 4,
      numEndpoints: 3,
      placement: 'interface',
      fields: {
        bcdCCID: 0x0100,
        bMaxSlotIndex: 0,
        bVoltageSupport: 0x01,
        dwProtocols: 0x00000003,
        dwDefaultClock: 4000,
        dwMaximumClock: 4000,
        bNumClockSupported: 0,
        dwDataRate: 9600,
        dwMaxDataRate: 115200,
        bNumDataRatesSupported: 0,
        dwMaxIFSD: 252,
        dwSynchProtocols: 0,
        dwMechanical: 0,
        dwFeatures: 0x000100ba,
        dwMaxCCIDMessageLength: 263,
        bClassGetResponse: 0xff,
        bClassEnvelope: 0xff,
        wLcdLayout: 0,
        bPINSupport: 0,
        bMaxCCIDBusySlots: 1,
      },
    },
  ],
});

/** Every bulk CCID reader the driver can use (the ICCD token, driven over the control pipe, is separate). */
export const USABLE_READERS: readonly ReaderFixture[] = [
  GEMPC_TWIN,
  RUTOKEN_ECP,
  OMNIKEY_3X21,
  SCR331_DI,
  GEMPC_PINPAD,
  SPR532,
  O2MICRO_OZ776,
  REINER_SCT,
  BLUDRIVE_II,
  VERISIGN_SECURE_TOKEN,
  ACR1252_DUAL,
  GEMALTO_HYBRID,
];
