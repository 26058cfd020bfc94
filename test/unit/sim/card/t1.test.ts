import { describe, expect, it } from 'vitest';
import type { SimulatedCard } from '../../../../src/sim/card/card.js';
import { helloWorldCardT0, helloWorldCardT1, pinCard } from '../../../../src/sim/card/profiles.js';

// ---- A tiny, independent T=1 block builder for the interface device's side (ISO 7816-3 §11.3, §11.4.4). ----

type Edc = 'lrc' | 'crc';

function crcBitwise(bytes: number[]): number {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0x8408 : crc >>> 1;
  }
  return crc;
}

function withEdc(bytes: number[], edc: Edc): Uint8Array {
  if (edc === 'crc') {
    const c = crcBitwise(bytes);
    return Uint8Array.from([...bytes, c >> 8, c & 0xff]);
  }
  return Uint8Array.from([...bytes, bytes.reduce((a, b) => a ^ b, 0)]);
}

function block(pcb: number, inf: ArrayLike<number> = [], edc: Edc = 'lrc', nad = 0): Uint8Array {
  return withEdc([nad, pcb, inf.length, ...Array.from(inf)], edc);
}

const I = (ns: number, more = false): number => (ns << 6) | (more ? 0x20 : 0);
const R = (nr: number, err = 0): number => 0x80 | (nr << 4) | err;
const S_RESYNCH = 0xc0;
const S_IFS = 0xc1;
const S_ABORT = 0xc2;
const S_WTX_RESPONSE = 0xe3;

interface Decoded {
  nad: number;
  pcb: number;
  inf: Uint8Array;
}

/** Reads a card block and checks its frame: LEN fits, EDC right. */
function decode(frame: Uint8Array | null, edc: Edc = 'lrc'): Decoded {
  expect(frame).not.toBeNull();
  const f = frame!;
  const n = edc === 'crc' ? 2 : 1;
  expect(f.length).toBe(3 + f[2]! + n);
  expect(Array.from(withEdc(Array.from(f.subarray(0, f.length - n)), edc))).toEqual(Array.from(f));
  return { nad: f[0]!, pcb: f[1]!, inf: f.subarray(3, 3 + f[2]!) };
}

const hex = (s: string): Uint8Array => Uint8Array.from(s.split(' ').map((b) => parseInt(b, 16)));
const SELECT_HELLO = hex('00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01');
const HELLO = Array.from(new TextEncoder().encode('Hello world!'));

/** The interface device's side: sends APDUs with chaining both ways, as §11.6.2.3 describes. */
class TestReader {
  ns = 0;
  nr = 0;
  cardBlocks = 0;
  maxCardInf = 0;
  constructor(
    readonly card: SimulatedCard,
    readonly edc: Edc = 'lrc',
    public ifsc = 254,
  ) {}

  send(pcb: number, inf: ArrayLike<number> = []): Decoded {
    const d = decode(this.card.t1Block(block(pcb, inf, this.edc)), this.edc);
    this.cardBlocks++;
    this.maxCardInf = Math.max(this.maxCardInf, d.inf.length);
    return d;
  }

