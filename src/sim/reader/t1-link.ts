/**
 * The reader's own T=1 link to the card, used at the short and extended APDU exchange levels where the reader, not the
 * driver, is the transport layer (CCID 1.1 §6.1.4; ISO/IEC 7816-3 §11). It chains I-blocks to the card's IFSC,
 * collects the card's chained answer, answers S(WTX) and S(IFS) requests, and recovers from errors as §11.6.3 says
 * (R-blocks, up to three retransmissions).
 */
import type { SimCard } from '../card-interface.js';
import { SLOT_ERROR } from './ccid-constants.js';
import { PCB, buildBlock, isIBlock, isRBlock, isSBlock, parseBlock, type T1Edc } from './t1-block.js';

export type LinkResult = { ok: true; data: Uint8Array } | { ok: false; error: number };

/** Retransmissions tolerated before the exchange fails (ISO/IEC 7816-3 §11.6.3 allows the interface device 3). */
const MAX_RETRIES = 3;
/** A card that keeps asking for waiting time or keeps chaining forever must not hang the reader. */
const MAX_BLOCKS = 100_000;

export class T1Link {
  /** N(S) of the reader's next I-block. */
  private ns = 0;
  /** N(S) expected in the card's next I-block. */
  private nr = 0;
  ifsc: number;
  ifsd = 32;
  edc: T1Edc;

  constructor(
    private readonly card: SimCard,
    ifsc: number,
    edc: T1Edc,
  ) {
    this.ifsc = ifsc;
    this.edc = edc;
  }

  /** S(IFS request) with the reader's IFSD (§11.4.2; CCID dwFeatures 0x400 makes the reader do this itself). */
  negotiateIfsd(ifsd: number): boolean {
    const request = buildBlock(0, PCB.S_IFS_REQUEST, Uint8Array.of(ifsd), this.edc);
    for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
      const raw = this.card.t1Block(request);
      const answer = raw === null ? null : parseBlock(raw, this.edc);
      if (answer?.pcb === PCB.S_IFS_RESPONSE && answer.inf.length === 1 && answer.inf[0] === ifsd) {
        this.ifsd = ifsd;
        return true;
      }
    }
    return false;
  }

  /**
   * Sends one APDU and returns the card's whole answer. `onWtx(multiplier)` is called for every S(WTX request) the card
   * sends, so the reader can tell the host it needs more time (CCID 1.1 §6.2.6, bStatus time extension).
   */
  transceive(apdu: Uint8Array, onWtx: (multiplier: number) => void): LinkResult {
    let offset = 0;
    let chunkLength = Math.min(this.ifsc, apdu.length);
    let sendingLast = chunkLength === apdu.length - offset;
    let lastIBlock = this.iBlock(apdu.subarray(0, chunkLength), !sendingLast);
    let toSend = lastIBlock;
    let awaitingAck = true; // our last I-block has not been acknowledged yet
    let errors = 0;
    const parts: Uint8Array[] = [];
    let total = 0;

    for (let blocks = 0; blocks < MAX_BLOCKS; blocks++) {
      const raw = this.card.t1Block(toSend);
      if (raw === null) {
        // §11.6.3 rule 4: on BWT expiry the interface device sends an R-block.
        if (++errors > MAX_RETRIES) return { ok: false, error: SLOT_ERROR.ICC_MUTE };
        toSend = this.rBlock(PCB.R_OTHER_ERROR);
        continue;
      }
      const block = parseBlock(raw, this.edc);
      if (block === null) {
        if (++errors > MAX_RETRIES) return { ok: false, error: SLOT_ERROR.XFR_PARITY_ERROR };
        toSend = this.rBlock(PCB.R_EDC_ERROR);
        continue;
      }
      if (isSBlock(block.pcb)) {
        if (block.pcb === PCB.S_WTX_REQUEST && block.inf.length === 1) {
          onWtx(block.inf[0]!);
          toSend = buildBlock(0, PCB.S_WTX_RESPONSE, block.inf, this.edc);
          continue;
        }
        if (block.pcb === PCB.S_IFS_REQUEST && block.inf.length === 1 && block.inf[0]! >= 1 && block.inf[0]! <= 254) {
          this.ifsc = block.inf[0]!;
          toSend = buildBlock(0, PCB.S_IFS_RESPONSE, block.inf, this.edc);
          continue;
        }
        if (block.pcb === PCB.S_ABORT_REQUEST) return { ok: false, error: SLOT_ERROR.CMD_ABORTED };
        if (++errors > MAX_RETRIES) return { ok: false, error: SLOT_ERROR.XFR_PARITY_ERROR };
        toSend = this.rBlock(PCB.R_OTHER_ERROR);
        continue;
      }
      if (isRBlock(block.pcb)) {
        const cardNr = (block.pcb >> 4) & 1;
        if (awaitingAck && !sendingLast && cardNr !== this.ns) {
          // The card acknowledged a chained I-block (§11.6.2.3): send the next part.
          this.ns ^= 1;
          offset += chunkLength;
          chunkLength = Math.min(this.ifsc, apdu.length - offset);
          sendingLast = offset + chunkLength === apdu.length;
          lastIBlock = this.iBlock(apdu.subarray(offset, offset + chunkLength), !sendingLast);
          toSend = lastIBlock;
          errors = 0;
          continue;
        }
        // Anything else asks for a retransmission of what we sent last (§11.6.3 rule 6).
        if (++errors > MAX_RETRIES) return { ok: false, error: SLOT_ERROR.XFR_PARITY_ERROR };
        toSend = awaitingAck ? lastIBlock : this.rBlock(0);
        continue;
      }
      // I-block from the card.
      if (isIBlock(block.pcb)) {
        if (awaitingAck && !sendingLast) {
          if (++errors > MAX_RETRIES) return { ok: false, error: SLOT_ERROR.XFR_PARITY_ERROR };
          toSend = this.rBlock(PCB.R_OTHER_ERROR);
          continue;
        }
        if (awaitingAck) {
          this.ns ^= 1; // the card's I-block acknowledges our last one (§11.6.2.1)
          awaitingAck = false;
        }
        const cardNs = (block.pcb >> 6) & 1;
        if (cardNs !== this.nr) {
          if (++errors > MAX_RETRIES) return { ok: false, error: SLOT_ERROR.XFR_PARITY_ERROR };
          toSend = this.rBlock(PCB.R_OTHER_ERROR);
          continue;
        }
        this.nr ^= 1;
        errors = 0;
        parts.push(block.inf);
        total += block.inf.length;
        if (block.pcb & 0x20) {
          toSend = this.rBlock(0);
          continue;
        }
        return { ok: true, data: concat(parts, total) };
      }
    }
    return { ok: false, error: SLOT_ERROR.ICC_MUTE };
  }

  private iBlock(inf: Uint8Array, more: boolean): Uint8Array {
    return buildBlock(0, (this.ns << 6) | (more ? 0x20 : 0), inf, this.edc);
  }

  private rBlock(error: number): Uint8Array {
    return buildBlock(0, PCB.R | (this.nr << 4) | error, new Uint8Array(0), this.edc);
  }
}

export function concat(parts: readonly Uint8Array[], total?: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const size = total ?? parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
