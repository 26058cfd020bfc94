/**
 * Simulated readers for the Node host (src/host/readers/sim.ts): `--sim` argument parsing, default cards per profile,
 * and the readers reaching the daemon through the CCID driver.
 */
import { describe, expect, it } from 'vitest';
import { PcscDaemon } from '../../../src/pcsc/index.js';
import { PROFILES, type ProfileId } from '../../../src/sim/index.js';
import { defaultCards, parseSimSpec, startSimReaders } from '../../../src/host/readers/sim.js';

describe('parseSimSpec', () => {
  it('takes a profile alone, with its default cards', () => {
    expect(parseSimSpec('gempc-twin')).toEqual({ profile: 'gempc-twin', cards: ['hello-t1'] });
    expect(parseSimSpec('pinpad')).toEqual({ profile: 'pinpad', cards: ['pin'] });
    expect(parseSimSpec('two-slot')).toEqual({ profile: 'two-slot', cards: ['hello-t1', 'hello-t0'] });
  });

  it('takes cards per slot, and none', () => {
    expect(parseSimSpec('short-apdu:dual')).toEqual({ profile: 'short-apdu', cards: ['dual'] });
    expect(parseSimSpec('short-apdu:none')).toEqual({ profile: 'short-apdu', cards: [null] });
    expect(parseSimSpec('two-slot:none,pin')).toEqual({ profile: 'two-slot', cards: [null, 'pin'] });
  });

  it('names the valid values when a profile or card is unknown, or there are too many cards', () => {
    expect(() => parseSimSpec('nope')).toThrow(/unknown reader profile "nope": one of gempc-twin, short-apdu/);
    expect(() => parseSimSpec('gempc-twin:nope')).toThrow(/unknown simulated card "nope": one of hello-t1, hello-t0/);
    expect(() => parseSimSpec('gempc-twin:pin,pin')).toThrow(/profile gempc-twin has 1 slot, got 2 cards/);
    expect(() => parseSimSpec('gempc-twin:pin:x')).toThrow(/PROFILE or PROFILE:CARD/);
  });

  it('gives every profile a default card list that fits its slots', () => {
    for (const id of Object.keys(PROFILES) as ProfileId[]) {
      expect(defaultCards(id).length).toBeLessThanOrEqual(PROFILES[id].ccid.bMaxSlotIndex + 1);
    }
  });
});

describe('startSimReaders', () => {
  it('adds every profile with its default card, and removes them all on stop', async () => {
    const daemon = new PcscDaemon();
    const source = await startSimReaders(daemon, { demo: true, sim: Object.keys(PROFILES) });
    expect(source.devices).toHaveLength(1 + Object.keys(PROFILES).length);
    // Every slot that got a card reports it.
    const cards = source.devices.map((d) => d.cardIn(0) !== null);
    expect(cards.every(Boolean)).toBe(true);
    expect(daemon.readerNames.length).toBe(1 + Object.keys(PROFILES).length + 1); // two-slot has two names
    await source.stop();
    expect(daemon.readerNames).toEqual([]);
    await daemon.shutdown();
  });
});
