import { describe, expect, it } from 'vitest';
import { dualProtocolCard, helloWorldCardT0, helloWorldCardT1 } from '../../../../src/sim/card/profiles.js';
import type { SimulatedCard } from '../../../../src/sim/card/card.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.split(' ').map((b) => parseInt(b, 16)));
const bytes = (u: Uint8Array): number[] => Array.from(u);
const HELLO = Array.from(new TextEncoder().encode('Hello world!'));
const AID = hex('A0 00 00 00 62 03 01 0C 06 01');

function poweredT0(options: Parameters<typeof helloWorldCardT0>[0] = {}): SimulatedCard {
  const card = helloWorldCardT0(options);
  expect(card.activate('A')).not.toBeNull();
  expect(card.protocol).toBe(0);
  return card;
}

describe('T=0 card side (ISO 7816-3 §10, §12.2)', () => {
  it('case 1: a header with P3 = 00 whose command has no data is answered by SW1 SW2', () => {
    const card = poweredT0();
    expect(bytes(card.t0Transmit(hex('00 A4 00 0C 00')))).toEqual([0x90, 0x00]); // SELECT MF, no data
  });

  it('case 3: the card asks for the data with INS, then answers SW1 SW2', () => {
    const card = poweredT0();
    expect(bytes(card.t0Transmit(hex('00 A4 04 00 0A')))).toEqual([0xa4]);
    expect(bytes(card.t0Transmit(AID))).toEqual([0x90, 0x00]);
  });

  it('case 1 hello-world: 00 00 00 00 00 answers 61 0C and GET RESPONSE serves the text', () => {
    const card = poweredT0();
    card.t0Transmit(hex('00 A4 04 00 0A'));
    card.t0Transmit(AID);
    expect(bytes(card.t0Transmit(hex('00 00 00 00 00')))).toEqual([0x61, 0x0c]);
    expect(bytes(card.t0Transmit(hex('00 C0 00 00 0C')))).toEqual([0xc0, ...HELLO, 0x90, 0x00]);
  });

  it('case 2: P3 = Le gets INS, Le data bytes and SW1 SW2; P3 = 00 means 256', () => {
    const card = poweredT0();
    const r = card.t0Transmit(hex('00 84 00 00 08'));
    expect(r.length).toBe(1 + 8 + 2);
    expect(r[0]).toBe(0x84);
    expect(bytes(r.subarray(9))).toEqual([0x90, 0x00]);
    const r256 = card.t0Transmit(hex('00 84 00 00 00'));
    expect(r256.length).toBe(1 + 256 + 2);
  });

  it('case 2 with a wrong Le answers 6C La; the repeated command with P3 = La gets the data', () => {
    const card = poweredT0();
    card.t0Transmit(hex('00 A4 04 00 0A'));
    card.t0Transmit(AID);
    expect(bytes(card.t0Transmit(hex('00 00 00 00 05')))).toEqual([0x6c, 0x0c]);
    expect(bytes(card.t0Transmit(hex('00 00 00 00 20')))).toEqual([0x6c, 0x0c]);
    expect(bytes(card.t0Transmit(hex('00 00 00 00 0C')))).toEqual([0x00, ...HELLO, 0x90, 0x00]);
  });

  it('case 4: the TPDU carries no Le; the card answers 61 xx and serves GET RESPONSE', () => {
    const card = poweredT0();
    expect(bytes(card.t0Transmit(hex('80 EE 00 00 03')))).toEqual([0xee]);
    expect(bytes(card.t0Transmit(hex('01 02 03')))).toEqual([0x61, 0x03]);
    expect(bytes(card.t0Transmit(hex('00 C0 00 00 03')))).toEqual([0xc0, 1, 2, 3, 0x90, 0x00]);
  });

  it('GET RESPONSE is also served in class 80 (the class of ECHO), but not in another class', () => {
    const card = poweredT0();
    card.t0Transmit(hex('80 EE 00 00 03'));
    expect(bytes(card.t0Transmit(hex('01 02 03')))).toEqual([0x61, 0x03]);
    expect(bytes(card.t0Transmit(hex('80 C0 00 00 03')))).toEqual([0xc0, 1, 2, 3, 0x90, 0x00]);
    card.t0Transmit(hex('80 EE 00 00 03'));
    card.t0Transmit(hex('01 02 03'));
    expect(bytes(card.t0Transmit(hex('90 C0 00 00 03')))).not.toEqual([0xc0, 1, 2, 3, 0x90, 0x00]);
  });

  it('GET RESPONSE with a too large Le answers 6C La; a smaller Le gets part then 61 for the rest', () => {
    const card = poweredT0();
    card.t0Transmit(hex('80 EE 00 00 04'));
    card.t0Transmit(hex('01 02 03 04'));
    expect(bytes(card.t0Transmit(hex('00 C0 00 00 10')))).toEqual([0x6c, 0x04]);
    expect(bytes(card.t0Transmit(hex('00 C0 00 00 01')))).toEqual([0xc0, 1, 0x61, 0x03]);
    expect(bytes(card.t0Transmit(hex('00 C0 00 00 03')))).toEqual([0xc0, 2, 3, 4, 0x90, 0x00]);
    expect(bytes(card.t0Transmit(hex('00 C0 00 00 01')))).toEqual([0x69, 0x85]); // nothing left
  });

  it('a new command drops the response waiting for GET RESPONSE', () => {
    const card = poweredT0();
    card.t0Transmit(hex('80 EE 00 00 01'));
    card.t0Transmit(hex('AA'));
    card.t0Transmit(hex('00 A4 00 0C 00'));
    expect(bytes(card.t0Transmit(hex('00 C0 00 00 01')))).toEqual([0x69, 0x85]);
  });

  it("'complement' mode asks for one byte at a time with INS ^ FF, and sends data the same way", () => {
    const card = poweredT0({ t0DataProcedure: 'complement' });
    expect(bytes(card.t0Transmit(hex('80 EE 00 00 03')))).toEqual([0x11]);
    expect(bytes(card.t0Transmit(hex('01')))).toEqual([0x11]);
    expect(bytes(card.t0Transmit(hex('02')))).toEqual([0x11]);
    expect(bytes(card.t0Transmit(hex('03')))).toEqual([0x61, 0x03]);
    expect(bytes(card.t0Transmit(hex('00 C0 00 00 03')))).toEqual([0x3f, 1, 0x3f, 2, 0x3f, 3, 0x90, 0x00]);
  });

  it("'mixed' mode asks for the first byte with INS ^ FF and the rest with INS", () => {
    const card = poweredT0({ t0DataProcedure: 'mixed' });
    expect(bytes(card.t0Transmit(hex('80 EE 00 00 03')))).toEqual([0x11]);
    expect(bytes(card.t0Transmit(hex('01')))).toEqual([0xee]);
    expect(bytes(card.t0Transmit(hex('02 03')))).toEqual([0x61, 0x03]);
    expect(bytes(card.t0Transmit(hex('00 C0 00 00 03')))).toEqual([0x3f, 1, 0xc0, 2, 3, 0x90, 0x00]);
  });

  it('in INS mode, data arriving in pieces gets no answer until the last piece', () => {
    const card = poweredT0();
    card.t0Transmit(hex('80 EE 00 00 03'));
    expect(bytes(card.t0Transmit(hex('01')))).toEqual([]);
    expect(bytes(card.t0Transmit(hex('02 03')))).toEqual([0x61, 0x03]);
  });

  it('sends the configured NULL procedure bytes before every answer', () => {
    const card = poweredT0({ faults: { t0NullBytes: 2 } });
    expect(bytes(card.t0Transmit(hex('80 EE 00 00 01')))).toEqual([0x60, 0x60, 0xee]);
    expect(bytes(card.t0Transmit(hex('AA')))).toEqual([0x60, 0x60, 0x61, 0x01]);
    expect(bytes(card.t0Transmit(hex('00 C0 00 00 01')))).toEqual([0x60, 0x60, 0xc0, 0xaa, 0x90, 0x00]);
    card.faults.t0NullBytes = 0;
    expect(bytes(card.t0Transmit(hex('00 A4 00 0C 00')))).toEqual([0x90, 0x00]);
  });

  it('answers SW at once to an unknown instruction, even one announcing data', () => {
    const card = poweredT0();
    expect(bytes(card.t0Transmit(hex('00 D6 00 00 05')))).toEqual([0x6d, 0x00]);
    expect(bytes(card.t0Transmit(hex('00 B0 00 00 10')))).toEqual([0x6d, 0x00]);
  });

  it('INS 6x and 9x are invalid (6D 00); CLA FF is invalid (6E 00)', () => {
    const card = poweredT0();
    expect(bytes(card.t0Transmit(hex('00 60 00 00 00')))).toEqual([0x6d, 0x00]);
    expect(bytes(card.t0Transmit(hex('00 9F 00 00 01')))).toEqual([0x6d, 0x00]);
    expect(bytes(card.t0Transmit(hex('FF A4 00 00 00')))).toEqual([0x6e, 0x00]);
  });

  it('stays silent to a header that is not 5 bytes, and to more data than asked, then takes a new header', () => {
    const card = poweredT0();
    expect(bytes(card.t0Transmit(hex('00 A4 04 00')))).toEqual([]);
    expect(bytes(card.t0Transmit(hex('00 A4 04 00 0A 00')))).toEqual([]);
    card.t0Transmit(hex('80 EE 00 00 02'));
    expect(bytes(card.t0Transmit(hex('01 02 03')))).toEqual([]);
    expect(bytes(card.t0Transmit(hex('00 A4 00 0C 00')))).toEqual([0x90, 0x00]);
  });

  it('VERIFY over T=0 reports tries with 63 Cx', () => {
    const card = poweredT0();
    card.t0Transmit(hex('00 A4 04 00 06'));
    expect(bytes(card.t0Transmit(hex('D2 76 00 01 24 01')))).toEqual([0x90, 0x00]);
    expect(bytes(card.t0Transmit(hex('00 20 00 80 00')))).toEqual([0x63, 0xc3]);
    card.t0Transmit(hex('00 20 00 80 04'));
    expect(bytes(card.t0Transmit(hex('31 32 33 35')))).toEqual([0x63, 0xc2]);
    card.t0Transmit(hex('00 20 00 80 04'));
    expect(bytes(card.t0Transmit(hex('31 32 33 34')))).toEqual([0x90, 0x00]);
  });

  it('a card speaking T=1 sends nothing to T=0 characters, and an unpowered card neither', () => {
    const t1 = helloWorldCardT1();
    t1.activate('A');
    expect(t1.t0Transmit(hex('00 84 00 00 08')).length).toBe(0);
    const off = helloWorldCardT0();
    expect(off.t0Transmit(hex('00 84 00 00 08')).length).toBe(0);
  });

  it('a dual-protocol card speaks T=0 by default', () => {
    const card = dualProtocolCard();
    card.activate('A');
    expect(card.t0Transmit(hex('00 84 00 00 04')).length).toBe(7);
  });
});
