/**
 * Protocol and parameters selection (ISO 7816-3 §9) and the reader parameters libccid derives from the ATR.
 *
 * What is mirrored is libccid's `IFDHSetProtocolParameters` (`src/ifdhandler.c`) and `PPS_Exchange`
 * (`src/towitoko/pps.c`): which PPS1 to propose, when a PPS exchange is worth doing, when the reader does it itself
 * (dwFeatures), and the PC_to_RDR_SetParameters bodies (CCID 1.1 §6.1.7).
 */
import type { ParsedAtr } from './atr.js';
import { DEFAULT_FIDI, bitRate, isValidFiDi } from './atr.js';
import { DriverError, IFD } from '../ifd/errors.js';
import type { CcidClassDescriptor } from './types.js';
import { hexNumber } from '../util/hex.js';

/** PPSS, the initial byte of a PPS request and response (ISO 7816-3 §9.2). */
export const PPSS = 0xff;
/** PPS0 bits 5, 6, 7: PPS1, PPS2, PPS3 follow (ISO 7816-3 §9.2). */
const PPS0_PPS1 = 0x10;
const PPS0_PPS2 = 0x20;
const PPS0_PPS3 = 0x40;

/** CCID 1.1 §5.1 dwFeatures: the reader negotiates parameters itself (proprietary); libccid skips PPS and SetParameters. */
export const FEATURE_AUTO_PPS_PROPRIETARY = 0x40;
/** CCID 1.1 §5.1 dwFeatures: the reader does the PPS per the parameters it is given; libccid skips PPS only. */
export const FEATURE_AUTO_PPS_CURRENT = 0x80;

/** The lowest TA1 libccid steps down to when the card is faster than the reader (`ifdhandler.c`). */
const STEP_DOWN_FLOOR = 0x94;
/** libccid only steps down TA1 values up to 0x97 (Fi 512, Di 64). */
const STEP_DOWN_CEILING = 0x97;

function checkProtocol(protocol: number): asserts protocol is 0 | 1 {
  if (protocol !== 0 && protocol !== 1) {
    throw new DriverError(
      IFD.PROTOCOL_NOT_SUPPORTED,
      `protocol T=${String(protocol)} is not supported: only T=0 and T=1`,
    );
  }
}

function xorAll(bytes: Uint8Array): number {
  let x = 0;
  for (const b of bytes) x ^= b;
  return x;
}

/**
 * A PPS request: PPSS 0xFF, PPS0 (protocol in bits 4-1, bit 5 when PPS1 follows), optional PPS1 (Fi/Di as TA1),
 * PCK such that all bytes XOR to 0 (ISO 7816-3 §9.2). Throws `DriverError(IFD_PROTOCOL_NOT_SUPPORTED)` for a protocol
 * other than 0/1 and `DriverError(IFD_ERROR_PTS_FAILURE)` for a PPS1 that is not a byte naming a defined Fi and Di.
 */
export function buildPpsRequest(protocol: 0 | 1, pps1?: number): Uint8Array {
  checkProtocol(protocol);
  if (pps1 === undefined) {
    const body = [PPSS, protocol];
    return Uint8Array.of(...body, xorAll(Uint8Array.from(body)));
  }
  if (!isValidFiDi(pps1)) {
    throw new DriverError(
      IFD.ERROR_PTS_FAILURE,
      `PPS1 ${String(pps1)} is not a valid Fi/Di byte (ISO 7816-3 Tables 7 and 8)`,
    );
  }
  const body = [PPSS, PPS0_PPS1 | protocol, pps1];
  return Uint8Array.of(...body, xorAll(Uint8Array.from(body)));
}

/** The outcome of a PPS exchange (ISO 7816-3 §9.3). */
export interface PpsCheck {
  ok: boolean;
  /** The protocol the card confirmed. */
  protocol?: number;
  /** The Fi/Di to use from now on: the echoed PPS1, or 0x11 (Fd/Dd) when the answer has no PPS1. */
  pps1?: number;
  /** Why the exchange failed, for a person. */
  reason?: string;
}

interface PpsFields {
  pps0: number;
  pps1?: number;
  pps2?: number;
  pps3?: number;
}

