/**
 * The connector service with permissions, in Node (ports, the real daemon, the demo reader; no chrome.*): a client's
 * calls wait for the user's answer, a client that leaves while asked withdraws the question, revoking closes its
 * contexts, and the service's log holds the client's calls with bytes redacted until the switch is on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectorService } from '../../../src/connector/service.js';
import {
  Permissions,
  type GrantStore,
  type PromptRequest,
  type StoredGrants,
} from '../../../src/connector/permissions.js';
import { openClient } from './open-client.js';
import {
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
  type Connection,
} from '../../../client-lib/src/index.js';
import { flush } from './fake-daemon.js';

const A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined);
});

function make(knownClients?: Record<string, string>) {
  let grants: StoredGrants = {};
  const store: GrantStore = { load: () => Promise.resolve(grants), save: (g) => Promise.resolve(void (grants = g)) };
  const prompts: PromptRequest[] = [];
  const permissions = new Permissions({
    store,
    openPrompt: (r) => void prompts.push(r),
    ...(knownClients ? { knownClients } : {}),
  });
  const service = new ConnectorService({ usb: null, version: '9.9.9', permissions });
  cleanup.push(() => service.shutdown());
  const open = (name: string): Promise<Connection> => openClient(service, A, name);
  return { service, permissions, prompts, open };
}

describe('ConnectorService with permissions', () => {
  it('withdraws the question when the client leaves while asked; asks again on its next connection', async () => {
    const { service, prompts, open } = make();
    await service.start();
    const c = await open('Leaving app');
    const waiting = c.SCardEstablishContext(SCARD_SCOPE_SYSTEM).catch((e: unknown) => e);
    await flush();
    expect(service.status().prompts.map((p) => p.id)).toEqual([A]);
    c.close();
    await waiting;
    await flush();
    expect(service.status().prompts).toEqual([]);
    const c2 = await open('Back again');
    void c2.SCardEstablishContext(SCARD_SCOPE_SYSTEM).catch(() => {});
    await flush();
    expect(prompts.map((p) => p.claimedName)).toEqual(['Leaving app', 'Back again']);
    c2.close();
  });

  it("revoking closes the client's contexts and exclusive hold at once; the log names its calls with bytes redacted by default", async () => {
    const { service, permissions, open } = make();
    await service.start();
    await service.setDemoReader(true);
    const c = await open('Card app');
    const ctxP = c.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    await flush();
    await permissions.answer(A, 'allow');
    const { hContext } = await ctxP;
    const { readers } = await c.SCardListReaders(hContext, null);
    const { hCard } = await c.SCardConnect(hContext, readers[0]!, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1);
    await c.SCardTransmit(
      hCard,
      { dwProtocol: SCARD_PROTOCOL_T1 },
      Uint8Array.of(0x00, 0xa4, 0x04, 0x00, 0x0a, 0xa0, 0, 0, 0, 0x62, 3, 1, 0x0c, 6, 1),
    );
    const text = service.logs
      .entries()
      .map((e) => `${e.source}: ${e.message}`)
      .join('\n');
    expect(text).toContain(
      'router: client "Card app" (aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa): SCardTransmit → SCARD_S_SUCCESS (APDU (15 bytes), response (2 bytes))',
    );
    expect(text).not.toContain('A0 00 00 00 62');
    expect(service.router.stats.daemonClients).toBe(1);

    await permissions.revoke(A);
    await flush(30);
    expect(service.router.stats.daemonClients).toBe(0);
    // The next call asks again; allowed, the old handle is gone and the card is free.
    const again = c.SCardStatus(hCard).catch((e: { code?: number }) => e.code);
    await flush();
    expect(service.status().prompts.map((p) => p.id)).toEqual([A]);
    await permissions.answer(A, 'allow');
    await expect(again).resolves.toBe(0x80100003);
    c.close();
  });

  it('shows who holds each reader in the status, live, and End revokes the holder, freeing the reader', async () => {
    const { service, permissions, open } = make();
    await service.start();
    await service.setDemoReader(true);
    const pushed: unknown[] = [];
    service.onChange((s) => pushed.push(s.readers[0]?.slots[0]?.holders));
    const c = await open('Holding app');
    const ctxP = c.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    await flush();
    await permissions.answer(A, 'allow');
    const { hContext } = await ctxP;
    const { readers } = await c.SCardListReaders(hContext, null);
    const { hCard } = await c.SCardConnect(hContext, readers[0]!, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    await c.SCardBeginTransaction(hCard);
    await flush();
    const holders = () => service.status().readers.find((r) => r.origin === 'demo')?.slots[0]?.holders;
    expect(holders()).toEqual([{ id: A, name: 'Holding app', handles: 1, transaction: true, exclusive: false }]);
    // The transaction raised no reader event, yet the window was told (the daemon's holder feed).
    expect(pushed).toContainEqual([{ id: A, name: 'Holding app', handles: 1, transaction: true, exclusive: false }]);

    await expect(service.endHold(A)).resolves.toMatch(/^Ended: aaaa.* lost access/);
    await flush(30);
    expect(holders()).toEqual([]);
    expect(service.status().permissions.map((p) => p.id)).toEqual([]);
    expect(service.router.stats.daemonClients).toBe(0);
    c.close();
  });

  it('End on an app allowed built in closes its clients (the hold ends) without revoking what cannot be revoked', async () => {
    const { service, open } = make({ [A]: 'Built-in app' });
    await service.start();
    await service.setDemoReader(true);
    const c = await open('Built-in app');
    const { hContext } = await c.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { readers } = await c.SCardListReaders(hContext, null);
    const { hCard } = await c.SCardConnect(hContext, readers[0]!, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1);
    await flush();
    const holders = () => service.status().readers.find((r) => r.origin === 'demo')?.slots[0]?.holders;
    expect(holders()).toEqual([{ id: A, name: 'Built-in app', handles: 1, transaction: false, exclusive: true }]);
    await expect(service.endHold(A)).resolves.toBe(
      `Ended: ${A}'s calls were cut; it is allowed by default and may connect again.`,
    );
    expect(holders()).toEqual([]);
    expect(service.router.stats.daemonClients).toBe(0);
    // Still allowed: its next call goes through without a prompt, and its old handle is gone.
    await expect(c.SCardStatus(hCard).catch((e: { code?: number }) => e.code)).resolves.toBe(0x80100003);
    expect(service.status().prompts).toEqual([]);
    c.close();
  });
});
