/**
 * End to end: `npm start`'s own script (scripts/start.mjs, on the extensions `npm test` has just built) runs the consent
 * flow for real and names the app it allows (issue 13, item 8: the line once read the name before the prompt had it,
 * and printed an empty one), and the connector's window links to no placeholder address.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HELLO_WORLD_ID, launchRig, openConnectorPage, type Rig } from './harness.js';
import { ROOT } from '../../scripts/chromium.mjs';

describe('npm start and the About section', () => {
  it('names the app the prompt asks about, then ends with Hello world!', () => {
    const run = spawnSync(process.execPath, [join(ROOT, 'scripts', 'start.mjs'), '--no-build', '--headless'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(run.status, run.stderr).toBe(0);
    // "the connector asks whether <id> ("<name>") may use the readers": both present, the name not empty.
    const asked = /the connector asks whether ([a-p]{32}) \("([^"]+)"\) may use the readers/.exec(run.stderr);
    expect(asked?.[1]).toBe(HELLO_WORLD_ID);
    expect(asked?.[2]?.trim()).not.toBe('');
    expect(run.stdout.trimEnd().endsWith('Hello world!')).toBe(true);
  }, 150_000);

  describe('the connector window', () => {
    let rig: Rig;
    beforeAll(async () => {
      rig = await launchRig({ connector: 'release' });
    }, 60_000);
    afterAll(async () => {
      await rig?.close();
    });

    it('shows no project link while the project has no address of its own', async () => {
      const page = await openConnectorPage(rig);
      expect(await page.locator('#project-line').isHidden()).toBe(true);
      const hrefs = await page.locator('a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
      for (const href of hrefs) expect(href).not.toMatch(/example\.(com|org)|placeholder|^https?:\/\/(?!chrome)/);
      await page.close();
    });
  });
});