/** Split a PPS message after checking PPSS, its length against PPS0 and PCK; a string says what is wrong. */
function splitPps(bytes: Uint8Array, what: string): PpsFields | string {
  if (bytes.length < 3) return `the PPS ${what} has ${bytes.length} byte(s), at least 3 are needed`;
  if (bytes[0] !== PPSS) return `the PPS ${what} starts with 0x${hexNumber(bytes[0] ?? 0)}, not PPSS 0xFF`;
  const pps0 = bytes[1] ?? 0;
  const optional = [PPS0_PPS1, PPS0_PPS2, PPS0_PPS3].filter((bit) => (pps0 & bit) !== 0).length;
  const expected = 3 + optional;
  if (bytes.length !== expected) {
    return `the PPS ${what} has ${bytes.length} bytes but PPS0 0x${hexNumber(pps0)} announces ${expected}`;
  }
  if (xorAll(bytes) !== 0) return `the PPS ${what} has a wrong check byte PCK`;
  const fields: PpsFields = { pps0 };
  let pos = 2;
  if (pps0 & PPS0_PPS1) fields.pps1 = bytes[pos++];
  if (pps0 & PPS0_PPS2) fields.pps2 = bytes[pos++];
  if (pps0 & PPS0_PPS3) fields.pps3 = bytes[pos];
  return fields;
}

/**
 * Judge a card's PPS response against the request (ISO 7816-3 §9.3): success when the response echoes the request,
 * or echoes PPS0's protocol and leaves out PPS1 (then Fd/Dd, 0x11, apply), PPS2 or PPS3. Anything else (another
 * protocol, another PPS1, a byte the request did not have, a bad PCK or length) is a failed exchange: the card must
 * then be reset (ISO 7816-3 §9.1). libccid's `PPS_Match` is laxer (no PCK or protocol check); a reply it would accept
 * with a wrong protocol or check byte is refused here.
 */
export function checkPpsResponse(request: Uint8Array, response: Uint8Array): PpsCheck {
  const req = splitPps(request, 'request');
  if (typeof req === 'string') return { ok: false, reason: req };
  const res = splitPps(response, 'response');
  if (typeof res === 'string') return { ok: false, reason: res };
  const protocol = req.pps0 & 0x0f;
  const answered = res.pps0 & 0x0f;
  if (answered !== protocol) {
    return { ok: false, reason: `the card answered the PPS for T=${protocol} with T=${answered}` };
  }
  if ((res.pps0 & 0x80) !== 0) return { ok: false, reason: 'the PPS response sets the reserved bit 8 of PPS0' };
  for (const key of ['pps1', 'pps2', 'pps3'] as const) {
    const got = res[key];
    if (got === undefined) continue;
    const asked = req[key];
    if (asked === undefined) {
      return {
        ok: false,
        reason: `the PPS response carries ${key.toUpperCase()} 0x${hexNumber(got)} the request did not have`,
      };
    }
    if (got !== asked) {
      return {
        ok: false,
        reason: `the card answered ${key.toUpperCase()} 0x${hexNumber(got)} to a request for 0x${hexNumber(asked)}`,
      };
    }
  }
  return { ok: true, protocol, pps1: res.pps1 ?? DEFAULT_FIDI };
}

/**
 * libccid's `find_baud_rate`: the reader supports `rate` if an entry of its data rate table is within 2 bps,
 * exclusive (|rate − entry| < 2), because the card rate is a truncated division.
 */
export function readerSupportsRate(rate: number, dataRates: readonly number[]): boolean {
  return dataRates.some((r) => rate < r + 2 && rate > r - 2);
}

interface Pps1Choice {
  pps1?: number;
  /** TA1's rate is faster than the default and within dwMaxDataRate but missing from the reader's table. */
  rateNotInTable?: number;
}

