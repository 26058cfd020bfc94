/**
 * ICCD bRequest codes (ISO/IEC 7816-12 §7–8), `ICCD_REQUEST.X` of `./iccd.ts`: one constant each, read through the
 * namespace `ICCD_REQUEST` so the minifier writes the value at each use (issue 14).
 */

export const ICC_POWER_ON = 0x62 as const;
export const ICC_POWER_OFF = 0x63 as const;
export const XFR_BLOCK = 0x65 as const;
export const DATA_BLOCK = 0x6f as const;
export const GET_ICC_STATUS_A = 0xa0 as const;
export const SLOT_STATUS_B = 0x81 as const;
