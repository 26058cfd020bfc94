/**
 * Protocol selection: atrhandler.c ATRDecodeAtr and prothandler.c PHSetProtocol.
 */
import {
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_PROTOCOL_T15,
  SCARD_PROTOCOL_UNDEFINED,
  MAX_ATR_SIZE,
} from './constants.js';

export interface AtrProtocols {
  /** SCARD_PROTOCOL_* bits offered by the ATR (T=15 included, as pcscd records it). */
  available: number;
  /** The protocol of TD1 (or TA2 in specific mode), T=0 when there is no TD. */
  defaultProtocol: number;
}

/**
 * ATRDecodeAtr: TS must be 3B or 3F; each TDi adds its protocol; the first TD gives the default, and an unknown T
 * there (not 0 or 1) aborts the decoding; TA2 present forces its single protocol (specific mode); no TD means T=0.
 * A failed decoding leaves what was found so far (both 0 when the ATR is unusable), as pcscd does.
 */
export function decodeAtrProtocols(atr: Uint8Array): AtrProtocols {
  let available = SCARD_PROTOCOL_UNDEFINED;
  let current = SCARD_PROTOCOL_UNDEFINED;
  const fail = (): AtrProtocols => ({ available, defaultProtocol: current });
  if (atr.length < 2) return fail();
  if (atr[0] !== 0x3f && atr[0] !== 0x3b) return fail();
  let y = (atr[1] ?? 0) >> 4;
  let p = 2;
  let i = 1;
  const next = (): number => atr[p++] ?? 0; // pcscd reads past the end of short ATRs (its buffer is zeroed)
  do {
    const ta = y & 0x01 ? next() : -1;
    if (y & 0x02) next();
    if (y & 0x04) next();
    const td = y & 0x08 ? next() : -1;
    if (td >= 0) {
      y = td >> 4;
      const t = td & 0x0f;
      if (current === SCARD_PROTOCOL_UNDEFINED) {
        if (t === 0) current = SCARD_PROTOCOL_T0;
        else if (t === 1) current = SCARD_PROTOCOL_T1;
        else return fail();
      }
      if (t === 0) available |= SCARD_PROTOCOL_T0;
      else if (t === 1) available |= SCARD_PROTOCOL_T1;
      else if (t === 15) available |= SCARD_PROTOCOL_T15;
    } else {
      y = 0;
    }
    if (i === 2 && ta >= 0) {
      const t = ta & 0x0f;
      if (t === 0) current = available = SCARD_PROTOCOL_T0;
      else if (t === 1) current = available = SCARD_PROTOCOL_T1;
      else return fail();
    }
    if (p > MAX_ATR_SIZE) return fail();
    i++;
  } while (y !== 0);
  if (current === SCARD_PROTOCOL_UNDEFINED) {
    current = SCARD_PROTOCOL_T0;
    available |= SCARD_PROTOCOL_T0;
  }
  return { available, defaultProtocol: current };
}

/** PHSetProtocol's outcomes besides a protocol. */
export const SET_PROTOCOL_WRONG_ARGUMENT = 'wrong-argument';
export const SET_PROTOCOL_PPS_FAILED = 'pps-failed';
export type SetProtocolResult = number | typeof SET_PROTOCOL_WRONG_ARGUMENT | typeof SET_PROTOCOL_PPS_FAILED;

/** How the driver answered IFDSetPTS: 'ok', or the IFD_* code it failed with. */
export type PtsOutcome = 'ok' | number;

/**
 * PHSetProtocol: keep the preferred protocols the card offers; T=1 first, else T=0; ask the driver (PPS). The driver's
 * IFD_PROTOCOL_NOT_SUPPORTED / IFD_ERROR_NOT_SUPPORTED falls back to the card's default protocol unless that is exactly
 * what was asked (then PPS failed); IFD_NOT_SUPPORTED keeps the default; any other failure is PPS failed.
 */
export async function chooseProtocol(
  preferred: number,
  atr: AtrProtocols,
  setPts: (protocol: 1 | 2) => Promise<PtsOutcome>,
  codes: { PROTOCOL_NOT_SUPPORTED: number; ERROR_NOT_SUPPORTED: number; NOT_SUPPORTED: number },
): Promise<SetProtocolResult> {
  if (preferred === SCARD_PROTOCOL_UNDEFINED) return SET_PROTOCOL_WRONG_ARGUMENT;
  if ((preferred & atr.available) === 0) return SET_PROTOCOL_WRONG_ARGUMENT;
  let protocol: SetProtocolResult = atr.defaultProtocol;
  const wanted = preferred & atr.available;
  let chosen: 1 | 2;
  if (wanted & SCARD_PROTOCOL_T1) chosen = SCARD_PROTOCOL_T1;
  else if (wanted & SCARD_PROTOCOL_T0) chosen = SCARD_PROTOCOL_T0;
  else return SET_PROTOCOL_WRONG_ARGUMENT;
  const outcome = await setPts(chosen);
  if (outcome === 'ok') protocol = chosen;
  else if (outcome === codes.PROTOCOL_NOT_SUPPORTED || outcome === codes.ERROR_NOT_SUPPORTED) {
    // prothandler.c compares the default with the *masked* preferred set.
    if (protocol === wanted) protocol = SET_PROTOCOL_PPS_FAILED;
  } else if (outcome === codes.NOT_SUPPORTED) {
    // the driver has no PPS: keep the default protocol
  } else {
    protocol = SET_PROTOCOL_PPS_FAILED;
  }
  return protocol;
}
