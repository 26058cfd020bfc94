/**
 * Slot error register values (CCID 1.1 §6.2.6), `SLOT_ERROR.X` of `./ccid-constants.ts`: one constant each, read
 * through the namespace `SLOT_ERROR` so the minifier writes the value at each use (issue 14).
 */

export const CMD_NOT_SUPPORTED = 0x00 as const;
export const CMD_ABORTED = 0xff as const;
export const ICC_MUTE = 0xfe as const;
export const XFR_PARITY_ERROR = 0xfd as const;
export const XFR_OVERRUN = 0xfc as const;
export const HW_ERROR = 0xfb as const;
export const BAD_ATR_TS = 0xf8 as const;
export const BAD_ATR_TCK = 0xf7 as const;
export const ICC_PROTOCOL_NOT_SUPPORTED = 0xf6 as const;
export const ICC_CLASS_NOT_SUPPORTED = 0xf5 as const;
export const PROCEDURE_BYTE_CONFLICT = 0xf4 as const;
export const DEACTIVATED_PROTOCOL = 0xf3 as const;
export const BUSY_WITH_AUTO_SEQUENCE = 0xf2 as const;
export const PIN_TIMEOUT = 0xf0 as const;
export const PIN_CANCELLED = 0xef as const;
export const CMD_SLOT_BUSY = 0xe0 as const;
