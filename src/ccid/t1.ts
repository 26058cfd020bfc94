/**
 * The interface-device side of the T=1 block protocol (ISO/IEC 7816-3 §11), as a CCID driver runs it for readers
 * that exchange at TPDU level: every block goes out in one PC_to_RDR_XfrBlock and the card's block comes back in the
 * RDR_to_PC_DataBlock (the `T1Link`).
 *
 * What it does, with the rules it follows:
 * - Sends the APDU as a chain of I-blocks of at most IFSC bytes (§11.4.2, M bit §11.3.2.2), waiting for R(N(S)+1)
 *   after each chained block; receives the card's chain and acknowledges each block with R(N(R)) (§11.6.2, rule 5).
 * - Error recovery (§11.6.3.2): on an invalid block or BWT time-out it answers with an R-block asking for the expected
 *   I-block, flagging "EDC/parity error" (0x81/0x91) for parity and EDC errors and "other error" (0x82/0x92) for
 *   everything else (rule 7.1); after sending an R-block it re-sends that same R-block (rule 7.2); after an S request,
 *   the request (rule 7.3); when the card asks for its I-block again (R-block with N(R) = our N(S)) the I-block is sent
 *   again. After 3 such retransmissions without progress it sends S(RESYNCH request) (rule 7.4.2, rule 6), resets the
 *   sequence numbers and IFSC/IFSD and restarts the command from its first block. At most 3 resynchronisations per
 *   call; then the call fails with IFD_COMMUNICATION_ERROR and the protocol refuses to work until `reset()` (the card
 *   must be reset, rule 6.4).
 * - S(WTX request) is answered with the same value and the exchange carrying the answer is made with that multiplier;
 *   S(IFS request) from the card is answered and IFSC updated (rule 4); S(ABORT request) is answered, the chain is
 *   abandoned and the call fails (rule 9).
 * - NAD is 0 by default; the card must answer with the source and destination addresses swapped (§11.3.2.1).
 *
 * Where libccid (`src/openct/proto-t1.c`) behaves differently, the standard wins and the difference is noted inline.
 */
import { DriverError, IFD } from '../ifd/errors.js';
import type { EdcKind } from './edc.js';
import {
  decodeBlockInPlace,
  describeBlock,
  encodeBlock,
  MAX_INF,
  type T1Block,
  type T1DecodeResult,
} from './t1-block.js';

/** One block out to the card, one block back (a PC_to_RDR_XfrBlock at TPDU level). */
export interface T1Link {
  /**
   * Bytes the link wants free before each block (0 when absent, at most 64): every array `exchange` then receives
   * starts with that many zero bytes, the block after them, and is the link's to frame in place (the CCID link writes
   * its 10-byte PC_to_RDR_XfrBlock header there instead of copying each block into a message; bench/README.md).
   */
  readonly headroom?: number;
  /** `wtx` ≥ 1: the waiting-time multiplier granted by the last S(WTX response); the link multiplies its timeout. */
  exchange(block: Uint8Array, wtx: number): Promise<Uint8Array>;
}

/** A reception problem the block protocol recovers from (§11.6.3): parity/EDC reported by the reader, or BWT
 *  exceeded (the reader said the card is mute / the wait ran out). */
export class T1ReceiveError extends Error {
  override readonly name = 'T1ReceiveError';
  constructor(
    readonly kind: 'parity' | 'timeout',
    message: string,
  ) {
    super(message);
  }
}

export interface T1Params {
  /** The card's IFSC from the ATR (first TA for T=1; 32 when absent), 1..254. */
  ifsc: number;
  /** The IFSD the driver wants to announce with `sendIfsRequest()` (the reader's dwMaxIFSD clamped to 1..254). */
  ifsd: number;
  /** The ATR's block check (first TC for T=1, bit 1). */
  edc: EdcKind;
  /** Node address byte sent in every block; 0 (no addressing) by default. */
  nad?: number;
}

