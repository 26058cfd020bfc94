/**
 * The card's side of T=1 (ISO/IEC 7816-3 §11), one received block at a time.
 *
 * - I-blocks carry the APDU; the card checks N(S), acknowledges each chained block (M = 1) with R(N(R)) and runs the
 *   APDU when the chain ends (§11.6.2.3). Its answer goes out in I-blocks of at most IFSD bytes, chained with M = 1;
 *   it sends the next one when the reader acknowledges with R(N(R)) naming it (§11.6.2.3).
 * - S(IFS request) sets the IFSD and is echoed; S(RESYNCH request) resets N(S), N(R) and the IFSD and is answered
 *   (§11.6.3.2 rule 6); S(ABORT request) drops any chain in either direction and is answered (rule 9). Before running
 *   a command's answer the card may ask for S(WTX request) (a fault hook) and waits for the matching S(WTX response).
 * - Error handling from the card's side (§11.6.3.2 rule 7): a block with a bad EDC gets R(N(R)) with error 1, one with
 *   a bad LEN or not allowed here gets R(N(R)) with error 2; an R-block that does not acknowledge a chained block asks
 *   for the card's last block again, which the card resends unchanged.
 * - NAD (§11.3.2.1): the answer swaps the received NAD's nibbles (SAD ↔ DAD).
 */

import { copyOfBytes, freshBytes } from '../../util/fresh-bytes.js';
import type { ResponseApdu } from './apdu.js';
import { SW } from './apdu.js';
import type { CardApplications } from './applets.js';
import type { EdcKind } from './edc.js';
import type { CardFaults } from './faults.js';
import {
  blockKind,
  buildFrame,
  iBlockPcb,
  openFrame,
  R_ERROR,
  rBlockPcb,
  readFrame,
  S_TYPE,
  sBlockPcb,
  sealFrame,
  swapNadNibbles,
  type RError,
} from './t1-block.js';

/** IFSD before any S(IFS request) (§11.4.2). */
export const DEFAULT_IFSD = 32;

/** Largest APDU there is: case 4E with Nc = 65535 (ISO/IEC 7816-4 §5.1). Longer chains are answered 67 00. */
export const MAX_APDU_LENGTH = 4 + 3 + 65535 + 2;

export interface T1CardConfig {
  /** The card's IFSC, 1..254 (from its ATR). */
  ifsc: number;
  edc: EdcKind;
}

interface Outgoing {
  readonly response: ResponseApdu;
  readonly total: number;
  offset: number;
}

const EMPTY = new Uint8Array(0);

export class T1CardSession {
  /** N(S) of the card's next I-block. */
  private ns = 0;
  /** N(S) the card expects on the reader's next I-block. */
  private nr = 0;
  private ifsdValue = DEFAULT_IFSD;
  private replyNad = 0;
  private rx: Uint8Array = EMPTY;
  private rxLength = 0;
  private rxOverflow = false;
  /** The answer being sent in chained blocks, while the card waits for the reader's acknowledgement. */
  private outgoing: Outgoing | null = null;
  /** The answer held back while the card waits for S(WTX response). */
  private heldForWtx: ResponseApdu | null = null;
  private wtxAsked = 0;
  /** The last block sent other than an error R-block, for retransmission. */
  private lastSent: Uint8Array | null = null;

  constructor(
    private readonly applications: CardApplications,
    private readonly faults: CardFaults,
    private readonly config: T1CardConfig,
  ) {}

  /** The IFSD the reader announced (32 until it sends S(IFS request)). */
  get ifsd(): number {
    return this.ifsdValue;
  }

  /** Activation: N(S) = N(R) = 0, IFSD = 32, no chain (§11.2). */
  reset(): void {
    this.ns = 0;
    this.nr = 0;
    this.ifsdValue = DEFAULT_IFSD;
    this.replyNad = 0;
    this.dropChains();
    this.lastSent = null;
  }

