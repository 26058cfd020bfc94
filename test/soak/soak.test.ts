/**
 * The reliability campaign (see test/soak/README.md). `npm test` runs it with small counts (a few seconds);
 * `npm run soak` (vitest.soak.config.ts, SOAK=long) with thousands. The seed is printed; SOAK_SEED=<seed> replays.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { campaignSeed, crashCounter, newTotals, summary } from './common.js';
import { churnCampaign } from './churn.js';
import { faultCampaign } from './faults.js';
import { fuzzCampaign } from './fuzz.js';

const LONG = process.env.SOAK === 'long';
const COUNTS = LONG ? { faults: 10_000, churn: 1000, fuzz: 10_000 } : { faults: 150, churn: 60, fuzz: 250 };
const seed = campaignSeed();
const totals = newTotals();
const crashes = crashCounter();

describe(`reliability campaign (${LONG ? 'long' : 'short'}, SOAK_SEED=${seed})`, () => {
  afterAll(() => {
    crashes.dispose();
    console.log(`[soak] ${LONG ? 'long' : 'short'} campaign, SOAK_SEED=${seed}\n${summary(totals, crashes.count)}`);
    for (const k of totals.known) console.log(`[soak] known failure: ${k}`);
  });

  it(
    `(a) ${COUNTS.faults} random faults through the daemon's PC/SC API`,
    async () => {
      console.log(`[soak] seed ${seed} (replay with SOAK_SEED=${seed})`);
      await faultCampaign({ seed, faults: COUNTS.faults, totals, log: (s) => console.log(`[soak] ${s}`) });
      expect(crashes.first).toEqual([]);
      expect(totals.violations.slice(0, 20)).toEqual([]);
    },
    LONG ? 1_800_000 : 60_000,
  );

  it(
    `(b) ${COUNTS.churn} clients churned: vanish holding transactions, exclusive access, pending calls and waits`,
    async () => {
      await churnCampaign({ seed, clients: COUNTS.churn, totals, log: (s) => console.log(`[soak] ${s}`) });
      expect(crashes.first).toEqual([]);
      expect(totals.violations.slice(0, 20)).toEqual([]);
    },
    LONG ? 1_800_000 : 60_000,
  );

  it(
    `(c) fuzzing the decoders: ${COUNTS.fuzz} runs per target, random and mutated valid inputs`,
    () => {
      fuzzCampaign({ seed, runsPerTarget: COUNTS.fuzz, totals });
      expect(crashes.first).toEqual([]);
      expect(totals.violations.slice(0, 20)).toEqual([]);
    },
    LONG ? 1_800_000 : 60_000,
  );
});
