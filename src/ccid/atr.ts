/**
 * Answer-to-Reset parser (ISO/IEC 7816-3:2006 §8).
 *
 * Real cards send defective ATRs (a missing or wrong TCK, trailing bytes, reserved values). pcsc-lite
 * (`ATRDecodeAtr`) and libccid (`towitoko/atr.c`) decode them tolerantly, so a card that works with them must work
 * here: `parseAtr` decodes whatever can be decoded, lists each defect as an {@link AtrIssue}, and throws only when
 * nothing usable is there (no TS, a TS that is neither 3B nor 3F, or no T0).
 */
import { DriverError, IFD } from '../ifd/errors.js';
import { MAX_ATR_SIZE } from '../ifd/limits.js';
import { hexNumber, toHex } from '../util/hex.js';

/** One row of ISO 7816-3 Table 7: clock rate conversion integer Fi and the maximum clock fmax for an Fi index. */
export interface FiEntry {
  /** Fi; 0 for RFU indexes. */
  readonly fi: number;
  /** fmax in MHz; 0 for RFU indexes. */
  readonly fMaxMHz: number;
  /** Reserved for future use: a card must not announce it. */
  readonly rfu: boolean;
}

/** One row of ISO 7816-3 Table 8: baud rate adjustment integer Di for a Di index. */
export interface DiEntry {
  /** Di; 0 for RFU indexes. */
  readonly di: number;
  readonly rfu: boolean;
}

const fiRow = (fi: number, fMaxMHz: number): FiEntry => ({ fi, fMaxMHz, rfu: false });
const FI_RFU: FiEntry = { fi: 0, fMaxMHz: 0, rfu: true };
const diRow = (di: number): DiEntry => ({ di, rfu: false });
const DI_RFU: DiEntry = { di: 0, rfu: true };

/** ISO 7816-3 §8.3 Table 7, indexed by the high nibble of TA1 (Fi index). Indexes 7, 8, 14, 15 are RFU. */
export const FI_TABLE: readonly FiEntry[] = Object.freeze([
  fiRow(372, 4),
  fiRow(372, 5),
  fiRow(558, 6),
  fiRow(744, 8),
  fiRow(1116, 12),
  fiRow(1488, 16),
  fiRow(1860, 20),
  FI_RFU,
  FI_RFU,
  fiRow(512, 5),
  fiRow(768, 7.5),
  fiRow(1024, 10),
  fiRow(1536, 15),
  fiRow(2048, 20),
  FI_RFU,
  FI_RFU,
]);

/** ISO 7816-3 §8.3 Table 8, indexed by the low nibble of TA1 (Di index). Index 0 and 10–15 are RFU. */
export const DI_TABLE: readonly DiEntry[] = Object.freeze([
  DI_RFU,
  diRow(1),
  diRow(2),
  diRow(4),
  diRow(8),
  diRow(16),
  diRow(32),
  diRow(64),
  diRow(12),
  diRow(20),
  DI_RFU,
  DI_RFU,
  DI_RFU,
  DI_RFU,
  DI_RFU,
  DI_RFU,
]);

/** TA1 when absent: Fi index 1 (Fi 372, fmax 5 MHz), Di index 1 (ISO 7816-3 §8.3). */
export const DEFAULT_FIDI = 0x11;
/** Fd and Dd, the values used during the ATR and whenever TA1 is not applied (ISO 7816-3 §7.1). */
export const DEFAULT_FI = 372;
export const DEFAULT_DI = 1;
/** ISO 7816-3 §10.2: WI defaults to 10 when TC2 is absent. */
export const DEFAULT_WI = 10;
/** ISO 7816-3 §11.4.2: IFSC defaults to 32. */
export const DEFAULT_IFSC = 32;
/** ISO 7816-3 §11.4.3: BWI defaults to 4, CWI to 13. */
export const DEFAULT_BWI = 4;
export const DEFAULT_CWI = 13;
/** pcsc-lite MAX_ATR_SIZE; ISO 7816-3 §8.2.1 caps an ATR at 32 bytes after TS. */
export const MAX_ATR_LENGTH = MAX_ATR_SIZE;

