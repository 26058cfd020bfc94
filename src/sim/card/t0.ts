/**
 * The card's side of T=0 (ISO/IEC 7816-3 §10, and the transport of APDUs over T=0 in §12.2).
 *
 * The interface device sends a 5-byte header CLA INS P1 P2 P3. The card answers with procedure bytes (§10.3.3): NULL
 * 0x60 (wait), INS (the remaining data bytes follow), INS ^ 0xFF (one data byte follows), or SW1 SW2 (end). How P3 is
 * read depends on the instruction, which only the card knows (see CardApplications.t0Transfer):
 * - incoming (case 3, and case 4 whose Le cannot travel in a T=0 header, §12.2.4): the card asks for P3 data bytes; once
 *   it has them it runs the command and, if the response has data, answers 61 xx and serves GET RESPONSE (00 C0 00 00 xx,
 *   or 80 C0 00 00 xx);
 * - outgoing (case 2, §12.2.2): P3 is Le, 00 meaning 256; if the response has exactly Le bytes the card sends INS,
 *   the data and SW1 SW2, otherwise 6C La so that the interface device asks again with P3 = La;
 * - none: P3 = 00 is case 1; if the command produces data (00 00 00 00 → "Hello world!") the card answers 61 xx.
 *   Another P3 is taken as Le, as for outgoing.
 * Instructions 6x and 9x are invalid (§10.3.2): answered 6D 00. CLA FF is invalid (it is PPSS): answered 6E 00.
 *
 * An empty answer means the card sends nothing: it waits for more input (data bytes still to come), or it is mute
 * because the interface device broke the protocol (a header of other than 5 bytes, more data than asked for); it then
 * drops the command and waits for a new header.
 */

import { SW, type CommandApdu, type ResponseApdu } from './apdu.js';
import type { CardApplications } from './applets.js';
import type { CardFaults } from './faults.js';

/**
 * How the card asks for and sends data bytes: 'ins' (all remaining bytes after one INS), 'complement' (one byte after
 * each INS ^ FF), or 'mixed' (the first byte after INS ^ FF, the rest after INS). All three are legal (§10.3.3).
 */
export type T0DataProcedure = 'ins' | 'complement' | 'mixed';

const NULL_BYTE = 0x60;
const EMPTY = new Uint8Array(0);

interface IncomingCommand {
  readonly header: Uint8Array;
  readonly data: Uint8Array;
  received: number;
}

interface PendingResponse {
  readonly data: Uint8Array;
  readonly sw: number;
  offset: number;
}

export class T0CardSession {
  private incoming: IncomingCommand | null = null;
  private pending: PendingResponse | null = null;

  constructor(
    private readonly applications: CardApplications,
    private readonly faults: CardFaults,
    private readonly procedure: T0DataProcedure = 'ins',
  ) {}

  /** Forget any command in progress and any response waiting for GET RESPONSE (card reset). */
  reset(): void {
    this.incoming = null;
    this.pending = null;
  }

  /** One turn of the exchange: what the card sends after receiving `bytes`. Never throws. */
  transmit(bytes: Uint8Array): Uint8Array {
    const incoming = this.incoming;
    if (incoming !== null) return this.receiveData(incoming, bytes);
    if (bytes.length !== 5) return EMPTY;
    return this.receiveHeader(Uint8Array.from(bytes));
  }

  private receiveHeader(header: Uint8Array): Uint8Array {
    const cla = header[0]!;
    const ins = header[1]!;
    const p3 = header[4]!;
    // GET RESPONSE in the interindustry class 00, or in class 80, the class of this card's own proprietary commands
    // (ECHO): many cards accept both, and an APDU-level reader with bClassGetResponse = FF (CCID 1.1 §5.1: "echo the
    // command's class") fetches an ECHO's data with 80 C0.
    const getResponse = (cla === 0x00 || cla === 0x80) && ins === 0xc0;
    if (!getResponse) this.pending = null;
    if (cla === 0xff) return this.statusOnly(SW.CLA_NOT_SUPPORTED);
    const high = ins & 0xf0;
    if (high === 0x60 || high === 0x90) return this.statusOnly(SW.INS_NOT_SUPPORTED);
    if (getResponse) return this.getResponse(ins, p3 === 0 ? 256 : p3);

    const transfer = this.applications.t0Transfer(cla, ins);
    if (transfer === 'incoming' && p3 > 0) {
      this.incoming = { header, data: new Uint8Array(p3), received: 0 };
      return this.askForData(ins, 0);
    }
    if (transfer === 'outgoing' || (transfer === 'none' && p3 > 0)) {
      const le = p3 === 0 ? 256 : p3;
      return this.sendOutgoing(ins, le, this.run(header, EMPTY, le));
    }
    // Case 1 (or case 3 with no data): run it, keep any response data for GET RESPONSE.
    return this.finish(this.run(header, EMPTY, 0));
  }

