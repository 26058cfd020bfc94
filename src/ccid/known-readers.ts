/**
 * Readers whose quirks the driver must honour, keyed by USB VID:PID.
 *
 * Facts from libccid (LudovicRousseau/CCID): `src/ccid.h` (the product ids), `src/ccid.c` `ccid_open_hack_pre` /
 * `ccid_open_hack_post` (descriptor fix-ups and open-time work), `src/ccid_usb.c` (`Bogus_firmwares`, ZLP),
 * `src/commands.c` (`SecurePINVerify` / `SecurePINModify` frame fixes), `src/ifdhandler.c` (`IFDHControl` part 10
 * answers, power and protocol special cases). Reader names are not here: they come from libccid's list
 * (`reader-names.ts`, generated), like every other reader's.
 *
 * The table is data: a quirk says what to do, the driver does it. `readerQuirks` resolves the firmware-dependent and
 * opt-in entries for one device.
 */
import { DriverError, IFD } from '../ifd/errors.js';
import type { ExchangeLevel } from './types.js';
import { libccidReaderName } from './reader-name.js';
import { hexNumber } from '../util/hex.js';

/** Fixes to a PC/SC PIN_VERIFY_STRUCTURE before it becomes a PC_to_RDR_Secure (libccid `SecurePINVerify`). */
export interface PinVerifyFixes {
  /** Force bNumberMessage to this value: the firmware rejects any other. */
  numberMessage?: number;
  /** Force bEntryValidationCondition to this value: the firmware rejects any other. */
  entryValidation?: number;
  /** Swap the two bytes of wPINMaxExtraDigit: the firmware reads them the other way round. */
  swapMaxExtraDigit?: boolean;
  /** Wait this long before sending, so the Enter key that started the operation is released first. */
  delayMs?: number;
  /**
   * With bmPINBlockString 0 and a 4-byte (case 1) APDU, send Escape 80 02 00 first: the reader otherwise pads the PIN
   * it appends, and the card gets a wrong PIN.
   */
  unpaddedPinEscape?: readonly number[];
}

/** Fixes to a PC/SC PIN_MODIFY_STRUCTURE (libccid `SecurePINModify`). */
export interface PinModifyFixes {
  /**
   * The firmware wants all three bMsgIndex bytes, zeroed, and bNumberMessage 0 in the CCID frame; otherwise it
   * rejects the command (SPR532, Cherry ST-2000 have no display).
   */
  allMessageIndexesZeroed?: boolean;
  /** Force bNumberMessage 3 (with bNumberMessage < 3 the card answers 6B 80). */
  numberMessageThree?: boolean;
  /** Force bEntryValidationCondition to this value: the firmware rejects any other. */
  entryValidation?: number;
  /** Replace bNumberMessage 0 by this value: the firmware rejects 0 but accepts it. */
  zeroNumberMessageAs?: number;
  /**
   * Gemalto firmware bug: it reads bMsgIndex2 and bMsgIndex3 even when bNumberMessage says they are absent, so all
   * three are sent while bNumberMessage keeps its real value. Fixed firmwares report bNumberMessageFix in their
   * GET_FIRMWARE_FEATURES answer (the driver then passes `gemaltoNumberMessageFixed`).
   */
  allMessageIndexesKeepCount?: boolean;
}

/** PIN properties libccid reports for a reader instead of what its descriptor implies. */
export interface PinPropertyOverrides {
  /** bEntryValidationCondition in PIN_PROPERTIES (libccid's default is 0x07). */
  entryValidation?: number;
  /** GET_TLV_PROPERTIES bMinPINSize / bMaxPINSize / bEntryValidationCondition entries. */
  tlv?: { minPinSize: number; maxPinSize: number; entryValidation?: number };
}

