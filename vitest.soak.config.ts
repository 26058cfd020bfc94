import { defineConfig } from 'vitest/config';

/**
 * `npm run soak`: the long reliability campaign (test/soak) — the same code `npm test` runs with small counts, here
 * with thousands of faults, a thousand clients and tens of thousands of fuzz cases. SOAK_SEED=<seed> replays a run.
 */
export default defineConfig({
  test: {
    include: ['test/soak/**/*.test.ts'],
    env: { SOAK: 'long' },
    testTimeout: 1_800_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
