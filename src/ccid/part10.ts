/**
 * PC/SC v2 part 10 ("IFDs with Secure PIN Entry Capabilities") as libccid offers it: the feature list, the reader
 * properties, and the translation of the PC/SC PIN structures into PC_to_RDR_Secure (CCID 1.1 §6.1.11).
 *
 * Facts from libccid `src/ifdhandler.c` `IFDHControl`, `src/commands.c` `SecurePINVerify` / `SecurePINModify`,
 * `src/ccid_ifdhandler.h`, and pcsc-lite `src/PCSC/reader.h` (structure layouts). Pure functions: the driver sends.
 *
 * Errors: a PIN structure the driver cannot use is a DriverError with IFD.NOT_SUPPORTED, as libccid returns
 * IFD_NOT_SUPPORTED (pcscd turns it into SCARD_E_UNSUPPORTED_FEATURE). A malformed T=1 reply is a DriverError with
 * IFD.COMMUNICATION_ERROR.
 */
import {
  CM_IOCTL_GET_FEATURE_REQUEST,
  FEATURE_CCID_ESC_COMMAND,
  FEATURE_GET_TLV_PROPERTIES,
  FEATURE_IFD_PIN_PROPERTIES,
  FEATURE_MCT_READER_DIRECT,
  FEATURE_MODIFY_PIN_DIRECT,
  FEATURE_VERIFY_PIN_DIRECT,
  PCSCv2_PART10_PROPERTY_bEntryValidationCondition,
  PCSCv2_PART10_PROPERTY_bMaxPINSize,
  PCSCv2_PART10_PROPERTY_bMinPINSize,
  PCSCv2_PART10_PROPERTY_bPPDUSupport,
  PCSCv2_PART10_PROPERTY_bTimeOut2,
  PCSCv2_PART10_PROPERTY_dwMaxAPDUDataSize,
  PCSCv2_PART10_PROPERTY_sFirmwareID,
  PCSCv2_PART10_PROPERTY_wIdProduct,
  PCSCv2_PART10_PROPERTY_wIdVendor,
  PCSCv2_PART10_PROPERTY_wLcdLayout,
  PCSCv2_PART10_PROPERTY_wLcdMaxCharacters,
  PCSCv2_PART10_PROPERTY_wLcdMaxLines,
  SCARD_CTL_CODE,
} from '../pcsc/constants.js';
import { DriverError, IFD } from '../ifd/errors.js';
import type { EdcKind } from './edc.js';
import type { PinModifyFixes, PinPropertyOverrides, PinVerifyFixes } from './known-readers.js';
import { decodeBlock, describeBlock, encodeBlock } from './t1-block.js';
import type { CcidClassDescriptor } from './types.js';

// ---------------------------------------------------------------------------------------------------------------------
// Control codes

/** libccid `CLASS2_IOCTL_MAGIC`: a feature's control code is SCARD_CTL_CODE(0x330000 + tag). */
export const CLASS2_IOCTL_MAGIC = 0x330000;

/** The control code libccid gives a part 10 feature tag: 0x42330000 + tag. */
export function featureIoctl(tag: number): number {
  return SCARD_CTL_CODE(CLASS2_IOCTL_MAGIC + (tag & 0xff));
}

export const IOCTL_FEATURE_VERIFY_PIN_DIRECT = 0x42330006;
export const IOCTL_FEATURE_MODIFY_PIN_DIRECT = 0x42330007;
export const IOCTL_FEATURE_MCT_READER_DIRECT = 0x42330008;
export const IOCTL_FEATURE_IFD_PIN_PROPERTIES = 0x4233000a;
export const IOCTL_FEATURE_GET_TLV_PROPERTIES = 0x42330012;
/** SCARD_CTL_CODE(1): PC_to_RDR_Escape (FEATURE_CCID_ESC_COMMAND), allowed only when the user enables it. */
export const IOCTL_SMARTCARD_VENDOR_IFD_EXCHANGE = 0x42000001;
/** Windows' value of SCARD_CTL_CODE(3400); libccid accepts it as CM_IOCTL_GET_FEATURE_REQUEST for RDP clients. */
export const WINDOWS_GET_FEATURE_REQUEST = 0x313520;

/** The control code asks for the feature list (CM_IOCTL_GET_FEATURE_REQUEST or its Windows value). */
export function isGetFeatureRequest(code: number): boolean {
  return code === CM_IOCTL_GET_FEATURE_REQUEST || code === WINDOWS_GET_FEATURE_REQUEST;
}

