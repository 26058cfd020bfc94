/**
 * The vpcd reader (src/host/readers/vpcd.ts) against a fake vicc: a TCP client in the test that plays the card side of
 * vsmartcard's protocol. Framing, control codes, presence and card events, protocol acceptance from the ATR, one frame
 * per write, a second card turned away, a silent card, close.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DriverError, IFD } from '../../../src/ifd/errors.js';
import { encodeVpcdFrame, VpcdFrameDecoder, VpcdReader, VPCD_CTRL } from '../../../src/host/readers/vpcd.js';

const ATR = Uint8Array.of(0x3b, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xff, 0x01, 0x00, 0x0b); // vicc iso7816: T=1
const ATR_T0 = Uint8Array.of(0x3b, 0x02, 0x14, 0x50);

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The card side: records every message and every raw chunk, answers get-ATR and APDUs. */
class FakeVicc {
  readonly socket: net.Socket;
  readonly messages: number[][] = [];
  readonly chunks: number[] = [];
  readonly #decoder = new VpcdFrameDecoder();
  atr = ATR;
  silent = false;
  answer: (apdu: Uint8Array) => Uint8Array = () => Uint8Array.of(0x90, 0x00);

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk.length);
      for (const m of this.#decoder.push(chunk)) {
        this.messages.push([...m]);
        if (this.silent) continue;
        if (m.length === 1 && m[0] === VPCD_CTRL.ATR) socket.write(encodeVpcdFrame(this.atr));
        else if (m.length > 1) socket.write(encodeVpcdFrame(this.answer(m)));
      }
    });
  }

  static connect(port: number): Promise<FakeVicc> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new FakeVicc(s)));
      s.once('error', reject);
    });
  }
}

const readers: VpcdReader[] = [];
const cards: FakeVicc[] = [];
afterEach(async () => {
  for (const c of cards.splice(0)) c.socket.destroy();
  await Promise.all(readers.splice(0).map((r) => r.close()));
});

async function setup(options: Partial<Parameters<typeof VpcdReader.listen>[0]> = {}) {
  const reader = await VpcdReader.listen({ port: 0, ...(options as object) });
  readers.push(reader);
  const events: boolean[] = [];
  reader.slots[0]!.onCardEvent((p) => events.push(p));
  return { reader, slot: reader.slots[0]!, events };
}

async function insert(reader: VpcdReader): Promise<FakeVicc> {
  const card = await FakeVicc.connect(reader.port);
  cards.push(card);
  await until(() => reader.connected, 'the card to connect');
  return card;
}

describe('vpcd framing', () => {
  it('encodes a 2-byte big-endian length and the payload in one buffer', () => {
    expect([...encodeVpcdFrame(Uint8Array.of(1, 2, 3))]).toEqual([0, 3, 1, 2, 3]);
    const big = new Uint8Array(0x1234);
    expect([...encodeVpcdFrame(big).subarray(0, 2)]).toEqual([0x12, 0x34]);
    expect(() => encodeVpcdFrame(new Uint8Array(0x10000))).toThrow(RangeError);
  });

  it('decodes frames split across chunks and several frames in one chunk', () => {
    const d = new VpcdFrameDecoder();
    expect(d.push(Uint8Array.of(0))).toEqual([]);
    expect(d.push(Uint8Array.of(2, 0x90))).toEqual([]);
    expect(d.push(Uint8Array.of(0x00, 0, 1, 4, 0, 0))).toEqual([
      Uint8Array.of(0x90, 0),
      Uint8Array.of(4),
      new Uint8Array(0),
    ]);
  });
});

