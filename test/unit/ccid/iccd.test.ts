/**
 * ICCD (iccd.ts; ISO/IEC 7816-12): CCID commands turned into ICCD class requests, against scripted tokens for the
 * edge cases and against the simulated e-gate (version A) and Rutoken Magistra (version B) end to end.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeResponse,
  encodeGetSlotStatus,
  encodeSetParameters,
  encodeXfrBlock,
} from '../../../src/ccid/messages.js';
import { iccdExchange, type IccdChannel } from '../../../src/ccid/iccd.js';
import { CcidReader } from '../../../src/ccid/reader.js';
import { IFD } from '../../../src/ifd/errors.js';
import {
  ICCD_A_EGATE,
  ICCD_B_RUTOKEN_MAGISTRA,
  createSimulatedReader,
  helloWorldCardT0,
  helloWorldCardT1,
} from '../../../src/sim/index.js';

const FAST = { timeoutScale: 0.01, pollIntervalMs: 5 };
const SELECT_HELLO = Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x0a, 0xa0, 0, 0, 0, 0x62, 0x03, 0x01, 0x0c, 0x06, 0x01]);
const text = (b: Uint8Array) => new TextDecoder().decode(b.subarray(0, -2));

/** A token answering IN requests from a script per request code; OUT requests are recorded. */
function token(answers: Record<number, number[][]>) {
  const log: string[] = [];
  const sleeps: number[] = [];
  const channel: IccdChannel = {
    controlIn: async (request, value, length) => {
      log.push(`in ${request.toString(16)} ${value} ${length}`);
      const next = answers[request]?.shift();
      if (next === undefined) throw new Error(`unscripted IN 0x${request.toString(16)}`);
      return Uint8Array.from(next);
    },
    controlOut: async (request, value, data) => {
      log.push(`out ${request.toString(16)} ${value.toString(16)} ${data.length}`);
    },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    expired: () => sleeps.length > 50,
  };
  return { channel, log, sleeps };
}

describe('iccdExchange, version B', () => {
  it('polls DATA_BLOCK on 0x80 (wDelay × 10 ms), then passes bResponseType on as the chain', async () => {
    const t = token({
      0x6f: [
        [0x80, 3, 0],
        [0x80, 0, 0],
        [0x01, 0xaa, 0xbb],
      ],
    });
    const r = decodeResponse(await iccdExchange('B', t.channel, encodeXfrBlock(0, 9, Uint8Array.of(1, 2, 3), 0, 0x10)));
    expect(t.log[0]).toBe('out 65 1000 3'); // bLevelParameter 0x10 in wValue's high byte
    expect(t.sleeps).toEqual([30, 10]);
    expect([r.seq, r.commandStatus, r.param, [...r.data]]).toEqual([9, 0, 0x01, [0xaa, 0xbb]]);
  });

  it('maps status information (0x40) to a failed response, an unknown bResponseType to an error', async () => {
    const failed = token({ 0x6f: [[0x40, 0x42, 0xfe]] });
    const r = decodeResponse(await iccdExchange('B', failed.channel, encodeXfrBlock(0, 1, Uint8Array.of(0))));
    expect([r.commandStatus, r.iccStatus, r.error]).toEqual([1, 2, 0xfe]);
    const odd = token({ 0x6f: [[0x55]] });
    await expect(iccdExchange('B', odd.channel, encodeXfrBlock(0, 1, Uint8Array.of(0)))).rejects.toMatchObject({
      code: IFD.COMMUNICATION_ERROR,
      message: expect.stringContaining('bResponseType 0x55'),
    });
  });

  it('answers what ICCD lacks (SetParameters) as "command not supported" (bError 0)', async () => {
    const t = token({});
    const r = decodeResponse(await iccdExchange('B', t.channel, encodeSetParameters(0, 4, 1, new Uint8Array(7))));
    expect([r.type, r.commandStatus, r.error]).toEqual([0x81, 1, 0]);
    expect(t.log).toEqual([]);
  });
});

