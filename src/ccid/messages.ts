/**
 * CCID bulk and interrupt message codec (CCID 1.1 §6): encoders for every PC_to_RDR command, the response and
 * interrupt decoders, and the mapping of a failed response to a DriverError as libccid's `CCID_Receive` does.
 *
 * Every command is a 10-byte header (bMessageType, dwLength little-endian, bSlot, bSeq, three message-specific bytes)
 * followed by dwLength bytes of abData. The XfrBlock path is kept allocation-light: one buffer per encode, a view
 * (no copy) for the decoded abData.
 */
import {
  CCID_COMMAND_STATUS_MASK,
  CCID_COMMAND_STATUS_SHIFT,
  CCID_ERR,
  CCID_HEADER_SIZE,
  CCID_ICC_ABSENT,
  CCID_ICC_STATUS_MASK,
  PC_to_RDR_Abort,
  PC_to_RDR_Escape,
  PC_to_RDR_GetParameters,
  PC_to_RDR_GetSlotStatus,
  PC_to_RDR_IccClock,
  PC_to_RDR_IccPowerOff,
  PC_to_RDR_IccPowerOn,
  PC_to_RDR_Mechanical,
  PC_to_RDR_ResetParameters,
  PC_to_RDR_Secure,
  PC_to_RDR_SetDataRateAndClockFrequency,
  PC_to_RDR_SetParameters,
  PC_to_RDR_T0APDU,
  PC_to_RDR_XfrBlock,
  RDR_to_PC_HardwareError,
  RDR_to_PC_NotifySlotChange,
  messageTypeName,
} from './constants.js';
import { DriverError, IFD, type IfdCode } from '../ifd/errors.js';
import { freshBytes } from '../util/fresh-bytes.js';
import { hexByte } from '../util/hex.js';

// ---------------------------------------------------------------------------------------------------------------
// Encoders (CCID 1.1 §6.1)
// ---------------------------------------------------------------------------------------------------------------

/** Largest abData a dwLength can announce; real limits come from dwMaxCCIDMessageLength (checked by the caller). */
const MAX_DW_LENGTH = 0xffffffff;

function header(type: number, slot: number, seq: number, dataLength: number, b7: number, b8: number, b9: number) {
  checkHeader(slot, seq, dataLength);
  return fillHeader(freshBytes(CCID_HEADER_SIZE + dataLength), type, slot, seq, dataLength, b7, b8, b9);
}

function checkHeader(slot: number, seq: number, dataLength: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot > 0xff) {
    throw new DriverError(IFD.COMMUNICATION_ERROR, `bSlot ${slot} is not a byte (CCID 1.1 §6.1)`);
  }
  if (!Number.isInteger(seq) || seq < 0 || seq > 0xff) {
    throw new DriverError(IFD.COMMUNICATION_ERROR, `bSeq ${seq} is not a byte (CCID 1.1 §6.1)`);
  }
  if (dataLength > MAX_DW_LENGTH) {
    throw new DriverError(IFD.COMMUNICATION_ERROR, `${dataLength} bytes of abData do not fit dwLength`);
  }
}

function fillHeader(
  msg: Uint8Array,
  type: number,
  slot: number,
  seq: number,
  dataLength: number,
  b7: number,
  b8: number,
  b9: number,
): Uint8Array {
  msg[0] = type;
  msg[1] = dataLength & 0xff;
  msg[2] = (dataLength >>> 8) & 0xff;
  msg[3] = (dataLength >>> 16) & 0xff;
  msg[4] = (dataLength >>> 24) & 0xff;
  msg[5] = slot;
  msg[6] = seq;
  msg[7] = b7;
  msg[8] = b8;
  msg[9] = b9;
  return msg;
}

function byteField(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) {
    throw new DriverError(IFD.COMMUNICATION_ERROR, `${name} ${value} is not a byte`);
  }
  return value;
}

function wordField(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new DriverError(IFD.COMMUNICATION_ERROR, `${name} ${value} does not fit 16 bits`);
  }
  return value;
}

function withData(type: number, slot: number, seq: number, data: Uint8Array, b7: number, b8: number, b9: number) {
  const msg = header(type, slot, seq, data.length, b7, b8, b9);
  msg.set(data, CCID_HEADER_SIZE);
  return msg;
}