/** The control code is the escape (PC_to_RDR_Escape) one. */
export function isEscapeIoctl(code: number): boolean {
  return code === IOCTL_SMARTCARD_VENDOR_IFD_EXCHANGE;
}

/** The feature tag a control code stands for (0x42330000 + tag, tag 1..0xFF), or undefined. */
export function isFeatureIoctl(code: number): number | undefined {
  if (!Number.isInteger(code)) return undefined;
  const tag = code - SCARD_CTL_CODE(CLASS2_IOCTL_MAGIC);
  return tag >= 1 && tag <= 0xff ? tag : undefined;
}

// ---------------------------------------------------------------------------------------------------------------------
// Feature list and properties

function u16le(v: number): [number, number] {
  return [v & 0xff, (v >>> 8) & 0xff];
}

function u32le(v: number): [number, number, number, number] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

function tlv(tag: number, ioctl: number): number[] {
  return [tag, 4, (ioctl >>> 24) & 0xff, (ioctl >>> 16) & 0xff, (ioctl >>> 8) & 0xff, ioctl & 0xff];
}

export interface FeatureTlvInput {
  /** The class descriptor after the known-readers fix-ups (bPINSupport as the driver trusts it). */
  descriptor: Pick<CcidClassDescriptor, 'bPINSupport'>;
  /** The user allows PC_to_RDR_Escape (libccid DRIVER_OPTION_CCID_EXCHANGE_AUTHORIZED). */
  escapeAllowed: boolean;
  /** The reader offers SECODER commands (known-readers `mctReaderDirect`). */
  mctReaderDirect?: boolean;
}

/**
 * The reply to CM_IOCTL_GET_FEATURE_REQUEST: 6-byte TLVs {tag, 4, ioctl big-endian} in libccid's order:
 * VERIFY_PIN_DIRECT (bPINSupport bit 0), MODIFY_PIN_DIRECT (bit 1), IFD_PIN_PROPERTIES (any PIN support),
 * MCT_READER_DIRECT (Kobil readers), GET_TLV_PROPERTIES (always), CCID_ESC_COMMAND (escape allowed).
 */
export function featureTlvs(input: FeatureTlvInput): Uint8Array {
  const pin = input.descriptor.bPINSupport;
  const out: number[] = [];
  if (pin & 0x01) out.push(...tlv(FEATURE_VERIFY_PIN_DIRECT, IOCTL_FEATURE_VERIFY_PIN_DIRECT));
  if (pin & 0x02) out.push(...tlv(FEATURE_MODIFY_PIN_DIRECT, IOCTL_FEATURE_MODIFY_PIN_DIRECT));
  if (pin !== 0) out.push(...tlv(FEATURE_IFD_PIN_PROPERTIES, IOCTL_FEATURE_IFD_PIN_PROPERTIES));
  if (input.mctReaderDirect === true) out.push(...tlv(FEATURE_MCT_READER_DIRECT, IOCTL_FEATURE_MCT_READER_DIRECT));
  out.push(...tlv(FEATURE_GET_TLV_PROPERTIES, IOCTL_FEATURE_GET_TLV_PROPERTIES));
  if (input.escapeAllowed) out.push(...tlv(FEATURE_CCID_ESC_COMMAND, IOCTL_SMARTCARD_VENDOR_IFD_EXCHANGE));
  return Uint8Array.from(out);
}

/** libccid's default bEntryValidationCondition: max size reached | validation key pressed | timeout (0x07). */
export const DEFAULT_ENTRY_VALIDATION = 0x07;

/**
 * PIN_PROPERTIES_STRUCTURE (reply to FEATURE_IFD_PIN_PROPERTIES): wLcdLayout LE, bEntryValidationCondition (0x07, or
 * the reader's override), bTimeOut2 0 (libccid does not tell bTimeOut from bTimeOut2).
 */
export function pinProperties(
  descriptor: Pick<CcidClassDescriptor, 'wLcdLayout'>,
  overrides: PinPropertyOverrides = {},
): Uint8Array {
  const validation = overrides.entryValidation ?? DEFAULT_ENTRY_VALIDATION;
  return Uint8Array.of(...u16le(descriptor.wLcdLayout), validation & 0xff, 0x00);
}

