/**
 * CCID wire constants: message types, bStatus/bError values, dwFeatures bits, class requests and chain parameters.
 *
 * Values are the USB CCID specification 1.1's (§5.1 class descriptor, §5.3 class requests, §6.1 bulk-OUT messages,
 * §6.2 bulk-IN messages, §6.3 interrupt-IN messages). Names follow the specification and libccid's `src/ccid.h` so that
 * a reader of libccid's logs or of the spec finds the same words here.
 */
import { MAX_BUFFER_SIZE_EXTENDED } from '../ifd/limits.js';
import { hexByte } from '../util/hex.js';

// ---------------------------------------------------------------------------------------------------------------
// Message types (CCID 1.1 §6.1, §6.2, §6.3)
// ---------------------------------------------------------------------------------------------------------------

/** Bulk-OUT command messages (CCID 1.1 §6.1, Table 6.1-1). */
export const PC_to_RDR_IccPowerOn = 0x62;
export const PC_to_RDR_IccPowerOff = 0x63;
export const PC_to_RDR_GetSlotStatus = 0x65;
export const PC_to_RDR_XfrBlock = 0x6f;
export const PC_to_RDR_GetParameters = 0x6c;
export const PC_to_RDR_ResetParameters = 0x6d;
export const PC_to_RDR_SetParameters = 0x61;
export const PC_to_RDR_Escape = 0x6b;
export const PC_to_RDR_IccClock = 0x6e;
export const PC_to_RDR_T0APDU = 0x6a;
export const PC_to_RDR_Secure = 0x69;
export const PC_to_RDR_Mechanical = 0x71;
export const PC_to_RDR_Abort = 0x72;
export const PC_to_RDR_SetDataRateAndClockFrequency = 0x73;

/** Bulk-IN response messages (CCID 1.1 §6.2, Table 6.2-1). */
export const RDR_to_PC_DataBlock = 0x80;
export const RDR_to_PC_SlotStatus = 0x81;
export const RDR_to_PC_Parameters = 0x82;
export const RDR_to_PC_Escape = 0x83;
export const RDR_to_PC_DataRateAndClockFrequency = 0x84;

/** Interrupt-IN messages (CCID 1.1 §6.3). */
export const RDR_to_PC_NotifySlotChange = 0x50;
export const RDR_to_PC_HardwareError = 0x51;

/** Every CCID message header is 10 bytes: bMessageType, dwLength (LE), bSlot, bSeq, 3 message-specific bytes. */
export const CCID_HEADER_SIZE = 10;

/**
 * The largest response the driver may have to take in one transfer: a 10-byte header plus pcsc-lite's
 * MAX_BUFFER_SIZE_EXTENDED (65548 = 4 + 3 + 65536 + 3 + 2), the biggest extended APDU or response.
 */
export const MAX_CCID_RESPONSE_SIZE = CCID_HEADER_SIZE + MAX_BUFFER_SIZE_EXTENDED;

/**
 * The response each command is answered with (CCID 1.1 §6.1, each command's "Response" line). A reader that does
 * not support a command answers with RDR_to_PC_SlotStatus and bError 0 (§6.2.6), so a SlotStatus is always possible.
 */
export const RESPONSE_TYPE_FOR: Readonly<Record<number, number>> = {
  [PC_to_RDR_IccPowerOn]: RDR_to_PC_DataBlock,
  [PC_to_RDR_IccPowerOff]: RDR_to_PC_SlotStatus,
  [PC_to_RDR_GetSlotStatus]: RDR_to_PC_SlotStatus,
  [PC_to_RDR_XfrBlock]: RDR_to_PC_DataBlock,
  [PC_to_RDR_GetParameters]: RDR_to_PC_Parameters,
  [PC_to_RDR_ResetParameters]: RDR_to_PC_Parameters,
  [PC_to_RDR_SetParameters]: RDR_to_PC_Parameters,
  [PC_to_RDR_Escape]: RDR_to_PC_Escape,
  [PC_to_RDR_IccClock]: RDR_to_PC_SlotStatus,
  [PC_to_RDR_T0APDU]: RDR_to_PC_SlotStatus,
  [PC_to_RDR_Secure]: RDR_to_PC_DataBlock,
  [PC_to_RDR_Mechanical]: RDR_to_PC_SlotStatus,
  [PC_to_RDR_Abort]: RDR_to_PC_SlotStatus,
  [PC_to_RDR_SetDataRateAndClockFrequency]: RDR_to_PC_DataRateAndClockFrequency,
};