function selectPps1(atr: ParsedAtr, d: CcidClassDescriptor, dataRates?: readonly number[]): Pps1Choice {
  const ta1 = atr.groups[0]?.ta;
  if (ta1 === undefined) return {};
  const table = dataRates !== undefined && dataRates.length > 0 ? dataRates : undefined;
  const clock = d.dwDefaultClock;
  // An RFU TA1 counts as F=372, D=1 (libccid: "may happen with non ISO cards"), so it never beats the default.
  const cardRate = bitRate(ta1, clock);
  const defaultRate = bitRate(DEFAULT_FIDI, clock);
  if (cardRate > defaultRate && cardRate <= d.dwMaxDataRate) {
    if (table === undefined || readerSupportsRate(cardRate, table)) return { pps1: ta1 };
    return { rateNotInTable: cardRate };
  }
  // The card is too fast for the reader: try lower Di with Fi 512 (TA1 0x96, 0x95, 0x94), as libccid does.
  if (cardRate > d.dwMaxDataRate + 2 && ta1 <= STEP_DOWN_CEILING) {
    for (let candidate = ta1 - 1; candidate >= STEP_DOWN_FLOOR; candidate--) {
      const rate = bitRate(candidate, clock);
      if (table !== undefined ? readerSupportsRate(rate, table) : rate <= d.dwMaxDataRate) return { pps1: candidate };
    }
  }
  return {};
}

/**
 * The PPS1 libccid proposes for this card on this reader, or undefined to stay at the default Fi/Di:
 * TA1 itself when its rate 1000·dwDefaultClock·D/F is above the default rate, at most dwMaxDataRate and (if the
 * reader gave a data rate table) in the table; when TA1 is faster than the reader and at most 0x97, the first of
 * TA1−1 … 0x94 the reader supports. `dataRates` is the reader's GET_DATA_RATES answer; absent or empty means no table.
 */
export function choosePps1(atr: ParsedAtr, d: CcidClassDescriptor, dataRates?: number[]): number | undefined {
  return selectPps1(atr, d, dataRates).pps1;
}

/** What the driver must do to set up a protocol with the card. */
export interface ProtocolPlan {
  /** Send `ppsRequest` to the card (in an XfrBlock) and check the answer with `checkPpsResponse`. */
  doPps: boolean;
  ppsRequest?: Uint8Array;
  /** Send PC_to_RDR_SetParameters with `setParametersBody(protocol, atr, fidi)`. */
  doSetParameters: boolean;
  /**
   * The Fi/Di to configure: the proposed PPS1, else 0x11. After a PPS exchange use the `pps1` `checkPpsResponse`
   * returns instead (the card may answer without PPS1, which means 0x11).
   */
  fidi: number;
}

/**
 * Decide PPS and SetParameters as libccid's `IFDHSetProtocolParameters` does:
 * - the reader must support the protocol (dwProtocols), else `IFD_ERROR_NOT_SUPPORTED`;
 * - a card in specific mode (TA2) only speaks the TA2 protocol, else `IFD_PROTOCOL_NOT_SUPPORTED`; a card that does
 *   not offer the protocol at all gets the same answer here (libccid would try a PPS and fail);
 * - dwFeatures 0x40: the reader negotiates everything itself, no PPS and no SetParameters;
 * - a card in specific mode whose TA1 rate the reader cannot do (not in its table) is refused with
 *   `IFD_COMMUNICATION_ERROR`, and so is a card with implicit parameters (TA2 b5), which libccid cannot drive;
 * - PPS only when dwFeatures lacks 0x80, TA2 is absent, and the wanted protocol is not the default or a PPS1 is
 *   worth proposing (`choosePps1`);
 * - SetParameters with Fi/Di = the proposed PPS1 (also in specific mode and with 0x80, where no PPS is sent) or 0x11.
 */
