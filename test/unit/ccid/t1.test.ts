/**
 * T1Protocol driven by a scripted card: each step is the block we must send and what the card (through the reader)
 * answers. Annex A frames are taken as data from ANSSI-FR/Open-ISO7816-Stack tests/reader_tests_apdu_t1.c; the CRC
 * trace is a real libccid + Gemalto reader + card exchange (OsEID doc/T1_CRC.txt).
 */
import { describe, expect, it } from 'vitest';
import { appendEdc } from '../../../src/ccid/edc.js';
import { DriverError, IFD } from '../../../src/ifd/errors.js';
import { T1_MAX_CARD_REQUESTS, T1Protocol, T1ReceiveError, type T1Link, type T1Params } from '../../../src/ccid/t1.js';

const h = (s: string): Uint8Array =>
  Uint8Array.from(
    s
      .trim()
      .split(/\s+/)
      .map((x) => parseInt(x, 16)),
  );
const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).toUpperCase().padStart(2, '0')).join(' ');
/** A block body with its LRC appended, as hex. */
const L = (body: string): string => hex(appendEdc(h(body), 'lrc'));

const timeout = (): T1ReceiveError => new T1ReceiveError('timeout', 'card mute: BWT exceeded');
const parity = (): T1ReceiveError => new T1ReceiveError('parity', 'reader reported a parity error');

interface Step {
  /** The block we must send, as hex. */
  out: string;
  /** The card's answer (hex), or what the link throws. */
  reply: string | Error;
  /** The WTX multiplier the exchange must be made with (default 1). */
  wtx?: number;
}

class ScriptedLink implements T1Link {
  readonly sent: string[] = [];
  readonly wtx: number[] = [];
  private at = 0;
  constructor(private readonly steps: Step[]) {}

  async exchange(block: Uint8Array, wtx: number): Promise<Uint8Array> {
    const step = this.steps[this.at++];
    this.sent.push(hex(block));
    this.wtx.push(wtx);
    if (step === undefined) throw new Error(`script ended, but the driver sent ${hex(block)}`);
    expect(hex(block), `block #${this.at}`).toBe(step.out);
    expect(wtx, `WTX of block #${this.at}`).toBe(step.wtx ?? 1);
    if (step.reply instanceof Error) throw step.reply;
    return h(step.reply);
  }

  /** Adds steps for a later call. */
  then(steps: Step[]): void {
    this.steps.push(...steps);
  }

  get finished(): boolean {
    return this.at === this.steps.length;
  }
}

function setup(steps: Step[], params: Partial<T1Params> = {}) {
  const link = new ScriptedLink(steps);
  const t1 = new T1Protocol(link, { ifsc: 32, ifsd: 254, edc: 'lrc', ...params });
  return { link, t1 };
}

// Annex A command APDUs (SELECT by AID with various cases).
const CASE3 = h('00 A4 04 00 0A 45 75 74 77 74 75 36 41 70 70');
const CASE2 = h('00 A4 04 00 05');
const CASE4 = h('00 A4 04 00 05 75 36 41 70 70 05');
const I0_CASE4 = '00 00 0B 00 A4 04 00 05 75 36 41 70 70 05 A9';
const I1_CASE4 = '00 40 0B 00 A4 04 00 05 75 36 41 70 70 05 E9';
const RESP_I0 = '00 00 07 75 74 77 74 75 90 00 E0';
const RESP_I0_BAD_EDC = '00 00 07 75 74 77 74 75 90 00 1F';
const RESPONSE = '75 74 77 74 75 90 00';