const MESSAGE_NAMES: Readonly<Record<number, string>> = {
  [PC_to_RDR_IccPowerOn]: 'PC_to_RDR_IccPowerOn',
  [PC_to_RDR_IccPowerOff]: 'PC_to_RDR_IccPowerOff',
  [PC_to_RDR_GetSlotStatus]: 'PC_to_RDR_GetSlotStatus',
  [PC_to_RDR_XfrBlock]: 'PC_to_RDR_XfrBlock',
  [PC_to_RDR_GetParameters]: 'PC_to_RDR_GetParameters',
  [PC_to_RDR_ResetParameters]: 'PC_to_RDR_ResetParameters',
  [PC_to_RDR_SetParameters]: 'PC_to_RDR_SetParameters',
  [PC_to_RDR_Escape]: 'PC_to_RDR_Escape',
  [PC_to_RDR_IccClock]: 'PC_to_RDR_IccClock',
  [PC_to_RDR_T0APDU]: 'PC_to_RDR_T0APDU',
  [PC_to_RDR_Secure]: 'PC_to_RDR_Secure',
  [PC_to_RDR_Mechanical]: 'PC_to_RDR_Mechanical',
  [PC_to_RDR_Abort]: 'PC_to_RDR_Abort',
  [PC_to_RDR_SetDataRateAndClockFrequency]: 'PC_to_RDR_SetDataRateAndClockFrequency',
  [RDR_to_PC_DataBlock]: 'RDR_to_PC_DataBlock',
  [RDR_to_PC_SlotStatus]: 'RDR_to_PC_SlotStatus',
  [RDR_to_PC_Parameters]: 'RDR_to_PC_Parameters',
  [RDR_to_PC_Escape]: 'RDR_to_PC_Escape',
  [RDR_to_PC_DataRateAndClockFrequency]: 'RDR_to_PC_DataRateAndClockFrequency',
  [RDR_to_PC_NotifySlotChange]: 'RDR_to_PC_NotifySlotChange',
  [RDR_to_PC_HardwareError]: 'RDR_to_PC_HardwareError',
};

