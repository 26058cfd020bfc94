import { describe, expect, it } from 'vitest';
import { answerPps, cardTakesFidi } from '../../../../src/sim/card/pps.js';
import { dualProtocolCard, helloWorldCardT1, specificModeCard } from '../../../../src/sim/card/profiles.js';

/** PPSS PPS0 [PPS1] PCK with a correct PCK (ISO 7816-3 §9.2). */
function ppsRequest(t: number, pps1?: number): Uint8Array {
  const body = pps1 === undefined ? [0xff, t] : [0xff, 0x10 | t, pps1];
  return Uint8Array.from([...body, body.reduce((a, b) => a ^ b, 0)]);
}

describe('PPS, card side (ISO 7816-3 §9)', () => {
  it('echoes a request for TA1 and switches to it', () => {
    const card = dualProtocolCard({ ta1: 0x96 });
    card.activate('A');
    const req = ppsRequest(1, 0x96);
    expect(card.pps(req)).toEqual(req);
    expect(card.protocol).toBe(1);
    expect(card.parameters.fidi).toBe(0x96);
  });

  it('takes a lower D with the same F (libccid steps 96 down towards 94)', () => {
    expect(cardTakesFidi(0x96, 0x95)).toBe(true);
    expect(cardTakesFidi(0x96, 0x94)).toBe(true);
    expect(cardTakesFidi(0x96, 0x97)).toBe(false);
    expect(cardTakesFidi(0x13, 0x18)).toBe(false); // D 12 > 4
    expect(cardTakesFidi(0x13, 0x12)).toBe(true);
    expect(cardTakesFidi(undefined, 0x11)).toBe(true);
    expect(cardTakesFidi(undefined, 0x13)).toBe(false);
    expect(cardTakesFidi(0x9f, 0x9f)).toBe(false); // Di 15 is reserved
  });

  it('answers a Fi/Di it does not take without PPS1 (stays at Fd/Dd) by default', () => {
    const card = dualProtocolCard({ ta1: 0x13 });
    card.activate('A');
    expect(card.pps(ppsRequest(1, 0x96))).toEqual(ppsRequest(1));
    expect(card.protocol).toBe(1);
    expect(card.parameters.fidi).toBe(0x11);
  });

  it('can be told to stay mute to a Fi/Di it does not take', () => {
    const card = dualProtocolCard({ ta1: 0x13, ppsRefusal: 'mute' });
    card.activate('A');
    expect(card.pps(ppsRequest(1, 0x96))).toBeNull();
    expect(card.protocol).toBe(0);
  });

  it('selects a protocol without PPS1', () => {
    const card = dualProtocolCard();
    card.activate('A');
    expect(card.pps(ppsRequest(1))).toEqual(ppsRequest(1));
    expect(card.protocol).toBe(1);
  });

  it('stays mute to a bad PCK, a bad PPSS, a wrong length, a reserved bit or a protocol it does not offer', () => {
    const policy = { protocols: [0, 1] as const, ta1: 0x96 };
    const good = ppsRequest(1, 0x96);
    const badPck = good.slice();
    badPck[3] = badPck[3]! ^ 1;
    expect(answerPps(badPck, policy)).toBeNull();
    expect(answerPps(Uint8Array.of(0xfe, 0x01, 0xff), policy)).toBeNull();
    expect(answerPps(good.subarray(0, 3), policy)).toBeNull();
    expect(answerPps(Uint8Array.of(0xff, 0x81, 0x7e), policy)).toBeNull();
    expect(answerPps(ppsRequest(2), policy)).toBeNull();
    expect(answerPps(ppsRequest(1), { protocols: [0], ta1: undefined })).toBeNull();
    expect(answerPps(new Uint8Array(0), policy)).toBeNull();
  });

  it('leaves PPS2 out of its answer (not supported, §9.3 allows it)', () => {
    const req = Uint8Array.of(0xff, 0x31, 0x96, 0x00, 0);
    req[4] = req[0]! ^ req[1]! ^ req[2]! ^ req[3]!;
    expect(answerPps(req, { protocols: [1], ta1: 0x96 })!.response).toEqual(ppsRequest(1, 0x96));
  });

  it('is mute to PPS in specific mode, where TA1 applies at once', () => {
    const card = specificModeCard({ ta1: 0x96 });
    card.activate('A');
    expect(card.specificMode).toBe(true);
    expect(card.parameters.fidi).toBe(0x96);
    expect(card.protocol).toBe(1);
    expect(card.pps(ppsRequest(1, 0x96))).toBeNull();
  });

  it('accepts PPS only as the first exchange after the ATR', () => {
    const card = helloWorldCardT1();
    card.activate('A');
    card.t1Block(Uint8Array.of(0x00, 0xc1, 0x01, 0xfe, 0x00 ^ 0xc1 ^ 0x01 ^ 0xfe));
    expect(card.pps(ppsRequest(1, 0x13))).toBeNull();
    card.activate('A');
    expect(card.pps(ppsRequest(1, 0x13))).toEqual(ppsRequest(1, 0x13));
    expect(card.pps(ppsRequest(1, 0x13))).toBeNull();
  });

  it('a reset returns the card to its first protocol at Fd/Dd', () => {
    const card = dualProtocolCard();
    card.activate('A');
    card.pps(ppsRequest(1, 0x96));
    card.warmReset();
    expect(card.protocol).toBe(0);
    expect(card.parameters.fidi).toBe(0x11);
  });
});