  /** Receives one block and returns the card's answer. Never throws. */
  receive(bytes: Uint8Array): Uint8Array {
    const reading = readFrame(bytes, this.config.edc);
    if (!reading.ok) return this.errorBlock(reading.error === 'edc' ? R_ERROR.EDC : R_ERROR.OTHER);
    const { nad, pcb, inf } = reading.block;
    this.replyNad = swapNadNibbles(nad);
    switch (blockKind(pcb)) {
      case 'I':
        return this.onIBlock(pcb, inf);
      case 'R':
        return this.onRBlock(pcb, inf);
      case 'S':
        return this.onSBlock(pcb, inf);
    }
  }

  private onIBlock(pcb: number, inf: Uint8Array): Uint8Array {
    // The reader must acknowledge the card's chain (or WTX request) before sending a new I-block.
    if (this.outgoing !== null || this.heldForWtx !== null) return this.errorBlock(R_ERROR.OTHER);
    if (((pcb >>> 6) & 1) !== this.nr) return this.errorBlock(R_ERROR.OTHER);
    if (inf.length > this.config.ifsc) return this.errorBlock(R_ERROR.OTHER); // §11.4.2: INF ≤ IFSC
    this.nr ^= 1;
    this.append(inf);
    if (pcb & 0x20)
      return this.send(buildFrame(this.replyNad, rBlockPcb(this.nr, R_ERROR.NONE), EMPTY, this.config.edc));

    const response = this.rxOverflow
      ? { data: EMPTY, sw: SW.WRONG_LENGTH }
      : this.applications.processApdu(this.rx.subarray(0, this.rxLength));
    // The response may be a view of the command buffer (ECHO): give the next command a new buffer.
    this.rx = EMPTY;
    this.rxLength = 0;
    this.rxOverflow = false;
    if (this.faults.wtxRequests > 0) {
      this.faults.wtxRequests--;
      this.heldForWtx = response;
      this.wtxAsked = Math.min(255, Math.max(1, this.faults.wtxMultiplier | 0));
      return this.send(buildFrame(this.replyNad, sBlockPcb(S_TYPE.WTX, false), [this.wtxAsked], this.config.edc));
    }
    return this.startAnswer(response);
  }

  private onRBlock(pcb: number, inf: Uint8Array): Uint8Array {
    if (inf.length !== 0 || (pcb & 0x20) !== 0) return this.errorBlock(R_ERROR.OTHER);
    const nr = (pcb >>> 4) & 1;
    const acknowledges = (pcb & 0x0f) === 0 && nr === this.ns;
    if (this.outgoing !== null && acknowledges) return this.nextAnswerBlock();
    if (this.lastSent !== null) return this.emit(this.lastSent);
    return this.errorBlock(R_ERROR.OTHER);
  }

  private onSBlock(pcb: number, inf: Uint8Array): Uint8Array {
    const type = pcb & 0x1f;
    const edc = this.config.edc;
    if ((pcb & 0x20) === 0) {
      switch (type) {
        case S_TYPE.RESYNCH:
          if (inf.length !== 0) break;
          this.ns = 0;
          this.nr = 0;
          this.ifsdValue = DEFAULT_IFSD;
          this.dropChains();
          return this.send(buildFrame(this.replyNad, sBlockPcb(S_TYPE.RESYNCH, true), EMPTY, edc));
        case S_TYPE.IFS: {
          const v = inf[0];
          // §11.4.2: IFS is 1 byte; 00 and FF are not valid sizes.
          if (inf.length !== 1 || v === undefined || v === 0 || v === 0xff) break;
          this.ifsdValue = v;
          return this.send(buildFrame(this.replyNad, sBlockPcb(S_TYPE.IFS, true), [v], edc));
        }
        case S_TYPE.ABORT:
          if (inf.length !== 0) break;
          this.dropChains();
          return this.send(buildFrame(this.replyNad, sBlockPcb(S_TYPE.ABORT, true), EMPTY, edc));
        default:
          break; // S(WTX request) comes only from the card; other types are reserved
      }
      return this.errorBlock(R_ERROR.OTHER);
    }
    const held = this.heldForWtx;
    if (type === S_TYPE.WTX && held !== null && inf.length === 1 && inf[0] === this.wtxAsked) {
      this.heldForWtx = null;
      return this.startAnswer(held);
    }
    return this.errorBlock(R_ERROR.OTHER);
  }