  transceive(apdu: Uint8Array): Uint8Array {
    let offset = 0;
    let reply: Decoded;
    for (;;) {
      const n = Math.min(this.ifsc, apdu.length - offset);
      const more = offset + n < apdu.length;
      reply = this.send(I(this.ns, more), apdu.subarray(offset, offset + n));
      this.ns ^= 1;
      offset += n;
      if (!more) break;
      expect(reply.pcb).toBe(R(this.ns)); // acknowledgement naming our next N(S)
    }
    const parts: Uint8Array[] = [];
    for (;;) {
      if (reply.pcb === 0xc3) {
        reply = this.send(S_WTX_RESPONSE, reply.inf);
        continue;
      }
      expect(reply.pcb & 0x80).toBe(0);
      expect((reply.pcb >> 6) & 1).toBe(this.nr);
      this.nr ^= 1;
      parts.push(reply.inf.slice());
      if ((reply.pcb & 0x20) === 0) break;
      reply = this.send(R(this.nr));
    }
    const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

function poweredT1(options: Parameters<typeof helloWorldCardT1>[0] = {}): SimulatedCard {
  const card = helloWorldCardT1(options);
  expect(card.activate('A')).not.toBeNull();
  expect(card.protocol).toBe(1);
  return card;
}

describe('T=1 card side (ISO 7816-3 §11)', () => {
  it('answers an I-block with an I-block carrying the response, sequence numbers alternating', () => {
    const card = poweredT1();
    const a = decode(card.t1Block(block(I(0), SELECT_HELLO)));
    expect(a.pcb).toBe(I(0));
    expect(Array.from(a.inf)).toEqual([0x90, 0x00]);
    const b = decode(card.t1Block(block(I(1), hex('00 00 00 00'))));
    expect(b.pcb).toBe(I(1));
    expect(Array.from(b.inf)).toEqual([...HELLO, 0x90, 0x00]);
    const c = decode(card.t1Block(block(I(0), hex('00 84 00 00 08'))));
    expect(c.pcb).toBe(I(0));
    expect(c.inf.length).toBe(10);
  });

  it('answers with the nibbles of the received NAD swapped (§11.3.2.1)', () => {
    const card = poweredT1();
    const a = decode(card.t1Block(block(I(0), hex('00 84 00 00 01'), 'lrc', 0x12)));
    expect(a.nad).toBe(0x21);
  });

  it('S(IFS request) is answered S(IFS response) with the same size, which then bounds the answers', () => {
    const card = poweredT1();
    expect(card.ifsd).toBe(32);
    const r = decode(card.t1Block(block(S_IFS, [0xfe])));
    expect(r.pcb).toBe(0xe1);
    expect(Array.from(r.inf)).toEqual([0xfe]);
    expect(card.ifsd).toBe(254);
  });

  it('an S(IFS request) of 0, of 255 or of two bytes is an error (R-block, other error)', () => {
    const card = poweredT1();
    expect(decode(card.t1Block(block(S_IFS, [0x00]))).pcb).toBe(R(0, 2));
    expect(decode(card.t1Block(block(S_IFS, [0xff]))).pcb).toBe(R(0, 2));
    expect(decode(card.t1Block(block(S_IFS, [0x20, 0x20]))).pcb).toBe(R(0, 2));
    expect(card.ifsd).toBe(32);
  });

  it('chains both ways at a small IFSC and IFSD', () => {
    const card = poweredT1({ ifsc: 16 });
    const reader = new TestReader(card, 'lrc', 16);
    expect(reader.send(S_IFS, [8]).pcb).toBe(0xe1);
    const data = Array.from({ length: 40 }, (_, i) => i);
    const answer = reader.transceive(Uint8Array.from([0x80, 0xee, 0x00, 0x00, 40, ...data]));
    expect(Array.from(answer)).toEqual([...data, 0x90, 0x00]);
    expect(reader.maxCardInf).toBe(8);
    // Commands are chained in 16-byte pieces (45 bytes: 3 blocks), answers in 8-byte pieces (42 bytes: 6 blocks).
    expect(reader.cardBlocks - 1).toBe(2 + 6);
  });

  it('answers an I-block longer than its IFSC with an R-block (other error)', () => {
    const card = poweredT1({ ifsc: 16 });
    const r = decode(card.t1Block(block(I(0), new Uint8Array(17))));
    expect(r.pcb).toBe(R(0, 2));
  });

  it('answers an I-block with the wrong N(S) with an R-block naming the expected one', () => {
    const card = poweredT1();
    expect(decode(card.t1Block(block(I(1), hex('00 84 00 00 01')))).pcb).toBe(R(0, 2));
    expect(decode(card.t1Block(block(I(0), hex('00 84 00 00 01')))).pcb).toBe(I(0));
  });

  it('answers a bad EDC with R(N(R)) error 1 and a bad LEN with error 2, then takes the block again', () => {
    const card = poweredT1();
    const good = block(I(0), hex('00 84 00 00 04'));
    const corrupted = good.slice();
    corrupted[4] = corrupted[4]! ^ 0x01;
    expect(decode(card.t1Block(corrupted)).pcb).toBe(R(0, 1));
    const badLen = good.slice();
    badLen[2] = 9;
    expect(decode(card.t1Block(badLen)).pcb).toBe(R(0, 2));
    expect(decode(card.t1Block(Uint8Array.of(0x00, 0x00))).pcb).toBe(R(0, 2));
    expect(decode(card.t1Block(block(I(0), hex('00 84 00 00 04')))).pcb).toBe(I(0));
  });

  it('resends its last block, unchanged, when the reader asks with an R-block', () => {
    const card = poweredT1();
    const first = card.t1Block(block(I(0), hex('00 84 00 00 10')))!;
    const again = card.t1Block(block(R(0, 1)))!;
    expect(Array.from(again)).toEqual(Array.from(first));
    const third = card.t1Block(block(R(0, 2)))!;
    expect(Array.from(third)).toEqual(Array.from(first));
  });

  it('resends its chain acknowledgement when the reader asks during a chained command', () => {
    const card = poweredT1();
    const ack = decode(card.t1Block(block(I(0, true), hex('80 EE 00 00 04 01 02'))));
    expect(ack.pcb).toBe(R(1));
    expect(decode(card.t1Block(block(R(0, 1)))).pcb).toBe(R(1));
    const end = decode(card.t1Block(block(I(1), hex('03 04'))));
    expect(Array.from(end.inf)).toEqual([1, 2, 3, 4, 0x90, 0x00]);
  });

  it('sends a garbled EDC on request (fault) and the right block when asked again', () => {
    const card = poweredT1({ faults: { garbleT1Edc: 1 } });
    const bad = card.t1Block(block(I(0), hex('00 84 00 00 04')))!;
    expect(() => decode(bad)).toThrow();
    const good = decode(card.t1Block(block(R(0, 1))));
    expect(good.pcb).toBe(I(0));
    expect(good.inf.length).toBe(6);
    expect(card.faults.garbleT1Edc).toBe(0);
  });

  it('asks for a waiting time extension before answering, and answers after S(WTX response)', () => {
    const card = poweredT1({ faults: { wtxRequests: 1, wtxMultiplier: 9 } });
    const wtx = card.t1Block(block(I(0), hex('00 84 00 00 02')))!;
    expect(Array.from(wtx)).toEqual([0x00, 0xc3, 0x01, 0x09, 0xcb]); // libccid's WTX pair
    const answer = decode(card.t1Block(hex('00 E3 01 09 EB')));
    expect(answer.pcb).toBe(I(0));
    expect(answer.inf.length).toBe(4);
    // The next command is answered at once.
    expect(decode(card.t1Block(block(I(1), hex('00 84 00 00 02')))).pcb).toBe(I(1));
  });

  it('WTX can be armed on the fly; a wrong S(WTX response) or an I-block meanwhile is an error', () => {
    const card = poweredT1();
    card.faults.wtxRequests = 1;
    card.faults.wtxMultiplier = 3;
    expect(decode(card.t1Block(block(I(0), hex('00 84 00 00 02')))).pcb).toBe(0xc3);
    expect(decode(card.t1Block(block(S_WTX_RESPONSE, [2]))).pcb).toBe(R(1, 2));
    expect(decode(card.t1Block(block(I(1), hex('00 84 00 00 02')))).pcb).toBe(R(1, 2));
    expect(decode(card.t1Block(block(S_WTX_RESPONSE, [3]))).pcb).toBe(I(0));
  });

  it('answers S(RESYNCH request), resetting N(S), N(R) and the IFSD', () => {
    const card = poweredT1();
    const reader = new TestReader(card);
    reader.send(S_IFS, [254]);
    reader.transceive(hex('00 84 00 00 01'));
    expect(decode(card.t1Block(block(S_RESYNCH))).pcb).toBe(0xe0);
    expect(card.ifsd).toBe(32);
    const r = decode(card.t1Block(block(I(0), hex('00 84 00 00 01'))));
    expect(r.pcb).toBe(I(0));
  });

  it('answers S(ABORT request) and drops the chain being received', () => {
    const card = poweredT1();
    expect(decode(card.t1Block(block(I(0, true), hex('80 EE 00 00 04 01 02')))).pcb).toBe(R(1));
    expect(decode(card.t1Block(block(S_ABORT))).pcb).toBe(0xe2);
    const r = decode(card.t1Block(block(I(1), hex('80 EE 00 00 01 AA'))));
    expect(Array.from(r.inf)).toEqual([0xaa, 0x90, 0x00]);
  });

  it('answers S(ABORT request) in the middle of its own chain and then takes a new command', () => {
    const card = poweredT1();
    const reader = new TestReader(card);
    const first = reader.send(I(0), hex('00 84 00 00 40'));
    expect(first.pcb).toBe(I(0, true));
    expect(decode(card.t1Block(block(S_ABORT))).pcb).toBe(0xe2);
    const next = decode(card.t1Block(block(I(1), hex('00 84 00 00 01'))));
    expect(next.pcb & 0x80).toBe(0);
    expect(next.inf.length).toBe(3);
  });

  it('rejects S(WTX request) and reserved S-blocks from the reader', () => {
    const card = poweredT1();
    expect(decode(card.t1Block(block(0xc3, [1]))).pcb).toBe(R(0, 2));
    expect(decode(card.t1Block(block(0xc5))).pcb).toBe(R(0, 2));
    expect(decode(card.t1Block(block(0xe1, [32]))).pcb).toBe(R(0, 2));
  });

  it('answers an R-block as the very first block with an R-block error', () => {
    const card = poweredT1();
    expect(decode(card.t1Block(block(R(0)))).pcb).toBe(R(0, 2));
  });

  it('echoes a 64 KiB extended APDU chained at IFSD 254', () => {
    const card = poweredT1();
    const reader = new TestReader(card, 'lrc', 254);
    expect(reader.send(S_IFS, [254]).pcb).toBe(0xe1);
    const n = 65535;
    const apdu = new Uint8Array(7 + n + 2);
    apdu.set([0x80, 0xee, 0x00, 0x00, 0x00, 0xff, 0xff]);
    for (let i = 0; i < n; i++) apdu[7 + i] = (i * 31) & 0xff;
    const answer = reader.transceive(apdu);
    expect(answer.length).toBe(n + 2);
    expect(answer.subarray(0, n)).toEqual(apdu.subarray(7, 7 + n));
    expect(Array.from(answer.subarray(n))).toEqual([0x90, 0x00]);
    expect(reader.maxCardInf).toBe(254);
  });

  it('answers 67 00 to a chain longer than the longest APDU', () => {
    const card = poweredT1();
    const reader = new TestReader(card, 'lrc', 254);
    const answer = reader.transceive(new Uint8Array(70_000).fill(0x80));
    expect(Array.from(answer)).toEqual([0x67, 0x00]);
  });

  it('speaks CRC when its ATR says so (TC3 bit 1)', () => {
    const card = poweredT1({ edc: 'crc' });
    expect(card.parameters.edc).toBe('crc');
    const reader = new TestReader(card, 'crc');
    expect(Array.from(reader.transceive(SELECT_HELLO))).toEqual([0x90, 0x00]);
    expect(Array.from(reader.transceive(hex('00 00 00 00')))).toEqual([...HELLO, 0x90, 0x00]);
    // An LRC frame to a CRC card is a frame of the wrong length or EDC: R-block with an error.
    expect(decode(card.t1Block(block(I(0), hex('00 84 00 00 01'), 'lrc')), 'crc').pcb & 0xec).toBe(0x80);
  });

  it('runs the PIN applet over T=1', () => {
    const card = pinCard({ pin: '4321' });
    card.activate('A');
    const reader = new TestReader(card);
    expect(Array.from(reader.transceive(hex('00 A4 04 00 06 D2 76 00 01 24 01')))).toEqual([0x90, 0x00]);
    expect(Array.from(reader.transceive(hex('00 20 00 80 04 31 32 33 34')))).toEqual([0x63, 0xc2]);
    expect(Array.from(reader.transceive(hex('00 20 00 80 04 34 33 32 31')))).toEqual([0x90, 0x00]);
  });

  it('activation resets N(S), N(R) and the IFSD', () => {
    const card = poweredT1();
    const reader = new TestReader(card);
    reader.send(S_IFS, [200]);
    reader.transceive(hex('00 84 00 00 01'));
    card.activate('A');
    expect(card.ifsd).toBe(32);
    expect(decode(card.t1Block(block(I(0), hex('00 84 00 00 01')))).pcb).toBe(I(0));
  });

  it('a T=0 card and an unpowered card do not answer T=1 blocks', () => {
    const t0 = helloWorldCardT0();
    t0.activate('A');
    expect(t0.t1Block(block(I(0), hex('00 84 00 00 01')))).toBeNull();
    expect(helloWorldCardT1().t1Block(block(I(0), hex('00 84 00 00 01')))).toBeNull();
  });
});
