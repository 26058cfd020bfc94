/**
 * End to end, issue 13 item 2: after a worker restart the connector finds the prompt windows still open
 * (chrome.runtime.getContexts) and reuses them instead of opening a second one. A client never allowed asks; its prompt
 * opens; the worker is stopped (CDP ServiceWorker.stopAllWorkers, as in worker-restart.test.ts); the client reconnects
 * and asks again: there is still exactly one prompt window, and its Allow answers the new call.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extensionUrl } from '../../scripts/chromium.mjs';
import {
  CONNECTOR_ID,
  TEST_CLIENT_B_ID,
  connectorWorker,
  launchRig,
  openTestClient,
  until,
  type Rig,
} from './harness.js';

type Outcome = { ok: true; value: any } | { ok: false; name: string; message: string };
const PROMPT_URL = extensionUrl(CONNECTOR_ID, 'pages/prompt.html');

/** Starts a call in the client page; its outcome lands in globalThis.outcomes[key] ('pending' until then). */
function startInClient(page: Page, key: string, body: string): Promise<unknown> {
  return page.evaluate(
    `(() => { const g = globalThis; g.outcomes ??= {}; g.outcomes[${JSON.stringify(key)}] = 'pending'; g.attempt(async () => { ${body} }).then((o) => { g.outcomes[${JSON.stringify(key)}] = o; }); })()`,
  );
}
const outcome = (page: Page, key: string) =>
  page.evaluate(`globalThis.outcomes[${JSON.stringify(key)}]`) as Promise<Outcome | 'pending'>;

/** Prompt tabs as Chrome lists them (what the worker itself would find), asked of the connector's current worker. */
async function promptTabs(rig: Rig): Promise<number> {
  const worker = await connectorWorker(rig);
  return worker.evaluate(async (url) => {
    const c = (globalThis as unknown as { chrome: typeof chrome }).chrome;
    const windows = await c.windows.getAll({ populate: true });
    return windows.flatMap((w) => w.tabs ?? []).filter((t) => (t.url ?? '').startsWith(url)).length;
  }, PROMPT_URL);
}

const ESTABLISH =
  'const { hContext } = await g.c.SCardEstablishContext(g.lib.SCARD_SCOPE_SYSTEM); return hContext > 0;';

describe('a prompt window open across a worker restart (issue 13, item 2)', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await launchRig({ connector: 'test', approve: [] });
  }, 60_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('is reused for the call asked again on the new worker, and answers it', async () => {
    let opened = 0;
    rig.context.on('page', (p) => {
      if (p.url().startsWith(PROMPT_URL)) opened++;
    });
    const b = await openTestClient(rig, TEST_CLIENT_B_ID);
    await b.evaluate(
      `(async () => { globalThis.c = await globalThis.lib.connect(${JSON.stringify(CONNECTOR_ID)}, { name: 'B asks' }); })()`,
    );
    const promptOpened = rig.context.waitForEvent('page', {
      predicate: (p) => p.url().startsWith(PROMPT_URL),
      timeout: 15_000,
    });
    await startInClient(b, 'first', ESTABLISH);
    const prompt = await promptOpened;
    await prompt.getByText(TEST_CLIENT_B_ID).first().waitFor();
    expect(await promptTabs(rig)).toBe(1);

    // The worker stops (an idle timeout would do the same): B's waiting call fails, the prompt stays open.
    const cdp = await rig.context.newCDPSession(b);
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');
    const first = await until(async () => {
      const o = await outcome(b, 'first');
      return o === 'pending' ? null : o;
    }, "B's first call to end with the worker");
    expect(first.ok).toBe(false);
    expect(prompt.isClosed()).toBe(false);

    // B reconnects to a new worker and asks again: the request is pending there, and the open prompt is reused.
    await b.evaluate('globalThis.c.reconnect()');
    const worker = await connectorWorker(rig);
    await startInClient(b, 'again', ESTABLISH);
    await until(
      async () =>
        (
          (await worker.evaluate(
            '(async () => { const t = globalThis.connectorTest; await t.started; return t.status().prompts.map((p) => p.id); })()',
          )) as string[]
        ).includes(TEST_CLIENT_B_ID),
      "B's request pending on the new worker",
    );
    // The prompt page reconnected to the new worker: its buttons answer the new request.
    const allow = prompt.getByRole('button', { name: 'Allow' });
    await until(async () => await allow.isEnabled(), 'the prompt to arm its buttons');
    await allow.click();
    const again = await until(async () => {
      const o = await outcome(b, 'again');
      return o === 'pending' ? null : o;
    }, "B's second call to be answered");
    expect(again).toEqual({ ok: true, value: true });
    // One prompt window in all: none was opened for the request asked again.
    expect(opened).toBe(1);
    expect(await promptTabs(rig)).toBeLessThanOrEqual(1);
    await cdp.detach();
  }, 90_000);
});