  private receiveData(incoming: IncomingCommand, bytes: Uint8Array): Uint8Array {
    const total = incoming.data.length;
    const ins = incoming.header[1]!;
    const askedOne = this.asksOneByte(incoming.received);
    const allowed = askedOne ? 1 : total - incoming.received;
    if (bytes.length === 0 || bytes.length > allowed) {
      this.incoming = null; // protocol broken: the card drops the command
      return EMPTY;
    }
    incoming.data.set(bytes, incoming.received);
    incoming.received += bytes.length;
    if (incoming.received < total) {
      // 'ins' mode with data arriving in pieces: the card keeps listening and sends nothing yet.
      if (!askedOne && bytes.length < allowed) return EMPTY;
      return this.askForData(ins, incoming.received);
    }
    this.incoming = null;
    return this.finish(this.run(incoming.header, incoming.data, 0));
  }

  /** Whether the card asks for the byte at `index` with INS ^ FF (one byte) rather than INS (all the rest). */
  private asksOneByte(index: number): boolean {
    return this.procedure === 'complement' || (this.procedure === 'mixed' && index === 0);
  }

  private askForData(ins: number, index: number): Uint8Array {
    return this.withNulls([this.asksOneByte(index) ? ins ^ 0xff : ins]);
  }

  private run(header: Uint8Array, data: Uint8Array, ne: number): ResponseApdu {
    const command: CommandApdu = {
      cla: header[0]!,
      ins: header[1]!,
      p1: header[2]!,
      p2: header[3]!,
      data,
      ne,
      extended: false,
    };
    return this.applications.execute(command);
  }

  /** After a case 1 or 3 command: SW alone, or 61 xx when there is data to fetch (§12.2.4). */
  private finish(response: ResponseApdu): Uint8Array {
    if (response.data.length === 0) return this.statusOnly(response.sw);
    this.pending = { data: response.data, sw: response.sw, offset: 0 };
    return this.statusOnly(SW.BYTES_AVAILABLE | (Math.min(response.data.length, 256) & 0xff));
  }

  /** Case 2: the data if Le matches, else 6C La (§12.2.2); above 256 bytes, Le bytes then 61 xx for the rest. */
  private sendOutgoing(ins: number, le: number, response: ResponseApdu): Uint8Array {
    const la = response.data.length;
    if (la === 0) return this.statusOnly(response.sw);
    if (la === le) return this.dataThenStatus(ins, response.data, response.sw);
    if (la <= 256) return this.statusOnly(SW.WRONG_LE | (la & 0xff));
    this.pending = { data: response.data, sw: response.sw, offset: le };
    const rest = la - le;
    return this.dataThenStatus(ins, response.data.subarray(0, le), SW.BYTES_AVAILABLE | (Math.min(rest, 256) & 0xff));
  }

  private getResponse(ins: number, le: number): Uint8Array {
    const pending = this.pending;
    if (pending === null) return this.statusOnly(SW.CONDITIONS_NOT_SATISFIED);
    const left = pending.data.length - pending.offset;
    if (le > left) return this.statusOnly(SW.WRONG_LE | (left & 0xff));
    const chunk = pending.data.subarray(pending.offset, pending.offset + le);
    pending.offset += le;
    const rest = left - le;
    if (rest === 0) {
      this.pending = null;
      return this.dataThenStatus(ins, chunk, pending.sw);
    }
    return this.dataThenStatus(ins, chunk, SW.BYTES_AVAILABLE | (Math.min(rest, 256) & 0xff));
  }

  private statusOnly(sw: number): Uint8Array {
    return this.withNulls([sw >>> 8, sw & 0xff]);
  }

  /** Procedure byte(s), the data bytes, then SW1 SW2, as the card's data procedure dictates. */
  private dataThenStatus(ins: number, data: Uint8Array, sw: number): Uint8Array {
    const nulls = Math.max(0, this.faults.t0NullBytes | 0);
    const oneByOne = this.procedure === 'complement' ? data.length : this.procedure === 'mixed' ? 1 : 0;
    const rest = data.length - oneByOne;
    const out = new Uint8Array(nulls + oneByOne * 2 + (rest > 0 ? 1 + rest : 0) + 2);
    let o = nulls;
    out.fill(NULL_BYTE, 0, nulls);
    for (let i = 0; i < oneByOne; i++) {
      out[o++] = ins ^ 0xff;
      out[o++] = data[i]!;
    }
    if (rest > 0) {
      out[o++] = ins;
      out.set(data.subarray(oneByOne), o);
      o += rest;
    }
    out[o++] = sw >>> 8;
    out[o] = sw & 0xff;
    return out;
  }

  private withNulls(bytes: number[]): Uint8Array {
    const nulls = Math.max(0, this.faults.t0NullBytes | 0);
    const out = new Uint8Array(nulls + bytes.length);
    out.fill(NULL_BYTE, 0, nulls);
    out.set(bytes, nulls);
    return out;
  }
}