describe('T1Protocol: ISO 7816-3 Annex A.2 error-free exchanges', () => {
  it('case 3S: one I-block out, SW back; the next command uses N(S)=1', async () => {
    const { link, t1 } = setup([
      { out: '00 00 0F 00 A4 04 00 0A 45 75 74 77 74 75 36 41 70 70 E0', reply: '00 00 02 90 00 92' },
      { out: '00 40 0F 00 A4 04 00 0A 45 75 74 77 74 75 36 41 70 70 A0', reply: '00 40 02 90 00 D2' },
    ]);
    expect(hex(await t1.transceive(CASE3))).toBe('90 00');
    expect(hex(await t1.transceive(CASE3))).toBe('90 00');
    expect(link.finished).toBe(true);
    expect(t1.stats).toMatchObject({ exchanges: 2, retransmissions: 0, resynchs: 0 });
  });

  it('case 2S: data and SW come back in one I-block', async () => {
    const { link, t1 } = setup([{ out: '00 00 05 00 A4 04 00 05 A0', reply: RESP_I0 }]);
    expect(hex(await t1.transceive(CASE2))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it('case 2S answered with only a status word', async () => {
    const { t1 } = setup([{ out: '00 00 05 00 A4 04 00 05 A0', reply: '00 00 02 6A 82 EA' }]);
    expect(hex(await t1.transceive(CASE2))).toBe('6A 82');
  });

  it('case 4S: command data out, response data back', async () => {
    const { link, t1 } = setup([{ out: I0_CASE4, reply: RESP_I0 }]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it('A.2.2 WTX: echoes S(WTX request) and makes that exchange with the requested multiplier', async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: '00 C3 01 02 C0' },
      { out: '00 E3 01 02 E0', reply: RESP_I0, wtx: 2 },
      { out: I1_CASE4, reply: '00 40 02 90 00 D2', wtx: 1 },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(hex(await t1.transceive(CASE4))).toBe('90 00');
    expect(link.finished).toBe(true);
    expect(t1.stats.wtxRequests).toBe(1);
  });

  it("answers libccid's WTX pair 00 C3 01 09 CB with 00 E3 01 09 EB at multiplier 9, then goes back to 1", async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: '00 C3 01 09 CB' },
      { out: '00 E3 01 09 EB', reply: '00 C3 01 09 CB', wtx: 9 },
      { out: '00 E3 01 09 EB', reply: RESP_I0, wtx: 9 },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.wtx).toEqual([1, 9, 9]);
  });

  it('A.2.3 scenario 3: the card announces IFSC 16; the driver echoes it and adopts it', async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: '00 C1 01 10 D0' },
      { out: '00 E1 01 10 F0', reply: RESP_I0 },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(t1.ifsc).toBe(16);
    expect(t1.stats.ifsRequests).toBe(1);
    expect(link.finished).toBe(true);
  });

  it('A.2.3 scenario 4: S(IFS request, 10) from the driver accepted by the card between two commands', async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: RESP_I0 },
      { out: '00 C1 01 0A CA', reply: '00 E1 01 0A EA' },
      { out: I1_CASE4, reply: '00 40 07 75 74 77 74 75 90 00 A0' },
    ]);
    expect(t1.ifsd).toBe(32);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    await t1.sendIfsRequest(10);
    expect(t1.ifsd).toBe(10);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it('sendIfsRequest announces the IFSD given at construction by default', async () => {
    const { link, t1 } = setup([{ out: L('00 C1 01 FE'), reply: L('00 E1 01 FE') }]);
    await t1.sendIfsRequest();
    expect(t1.ifsd).toBe(254);
    expect(link.finished).toBe(true);
  });

  it('A.2.4 scenario 5: the driver chains a 27-byte command in IFSC=10 blocks, waiting for R(N(S)+1) each time', async () => {
    const apdu = h('00 A4 04 00 16 75 36 41 70 70 FF FF 00 00 00 00 00 FF FF 00 00 FF 00 FF 00 FF 00 05');
    const { link, t1 } = setup(
      [
        { out: '00 20 0A 00 A4 04 00 16 75 36 41 70 70 9E', reply: '00 90 00 90' },
        { out: '00 60 0A FF FF 00 00 00 00 00 FF FF 00 6A', reply: '00 80 00 80' },
        { out: '00 00 08 00 FF 00 FF 00 FF 00 05 F2', reply: RESP_I0 },
      ],
      { ifsc: 10 },
    );
    expect(hex(await t1.transceive(apdu))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it('A.2.4 scenario 6: the card chains its response; the driver acknowledges with R(N(R))', async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: '00 20 05 75 74 77 74 75 52' },
      { out: '00 90 00 90', reply: '00 40 02 90 00 D2' },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it('replays a real CRC session: IFSD 254, SELECT MF, a three-block response chain ending in an empty block', async () => {
    const { link, t1 } = setup(
      [
        { out: '00 C1 01 FE 54 4E', reply: '00 E1 01 FE 57 75' },
        {
          out: '00 00 05 00 A4 00 00 00 B8 DA',
          reply: '00 20 14 6F 17 81 02 7F FF 82 01 38 83 02 3F 00 86 03 11 3F FF 85 02 10 29',
        },
        { out: '00 90 00 20 6E', reply: '00 60 07 00 02 8A 01 AA 90 00 A6 33' },
        { out: '00 80 00 B5 FF', reply: '00 00 00 39 33' },
      ],
      { edc: 'crc', ifsc: 254 },
    );
    await t1.sendIfsRequest(254);
    expect(hex(await t1.transceive(h('00 A4 00 00 00')))).toBe(
      '6F 17 81 02 7F FF 82 01 38 83 02 3F 00 86 03 11 3F FF 85 02 00 02 8A 01 AA 90 00',
    );
    expect(link.finished).toBe(true);
  });

  it('cuts the rest of its chain with the new IFSC when the card changes it mid-chain', async () => {
    const apdu = Uint8Array.from({ length: 22 }, (_, i) => i);
    const { link, t1 } = setup(
      [
        { out: L('00 20 0A 00 01 02 03 04 05 06 07 08 09'), reply: L('00 C1 01 05') },
        { out: L('00 E1 01 05'), reply: L('00 90 00') },
        { out: L('00 60 05 0A 0B 0C 0D 0E'), reply: L('00 80 00') },
        { out: L('00 20 05 0F 10 11 12 13'), reply: L('00 90 00') },
        { out: L('00 40 02 14 15'), reply: L('00 00 02 90 00') },
      ],
      { ifsc: 10 },
    );
    expect(hex(await t1.transceive(apdu))).toBe('90 00');
    expect(t1.ifsc).toBe(5);
    expect(link.finished).toBe(true);
  });

  it('addresses blocks with the configured NAD and accepts replies with SAD and DAD swapped', async () => {
    const { link, t1 } = setup([{ out: L('12 00 02 00 B0'), reply: L('21 00 02 90 00') }], { nad: 0x12 });
    expect(hex(await t1.transceive(h('00 B0')))).toBe('90 00');
    expect(link.finished).toBe(true);
  });
});

describe('T1Protocol: ISO 7816-3 Annex A.3/A.4 error handling', () => {
  it('scenario 8: the card asks for the I-block again with R(0, EDC error); the driver repeats it', async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: '00 81 00 81' },
      { out: I0_CASE4, reply: RESP_I0 },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
    expect(t1.stats.retransmissions).toBe(1);
  });

  it("scenario 9: the card's I-block arrives with a bad LRC; the driver sends R(0, EDC error)", async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: RESP_I0_BAD_EDC },
      { out: '00 81 00 81', reply: RESP_I0 },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it('scenario 9: BWT runs out; the driver sends R(0, other error)', async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: timeout() },
      { out: '00 82 00 82', reply: RESP_I0 },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it('a parity error reported by the reader is answered with R(0, EDC/parity error)', async () => {
    const { t1 } = setup([
      { out: I0_CASE4, reply: parity() },
      { out: '00 81 00 81', reply: RESP_I0 },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
  });

  it('scenario 10: an R-block with a bad EDC is answered with R(0, EDC error); the card then asks for the I-block', async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: '00 81 00 7E' },
      { out: '00 81 00 81', reply: '00 81 00 81' },
      { out: I0_CASE4, reply: RESP_I0 },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
    expect(t1.stats.retransmissions).toBe(2);
  });

  it('scenario 11: after R(0) the card answers R(1); the driver repeats its R-block (rule 7.2)', async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: RESP_I0_BAD_EDC },
      { out: '00 81 00 81', reply: '00 91 00 91' },
      { out: '00 81 00 81', reply: RESP_I0 },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it('scenario 11 with a time-out: the repeated R-block keeps its "other error" coding', async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: timeout() },
      { out: '00 82 00 82', reply: '00 91 00 91' },
      { out: '00 82 00 82', reply: RESP_I0 },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it('scenario 12: the R-block answering our R-block is itself damaged; the driver repeats R(0)', async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: RESP_I0_BAD_EDC },
      { out: '00 81 00 81', reply: '00 91 00 6E' },
      { out: '00 81 00 81', reply: RESP_I0 },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it('scenario 13: three retransmissions of R(0) before the card gets it right, without resynchronising', async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: RESP_I0_BAD_EDC },
      { out: '00 81 00 81', reply: '00 91 00 6E' },
      { out: '00 81 00 81', reply: '00 91 00 91' },
      { out: '00 81 00 81', reply: RESP_I0 },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
    expect(t1.stats).toMatchObject({ retransmissions: 3, resynchs: 0 });
  });

  it('an S(WTX request) with a bad EDC is answered with R(0, EDC error); the repeated request is then granted', async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: '00 C3 01 02 00' },
      { out: '00 81 00 81', reply: '00 C3 01 02 C0' },
      { out: '00 E3 01 02 E0', reply: RESP_I0, wtx: 2 },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it('repeats its S(IFS request) when the answer is damaged (rule 7.3)', async () => {
    const { link, t1 } = setup([
      { out: '00 C1 01 0A CA', reply: '00 E1 01 0A 00' },
      { out: '00 C1 01 0A CA', reply: timeout() },
      { out: '00 C1 01 0A CA', reply: '00 E1 01 0B EB' },
      { out: '00 C1 01 0A CA', reply: '00 E1 01 0A EA' },
    ]);
    await t1.sendIfsRequest(10);
    expect(t1.ifsd).toBe(10);
    expect(link.finished).toBe(true);
  });

  it('a lost acknowledgement during our chain: the driver asks with R(N(R)) and the card repeats its R-block', async () => {
    const apdu = Uint8Array.from({ length: 12 }, (_, i) => i);
    const { link, t1 } = setup(
      [
        { out: L('00 20 0A 00 01 02 03 04 05 06 07 08 09'), reply: timeout() },
        { out: L('00 82 00'), reply: L('00 90 00') },
        { out: L('00 40 02 0A 0B'), reply: L('00 00 02 90 00') },
      ],
      { ifsc: 10 },
    );
    expect(hex(await t1.transceive(apdu))).toBe('90 00');
    expect(link.finished).toBe(true);
  });

  it("a damaged block in the card's chain: the driver repeats its acknowledgement R(1)", async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: '00 20 05 75 74 77 74 75 52' },
      { out: '00 90 00 90', reply: '00 40 02 90 00 00' },
      { out: '00 90 00 90', reply: '00 40 02 90 00 D2' },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it('a repeated chained I-block from the card (our acknowledgement was lost) is not appended twice', async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: '00 20 05 75 74 77 74 75 52' },
      { out: '00 90 00 90', reply: '00 20 05 75 74 77 74 75 52' },
      { out: '00 90 00 90', reply: '00 40 02 90 00 D2' },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it.each([
    ['a reply NAD that is not ours swapped', L('01 00 02 90 00')],
    ['an S(RESYNCH request), which only the interface device may send', L('00 C0 00')],
    ['an S response nobody asked for', L('00 E3 01 01')],
    ['an I-block with the wrong N(S)', L('00 40 02 90 00')],
    ['an R-block acknowledging an unchained block', L('00 91 00')],
    ['a block with a reserved PCB', L('00 05 00')],
  ])('treats %s as an invalid block: R(0, other error)', async (_name, reply) => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply },
      { out: '00 82 00 82', reply: RESP_I0 },
    ]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it('an I-block from the card in the middle of our chain is an error, answered with R(0, other error)', async () => {
    const apdu = Uint8Array.from({ length: 12 }, (_, i) => i);
    const { link, t1 } = setup(
      [
        { out: L('00 20 0A 00 01 02 03 04 05 06 07 08 09'), reply: L('00 00 02 90 00') },
        { out: L('00 82 00'), reply: L('00 90 00') },
        { out: L('00 40 02 0A 0B'), reply: L('00 00 02 90 00') },
      ],
      { ifsc: 10 },
    );
    expect(hex(await t1.transceive(apdu))).toBe('90 00');
    expect(link.finished).toBe(true);
  });
});