/** Counters since construction, for tests and diagnostics. */
export interface T1Stats {
  /** Blocks sent */
  exchanges: number;
  /** Blocks sent because the previous reply was invalid or asked for a repeat (R-blocks with error, repeats). */
  retransmissions: number;
  /** S(RESYNCH request) blocks sent. */
  resynchs: number;
  /** S(WTX request) blocks received from the card. */
  wtxRequests: number;
  /** S(IFS request) blocks received from the card. */
  ifsRequests: number;
  /** S(ABORT request) blocks received from the card. */
  aborts: number;
}

/**
 * `ready`: the next call starts with an I-block. `needs-resynch`: the previous call ended without the card and us
 * agreeing on the state (a link failure, an aborted chain): the next call starts with S(RESYNCH request).
 * `dead`: resynchronisation failed; the card must be reset and `reset()` called.
 */
export type T1State = 'ready' | 'needs-resynch' | 'dead';

/**
 * Retransmissions without progress before resynchronising (§11.6.3.2 rule 7.4.2). Counted after the first
 * transmission, so Annex A scenario 13 (the card needs three repeats of R(0)) completes without a resynch; libccid
 * counts the first transmission too and would resynchronise there.
 */
export const T1_MAX_RETRIES = 3;
/**
 * S(RESYNCH request) blocks per call before giving up (rule 6.4). The budget covers the whole call: libccid refills it
 * after every successful resynch, so a card that resynchronises fine but never completes the command keeps it looping.
 */
export const T1_MAX_RESYNCHS = 3;
/** IFSD the card assumes until an S(IFS) exchange changes it, and after a resynchronisation (§11.4.2). */
export const T1_DEFAULT_IFSD = 32;
/**
 * Consecutive S requests from the card (WTX, IFS) without any progress before giving up. A card may legitimately ask
 * for more time many times in a row (key generation), so this is large; it only stops a card stuck in a loop from
 * hanging the driver.
 */
export const T1_MAX_CARD_REQUESTS = 1024;
/** Longest response accepted: an extended-length APDU response (65536 data bytes + SW1 SW2). */
export const T1_MAX_RESPONSE = 65538;

/** Internal signal: recovery by retransmission failed, resynchronise. */
const RESYNCH = Symbol('resynch');

/** A reply as the protocol sees it: a decoded block meant for us, or an invalid reception (T1DecodeResult's shape, so
 *  that a valid reply is the decoder's own result, not a copy of it: one object less per block). */
type Reception = T1DecodeResult;

function failure(message: string, cause?: unknown): DriverError {
  return new DriverError(IFD.COMMUNICATION_ERROR, `T=1: ${message}`, cause === undefined ? undefined : { cause });
}

function checkIfs(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1 || v > MAX_INF) {
    throw new DriverError(IFD.ERROR_NOT_SUPPORTED, `T=1: ${name} must be 1..254 (ISO 7816-3 §11.4.2), got ${v}`);
  }
}

export class T1Protocol {
  private readonly link: T1Link;
  private readonly edc: EdcKind;
  private readonly nad: number;
  /** The NAD the card must answer with: SAD and DAD swapped (§11.3.2.1). */
  private readonly replyNad: number;
  /** encodeBlock's options, made once: NAD, EDC and the link's headroom are fixed for the protocol's life. */
  private readonly encoding: { readonly nad: number; readonly edc: EdcKind; readonly headroom: number };
  private readonly atrIfsc: number;
  private readonly wantedIfsd: number;

  private currentIfsc: number;
  private currentIfsd = T1_DEFAULT_IFSD;
  /** N(S) of our next I-block. */
  private ns: 0 | 1 = 0;
  /** N(S) we expect on the card's next I-block. */
  private nr: 0 | 1 = 0;
  /** Multiplier for the next exchange, granted by our last S(WTX response). */
  private wtx = 1;
  private status: T1State = 'ready';
  private busy = false;
  private lastError: unknown;
  private readonly counters: T1Stats = {
    exchanges: 0,
    retransmissions: 0,
    resynchs: 0,
    wtxRequests: 0,
    ifsRequests: 0,
    aborts: 0,
  };