export interface TlvPropertiesInput {
  /** The class descriptor after the known-readers fix-ups. */
  descriptor: Pick<CcidClassDescriptor, 'wLcdLayout' | 'dwFeatures'>;
  vendorId: number;
  productId: number;
  /** sFirmwareID: what a Gemalto reader answered to Escape 02 (libccid asks Gemalto readers only). Max 255 bytes. */
  firmware?: Uint8Array;
  /** bPPDUSupport bit 0: PPDU over FEATURE_CCID_ESC_COMMAND, i.e. escape allowed. */
  escapeAllowed?: boolean;
  /** bMinPINSize / bMaxPINSize / bEntryValidationCondition that libccid reports for this reader. */
  pinSizes?: { minPinSize: number; maxPinSize: number; entryValidation?: number };
}

/**
 * The reply to FEATURE_GET_TLV_PROPERTIES: {tag, length, value little-endian} entries in libccid's order: wLcdLayout;
 * wLcdMaxCharacters and wLcdMaxLines (only with a display); bTimeOut2 = 0; sFirmwareID; bMinPINSize, bMaxPINSize,
 * bEntryValidationCondition (readers libccid knows); bPPDUSupport; wIdVendor; wIdProduct; dwMaxAPDUDataSize
 * (0x10000 for TPDU or extended APDU readers, else 0 = short APDU only).
 */
export function tlvProperties(input: TlvPropertiesInput): Uint8Array {
  const { wLcdLayout, dwFeatures } = input.descriptor;
  const out: number[] = [PCSCv2_PART10_PROPERTY_wLcdLayout, 2, ...u16le(wLcdLayout)];
  if (wLcdLayout !== 0) {
    // CCID 1.1 §5.1 wLcdLayout: high byte = lines, low byte = characters per line.
    out.push(PCSCv2_PART10_PROPERTY_wLcdMaxCharacters, 2, ...u16le(wLcdLayout & 0xff));
    out.push(PCSCv2_PART10_PROPERTY_wLcdMaxLines, 2, ...u16le((wLcdLayout >>> 8) & 0xff));
  }
  out.push(PCSCv2_PART10_PROPERTY_bTimeOut2, 1, 0x00);
  if (input.firmware !== undefined) {
    if (input.firmware.length > 0xff) {
      throw new RangeError(`sFirmwareID is ${input.firmware.length} bytes; a TLV length holds at most 255`);
    }
    out.push(PCSCv2_PART10_PROPERTY_sFirmwareID, input.firmware.length, ...input.firmware);
  }
  if (input.pinSizes !== undefined) {
    out.push(PCSCv2_PART10_PROPERTY_bMinPINSize, 1, input.pinSizes.minPinSize & 0xff);
    out.push(PCSCv2_PART10_PROPERTY_bMaxPINSize, 1, input.pinSizes.maxPinSize & 0xff);
    if (input.pinSizes.entryValidation !== undefined) {
      out.push(PCSCv2_PART10_PROPERTY_bEntryValidationCondition, 1, input.pinSizes.entryValidation & 0xff);
    }
  }
  out.push(PCSCv2_PART10_PROPERTY_bPPDUSupport, 1, input.escapeAllowed === true ? 1 : 0);
  out.push(PCSCv2_PART10_PROPERTY_wIdVendor, 2, ...u16le(input.vendorId));
  out.push(PCSCv2_PART10_PROPERTY_wIdProduct, 2, ...u16le(input.productId));
  // libccid tests the TPDU and extended bits separately (CCID 1.1 §5.1 dwFeatures 0x10000 / 0x40000).
  const maxApdu = dwFeatures & 0x40000 || dwFeatures & 0x10000 ? 0x10000 : 0;
  out.push(PCSCv2_PART10_PROPERTY_dwMaxAPDUDataSize, 4, ...u32le(maxApdu));
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------------------------------------------------------------
// PIN structures (pcsc-lite reader.h, packed, little-endian)

/** Offset of abData in PIN_VERIFY_STRUCTURE / PIN_MODIFY_STRUCTURE. */
export const PIN_VERIFY_HEADER_SIZE = 19;
export const PIN_MODIFY_HEADER_SIZE = 24;
/** libccid wants at least a 4-byte APDU after the header. */
const MIN_APDU = 4;

/** libccid's PC_to_RDR_Secure read timeout: max(90 s, bTimeOut + 10 s), in ms. */
export function secureTimeoutMs(bTimeOut: number): number {
  return Math.max(90, (bTimeOut & 0xff) + 10) * 1000;
}

export interface PinVerifyStructure {
  bTimeOut: number;
  bTimeOut2: number;
  bmFormatString: number;
  bmPINBlockString: number;
  bmPINLengthFormat: number;
  wPINMaxExtraDigit: number;
  bEntryValidationCondition: number;
  bNumberMessage: number;
  wLangId: number;
  bMsgIndex: number;
  bTeoPrologue: Uint8Array;
  ulDataLength: number;
  /** The APDU the reader completes with the PIN. */
  abData: Uint8Array;
  /** The read timeout the driver must use for the PC_to_RDR_Secure: max(90 s, bTimeOut + 10 s). */
  secureTimeoutMs: number;
}

export interface PinModifyStructure {
  bTimeOut: number;
  bTimeOut2: number;
  bmFormatString: number;
  bmPINBlockString: number;
  bmPINLengthFormat: number;
  bInsertionOffsetOld: number;
  bInsertionOffsetNew: number;
  wPINMaxExtraDigit: number;
  bConfirmPIN: number;
  bEntryValidationCondition: number;
  bNumberMessage: number;
  wLangId: number;
  bMsgIndex1: number;
  bMsgIndex2: number;
  bMsgIndex3: number;
  bTeoPrologue: Uint8Array;
  ulDataLength: number;
  abData: Uint8Array;
  secureTimeoutMs: number;
}

function notSupported(message: string): DriverError {
  return new DriverError(IFD.NOT_SUPPORTED, message);
}

function readU16(b: Uint8Array, at: number): number {
  return (b[at] ?? 0) | ((b[at + 1] ?? 0) << 8);
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) | ((b[at + 1] ?? 0) << 8) | ((b[at + 2] ?? 0) << 16) | ((b[at + 3] ?? 0) << 24)) >>> 0;
}

