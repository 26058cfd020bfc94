/**
 * Every simulated reader profile through the driver: opening and naming, power, protocol, the benchmark card's
 * applets (hello world, GET CHALLENGE, ECHO), power cycles, two cards at once, card events and presence.
 */
import { describe, expect, it } from 'vitest';
import { IFD } from '../../src/ifd/errors.js';
import { CardApplications } from '../../src/sim/card/applets.js';
import {
  helloWorldCardT0,
  helloWorldCardT1,
  PROFILES,
  type ProfileId,
  type SimulatedCard,
} from '../../src/sim/index.js';
import {
  ALL_PROFILES,
  concat,
  echoShort,
  expectIfd,
  GET_RESPONSE_HELLO,
  getChallenge,
  HELLO,
  HELLO_RESPONSE,
  hex,
  must,
  openRig,
  pattern,
  SELECT_HELLO,
  settle,
  SW_OK,
  until,
} from './helpers.js';

const NAMES: Record<ProfileId, string> = {
  'gempc-twin': 'Gemalto PC Twin Reader',
  'short-apdu': 'Alcor Micro AU9520',
  'extended-apdu': 'HID Global OMNIKEY 3x21 Smart Card Reader',
  // 058F:9522's USB strings say "Generic PCSC Smartcard Reader"; libccid's list, and so pcscd, says this.
  'two-slot': 'Alcor Micro AU9522',
  pinpad: 'Gemalto USB GemPCPinpad SmartCard Reader',
  'vendor-class': 'SCM Microsystems Inc. SPR 532',
  'descriptor-after-endpoint': 'BLUTRONICS BLUDRIVE II CCID',
  'no-interrupt': 'Athena IDProtect Key v2',
  k30: 'Gemalto USB Shell Token V2',
  'character-level': 'O2 Micro Oz776',
};

const LEVELS: Record<ProfileId, string> = {
  'gempc-twin': 'tpdu',
  'short-apdu': 'short-apdu',
  'extended-apdu': 'extended-apdu',
  'two-slot': 'short-apdu',
  pinpad: 'tpdu',
  'vendor-class': 'tpdu',
  'descriptor-after-endpoint': 'tpdu',
  'no-interrupt': 'tpdu',
  k30: 'tpdu',
  'character-level': 'character',
};

/** The challenge bytes a fresh card of the default seed gives for these successive GET CHALLENGEs. */
function expectedChallenges(...lengths: number[]): Uint8Array[] {
  const apps = new CardApplications();
  return lengths.map((n) => {
    const r = apps.processApdu(getChallenge(n));
    expect(r.sw).toBe(0x9000);
    return concat(r.data, SW_OK);
  });
}

const CARDS = [
  { name: 'T=1 card', make: helloWorldCardT1, protocol: 2 as const },
  { name: 'T=0 card', make: helloWorldCardT0, protocol: 1 as const },
];

