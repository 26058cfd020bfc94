/**
 * CCID 1.1 wire constants as the reader sees them: message types (§6.1, §6.2, §6.3), slot error codes (§6.2.6), class
 * requests (§5.3) and dwFeatures bits (§5.1, Table 5.1-1). Written from the specification, independently of the driver.
 */

/** PC_to_RDR message types on bulk-OUT (CCID 1.1 §6.1). */
export const PC_TO_RDR = {
  IccPowerOn: 0x62,
  IccPowerOff: 0x63,
  GetSlotStatus: 0x65,
  XfrBlock: 0x6f,
  GetParameters: 0x6c,
  ResetParameters: 0x6d,
  SetParameters: 0x61,
  Escape: 0x6b,
  IccClock: 0x6e,
  T0APDU: 0x6a,
  Secure: 0x69,
  Mechanical: 0x71,
  Abort: 0x72,
  SetDataRateAndClockFrequency: 0x73,
} as const;

/** RDR_to_PC message types on bulk-IN (CCID 1.1 §6.2) and interrupt-IN (§6.3). */
export const RDR_TO_PC = {
  DataBlock: 0x80,
  SlotStatus: 0x81,
  Parameters: 0x82,
  Escape: 0x83,
  DataRateAndClockFrequency: 0x84,
  NotifySlotChange: 0x50,
  HardwareError: 0x51,
} as const;

/** Which response each command gets (CCID 1.1 §6.1, each command's "response" line). Unknown → SlotStatus (§6.1). */
export function responseTypeFor(commandType: number): number {
  switch (commandType) {
    case PC_TO_RDR.IccPowerOn:
    case PC_TO_RDR.XfrBlock:
    case PC_TO_RDR.Secure:
      return RDR_TO_PC.DataBlock;
    case PC_TO_RDR.GetParameters:
    case PC_TO_RDR.ResetParameters:
    case PC_TO_RDR.SetParameters:
      return RDR_TO_PC.Parameters;
    case PC_TO_RDR.Escape:
      return RDR_TO_PC.Escape;
    case PC_TO_RDR.SetDataRateAndClockFrequency:
      return RDR_TO_PC.DataRateAndClockFrequency;
    default:
      return RDR_TO_PC.SlotStatus;
  }
}

/** Slot error register values (CCID 1.1 §6.2.6, Table 6.2-2). 0x01–0x7F = offset of the offending field. */
export const SLOT_ERROR = {
  CMD_NOT_SUPPORTED: 0x00,
  CMD_ABORTED: 0xff,
  ICC_MUTE: 0xfe,
  XFR_PARITY_ERROR: 0xfd,
  XFR_OVERRUN: 0xfc,
  HW_ERROR: 0xfb,
  BAD_ATR_TS: 0xf8,
  BAD_ATR_TCK: 0xf7,
  ICC_PROTOCOL_NOT_SUPPORTED: 0xf6,
  ICC_CLASS_NOT_SUPPORTED: 0xf5,
  PROCEDURE_BYTE_CONFLICT: 0xf4,
  DEACTIVATED_PROTOCOL: 0xf3,
  BUSY_WITH_AUTO_SEQUENCE: 0xf2,
  PIN_TIMEOUT: 0xf0,
  PIN_CANCELLED: 0xef,
  CMD_SLOT_BUSY: 0xe0,
} as const;

/** Offsets of header fields, used as bError when that field is wrong (CCID 1.1 §6.2.6). */
export const FIELD_OFFSET = {
  dwLength: 1,
  bSlot: 5,
  bSeq: 6,
  /** byte 7: bPowerSelect, bProtocolNum, bClockCommand, bmChanges, bFunction, bBWI */
  byte7: 7,
  byte8: 8,
  abData: 10,
} as const;

/** bmICCStatus (bStatus bits 0–1, CCID 1.1 §6.2.6). */
export const ICC_STATUS = { ACTIVE: 0, INACTIVE: 1, ABSENT: 2 } as const;
export type IccStatus = (typeof ICC_STATUS)[keyof typeof ICC_STATUS];

/** bmCommandStatus (bStatus bits 6–7, CCID 1.1 §6.2.6). */
export const COMMAND_STATUS = { PROCESSED: 0, FAILED: 1, TIME_EXTENSION: 2 } as const;

/** Class-specific requests on the control pipe (CCID 1.1 §5.3). */
export const CLASS_REQUEST = { ABORT: 0x01, GET_CLOCK_FREQUENCIES: 0x02, GET_DATA_RATES: 0x03 } as const;

/** dwFeatures bits (CCID 1.1 §5.1, Table 5.1-1). */
export const FEATURE = {
  AUTO_PARAMETERS_FROM_ATR: 0x02,
  AUTO_ACTIVATION: 0x04,
  AUTO_VOLTAGE: 0x08,
  AUTO_CLOCK: 0x10,
  AUTO_BAUD: 0x20,
  AUTO_NEGOTIATION: 0x40,
  AUTO_PPS: 0x80,
  CLOCK_STOP: 0x100,
  NAD_OTHER_THAN_0: 0x200,
  AUTO_IFSD: 0x400,
  LEVEL_MASK: 0x70000,
  LEVEL_TPDU: 0x10000,
  LEVEL_SHORT_APDU: 0x20000,
  LEVEL_EXTENDED_APDU: 0x40000,
  USB_WAKE_UP: 0x100000,
} as const;

/** The exchange level the reader works at, from dwFeatures (CCID 1.1 §5.1). */
export type ReaderExchangeLevel = 'character' | 'tpdu' | 'short-apdu' | 'extended-apdu';

export function exchangeLevelOf(dwFeatures: number): ReaderExchangeLevel {
  const level = dwFeatures & FEATURE.LEVEL_MASK;
  if (level & FEATURE.LEVEL_EXTENDED_APDU) return 'extended-apdu';
  if (level & FEATURE.LEVEL_SHORT_APDU) return 'short-apdu';
  if (level & FEATURE.LEVEL_TPDU) return 'tpdu';
  return 'character';
}

/** wLevelParameter / bChainParameter values of the APDU levels (CCID 1.1 §6.1.4 and §6.2.1). */
export const CHAIN = {
  BEGIN_AND_END: 0x00,
  BEGIN: 0x01,
  END: 0x02,
  CONTINUE: 0x03,
  EMPTY_CONTINUE: 0x10,
} as const;

/** CCID message header length (CCID 1.1 §6.1, §6.2). */
export const HEADER_LENGTH = 10;