/** Quirks of one reader as stored in the table (some apply only to some firmware versions). */
export interface ReaderQuirkSpec {
  /**
   * The reader sends bogus zero-length bulk-IN packets (on USB 3 ports); without draining one (10 ms read) before each
   * write, the next response read returns the empty packet and the exchange fails. Opt-in (libccid `--enable-zlp`): the
   * same VID:PID and firmware also ship as the Gemalto K50, which the drain breaks.
   */
  zlp?: boolean;
  /** bcdDevice values the ZLP bug shows on (libccid: only 2.00). */
  zlpFirmware?: readonly number[];
  /** Firmware (bcdDevice) below this is too buggy to use: libccid refuses the reader unless told otherwise. */
  minimumFirmware?: number;
  /** bPINSupport lies: treat it as this value (0 = no usable PIN pad). */
  pinSupport?: number;
  /** dwFeatures' exchange level lies: use this one. */
  exchangeLevel?: ExchangeLevel;
  /** Apply `exchangeLevel` only to these firmwares, and only when the descriptor reports `exchangeLevelIfReported`. */
  exchangeLevelFirmware?: readonly number[];
  exchangeLevelIfReported?: ExchangeLevel;
  /** dwMaxIFSD lies: use this value. */
  maxIfsd?: number;
  /** The reader cannot run faster than this (bps): clamp dwMaxDataRate and drop faster entries of its rate table. */
  maxDataRate?: number;
  /** The reader needs this long (ms) after open before it answers. */
  openDelayMs?: number;
  /** Timeout (ms) for the resynchronising GetSlotStatus at open (libccid default 100 ms is too short for it). */
  openTimeoutMs?: number;
  /** Default command timeout (ms) for this reader (libccid default 3000 ms). */
  defaultTimeoutMs?: number;
  /** Extra time (ms) added to every T=1 timeout (on-board key generation takes minutes). */
  extraT1TimeoutMs?: number;
  /** Set dwFeatures' "automatic IFSD exchange" bit: the reader's card breaks on S(IFS request). */
  autoIfsd?: boolean;
  /** Apply `autoIfsd` only to these firmwares. */
  autoIfsdFirmware?: readonly number[];
  /** The reader cannot do PPS: keep the card's default protocol. */
  noPps?: boolean;
  /** When SetParameters fails, reset the card and go on without it (instead of failing the protocol selection). */
  resetOnSetParametersFailure?: boolean;
  /** The card must be powered off before each power on. */
  powerOffBeforePowerOn?: boolean;
  /** PC_to_RDR_Escape is allowed without the user's option (the reader talks to cards in the field through it). */
  escapeAlwaysAllowed?: boolean;
  /** Offer FEATURE_MCT_READER_DIRECT (SECODER commands over Escape). */
  mctReaderDirect?: boolean;
  /** Load the PIN pad's message strings (Escape B2 A0 00 4D 4C …) at open; failure fails the open. */
  loadPinpadStrings?: boolean;
  /** After a failed PowerOn with bError 0xBB (EMV mode protocol error), send Escape 1F 01 and retry. */
  emvModeEscape?: readonly number[];
  pinProperties?: PinPropertyOverrides;
  /** `pinProperties.tlv` applies only to these firmwares. */
  pinPropertiesTlvFirmware?: readonly number[];
  pinVerify?: PinVerifyFixes;
  pinModify?: PinModifyFixes;
}

export interface KnownReader {
  vendorId: number;
  productId: number;
  quirks: ReaderQuirkSpec;
  /** Where in libccid the quirk is. */
  source: string;
}

/** Quirks resolved for one device (firmware and options applied). */
export interface ReaderQuirks {
  /** Drain a zero-length bulk-IN packet (10 ms) before each bulk-OUT write. */
  zlp: boolean;
  pinSupport?: number;
  exchangeLevel?: ExchangeLevel;
  maxIfsd?: number;
  maxDataRate?: number;
  openDelayMs?: number;
  openTimeoutMs?: number;
  defaultTimeoutMs?: number;
  extraT1TimeoutMs?: number;
  autoIfsd?: boolean;
  noPps?: boolean;
  resetOnSetParametersFailure?: boolean;
  powerOffBeforePowerOn?: boolean;
  escapeAlwaysAllowed?: boolean;
  mctReaderDirect?: boolean;
  loadPinpadStrings?: boolean;
  emvModeEscape?: readonly number[];
  /**
   * Gemalto readers (VID 08E6): ask GET_FIRMWARE_FEATURES (Escape 6A) at open, report the firmware id (Escape 02) as
   * GET_TLV_PROPERTIES sFirmwareID, and always allow the one-byte Escape 02 (firmware version).
   */
  gemaltoFirmware?: boolean;
  pinProperties?: PinPropertyOverrides;
  pinVerify?: PinVerifyFixes;
  pinModify?: PinModifyFixes;
}

const GEMALTO = 0x08e6;

