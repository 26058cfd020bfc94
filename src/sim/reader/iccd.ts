/**
 * The token side of ICCD (USB-ICC, ISO/IEC 7816-12): class requests on the control pipe instead of bulk messages
 * (bmRequestType 0x21 out / 0xA1 in, wIndex = the interface). The token's chip is the simulated card in slot 0; the
 * CCID slot state machine (slot.ts) does the card-facing work, at TPDU level for version A (the token runs T=0's
 * procedure bytes) and extended APDU level for version B (the token chains like CCID §6.1.4).
 *
 * Version A (§7): ICC_POWER_ON 0x62 IN → the ATR; ICC_POWER_OFF 0x63 OUT; GET_ICC_STATUS 0xA0 IN → bStatusByte
 * (0x00 ready, 0x10 data expected or available, 0x20 status bytes available, 0x80 no card / mute; 0x40 busy is never
 * needed here, the simulated chip answers at once); XFR_BLOCK 0x65 OUT: first the 5-byte header, then (case 3) the
 * data; DATA_BLOCK 0x6F IN: the response data (case 2), then SW1 SW2.
 * Version B (§8): ICC_POWER_ON 0x62 OUT; ICC_POWER_OFF 0x63 OUT; SLOT_STATUS 0x81 IN → 0x40, bStatus, bError;
 * XFR_BLOCK 0x65 OUT with bLevelParameter in wValue's high byte; DATA_BLOCK 0x6F IN → bResponseType then data
 * (0x00 / 0x01 / 0x02 / 0x03 / 0x10 like CCID's bChainParameter, 0x40 status information, 0x80 "poll again after
 * wDelay × 10 ms" for each time extension the exchange took).
 *
 * A version A token cannot know from a header alone whether data goes in or comes out: it says 0x10 after any
 * header, and what the host does next (XFR_BLOCK with data, or DATA_BLOCK) decides, the TPDU then going to the chip
 * whole.
 */
import { PC_TO_RDR } from './ccid-constants.js';
import type { Command, Outcome, Slot } from './slot.js';

export type IccdVersion = 'A' | 'B';

const REQUEST = { POWER_ON: 0x62, POWER_OFF: 0x63, XFR_BLOCK: 0x65, DATA_BLOCK: 0x6f, STATUS_A: 0xa0, STATUS_B: 0x81 };
const A_STATUS = { READY: 0x00, DATA: 0x10, STATUS_BYTES: 0x20, MUTE: 0x80 } as const;

function command(type: number, data: Uint8Array = new Uint8Array(0), b8 = 0): Command {
  return { type, slot: 0, seq: 0, b7: 0, b8, b9: 0, data };
}

export class IccdFunction {
  #stateA: 'idle' | 'header' | 'status' | 'mute' = 'idle';
  #header: Uint8Array = new Uint8Array(0);
  #statusBytes: Uint8Array = new Uint8Array(0);
  /** Version B: the DATA_BLOCK answers waiting to be read, in order. */
  readonly #blocks: Uint8Array[] = [];

  constructor(
    readonly version: IccdVersion,
    private readonly slot: Slot,
  ) {}

  /** A class OUT request; false = not an ICCD request (the caller stalls). */
  async out(request: number, value: number, data: Uint8Array): Promise<boolean> {
    switch (request) {
      case REQUEST.POWER_OFF:
        await this.slot.handle(command(PC_TO_RDR.IccPowerOff));
        this.#stateA = 'idle';
        this.#blocks.length = 0;
        return true;
      case REQUEST.POWER_ON:
        if (this.version !== 'B') return false;
        this.#queue(await this.slot.handle(command(PC_TO_RDR.IccPowerOn)));
        return true;
      case REQUEST.XFR_BLOCK:
        if (this.version === 'B') {
          this.#queue(await this.slot.handle(command(PC_TO_RDR.XfrBlock, data, (value >> 8) & 0xff)));
          return true;
        }
        if (this.#stateA === 'header') {
          // Case 3: the data after the header; the whole TPDU goes to the chip, SW1 SW2 come back.
          const tpdu = new Uint8Array(5 + data.length);
          tpdu.set(this.#header);
          tpdu.set(data, 5);
          await this.#runA(tpdu);
          return true;
        }
        if (data.length !== 5) return false;
        this.#header = data.slice();
        this.#stateA = 'header';
        return true;
      default:
        return false;
    }
  }

  /** A class IN request; null = not an ICCD request or nothing to answer (the caller stalls). */
  async in(request: number): Promise<Uint8Array | null> {
    if (this.version === 'A') {
      switch (request) {
        case REQUEST.POWER_ON: {
          const o = await this.slot.handle(command(PC_TO_RDR.IccPowerOn));
          this.#stateA = 'idle';
          return o.commandStatus === 0 ? o.data : null;
        }
        case REQUEST.STATUS_A:
          if (!this.slot.present || this.#stateA === 'mute') return Uint8Array.of(A_STATUS.MUTE);
          return Uint8Array.of(
            this.#stateA === 'header' ? A_STATUS.DATA : this.#stateA === 'status' ? A_STATUS.STATUS_BYTES : 0,
          );
        case REQUEST.DATA_BLOCK: {
          if (this.#stateA === 'header') {
            // Case 1/2: the header alone goes to the chip; its data comes now, SW1 SW2 on the next DATA_BLOCK.
            const answer = await this.#runA(this.#header);
            return answer === null ? null : answer.subarray(0, answer.length - 2);
          }
          if (this.#stateA === 'status') {
            this.#stateA = 'idle';
            return this.#statusBytes;
          }
          return null;
        }
        default:
          return null;
      }
    }
    switch (request) {
      case REQUEST.STATUS_B:
        return Uint8Array.of(0x40, this.slot.iccStatus, 0);
      case REQUEST.DATA_BLOCK:
        return this.#blocks.shift() ?? null;
      default:
        return null;
    }
  }

  /** Version A: one TPDU through the chip (the CCID slot at TPDU level runs the procedure bytes). */
  async #runA(tpdu: Uint8Array): Promise<Uint8Array | null> {
    const o = await this.slot.handle(command(PC_TO_RDR.XfrBlock, tpdu));
    if (o.commandStatus !== 0 || o.data.length < 2) {
      this.#stateA = 'mute';
      return null;
    }
    this.#statusBytes = o.data.slice(o.data.length - 2);
    this.#stateA = 'status';
    return o.data;
  }

  /** Version B: the answers a DATA_BLOCK will read, after one "poll again" per time extension. */
  #queue(o: Outcome): void {
    this.#blocks.length = 0;
    for (const multiplier of o.timeExtensions) this.#blocks.push(Uint8Array.of(0x80, Math.max(1, multiplier), 0));
    if (o.commandStatus !== 0) {
      this.#blocks.push(Uint8Array.of(0x40, 0x40 | this.slot.iccStatus, o.error));
      return;
    }
    const block = new Uint8Array(1 + o.data.length);
    block[0] = o.byte9;
    block.set(o.data, 1);
    this.#blocks.push(block);
  }
}