  constructor(link: T1Link, params: T1Params) {
    checkIfs('IFSC', params.ifsc);
    checkIfs('IFSD', params.ifsd);
    if (params.edc !== 'lrc' && params.edc !== 'crc') {
      throw new DriverError(IFD.ERROR_NOT_SUPPORTED, `T=1: unknown EDC ${String(params.edc)}; use 'lrc' or 'crc'`);
    }
    const nad = params.nad ?? 0;
    // §11.3.2.1: DAD in b7..b5, SAD in b3..b1; b8 and b4 are not address bits (Vpp control in earlier editions).
    if (!Number.isInteger(nad) || nad < 0 || nad > 0xff || (nad & 0x88) !== 0) {
      throw new DriverError(IFD.ERROR_NOT_SUPPORTED, `T=1: NAD ${nad} is not a valid node address byte`);
    }
    this.link = link;
    this.edc = params.edc;
    this.nad = nad;
    this.replyNad = ((nad & 0x07) << 4) | ((nad >> 4) & 0x07);
    const headroom = link.headroom ?? 0;
    if (!Number.isInteger(headroom) || headroom < 0 || headroom > 64) {
      throw new DriverError(IFD.ERROR_NOT_SUPPORTED, `T=1: a link's headroom must be 0..64 bytes, got ${headroom}`);
    }
    this.encoding = { nad, edc: params.edc, headroom };
    this.atrIfsc = params.ifsc;
    this.currentIfsc = params.ifsc;
    this.wantedIfsd = params.ifsd;
  }

  /** The card's current information field size: the most we put in one I-block. */
  get ifsc(): number {
    return this.currentIfsc;
  }

  /** The IFSD the card currently assumes (32 until an S(IFS) exchange succeeded, and after a resynchronisation). */
  get ifsd(): number {
    return this.currentIfsd;
  }

  get state(): T1State {
    return this.status;
  }

  /** A copy of the counters. */
  get stats(): T1Stats {
    return { ...this.counters };
  }

  /**
   * N(S) of our next I-block and N(S) expected from the card. A PIN-pad reader at TPDU level sends the VERIFY/MODIFY
   * I-block itself (PC_to_RDR_Secure), so the driver builds that block's prologue from this state and stores the state
   * after the exchange with `setSequence`, as libccid does with its t1 state (`SecurePINVerify`).
   */
  get sequence(): { ns: number; nr: number } {
    return { ns: this.ns, nr: this.nr };
  }

  setSequence(sequence: { ns: number; nr: number }): void {
    this.ns = (sequence.ns & 1) as 0 | 1;
    this.nr = (sequence.nr & 1) as 0 | 1;
  }

  /** The block check the card uses (from the ATR). */
  get edcKind(): EdcKind {
    return this.edc;
  }

  /**
   * After a card reset (cold or warm): both sequence numbers back to 0, IFSC to the ATR's value, IFSD to 32, no WTX
   * pending. The protocol is usable again even after it gave up.
   */
  reset(): void {
    this.ns = 0;
    this.nr = 0;
    this.currentIfsc = this.atrIfsc;
    this.currentIfsd = T1_DEFAULT_IFSD;
    this.wtx = 1;
    this.status = 'ready';
  }

