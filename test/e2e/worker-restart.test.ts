/**
 * End to end (3): the connector's service worker is stopped mid-session (CDP ServiceWorker.stopAllWorkers, what an
 * idle timeout does; Playwright's own attachment would otherwise keep the worker alive). The client's pending call
 * and its next call reject with a clear error; after reconnect() it works again on the new worker, whose instance id
 * differs, and the demo reader is back (the switch is remembered in chrome.storage).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONNECTOR_ID,
  connectorWorker,
  launchRig,
  openConnectorPage,
  openTestClient,
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

const HELLO = `
  const { hContext } = await g.c.SCardEstablishContext(g.lib.SCARD_SCOPE_SYSTEM);
  const { readers } = await g.c.SCardListReaders(hContext, null);
  const { hCard, dwActiveProtocol } = await g.c.SCardConnect(hContext, readers[0], g.lib.SCARD_SHARE_SHARED, g.lib.SCARD_PROTOCOL_T1);
  g.ctx = hContext;
  const pci = { dwProtocol: dwActiveProtocol };
  await g.c.SCardTransmit(hCard, pci, Uint8Array.of(0x00,0xa4,0x04,0x00,0x0a,0xa0,0x00,0x00,0x00,0x62,0x03,0x01,0x0c,0x06,0x01));
  const r = await g.c.SCardTransmit(hCard, pci, Uint8Array.of(0, 0, 0, 0));
  return new TextDecoder().decode(r.recvBuffer.subarray(0, r.recvBuffer.length - 2));
`;

describe('the connector worker restarting under a client', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await launchRig({ connector: 'release' });
  }, 60_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('rejects the pending and the next call clearly, then works again after reconnect', async () => {
    const connector = await openConnectorPage(rig);
    await turnDemoOn(connector);
    const client = await openTestClient(rig);
    await client.evaluate(
      `(async () => { globalThis.c = await globalThis.lib.connect(${JSON.stringify(CONNECTOR_ID)}, { name: 'e2e restart' }); })()`,
    );
    await expect(inClient(client, HELLO)).resolves.toEqual({ ok: true, value: 'Hello world!' });
    const firstInstance = await client.evaluate('globalThis.c.instance');

    // A call that stays pending: wait for a change that will not come (the card stays in).
    await client.evaluate(`(() => {
      const g = globalThis;
      g.pending = g.attempt(async () => {
        const { readers } = await g.c.SCardListReaders(g.ctx, null);
        const now = await g.c.SCardGetStatusChange(g.ctx, 0, [{ szReader: readers[0], dwCurrentState: 0 }]);
        return g.c.SCardGetStatusChange(g.ctx, g.lib.INFINITE, [{ szReader: readers[0], dwCurrentState: now.readerStates[0].dwEventState & ~g.lib.SCARD_STATE_CHANGED }]);
      });
    })()`);

    const cdp = await rig.context.newCDPSession(client);
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');

    const pending = (await client.evaluate('globalThis.pending')) as Outcome;
    expect(pending.ok).toBe(false);
    expect(pending.ok === false && pending.name).toMatch(/^SCARD_E_(NO_SERVICE|SERVICE_STOPPED)$/);
    const next = await inClient(client, 'return g.c.SCardIsValidContext(g.ctx);');
    expect(next.ok).toBe(false);
    expect(next.ok === false && next.name).toMatch(/^SCARD_E_(NO_SERVICE|SERVICE_STOPPED)$/);
    expect(next.ok === false && next.message.length).toBeGreaterThan(10);

    await client.evaluate('globalThis.c.reconnect()');
    await connectorWorker(rig);
    const secondInstance = await client.evaluate('globalThis.c.instance');
    expect(secondInstance).not.toBe(firstInstance);
    // The old context died with the old worker.
    const old = await inClient(client, 'return g.c.SCardIsValidContext(g.ctx);');
    expect(old.ok).toBe(false);
    // The new worker brings the demo reader back by itself (the switch is remembered).
    await until(
      async () =>
        (
          await inClient(
            client,
            'const { hContext } = await g.c.SCardEstablishContext(2); try { return (await g.c.SCardListReaders(hContext, null)).readers; } finally { await g.c.SCardReleaseContext(hContext); }',
          )
        ).ok,
      'the demo reader on the new worker',
    );
    await expect(inClient(client, HELLO)).resolves.toEqual({ ok: true, value: 'Hello world!' });
    // The connector page reconnected to the new worker by itself.
    await connector.getByText('Connected to the service').waitFor();
    await connector.locator('.reader[data-state="ready"]').waitFor();
    await cdp.detach();
  }, 60_000);
});
