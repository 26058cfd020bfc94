/**
 * End to end (2): a third extension (the e2e test client) sends the connector malformed and hostile messages over raw
 * chrome.runtime ports — bad JSON shapes, unknown functions, huge payloads, another client's handles, floods. Each gets
 * an error answer or a closed port; the connector keeps serving the hello-world app throughout.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONNECTOR_ID,
  launchRig,
  openConnectorPage,
  openHelloWorld,
  openTestClient,
  runHelloWorld,
  turnDemoOn,
  until,
  type Rig,
} from './harness.js';

interface PortState {
  received: { kind?: string; ok?: boolean; name?: string; id?: number; message?: string }[];
  disconnected: boolean;
}

const open = (page: Page, name = 'e2e hostile') =>
  page.evaluate(([id, n]) => (globalThis as any).raw.open(id, n) as number, [CONNECTOR_ID, name] as const);
const post = (page: Page, port: number, message: unknown) =>
  page.evaluate(([p, m]) => (globalThis as any).raw.post(p, m) as { ok: boolean; error?: string }, [
    port,
    message,
  ] as const);
const state = (page: Page, port: number) => page.evaluate((p) => (globalThis as any).raw.state(p) as PortState, port);

/** Waits until the port got an answer or was closed; returns its state. */
async function answered(page: Page, port: number, count = 1): Promise<PortState> {
  return until(async () => {
    const s = await state(page, port);
    return s.disconnected || s.received.filter((m) => m.kind !== 'pong').length >= count ? s : null;
  }, `an answer on port ${port}`);
}

const refused = (s: PortState) =>
  s.disconnected || s.received.some((m) => m.kind === 'error' || (m.kind === 'result' && m.ok === false));