/** Fi, Di and fmax for a TA1/PPS1 byte. `valid` is false when either nibble is RFU. */
export interface FiDi {
  readonly fi: number;
  readonly di: number;
  readonly fMaxMHz: number;
  readonly valid: boolean;
}

/** Decode a TA1/PPS1 byte (high nibble Fi index, low nibble Di index) with Tables 7 and 8. */
export function decodeFiDi(fidi: number): FiDi {
  const f = FI_TABLE[(fidi >> 4) & 0x0f] ?? FI_RFU;
  const d = DI_TABLE[fidi & 0x0f] ?? DI_RFU;
  return { fi: f.fi, di: d.di, fMaxMHz: f.fMaxMHz, valid: !f.rfu && !d.rfu };
}

/** True when both nibbles of a TA1/PPS1 byte name a defined Fi and Di. */
export function isValidFiDi(fidi: number): boolean {
  return Number.isInteger(fidi) && fidi >= 0 && fidi <= 0xff && decodeFiDi(fidi).valid;
}

/**
 * Bit rate in bps at `clockKhz` for a TA1/PPS1 byte: f·D/F (ISO 7816-3 §7.1, 1 etu = F/D clock cycles), truncated to
 * an integer exactly as libccid computes `card_baudrate` (`1000 * dwDefaultClock * d / f`). An RFU byte yields the
 * default rate, as libccid falls back to F=372, D=1 for non-ISO values.
 */
export function bitRate(fidi: number, clockKhz: number): number {
  const fd = decodeFiDi(fidi);
  const f = fd.valid ? fd.fi : DEFAULT_FI;
  const d = fd.valid ? fd.di : DEFAULT_DI;
  return Math.trunc((1000 * clockKhz * d) / f);
}

/** The interface bytes of one group: groups[0] holds TA1..TD1, groups[1] TA2..TD2, and so on. */
export interface AtrGroup {
  ta?: number;
  tb?: number;
  tc?: number;
  td?: number;
}

export type AtrIssueKind = 'missing-tck' | 'bad-tck' | 'extra-bytes' | 'truncated' | 'reserved-value' | 'too-long';

/** A tolerated defect of an ATR. */
export interface AtrIssue {
  kind: AtrIssueKind;
  message: string;
}