describe.each(ALL_PROFILES)('profile %s', (id) => {
  it('opens with the right name, slot count and exchange level', async () => {
    const { reader } = await openRig(id);
    expect(reader.friendlyName).toBe(NAMES[id]);
    expect(reader.slots.length).toBe(PROFILES[id].ccid.bMaxSlotIndex + 1);
    expect(reader.level).toBe(LEVELS[id]);
    expect(reader.slots.map((s) => s.slot)).toEqual(reader.slots.map((_, i) => i));
    await reader.close();
  });

  describe.each(CARDS)('with a $name', ({ make, protocol }) => {
    it('powers up, sets the protocol, runs the benchmark applets, powers down and up again', async () => {
      const { sim, reader } = await openRig(id);
      const card: SimulatedCard = make();
      sim.insertCard(card);
      const slot = reader.slots[0]!;
      const t0 = protocol === 1;

      const atr = await must(slot.power('up'));
      expect(atr).toEqual(card.atr);
      await must(slot.setProtocol(protocol));
      expect(slot.protocol).toBe(t0 ? 0 : 1);

      expect(await must(slot.transmit(SELECT_HELLO))).toEqual(SW_OK);
      if (t0) {
        // Case 1 over T=0: the card's 61 0C goes to the application (libccid leaves 61xx alone, as pcsc-lite).
        expect(await must(slot.transmit(HELLO))).toEqual(hex('61 0C'));
        expect(await must(slot.transmit(GET_RESPONSE_HELLO))).toEqual(HELLO_RESPONSE);
      } else {
        expect(await must(slot.transmit(HELLO))).toEqual(HELLO_RESPONSE);
      }

      const [c8, c256] = expectedChallenges(8, 256);
      expect(await must(slot.transmit(getChallenge(8)))).toEqual(c8);
      const r256 = await must(slot.transmit(getChallenge(256)));
      expect(r256.length).toBe(258);
      expect(r256).toEqual(c256);

      const data = pattern(255, 7);
      const echo = await must(slot.transmit(echoShort(data)));
      if (t0) {
        // Case 3 over T=0 cannot carry response data: the card says 61 FF, GET RESPONSE fetches it.
        expect(echo).toEqual(hex('61 FF'));
        expect(await must(slot.transmit(hex('00 C0 00 00 FF')))).toEqual(concat(data, SW_OK));
      } else {
        expect(echo).toEqual(concat(data, SW_OK));
      }

      expect(await must(slot.power('down'))).toEqual(new Uint8Array(0));
      expect(slot.powered).toBe(false);
      await expectIfd(slot.transmit(HELLO), IFD.ICC_NOT_PRESENT, 'transmit after power down');

      expect(await must(slot.power('up'))).toEqual(card.atr);
      await must(slot.setProtocol(protocol));
      // The card was reset: nothing is selected.
      expect(await must(slot.transmit(HELLO))).toEqual(hex('6D 00'));
      expect(await must(slot.transmit(SELECT_HELLO))).toEqual(SW_OK);
      expect(await must(slot.transmit(HELLO))).toEqual(t0 ? hex('61 0C') : HELLO_RESPONSE);

      // A warm reset gives the ATR again and keeps the card usable.
      expect(await must(slot.power('reset'))).toEqual(card.atr);
      await must(slot.setProtocol(protocol));
      expect(await must(slot.transmit(SELECT_HELLO))).toEqual(SW_OK);
      await reader.close();
    });
  });

  it('reports presence and card events, and never answers a removed card with stale data', async () => {
    const { sim, reader } = await openRig(id);
    const slot = reader.slots[0]!;
    const events: boolean[] = [];
    slot.onCardEvent((present) => events.push(present));

    expect(await must(slot.iccPresence())).toBe(false);
    sim.insertCard(helloWorldCardT1());
    await until(() => events.length >= 1, 'the insertion event');
    expect(events).toEqual([true]);
    expect(await must(slot.iccPresence())).toBe(true);

    await must(slot.power('up'));
    await must(slot.setProtocol(2));
    expect(await must(slot.transmit(SELECT_HELLO))).toEqual(SW_OK);

    sim.removeCard();
    // Straight after the removal (before any event could be delivered) the call must fail, not answer.
    await expectIfd(slot.transmit(HELLO), IFD.ICC_NOT_PRESENT, 'transmit to a removed card');
    await until(() => events.length >= 2, 'the removal event');
    expect(events).toEqual([true, false]);
    expect(await must(slot.iccPresence())).toBe(false);
    await expectIfd(slot.transmit(HELLO), IFD.ICC_NOT_PRESENT, 'transmit after the removal event');
    await expectIfd(slot.power('up'), IFD.ICC_NOT_PRESENT, 'power up an empty slot');

    // A new card works from scratch.
    sim.insertCard(helloWorldCardT0());
    await until(() => events.length >= 3, 'the second insertion event');
    expect(events).toEqual([true, false, true]);
    expect(await must(slot.power('up'))).toEqual(helloWorldCardT0().atr);
    await must(slot.setProtocol(1));
    expect(await must(slot.transmit(SELECT_HELLO))).toEqual(SW_OK);
    await reader.close();
  });
});