/** PC_to_RDR_IccPowerOn (§6.1.1); bPowerSelect 0 automatic, 1 = 5 V, 2 = 3 V, 3 = 1.8 V. Answered by a DataBlock (ATR). */
export function encodeIccPowerOn(slot: number, seq: number, bPowerSelect: number): Uint8Array {
  return header(PC_to_RDR_IccPowerOn, slot, seq, 0, byteField(bPowerSelect, 'bPowerSelect'), 0, 0);
}

/** PC_to_RDR_IccPowerOff (§6.1.2). */
export function encodeIccPowerOff(slot: number, seq: number): Uint8Array {
  return header(PC_to_RDR_IccPowerOff, slot, seq, 0, 0, 0, 0);
}

/** PC_to_RDR_GetSlotStatus (§6.1.3). */
export function encodeGetSlotStatus(slot: number, seq: number): Uint8Array {
  return header(PC_to_RDR_GetSlotStatus, slot, seq, 0, 0, 0, 0);
}

/**
 * PC_to_RDR_XfrBlock (§6.1.4): bBWI extends the block waiting time (T=1 WTX), wLevelParameter carries the chain
 * parameter at short/extended APDU level (CHAIN.*) or the expected length at character level.
 */
export function encodeXfrBlock(slot: number, seq: number, data: Uint8Array, bBWI = 0, wLevelParameter = 0): Uint8Array {
  // Hot path: validated inline, one allocation.
  if ((bBWI & 0xff) !== bBWI) byteField(bBWI, 'bBWI');
  if ((wLevelParameter & 0xffff) !== wLevelParameter) wordField(wLevelParameter, 'wLevelParameter');
  return withData(PC_to_RDR_XfrBlock, slot, seq, data, bBWI, wLevelParameter & 0xff, wLevelParameter >>> 8);
}

/**
 * PC_to_RDR_XfrBlock framed in place: `msg` already holds abData from byte 10 on (a T=1 block encoded after room for
 * the header, t1.ts `T1Link.headroom`), and gets its 10-byte header here; dwLength is the rest of `msg`. The same
 * checks as encodeXfrBlock; returns `msg`.
 */
export function frameXfrBlock(msg: Uint8Array, slot: number, seq: number, bBWI = 0): Uint8Array {
  if ((bBWI & 0xff) !== bBWI) byteField(bBWI, 'bBWI');
  if (msg.length < CCID_HEADER_SIZE) {
    throw new DriverError(IFD.COMMUNICATION_ERROR, `${msg.length} bytes cannot hold the 10-byte CCID header`);
  }
  const dataLength = msg.length - CCID_HEADER_SIZE;
  checkHeader(slot, seq, dataLength);
  return fillHeader(msg, PC_to_RDR_XfrBlock, slot, seq, dataLength, bBWI, 0, 0);
}

/** PC_to_RDR_GetParameters (§6.1.5). */
export function encodeGetParameters(slot: number, seq: number): Uint8Array {
  return header(PC_to_RDR_GetParameters, slot, seq, 0, 0, 0, 0);
}

/** PC_to_RDR_ResetParameters (§6.1.6). */
export function encodeResetParameters(slot: number, seq: number): Uint8Array {
  return header(PC_to_RDR_ResetParameters, slot, seq, 0, 0, 0, 0);
}

/**
 * PC_to_RDR_SetParameters (§6.1.7): bProtocolNum 0 with the 5-byte T=0 structure (bmFindexDindex, bmTCCKST0,
 * bGuardTimeT0, bWaitingIntegerT0, bClockStop) or 1 with the 7-byte T=1 structure (bmFindexDindex, bmTCCKST1,
 * bGuardTimeT1, bmWaitingIntegersT1, bClockStop, bIFSC, bNadValue).
 */
