/**
 * The reader's T=0 transport (ISO/IEC 7816-3 §10 and §12.2).
 *
 * `transmitTpdu` plays one command TPDU with the card, handling procedure bytes (§10.3.3): NULL 0x60 (wait), INS (all
 * remaining data), INS ⊕ 0xFF (one byte), SW1 SW2 (end). `transmitApdu` is the transport layer of the APDU-level
 * reader: it maps cases 1–4 (short and extended) onto TPDUs, re-sends on 6Cxx, fetches 61xx with GET RESPONSE and
 * carries long commands in ENVELOPE commands (§12.2.2–§12.2.7).
 */
import type { SimCard } from '../card-interface.js';
import { SLOT_ERROR } from './ccid-constants.js';
import type { CommandApdu } from './command-apdu.js';
import type { LinkResult } from './t1-link.js';
import { concat } from './t1-link.js';

export type TpduResult = { ok: true; data: Uint8Array; sw1: number; sw2: number } | { ok: false; error: number };

/** A card sending NULL bytes forever must not hang the reader: past this many the work waiting time is over. */
const MAX_PROCEDURE_BYTES = 100_000;

/**
 * One TPDU: `header` is CLA INS P1 P2 P3; `data` is empty (case 1/2: P3 = Le, 0 meaning 256 for outgoing data) or P3
 * bytes of command data (case 3).
 */
export function transmitTpdu(card: SimCard, header: Uint8Array, data: Uint8Array): TpduResult {
  const ins = header[1]!;
  const p3 = header[4]!;
  const incoming = data.length > 0; // data goes to the card
  const expected = incoming ? 0 : p3 === 0 ? 256 : p3;
  const received = new Uint8Array(expected);
  let got = 0;
  let sent = 0;
  let answer = card.t0Transmit(header);
  let i = 0;
  for (let steps = 0; steps < MAX_PROCEDURE_BYTES; steps++) {
    if (i >= answer.length) return { ok: false, error: SLOT_ERROR.ICC_MUTE };
    const b = answer[i++]!;
    if (b === 0x60) continue;
    if ((b & 0xf0) === 0x60 || (b & 0xf0) === 0x90) {
      if (i >= answer.length) return { ok: false, error: SLOT_ERROR.ICC_MUTE };
      return { ok: true, data: received.subarray(0, got), sw1: b, sw2: answer[i]! };
    }
    if (b === ins || b === (ins ^ 0xff)) {
      const all = b === ins;
      if (incoming) {
        if (sent >= data.length) return { ok: false, error: SLOT_ERROR.PROCEDURE_BYTE_CONFLICT };
        const end = all ? data.length : sent + 1;
        answer = card.t0Transmit(data.subarray(sent, end));
        sent = end;
        i = 0;
      } else {
        if (got >= expected) return { ok: false, error: SLOT_ERROR.PROCEDURE_BYTE_CONFLICT };
        const want = all ? expected - got : 1;
        if (answer.length - i < want) return { ok: false, error: SLOT_ERROR.ICC_MUTE };
        received.set(answer.subarray(i, i + want), got);
        got += want;
        i += want;
      }
      continue;
    }
    return { ok: false, error: SLOT_ERROR.PROCEDURE_BYTE_CONFLICT };
  }
  return { ok: false, error: SLOT_ERROR.ICC_MUTE };
}

export interface T0Classes {
  /** CLA of GET RESPONSE; 0xFF = the APDU's own class (CCID 1.1 §5.1 bClassGetResponse). */
  getResponse: number;
  /** CLA of ENVELOPE; 0xFF = the APDU's own class (CCID 1.1 §5.1 bClassEnvelope). */
  envelope: number;
}

function tpduHeader(h: Uint8Array, p3: number): Uint8Array {
  return Uint8Array.of(h[0]!, h[1]!, h[2]!, h[3]!, p3 & 0xff);
}

/** Maps one command APDU onto T=0 (ISO/IEC 7816-3 §12.2) and returns response data + SW1 SW2. */
export function transmitApdu(card: SimCard, apdu: CommandApdu, raw: Uint8Array, classes: T0Classes): LinkResult {
  const cla = apdu.header[0]!;
  const grCla = classes.getResponse === 0xff ? cla : classes.getResponse;
  const envCla = classes.envelope === 0xff ? cla : classes.envelope;
  let result: TpduResult;

  if (apdu.data.length > 255) {
    // §12.2.6/§12.2.7: a command too long for P3 travels in ENVELOPE commands carrying the whole APDU.
    result = { ok: false, error: SLOT_ERROR.ICC_MUTE };
    for (let at = 0; at < raw.length; at += 255) {
      const part = raw.subarray(at, Math.min(raw.length, at + 255));
      result = transmitTpdu(card, Uint8Array.of(envCla, 0xc2, 0, 0, part.length), part);
      if (!result.ok) return result;
      const last = at + 255 >= raw.length;
      if (!last && !(result.sw1 === 0x90 && result.sw2 === 0)) return finish(result);
    }
  } else if (apdu.data.length > 0) {
    result = transmitTpdu(card, tpduHeader(apdu.header, apdu.data.length), apdu.data);
  } else if (apdu.apduCase === 1) {
    result = transmitTpdu(card, tpduHeader(apdu.header, 0), apdu.data);
  } else {
    // Case 2: P3 = Le (256 and above → P3 = 0, the rest comes through 61xx, §12.2.5).
    const le = Math.min(apdu.ne, 256);
    result = transmitTpdu(card, tpduHeader(apdu.header, le), apdu.data);
    if (result.ok && result.sw1 === 0x6c) {
      result = transmitTpdu(card, tpduHeader(apdu.header, result.sw2), apdu.data);
    }
  }
  if (!result.ok) return result;

  // 61xx: fetch with GET RESPONSE while the card has more and the host expects more (§12.2.2–§12.2.7).
  const parts: Uint8Array[] = result.data.length > 0 ? [result.data] : [];
  let total = result.data.length;
  const ne = apdu.ne;
  while (result.ok && result.sw1 === 0x61 && total < ne) {
    const available = result.sw2 === 0 ? 256 : result.sw2;
    let p3 = Math.min(available, ne - total, 256);
    result = transmitTpdu(card, Uint8Array.of(grCla, 0xc0, 0, 0, p3 & 0xff), new Uint8Array(0));
    if (result.ok && result.sw1 === 0x6c) {
      p3 = result.sw2;
      result = transmitTpdu(card, Uint8Array.of(grCla, 0xc0, 0, 0, p3), new Uint8Array(0));
    }
    if (!result.ok) return result;
    if (result.data.length > 0) {
      parts.push(result.data);
      total += result.data.length;
    }
  }
  parts.push(Uint8Array.of(result.sw1, result.sw2));
  return { ok: true, data: concat(parts, total + 2) };
}

function finish(r: TpduResult): LinkResult {
  if (!r.ok) return r;
  const out = new Uint8Array(r.data.length + 2);
  out.set(r.data);
  out[r.data.length] = r.sw1;
  out[r.data.length + 1] = r.sw2;
  return { ok: true, data: out };
}