  /**
   * Announces IFSD with S(IFS request) (§11.6.2, rule 4), as libccid does right after the ATR unless the reader
   * negotiates IFSD itself (dwFeatures 0x400). Resolves once the card echoed the value; then `ifsd` reports it.
   * When the card never answers correctly the protocol resynchronises (IFSD stays 32) and the call fails.
   */
  async sendIfsRequest(ifsd: number = this.wantedIfsd): Promise<void> {
    checkIfs('IFSD', ifsd);
    await this.guarded(async () => {
      const budget = { left: T1_MAX_RESYNCHS };
      if (this.status === 'needs-resynch') await this.resynchronise(budget);
      const request = this.encode({ type: 'S', kind: 'ifs', response: false, value: ifsd });
      let out = request;
      let failures = 0;
      let cardRequests = 0;
      for (;;) {
        const rx = await this.exchange(out);
        if (rx.ok && rx.block.type === 'S' && rx.block.kind === 'ifs' && rx.block.response) {
          if (rx.block.value === ifsd) {
            this.currentIfsd = ifsd;
            return;
          }
        } else if (rx.ok && rx.block.type === 'S' && rx.block.kind === 'wtx' && !rx.block.response) {
          // The card may ask for time before answering; grant it and wait for the answer.
          if (++cardRequests > T1_MAX_CARD_REQUESTS) throw this.stuck();
          out = this.answerWtx(rx.block.value ?? 1);
          continue;
        }
        // Rule 7.3: anything but the matching S(IFS response) → send the request again.
        if (++failures > T1_MAX_RETRIES) {
          this.lastError = rx.ok ? `unexpected ${describeBlock(rx.block)}` : rx.reason;
          await this.resynchronise(budget);
          throw failure(
            `the card did not accept S(IFS request, ${ifsd}) after ${T1_MAX_RETRIES} retransmissions ` +
              `(last reply: ${String(this.lastError)}); resynchronised, IFSD stays ${this.currentIfsd}`,
          );
        }
        this.counters.retransmissions++;
        out = request;
      }
    });
  }

  /** Sends one command APDU and returns the card's complete response APDU (data + SW1 SW2). */
  async transceive(apdu: Uint8Array): Promise<Uint8Array> {
    if (apdu.length === 0) throw failure('an empty APDU cannot be sent');
    return this.guarded(async () => {
      const budget = { left: T1_MAX_RESYNCHS };
      if (this.status === 'needs-resynch') await this.resynchronise(budget);
      for (;;) {
        const result = await this.runCommand(apdu);
        if (result !== RESYNCH) return result;
        await this.resynchronise(budget);
      }
    });
  }

  /** Refuses overlapping calls and calls on a dead protocol. */
  private async guarded<T>(work: () => Promise<T>): Promise<T> {
    if (this.status === 'dead') {
      throw failure('the block protocol gave up after failed resynchronisations; reset the card, then call reset()');
    }
    if (this.busy) throw failure('another T=1 exchange is still in progress on this slot');
    this.busy = true;
    try {
      return await work();
    } finally {
      this.busy = false;
    }
  }

  private encode(block: T1Block): Uint8Array {
    return encodeBlock(block, this.encoding);
  }

  /**
   * One block out, one back. A T1ReceiveError becomes an invalid reception; any other link error (reader gone, card
   * removed) propagates at once, and since the card may have seen our block, the next call resynchronises first.
   */
  private async exchange(block: Uint8Array): Promise<Reception> {
    let reply: Uint8Array;
    try {
      reply = await this.send(block);
    } catch (e) {
      return this.linkFailed(e);
    }
    return this.received(reply);
  }

  /**
   * The first half of `exchange`, for runCommand's loop to await the link itself (an async function and a turn less
   * per block; bench/README.md, the T=1 ECHO): the block goes out with the pending WTX grant.
   */
  private send(block: Uint8Array): Promise<Uint8Array> {
    const wtx = this.wtx;
    this.wtx = 1; // a WTX grant covers only the block that answers it (§11.6.2, rule 3)
    this.counters.exchanges++;
    return this.link.exchange(block, wtx);
  }

  /** What a link error means: a reception problem to recover from, or the end of the call. */
  private linkFailed(e: unknown): Reception {
    if (e instanceof T1ReceiveError) {
      // libccid treats anything but a parity error as fatal; a BWT time-out is recoverable per rule 7.1.
      return { ok: false, edcError: e.kind === 'parity', reason: e.message };
    }
    this.status = 'needs-resynch';
    throw e;
  }

  /** The card's reply, checked. */
  private received(reply: Uint8Array): Reception {
    // The INF of an I-block stays a view into the reply: runCommand copies it into the answer (concat).
    const decoded = decodeBlockInPlace(reply, this.edc);
    if (!decoded.ok) return decoded;
    // §11.3.2.1: a reply whose NAD is not ours with SAD/DAD swapped is not meant for us: an invalid block.
    if (decoded.nad !== this.replyNad) {
      return { ok: false, edcError: false, reason: `reply NAD ${decoded.nad} where ${this.replyNad} was expected` };
    }
    return decoded;
  }