export interface ParsedAtr {
  /** A copy of the bytes given to the parser (USB buffers get reused; the ATR must not change under us). */
  bytes: Uint8Array;
  convention: 'direct' | 'inverse';
  ts: number;
  t0: number;
  /** groups[0] = TA1..TD1; groups[i] exists when groups[i-1].td does. Always at least one (maybe empty) group. */
  groups: AtrGroup[];
  historical: Uint8Array;
  /** The TCK byte, when one was expected and present. */
  tck?: number;
  /** Whether the XOR of T0..TCK is 0 (ISO 7816-3 §8.2.5); present with `tck`. */
  tckValid?: boolean;
  /** ISO 7816-3 §8.2.5: TCK is expected unless only T=0 is indicated. */
  tckExpected: boolean;
  /** Bytes after the last decoded byte (after TCK, or after the historical bytes when no TCK is expected). */
  extraBytes: Uint8Array;
  /** Transmission protocols offered by TD1, TD2, … in order, deduplicated, T=15 excluded; [0] when none. */
  protocols: number[];
  /** In specific mode the TA2 protocol (pcsc-lite, libccid), else the first protocol offered, else 0. */
  defaultProtocol: number;
  /** TA2 present (ISO 7816-3 §8.3): the card is in specific mode. */
  specificMode: boolean;
  /** TA2 bits 4-1. */
  specificProtocol?: number;
  /** TA2 bit 8 = 0: the card can change to negotiable mode (by a warm reset). */
  canChangeMode?: boolean;
  /** TA2 bit 5 = 1: Fi/Di are implicit, not those of TA1. */
  implicitParameters?: boolean;
  /** TA1 as negotiable: TA1, or 0x11 when absent or when TA1 names an RFU Fi/Di (reported). */
  fidi: number;
  /** The card's own Fi and fmax: TA1's when its Fi index is defined, even when its Di index is reserved. */
  fi: number;
  fMaxMHz: number;
  /** The card's own Di: TA1's when its Di index is defined, else the default 1 (and `diReserved`). */
  di: number;
  /** TA1's Fi index (high nibble) is RFU in ISO 7816-3 Table 7: `fi` and `fMaxMHz` are the defaults. */
  fiReserved: boolean;
  /** TA1's Di index (low nibble) is RFU in ISO 7816-3 Table 8: `di` is the default. */
  diReserved: boolean;
  /** TC1 extra guard time integer N, 0 when absent (255 = minimum guard time, ISO 7816-3 §8.3). */
  n: number;
  /** TC2 for T=0, or 10 when absent or 0 (reserved, reported). */
  wi: number;
  /** First TA for T=1; default 32; 0 → 32 and 255 → 254 (as libccid `get_IFSC`), both reported. */
  ifsc: number;
  /** First TB for T=1 bits 8-5; default 4; A–F are RFU (reported, default used). */
  bwi: number;
  /** First TB for T=1 bits 4-1; default 13. */
  cwi: number;
  /** First TC for T=1 bit 1 (ISO 7816-3 §11.4.4). */
  edc: 'lrc' | 'crc';
  /** First TA for T=15 bits 6-1: the classes of operating conditions the card accepts (bit 1 A 5 V, 2 B 3 V, 3 C 1.8 V). */
  classIndicator?: number;
  /** First TA for T=15 bits 8-7: 0 not supported, 1 state L, 2 state H, 3 no preference. */
  clockStop?: number;
  issues: AtrIssue[];
}

/**
 * Decode an ATR (ISO 7816-3 §8.2). Throws `DriverError(IFD.COMMUNICATION_ERROR)` only when the bytes cannot be an
 * ATR at all: empty, TS neither 3B (direct) nor 3F (inverse), or no T0. Everything else decodes, with issues:
 *
 * - A wrong TCK is accepted and reported as 'bad-tck'. libccid and pcsc-lite never check it (a card whose ATR has a
 *   wrong TCK works with them); illumos `atr_parse` rejects it. Users expect libccid's behaviour, so we follow it.
 * - A missing TCK ('missing-tck'), bytes left after the ATR ('extra-bytes'), interface or historical bytes cut short
 *   ('truncated', with what was there decoded), more than 33 bytes ('too-long').
 * - Reserved values fall back to the defaults and are reported: RFU Fi/Di in TA1, TC2 = 0, IFSC 0 or 255, BWI > 9,
 *   T=15 in TD1, TA2 RFU bits.
 */
