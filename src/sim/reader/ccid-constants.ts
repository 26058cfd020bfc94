/**
 * CCID 1.1 wire constants as the reader sees them: message types (§6.1, §6.2, §6.3), slot error codes (§6.2.6), class
 * requests (§5.3) and dwFeatures bits (§5.1, Table 5.1-1). Written from the specification, independently of the driver.
 */

/** PC_to_RDR message types on bulk-OUT (CCID 1.1 §6.1). */
import * as PC_TO_RDR from './pc-to-rdr.js';
export { PC_TO_RDR };

/** RDR_to_PC message types on bulk-IN (CCID 1.1 §6.2) and interrupt-IN (§6.3). */
import * as RDR_TO_PC from './rdr-to-pc.js';
export { RDR_TO_PC };

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
import * as SLOT_ERROR from './slot-error.js';
export { SLOT_ERROR };

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
import * as FEATURE from './feature.js';
export { FEATURE };

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
import * as CHAIN from './chain.js';
export { CHAIN };

/** CCID message header length (CCID 1.1 §6.1, §6.2). */
export const HEADER_LENGTH = 10;