export function planProtocol(
  atr: ParsedAtr,
  d: CcidClassDescriptor,
  wanted: 0 | 1,
  dataRates?: number[],
): ProtocolPlan {
  checkProtocol(wanted);
  if ((d.dwProtocols & (1 << wanted)) === 0) {
    throw new DriverError(
      IFD.ERROR_NOT_SUPPORTED,
      `the reader does not support T=${wanted} (dwProtocols 0x${d.dwProtocols.toString(16)})`,
    );
  }
  if (atr.specificMode && atr.specificProtocol !== wanted) {
    throw new DriverError(
      IFD.PROTOCOL_NOT_SUPPORTED,
      `the card is in specific mode T=${atr.specificProtocol ?? 0} (TA2) and cannot use T=${wanted}`,
    );
  }
  if (!atr.specificMode && !atr.protocols.includes(wanted)) {
    throw new DriverError(
      IFD.PROTOCOL_NOT_SUPPORTED,
      `the card does not offer T=${wanted}; its ATR offers ${atr.protocols.map((t) => `T=${t}`).join(', ')}`,
    );
  }
  if ((d.dwFeatures & FEATURE_AUTO_PPS_PROPRIETARY) !== 0) {
    return { doPps: false, doSetParameters: false, fidi: DEFAULT_FIDI };
  }
  const choice = selectPps1(atr, d, dataRates);
  if (atr.specificMode && choice.rateNotInTable !== undefined) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `the card is in specific mode at ${choice.rateNotInTable} bps (TA1 0x${hexNumber(atr.groups[0]?.ta ?? 0)}), ` +
        "a rate missing from the reader's data rate table",
    );
  }
  if (atr.specificMode && atr.implicitParameters) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      'the card is in specific mode with implicit parameters (TA2 bit 5): its Fi/Di are unknown, so the reader cannot be set up',
    );
  }
  const doPps =
    (d.dwFeatures & FEATURE_AUTO_PPS_CURRENT) === 0 &&
    !atr.specificMode &&
    (wanted !== atr.defaultProtocol || choice.pps1 !== undefined);
  const plan: ProtocolPlan = { doPps, doSetParameters: true, fidi: choice.pps1 ?? DEFAULT_FIDI };
  if (doPps) plan.ppsRequest = buildPpsRequest(wanted, choice.pps1);
  return plan;
}

/** The OpenPGP card ATR libccid special-cases (`ifdhandler.c`, "Hack for OpenPGP card"). */
const OPENPGP_ATR = [
  0x3b, 0xfa, 0x13, 0x00, 0xff, 0x81, 0x31, 0x80, 0x45, 0x00, 0x31, 0xc1, 0x73, 0xc0, 0x01, 0x00, 0x00, 0x90, 0x00,
  0xb1,
];

/**
 * bmWaitingIntegersT1 (BWI << 4 | CWI): the first TB for T=1, else 0x4D (BWI 4, CWI 13). For the OpenPGP card above,
 * libccid uses 0x75 instead: BWI 7 raises BWT from 1.4 s to 11 s so on-card key generation does not time out.
 */
export function t1WaitingIntegers(atr: ParsedAtr): number {
  if (atr.bytes.length === OPENPGP_ATR.length && OPENPGP_ATR.every((b, i) => atr.bytes[i] === b)) return 0x75;
  return (atr.bwi << 4) | atr.cwi;
}

/**
 * The PC_to_RDR_SetParameters body (CCID 1.1 §6.1.7) libccid builds:
 * - T=0 (5 bytes): bmFindexDindex, bmTCCKST0 (bit 1 inverse convention), bGuardTimeT0 (TC1), bWaitingIntegerT0
 *   (TC2, else 10), bClockStop 0.
 * - T=1 (7 bytes): bmFindexDindex, bmTCCKST1 (0x10 | bit 0 CRC | bit 1 inverse convention), bGuardTimeT1 (TC1),
 *   bmWaitingIntegersT1 (`t1WaitingIntegers`), bClockStop 0, bIFSC (else 32), bNadValue 0.
 * Reserved ATR values were replaced by their defaults when parsing (TC2 = 0 gives WI 10 here, where libccid would
 * send 0). Throws `DriverError(IFD_ERROR_PTS_FAILURE)` when `fidi` is not a byte naming a defined Fi and Di.
 */
export function setParametersBody(protocol: 0 | 1, atr: ParsedAtr, fidi: number): Uint8Array {
  checkProtocol(protocol);
  if (!isValidFiDi(fidi)) {
    throw new DriverError(
      IFD.ERROR_PTS_FAILURE,
      `Fi/Di ${String(fidi)} is not a valid TA1 byte (ISO 7816-3 Tables 7 and 8)`,
    );
  }
  const inverse = atr.convention === 'inverse' ? 0x02 : 0x00;
  if (protocol === 0) return Uint8Array.of(fidi, inverse, atr.n, atr.wi, 0x00);
  const crc = atr.edc === 'crc' ? 0x01 : 0x00;
  return Uint8Array.of(fidi, 0x10 | crc | inverse, atr.n, t1WaitingIntegers(atr), 0x00, atr.ifsc, 0x00);
}