export function encodeSetParameters(slot: number, seq: number, bProtocolNum: 0 | 1, body: Uint8Array): Uint8Array {
  const expected = bProtocolNum === 0 ? 5 : bProtocolNum === 1 ? 7 : -1;
  if (expected < 0) {
    throw new DriverError(
      IFD.PROTOCOL_NOT_SUPPORTED,
      `SetParameters bProtocolNum ${String(bProtocolNum)}: only 0 (T=0) and 1 (T=1) exist`,
    );
  }
  if (body.length !== expected) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `SetParameters for T=${bProtocolNum} takes a ${expected}-byte protocol structure (CCID 1.1 §6.1.7), got ${body.length}`,
    );
  }
  return withData(PC_to_RDR_SetParameters, slot, seq, body, bProtocolNum, 0, 0);
}

/** PC_to_RDR_Escape (§6.1.8): vendor-specific abData. */
export function encodeEscape(slot: number, seq: number, data: Uint8Array): Uint8Array {
  return withData(PC_to_RDR_Escape, slot, seq, data, 0, 0, 0);
}

/** PC_to_RDR_IccClock (§6.1.9): bClockCommand 0 restart, 1 stop. */
export function encodeIccClock(slot: number, seq: number, bClockCommand: number): Uint8Array {
  return header(PC_to_RDR_IccClock, slot, seq, 0, byteField(bClockCommand, 'bClockCommand'), 0, 0);
}

/** PC_to_RDR_T0APDU (§6.1.10): bmChanges, bClassGetResponse, bClassEnvelope. */
export function encodeT0APDU(
  slot: number,
  seq: number,
  bmChanges: number,
  bClassGetResponse: number,
  bClassEnvelope: number,
): Uint8Array {
  return header(
    PC_to_RDR_T0APDU,
    slot,
    seq,
    0,
    byteField(bmChanges, 'bmChanges'),
    byteField(bClassGetResponse, 'bClassGetResponse'),
    byteField(bClassEnvelope, 'bClassEnvelope'),
  );
}

/**
 * PC_to_RDR_Secure (§6.1.11): abData = bPINOperation then the PIN structure; bBWI and wLevelParameter as for
 * XfrBlock.
 */
export function encodeSecure(slot: number, seq: number, data: Uint8Array, bBWI = 0, wLevelParameter = 0): Uint8Array {
  byteField(bBWI, 'bBWI');
  wordField(wLevelParameter, 'wLevelParameter');
  return withData(PC_to_RDR_Secure, slot, seq, data, bBWI, wLevelParameter & 0xff, wLevelParameter >>> 8);
}

/** PC_to_RDR_Mechanical (§6.1.12): bFunction (MECHANICAL_FUNCTION.*). */
export function encodeMechanical(slot: number, seq: number, bFunction: number): Uint8Array {
  return header(PC_to_RDR_Mechanical, slot, seq, 0, byteField(bFunction, 'bFunction'), 0, 0);
}

/** PC_to_RDR_Abort (§6.1.13): sent after the ABORT class request, with the aborted command's bSeq (§5.3.1). */
export function encodeAbort(slot: number, seq: number): Uint8Array {
  return header(PC_to_RDR_Abort, slot, seq, 0, 0, 0, 0);
}

