/**
 * How long the driver waits for a reader's answer, in milliseconds, as libccid computes it.
 *
 * Checked against libccid (LudovicRousseau/CCID, 2026 snapshot): `DEFAULT_COM_READ_TIMEOUT` in `src/defs.h`,
 * `T0_card_timeout` / `T1_card_timeout` and the 60 s power-on and 30 s escape timeouts in `src/ifdhandler.c`, the
 * PIN timeouts of `SecurePINVerify` / `SecurePINModify` and the time extension loop of `CCID_Receive` in
 * `src/commands.c`. The clock is in kHz, so the formulas give milliseconds directly.
 */
import type { ParsedAtr } from './atr.js';
import { decodeFiDi } from './atr.js';
import { DriverError, IFD } from '../ifd/errors.js';
import { t1WaitingIntegers } from './pps.js';

/** libccid `DEFAULT_COM_READ_TIMEOUT`: every command before the card's parameters are known, and the T=0 floor. */
export const DEFAULT_TIMEOUT_MS = 3000;
/**
 * PC_to_RDR_IccPowerOn (libccid `IFDHPowerICC`): an ATR may take (9600 + 12) · 33 etu of 372 clocks, 29 s at 4 MHz;
 * libccid waits 60 s.
 */
export const POWER_ON_TIMEOUT_MS = 60_000;
/** PC_to_RDR_Escape sent for an application (libccid `IFDHControl`, "30 seconds timeout for long commands"). */
export const ESCAPE_TIMEOUT_MS = 30_000;
/** libccid's answer when F, D or the clock is 0 ("may happen with non ISO cards"): wait 60 s. */
export const NON_ISO_CARD_TIMEOUT_MS = 60_000;
/** The smallest wait for a PC_to_RDR_Secure (PIN entry): 90 s (libccid `SecurePINVerify`). */
export const SECURE_MIN_TIMEOUT_MS = 90_000;
/** T=1: one second on top of the card's own times so the reader's error arrives before ours (libccid). */
const T1_READER_MARGIN_MS = 1000;

/**
 * Timeout for PC_to_RDR_Secure: max(90 s, bTimeOut + 10 s), bTimeOut being the PIN structure's seconds the reader
 * waits for the user (libccid `SecurePINVerify`/`SecurePINModify`). Throws `DriverError(IFD_COMMUNICATION_ERROR)`
 * unless bTimeOut is a byte, as it is on the wire.
 */
export function secureTimeoutMs(bTimeOutSeconds: number): number {
  if (!Number.isInteger(bTimeOutSeconds) || bTimeOutSeconds < 0 || bTimeOutSeconds > 0xff) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `PIN bTimeOut ${String(bTimeOutSeconds)} is not a byte (0-255 seconds)`,
    );
  }
  return Math.max(SECURE_MIN_TIMEOUT_MS, (bTimeOutSeconds + 10) * 1000);
}

/**
 * The wait after the reader asked for more time (bStatus 0x80, CCID 1.1 §6.2.7): libccid's `CCID_Receive` reads
 * again with the original timeout multiplied by bError when bError > 0, else with the original timeout.
 */
export function timeExtensionMs(originalMs: number, bError: number): number {
  return bError > 0 ? originalMs * bError : originalMs;
}

/**
 * The read timeout for card exchanges once the protocol is set, as libccid's `T0_card_timeout` and
 * `T1_card_timeout` compute it (ms, clock f in kHz, F/D from `fidi`):
 *
 * - T=0: EGT = 12·F/D/f + N·F/D/f (ISO 7816-3 §7.2), WWT = 960·WI·F/f (§10.2). An incoming case takes 5 header bytes
 *   + 256 data bytes from the reader and up to 6 waits (261·EGT + 6·WWT); an outgoing case 5 header bytes and 260
 *   character waits (5·EGT + 260·WWT). The larger, and never below 3000 ms.
 * - T=1: etu = F/D/f; EGT = 12·etu + N·F/D/f; BWT = 11·etu + 2^BWI·960·372/f (§11.4.3); CWT = (11 + 2^CWI)·etu.
 *   A 260-byte block each way: 260·EGT + BWT + 260·CWT, plus 1 s so the reader's own timeout comes first. libccid
 *   does not floor this one at 3000 ms, and neither do we. BWI/CWI are those sent in SetParameters
 *   (`t1WaitingIntegers`, which includes libccid's OpenPGP card BWI 7).
 *
 * Each sum is truncated to whole ms, as the C code assigns it to an unsigned int. Differences from libccid: F/D come
 * from `fidi` (what was negotiated) where libccid always takes the ATR's TA1; WI is the parsed one (TC2 = 0 gives 10
 * here, a zero WWT in libccid). A reserved `fidi` or a clock that is not a positive number gives 60 s, libccid's
 * answer for non-ISO values. Throws `DriverError(IFD_PROTOCOL_NOT_SUPPORTED)` for a protocol other than 0/1.
 */
export function exchangeTimeoutMs(atr: ParsedAtr, protocol: 0 | 1, clockKhz: number, fidi: number): number {
  if (protocol !== 0 && protocol !== 1) {
    throw new DriverError(
      IFD.PROTOCOL_NOT_SUPPORTED,
      `no exchange timeout for T=${String(protocol)}: only T=0 and T=1`,
    );
  }
  const fd = decodeFiDi(fidi);
  if (!Number.isInteger(fidi) || fidi < 0 || fidi > 0xff || !fd.valid || !Number.isFinite(clockKhz) || clockKhz <= 0) {
    return NON_ISO_CARD_TIMEOUT_MS;
  }
  const f = fd.fi;
  const d = fd.di;
  const clock = clockKhz;
  if (protocol === 0) {
    const egt = (12 * f) / d / clock + ((f / d) * atr.n) / clock;
    const wwt = (960 * atr.wi * f) / clock;
    const isoIn = Math.trunc(261 * egt + (3 + 3) * wwt);
    const isoOut = Math.trunc(5 * egt + (1 + 259) * wwt);
    return Math.max(DEFAULT_TIMEOUT_MS, isoIn, isoOut);
  }
  const waiting = t1WaitingIntegers(atr);
  const bwi = waiting >> 4;
  const cwi = waiting & 0x0f;
  const etu = f / d / clock;
  const egt = 12 * etu + ((f / d) * atr.n) / clock;
  const bwt = 11 * etu + (2 ** bwi * 960 * 372) / clock;
  const cwt = (11 + 2 ** cwi) * etu;
  return Math.trunc(260 * egt + bwt + 260 * cwt) + T1_READER_MARGIN_MS;
}
