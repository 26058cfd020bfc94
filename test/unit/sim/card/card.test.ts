import { describe, expect, it } from 'vitest';
import type { SimCard } from '../../../../src/sim/card-interface.js';
import { SimulatedCard } from '../../../../src/sim/card/card.js';
import {
  dualProtocolCard,
  helloWorldCardT0,
  helloWorldCardT1,
  lowVoltageCard,
  pinCard,
  specificModeCard,
} from '../../../../src/sim/card/profiles.js';
import { CardProfileError } from '../../../../src/sim/card/atr.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.split(' ').map((b) => parseInt(b, 16)));
const lrcBlock = (bytes: number[]): Uint8Array => Uint8Array.from([...bytes, bytes.reduce((a, b) => a ^ b, 0)]);
const GET_CHALLENGE_1 = lrcBlock([0x00, 0x00, 0x05, 0x00, 0x84, 0x00, 0x00, 0x01]);

describe('activation and voltage classes (ISO 7816-3 §6, §8.3)', () => {
  it('implements the SimCard contacts', () => {
    const card: SimCard = helloWorldCardT1();
    expect(card.inserted).toBe(true);
    expect(card.powered).toBe(false);
  });

  it('a class-A card answers at 5 V only', () => {
    const card = helloWorldCardT1();
    expect(card.activate('C')).toBeNull();
    expect(card.powered).toBe(false);
    expect(card.activate('B')).toBeNull();
    expect(card.activate('A')).toEqual(card.atr);
    expect(card.powered).toBe(true);
  });

  it('a 1.8 V card is mute at 5 V and 3 V and answers at class C', () => {
    const card = lowVoltageCard();
    expect(card.activate('A')).toBeNull();
    expect(card.activate('B')).toBeNull();
    const atr = card.activate('C');
    expect(atr).not.toBeNull();
    expect(card.classes).toEqual(['C']);
  });

  it('warm reset answers the ATR again at the same class, and nothing when unpowered', () => {
    const card = helloWorldCardT0();
    expect(card.warmReset()).toBeNull();
    card.activate('A');
    expect(card.warmReset()).toEqual(card.atr);
    card.deactivate();
    expect(card.powered).toBe(false);
    expect(card.warmReset()).toBeNull();
  });

  it('a removed card loses power and does not answer; reinserted, it answers again', () => {
    const card = helloWorldCardT1();
    card.activate('A');
    card.remove();
    expect(card.inserted).toBe(false);
    expect(card.powered).toBe(false);
    expect(card.activate('A')).toBeNull();
    expect(card.t1Block(GET_CHALLENGE_1)).toBeNull();
    card.insert();
    expect(card.activate('A')).not.toBeNull();
  });

  it('can start outside the slot', () => {
    const card = helloWorldCardT0({ inserted: false });
    expect(card.inserted).toBe(false);
    expect(card.activate('A')).toBeNull();
  });

  it('reports the parameters the reader needs', () => {
    expect(helloWorldCardT1().parameters).toEqual({ fidi: 0x11, ifsc: 254, edc: 'lrc' });
    expect(helloWorldCardT1({ ifsc: 32, edc: 'crc' }).parameters).toEqual({ fidi: 0x11, ifsc: 32, edc: 'crc' });
    const sm = specificModeCard({ ta1: 0x95 });
    sm.activate('A');
    expect(sm.parameters.fidi).toBe(0x95);
  });

  it('a card made from an impossible profile fails with a CardProfileError', () => {
    expect(() => new SimulatedCard({ atr: { protocols: [1], t1: { ifsc: 0 } } })).toThrow(CardProfileError);
    expect(() => helloWorldCardT1({ ifsc: 300 })).toThrow(CardProfileError);
  });
});

describe('fault hooks', () => {
  it('a mute card never answers its ATR', () => {
    const card = helloWorldCardT1({ faults: { mute: true } });
    expect(card.activate('A')).toBeNull();
    card.faults.mute = false;
    expect(card.activate('A')).not.toBeNull();
  });

  it('a card turned mute while powered answers nothing', () => {
    const card = helloWorldCardT1();
    card.activate('A');
    card.faults.mute = true;
    expect(card.t1Block(GET_CHALLENGE_1)).toBeNull();
    expect(card.warmReset()).toBeNull();
  });

  it('goes mute after N exchanges until the next activation', () => {
    const card = helloWorldCardT0({ faults: { muteAfterExchanges: 2 } });
    card.activate('A');
    expect(card.t0Transmit(hex('00 84 00 00 01')).length).toBe(4);
    expect(card.t0Transmit(hex('00 84 00 00 01')).length).toBe(4);
    expect(card.t0Transmit(hex('00 84 00 00 01')).length).toBe(0);
    expect(card.t0Transmit(hex('00 84 00 00 01')).length).toBe(0);
    expect(card.faults.muteAfterExchanges).toBeUndefined();
    expect(card.activate('A')).not.toBeNull();
    expect(card.t0Transmit(hex('00 84 00 00 01')).length).toBe(4);
  });

  it('a T=1 card muted after N exchanges returns null blocks', () => {
    const card = helloWorldCardT1();
    card.activate('A');
    card.faults.muteAfterExchanges = 0;
    expect(card.t1Block(GET_CHALLENGE_1)).toBeNull();
  });

  it('counts exchanges since activation', () => {
    const card = helloWorldCardT1();
    card.activate('A');
    card.t1Block(GET_CHALLENGE_1);
    expect(card.exchangeCount).toBe(1);
    card.warmReset();
    expect(card.exchangeCount).toBe(0);
  });
});

describe('profiles', () => {
  it('each call returns a new card', () => {
    const a = pinCard();
    const b = pinCard();
    expect(a).not.toBe(b);
    a.activate('A');
    expect(b.powered).toBe(false);
  });

  it('the T=1 hello-world card carries the JCOP v2.4.1 ATR, the T=0 one an ATR without TCK', () => {
    expect(helloWorldCardT1().atr).toEqual(hex('3B F8 13 00 00 81 31 FE 45 4A 43 4F 50 76 32 34 31 B7'));
    const t0 = helloWorldCardT0().atr;
    expect(t0[1]! & 0x80).toBe(0); // no TD1: T=0 only, hence no TCK
    expect(t0.length).toBe(2 + 2 + (t0[1]! & 0x0f));
  });

  it('the dual-protocol card offers TA1 0x96 by default, or the TA1 asked for', () => {
    expect(dualProtocolCard().atr[2]).toBe(0x96);
    expect(dualProtocolCard({ ta1: 0x13 }).atr[2]).toBe(0x13);
  });

  it('the specific-mode card can be fixed to T=0', () => {
    const card = specificModeCard({ protocol: 0 });
    card.activate('A');
    expect(card.protocol).toBe(0);
    expect(card.t0Transmit(hex('00 84 00 00 02')).length).toBe(5);
  });

  it('GET CHALLENGE replays across cards with the same seed', () => {
    const a = helloWorldCardT0({ seed: 99 });
    const b = helloWorldCardT0({ seed: 99 });
    a.activate('A');
    b.activate('A');
    expect(a.t0Transmit(hex('00 84 00 00 10'))).toEqual(b.t0Transmit(hex('00 84 00 00 10')));
  });
});