describe('VpcdReader', () => {
  it('listens on loopback only, on the port asked for', async () => {
    const { reader } = await setup();
    expect(reader.port).toBeGreaterThan(0);
    expect(reader.friendlyName).toBe('Virtual PCD');
    await expect(VpcdReader.listen({ port: reader.port })).rejects.toThrow(
      /port \d+ on 127\.0\.0\.1 is already in use/,
    );
    await expect(VpcdReader.listen({ port: 70000 })).rejects.toThrow(RangeError);
  });

  it('has a card exactly while the emulator is connected, with an event each way', async () => {
    const { reader, slot, events } = await setup();
    expect(await slot.iccPresence()).toBe(false);
    const card = await insert(reader);
    expect(await slot.iccPresence()).toBe(true);
    card.socket.destroy();
    await until(() => !reader.connected, 'the card to go');
    expect(await slot.iccPresence()).toBe(false);
    expect(events).toEqual([true, false]);
  });

  it('powers up with 01 then 04 (get ATR), resets with 02 then 04, powers down with 00', async () => {
    const { reader, slot } = await setup();
    const card = await insert(reader);
    expect(await slot.power('up')).toEqual(ATR);
    expect(await slot.power('reset')).toEqual(ATR);
    expect(await slot.power('down')).toEqual(new Uint8Array(0));
    await until(() => card.messages.length === 5, 'the power-down message');
    expect(card.messages).toEqual([
      [VPCD_CTRL.ON],
      [VPCD_CTRL.ATR],
      [VPCD_CTRL.RESET],
      [VPCD_CTRL.ATR],
      [VPCD_CTRL.OFF],
    ]);
  });

  it('transmits APDUs in one write each and returns the response', async () => {
    const { reader, slot } = await setup();
    const card = await insert(reader);
    card.answer = (apdu) => Uint8Array.of(apdu[1]!, 0x90, 0x00);
    await slot.power('up');
    const before = card.chunks.length;
    expect(await slot.transmit(Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x08))).toEqual(Uint8Array.of(0x84, 0x90, 0x00));
    expect(card.chunks.slice(before)).toEqual([7]);
    expect(card.messages.at(-1)).toEqual([0x00, 0x84, 0x00, 0x00, 0x08]);
  });

  it('pairs answers with requests in order when calls overlap', async () => {
    const { reader, slot } = await setup();
    const card = await insert(reader);
    card.answer = (apdu) => Uint8Array.of(apdu[4]!, 0x90, 0x00);
    await slot.power('up');
    const results = await Promise.all([1, 2, 3, 4].map((n) => slot.transmit(Uint8Array.of(0, 0xb0, 0, 0, n))));
    expect(results.map((r) => r[0])).toEqual([1, 2, 3, 4]);
  });

  it('accepts the protocols the ATR offers and refuses the others', async () => {
    const { reader, slot } = await setup();
    const card = await insert(reader);
    await slot.power('up');
    await expect(slot.setProtocol(2)).resolves.toBeUndefined();
    await expect(slot.setProtocol(1)).rejects.toMatchObject({ code: IFD.PROTOCOL_NOT_SUPPORTED });
    card.atr = ATR_T0;
    await slot.power('reset');
    await expect(slot.setProtocol(1)).resolves.toBeUndefined();
    await expect(slot.setProtocol(2)).rejects.toMatchObject({ code: IFD.PROTOCOL_NOT_SUPPORTED });
  });

  it('answers without a card with IFD_ICC_NOT_PRESENT, and a call pending when the card goes too', async () => {
    const { reader, slot } = await setup();
    await expect(slot.power('up')).rejects.toMatchObject({ code: IFD.ICC_NOT_PRESENT });
    const card = await insert(reader);
    await slot.power('up');
    card.silent = true;
    const pending = slot.transmit(Uint8Array.of(0, 0xb0, 0, 0, 1));
    await until(() => card.messages.length === 3, 'the APDU to arrive');
    card.socket.destroy();
    await expect(pending).rejects.toSatisfy((e: unknown) => e instanceof DriverError && e.code === IFD.ICC_NOT_PRESENT);
  });

  it('gives up on a card that does not answer, and drops its connection', async () => {
    const { reader, slot, events } = await setup({ responseTimeoutMs: 50 });
    const card = await insert(reader);
    card.silent = true;
    await expect(slot.power('up')).rejects.toMatchObject({ code: IFD.RESPONSE_TIMEOUT });
    await until(() => !reader.connected, 'the connection to be dropped');
    expect(events).toEqual([true, false]);
  });

  it('turns a second card emulator away while one is connected', async () => {
    const logs: string[] = [];
    const { reader } = await setup({ log: (_l, m) => logs.push(m) });
    await insert(reader);
    const second = await FakeVicc.connect(reader.port);
    cards.push(second);
    await new Promise<void>((resolve) => second.socket.once('close', () => resolve()));
    expect(reader.connected).toBe(true);
    expect(logs.some((m) => m.includes('second virtual card'))).toBe(true);
  });

  it('refuses APDUs shorter than a header (a 1-byte one would read as a control code)', async () => {
    const { reader, slot } = await setup();
    await insert(reader);
    await slot.power('up');
    await expect(slot.transmit(Uint8Array.of(0x04))).rejects.toMatchObject({ code: IFD.COMMUNICATION_ERROR });
  });

  it('answers attributes and GET_FEATURE_REQUEST, and refuses other control codes', async () => {
    const { reader, slot } = await setup();
    await insert(reader);
    await slot.power('up');
    expect(slot.getAttribute(0x00090303)).toEqual(ATR); // SCARD_ATTR_ATR_STRING
    expect(slot.getAttribute(0x00090300)).toEqual(Uint8Array.of(2)); // ICC_PRESENCE: present
    expect(slot.getAttribute(0x12345678)).toBeUndefined();
    expect(await slot.control(0x42000d48, new Uint8Array(0))).toEqual(new Uint8Array(0));
    await expect(slot.control(0x42000001, new Uint8Array(0))).rejects.toMatchObject({ code: IFD.ERROR_NOT_SUPPORTED });
  });

  it('close() drops the card, stops listening and tells its listeners', async () => {
    const { reader, slot } = await setup();
    let removed = 0;
    reader.onRemoved(() => removed++);
    const card = await insert(reader);
    const closed = new Promise<void>((resolve) => card.socket.once('close', () => resolve()));
    await reader.close();
    await closed;
    expect(removed).toBe(1);
    await expect(slot.iccPresence()).rejects.toMatchObject({ code: IFD.NO_SUCH_DEVICE });
    await expect(FakeVicc.connect(reader.port)).rejects.toThrow(/ECONNREFUSED/);
  });
});