export function parseAtr(bytes: Uint8Array): ParsedAtr {
  if (bytes.length === 0) {
    throw new DriverError(IFD.COMMUNICATION_ERROR, 'the ATR is empty: the card sent nothing after reset');
  }
  const ts = bytes[0] ?? 0;
  if (ts !== 0x3b && ts !== 0x3f) {
    throw new DriverError(
      IFD.COMMUNICATION_ERROR,
      `invalid ATR: TS is 0x${hexNumber(ts)}, expected 0x3B (direct convention) or 0x3F (inverse convention) (ISO 7816-3 §8.1)`,
    );
  }
  if (bytes.length < 2) {
    throw new DriverError(IFD.COMMUNICATION_ERROR, 'invalid ATR: it stops after TS, without the format byte T0');
  }
  const t0 = bytes[1] ?? 0;
  const issues: AtrIssue[] = [];
  const report = (kind: AtrIssueKind, message: string): void => {
    issues.push({ kind, message });
  };
  if (bytes.length > MAX_ATR_LENGTH) {
    report('too-long', `the ATR has ${bytes.length} bytes, more than the ${MAX_ATR_LENGTH} ISO 7816-3 allows`);
  }

  // Interface bytes (ISO 7816-3 §8.2.3): the high nibble of T0, then of each TDi, says which of TA..TD follow.
  const groups: AtrGroup[] = [];
  const tdProtocols: number[] = [];
  let pos = 2;
  let y = t0 >> 4;
  let truncated = false;
  for (;;) {
    const group: AtrGroup = {};
    groups.push(group);
    for (const [bit, key] of [
      [1, 'ta'],
      [2, 'tb'],
      [4, 'tc'],
      [8, 'td'],
    ] as const) {
      if ((y & bit) === 0) continue;
      const value = bytes[pos];
      if (value === undefined) {
        truncated = true;
        break;
      }
      group[key] = value;
      pos++;
    }
    if (truncated || group.td === undefined) break;
    tdProtocols.push(group.td & 0x0f);
    y = group.td >> 4;
  }
  if (truncated) {
    report(
      'truncated',
      `the ATR stops inside the interface bytes of group ${groups.length}, after ${bytes.length} bytes`,
    );
  }

  // Historical bytes (ISO 7816-3 §8.2.4): K = low nibble of T0.
  const k = t0 & 0x0f;
  const historical = bytes.slice(pos, pos + k);
  pos += historical.length;
  if (!truncated && historical.length < k) {
    truncated = true;
    report('truncated', `T0 announces ${k} historical bytes but only ${historical.length} are present`);
  }

  // TCK (ISO 7816-3 §8.2.5): absent when only T=0 is indicated, present otherwise.
  const tckExpected = tdProtocols.some((t) => t !== 0);
  let tck: number | undefined;
  let tckValid: boolean | undefined;
  if (tckExpected && !truncated) {
    tck = bytes[pos];
    if (tck === undefined) {
      report('missing-tck', 'the ATR offers a protocol other than T=0 but has no check byte TCK');
    } else {
      pos++;
      let x = 0;
      for (let i = 1; i < pos; i++) x ^= bytes[i] ?? 0;
      tckValid = x === 0;
      if (!tckValid) {
        report(
          'bad-tck',
          `TCK 0x${hexNumber(tck)} is wrong: XOR of T0..TCK is 0x${hexNumber(x)}, not 0 (accepted, as libccid does)`,
        );
      }
    }
  }
  const extraBytes = bytes.slice(pos);
  if (extraBytes.length > 0) {
    report('extra-bytes', `${extraBytes.length} byte(s) after the end of the ATR: ${toHex(extraBytes)}`);
  }

  // Global bytes: TA1 Fi/Di, TC1 N, TA2 specific mode, TC2 WI (ISO 7816-3 §8.3).
  const g1 = groups[0] ?? {};
  const g2: AtrGroup = groups[1] ?? {};
  // What is negotiated falls back to Fi=372, Di=1 when either nibble of TA1 is reserved (as libccid); what is shown
  // keeps the nibble that is defined, so a TA1 of 0x30 reads Fi=744 with a reserved Di, not Fi=372.
  let fidi = DEFAULT_FIDI;
  let fiReserved = false;
  let diReserved = false;
  if (g1.ta !== undefined) {
    fiReserved = FI_TABLE[(g1.ta >> 4) & 0x0f]?.rfu ?? true;
    diReserved = DI_TABLE[g1.ta & 0x0f]?.rfu ?? true;
    if (!fiReserved && !diReserved) fidi = g1.ta;
    else {
      const which = fiReserved && diReserved ? 'Fi and Di' : fiReserved ? 'Fi' : 'Di';
      report('reserved-value', `TA1 0x${hexNumber(g1.ta)} names a reserved ${which}; using the default Fi=372, Di=1`);
    }
  }
  const card = decodeFiDi(g1.ta ?? DEFAULT_FIDI);
  const negotiated = decodeFiDi(DEFAULT_FIDI);
  const fi = fiReserved ? negotiated.fi : card.fi;
  const fMaxMHz = fiReserved ? negotiated.fMaxMHz : card.fMaxMHz;
  const di = diReserved ? negotiated.di : card.di;
  const n = g1.tc ?? 0;
  let wi = DEFAULT_WI;
  if (g2.tc !== undefined) {
    if (g2.tc === 0) report('reserved-value', 'TC2 = 0 is reserved; using the default WI = 10');
    else wi = g2.tc;
  }

  if (tdProtocols[0] === 15) {
    report('reserved-value', 'TD1 indicates T=15, which is invalid in TD1 (ISO 7816-3 §8.2.3)');
  }
  const protocols: number[] = [];
  for (const t of tdProtocols) if (t !== 15 && !protocols.includes(t)) protocols.push(t);
  if (protocols.length === 0) protocols.push(0);

  const specificMode = g2.ta !== undefined;
  let specificProtocol: number | undefined;
  let canChangeMode: boolean | undefined;
  let implicitParameters: boolean | undefined;
  if (g2.ta !== undefined) {
    specificProtocol = g2.ta & 0x0f;
    canChangeMode = (g2.ta & 0x80) === 0;
    implicitParameters = (g2.ta & 0x10) !== 0;
    if ((g2.ta & 0x60) !== 0) report('reserved-value', `TA2 0x${hexNumber(g2.ta)} has reserved bits 7-6 set`);
  }
  const defaultProtocol = specificProtocol ?? protocols[0] ?? 0;

  // Protocol-specific bytes: TAi/TBi/TCi (i ≥ 3) belong to the protocol named by TD(i-1) (ISO 7816-3 §8.2.3).
  const firstFor = (protocol: number, key: 'ta' | 'tb' | 'tc'): number | undefined => {
    for (let i = 2; i < groups.length; i++) {
      if (tdProtocols[i - 1] !== protocol) continue;
      const v = groups[i]?.[key];
      if (v !== undefined) return v;
    }
    return undefined;
  };

  let ifsc = DEFAULT_IFSC;
  const ta1 = firstFor(1, 'ta');
  if (ta1 !== undefined) {
    if (ta1 === 0) report('reserved-value', 'IFSC = 0 is reserved (ISO 7816-3 §11.4.2); using the default 32');
    else if (ta1 === 0xff) {
      report('reserved-value', 'IFSC = 255 is reserved (ISO 7816-3 §11.4.2); using 254 as libccid does');
      ifsc = 254;
    } else ifsc = ta1;
  }
  let bwi = DEFAULT_BWI;
  let cwi = DEFAULT_CWI;
  const tb1 = firstFor(1, 'tb');
  if (tb1 !== undefined) {
    cwi = tb1 & 0x0f;
    if (tb1 >> 4 > 9) report('reserved-value', `BWI ${tb1 >> 4} is reserved (ISO 7816-3 §11.4.3); using the default 4`);
    else bwi = tb1 >> 4;
  }
  let edc: 'lrc' | 'crc' = 'lrc';
  const tc1 = firstFor(1, 'tc');
  if (tc1 !== undefined) {
    edc = (tc1 & 1) === 1 ? 'crc' : 'lrc';
    if ((tc1 & 0xfe) !== 0) report('reserved-value', `TC for T=1 0x${hexNumber(tc1)} has reserved bits 8-2 set`);
  }

  const result: ParsedAtr = {
    bytes: bytes.slice(),
    convention: ts === 0x3f ? 'inverse' : 'direct',
    ts,
    t0,
    groups,
    historical,
    tckExpected,
    extraBytes,
    protocols,
    defaultProtocol,
    specificMode,
    fidi,
    fi,
    di,
    fMaxMHz,
    fiReserved,
    diReserved,
    n,
    wi,
    ifsc,
    bwi,
    cwi,
    edc,
    issues,
  };
  if (tck !== undefined) {
    result.tck = tck;
    if (tckValid !== undefined) result.tckValid = tckValid;
  }
  if (specificProtocol !== undefined) result.specificProtocol = specificProtocol;
  if (canChangeMode !== undefined) result.canChangeMode = canChangeMode;
  if (implicitParameters !== undefined) result.implicitParameters = implicitParameters;
  const ta15 = firstFor(15, 'ta');
  if (ta15 !== undefined) {
    result.classIndicator = ta15 & 0x3f;
    result.clockStop = ta15 >> 6;
  }
  return result;
}

