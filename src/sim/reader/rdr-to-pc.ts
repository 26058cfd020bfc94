/**
 * RDR_to_PC message types (CCID 1.1 §6.2, §6.3), `RDR_TO_PC.X` of `./ccid-constants.ts`: one constant each, read
 * through the namespace `RDR_TO_PC` so the minifier writes the value at each use (issue 14).
 */

export const DataBlock = 0x80 as const;
export const SlotStatus = 0x81 as const;
export const Parameters = 0x82 as const;
export const Escape = 0x83 as const;
export const DataRateAndClockFrequency = 0x84 as const;
export const NotifySlotChange = 0x50 as const;
export const HardwareError = 0x51 as const;
