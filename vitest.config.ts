import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A hang is a bug we want reported as a failure, not a stuck CI run.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    reporters: ['default'],
    // Chromium for the end-to-end suites (test/e2e): installed when missing (as root), extension builds made if absent.
    globalSetup: ['test/e2e/global-setup.ts'],
  },
});
