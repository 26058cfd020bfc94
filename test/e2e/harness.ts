/**
 * Shared by the end-to-end suites: Chromium (Debian's, via playwright-core) with the connector and the client
 * extensions loaded in a fresh temporary profile, and helpers to reach their pages and the connector's worker.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page, Worker } from 'playwright-core';
import {
  CONNECTOR_ID,
  DIST,
  HELLO_WORLD_ID,
  ROOT,
  ensureChromium,
  extensionUrl,
  launchWithExtensions,
  waitForWorker,
  type LaunchedChromium,
} from '../../scripts/chromium.mjs';
import { GRANTS_KEY, type StoredGrants } from '../../src/connector/permissions.js';

export { CONNECTOR_ID, HELLO_WORLD_ID };
export const TEST_CLIENT_ID = 'fhjfogpingjmigcfkipfiefoebccegbj';
/** The second test client (test/e2e/client-extension/manifest-b.json: same page, another key). */
export const TEST_CLIENT_B_ID = 'gcfbioddjpfnegbamejphmfbhcakhcki';
export const TEST_CLIENT_B_DIST = join(DIST.testClient, '..', 'test-client-b');
/** The clients a test that is not about consent has allowed before it starts. */
export const PRE_APPROVED = [HELLO_WORLD_ID, TEST_CLIENT_ID, TEST_CLIENT_B_ID];
export const SCREENSHOTS = join(ROOT, 'test', 'e2e', 'screenshots');

export interface Rig {
  browser: LaunchedChromium;
  context: BrowserContext;
  worker: Worker;
  close(): Promise<void>;
}

/**
 * Launches Chromium with the connector (the release build, or the test build with its hooks) and the clients.
 * `approve`: client ids allowed before the test starts (default PRE_APPROVED; [] for the consent tests), written to the
 * connector's storage as the user's "Allow" would be. `userDataDir`: a profile prepared by the test (a native host
 * registered in it), which the test removes; `env`: Chromium's environment, inherited by the native hosts it starts.
 */
export async function launchRig(options: {
  connector: 'release' | 'test';
  approve?: readonly string[];
  userDataDir?: string;
  env?: Record<string, string>;
}): Promise<Rig> {
  ensureChromium();
  const connector = options.connector === 'test' ? DIST.connectorTest : DIST.connector;
  const browser = await launchWithExtensions({
    extensions: [connector, DIST.helloWorld, DIST.testClient, TEST_CLIENT_B_DIST],
    ...(options.userDataDir !== undefined ? { userDataDir: options.userDataDir } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
  });
  try {
    const worker = await waitForWorker(browser.context, CONNECTOR_ID);
    const approve = options.approve ?? PRE_APPROVED;
    if (approve.length > 0) await preApprove(worker, approve);
    return { browser, context: browser.context, worker, close: () => browser.close() };
  } catch (e) {
    await browser.close();
    throw e;
  }
}

/** Stores "allow" for these clients in the connector's chrome.storage.local (the worker re-reads it on change). */
export async function preApprove(worker: Worker, ids: readonly string[]): Promise<void> {
  const grants: StoredGrants = Object.fromEntries(
    ids.map((id) => [id, { decision: 'allow' as const, name: `e2e pre-approved ${id.slice(0, 6)}`, at: Date.now() }]),
  );
  await worker.evaluate(
    async ([key, add]) => {
      const c = (globalThis as unknown as { chrome: typeof chrome }).chrome;
      const now = ((await c.storage.local.get(key))[key] ?? {}) as object;
      await c.storage.local.set({ [key]: { ...now, ...add } });
    },
    [GRANTS_KEY, grants] as const,
  );
}

/** The connector's current service worker (a new object after a restart). */
export function connectorWorker(rig: Rig): Promise<Worker> {
  return waitForWorker(rig.context, CONNECTOR_ID);
}

export async function openConnectorPage(rig: Rig): Promise<Page> {
  const page = await rig.context.newPage();
  await page.goto(extensionUrl(CONNECTOR_ID, 'pages/index.html'));
  await page.getByText('Connected to the service').waitFor();
  return page;
}

/** Turns the demo reader on from the connector page (as a person would) and waits until it is ready. */
export async function turnDemoOn(page: Page): Promise<void> {
  const demo = page.getByRole('switch', { name: 'Demo reader (simulated)' });
  if (!(await demo.isChecked())) await demo.check();
  await page.locator('.reader[data-state="ready"]').first().waitFor({ timeout: 20_000 });
}

export async function openHelloWorld(rig: Rig): Promise<Page> {
  const page = await rig.context.newPage();
  await page.goto(extensionUrl(HELLO_WORLD_ID, 'index.html'));
  return page;
}

/** Clicks Run and waits for the run to end; returns the log lines and whether it succeeded. */
export async function runHelloWorld(page: Page, timeoutMs = 30_000): Promise<{ ok: boolean; lines: string[] }> {
  await page.getByRole('button', { name: 'Run' }).click();
  await page.locator('#status.ok, #status.failed').waitFor({ timeout: timeoutMs });
  const ok = (await page.locator('#status.ok').count()) === 1;
  const lines = await page.locator('#log li').allTextContents();
  return { ok, lines };
}

export async function openTestClient(rig: Rig, id = TEST_CLIENT_ID): Promise<Page> {
  const page = await rig.context.newPage();
  await page.goto(extensionUrl(id, 'index.html'));
  await page.getByText('ready', { exact: true }).waitFor();
  return page;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Polls `f` until it returns a truthy value (never a wall-clock assertion: only a generous upper bound). */
export async function until<T>(f: () => Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await f();
    if (last) return last as NonNullable<T>;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}
