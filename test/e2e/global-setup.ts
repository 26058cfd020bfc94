/**
 * Global setup of the end-to-end suites: Chromium must be there (scripts/ensure-chromium.sh installs Debian's package
 * when running as root, else fails with what to do), and so must the extension builds and the host's (`npm test` makes
 * the extensions first; a bare `npx vitest run` gets them built here).
 */
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DIST, ROOT, ensureChromium } from '../../scripts/chromium.mjs';

export default function setup(): void {
  ensureChromium();
  if (![DIST.connector, DIST.helloWorld].every((d) => existsSync(join(d, 'manifest.json')))) {
    execSync('npm run --silent build', { cwd: ROOT, stdio: 'inherit' });
  }
  // The client library's package (test/e2e/client-package.test.ts, test/unit/client-lib/package.test.ts), built once
  // here rather than by two test files at the same time.
  if (!existsSync(join(ROOT, 'dist', 'client-lib', 'package.json'))) {
    execSync('npm run --silent build:client-lib', { cwd: ROOT, stdio: 'inherit' });
  }
  if (
    ![DIST.connectorTest, DIST.testClient, join(DIST.testClient, '..', 'test-client-b')].every((d) =>
      existsSync(join(d, 'manifest.json')),
    )
  ) {
    execSync('npm run --silent build:e2e', { cwd: ROOT, stdio: 'inherit' });
  }
  // smart-card-host, which the host suites (test/e2e/host*.test.ts) register in their profiles as a native host.
  if (!existsSync(join(ROOT, 'dist', 'host', 'cli.js'))) {
    execSync('npm run --silent build:host', { cwd: ROOT, stdio: 'inherit' });
  }
}
