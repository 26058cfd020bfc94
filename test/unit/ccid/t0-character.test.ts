/**
 * T=0 procedure bytes run by the driver for character-level readers (t0-character.ts; ISO 7816-3 §10.3.3), against a
 * scripted card: each step says what the driver must send and how many characters it must ask for.
 */
import { describe, expect, it } from 'vitest';
import { transmitT0Characters, type CharacterExchange } from '../../../src/ccid/t0-character.js';
import { IFD } from '../../../src/ifd/errors.js';

const h = (s: string) => Uint8Array.from(s.split(/\s+/).filter(Boolean), (x) => parseInt(x, 16));
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

/** A card script: [expected sent bytes, expected count, answer]. Fails on any deviation. */
function scripted(steps: [string, number, string][]): { exchange: CharacterExchange; done: () => boolean } {
  let i = 0;
  return {
    exchange: async (data, expected) => {
      const step = steps[i++];
      if (step === undefined) throw new Error(`unexpected exchange ${i}: sent ${hex(data)}, asked ${expected}`);
      expect([hex(data), expected]).toEqual([hex(h(step[0])), step[1]]);
      return h(step[2]);
    },
    done: () => i === steps.length,
  };
}

describe('transmitT0Characters', () => {
  it('case 3: header, INS, all data, then SW1 and SW2', async () => {
    const card = scripted([
      ['80 EE 00 00 03', 1, 'EE'],
      ['01 02 03', 1, '90'],
      ['', 1, '00'],
    ]);
    expect(hex(await transmitT0Characters(card.exchange, h('80 EE 00 00 03 01 02 03')))).toBe('90 00');
    expect(card.done()).toBe(true);
  });

  it('case 2 with NULL bytes: waits, then reads the data with the next procedure byte', async () => {
    const card = scripted([
      ['00 84 00 00 04', 1, '60'],
      ['', 1, '60'],
      ['', 1, '84'],
      ['', 5, 'A1 A2 A3 A4 90'],
      ['', 1, '00'],
    ]);
    expect(hex(await transmitT0Characters(card.exchange, h('00 84 00 00 04')))).toBe('a1 a2 a3 a4 90 00');
    expect(card.done()).toBe(true);
  });

  it('INS ⊕ FF moves one byte at a time, both ways', async () => {
    const out = scripted([
      ['80 EE 00 00 02', 1, '11'],
      ['01', 1, '11'],
      ['02', 1, '61'],
      ['', 1, '02'],
    ]);
    expect(hex(await transmitT0Characters(out.exchange, h('80 EE 00 00 02 01 02')))).toBe('61 02');
    const incoming = scripted([
      ['00 84 00 00 02', 1, '7B'],
      ['', 2, 'C1 7B'],
      ['', 2, 'C2 90'],
      ['', 1, '00'],
    ]);
    expect(hex(await transmitT0Characters(incoming.exchange, h('00 84 00 00 02')))).toBe('c1 c2 90 00');
  });

  it('case 1 gets P3 = 00 and case 4 goes without Le (ISO 7816-3 §12.2): 61xx reaches the caller', async () => {
    const case1 = scripted([
      ['00 00 00 00 00', 1, '61'],
      ['', 1, '0C'],
    ]);
    expect(hex(await transmitT0Characters(case1.exchange, h('00 00 00 00')))).toBe('61 0c');
    const case4 = scripted([
      ['80 EE 00 00 01', 1, 'EE'],
      ['AA', 1, '61'],
      ['', 1, '01'],
    ]);
    expect(hex(await transmitT0Characters(case4.exchange, h('80 EE 00 00 01 AA 00')))).toBe('61 01');
  });

  it('refuses what T=0 cannot carry and what the card cannot mean, with IFD codes', async () => {
    const never: CharacterExchange = async () => {
      throw new Error('nothing may be sent');
    };
    await expect(transmitT0Characters(never, h('00 60 00 00'))).rejects.toMatchObject({
      code: IFD.COMMUNICATION_ERROR,
      message: expect.stringContaining('INS 0x60'),
    });
    const bogus = scripted([['00 84 00 00 02', 1, '42']]);
    await expect(transmitT0Characters(bogus.exchange, h('00 84 00 00 02'))).rejects.toMatchObject({
      code: IFD.COMMUNICATION_ERROR,
      message: expect.stringContaining('procedure byte 0x42'),
    });
    const short = scripted([
      ['00 84 00 00 02', 1, '84'],
      ['', 3, 'C1'],
    ]);
    await expect(transmitT0Characters(short.exchange, h('00 84 00 00 02'))).rejects.toMatchObject({
      code: IFD.COMMUNICATION_ERROR,
      message: expect.stringContaining('returned 1 characters'),
    });
  });

  it('a card that sends NULL bytes for ever is given up on', async () => {
    const nulls: CharacterExchange = async () => h('60');
    await expect(transmitT0Characters(nulls, h('00 84 00 00 02'))).rejects.toMatchObject({
      code: IFD.RESPONSE_TIMEOUT,
    });
  });
});
