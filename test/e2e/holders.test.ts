/**
 * End to end, issue 13 item 6: an allowed app holding a transaction makes the others wait indefinitely; the connector's
 * window shows who holds it and ends the hold. Test client A takes the demo reader's transaction and keeps it; the
 * hello-world app's run waits; the window shows A holding the transaction; End, confirmed, revokes A (its daemon
 * client closes, its transaction goes) and hello-world completes with "Hello world!".
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONNECTOR_ID,
  TEST_CLIENT_ID,
  launchRig,
  openConnectorPage,
  openHelloWorld,
  openTestClient,
  screenshot,
  turnDemoOn,
  until,
  type Rig,
} from './harness.js';

type Outcome = { ok: true; value: any } | { ok: false; name: string; message: string };
function inClient(page: Page, body: string): Promise<Outcome> {
  return page.evaluate(
    `(async () => { const g = globalThis; return g.attempt(async () => { ${body} }); })()`,
  ) as Promise<Outcome>;
}

describe('the window shows who holds a reader and ends the hold (issue 13, item 6)', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await launchRig({ connector: 'test' });
  }, 60_000);
  afterAll(async () => {
    await rig?.close();
  });

  it("A's transaction holds hello-world back; End in the window releases it and hello-world completes", async () => {
    const window = await openConnectorPage(rig);
    await turnDemoOn(window);
    const a = await openTestClient(rig, TEST_CLIENT_ID);
    await a.evaluate(
      `(async () => { globalThis.c = await globalThis.lib.connect(${JSON.stringify(CONNECTOR_ID)}, { name: 'A holds' }); })()`,
    );
    const held = await inClient(
      a,
      `const { hContext } = await g.c.SCardEstablishContext(g.lib.SCARD_SCOPE_SYSTEM);
       const { readers } = await g.c.SCardListReaders(hContext, null);
       const { hCard } = await g.c.SCardConnect(hContext, readers[0], g.lib.SCARD_SHARE_SHARED, g.lib.SCARD_PROTOCOL_T1);
       await g.c.SCardBeginTransaction(hCard);
       g.hCard = hCard;
       return readers[0];`,
    );
    expect(held).toEqual({ ok: true, value: 'Gemalto PC Twin Reader 00 00' });

    // The window names A, first, as holding the transaction.
    const row = window.locator(`.holder[data-app-id="${TEST_CLIENT_ID}"]`);
    await row.waitFor();
    await expect(row.getAttribute('data-transaction')).resolves.toBe('true');
    const text = (await row.textContent()) ?? '';
    expect(text).toMatch(new RegExp(`^held by ${TEST_CLIENT_ID} \\(.+\\): 1 handle, transaction`));

    // Hello-world's run waits for the transaction (SCardConnect waits while another handle holds the lock).
    const app = await openHelloWorld(rig);
    await app.getByRole('button', { name: 'Run' }).click();
    await app.getByText('reader name: Gemalto PC Twin Reader 00 00').waitFor({ timeout: 15_000 });
    await until(
      async () => ((await hooksStats(rig)) as { pendingCalls: number }).pendingCalls > 0,
      "hello-world's call waiting in the connector",
    );
    expect(await app.locator('#status.ok, #status.failed').count()).toBe(0);
    await screenshot(window, 'connector-holder-transaction');

    // End asks first; the confirmation revokes A.
    await row.getByRole('button', { name: `End the hold of ${TEST_CLIENT_ID}` }).click();
    const confirm = row.getByRole('button', { name: `Confirm: end the hold of ${TEST_CLIENT_ID}` });
    await expect(confirm.isVisible()).resolves.toBe(true);
    await confirm.click();

    await app.locator('#status.ok, #status.failed').waitFor({ timeout: 30_000 });
    const lines = await app.locator('#log li').allTextContents();
    expect(lines.at(-1), lines.join('\n')).toBe('Hello world!');
    // A lost its hold (its handle is gone; its next call would ask the user again) and is no longer listed.
    await until(async () => (await row.count()) === 0, 'A to leave the holders');
    await expect(
      window.locator(`.permission[data-app-id="${TEST_CLIENT_ID}"]`).count(),
      'A no longer allowed',
    ).resolves.toBe(0);
    await app.close();
    await a.close();
    await window.close();
  }, 90_000);
});

function hooksStats(rig: Rig): Promise<unknown> {
  return rig.worker.evaluate(
    '(async () => { const t = globalThis.connectorTest; await t.started; return t.stats(); })()',
  );
}