describe('T1Protocol: resynchronisation and giving up', () => {
  it('after 3 fruitless retransmissions sends S(RESYNCH request), then restarts the command with N(S)=0', async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: RESP_I0 },
      // Second command: N(S)=1, nothing useful comes back.
      { out: I1_CASE4, reply: timeout() },
      // R(1): the card's next I-block should carry N(S)=1.
      { out: '00 92 00 92', reply: timeout() },
      { out: '00 92 00 92', reply: timeout() },
      { out: '00 92 00 92', reply: timeout() },
      { out: '00 C0 00 C0', reply: '00 E0 00 E0' },
      { out: I0_CASE4, reply: RESP_I0 },
    ]);
    await t1.transceive(CASE4);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
    expect(t1.stats).toMatchObject({ retransmissions: 3, resynchs: 1 });
    expect(t1.state).toBe('ready');
  });

  it('a resynchronisation restores the ATR IFSC the card had changed', async () => {
    const apdu = Uint8Array.from({ length: 12 }, (_, i) => i);
    const { link, t1 } = setup(
      [
        { out: L('00 20 0A 00 01 02 03 04 05 06 07 08 09'), reply: L('00 C1 01 14') },
        { out: L('00 E1 01 14'), reply: timeout() },
        { out: L('00 82 00'), reply: timeout() },
        { out: L('00 82 00'), reply: timeout() },
        { out: L('00 82 00'), reply: timeout() },
        { out: L('00 C0 00'), reply: L('00 E0 00') },
        { out: L('00 20 0A 00 01 02 03 04 05 06 07 08 09'), reply: L('00 90 00') },
        { out: L('00 40 02 0A 0B'), reply: L('00 00 02 90 00') },
      ],
      { ifsc: 10 },
    );
    expect(hex(await t1.transceive(apdu))).toBe('90 00');
    expect(t1.ifsc).toBe(10);
    expect(link.finished).toBe(true);
  });

  it('gives up after 3 failed resynchronisations with IFD_COMMUNICATION_ERROR and refuses work until reset()', async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: timeout() },
      { out: '00 82 00 82', reply: timeout() },
      { out: '00 82 00 82', reply: parity() },
      { out: '00 82 00 82', reply: timeout() },
      { out: '00 C0 00 C0', reply: timeout() },
      { out: '00 C0 00 C0', reply: '00 E0 00 00' },
      { out: '00 C0 00 C0', reply: timeout() },
    ]);
    const error = await t1.transceive(CASE4).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverError);
    expect((error as DriverError).code).toBe(IFD.COMMUNICATION_ERROR);
    expect((error as DriverError).message).toMatch(/3 resynchronisations.*card needs a reset/);
    expect(link.finished).toBe(true);
    expect(t1.state).toBe('dead');

    const refused = await t1.transceive(CASE4).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DriverError);
    expect((refused as DriverError).message).toMatch(/reset\(\)/);
    expect(link.sent).toHaveLength(7);

    t1.reset();
    expect(t1.state).toBe('ready');
    link.then([{ out: I0_CASE4, reply: RESP_I0 }]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it('does not loop forever when every resynchronisation succeeds but the command never does', async () => {
    const fails: Step[] = [
      { out: I0_CASE4, reply: timeout() },
      { out: '00 82 00 82', reply: timeout() },
      { out: '00 82 00 82', reply: timeout() },
      { out: '00 82 00 82', reply: timeout() },
    ];
    const resynch: Step = { out: '00 C0 00 C0', reply: '00 E0 00 E0' };
    const { link, t1 } = setup([...fails, resynch, ...fails, resynch, ...fails, resynch, ...fails]);
    await expect(t1.transceive(CASE4)).rejects.toMatchObject({ code: IFD.COMMUNICATION_ERROR });
    expect(link.finished).toBe(true);
    expect(t1.stats.resynchs).toBe(3);
    expect(t1.state).toBe('dead');
  });

  it('reset() puts N(S), N(R) and IFSC back to their values after the ATR', async () => {
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: '00 C1 01 10 D0' },
      { out: '00 E1 01 10 F0', reply: RESP_I0 },
    ]);
    await t1.transceive(CASE4);
    expect(t1.ifsc).toBe(16);
    t1.reset();
    expect(t1.ifsc).toBe(32);
    expect(t1.ifsd).toBe(32);
    link.then([{ out: I0_CASE4, reply: RESP_I0 }]);
    expect(hex(await t1.transceive(CASE4))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it('fails S(IFS request) after 3 retransmissions, resynchronises and keeps IFSD 32', async () => {
    const { link, t1 } = setup([
      { out: '00 C1 01 0A CA', reply: '00 82 00 82' },
      { out: '00 C1 01 0A CA', reply: '00 82 00 82' },
      { out: '00 C1 01 0A CA', reply: timeout() },
      { out: '00 C1 01 0A CA', reply: '00 82 00 82' },
      { out: '00 C0 00 C0', reply: '00 E0 00 E0' },
    ]);
    await expect(t1.sendIfsRequest(10)).rejects.toMatchObject({
      code: IFD.COMMUNICATION_ERROR,
      message: expect.stringMatching(/did not accept S\(IFS request, 10\)/) as unknown,
    });
    expect(t1.ifsd).toBe(32);
    expect(t1.state).toBe('ready');
    expect(link.finished).toBe(true);
  });
});