describe('hostile clients', () => {
  let rig: Rig;
  let client: Page;
  let app: Page;
  beforeAll(async () => {
    rig = await launchRig({ connector: 'release' });
    const connector = await openConnectorPage(rig);
    await turnDemoOn(connector);
    await connector.close();
    client = await openTestClient(rig);
    app = await openHelloWorld(rig);
  }, 60_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('answers malformed messages with an error (or closes the port)', async () => {
    const bad: unknown[] = [
      'hello',
      42,
      null,
      [],
      {},
      { v: 2, kind: 'ping', id: 1 },
      { v: 1, kind: 'nope', id: 2 },
      { v: 1, kind: 'call', id: 3, fn: 'SCardFoo', args: [] },
      { v: 1, kind: 'call', id: 4, fn: 'SCardConnect', args: ['x'] },
      { v: 1, kind: 'call', id: -5, fn: 'SCardEstablishContext', args: [2] },
      { v: 1, kind: 'call', id: 6, fn: 'constructor', args: [] },
      { v: 1, kind: 'call', id: 7, fn: '__proto__', args: [] },
      { v: 1, kind: 'call', id: 8, fn: 'SCardTransmit', args: [1, { dwProtocol: 2 }, 'zz', null] },
      {
        v: 1,
        kind: 'call',
        id: 9,
        fn: 'SCardGetStatusChange',
        args: [1, 0, Array.from({ length: 1000 }, () => ({ szReader: 'x', dwCurrentState: 0 }))],
      },
      { v: 1, kind: 'call', id: 10, fn: 'SCardEstablishContext', args: [2], extra: { deep: [[[[]]]] } },
    ];
    for (const message of bad) {
      const port = await open(client);
      expect((await post(client, port, message)).ok).toBe(true);
      const s = await answered(client, port);
      expect(refused(s), `${JSON.stringify(message).slice(0, 80)} → ${JSON.stringify(s).slice(0, 300)}`).toBe(true);
    }
    expect((await runHelloWorld(app)).ok).toBe(true);
  }, 60_000);

  it('refuses huge payloads', async () => {
    const port = await open(client);
    const hugeHex = 'ab'.repeat(1_000_000);
    await post(client, port, {
      v: 1,
      kind: 'call',
      id: 1,
      fn: 'SCardTransmit',
      args: [1, { dwProtocol: 2 }, hugeHex, null],
    });
    await post(client, port, {
      v: 1,
      kind: 'call',
      id: 2,
      fn: 'SCardListReaders',
      args: [1, 'g'.repeat(2_000_000), null],
    });
    const s = await answered(client, port, 2);
    expect(refused(s)).toBe(true);
    expect(s.disconnected || s.received.filter((m) => m.kind === 'error' || m.ok === false).length === 2).toBe(true);
    expect((await runHelloWorld(app)).ok).toBe(true);
  }, 60_000);

  it("refuses another client's handles with SCARD_E_INVALID_HANDLE and leaves them alone", async () => {
    const owner = await client.evaluate(async (id) => {
      const g = globalThis as any;
      g.owner = await g.lib.connect(id, { name: 'e2e owner' });
      return (await g.owner.SCardEstablishContext(g.lib.SCARD_SCOPE_SYSTEM)).hContext as number;
    }, CONNECTOR_ID);
    const thief = await open(client, 'e2e thief');
    await post(client, thief, { v: 1, kind: 'call', id: 1, fn: 'SCardReleaseContext', args: [owner] });
    await post(client, thief, { v: 1, kind: 'call', id: 2, fn: 'SCardListReaders', args: [owner, null, null] });
    await post(client, thief, { v: 1, kind: 'call', id: 3, fn: 'SCardCancel', args: [owner] });
    const s = await answered(client, thief, 3);
    const results = s.received.filter((m) => m.kind === 'result');
    expect(results.map((m) => [m.id, m.ok, m.name])).toEqual([
      [1, false, 'SCARD_E_INVALID_HANDLE'],
      [2, false, 'SCARD_E_INVALID_HANDLE'],
      [3, false, 'SCARD_E_INVALID_HANDLE'],
    ]);
    const stillValid = await client.evaluate(async (h) => {
      const g = globalThis as any;
      return g.attempt(() => g.owner.SCardIsValidContext(h));
    }, owner);
    expect(stillValid).toEqual({ ok: true, value: undefined });
  }, 60_000);

  it('survives floods of pings, calls and malformed messages', async () => {
    const flood = await open(client, 'e2e flood');
    await client.evaluate((p) => {
      const raw = (globalThis as any).raw;
      for (let i = 0; i < 3000; i++) raw.post(p, { v: 1, kind: 'ping', id: i });
      for (let i = 0; i < 2000; i++)
        raw.post(p, { v: 1, kind: 'call', id: 10_000 + i, fn: 'SCardIsValidContext', args: [i] });
    }, flood);
    const s = await until(
      async () => {
        const st = await state(client, flood);
        return st.disconnected || st.received.length >= 5000 ? st : null;
      },
      'the flood to be answered',
      45_000,
    );
    expect(s.disconnected || s.received.length === 5000).toBe(true);

    const junk = await open(client, 'e2e junk');
    await client.evaluate((p) => {
      const raw = (globalThis as any).raw;
      for (let i = 0; i < 200; i++) raw.post(p, { junk: i });
    }, junk);
    // The malformed-message budget closes the port.
    await until(async () => (await state(client, junk)).disconnected, 'the junk port to be closed');

    const run = await runHelloWorld(app);
    expect(run.ok, run.lines.join('\n')).toBe(true);
  }, 90_000);

  // The connector gives each client pcscd's 200 contexts (DaemonOptions.contextLimitScope 'client').
  it('one client cannot exhaust the contexts of every other client', async () => {
    const hog = await open(client, 'e2e context hog');
    try {
      await client.evaluate((p) => {
        const raw = (globalThis as any).raw;
        for (let i = 0; i < 250; i++)
          raw.post(p, { v: 1, kind: 'call', id: i, fn: 'SCardEstablishContext', args: [2] });
      }, hog);
      await until(async () => {
        const st = await state(client, hog);
        return st.disconnected || st.received.length >= 250;
      }, 'the contexts to be answered');
      const run = await runHelloWorld(app);
      expect(run.ok, run.lines.join('\n')).toBe(true);
    } finally {
      await client.evaluate((p) => (globalThis as any).raw.close(p), hog);
    }
  }, 60_000);
});
