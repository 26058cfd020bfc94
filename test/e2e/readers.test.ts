/**
 * End to end (4) and (5), on the connector's test build (its worker exposes `connectorTest` hooks):
 * the demo card taken out and the demo reader unplugged while an app holds a card handle — errors by PC/SC name,
 * then working again once the card is back / the reader plugged in again; and a class-0x0B reader that Chrome refuses
 * (claimInterface → SecurityError) shown as "Blocked by Chrome" with the explanation.
 */
import type { Page, Worker } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTOR_ID, launchRig, openConnectorPage, openTestClient, screenshot, until, type Rig } from './harness.js';

type Outcome = { ok: true; value: any } | { ok: false; name: string; message: string };

/** Runs `body` in the test client page, where `lib`, `attempt` and the connection `c` (globalThis.c) are in scope. */
function inClient(page: Page, body: string): Promise<Outcome> {
  return page.evaluate(
    `(async () => { const g = globalThis; return g.attempt(async () => { ${body} }); })()`,
  ) as Promise<Outcome>;
}

const hooks = (worker: Worker, body: string) =>
  worker.evaluate(`(async () => { const t = globalThis.connectorTest; await t.started; ${body} })()`);

const HELLO = `
  const { hContext } = await g.c.SCardEstablishContext(lib.SCARD_SCOPE_SYSTEM);
  const { readers } = await g.c.SCardListReaders(hContext, null);
  const { hCard, dwActiveProtocol } = await g.c.SCardConnect(hContext, readers[0], lib.SCARD_SHARE_SHARED, lib.SCARD_PROTOCOL_T1);
  g.ctx = hContext; g.card = hCard; g.pci = { dwProtocol: dwActiveProtocol };
  await g.c.SCardTransmit(hCard, g.pci, Uint8Array.of(0x00,0xa4,0x04,0x00,0x0a,0xa0,0x00,0x00,0x00,0x62,0x03,0x01,0x0c,0x06,0x01));
  const r = await g.c.SCardTransmit(hCard, g.pci, Uint8Array.of(0, 0, 0, 0));
  return new TextDecoder().decode(r.recvBuffer.subarray(0, r.recvBuffer.length - 2));
`.replaceAll('lib.', 'g.lib.');

describe('card and reader events, blocked readers (connector test build)', () => {
  let rig: Rig;
  let client: Page;
  beforeAll(async () => {
    rig = await launchRig({ connector: 'test' });
    await hooks(rig.worker, 'await t.setDemoReader(true);');
    client = await openTestClient(rig);
    await client.evaluate(
      `(async () => { globalThis.c = await globalThis.lib.connect(${JSON.stringify(CONNECTOR_ID)}, { name: 'e2e readers' }); })()`,
    );
  }, 60_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('card removed under a handle: SCARD_W_REMOVED_CARD, then working again after reinsertion', async () => {
    await expect(inClient(client, HELLO)).resolves.toEqual({ ok: true, value: 'Hello world!' });
    await hooks(rig.worker, 't.removeDemoCard();');
    const after = await inClient(client, 'return g.c.SCardTransmit(g.card, g.pci, Uint8Array.of(0, 0, 0, 0));');
    expect(after.ok).toBe(false);
    expect(after.ok === false && after.name).toBe('SCARD_W_REMOVED_CARD');
    // The connector page follows: no card.
    const page = await openConnectorPage(rig);
    await page.getByText('no card', { exact: false }).waitFor();
    // A new connection attempt without a card names the reason too.
    const noCard = await inClient(
      client,
      'return g.c.SCardConnect(g.ctx, (await g.c.SCardListReaders(g.ctx, null)).readers[0], g.lib.SCARD_SHARE_SHARED, g.lib.SCARD_PROTOCOL_T1);',
    );
    expect(noCard.ok === false && noCard.name).toBe('SCARD_E_NO_SMARTCARD');
    await hooks(rig.worker, 't.insertDemoCard();');
    await page.getByText('card present', { exact: false }).waitFor();
    await inClient(
      client,
      'await g.c.SCardDisconnect(g.card, g.lib.SCARD_LEAVE_CARD).catch(() => {}); await g.c.SCardReleaseContext(g.ctx);',
    );
    await expect(inClient(client, HELLO)).resolves.toEqual({ ok: true, value: 'Hello world!' });
    await page.close();
  }, 60_000);

  it('reader unplugged under a handle: the error names it, and the reader works again once plugged back', async () => {
    await expect(
      inClient(client, 'return g.c.SCardStatus(g.card).then((s) => s.szReaderName);'),
    ).resolves.toMatchObject({ ok: true });
    await hooks(rig.worker, 'await t.setDemoReader(false);');
    const after = await inClient(client, 'return g.c.SCardTransmit(g.card, g.pci, Uint8Array.of(0, 0, 0, 0));');
    expect(after.ok).toBe(false);
    // pcscd 1.9.9: the removed reader's handle list is gone, so the server finds the handle in no reader
    // (SCARD_E_INVALID_VALUE), while Status reports the reader itself as gone.
    expect(after.ok === false && after.name).toBe('SCARD_E_INVALID_VALUE');
    const status = await inClient(client, 'return g.c.SCardStatus(g.card);');
    expect(status.ok === false && status.name).toBe('SCARD_E_READER_UNAVAILABLE');
    const list = await inClient(client, 'return g.c.SCardListReaders(g.ctx, null);');
    expect(list.ok === false && list.name).toBe('SCARD_E_NO_READERS_AVAILABLE');
    await hooks(rig.worker, 'await t.setDemoReader(true);');
    await until(
      async () => (await inClient(client, 'return (await g.c.SCardListReaders(g.ctx, null)).readers.length;')).ok,
      'the reader to come back',
    );
    await inClient(client, 'await g.c.SCardReleaseContext(g.ctx);');
    await expect(inClient(client, HELLO)).resolves.toEqual({ ok: true, value: 'Hello world!' });
  }, 60_000);

  it('shows a class-0x0B reader that Chrome refuses as "Blocked by Chrome", with the explanation', async () => {
    const page = await openConnectorPage(rig);
    const entry = (await hooks(rig.worker, 'return t.addBlockedReader();')) as { state: string; reason: string };
    expect(entry.state).toBe('blocked');
    const row = page.locator('.reader[data-state="blocked"]');
    await row.waitFor();
    await expect(row.locator('.badge').textContent()).resolves.toBe('Blocked by Chrome');
    await expect(row.locator('.reason').textContent()).resolves.toContain(
      'Chrome does not let extensions use this reader',
    );
    await screenshot(page, 'connector-blocked-reader');
    // The demo reader is unaffected.
    await expect(inClient(client, HELLO)).resolves.toEqual({ ok: true, value: 'Hello world!' });
    await page.close();
  }, 60_000);
});