describe('T1Protocol: aborts, link failures and bad input', () => {
  it('S(ABORT request) from the card is answered, the call fails, and the next call resynchronises first', async () => {
    const apdu = Uint8Array.from({ length: 12 }, (_, i) => i);
    const { link, t1 } = setup(
      [
        { out: L('00 20 0A 00 01 02 03 04 05 06 07 08 09'), reply: L('00 C2 00') },
        { out: L('00 E2 00'), reply: L('00 80 00') },
      ],
      { ifsc: 10 },
    );
    const error = await t1.transceive(apdu).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverError);
    expect((error as DriverError).code).toBe(IFD.COMMUNICATION_ERROR);
    expect((error as DriverError).message).toMatch(/aborted/);
    expect(t1.state).toBe('needs-resynch');
    expect(t1.stats.aborts).toBe(1);

    link.then([
      { out: L('00 C0 00'), reply: L('00 E0 00') },
      { out: '00 00 05 00 A4 04 00 05 A0', reply: RESP_I0 },
    ]);
    expect(hex(await t1.transceive(CASE2))).toBe(RESPONSE);
    expect(link.finished).toBe(true);
  });

  it.each([
    ['the reader was removed', new DriverError(IFD.NO_SUCH_DEVICE, 'the reader was removed')],
    ['the card was removed', new DriverError(IFD.ICC_NOT_PRESENT, 'no card in the reader')],
    ['an unexpected failure', new TypeError('boom')],
  ])('propagates a link error (%s) unchanged and at once', async (_name, thrown) => {
    const { link, t1 } = setup([{ out: I0_CASE4, reply: thrown }]);
    await expect(t1.transceive(CASE4)).rejects.toBe(thrown);
    expect(link.sent).toHaveLength(1);
    expect(t1.state).toBe('needs-resynch');
  });

  it('propagates a link error during resynchronisation unchanged', async () => {
    const gone = new DriverError(IFD.NO_SUCH_DEVICE, 'the reader was removed');
    const { link, t1 } = setup([
      { out: I0_CASE4, reply: timeout() },
      { out: '00 82 00 82', reply: timeout() },
      { out: '00 82 00 82', reply: timeout() },
      { out: '00 82 00 82', reply: timeout() },
      { out: '00 C0 00 C0', reply: gone },
    ]);
    await expect(t1.transceive(CASE4)).rejects.toBe(gone);
    expect(link.finished).toBe(true);
  });

  it('refuses an empty APDU without touching the link', async () => {
    const { link, t1 } = setup([]);
    await expect(t1.transceive(new Uint8Array(0))).rejects.toMatchObject({ code: IFD.COMMUNICATION_ERROR });
    expect(link.sent).toHaveLength(0);
  });

  it('refuses a second call while one is in progress', async () => {
    let release: (v: Uint8Array) => void = () => undefined;
    const link: T1Link = {
      exchange: () =>
        new Promise<Uint8Array>((resolve) => {
          release = resolve;
        }),
    };
    const t1 = new T1Protocol(link, { ifsc: 32, ifsd: 32, edc: 'lrc' });
    const first = t1.transceive(CASE4);
    await expect(t1.transceive(CASE4)).rejects.toMatchObject({
      message: expect.stringMatching(/in progress/) as unknown,
    });
    release(h(RESP_I0));
    expect(hex(await first)).toBe(RESPONSE);
  });

  it.each([
    ['IFSC 0', { ifsc: 0 }],
    ['IFSC 255', { ifsc: 255 }],
    ['IFSD 0', { ifsd: 0 }],
    ['a fractional IFSC', { ifsc: 1.5 }],
    ['NAD with b8 set', { nad: 0x80 }],
    ['an unknown EDC', { edc: 'md5' as 'lrc' }],
  ])('refuses to be built with %s', (_name, bad) => {
    expect(() => new T1Protocol(new ScriptedLink([]), { ifsc: 32, ifsd: 32, edc: 'lrc', ...bad })).toThrow(DriverError);
  });

  it('refuses an S(IFS request) value outside 1..254', async () => {
    const { t1 } = setup([]);
    await expect(t1.sendIfsRequest(255)).rejects.toBeInstanceOf(DriverError);
  });

  it('gives up on a card that asks for more time forever', async () => {
    let calls = 0;
    const link: T1Link = {
      exchange: async () => {
        calls++;
        return h('00 C3 01 01 C3');
      },
    };
    const t1 = new T1Protocol(link, { ifsc: 32, ifsd: 32, edc: 'lrc' });
    await expect(t1.transceive(CASE4)).rejects.toMatchObject({
      code: IFD.COMMUNICATION_ERROR,
      message: expect.stringMatching(/S requests in a row/) as unknown,
    });
    expect(calls).toBe(T1_MAX_CARD_REQUESTS + 1);
  });

  it('refuses a response chain longer than an extended APDU response', async () => {
    let ns = 0;
    const link: T1Link = {
      exchange: async () => {
        const block = appendEdc(Uint8Array.of(0, 0x20 | (ns << 6), 254, ...new Uint8Array(254)), 'lrc');
        ns ^= 1;
        return block;
      },
    };
    const t1 = new T1Protocol(link, { ifsc: 32, ifsd: 254, edc: 'lrc' });
    await expect(t1.transceive(CASE4)).rejects.toMatchObject({ code: IFD.ERROR_INSUFFICIENT_BUFFER });
    expect(t1.state).toBe('needs-resynch');
  });
});