  private answerWtx(value: number): Uint8Array {
    this.counters.wtxRequests++;
    // The echo carries the card's value; a multiplier of 0 makes no sense, so it waits as long as 1.
    this.wtx = Math.max(1, value);
    return this.encode({ type: 'S', kind: 'wtx', response: true, value });
  }

  private stuck(): DriverError {
    this.status = 'needs-resynch';
    return failure(`the card sent ${T1_MAX_CARD_REQUESTS} S requests in a row without progress; giving up`);
  }

  /**
   * Rule 6: S(RESYNCH request) until a valid S(RESYNCH response), within the call's budget. On success both sides
   * are back to their state after the ATR: N(S) = N(R) = 0, IFSC from the ATR, IFSD 32. When the budget runs out the
   * protocol is dead until `reset()`.
   */
  private async resynchronise(budget: { left: number }): Promise<void> {
    const request = this.encode({ type: 'S', kind: 'resynch', response: false });
    while (budget.left > 0) {
      budget.left--;
      this.counters.resynchs++;
      const rx = await this.exchange(request);
      if (rx.ok && rx.block.type === 'S' && rx.block.kind === 'resynch' && rx.block.response) {
        this.ns = 0;
        this.nr = 0;
        // libccid keeps IFSC/IFSD across a resynch; the standard resets them with the rest of the state.
        this.currentIfsc = this.atrIfsc;
        this.currentIfsd = T1_DEFAULT_IFSD;
        this.status = 'ready';
        return;
      }
      this.lastError = rx.ok ? `unexpected ${describeBlock(rx.block)}` : rx.reason;
    }
    this.status = 'dead';
    throw failure(
      `no valid block from the card after ${T1_MAX_RETRIES} retransmissions and ${T1_MAX_RESYNCHS} ` +
        `resynchronisations (last problem: ${String(this.lastError)}); the card needs a reset`,
    );
  }

