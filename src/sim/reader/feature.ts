/**
 * dwFeatures bits (CCID 1.1 §5.1), `FEATURE.X` of `./ccid-constants.ts`: one constant each, read through the namespace
 * `FEATURE` so the minifier writes the value at each use (issue 14).
 */

export const AUTO_PARAMETERS_FROM_ATR = 0x02 as const;
export const AUTO_ACTIVATION = 0x04 as const;
export const AUTO_VOLTAGE = 0x08 as const;
export const AUTO_CLOCK = 0x10 as const;
export const AUTO_BAUD = 0x20 as const;
export const AUTO_NEGOTIATION = 0x40 as const;
export const AUTO_PPS = 0x80 as const;
export const CLOCK_STOP = 0x100 as const;
export const NAD_OTHER_THAN_0 = 0x200 as const;
export const AUTO_IFSD = 0x400 as const;
export const LEVEL_MASK = 0x70000 as const;
export const LEVEL_TPDU = 0x10000 as const;
export const LEVEL_SHORT_APDU = 0x20000 as const;
export const LEVEL_EXTENDED_APDU = 0x40000 as const;
export const USB_WAKE_UP = 0x100000 as const;
