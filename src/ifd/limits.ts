/**
 * Sizes pcsc-lite fixes in `pcsclite.h` that the driver and the daemon (and the connector's wire checks) share.
 * One home, so that the driver never accepts what the daemon would refuse, or the other way round.
 */

/** pcsc-lite MAX_ATR_SIZE; ISO 7816-3 §8.2.1 caps an ATR at 32 bytes after TS. */
export const MAX_ATR_SIZE = 33;

/**
 * pcsc-lite MAX_BUFFER_SIZE_EXTENDED: the largest extended APDU or response, 4 (header) + 3 (Lc) + 65536 (data)
 * + 3 (Le) + 2 (SW) = 65548.
 */
export const MAX_BUFFER_SIZE_EXTENDED = 4 + 3 + (1 << 16) + 3 + 2;