  private startAnswer(response: ResponseApdu): Uint8Array {
    this.outgoing = { response, total: response.data.length + 2, offset: 0 };
    return this.nextAnswerBlock();
  }

  /** The next I-block of the answer, INF copied straight from the response into the frame. */
  private nextAnswerBlock(): Uint8Array {
    const out = this.outgoing!;
    const { data, sw } = out.response;
    const n = Math.min(this.ifsdValue, out.total - out.offset);
    const more = out.offset + n < out.total;
    const frame = openFrame(this.replyNad, iBlockPcb(this.ns, more), n, this.config.edc);
    const end = out.offset + n;
    const dataEnd = Math.min(end, data.length);
    let o = 3;
    if (out.offset < dataEnd) {
      if (dataEnd - out.offset > 64) {
        frame.set(data.subarray(out.offset, dataEnd), o);
        o += dataEnd - out.offset;
      } else {
        // Short answers byte by byte: a subarray of a short array V8 keeps on its heap would move it off the heap.
        for (let i = out.offset; i < dataEnd; i++) frame[o++] = data[i]!;
      }
    }
    for (let i = Math.max(out.offset, data.length); i < end; i++) frame[o++] = i === data.length ? sw >>> 8 : sw & 0xff;
    out.offset = end;
    this.ns ^= 1;
    if (!more) this.outgoing = null;
    return this.send(sealFrame(frame, this.config.edc));
  }

  /** Appends an I-block's INF to the command being received, without keeping the caller's buffer. */
  private append(inf: Uint8Array): void {
    const need = this.rxLength + inf.length;
    if (need > MAX_APDU_LENGTH || this.rxOverflow) {
      this.rxOverflow = true;
      return;
    }
    if (need > this.rx.length) {
      let capacity = Math.max(need, this.rx.length * 2, 64);
      // An extended APDU's first block tells its whole size: allocate once (the 64 KiB ECHO path).
      if (this.rxLength === 0 && inf.length >= 7 && inf[4] === 0) {
        capacity = Math.max(capacity, Math.min(MAX_APDU_LENGTH, 9 + ((inf[5]! << 8) | inf[6]!)));
      }
      const next = freshBytes(capacity);
      next.set(this.rx.subarray(0, this.rxLength));
      this.rx = next;
    }
    this.rx.set(inf, this.rxLength);
    this.rxLength = need;
  }

  private dropChains(): void {
    this.rx = EMPTY;
    this.rxLength = 0;
    this.rxOverflow = false;
    this.outgoing = null;
    this.heldForWtx = null;
  }

  /** R(N(R)) with an error: not remembered, so that a retransmission request still gets the card's real last block. */
  private errorBlock(error: RError): Uint8Array {
    return this.emit(buildFrame(this.replyNad, rBlockPcb(this.nr, error), EMPTY, this.config.edc));
  }

  private send(frame: Uint8Array): Uint8Array {
    this.lastSent = frame;
    return this.emit(frame);
  }

  /**
   * What goes on the wire: a copy of the frame, so that neither the garbled-EDC fault (which applies to the wire,
   * never to the remembered block) nor the receiver can change the block kept for retransmission. The copy is a
   * fresh-bytes one: this runs for every block (bench/README.md, the T=1 ECHO's profile).
   */
  private emit(frame: Uint8Array): Uint8Array {
    const wire = copyOfBytes(frame);
    if (this.faults.garbleT1Edc > 0) {
      this.faults.garbleT1Edc--;
      const last = wire.length - 1;
      wire[last] = wire[last]! ^ 0x01;
    }
    return wire;
  }
}
