/**
 * Status words (ISO/IEC 7816-4 §5.6), `SW.X` of `./apdu.ts`: one constant each, read through the namespace `SW` so the
 * minifier writes the value at each use (issue 14).
 */

export const OK = 0x9000 as const;
/** 61xx: xx more bytes available with GET RESPONSE (T=0 only here). */
export const BYTES_AVAILABLE = 0x6100 as const;
/** 63Cx: verification failed, x tries left. */
export const VERIFY_FAILED = 0x63c0 as const;
export const WRONG_LENGTH = 0x6700 as const;
/** 6983: authentication method blocked. */
export const AUTH_BLOCKED = 0x6983 as const;
/** 6985: conditions of use not satisfied (GET RESPONSE with nothing to get). */
export const CONDITIONS_NOT_SATISFIED = 0x6985 as const;
export const FILE_NOT_FOUND = 0x6a82 as const;
export const INCORRECT_P1P2 = 0x6a86 as const;
/** 6Cxx: wrong Le, xx is the exact length (T=0 only here). */
export const WRONG_LE = 0x6c00 as const;
export const INS_NOT_SUPPORTED = 0x6d00 as const;
export const CLA_NOT_SUPPORTED = 0x6e00 as const;
