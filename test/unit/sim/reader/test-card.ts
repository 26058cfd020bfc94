/**
 * A small, deterministic card for the reader simulator's tests (the real simulated card lives in src/sim/card). It speaks
 * T=0 (procedure bytes, 61xx + GET RESPONSE with any class, 6Cxx, ENVELOPE) or T=1 (chaining both ways, S(IFS),
 * optional S(WTX)), and knows a few commands:
 *   80 EE 00 00 Lc data      ECHO: data + 90 00 (short or extended)
 *   00 84 00 00 Le           GET CHALLENGE: Le bytes 0, 1, 2, … + 90 00
 *   00 20 00 81 Lc pin       VERIFY: 90 00 when equal to `pin`, else 63 C2
 *   00 24 00 81 Lc old+new   CHANGE REFERENCE DATA: 90 00
 */
import type { CardProtocol, SimCard, VoltageClass } from '../../../../src/sim/card-interface.js';
import { buildBlock, parseBlock, type T1Edc } from '../../../../src/sim/reader/t1-block.js';

export interface TestCardOptions {
  protocol?: CardProtocol;
  /** T=1 IFSC announced in the ATR (default 32). */
  ifsc?: number;
  edc?: T1Edc;
  /** Classes the card answers at (default all). */
  classes?: VoltageClass[];
  /** TA1 in the ATR (adds TA1 when set). */
  ta1?: number;
  /** The PIN VERIFY accepts (bytes). */
  pin?: Uint8Array;
  /** T=1: S(WTX request) with this multiplier before each answer. */
  wtx?: number;
}

const EMPTY = new Uint8Array(0);

export class TestCard implements SimCard {
  inserted = true;
  powered = false;
  readonly protocol: CardProtocol;
  readonly atr: Uint8Array;
  readonly apdus: Uint8Array[] = [];
  readonly ppsRequests: Uint8Array[] = [];
  readonly blocksReceived: Uint8Array[] = [];
  activations: VoltageClass[] = [];
  ifsd = 32;
  private readonly options: TestCardOptions;
  private readonly edc: T1Edc;
  private readonly ifsc: number;
  // T=1 state
  private ns = 0;
  private nr = 0;
  private incoming: Uint8Array[] = [];
  private outgoing: Uint8Array | null = null;
  private outOffset = 0;
  private wtxSent = false;
  // T=0 state
  private t0Header: Uint8Array | null = null;
  private t0Data: number[] = [];
  private t0Pending: Uint8Array = EMPTY;
  private envelope: number[] = [];

  constructor(options: TestCardOptions = {}) {
    this.options = options;
    this.protocol = options.protocol ?? 1;
    this.edc = options.edc ?? 'lrc';
    this.ifsc = options.ifsc ?? 32;
    this.atr = this.buildAtr();
  }

  get parameters() {
    return { fidi: 0x11, ifsc: this.ifsc, edc: this.edc };
  }

  private buildAtr(): Uint8Array {
    const ta1 = this.options.ta1;
    if (this.protocol === 0) {
      return ta1 === undefined ? Uint8Array.of(0x3b, 0x00) : Uint8Array.of(0x3b, 0x10, ta1);
    }
    // TS T0 [TA1] TD1(T=1, TD2 follows) TD2(TA3 TB3 TC3 follow, T=1) TA3 TB3 TC3 TCK
    const bytes = [0x3b, ta1 === undefined ? 0x80 : 0x90];
    if (ta1 !== undefined) bytes.push(ta1);
    bytes.push(0x81, 0x71, this.ifsc, 0x45, this.edc === 'crc' ? 0x01 : 0x00);
    let tck = 0;
    for (const b of bytes.slice(1)) tck ^= b;
    bytes.push(tck);
    return Uint8Array.from(bytes);
  }

  activate(voltage: VoltageClass): Uint8Array | null {
    this.activations.push(voltage);
    if (!this.inserted || !(this.options.classes ?? ['A', 'B', 'C']).includes(voltage)) return null;
    this.powered = true;
    this.ns = 0;
    this.nr = 0;
    this.ifsd = 32;
    this.incoming = [];
    this.outgoing = null;
    return this.atr;
  }
  warmReset(): Uint8Array | null {
    return this.powered ? this.atr : null;
  }
  deactivate(): void {
    this.powered = false;
  }
  pps(request: Uint8Array): Uint8Array | null {
    this.ppsRequests.push(request.slice());
    return request.slice();
  }

  /** The card's application layer. */
  process(apdu: Uint8Array): Uint8Array {
    this.apdus.push(apdu.slice());
    const [cla, ins] = [apdu[0], apdu[1]];
    const data = commandData(apdu);
    if (cla === 0x80 && ins === 0xee) return concat(data, Uint8Array.of(0x90, 0x00));
    if (cla === 0x00 && ins === 0x84) {
      const le = apdu.length === 5 ? apdu[4]! || 256 : 8;
      return concat(
        Uint8Array.from({ length: le }, (_, i) => i & 0xff),
        Uint8Array.of(0x90, 0x00),
      );
    }
    if (cla === 0x00 && ins === 0x20) {
      const pin = this.options.pin ?? Uint8Array.of(0x31, 0x32, 0x33, 0x34);
      const good = data.length === pin.length && data.every((b, i) => b === pin[i]);
      return good ? Uint8Array.of(0x90, 0x00) : Uint8Array.of(0x63, 0xc2);
    }
    if (cla === 0x00 && ins === 0x24) return Uint8Array.of(0x90, 0x00);
    return Uint8Array.of(0x6d, 0x00);
  }

