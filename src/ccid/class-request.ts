/**
 * CCID class-specific requests (CCID 1.1 §5.3), `CLASS_REQUEST.X` of `./constants.ts`: one constant each, read through
 * the namespace `CLASS_REQUEST` so the minifier writes the value at each use (issue 14).
 */

/** Host → interface, wValue = bSeq << 8 | bSlot (CCID 1.1 §5.3.1). bmRequestType 0x21. */
export const ABORT = 0x01 as const;
/** Interface → host, dwClockFrequency[] in kHz (CCID 1.1 §5.3.2). bmRequestType 0xA1. */
export const GET_CLOCK_FREQUENCIES = 0x02 as const;
/** Interface → host, dwDataRate[] in bps (CCID 1.1 §5.3.3). bmRequestType 0xA1. */
export const GET_DATA_RATES = 0x03 as const;
