/**
 * T=1 PCB values (ISO/IEC 7816-3 §11.3.2.2), `PCB.X` of `./t1-block.ts`: one constant each, read through the namespace
 * `PCB` so the minifier writes the value at each use (issue 14).
 */

/** R-block base; bit 5 = N(R), bits 1–2 = error (§11.3.2.2). */
export const R = 0x80 as const;
export const R_EDC_ERROR = 0x01 as const;
export const R_OTHER_ERROR = 0x02 as const;
export const S_RESYNCH_REQUEST = 0xc0 as const;
export const S_RESYNCH_RESPONSE = 0xe0 as const;
export const S_IFS_REQUEST = 0xc1 as const;
export const S_IFS_RESPONSE = 0xe1 as const;
export const S_ABORT_REQUEST = 0xc2 as const;
export const S_ABORT_RESPONSE = 0xe2 as const;
export const S_WTX_REQUEST = 0xc3 as const;
export const S_WTX_RESPONSE = 0xe3 as const;