  // --- T=1 ---------------------------------------------------------------------------------------------------
  t1Block(raw: Uint8Array): Uint8Array | null {
    this.blocksReceived.push(raw.slice());
    if (!this.powered) return null;
    const block = parseBlock(raw, this.edc);
    if (block === null) return buildBlock(0, 0x80 | (this.nr << 4) | 0x01, EMPTY, this.edc);
    const pcb = block.pcb;
    if ((pcb & 0xc0) === 0xc0) {
      if (pcb === 0xc1) {
        this.ifsd = block.inf[0]!;
        return buildBlock(0, 0xe1, block.inf, this.edc);
      }
      if (pcb === 0xe3) return this.sendNextOutgoing();
      if (pcb === 0xc0) {
        this.ns = 0;
        this.nr = 0;
        return buildBlock(0, 0xe0, EMPTY, this.edc);
      }
      return null;
    }
    if ((pcb & 0x80) === 0x80) {
      // R-block: acknowledges our chained block (N(R) ≠ our N(S)) or asks for a retransmission.
      if (this.outgoing !== null) return this.sendNextOutgoing();
      return null;
    }
    // I-block
    if (((pcb >> 6) & 1) !== this.nr) return buildBlock(0, 0x80 | (this.nr << 4) | 0x02, EMPTY, this.edc);
    this.nr ^= 1;
    this.incoming.push(block.inf.slice());
    if (pcb & 0x20) return buildBlock(0, 0x80 | (this.nr << 4), EMPTY, this.edc);
    const apdu = concat(...this.incoming);
    this.incoming = [];
    this.outgoing = this.process(apdu);
    this.outOffset = 0;
    this.wtxSent = false;
    if (this.options.wtx !== undefined) {
      this.wtxSent = true;
      return buildBlock(0, 0xc3, Uint8Array.of(this.options.wtx), this.edc);
    }
    return this.sendNextOutgoing();
  }

  private lastSent: Uint8Array | null = null;
  private sendNextOutgoing(): Uint8Array | null {
    const out = this.outgoing;
    if (out === null) return this.lastSent;
    if (this.lastSent !== null && this.outOffset > 0 && this.outOffset >= out.length) return this.lastSent;
    const end = Math.min(out.length, this.outOffset + this.ifsd);
    const more = end < out.length;
    const blk = buildBlock(0, (this.ns << 6) | (more ? 0x20 : 0), out.subarray(this.outOffset, end), this.edc);
    this.ns ^= 1;
    this.outOffset = end;
    if (!more) this.outgoing = null;
    this.lastSent = blk;
    return blk;
  }

  // --- T=0 ---------------------------------------------------------------------------------------------------
  t0Transmit(bytes: Uint8Array): Uint8Array {
    if (!this.powered) return EMPTY;
    if (this.t0Header === null) {
      if (bytes.length !== 5) return EMPTY;
      const h = bytes.slice();
      const ins = h[1]!;
      const p3 = h[4]!;
      if (ins === 0xc0) {
        // GET RESPONSE, any class.
        const avail = this.t0Pending.length;
        if (avail === 0) return Uint8Array.of(0x6f, 0x00);
        const want = p3 === 0 ? 256 : p3;
        if (want > avail) return Uint8Array.of(0x6c, avail & 0xff);
        const chunk = this.t0Pending.subarray(0, want);
        this.t0Pending = this.t0Pending.slice(want);
        const rest = this.t0Pending.length;
        const sw = rest > 0 ? [0x61, rest > 255 ? 0 : rest] : [0x90, 0x00];
        return concat(Uint8Array.of(0xc0), chunk, Uint8Array.from(sw));
      }
      if (ins === 0x84) {
        // Outgoing: GET CHALLENGE, exactly 8 bytes or 6C08.
        if (p3 !== 8) return Uint8Array.of(0x6c, 0x08);
        const r = this.process(h);
        return concat(Uint8Array.of(0x60, ins), r.subarray(0, 8), r.subarray(8));
      }
      if (p3 === 0) return this.t0Finish(h, EMPTY);
      this.t0Header = h;
      this.t0Data = [];
      return Uint8Array.of(ins);
    }
    this.t0Data.push(...bytes);
    const h = this.t0Header;
    if (this.t0Data.length < h[4]!) return EMPTY;
    this.t0Header = null;
    return this.t0Finish(h, Uint8Array.from(this.t0Data));
  }

  private t0Finish(h: Uint8Array, data: Uint8Array): Uint8Array {
    let r: Uint8Array;
    if (h[1] === 0xc2) {
      this.envelope.push(...data);
      const apdu = Uint8Array.from(this.envelope);
      if (!isCompleteApdu(apdu)) return Uint8Array.of(0x90, 0x00);
      this.envelope = [];
      r = this.process(apdu);
    } else {
      r = this.process(data.length > 0 ? concat(h, data) : h.subarray(0, 4));
    }
    const body = r.subarray(0, r.length - 2);
    if (body.length === 0) return r.subarray(r.length - 2);
    this.t0Pending = body.slice();
    return Uint8Array.of(0x61, body.length > 255 ? 0 : body.length);
  }
}

function commandData(apdu: Uint8Array): Uint8Array {
  if (apdu.length <= 5) return EMPTY;
  if (apdu[4] !== 0) return apdu.subarray(5, 5 + apdu[4]!);
  const n = (apdu[5]! << 8) | apdu[6]!;
  return apdu.subarray(7, 7 + n);
}

function isCompleteApdu(apdu: Uint8Array): boolean {
  if (apdu.length < 7) return false;
  if (apdu[4] !== 0) return apdu.length >= 5 + apdu[4]!;
  const n = (apdu[5]! << 8) | apdu[6]!;
  return apdu.length >= 7 + n;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