describe('T1Protocol: a link with headroom (the CCID link frames each block in place)', () => {
  /** Expects `room` zero bytes before every block, and forwards the block itself to a scripted link. */
  class RoomyLink implements T1Link {
    readonly inner: ScriptedLink;
    constructor(
      readonly headroom: number,
      steps: Step[],
    ) {
      this.inner = new ScriptedLink(steps);
    }
    exchange(message: Uint8Array, wtx: number): Promise<Uint8Array> {
      expect(Array.from(message.subarray(0, this.headroom))).toEqual(new Array(this.headroom).fill(0));
      return this.inner.exchange(message.subarray(this.headroom), wtx);
    }
  }

  it('sends the same blocks after the headroom, chained and with CRC too', async () => {
    const apdu = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
    for (const edc of ['lrc', 'crc'] as const) {
      // The card acknowledges a chained block with R(N(S)+1) and answers the last one with I(0) carrying 90 00.
      const answer = (block: Uint8Array): Uint8Array =>
        appendEdc(block[1]! & 0x20 ? h(`00 ${block[1]! & 0x40 ? '80' : '90'} 00`) : h('00 00 02 90 00'), edc);
      // What a link without headroom is sent, then the same exchange scripted for a link with 10 bytes of room.
      const recorded: Step[] = [];
      const plain: T1Link = {
        exchange: async (block) => {
          recorded.push({ out: hex(block), reply: hex(answer(block)) });
          return answer(block);
        },
      };
      expect(hex(await new T1Protocol(plain, { ifsc: 254, ifsd: 254, edc }).transceive(apdu))).toBe('90 00');
      expect(recorded.length).toBe(2); // 254 bytes, then 46
      const roomy = new RoomyLink(10, recorded);
      expect(hex(await new T1Protocol(roomy, { ifsc: 254, ifsd: 254, edc }).transceive(apdu))).toBe('90 00');
      expect(roomy.inner.finished).toBe(true);
    }
  });

  it('refuses a headroom that is not 0..64 bytes', () => {
    for (const headroom of [-1, 1.5, 65]) {
      const link: T1Link = { headroom, exchange: async () => h('00') };
      expect(() => new T1Protocol(link, { ifsc: 32, ifsd: 32, edc: 'lrc' })).toThrow(DriverError);
    }
  });
});