function byte(b: Uint8Array, at: number): number {
  return b[at] ?? 0;
}

/**
 * Parse a PIN_VERIFY_STRUCTURE (FEATURE_VERIFY_PIN_DIRECT input). Throws DriverError(IFD.NOT_SUPPORTED) when it is
 * shorter than 19 + 4 bytes or ulDataLength does not match the bytes after the header (libccid `SecurePINVerify`).
 */
export function parsePinVerifyStructure(bytes: Uint8Array): PinVerifyStructure {
  if (bytes.length < PIN_VERIFY_HEADER_SIZE + MIN_APDU) {
    throw notSupported(
      `PIN_VERIFY_STRUCTURE too short: ${bytes.length} bytes, need ${PIN_VERIFY_HEADER_SIZE} + an APDU of at least ${MIN_APDU}`,
    );
  }
  const ulDataLength = readU32(bytes, 15);
  if (ulDataLength + PIN_VERIFY_HEADER_SIZE !== bytes.length) {
    throw notSupported(
      `PIN_VERIFY_STRUCTURE ulDataLength ${ulDataLength} does not match the ${bytes.length - PIN_VERIFY_HEADER_SIZE} APDU bytes sent`,
    );
  }
  const bTimeOut = byte(bytes, 0);
  return {
    bTimeOut,
    bTimeOut2: byte(bytes, 1),
    bmFormatString: byte(bytes, 2),
    bmPINBlockString: byte(bytes, 3),
    bmPINLengthFormat: byte(bytes, 4),
    wPINMaxExtraDigit: readU16(bytes, 5),
    bEntryValidationCondition: byte(bytes, 7),
    bNumberMessage: byte(bytes, 8),
    wLangId: readU16(bytes, 9),
    bMsgIndex: byte(bytes, 11),
    bTeoPrologue: bytes.slice(12, 15),
    ulDataLength,
    abData: bytes.slice(PIN_VERIFY_HEADER_SIZE),
    secureTimeoutMs: secureTimeoutMs(bTimeOut),
  };
}

/**
 * Parse a PIN_MODIFY_STRUCTURE (FEATURE_MODIFY_PIN_DIRECT input). Throws DriverError(IFD.NOT_SUPPORTED) when it is
 * shorter than 24 + 4 bytes, ulDataLength does not match, or bNumberMessage is neither 0..3 nor 0xFF (libccid
 * `SecurePINModify`).
 */