/** PC_to_RDR_SetDataRateAndClockFrequency (§6.1.14): dwClockFrequency (kHz), dwDataRate (bps). */
export function encodeSetDataRateAndClockFrequency(
  slot: number,
  seq: number,
  dwClockFrequency: number,
  dwDataRate: number,
): Uint8Array {
  for (const [v, name] of [
    [dwClockFrequency, 'dwClockFrequency'],
    [dwDataRate, 'dwDataRate'],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new DriverError(IFD.COMMUNICATION_ERROR, `${name} ${v} does not fit 32 bits`);
    }
  }
  const body = new Uint8Array(8);
  const view = new DataView(body.buffer);
  view.setUint32(0, dwClockFrequency, true);
  view.setUint32(4, dwDataRate, true);
  return withData(PC_to_RDR_SetDataRateAndClockFrequency, slot, seq, body, 0, 0, 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Responses (CCID 1.1 §6.2)
// ---------------------------------------------------------------------------------------------------------------

export type IccStatus = 0 | 1 | 2;
export type CommandStatus = 0 | 1 | 2;

export interface CcidResponse {
  /** bMessageType (RDR_to_PC_*). */
  type: number;
  slot: number;
  seq: number;
  /** The raw bStatus byte. */
  status: number;
  /** bError: the failure reason when commandStatus is 1, the time-extension multiplier when it is 2. */
  error: number;
  /** bmICCStatus: 0 present and active, 1 present and inactive, 2 absent. */
  iccStatus: IccStatus;
  /** bmCommandStatus: 0 processed, 1 failed, 2 time extension requested. */
  commandStatus: CommandStatus;
  /** Byte 9: bChainParameter (DataBlock), bClockStatus (SlotStatus), bProtocolNum (Parameters), else RFU. */
  param: number;
  /** abData: a view into the received bytes (not a copy). */
  data: Uint8Array;
}

/**
 * Decodes one bulk-IN response. The length must match exactly: fewer than 10 bytes, or a total that is not
 * 10 + dwLength, is a DriverError(IFD_COMMUNICATION_ERROR) — a short read is never silently truncated (libccid's
 * CCID_Receive "Can't read all data"). The reserved bmICCStatus 3 and bmCommandStatus 3 are errors too.
 */
export function decodeResponse(bytes: Uint8Array): CcidResponse {
  const n = bytes.length;
  if (n < CCID_HEADER_SIZE) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `the reader sent a ${n}-byte response, shorter than the 10-byte CCID header (CCID 1.1 §6.2)`,
    );
  }
  const dwLength = (bytes[1]! | (bytes[2]! << 8) | (bytes[3]! << 16) | (bytes[4]! << 24)) >>> 0;
  if (n - CCID_HEADER_SIZE !== dwLength) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `the reader's ${messageTypeName(bytes[0]!)} (slot ${bytes[5]}, seq ${bytes[6]}) announces ${dwLength} data bytes but carries ${n - CCID_HEADER_SIZE}`,
    );
  }
  const status = bytes[7]!;
  const iccStatus = status & CCID_ICC_STATUS_MASK;
  const commandStatus = (status & CCID_COMMAND_STATUS_MASK) >>> CCID_COMMAND_STATUS_SHIFT;
  if (iccStatus === 3 || commandStatus === 3) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `the reader's ${messageTypeName(bytes[0]!)} has bStatus 0x${hexByte(status)} with a reserved ${iccStatus === 3 ? 'bmICCStatus' : 'bmCommandStatus'} value 3 (CCID 1.1 §6.2.6)`,
    );
  }
  return {
    type: bytes[0]!,
    slot: bytes[5]!,
    seq: bytes[6]!,
    status,
    error: bytes[8]!,
    iccStatus: iccStatus as IccStatus,
    commandStatus: commandStatus as CommandStatus,
    param: bytes[9]!,
    data: bytes.subarray(CCID_HEADER_SIZE),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Interrupt-IN (CCID 1.1 §6.3)
// ---------------------------------------------------------------------------------------------------------------

export interface SlotChange {
  slot: number;
  present: boolean;
  changed: boolean;
}

export type InterruptMessage =
  { kind: 'slot-change'; slots: SlotChange[] } | { kind: 'hardware-error'; slot: number; seq: number; code: number };

/**
 * Decodes an interrupt-IN message: RDR_to_PC_NotifySlotChange (0x50, then 2 bits per slot, slot 0 in the low bits:
 * bit 0 present, bit 1 changed; §6.3.1) or RDR_to_PC_HardwareError (0x51, bSlot, bSeq, bHardwareErrorCode; §6.3.2).
 * Only slots 0..maxSlotIndex are reported; a message too short for them, or of another type, is a DriverError.
 */
export function decodeInterrupt(bytes: Uint8Array, maxSlotIndex: number): InterruptMessage {
  if (bytes.length === 0) {
    throw new DriverError(IFD.COMMUNICATION_ERROR, 'the reader sent an empty interrupt message');
  }
  const type = bytes[0]!;
  if (type === RDR_to_PC_NotifySlotChange) {
    const slotCount = maxSlotIndex + 1;
    const needed = 1 + Math.ceil((2 * slotCount) / 8);
    if (bytes.length < needed) {
      throw new DriverError(
        IFD.COMMUNICATION_ERROR,
        `RDR_to_PC_NotifySlotChange has ${bytes.length} bytes but ${slotCount} slot(s) need ${needed} (CCID 1.1 §6.3.1)`,
      );
    }
    const slots: SlotChange[] = [];
    for (let slot = 0; slot < slotCount; slot++) {
      const bits = (bytes[1 + (slot >> 2)]! >> ((slot & 3) * 2)) & 0x03;
      slots.push({ slot, present: (bits & 1) !== 0, changed: (bits & 2) !== 0 });
    }
    return { kind: 'slot-change', slots };
  }
  if (type === RDR_to_PC_HardwareError) {
    if (bytes.length < 4) {
      throw new DriverError(
        IFD.COMMUNICATION_ERROR,
        `RDR_to_PC_HardwareError has ${bytes.length} bytes, CCID 1.1 §6.3.2 defines 4`,
      );
    }
    return { kind: 'hardware-error', slot: bytes[1]!, seq: bytes[2]!, code: bytes[3]! };
  }
  throw new DriverError(
    IFD.COMMUNICATION_ERROR,
    `the reader sent interrupt message type 0x${hexByte(type)}, neither NotifySlotChange (0x50) nor HardwareError (0x51)`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Failed responses
// ---------------------------------------------------------------------------------------------------------------

const B_ERROR_TEXT: Readonly<Record<number, string>> = {
  [CCID_ERR.CMD_ABORTED]: 'the command was aborted by the host (CMD_ABORTED)',
  [CCID_ERR.ICC_MUTE]: 'the card is absent or mute: it did not answer in time (ICC_MUTE)',
  [CCID_ERR.XFR_PARITY_ERROR]: 'parity error while talking to the card (XFR_PARITY_ERROR)',
  [CCID_ERR.XFR_OVERRUN]: 'the card sent more data than expected (XFR_OVERRUN)',
  [CCID_ERR.HW_ERROR]:
    'the reader detected a hardware error, e.g. a short-circuit or over-current on the card contacts (HW_ERROR)',
  [CCID_ERR.BAD_ATR_TS]: "the card's ATR has an invalid first byte TS (BAD_ATR_TS)",
  [CCID_ERR.BAD_ATR_TCK]: "the card's ATR has a wrong check byte TCK (BAD_ATR_TCK)",
  [CCID_ERR.ICC_PROTOCOL_NOT_SUPPORTED]: "the reader does not support the card's protocol (ICC_PROTOCOL_NOT_SUPPORTED)",
  [CCID_ERR.ICC_CLASS_NOT_SUPPORTED]: "the reader does not support the card's voltage class (ICC_CLASS_NOT_SUPPORTED)",
  [CCID_ERR.PROCEDURE_BYTE_CONFLICT]:
    'the card sent a T=0 procedure byte that conflicts with the command (PROCEDURE_BYTE_CONFLICT)',
  [CCID_ERR.DEACTIVATED_PROTOCOL]: 'the protocol is deactivated in the reader (DEACTIVATED_PROTOCOL)',
  [CCID_ERR.BUSY_WITH_AUTO_SEQUENCE]:
    'the reader is busy with an automatic sequence such as activating the card (BUSY_WITH_AUTO_SEQUENCE)',
  [CCID_ERR.PIN_TIMEOUT]: 'the PIN entry timed out on the reader (PIN_TIMEOUT)',
  [CCID_ERR.PIN_CANCELLED]: 'the PIN entry was cancelled on the reader (PIN_CANCELLED)',
  [CCID_ERR.CMD_SLOT_BUSY]: 'the slot is busy with another command (CMD_SLOT_BUSY)',
  [CCID_ERR.CMD_NOT_SUPPORTED]: 'the reader does not support this command',
};

/** Header field at a bError offset 1..9 (CCID 1.1 §6.2.6: "index of the first bad parameter"). */
const FIELD_AT: Readonly<Record<number, string>> = {
  1: 'dwLength',
  2: 'dwLength',
  3: 'dwLength',
  4: 'dwLength',
  5: 'bSlot',
  6: 'bSeq',
  7: 'byte 7 (message-specific: bPowerSelect, bBWI, bProtocolNum, ...)',
  8: 'byte 8 (message-specific)',
  9: 'byte 9 (message-specific)',
};

/** A human reading of bError (CCID 1.1 §6.2.6, wording after libccid's ccid_error). */
export function describeBError(error: number): string {
  const text = B_ERROR_TEXT[error];
  if (text !== undefined) return text;
  if (error >= 1 && error <= 0x7f) {
    const field = FIELD_AT[error] ?? `abData byte ${error - CCID_HEADER_SIZE}`;
    return `the reader rejected the value at offset ${error} of the command (${field})`;
  }
  return `unknown CCID error 0x${hexByte(error)}`;
}

/** A failed CCID command: a DriverError that also keeps the reader's bStatus/bError for callers that branch on them. */
export class CcidCommandError extends DriverError {
  constructor(
    code: IfdCode,
    message: string,
    readonly bError: number,
    readonly bStatus: number,
    readonly slot: number,
  ) {
    super(code, message);
  }

  /** XFR_PARITY_ERROR: at T=1 TPDU level the caller answers the card with an R-block (error), as libccid does. */
  get isParityError(): boolean {
    return this.bError === CCID_ERR.XFR_PARITY_ERROR;
  }
}

/**
 * The status word a PIN-pad failure stands for, as libccid's CCID_Receive fakes it: PIN_CANCELLED → 64 01,
 * PIN_TIMEOUT → 64 00. Undefined for any other response. Callers of Secure return it as the card's answer.
 */
export function pinFailureStatusWord(resp: CcidResponse): Uint8Array | undefined {
  if (resp.commandStatus !== 1) return undefined;
  if (resp.error === CCID_ERR.PIN_CANCELLED) return Uint8Array.of(0x64, 0x01);
  if (resp.error === CCID_ERR.PIN_TIMEOUT) return Uint8Array.of(0x64, 0x00);
  return undefined;
}

/**
 * The DriverError for a failed response (bmCommandStatus 1), mapped as libccid's CCID_Receive does:
 * - ICC_MUTE: IFD_ICC_NOT_PRESENT if bmICCStatus says absent, else IFD_RESPONSE_TIMEOUT (the card is mute);
 * - XFR_PARITY_ERROR: IFD_COMMUNICATION_ERROR with isParityError set (libccid's IFD_PARITY_ERROR);
 * - PIN_CANCELLED / PIN_TIMEOUT: IFD_COMMUNICATION_ERROR here, but see pinFailureStatusWord (64 01 / 64 00);
 * - bError 0: IFD_NOT_SUPPORTED (command not supported); ICC_PROTOCOL_NOT_SUPPORTED: IFD_PROTOCOL_NOT_SUPPORTED;
 * - 1..0x7F: IFD_COMMUNICATION_ERROR naming the rejected field; anything else IFD_COMMUNICATION_ERROR.
 * `what` names the operation for the message, e.g. "power on".
 */
export function responseError(resp: CcidResponse, what: string): CcidCommandError {
  const reason = describeBError(resp.error);
  const where = `slot ${resp.slot}`;
  let code: IfdCode = IFD.COMMUNICATION_ERROR;
  let message: string;
  switch (resp.error) {
    case CCID_ERR.ICC_MUTE:
      if (resp.iccStatus === CCID_ICC_ABSENT) {
        code = IFD.ICC_NOT_PRESENT;
        message = `${what} failed: there is no card in ${where}; insert a card`;
      } else {
        code = IFD.RESPONSE_TIMEOUT;
        message = `${what} failed: the card in ${where} is mute (it did not answer); check it is inserted the right way round, or try another card`;
      }
      break;
    case CCID_ERR.CMD_NOT_SUPPORTED:
      code = IFD.NOT_SUPPORTED;
      message = `${what} failed: the reader does not support this command`;
      break;
    case CCID_ERR.ICC_PROTOCOL_NOT_SUPPORTED:
      code = IFD.PROTOCOL_NOT_SUPPORTED;
      message = `${what} failed in ${where}: ${reason}`;
      break;
    case CCID_ERR.CMD_SLOT_BUSY:
      message = `${what} failed: ${where} is busy with another command; retry when it has finished`;
      break;
    default:
      message = `${what} failed in ${where}: ${reason}`;
  }
  return new CcidCommandError(code, message, resp.error, resp.status, resp.slot);
}