describe('iccdExchange, version A', () => {
  it('asks GET_ICC_STATUS again while busy (0x40); 0x80 is no card', async () => {
    const t = token({ 0xa0: [[0x40], [0x40], [0x80]] });
    const r = decodeResponse(await iccdExchange('A', t.channel, encodeGetSlotStatus(0, 2)));
    expect(t.sleeps).toEqual([10, 10]);
    expect(r.iccStatus).toBe(2);
  });

  it('case 2: header, 0x10, DATA_BLOCK of Le bytes, 0x20, DATA_BLOCK of SW1 SW2', async () => {
    const t = token({
      0xa0: [[0x10], [0x20]],
      0x6f: [
        [1, 2, 3, 4],
        [0x90, 0x00],
      ],
    });
    const r = decodeResponse(await iccdExchange('A', t.channel, encodeXfrBlock(0, 3, Uint8Array.of(0, 0x84, 0, 0, 4))));
    expect([...r.data]).toEqual([1, 2, 3, 4, 0x90, 0x00]);
    expect(t.log).toEqual(['out 65 0 5', 'in a0 0 1', 'in 6f 0 4', 'in a0 0 1', 'in 6f 0 2']);
  });

  it('a token that stays busy past the timeout fails with IFD_RESPONSE_TIMEOUT', async () => {
    const busy = Array.from({ length: 100 }, () => [0x40]);
    const t = token({ 0xa0: busy });
    await expect(iccdExchange('A', t.channel, encodeGetSlotStatus(0, 1))).rejects.toMatchObject({
      code: IFD.RESPONSE_TIMEOUT,
    });
  });
});

describe('ICCD tokens end to end (simulated)', () => {
  it('version A, e-gate on a vendor-class interface without endpoints: T=0 APDUs run by the token', async () => {
    const sim = createSimulatedReader(ICCD_A_EGATE);
    sim.insertCard(helloWorldCardT0());
    const reader = await CcidReader.open(sim, FAST);
    expect([reader.info.iccd, reader.info.interfaceClass, reader.level]).toEqual(['A', 0xff, 'short-apdu']);
    const slot = reader.slots[0]!;
    expect(await slot.iccPresence()).toBe(true);
    await slot.power('up');
    await slot.setProtocol(1);
    expect([...(await slot.transmit(SELECT_HELLO))]).toEqual([0x90, 0x00]);
    expect([...(await slot.transmit(Uint8Array.of(0, 0, 0, 0)))]).toEqual([0x61, 0x0c]);
    expect(text(await slot.transmit(Uint8Array.of(0, 0xc0, 0, 0, 0x0c)))).toBe('Hello world!');
    await slot.power('down');
    await reader.close();
  });

  it('version B, Rutoken Magistra: T=1 APDUs, a 256-byte answer chained over DATA_BLOCKs', async () => {
    const sim = createSimulatedReader(ICCD_B_RUTOKEN_MAGISTRA);
    sim.insertCard(helloWorldCardT1());
    const reader = await CcidReader.open(sim, FAST);
    expect([reader.info.iccd, reader.level]).toEqual(['B', 'extended-apdu']);
    expect(reader.friendlyName).toBe('Aktiv Co., ProgramPark Rutoken Magistra');
    const slot = reader.slots[0]!;
    await slot.power('up');
    await slot.setProtocol(2);
    expect([...(await slot.transmit(SELECT_HELLO))]).toEqual([0x90, 0x00]);
    expect(text(await slot.transmit(Uint8Array.of(0, 0, 0, 0)))).toBe('Hello world!');
    // GET CHALLENGE 256: 258 bytes, more than one DATA_BLOCK of dwMaxCCIDMessageLength 261 − 10 carries.
    const challenge = await slot.transmit(Uint8Array.of(0, 0x84, 0, 0, 0));
    expect(challenge.length).toBe(258);
    expect([...challenge.subarray(-2)]).toEqual([0x90, 0x00]);
    sim.removeCard();
    expect(await slot.iccPresence()).toBe(false);
    await reader.close();
  });
});