/** 0x6F → "PC_to_RDR_XfrBlock"; unknown types print as hex, for logs and error messages. */
export function messageTypeName(type: number): string {
  return MESSAGE_NAMES[type] ?? `unknown message type 0x${hexByte(type)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// bStatus (CCID 1.1 §6.2.6, Table 6.2-3) — names as libccid's ccid.h
// ---------------------------------------------------------------------------------------------------------------

export const CCID_ICC_STATUS_MASK = 0x03;
/** bmICCStatus 0: an ICC is present and active (powered). */
export const CCID_ICC_PRESENT_ACTIVE = 0x00;
/** bmICCStatus 1: an ICC is present but inactive (not powered). */
export const CCID_ICC_PRESENT_INACTIVE = 0x01;
/** bmICCStatus 2: no ICC present. */
export const CCID_ICC_ABSENT = 0x02;

export const CCID_COMMAND_STATUS_MASK = 0xc0;
export const CCID_COMMAND_STATUS_SHIFT = 6;

// ---------------------------------------------------------------------------------------------------------------
// bError slot error register (CCID 1.1 §6.2.6, Table 6.2-2)
// ---------------------------------------------------------------------------------------------------------------

import * as CCID_ERR from './ccid-err.js';
export { CCID_ERR };

// ---------------------------------------------------------------------------------------------------------------
// Class descriptor fields (CCID 1.1 §5.1) — dwFeatures names as libccid's ccid.h where it has them
// ---------------------------------------------------------------------------------------------------------------

/** Size of the CCID class descriptor (CCID 1.1 §5.1: bLength = 0x36). */
export const CCID_CLASS_DESCRIPTOR_LENGTH = 54;

export const USB_CLASS_CCID = 0x0b;
export const USB_CLASS_VENDOR_SPECIFIC = 0xff;
/** bInterfaceProtocol values for class 0x0B (CCID 1.1 §4.3; ICCD specification 1.0). */
export const PROTOCOL_CCID = 0;
export const PROTOCOL_ICCD_A = 1;
export const PROTOCOL_ICCD_B = 2;

export const CCID_CLASS_AUTO_CONF_ATR = 0x00000002;
export const CCID_CLASS_AUTO_ACTIVATION = 0x00000004;
export const CCID_CLASS_AUTO_VOLTAGE = 0x00000008;
export const CCID_CLASS_AUTO_CLOCK = 0x00000010;
export const CCID_CLASS_AUTO_BAUD = 0x00000020;
export const CCID_CLASS_AUTO_PPS_PROP = 0x00000040;
export const CCID_CLASS_AUTO_PPS_CUR = 0x00000080;
export const CCID_CLASS_CLOCK_STOP = 0x00000100;
export const CCID_CLASS_NAD_OTHER_THAN_0 = 0x00000200;
export const CCID_CLASS_AUTO_IFSD = 0x00000400;
export const CCID_CLASS_CHARACTER = 0x00000000;
export const CCID_CLASS_TPDU = 0x00010000;
export const CCID_CLASS_SHORT_APDU = 0x00020000;
export const CCID_CLASS_EXTENDED_APDU = 0x00040000;
export const CCID_CLASS_EXCHANGE_MASK = 0x00070000;
export const CCID_CLASS_USB_WAKE_UP = 0x00100000;

// ---------------------------------------------------------------------------------------------------------------
// Command fields
// ---------------------------------------------------------------------------------------------------------------

/**
 * wLevelParameter of PC_to_RDR_XfrBlock and bChainParameter of RDR_to_PC_DataBlock for short/extended APDU level
 * readers (CCID 1.1 §6.1.4 and §6.2.1).
 */
import * as CHAIN from './chain.js';
export { CHAIN };

/** bFunction of PC_to_RDR_Mechanical (CCID 1.1 §6.1.12). */
export const MECHANICAL_FUNCTION = {
  ACCEPT_CARD: 0x01,
  EJECT_CARD: 0x02,
  CAPTURE_CARD: 0x03,
  LOCK_CARD: 0x04,
  UNLOCK_CARD: 0x05,
} as const;

// ---------------------------------------------------------------------------------------------------------------
// Class-specific requests (CCID 1.1 §5.3)
// ---------------------------------------------------------------------------------------------------------------

import * as CLASS_REQUEST from './class-request.js';
export { CLASS_REQUEST };

// ---------------------------------------------------------------------------------------------------------------
// Standard USB descriptor types (USB 2.0 §9.4, Table 9-5)
// ---------------------------------------------------------------------------------------------------------------

export const USB_DT_DEVICE = 0x01;
export const USB_DT_CONFIGURATION = 0x02;
export const USB_DT_STRING = 0x03;
export const USB_DT_INTERFACE = 0x04;
export const USB_DT_ENDPOINT = 0x05;
/** Interface association descriptor (USB 2.0 ECN, IAD): starts a function, so it is not an interface's extra. */
export const USB_DT_INTERFACE_ASSOCIATION = 0x0b;
/** GET_DESCRIPTOR standard request (USB 2.0 §9.4.3). */
export const USB_REQ_GET_DESCRIPTOR = 0x06;