const ENTRIES: readonly KnownReader[] = [
  // --- Zero-length packets (ccid.c ccid_open_hack_pre, ENABLE_ZLP) --------------------------------------------------
  {
    vendorId: 0x08e6,
    productId: 0x3437,
    // Also sold as Gemalto IDBridge CT30 and K50 (same VID:PID); CT30 firmware 2.00 sends zero-length packets.
    quirks: { zlp: true, zlpFirmware: [0x0200] },
    source: 'libccid ccid.h GEMPCTWIN; ccid.c ccid_open_hack_pre (ENABLE_ZLP, bcdDevice 2.00)',
  },
  {
    vendorId: 0x08e6,
    productId: 0x3438,
    // Also sold as Gemalto IDBridge K30.
    quirks: { zlp: true, zlpFirmware: [0x0200] },
    source: 'libccid ccid.h GEMPCKEY; ccid.c ccid_open_hack_pre (ENABLE_ZLP, bcdDevice 2.00)',
  },
  {
    vendorId: 0x413c,
    productId: 0x2101,
    quirks: { zlp: true, zlpFirmware: [0x0200], pinVerify: { numberMessage: 0, delayMs: 250 } },
    source: 'libccid ccid.h DELLSCRK; ccid.c ccid_open_hack_pre (ENABLE_ZLP); commands.c SecurePINVerify',
  },
  {
    vendorId: 0x413c,
    productId: 0x2100,
    quirks: { pinVerify: { numberMessage: 0, delayMs: 250, swapMaxExtraDigit: true } },
    source: 'libccid ccid.h DELLSK; commands.c SecurePINVerify',
  },
  // --- PIN pads -------------------------------------------------------------------------------------------------------
  {
    vendorId: 0x08e6,
    productId: 0x3478,
    quirks: {
      loadPinpadStrings: true,
      pinProperties: { entryValidation: 0x02, tlv: { minPinSize: 4, maxPinSize: 8, entryValidation: 0x02 } },
      // libccid reports the PIN sizes only for the V1 firmware.
      pinPropertiesTlvFirmware: [0x0100],
      pinVerify: { numberMessage: 0x01, entryValidation: 0x02 },
      pinModify: { entryValidation: 0x02 },
    },
    source: 'libccid ccid.h GEMPCPINPAD; ccid.c ccid_open_hack_post; ifdhandler.c IFDHControl; commands.c SecurePIN*',
  },
  {
    vendorId: 0x0982,
    productId: 0x0008,
    quirks: {
      loadPinpadStrings: true,
      pinProperties: { entryValidation: 0x02, tlv: { minPinSize: 4, maxPinSize: 8, entryValidation: 0x02 } },
      pinVerify: { numberMessage: 0x01, entryValidation: 0x02 },
      // A Gemalto firmware under another VID: it has the Gemalto bMsgIndex bug.
      pinModify: { entryValidation: 0x02, allMessageIndexesKeepCount: true },
    },
    source: 'libccid ccid.h VEGAALPHA; ccid.c ccid_open_hack_post; ifdhandler.c IFDHControl; commands.c SecurePIN*',
  },
  {
    vendorId: 0x04e6,
    productId: 0xe003,
    quirks: {
      minimumFirmware: 0x0510,
      pinVerify: { unpaddedPinEscape: [0x80, 0x02, 0x00] },
      pinModify: { allMessageIndexesZeroed: true },
    },
    source: 'libccid ccid.h SPR532; ccid_usb.c Bogus_firmwares; commands.c SecurePINVerify/SecurePINModify',
  },
  {
    vendorId: 0x046a,
    productId: 0x003e,
    quirks: {
      pinProperties: { entryValidation: 0x02, tlv: { minPinSize: 0, maxPinSize: 25, entryValidation: 0x02 } },
      pinModify: { allMessageIndexesZeroed: true },
    },
    source: 'libccid ccid.h CHERRYST2000; ifdhandler.c IFDHControl; commands.c SecurePINModify',
  },
  {
    vendorId: 0x046a,
    productId: 0x0010,
    quirks: { pinModify: { numberMessageThree: true } },
    source: 'libccid ccid.h CHERRYXX44; commands.c SecurePINModify',
  },
  {
    vendorId: 0x046a,
    productId: 0x00a1,
    quirks: {
      // Firmware 1.00 in short APDU mode returns at most 128 bytes for a T=1 case 2 APDU and chains the rest.
      exchangeLevel: 'extended-apdu',
      exchangeLevelFirmware: [0x0100],
      exchangeLevelIfReported: 'short-apdu',
      pinProperties: { tlv: { minPinSize: 0, maxPinSize: 32 } },
      pinModify: { zeroNumberMessageAs: 0xff },
    },
    source: 'libccid ccid.h CHERRY_KC1000SC; ccid.c ccid_open_hack_post; ifdhandler.c; commands.c SecurePINModify',
  },
  {
    vendorId: 0x076b,
    productId: 0x3821,
    quirks: { pinProperties: { tlv: { minPinSize: 1, maxPinSize: 31 } } },
    source: 'libccid ccid.h HID_OMNIKEY_3821; ifdhandler.c IFDHControl GET_TLV_PROPERTIES',
  },
  // --- Descriptors that claim a PIN pad the reader does not have, or the wrong exchange level -----------------------
  ...[
    [0x076b, 0x3031, 'HID_OMNIKEY_3X21'],
    [0x076b, 0x3a21, 'HID_AVIATOR'],
    [0x076b, 0x6632, 'HID_OMNIKEY_6121'],
    [0x046a, 0x00a7, 'CHERRY_XX44'],
    [0x0bf8, 0x1024, 'FUJITSU_D323'],
  ].map(([vendorId, productId, id]): KnownReader => ({
    vendorId: vendorId as number,
    productId: productId as number,
    // The chip advertises a PIN pad the reader does not have (PIN entry would hang), and the firmware chains
    // responses like an extended APDU reader although it reports another level.
    quirks: { pinSupport: 0, exchangeLevel: 'extended-apdu' },
    source: `libccid ccid.h ${id as string}; ccid.c ccid_open_hack_post`,
  })),
  ...[
    [0x03f0, 0x1024, 'HPSMARTCARDKEYBOARD'],
    [0x03f0, 0x0036, 'HP_CCIDSMARTCARDKEYBOARD'],
    [0x0bf8, 0x1017, 'FUJITSUSMARTKEYB'],
    [0x04f2, 0x1469, 'CHICONYHPSKYLABKEYBOARD'],
    [0x0783, 0x0006, 'C3PO_LTC31_v2'],
    [0x25dd, 0x3111, 'BIT4ID_MINILECTOR'],
  ].map(([vendorId, productId, id]): KnownReader => ({
    vendorId: vendorId as number,
    productId: productId as number,
    // Keyboards: the "secure" PIN entry also sends the typed PIN to the host. Others: no PIN pad behind the claim.
    quirks: { pinSupport: 0 },
    source: `libccid ccid.h ${id as string}; ccid.c ccid_open_hack_post`,
  })),
  {
    vendorId: 0x0d46,
    productId: 0x3010,
    // The firmware does not support extended APDUs although dwFeatures says so.
    quirks: { exchangeLevel: 'short-apdu', mctReaderDirect: true },
    source: 'libccid ccid.h KOBIL_TRIBANK; ccid.c ccid_open_hack_post; ifdhandler.c IFDHControl',
  },
  {
    vendorId: 0x0d46,
    productId: 0x4289,
    quirks: { mctReaderDirect: true },
    source: 'libccid ccid.h KOBIL_MIDENTITY_VISUAL; ifdhandler.c IFDHControl',
  },
  {
    vendorId: 0x0d46,
    productId: 0x301d,
    // The German eID card it carries fails to power on unless powered off first.
    quirks: { powerOffBeforePowerOn: true },
    source: 'libccid ccid.h KOBIL_IDTOKEN; ifdhandler.c IFDHPowerICC',
  },
  {
    vendorId: 0x2f7c,
    productId: 0x6007,
    quirks: { exchangeLevel: 'extended-apdu' },
    source: 'libccid ccid.h DIEBOLDNIXDORF_PN7362AU; ccid.c ccid_open_hack_post (firmware uses chaining)',
  },
  {
    vendorId: 0x0529,
    productId: 0x0620,
    // Firmware 0.12 and 0.13 do not accept the IFSD negotiation: never send S(IFS request).
    quirks: { autoIfsd: true, autoIfsdFirmware: [0x0012, 0x0013] },
    source: 'libccid ccid.h SAFENET_ETOKEN_5100; ccid.c ccid_open_hack_post',
  },
  // --- Descriptor value fix-ups and timing ----------------------------------------------------------------------------
  {
    vendorId: 0x09be,
    productId: 0x0002,
    // dwMaxIFSD in the descriptor is wrong.
    quirks: { maxIfsd: 254 },
    source: 'libccid ccid.h MYSMARTPAD; ccid.c ccid_open_hack_pre',
  },
  ...[
    [0x0b97, 0x7762, 'OZ776'],
    [0x0b97, 0x7772, 'OZ776_7772'],
  ].map(([vendorId, productId, id]): KnownReader => ({
    vendorId: vendorId as number,
    productId: productId as number,
    // Faster rates fail; the reader cannot do PPS (libccid keeps the card's default protocol).
    quirks: { maxDataRate: 9600, noPps: true },
    source: `libccid ccid.h ${id as string}; ccid.c ccid_open_hack_pre; ifdhandler.c IFDHSetProtocolParameters`,
  })),
  {
    vendorId: 0x0b81,
    productId: 0x0200,
    // The firmware needs time to initialise and answers slowly.
    quirks: { openDelayMs: 1000, defaultTimeoutMs: 60_000 },
    source: 'libccid ccid.h CL1356D; ccid.c ccid_open_hack_pre',
  },
  ...[
    [0x09d8, 0x0427, 'ElatecTWN4_CCID_CDC'],
    [0x09d8, 0x0428, 'ElatecTWN4_CCID'],
    [0x072f, 0x2200, 'ACS_ACR122U'],
  ].map(([vendorId, productId, id]): KnownReader => ({
    vendorId: vendorId as number,
    productId: productId as number,
    // With no tag in the field the reader answers GetSlotStatus after up to 1 s.
    quirks: { openTimeoutMs: 1000, ...(id === 'ACS_ACR122U' ? { minimumFirmware: 0x0206 } : {}) },
    source: `libccid ccid.h ${id as string}; ccid.c ccid_open_hack_pre${
      id === 'ACS_ACR122U' ? '; ccid_usb.c Bogus_firmwares' : ''
    }`,
  })),
  {
    vendorId: 0x04e6,
    productId: 0x5293,
    // The reader needs 350 ms to answer; libccid restores the default timeout after open.
    quirks: { openTimeoutMs: 400 },
    source: 'libccid ccid.h SCM_SCL011; ccid.c ccid_open_hack_pre/post',
  },
  ...[
    [0x04e6, 0x5790, 'IDENTIV_uTrust3700F'],
    [0x04e6, 0x5791, 'IDENTIV_uTrust3701F'],
    [0x04e6, 0x5724, 'IDENTIV_uTrust4701F'],
  ].map(([vendorId, productId, id]): KnownReader => ({
    vendorId: vendorId as number,
    productId: productId as number,
    // Slow to answer at open (350 ms); libccid keeps the 4x default timeout afterwards too.
    quirks: { openTimeoutMs: 400, defaultTimeoutMs: 12_000 },
    source: `libccid ccid.h ${id as string}; ccid.c ccid_open_hack_pre`,
  })),
  {
    vendorId: 0x058f,
    productId: 0x9540,
    // Rates above 200 kbps fail; SetParameters may fail on cards it then talks to fine after a reset.
    quirks: { maxDataRate: 200_000, resetOnSetParametersFailure: true },
    source: 'libccid ccid.h ALCORMICRO_AU9540; ccid.c ccid_open_hack_pre; ifdhandler.c IFDHSetProtocolParameters',
  },
  {
    vendorId: 0x08e6,
    productId: 0x34d2,
    // On-board key generation takes minutes.
    quirks: { extraT1TimeoutMs: 5 * 60 * 1000 },
    source: 'libccid ccid.h THALES_FUSION_NFC; ifdhandler.c IFDHSetProtocolParameters',
  },
  {
    vendorId: 0x076b,
    productId: 0x5427,
    // APDUs to a card in the field without a card "inserted" go through Escape.
    quirks: { escapeAlwaysAllowed: true },
    source: 'libccid ccid.h HID_OMNIKEY_5427CK; ifdhandler.c IFDHControl',
  },
  ...[
    [0x08e6, 0x4433, 'GEMPC433'],
    [0x046a, 0x0005, 'CHERRYXX33'],
  ].map(([vendorId, productId, id]): KnownReader => ({
    vendorId: vendorId as number,
    productId: productId as number,
    // In EMV mode the reader refuses non-EMV cards with bError 0xBB; Escape 1F 01 leaves EMV mode.
    quirks: { emvModeEscape: [0x1f, 0x01] },
    source: `libccid ccid.h ${id as string}; commands.c CmdPowerOn`,
  })),
  // --- Firmware too buggy to use (ccid_usb.c Bogus_firmwares) ---------------------------------------------------------
  ...(
    [
      [0x04e6, 0xe001, 0x0516],
      [0x04e6, 0x5111, 0x0620],
      [0x0d46, 0x3001, 0x0037],
      [0x0d46, 0x3002, 0x0037],
      [0x09c3, 0x0008, 0x0203],
      [0x0dc3, 0x1004, 0x0502],
      [0x0dc3, 0x1102, 0x0607],
      [0x058f, 0x9520, 0x0102],
      [0x08c3, 0x0402, 0x5000],
      [0x08c3, 0x0401, 0x5000],
      [0x0b0c, 0x0050, 0x0101],
      [0x0dc3, 0x0900, 0x0200],
      [0x03f0, 0x0036, 0x0124],
      [0x062d, 0x0001, 0x0102],
      [0x04e6, 0x5291, 0x0112],
    ] as const
  )
    // The HP CCID keyboard already has an entry above; its minimum firmware is merged into it below.
    .filter(([vendorId, productId]) => !(vendorId === 0x03f0 && productId === 0x0036))
    .map(([vendorId, productId, minimumFirmware]): KnownReader => ({
      vendorId,
      productId,
      quirks: { minimumFirmware },
      source: 'libccid ccid_usb.c Bogus_firmwares',
    })),
];