/**
 * The bytes of an ATR rebuilt from its decoded fields (TS, T0, interface bytes, historical bytes, TCK), without the
 * extra bytes. For any ATR `parseAtr` accepts, this is a prefix of the input.
 */
export function encodeAtrFields(atr: ParsedAtr): Uint8Array {
  const out: number[] = [atr.ts, atr.t0];
  for (const g of atr.groups) {
    for (const v of [g.ta, g.tb, g.tc, g.td]) if (v !== undefined) out.push(v);
  }
  out.push(...atr.historical);
  if (atr.tck !== undefined) out.push(atr.tck);
  return Uint8Array.from(out);
}

const CLOCK_STOP = ['no clock stop', 'clock stop in state L', 'clock stop in state H', 'clock stop in L or H'];

/** A short human decoding, e.g. "T=1; Fi=372 Di=1 (5 MHz); T=1: IFSC 254, BWI 1, CWI 5, LRC; TCK ok". */
export function describeAtr(atr: ParsedAtr): string {
  const parts: string[] = [];
  const offered = atr.protocols.map((t) => `T=${t}`).join(', ');
  parts.push(atr.protocols.length > 1 ? `${offered} (default T=${atr.defaultProtocol})` : offered);
  if (atr.specificMode) {
    parts.push(
      `specific mode T=${atr.specificProtocol ?? 0}${atr.implicitParameters ? ', implicit parameters' : ''}` +
        `${atr.canChangeMode ? ', can change mode' : ''}`,
    );
  }
  if (atr.convention === 'inverse') parts.push('inverse convention');
  const fi = atr.fiReserved ? 'Fi reserved' : `Fi=${atr.fi}`;
  const di = atr.diReserved ? 'Di reserved' : `Di=${atr.di}`;
  parts.push(`${fi} ${di}${atr.fiReserved ? '' : ` (${atr.fMaxMHz} MHz)`}`);
  if (atr.n !== 0) parts.push(`N=${atr.n}`);
  if (atr.protocols.includes(0)) parts.push(`T=0: WI ${atr.wi}`);
  if (atr.protocols.includes(1)) {
    parts.push(`T=1: IFSC ${atr.ifsc}, BWI ${atr.bwi}, CWI ${atr.cwi}, ${atr.edc.toUpperCase()}`);
  }
  if (atr.classIndicator !== undefined) {
    const classes = ['A', 'B', 'C'].filter((_, i) => (atr.classIndicator ?? 0) & (1 << i));
    parts.push(`class ${classes.join('') || 'none'}, ${CLOCK_STOP[atr.clockStop ?? 0] ?? ''}`);
  }
  if (atr.historical.length > 0) parts.push(`historical ${toHex(atr.historical)}`);
  if (atr.tck !== undefined) parts.push(atr.tckValid ? 'TCK ok' : 'TCK wrong');
  if (atr.issues.length > 0) parts.push(`issues: ${atr.issues.map((i) => i.kind).join(', ')}`);
  return parts.join('; ');
}
