/**
 * Simulated reader profiles, each rebuilt from a real reader's descriptor dump in libccid's `readers/` folder
 * (LudovicRousseau/CCID, decoded by libccid's `parse` tool). The class descriptor fields are the printed values
 * (clocks in kHz, dwProtocols' two 16-bit halves joined); the clock and data-rate tables are what the reader answered
 * to GET_CLOCK_FREQUENCIES / GET_DATA_RATES in the same dump (null: the dump says the reader does not support the
 * request, so the simulated control pipe stalls). Endpoint packet sizes are not in the dumps: bulk 64 bytes,
 * interrupt 8 bytes (enough for 1 + ⌈2·slots/8⌉ bytes, CCID 1.1 §6.3.1).
 */
import { PC_TO_RDR } from './ccid-constants.js';

/** The 54-byte CCID class descriptor's fields (CCID 1.1 §5.1, Table 5.1-1), in wire order. */
export interface CcidDescriptorFields {
  bLength: number;
  bDescriptorType: number;
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

export interface ReaderQuirks {
  /**
   * Command types before whose response the reader puts a zero-length packet on bulk-IN, as some Gemalto
   * IDBridge K30 / GemPC Twin firmware 2.00 chipsets do on USB 3 ports (libccid `ccid.c`, ZLP fixup for
   * bcdDevice 0x0200; the driver drains one ZLP before each write when built with --enable-zlp).
   */
  zlpBeforeResponseTo?: readonly number[];
}

export interface ReaderProfile {
  /** Short id, the key in PROFILES. */
  id: string;
  /** The libccid dump the values come from. */
  source: string;
  vendorId: number;
  productId: number;
  /** bcdDevice, e.g. 0x0100 for "1.00". */
  bcdDevice: number;
  manufacturer: string | null;
  product: string | null;
  serialNumber: string | null;
  /** iInterface string; null when the dump could not read one. */
  interfaceName: string | null;
  /** 0x0B (CCID) or 0xFF (vendor class carrying the 54-byte CCID descriptor). */
  interfaceClass: number;
  /** bInterfaceSubClass (default 0). */
  interfaceSubclass?: number;
  /** bInterfaceProtocol (default 0 = CCID; 1 = ICCD version A, 2 = ICCD version B: ISO/IEC 7816-12 §5.3). */
  interfaceProtocol?: number;
  /** Where the class descriptor sits in the configuration descriptor. */
  descriptorPlacement: 'interface' | 'endpoint';
  /** Whether the interface has an interrupt-IN endpoint (slot change notifications). */
  interruptEndpoint: boolean;
  /** Whether it has the bulk-OUT/bulk-IN pair (default true; ICCD tokens talk on the control pipe only). */
  bulkEndpoints?: boolean;
  ccid: CcidDescriptorFields;
  /** GET_CLOCK_FREQUENCIES answer in kHz, or null when the reader stalls the request. */
  clockFrequencies: readonly number[] | null;
  /** GET_DATA_RATES answer in bps, or null when the reader stalls the request. */
  dataRates: readonly number[] | null;
  quirks?: ReaderQuirks;
}

// Marked pure for the bundler: a bundle that uses none of these profiles (the connector's worker) leaves them out.
/* @__NO_SIDE_EFFECTS__ */
function descriptor(fields: Omit<CcidDescriptorFields, 'bLength' | 'bDescriptorType'>): CcidDescriptorFields {
  return { bLength: 0x36, bDescriptorType: 0x21, ...fields };
}

const GEMPC_DATA_RATES = [
  10753, 14337, 15625, 17204, 20833, 21505, 23438, 25806, 28674, 31250, 32258, 34409, 39063, 41667, 43011, 46875, 52083,
  53763, 57348, 62500, 64516, 68817, 71685, 78125, 83333, 86022, 93750, 104167, 107527, 114695, 125000, 129032, 143369,
  156250, 166667, 172043, 215054, 229391, 250000, 344086,
] as const;

const ALCOR_DATA_RATES = [
  1807, 1989, 2409, 2487, 3315, 3613, 3978, 4818, 4973, 6631, 7227, 7957, 9635, 9946, 13262, 14453, 15914, 19271, 19892,
  21680, 23871, 26523, 28906, 29839, 31828, 36133, 38542, 39785, 43359, 48177, 49731, 53047, 57813, 59677, 63656, 66308,
  72266, 77083, 79570, 86719, 96354, 99462, 106093, 115625, 119355, 132616, 144531, 154167, 159140, 198925, 212186,
  231250, 318280,
] as const;

/**
 * TPDU, T=0/T=1, 1 slot: Gemalto GemPC Twin 08E6:3437. Exported on its own for the demo reader, so that a bundle with
 * only the demo reader (the connector's worker) leaves the other profiles out.
 */
export const GEMPC_TWIN: ReaderProfile = {
  id: 'gempc-twin',
  source: 'LudovicRousseau/CCID readers/GemPCTwin.txt',
  vendorId: 0x08e6,
  productId: 0x3437,
  bcdDevice: 0x0100,
  manufacturer: 'Gemplus',
  product: 'USB SmartCard Reader',
  serialNumber: null,
  interfaceName: null,
  interfaceClass: 0x0b,
  descriptorPlacement: 'interface',
  interruptEndpoint: true,
  ccid: descriptor({
    bcdCCID: 0x0100,
    bMaxSlotIndex: 0,
    bVoltageSupport: 0x07,
    dwProtocols: 0x0003,
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
    wLcdLayout: 0x0000,
    bPINSupport: 0x00,
    bMaxCCIDBusySlots: 1,
  }),
  clockFrequencies: [4000],
  dataRates: GEMPC_DATA_RATES,
};

/** Short APDU level with automatic voltage, PPS and IFSD: Alcor Micro AU9520 058F:9520. */
const shortApdu: ReaderProfile = {
  id: 'short-apdu',
  source: 'LudovicRousseau/CCID readers/AU9520.txt',
  vendorId: 0x058f,
  productId: 0x9520,
  bcdDevice: 0x0102,
  manufacturer: 'Generic',
  product: 'PCSC Smartcard Reader',
  serialNumber: null,
  interfaceName: null,
  interfaceClass: 0x0b,
  descriptorPlacement: 'interface',
  interruptEndpoint: true,
  ccid: descriptor({
    bcdCCID: 0x0100,
    bMaxSlotIndex: 0,
    bVoltageSupport: 0x03,
    dwProtocols: 0x0003,
    dwDefaultClock: 3700,
    dwMaximumClock: 3700,
    bNumClockSupported: 1,
    dwDataRate: 9946,
    dwMaxDataRate: 318280,
    bNumDataRatesSupported: 53,
    dwMaxIFSD: 254,
    dwSynchProtocols: 0x07,
    dwMechanical: 0,
    dwFeatures: 0x000204be,
    dwMaxCCIDMessageLength: 271,
    bClassGetResponse: 0xff,
    bClassEnvelope: 0xff,
    wLcdLayout: 0x0000,
    bPINSupport: 0x00,
    bMaxCCIDBusySlots: 1,
  }),
  clockFrequencies: [3700],
  dataRates: ALCOR_DATA_RATES,
};

/** Short and extended APDU level: HID Global OMNIKEY 3x21 076B:3031. */
const extendedApdu: ReaderProfile = {
  id: 'extended-apdu',
  source: 'LudovicRousseau/CCID readers/HID_Global_OMNIKEY_3x21_Smart_Card_Reader.txt',
  vendorId: 0x076b,
  productId: 0x3031,
  bcdDevice: 0x0106,
  manufacturer: 'HID Global',
  product: 'OMNIKEY 3x21 Smart Card Reader',
  serialNumber: null,
  interfaceName: 'OMNIKEY 3x21 Smart Card Reader',
  interfaceClass: 0x0b,
  descriptorPlacement: 'interface',
  interruptEndpoint: true,
  ccid: descriptor({
    bcdCCID: 0x0110,
    bMaxSlotIndex: 0,
    bVoltageSupport: 0x07,
    dwProtocols: 0x0003,
    dwDefaultClock: 4800,
    dwMaximumClock: 4800,
    bNumClockSupported: 1,
    dwDataRate: 10752,
    dwMaxDataRate: 412903,
    bNumDataRatesSupported: 106,
    dwMaxIFSD: 254,
    dwSynchProtocols: 0x07,
    dwMechanical: 0,
    dwFeatures: 0x000407ba,
    dwMaxCCIDMessageLength: 271,
    bClassGetResponse: 0xff,
    bClassEnvelope: 0xff,
    wLcdLayout: 0x0000,
    bPINSupport: 0x00,
    bMaxCCIDBusySlots: 1,
  }),
  clockFrequencies: [4800],
  dataRates: [
    10752, 21505, 43010, 86021, 172043, 344086, 129032, 215053, 12903, 25806, 51612, 103225, 206451, 412903, 154838,
    258064, 7168, 14336, 28673, 57347, 114695, 229390, 143369, 8602, 17204, 34408, 68817, 137634, 275268, 5376, 64516,
    107526, 6451, 77419, 8064, 16129, 32258, 96774, 161290, 3584, 4301, 2688, 53763, 3225, 38709, 4032, 48387, 80645,
    2150, 2580, 5161, 10322, 20645, 41290, 82580, 30967, 7812, 15625, 31250, 62500, 125000, 250000, 93750, 156250, 9375,
    18750, 37500, 75000, 150000, 300000, 600000, 112500, 187500, 5208, 10416, 20833, 41666, 83333, 166666, 104166, 6250,
    12500, 25000, 50000, 100000, 200000, 3906, 46875, 78125, 4687, 56250, 5859, 11718, 23437, 70312, 117187, 2604,
    52083, 3125, 1953, 39062, 2343, 28125, 2929, 35156, 58593,
  ],
};

/** Two slots, one busy at a time, short APDU: Alcor Micro AU9522 058F:9522. */
const twoSlot: ReaderProfile = {
  ...shortApdu,
  id: 'two-slot',
  source: 'LudovicRousseau/CCID readers/AlcorMicro_AU9522.txt',
  productId: 0x9522,
  ccid: { ...shortApdu.ccid, bMaxSlotIndex: 1 },
};

/** PIN pad with a 2×16 LCD, TPDU: Gemplus GemPC Pinpad v2 08E6:3478. */
const pinpad: ReaderProfile = {
  id: 'pinpad',
  source: 'LudovicRousseau/CCID readers/GemPCPinpadv2.txt',
  vendorId: 0x08e6,
  productId: 0x3478,
  bcdDevice: 0x0211,
  manufacturer: 'Gemplus',
  product: 'USB GemPCPinpad SmartCard Reader',
  serialNumber: null,
  interfaceName: null,
  interfaceClass: 0x0b,
  descriptorPlacement: 'interface',
  interruptEndpoint: true,
  ccid: descriptor({
    bcdCCID: 0x0110,
    bMaxSlotIndex: 0,
    bVoltageSupport: 0x07,
    dwProtocols: 0x0003,
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
    wLcdLayout: 0x0210,
    bPINSupport: 0x03,
    bMaxCCIDBusySlots: 1,
  }),
  clockFrequencies: [4000],
  dataRates: [...GEMPC_DATA_RATES, 500000],
};

/**
 * Vendor class 0xFF carrying the CCID descriptor, PIN pad, automatic voltage and PPS: SCM SPR532 04E6:E003. The dump
 * prints iInterface 4 without its text, so the simulated interface has no string.
 */
const vendorClass: ReaderProfile = {
  id: 'vendor-class',
  source: 'LudovicRousseau/CCID readers/SPR532.txt',
  vendorId: 0x04e6,
  productId: 0xe003,
  bcdDevice: 0x0510,
  manufacturer: 'SCM Microsystems Inc.',
  product: 'SPRx32 USB Smart Card Reader',
  serialNumber: null,
  interfaceName: null,
  interfaceClass: 0xff,
  descriptorPlacement: 'interface',
  interruptEndpoint: true,
  ccid: descriptor({
    bcdCCID: 0x0100,
    bMaxSlotIndex: 0,
    bVoltageSupport: 0x01,
    dwProtocols: 0x0003,
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
    wLcdLayout: 0x0000,
    bPINSupport: 0x03,
    bMaxCCIDBusySlots: 1,
  }),
  clockFrequencies: null,
  dataRates: null,
};

/**
 * Class descriptor after the last endpoint descriptor (libccid `ccid_usb.c` O2MICRO_OZ776_PATCH names the Oz776,
 * Reiner SCT and Bludrive II): Blutronics Bludrive II CCID 1B0E:1078, TPDU.
 */
const descriptorAfterEndpoint: ReaderProfile = {
  id: 'descriptor-after-endpoint',
  source: 'LudovicRousseau/CCID readers/BludriveII.txt',
  vendorId: 0x1b0e,
  productId: 0x1078,
  bcdDevice: 0x0010,
  manufacturer: 'BLUTRONICS',
  product: 'BLUDRIVE II CCID',
  serialNumber: null,
  interfaceName: null,
  interfaceClass: 0x0b,
  descriptorPlacement: 'endpoint',
  interruptEndpoint: true,
  ccid: descriptor({
    bcdCCID: 0x0100,
    bMaxSlotIndex: 0,
    bVoltageSupport: 0x01,
    dwProtocols: 0x0003,
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
    wLcdLayout: 0x0000,
    bPINSupport: 0x00,
    bMaxCCIDBusySlots: 1,
  }),
  clockFrequencies: [3580],
  dataRates: [9600, 12800, 13950, 18600, 19200, 23040, 27900, 28800, 37200, 38400, 55800, 57600, 74400, 111600, 115200],
};

/** Bulk-IN and bulk-OUT only (no interrupt endpoint), TPDU: Athena IDProtect Key v2 0DC3:0900. */
const noInterrupt: ReaderProfile = {
  id: 'no-interrupt',
  source: 'LudovicRousseau/CCID readers/Athena_IDProtect_Key.txt',
  vendorId: 0x0dc3,
  productId: 0x0900,
  bcdDevice: 0x0200,
  manufacturer: 'Athena',
  product: 'IDProtect Key v2',
  serialNumber: null,
  interfaceName: 'Main Interface',
  interfaceClass: 0x0b,
  descriptorPlacement: 'interface',
  interruptEndpoint: false,
  ccid: descriptor({
    bcdCCID: 0x0110,
    bMaxSlotIndex: 0,
    bVoltageSupport: 0x07,
    dwProtocols: 0x0003,
    dwDefaultClock: 4000,
    dwMaximumClock: 4000,
    bNumClockSupported: 0,
    dwDataRate: 10752,
    dwMaxDataRate: 10752,
    bNumDataRatesSupported: 0,
    dwMaxIFSD: 252,
    dwSynchProtocols: 0,
    dwMechanical: 0,
    dwFeatures: 0x0001023c,
    dwMaxCCIDMessageLength: 271,
    bClassGetResponse: 0x00,
    bClassEnvelope: 0x00,
    wLcdLayout: 0x0000,
    bPINSupport: 0x00,
    bMaxCCIDBusySlots: 1,
  }),
  clockFrequencies: null,
  dataRates: null,
};

/**
 * Gemalto IDBridge K30 08E6:3438, firmware 2.00 (supported_readers.txt lists it as "Gemalto IDBridge K30
 * (Gemalto_IDBridge_K30.txt)"). The dump says GET_CLOCK_FREQUENCIES is not supported. Quirk: zero-length bulk-IN
 * packets before responses (which responses is not documented; we put one before XfrBlock and IccPowerOn answers).
 */
const k30: ReaderProfile = {
  id: 'k30',
  source: 'LudovicRousseau/CCID readers/Gemalto_IDBridge_K30.txt',
  vendorId: 0x08e6,
  productId: 0x3438,
  bcdDevice: 0x0200,
  manufacturer: 'Gemalto',
  product: 'USB SmartCard Reader',
  serialNumber: null,
  interfaceName: null,
  interfaceClass: 0x0b,
  descriptorPlacement: 'interface',
  interruptEndpoint: true,
  ccid: descriptor({
    bcdCCID: 0x0101,
    bMaxSlotIndex: 0,
    bVoltageSupport: 0x07,
    dwProtocols: 0x0003,
    dwDefaultClock: 4800,
    dwMaximumClock: 4800,
    bNumClockSupported: 0,
    dwDataRate: 12903,
    dwMaxDataRate: 825806,
    bNumDataRatesSupported: 53,
    dwMaxIFSD: 254,
    dwSynchProtocols: 0,
    dwMechanical: 0,
    dwFeatures: 0x00010230,
    dwMaxCCIDMessageLength: 271,
    bClassGetResponse: 0x00,
    bClassEnvelope: 0x00,
    wLcdLayout: 0x0000,
    bPINSupport: 0x00,
    bMaxCCIDBusySlots: 1,
  }),
  clockFrequencies: null,
  dataRates: [
    12903, 25806, 51613, 103226, 206452, 412903, 825806, 154839, 258065, 17204, 34409, 68817, 137634, 275269, 550538,
    172043, 12403, 24806, 49612, 99225, 198450, 396899, 74419, 124031, 86022, 38710, 64516, 10323, 20645, 41290, 82581,
    165161, 30968, 18750, 37500, 75000, 150000, 300000, 600000, 112500, 187500, 12500, 25000, 50000, 100000, 200000,
    400000, 125000, 56250, 93750, 62500, 28125, 46875,
  ],
  quirks: { zlpBeforeResponseTo: [PC_TO_RDR.XfrBlock, PC_TO_RDR.IccPowerOn] },
};

/**
 * Character level (dwFeatures exchange level 0: the reader moves characters, the host runs T=0's procedure bytes and
 * frames T=1 blocks): O2Micro OZ776 0B97:7762, its class descriptor after the last endpoint. One of the six
 * character-level readers among libccid's dumps; the dump lists 4000 kHz and 9600 bps.
 */
const characterLevel: ReaderProfile = {
  id: 'character-level',
  source: 'LudovicRousseau/CCID readers/Oz776S.txt',
  vendorId: 0x0b97,
  productId: 0x7762,
  bcdDevice: 0x0110,
  manufacturer: 'O2',
  product: 'O2Micro CCID SC Reader',
  serialNumber: null,
  interfaceName: null,
  interfaceClass: 0x0b,
  descriptorPlacement: 'endpoint',
  interruptEndpoint: true,
  ccid: descriptor({
    bcdCCID: 0x0100,
    bMaxSlotIndex: 0,
    bVoltageSupport: 0x03,
    dwProtocols: 0x0003,
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
    wLcdLayout: 0x0000,
    bPINSupport: 0x00,
    bMaxCCIDBusySlots: 1,
  }),
  clockFrequencies: [4000],
  dataRates: [9600],
};

export type ProfileId =
  | 'gempc-twin'
  | 'short-apdu'
  | 'extended-apdu'
  | 'two-slot'
  | 'pinpad'
  | 'vendor-class'
  | 'descriptor-after-endpoint'
  | 'no-interrupt'
  | 'k30'
  | 'character-level';

export const PROFILES: Readonly<Record<ProfileId, ReaderProfile>> = {
  'gempc-twin': GEMPC_TWIN,
  'short-apdu': shortApdu,
  'extended-apdu': extendedApdu,
  'two-slot': twoSlot,
  pinpad,
  'vendor-class': vendorClass,
  'descriptor-after-endpoint': descriptorAfterEndpoint,
  'no-interrupt': noInterrupt,
  k30,
  'character-level': characterLevel,
};

export function isProfileId(id: string): id is ProfileId {
  return Object.prototype.hasOwnProperty.call(PROFILES, id);
}

/**
 * ICCD version A token (ISO/IEC 7816-12 §7), on a vendor-class interface with no endpoint at all: SchlumbergerSema
 * Cyberflex Access (e-gate) 0973:0003, `readers/e-gate.txt` (bInterfaceClass 0xFF, bInterfaceProtocol 1, T=0 only,
 * character level as reported, dwMaxCCIDMessageLength 256).
 */
export const ICCD_A_EGATE: ReaderProfile = {
  id: 'iccd-a',
  source: 'LudovicRousseau/CCID readers/e-gate.txt',
  vendorId: 0x0973,
  productId: 0x0003,
  bcdDevice: 0x0100,
  manufacturer: 'SchlumbergerSema',
  product: 'SchlumbergerSema Cyberflex Access',
  serialNumber: null,
  interfaceName: null,
  interfaceClass: 0xff,
  interfaceProtocol: 1,
  descriptorPlacement: 'interface',
  interruptEndpoint: false,
  bulkEndpoints: false,
  ccid: descriptor({
    bcdCCID: 0x0110,
    bMaxSlotIndex: 0,
    bVoltageSupport: 0x01,
    dwProtocols: 0x0001,
    dwDefaultClock: 3580,
    dwMaximumClock: 3580,
    bNumClockSupported: 0,
    dwDataRate: 9600,
    dwMaxDataRate: 9600,
    bNumDataRatesSupported: 0,
    dwMaxIFSD: 0,
    dwSynchProtocols: 0,
    dwMechanical: 0,
    dwFeatures: 0x00000840,
    dwMaxCCIDMessageLength: 256,
    bClassGetResponse: 0xff,
    bClassEnvelope: 0xff,
    wLcdLayout: 0x0000,
    bPINSupport: 0x00,
    bMaxCCIDBusySlots: 1,
  }),
  clockFrequencies: null,
  dataRates: null,
};

/**
 * ICCD version B token (ISO/IEC 7816-12 §8), class 0x0B, control pipe only: Aktiv Rutoken Magistra 0A89:0060,
 * `readers/Aktiv_Rutoken_Magistra.txt` (bInterfaceProtocol 2, T=1, short APDU level as reported).
 */
export const ICCD_B_RUTOKEN_MAGISTRA: ReaderProfile = {
  id: 'iccd-b',
  source: 'LudovicRousseau/CCID readers/Aktiv_Rutoken_Magistra.txt',
  vendorId: 0x0a89,
  productId: 0x0060,
  bcdDevice: 0x0102,
  manufacturer: 'Aktiv Co., ProgramPark',
  product: 'Rutoken Magistra',
  serialNumber: null,
  interfaceName: null,
  interfaceClass: 0x0b,
  interfaceProtocol: 2,
  descriptorPlacement: 'interface',
  interruptEndpoint: false,
  bulkEndpoints: false,
  ccid: descriptor({
    bcdCCID: 0x0100,
    bMaxSlotIndex: 0,
    bVoltageSupport: 0x01,
    dwProtocols: 0x0002,
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
    dwMaxCCIDMessageLength: 261,
    bClassGetResponse: 0xff,
    bClassEnvelope: 0xff,
    wLcdLayout: 0x0000,
    bPINSupport: 0x00,
    bMaxCCIDBusySlots: 1,
  }),
  clockFrequencies: null,
  dataRates: null,
};
