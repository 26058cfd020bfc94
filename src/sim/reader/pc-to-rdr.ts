/**
 * PC_to_RDR message types (CCID 1.1 §6.1), `PC_TO_RDR.X` of `./ccid-constants.ts`: one constant each, read through the
 * namespace `PC_TO_RDR` so the minifier writes the value at each use (issue 14).
 */

export const IccPowerOn = 0x62 as const;
export const IccPowerOff = 0x63 as const;
export const GetSlotStatus = 0x65 as const;
export const XfrBlock = 0x6f as const;
export const GetParameters = 0x6c as const;
export const ResetParameters = 0x6d as const;
export const SetParameters = 0x61 as const;
export const Escape = 0x6b as const;
export const IccClock = 0x6e as const;
export const T0APDU = 0x6a as const;
export const Secure = 0x69 as const;
export const Mechanical = 0x71 as const;
export const Abort = 0x72 as const;
export const SetDataRateAndClockFrequency = 0x73 as const;