function key(vendorId: number, productId: number): number {
  return ((vendorId & 0xffff) << 16) | (productId & 0xffff);
}

const TABLE: ReadonlyMap<number, KnownReader> = (() => {
  const map = new Map<number, KnownReader>();
  for (const entry of ENTRIES) map.set(key(entry.vendorId, entry.productId), entry);
  // HP USB CCID Smartcard Keyboard: both "no PIN pad" (ccid.c) and a minimum firmware 1.24 (ccid_usb.c).
  const hp = map.get(key(0x03f0, 0x0036));
  if (hp) {
    map.set(key(0x03f0, 0x0036), {
      ...hp,
      quirks: { ...hp.quirks, minimumFirmware: 0x0124 },
      source: `${hp.source}; ccid_usb.c Bogus_firmwares`,
    });
  }
  return map;
})();

/** Every known reader, in table order (for listings and tests). */
export const KNOWN_READERS: readonly KnownReader[] = [...TABLE.values()];

function isUsbId(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffff;
}

/** The table entry for a VID:PID, or undefined (also for values that are not 16-bit USB ids). */
export function lookupReader(vendorId: number, productId: number): KnownReader | undefined {
  if (!isUsbId(vendorId) || !isUsbId(productId)) return undefined;
  return TABLE.get(key(vendorId, productId));
}