  /**
   * One attempt at the whole command: our chain out, the card's chain back. Returns the response, or RESYNCH when
   * retransmissions ran out. Throws on S(ABORT), an oversized response or a card stuck in S requests.
   */
  private async runCommand(apdu: Uint8Array): Promise<Uint8Array | typeof RESYNCH> {
    let offset = 0; // first byte of the I-block in flight
    let chunk = 0; // its length
    let more = false; // its M bit
    let receiving = false; // the card's chain has started: our command was fully received
    const parts: Uint8Array[] = [];
    let received = 0;
    let failures = 0;
    let cardRequests = 0;
    let lastR: Uint8Array | undefined; // our last block, when it was an R-block (rule 7.2)

    const iBlock = (): Uint8Array => {
      // IFSC may have changed since the previous block (S(IFS request) from the card): cut with the current value.
      chunk = Math.min(this.currentIfsc, apdu.length - offset);
      more = offset + chunk < apdu.length;
      lastR = undefined;
      // A whole short APDU goes as it is: a subarray of a short array V8 keeps on its heap would move it off the heap.
      const inf = offset === 0 && chunk === apdu.length ? apdu : apdu.subarray(offset, offset + chunk);
      return this.encode({ type: 'I', ns: this.ns, more, inf });
    };
    const rBlock = (error: 'none' | 'edc' | 'other'): Uint8Array => {
      lastR = this.encode({ type: 'R', nr: this.nr, error });
      return lastR;
    };

    // What to send when the reply did not move things forward; undefined = give up and resynchronise.
    const retry = (next: () => Uint8Array, problem: string): Uint8Array | undefined => {
      this.lastError = problem;
      if (++failures > T1_MAX_RETRIES) return undefined;
      this.counters.retransmissions++;
      return next();
    };
    // Rules 7.1 and 7.2: after our R-block, repeat it; otherwise ask for the expected I-block with an R-block.
    const recover = (edcError: boolean) => () => lastR ?? rBlock(edcError ? 'edc' : 'other');

    let out = iBlock();
    for (;;) {
      // this.exchange(out), with the link awaited here (see send).
      let rx: Reception | undefined;
      let reply: Uint8Array | undefined;
      try {
        reply = await this.send(out);
      } catch (e) {
        rx = this.linkFailed(e);
      }
      rx ??= this.received(reply!);

      let next: Uint8Array | undefined;
      if (!rx.ok) {
        next = retry(recover(rx.edcError), rx.reason);
      } else {
        const b = rx.block;
        if (b.type === 'S' && !b.response && b.kind !== 'resynch') {
          // Requests from the card are answered without counting as failures (rules 3, 4, 9).
          if (++cardRequests > T1_MAX_CARD_REQUESTS) throw this.stuck();
          if (b.kind === 'wtx') {
            out = this.answerWtx(b.value ?? 1);
          } else if (b.kind === 'ifs') {
            this.counters.ifsRequests++;
            this.currentIfsc = b.value ?? this.currentIfsc;
            out = this.encode({ type: 'S', kind: 'ifs', response: true, value: this.currentIfsc });
          } else {
            await this.answerAbort();
          }
          // The answer is not an R-block: a later failure must ask with a fresh R-block, not repeat an old one.
          lastR = undefined;
          continue;
        }
        if (b.type === 'S') {
          // A response we did not ask for, or S(RESYNCH request), which only the interface device may send (rule 6).
          next = retry(recover(false), `unexpected ${describeBlock(b)}`);
        } else if (b.type === 'R') {
          if (!receiving && b.nr !== this.ns && more) {
            // Rule 5: R(N(S)+1) acknowledges our chained block; send the next one.
            this.ns = this.ns ? 0 : 1;
            offset += chunk;
            failures = 0;
            cardRequests = 0;
            out = iBlock();
            continue;
          }
          if (!receiving && b.nr === this.ns) {
            // The card asks for our I-block again (it lost it or got it damaged).
            next = retry(iBlock, `card asked again for I(${this.ns})`);
          } else {
            // An acknowledgement of an unchained block, or an R-block in the middle of the card's chain.
            next = retry(recover(false), `unexpected ${describeBlock(b)}`);
          }
        } else if (!receiving && more) {
          // The card must acknowledge a chained block with an R-block, not answer it.
          next = retry(recover(false), `card sent ${describeBlock(b)} while our chain was not finished`);
        } else if (b.ns !== this.nr) {
          // Not the block we expect (a repeat of one we already have, or out of sequence).
          next = retry(recover(false), `card sent ${describeBlock(b)} where N(S)=${this.nr} was expected`);
        } else {
          if (!receiving) {
            // The card's first I-block acknowledges our last one (rule 2).
            this.ns = this.ns ? 0 : 1;
            receiving = true;
          }
          received += b.inf.length;
          if (received > T1_MAX_RESPONSE) {
            this.status = 'needs-resynch';
            throw new DriverError(
              IFD.ERROR_INSUFFICIENT_BUFFER,
              `T=1: the card's response exceeds ${T1_MAX_RESPONSE} bytes; abandoned`,
            );
          }
          parts.push(b.inf);
          this.nr = this.nr ? 0 : 1;
          if (!b.more) return concat(parts, received);
          failures = 0;
          cardRequests = 0;
          out = rBlock('none');
          continue;
        }
      }
      if (next === undefined) return RESYNCH;
      out = next;
    }
  }

  /**
   * Rule 9: the card gives up the chain with S(ABORT request). We answer S(ABORT response), drop what was exchanged
   * and fail the call. Whatever the card sends after our answer is not used; the next call resynchronises so both
   * sides start clean.
   */
  private async answerAbort(): Promise<never> {
    this.counters.aborts++;
    // libccid only logs the abort and carries on waiting; the standard has the chain abandoned.
    await this.exchange(this.encode({ type: 'S', kind: 'abort', response: true }));
    this.status = 'needs-resynch';
    throw failure('the card aborted the command with S(ABORT request); the command was not completed');
  }
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