describe('card removed between two commands on an APDU and a TPDU reader', () => {
  it.each(['gempc-twin', 'short-apdu', 'extended-apdu', 'no-interrupt'] as const)(
    '%s: a transmit right after removal fails with IFD_ICC_NOT_PRESENT (T=0 card)',
    async (id) => {
      const { sim, reader } = await openRig(id);
      sim.insertCard(helloWorldCardT0());
      const slot = reader.slots[0]!;
      await must(slot.power('up'));
      await must(slot.setProtocol(1));
      expect(await must(slot.transmit(SELECT_HELLO))).toEqual(SW_OK);
      sim.removeCard();
      await expectIfd(slot.transmit(GET_RESPONSE_HELLO), IFD.ICC_NOT_PRESENT);
      await reader.close();
    },
  );
});

describe('two-slot reader', () => {
  it('runs interleaved commands to cards in both slots at once', async () => {
    const { sim, reader } = await openRig('two-slot');
    const t1 = helloWorldCardT1({ seed: 1 });
    const t0 = helloWorldCardT0({ seed: 2 });
    sim.insertCard(t1, 0);
    sim.insertCard(t0, 1);
    const [s0, s1] = [reader.slots[0]!, reader.slots[1]!];
    const [atr0, atr1] = await must(Promise.all([s0.power('up'), s1.power('up')]));
    expect(atr0).toEqual(t1.atr);
    expect(atr1).toEqual(t0.atr);
    await must(Promise.all([s0.setProtocol(2), s1.setProtocol(1)]));

    const ref0 = new CardApplications({ seed: 1 });
    const ref1 = new CardApplications({ seed: 2 });
    const expectChallenge = (apps: CardApplications, n: number) => {
      const r = apps.processApdu(getChallenge(n));
      return concat(r.data, SW_OK);
    };
    for (let round = 0; round < 5; round++) {
      const e0 = pattern(200 + round, round);
      const e1 = pattern(100 + round, round + 50);
      const results = await must(
        Promise.all([
          s0.transmit(SELECT_HELLO),
          s1.transmit(SELECT_HELLO),
          s0.transmit(HELLO),
          s1.transmit(HELLO),
          s0.transmit(getChallenge(16)),
          s1.transmit(getChallenge(16)),
          s0.transmit(echoShort(e0)),
          s1.transmit(echoShort(e1)),
        ]),
      );
      expect(results).toEqual([
        SW_OK,
        SW_OK,
        HELLO_RESPONSE,
        hex('61 0C'),
        expectChallenge(ref0, 16),
        expectChallenge(ref1, 16),
        concat(e0, SW_OK),
        hex(`61 ${e1.length.toString(16)}`),
      ]);
    }
    // One slot's card leaving does not disturb the other.
    sim.removeCard(1);
    const [gone, alive] = await Promise.all([settle(s1.transmit(HELLO)), settle(s0.transmit(HELLO))]);
    expect(gone.ok).toBe(false);
    expect(alive).toEqual({ ok: true, value: HELLO_RESPONSE });
    await reader.close();
  });

  it('reports events per slot', async () => {
    const { sim, reader } = await openRig('two-slot');
    const events: string[] = [];
    reader.slots.forEach((s, i) => s.onCardEvent((p) => events.push(`${i}:${p ? 'in' : 'out'}`)));
    sim.insertCard(helloWorldCardT1(), 1);
    await until(() => events.length >= 1, 'slot 1 insertion');
    sim.insertCard(helloWorldCardT0(), 0);
    await until(() => events.length >= 2, 'slot 0 insertion');
    sim.removeCard(1);
    await until(() => events.length >= 3, 'slot 1 removal');
    expect(events).toEqual(['1:in', '0:in', '1:out']);
    expect(await must(reader.slots[0]!.iccPresence())).toBe(true);
    expect(await must(reader.slots[1]!.iccPresence())).toBe(false);
    await reader.close();
  });
});