export function parsePinModifyStructure(bytes: Uint8Array): PinModifyStructure {
  if (bytes.length < PIN_MODIFY_HEADER_SIZE + MIN_APDU) {
    throw notSupported(
      `PIN_MODIFY_STRUCTURE too short: ${bytes.length} bytes, need ${PIN_MODIFY_HEADER_SIZE} + an APDU of at least ${MIN_APDU}`,
    );
  }
  const ulDataLength = readU32(bytes, 20);
  if (ulDataLength + PIN_MODIFY_HEADER_SIZE !== bytes.length) {
    throw notSupported(
      `PIN_MODIFY_STRUCTURE ulDataLength ${ulDataLength} does not match the ${bytes.length - PIN_MODIFY_HEADER_SIZE} APDU bytes sent`,
    );
  }
  const bNumberMessage = byte(bytes, 11);
  if (bNumberMessage > 3 && bNumberMessage !== 0xff) {
    throw notSupported(`PIN_MODIFY_STRUCTURE bNumberMessage ${bNumberMessage} is not 0..3 or 0xFF`);
  }
  const bTimeOut = byte(bytes, 0);
  return {
    bTimeOut,
    bTimeOut2: byte(bytes, 1),
    bmFormatString: byte(bytes, 2),
    bmPINBlockString: byte(bytes, 3),
    bmPINLengthFormat: byte(bytes, 4),
    bInsertionOffsetOld: byte(bytes, 5),
    bInsertionOffsetNew: byte(bytes, 6),
    wPINMaxExtraDigit: readU16(bytes, 7),
    bConfirmPIN: byte(bytes, 9),
    bEntryValidationCondition: byte(bytes, 10),
    bNumberMessage,
    wLangId: readU16(bytes, 12),
    bMsgIndex1: byte(bytes, 14),
    bMsgIndex2: byte(bytes, 15),
    bMsgIndex3: byte(bytes, 16),
    bTeoPrologue: bytes.slice(17, 20),
    ulDataLength,
    abData: bytes.slice(PIN_MODIFY_HEADER_SIZE),
    secureTimeoutMs: secureTimeoutMs(bTimeOut),
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// T=1 prologue on TPDU readers (libccid builds the block header itself; the reader adds the PIN and the EDC)

/** T=1 state the driver keeps for the slot (ISO 7816-3 §11.6.2.2: N(S) of our next I-block, N(R) expected). */
export interface T1Sequence {
  ns: number;
  nr: number;
}

export interface T1PrologueInput extends T1Sequence {
  /** The APDU (abData). */
  apdu: Uint8Array;
  /** The card's IFSC (ISO 7816-3 §11.4.2). */
  ifsc: number;
  /** NAD (libccid sends 0). */
  nad?: number;
}

/**
 * The NAD, PCB, LEN prologue of the I-block carrying the APDU (ISO 7816-3 §11.3), as libccid's t1_build makes it: PCB
 * = N(S) << 6, plus the M bit (0x20) if the APDU exceeds IFSC; LEN = min(length, IFSC). libccid then flips both N(S)
 * and N(R) (the card's answer will be an I-block) and flips them back if no block was exchanged (see
 * `parseT1SecureReply`'s 'status' result). Returns the prologue and the sequence to use afterwards.
 */
export function t1SecurePrologue(input: T1PrologueInput): { prologue: Uint8Array; next: T1Sequence } {
  const ns = input.ns & 1;
  const more = input.apdu.length > input.ifsc;
  const len = more ? input.ifsc : input.apdu.length;
  const pcb = (ns << 6) | (more ? 0x20 : 0);
  return {
    prologue: Uint8Array.of((input.nad ?? 0) & 0xff, pcb, len & 0xff),
    next: { ns: ns ^ 1, nr: (input.nr & 1) ^ 1 },
  };
}

/** S(WTX response) echoing the card's multiplier (ISO 7816-3 §11.3.2.2): e.g. 00 E3 01 09 EB for WTX 9 with LRC. */
export function t1WtxResponse(multiplier: number, edc: EdcKind, nad = 0): Uint8Array {
  return encodeBlock({ type: 'S', kind: 'wtx', response: true, value: multiplier & 0xff }, { nad: nad & 0xff, edc });
}

export type T1SecureReply =
  /** The INF of the card's I-block: the APDU response (status word included). */
  | { kind: 'data'; data: Uint8Array }
  /** The card asks for more time: send `t1WtxResponse(multiplier)` and read again with a timeout × multiplier. */
  | { kind: 'wtx'; multiplier: number }
  /**
   * A 2-byte status the driver made up from bError (64 00 PIN timeout, 64 01 cancelled): no block was exchanged, so
   * N(S)/N(R) go back to their values before `t1SecurePrologue`.
   */
  | { kind: 'status'; sw: Uint8Array };

function communicationError(message: string): DriverError {
  return new DriverError(IFD.COMMUNICATION_ERROR, message);
}

/**
 * The reply to a PC_to_RDR_Secure on a T=1 TPDU reader is a whole T=1 block; libccid strips NAD, PCB, LEN and the last
 * byte. We decode the block (t1-block.ts: LEN against its length, the EDC, the PCB coding) and take exactly its INF.
 * Throws DriverError(IFD.COMMUNICATION_ERROR) for anything else (R-block, other S-block, chained I-block, bad EDC).
 */
export function parseT1SecureReply(reply: Uint8Array, edc: EdcKind): T1SecureReply {
  if (reply.length === 2) return { kind: 'status', sw: reply.slice() };
  const decoded = decodeBlock(reply, edc);
  if (!decoded.ok) {
    throw communicationError(
      decoded.edcError
        ? 'T=1 reply to the PIN command has a wrong EDC'
        : `T=1 reply to the PIN command (${reply.length} bytes) is not a valid block: ${decoded.reason}`,
    );
  }
  const { block } = decoded;
  if (block.type === 'I') {
    if (block.more) throw communicationError('chained T=1 reply to a PIN command is not supported');
    return { kind: 'data', data: block.inf };
  }
  if (block.type === 'S' && block.kind === 'wtx' && !block.response) {
    return { kind: 'wtx', multiplier: block.value ?? 0 };
  }
  throw communicationError(`unexpected T=1 block ${describeBlock(block)} in reply to a PIN command`);
}

// ---------------------------------------------------------------------------------------------------------------------
// PC_to_RDR_Secure abData

export interface SecureBodyOptions<F> {
  /** The reader's PIN frame fixes (known-readers `pinVerify` / `pinModify`). */
  fixes?: F;
  /**
   * Gemalto GET_FIRMWARE_FEATURES bEntryValidationCondition: conditions outside this mask are removed (libccid masks
   * them because the firmware rejects conditions it does not support).
   */
  entryValidationMask?: number;
  /** T=1 TPDU reader with a T=1 card: build the prologue from this state (see `t1SecurePrologue`). */
  t1?: { ns: number; nr: number; ifsc: number; nad?: number };
}

export interface SecureBody {
  /** abData of PC_to_RDR_Secure: bPINOperation then the CCID PIN structure. */
  body: Uint8Array;
  /** The T=1 sequence after the exchange, when `t1` was given. */
  t1?: T1Sequence;
}

/** CCID 1.1 §6.1.11 bEntryValidationCondition: 0 or above 7 makes some readers crash (Cherry XX44); libccid uses 2. */
function fixEntryValidation(v: number): number {
  return v === 0 || v > 0x07 ? 0x02 : v;
}

function applyMask(v: number, mask: number | undefined): number {
  return mask !== undefined && v & ~mask ? v & mask : v;
}

function prologueFor(
  apdu: Uint8Array,
  given: Uint8Array,
  t1: SecureBodyOptions<unknown>['t1'],
): { prologue: Uint8Array; next?: T1Sequence } {
  if (t1 === undefined) return { prologue: given };
  return t1SecurePrologue({
    apdu,
    ns: t1.ns,
    nr: t1.nr,
    ifsc: t1.ifsc,
    ...(t1.nad === undefined ? {} : { nad: t1.nad }),
  });
}

/**
 * PC_to_RDR_Secure abData for a PIN verification, as libccid `SecurePINVerify` builds it: bPINOperation 0, then the
 * PIN_VERIFY_STRUCTURE without bTimeOut2 and ulDataLength, after the generic and reader-specific fixes. The
 * `unpaddedPinEscape` and `delayMs` fixes are actions for the driver (see `needsUnpaddedPinEscape`).
 */
export function secureBodyFromVerify(
  pvs: PinVerifyStructure,
  options: SecureBodyOptions<PinVerifyFixes> = {},
): SecureBody {
  const fixes = options.fixes ?? {};
  let validation = fixEntryValidation(pvs.bEntryValidationCondition);
  let numberMessage = pvs.bNumberMessage;
  let maxExtraDigit = pvs.wPINMaxExtraDigit;
  if (fixes.numberMessage !== undefined) numberMessage = fixes.numberMessage;
  if (fixes.entryValidation !== undefined) validation = fixes.entryValidation;
  validation = applyMask(validation, options.entryValidationMask);
  if (fixes.swapMaxExtraDigit === true) maxExtraDigit = ((maxExtraDigit & 0xff) << 8) | (maxExtraDigit >>> 8);
  const { prologue, next } = prologueFor(pvs.abData, pvs.bTeoPrologue, options.t1);
  const body = Uint8Array.of(
    0x00,
    pvs.bTimeOut,
    pvs.bmFormatString,
    pvs.bmPINBlockString,
    pvs.bmPINLengthFormat,
    ...u16le(maxExtraDigit),
    validation,
    numberMessage,
    ...u16le(pvs.wLangId),
    pvs.bMsgIndex,
    ...prologue,
    ...pvs.abData,
  );
  return next === undefined ? { body } : { body, t1: next };
}

/**
 * SPR532-style readers append the PIN unpadded only after Escape 80 02 00, sent when bmPINBlockString is 0 (PIN length
 * not inserted) and the APDU is a 4-byte case 1 command (libccid `SecurePINVerify`).
 */
export function needsUnpaddedPinEscape(pvs: PinVerifyStructure, fixes: PinVerifyFixes | undefined): boolean {
  return fixes?.unpaddedPinEscape !== undefined && pvs.bmPINBlockString === 0 && pvs.ulDataLength === 4;
}

/**
 * PC_to_RDR_Secure abData for a PIN modification, as libccid `SecurePINModify` builds it: bPINOperation 1, then the
 * PIN_MODIFY_STRUCTURE without bTimeOut2 and ulDataLength; bMsgIndex2 only when bNumberMessage ≠ 0 and bMsgIndex3 only
 * when bNumberMessage ≥ 3 (CCID 1.1 §6.1.11.8), after the generic and reader-specific fixes.
 */
export function secureBodyFromModify(
  pms: PinModifyStructure,
  options: SecureBodyOptions<PinModifyFixes> = {},
): SecureBody {
  const fixes = options.fixes ?? {};
  let validation = fixEntryValidation(pms.bEntryValidationCondition);
  let numberMessage = pms.bNumberMessage;
  let msg = [pms.bMsgIndex1, pms.bMsgIndex2, pms.bMsgIndex3];
  if (fixes.allMessageIndexesZeroed === true) {
    numberMessage = 3;
    msg = [0, 0, 0];
  }
  if (fixes.numberMessageThree === true) numberMessage = 3;
  if (fixes.entryValidation !== undefined) validation = fixes.entryValidation;
  validation = applyMask(validation, options.entryValidationMask);
  const realNumberMessage = numberMessage;
  if (fixes.allMessageIndexesKeepCount === true) numberMessage = 3;
  if (fixes.zeroNumberMessageAs !== undefined && numberMessage === 0) numberMessage = fixes.zeroNumberMessageAs;

  const { prologue, next } = prologueFor(pms.abData, pms.bTeoPrologue, options.t1);
  const indexes = [msg[0] ?? 0];
  if (numberMessage !== 0) indexes.push(msg[1] ?? 0);
  if (numberMessage >= 3) indexes.push(msg[2] ?? 0);
  // What the CCID frame says about the number of messages, after the reader-specific overrides.
  let frameNumberMessage = numberMessage;
  if (fixes.allMessageIndexesZeroed === true) frameNumberMessage = 0;
  if (fixes.allMessageIndexesKeepCount === true) frameNumberMessage = realNumberMessage;

  const body = Uint8Array.of(
    0x01,
    pms.bTimeOut,
    pms.bmFormatString,
    pms.bmPINBlockString,
    pms.bmPINLengthFormat,
    pms.bInsertionOffsetOld,
    pms.bInsertionOffsetNew,
    ...u16le(pms.wPINMaxExtraDigit),
    pms.bConfirmPIN,
    validation,
    frameNumberMessage,
    ...u16le(pms.wLangId),
    ...indexes,
    ...prologue,
    ...pms.abData,
  );
  return next === undefined ? { body } : { body, t1: next };
}
