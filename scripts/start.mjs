/**
 * `npm start`: the hello-world exchange end to end in Chromium.
 *
 * Ensures Chromium (Debian's package), builds both extensions, launches Chromium with them (headless when there is no
 * DISPLAY), turns on the connector's demo reader from its page, opens the hello-world app, clicks Run, answers the
 * connector's permission prompt with Allow (as a user would: the app is not pre-approved, the consent flow runs for
 * real) and prints the app's log lines as they appear. Exits 0 once "Hello world!" shows; non-zero with the log on
 * failure or timeout.
 *
 * Options: --no-build (use dist/ as it is), --headed / --headless, --timeout=<seconds> (default 90).
 */
import { spawnSync } from 'node:child_process';
import {
  CONNECTOR_ID,
  DIST,
  HELLO_WORLD_ID,
  ROOT,
  ensureChromium,
  extensionUrl,
  launchWithExtensions,
  waitForWorker,
} from './chromium.mjs';

const args = new Set(process.argv.slice(2));
const timeoutArg = [...args].find((a) => a.startsWith('--timeout='));
const timeoutMs = (timeoutArg ? Number(timeoutArg.slice('--timeout='.length)) : 90) * 1000;
const headless = args.has('--headed') ? false : args.has('--headless') ? true : !process.env.DISPLAY;

// The sample's log goes to stdout, so it ends with the card's "Hello world!"; our own progress notes go to stderr.
const say = (line) => console.log(line);
const note = (line) => console.error(line);
const lines = [];

async function main() {
  note('[start] checking for Chromium…');
  ensureChromium();
  if (!args.has('--no-build')) {
    note('[start] building the extensions (npm run build)…');
    const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) throw new Error(`the build failed (exit ${build.status})`);
  }
  note(
    `[start] launching Chromium ${headless ? 'headless' : 'with a window'} with the connector and the hello-world app…`,
  );
  const browser = await launchWithExtensions({ extensions: [DIST.connector, DIST.helloWorld], headless });
  const timer = setTimeout(() => {
    console.error(`[start] timed out after ${timeoutMs / 1000} s`);
    dump();
    void browser.close().finally(() => process.exit(2));
  }, timeoutMs);
  try {
    await waitForWorker(browser.context, CONNECTOR_ID);
    note(`[start] connector ${CONNECTOR_ID} is running`);

    const connector = await browser.context.newPage();
    await connector.goto(extensionUrl(CONNECTOR_ID, 'pages/index.html'));
    const demo = connector.getByRole('switch', { name: 'Demo reader (simulated)' });
    if (!(await demo.isChecked())) await demo.check();
    await connector.locator('.reader[data-state="ready"]').first().waitFor({ timeout: 20_000 });
    note(
      `[start] demo reader ready: ${await connector.locator('.reader[data-state="ready"] .names').first().textContent()}`,
    );

    const app = await browser.context.newPage();
    let resolveHello;
    let rejectFail;
    const finished = new Promise((res, rej) => {
      resolveHello = res;
      rejectFail = rej;
    });
    app.on('console', (msg) => {
      const text = msg.text();
      if (!text.startsWith('[hello-world] ')) return;
      const line = text.slice('[hello-world] '.length);
      lines.push(line);
      say(line);
      if (line === 'Hello world!') resolveHello();
    });
    app.on('pageerror', (e) => rejectFail(e));
    await app.goto(extensionUrl(HELLO_WORLD_ID, 'index.html'));
    // The app's first call opens the connector's prompt window; click Allow in it, as the user would.
    const promptUrl = extensionUrl(CONNECTOR_ID, 'pages/prompt.html');
    void browser.context
      .waitForEvent('page', { predicate: (p) => p.url().startsWith(promptUrl), timeout: timeoutMs })
      .then(async (prompt) => {
        // The request shows once the worker has pushed it; read the names only then (they are empty before).
        await prompt.locator('#request').waitFor({ state: 'visible', timeout: 10_000 });
        const id = await prompt.locator('#app-id').textContent();
        const name = await prompt.locator('#app-name').textContent();
        note(`[start] the connector asks whether ${id} ("${name}") may use the readers: clicking Allow`);
        await prompt.getByRole('button', { name: 'Allow' }).click();
      })
      .catch(() => {});
    await app.getByRole('button', { name: 'Run' }).click();
    const failed = app
      .locator('#status.failed')
      .waitFor({ timeout: timeoutMs })
      .then(() => {
        throw new Error('the hello-world run failed');
      });
    await Promise.race([finished, failed]);
    clearTimeout(timer);
    note('[start] done: the card said Hello world! through the connector extension');
    await browser.close();
    return 0;
  } catch (e) {
    clearTimeout(timer);
    console.error(`[start] ${e instanceof Error ? e.message : String(e)}`);
    dump();
    await browser.close();
    return 1;
  }
}

function dump() {
  if (lines.length === 0) return;
  console.error('[start] the hello-world log:');
  for (const l of lines) console.error(`  ${l}`);
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`[start] ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