export interface ReaderQuirkOptions {
  /** libccid `--enable-zlp`: apply the zero-length-packet drain where the table says so. Default false. */
  enableZlp?: boolean;
  /** The device's bcdDevice. Firmware-dependent quirks are applied only when it is given and matches. */
  bcdDevice?: number;
  /** The exchange level the descriptor reports (needed for quirks that depend on it). */
  reportedExchangeLevel?: ExchangeLevel;
  /**
   * A Gemalto reader's GET_FIRMWARE_FEATURES answer had bNumberMessageFix set: its PIN modify bMsgIndex bug is fixed.
   */
  gemaltoNumberMessageFixed?: boolean;
}

function firmwareMatches(list: readonly number[] | undefined, bcdDevice: number | undefined): boolean {
  return list === undefined || (bcdDevice !== undefined && list.includes(bcdDevice));
}

/**
 * The quirks to apply to one device. Readers not in the table get `{ zlp: false }`, plus the Gemalto vendor-wide
 * behaviour for VID 08E6 (libccid tests the vendor, not the product, for GET_FIRMWARE_FEATURES, sFirmwareID and the
 * PIN modify bMsgIndex bug).
 */
export function readerQuirks(vendorId: number, productId: number, options: ReaderQuirkOptions = {}): ReaderQuirks {
  const spec = lookupReader(vendorId, productId)?.quirks ?? {};
  const fw = options.bcdDevice;
  const out: ReaderQuirks = {
    zlp: options.enableZlp === true && spec.zlp === true && firmwareMatches(spec.zlpFirmware, fw),
  };
  if (spec.pinSupport !== undefined) out.pinSupport = spec.pinSupport;
  if (
    spec.exchangeLevel !== undefined &&
    firmwareMatches(spec.exchangeLevelFirmware, fw) &&
    (spec.exchangeLevelIfReported === undefined || spec.exchangeLevelIfReported === options.reportedExchangeLevel)
  ) {
    out.exchangeLevel = spec.exchangeLevel;
  }
  if (spec.maxIfsd !== undefined) out.maxIfsd = spec.maxIfsd;
  if (spec.maxDataRate !== undefined) out.maxDataRate = spec.maxDataRate;
  if (spec.openDelayMs !== undefined) out.openDelayMs = spec.openDelayMs;
  if (spec.openTimeoutMs !== undefined) out.openTimeoutMs = spec.openTimeoutMs;
  if (spec.defaultTimeoutMs !== undefined) out.defaultTimeoutMs = spec.defaultTimeoutMs;
  if (spec.extraT1TimeoutMs !== undefined) out.extraT1TimeoutMs = spec.extraT1TimeoutMs;
  if (spec.autoIfsd === true && firmwareMatches(spec.autoIfsdFirmware, fw)) out.autoIfsd = true;
  if (spec.noPps === true) out.noPps = true;
  if (spec.resetOnSetParametersFailure === true) out.resetOnSetParametersFailure = true;
  if (spec.powerOffBeforePowerOn === true) out.powerOffBeforePowerOn = true;
  if (spec.escapeAlwaysAllowed === true) out.escapeAlwaysAllowed = true;
  if (spec.mctReaderDirect === true) out.mctReaderDirect = true;
  if (spec.loadPinpadStrings === true) out.loadPinpadStrings = true;
  if (spec.emvModeEscape !== undefined) out.emvModeEscape = spec.emvModeEscape;
  if (spec.pinProperties !== undefined) {
    const props: PinPropertyOverrides = {};
    if (spec.pinProperties.entryValidation !== undefined) props.entryValidation = spec.pinProperties.entryValidation;
    if (spec.pinProperties.tlv !== undefined && firmwareMatches(spec.pinPropertiesTlvFirmware, fw)) {
      props.tlv = spec.pinProperties.tlv;
    }
    out.pinProperties = props;
  }
  if (spec.pinVerify !== undefined) out.pinVerify = spec.pinVerify;
  const pinModify: PinModifyFixes = { ...spec.pinModify };
  if ((vendorId & 0xffff) === GEMALTO && isUsbId(vendorId)) {
    out.gemaltoFirmware = true;
    // libccid assumes every Gemalto PIN pad has the bMsgIndex bug unless its firmware features say it is fixed.
    pinModify.allMessageIndexesKeepCount = options.gemaltoNumberMessageFixed !== true;
  }
  if (Object.keys(pinModify).length > 0) out.pinModify = pinModify;
  return out;
}

/**
 * libccid `ccid_check_firmware`: a reader whose bcdDevice is below the table's minimum is refused (its firmware is
 * known to be buggy) unless the user allows it (libccid's DRIVER_OPTION_USE_BOGUS_FIRMWARE). Returns the refusal as a
 * DriverError value (IFD_COMMUNICATION_ERROR, as libccid's failed open), or undefined when the reader may be used.
 */
export function firmwareRefusal(
  vendorId: number,
  productId: number,
  bcdDevice: number,
  options: { allowBogusFirmware?: boolean } = {},
): DriverError | undefined {
  const entry = lookupReader(vendorId, productId);
  const minimum = entry?.quirks.minimumFirmware;
  if (entry === undefined || minimum === undefined || options.allowBogusFirmware === true) return undefined;
  if (bcdDevice >= minimum) return undefined;
  const name =
    libccidReaderName(vendorId, productId) ?? `The reader ${hexNumber(vendorId, 4)}:${hexNumber(productId, 4)}`;
  return new DriverError(
    IFD.COMMUNICATION_ERROR,
    `${name} firmware ${formatBcd(bcdDevice)} is known to be buggy (${formatBcd(minimum)} or later works): ` +
      'upgrade the reader firmware, use another reader, or enable the "use bogus firmware" option at your own risk',
  );
}

/** bcdDevice 0x0510 → "5.10" (libccid prints "%X.%02X"). */
function formatBcd(bcd: number): string {
  const v = Number.isInteger(bcd) && bcd >= 0 ? bcd & 0xffff : 0;
  return `${(v >> 8).toString(16).toUpperCase()}.${(v & 0xff).toString(16).toUpperCase().padStart(2, '0')}`;
}
