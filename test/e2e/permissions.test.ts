/**
 * End to end: consent, isolation, cleanup and the log, on the connector's test build with nobody pre-approved and two
 * client extensions (A: test/e2e/client-extension, B: the same page under another key).
 *
 *   - the prompt: one window for every port of a client, its calls wait; Allow lets them through and is remembered;
 *     Block denies with a clear SCARD_W_SECURITY_VIOLATION, reveals no reader, and still answers pings;
 *   - the window lists allowed and blocked apps; Revoke closes the app's contexts at once and its next call asks again;
 *   - B cannot use A's context or card handle (SCARD_E_INVALID_HANDLE);
 *   - A's transaction and exclusive hold are released when its port drops, its page closes or the extension is
 *     disabled, and B, waiting on them, proceeds at once;
 *   - the log: APDU bytes absent by default, present with the switch on, PIN bytes never; exported as a file.
 */
import { readFileSync } from 'node:fs';
import type { Page, Worker } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extensionUrl } from '../../scripts/chromium.mjs';
import {
  CONNECTOR_ID,
  TEST_CLIENT_B_ID,
  TEST_CLIENT_ID,
  launchRig,
  openConnectorPage,
  openTestClient,
  screenshot,
  until,
  type Rig,
} from './harness.js';

type Outcome = { ok: true; value: any } | { ok: false; name: string; message: string };

/** Runs `body` in a test client page (`g` is its globalThis: `g.lib`, `g.raw`, connections the test stored there). */
function inClient(page: Page, body: string): Promise<Outcome> {
  return page.evaluate(
    `(async () => { const g = globalThis; return g.attempt(async () => { ${body} }); })()`,
  ) as Promise<Outcome>;
}
/** Starts `body` in the page without waiting: its outcome lands in g.outcomes[key]. */
function startInClient(page: Page, key: string, body: string): Promise<unknown> {
  return page.evaluate(
    `(() => { const g = globalThis; g.outcomes ??= {}; g.outcomes[${JSON.stringify(key)}] = 'pending'; g.attempt(async () => { ${body} }).then((o) => { g.outcomes[${JSON.stringify(key)}] = o; }); })()`,
  );
}
const outcome = (page: Page, key: string) =>
  page.evaluate(`globalThis.outcomes[${JSON.stringify(key)}]`) as Promise<Outcome | 'pending'>;
const connect = (page: Page, as: string, name: string) =>
  page.evaluate(
    `(async () => { globalThis[${JSON.stringify(as)}] = await globalThis.lib.connect(${JSON.stringify(CONNECTOR_ID)}, { name: ${JSON.stringify(name)} }); })()`,
  );

const hooks = (worker: Worker, body: string) =>
  worker.evaluate(`(async () => { const t = globalThis.connectorTest; await t.started; ${body} })()`);

const PROMPT_URL = extensionUrl(CONNECTOR_ID, 'pages/prompt.html');
const promptPages = (rig: Rig) => rig.context.pages().filter((p) => p.url().startsWith(PROMPT_URL));
const nextPrompt = (rig: Rig) =>
  rig.context.waitForEvent('page', { predicate: (p) => p.url().startsWith(PROMPT_URL), timeout: 15_000 });

/** What a client holds before it dies: a shared handle with a transaction, or an exclusive handle. */
const HOLD = (share: 'SHARED' | 'EXCLUSIVE') => `
  const { hContext } = await g.c.SCardEstablishContext(g.lib.SCARD_SCOPE_SYSTEM);
  const { readers } = await g.c.SCardListReaders(hContext, null);
  const { hCard } = await g.c.SCardConnect(hContext, readers[0], g.lib.SCARD_SHARE_${share}, g.lib.SCARD_PROTOCOL_T1);
  if (${share === 'SHARED'}) await g.c.SCardBeginTransaction(hCard);
  g.ctx = hContext; g.card = hCard; g.reader = readers[0];
  return { hContext, hCard };
`;
const SELECT_HELLO = `
  const pci = { dwProtocol: g.lib.SCARD_PROTOCOL_T1 };
  await g.c.SCardTransmit(g.card, pci, Uint8Array.of(0x00,0xa4,0x04,0x00,0x0a,0xa0,0x00,0x00,0x00,0x62,0x03,0x01,0x0c,0x06,0x01));
  const r = await g.c.SCardTransmit(g.card, pci, Uint8Array.of(0, 0, 0, 0));
  return new TextDecoder().decode(r.recvBuffer.subarray(0, r.recvBuffer.length - 2));
`;

describe('consent, isolation, cleanup and the log (connector test build, nobody pre-approved)', () => {
  let rig: Rig;
  let window: Page;
  let a: Page;
  let b: Page;
  beforeAll(async () => {
    rig = await launchRig({ connector: 'test', approve: [] });
    await hooks(rig.worker, 'await t.setDemoReader(true);');
    window = await openConnectorPage(rig);
    a = await openTestClient(rig, TEST_CLIENT_ID);
    b = await openTestClient(rig, TEST_CLIENT_B_ID);
  }, 60_000);
  afterAll(async () => {
    await rig?.close();
  });

  it("asks once for all of a client's ports, its calls waiting; Allow lets them all through and is remembered", async () => {
    const prompt = nextPrompt(rig);
    await connect(a, 'c', 'Client A, port one');
    await connect(a, 'c2', 'Client A, port two');
    // Pings are answered without asking anyone (connect() waits for a pong).
    await startInClient(a, 'one', 'return (await g.c.SCardEstablishContext(0)).hContext > 0;');
    await startInClient(a, 'two', 'return (await g.c2.SCardEstablishContext(0)).hContext > 0;');
    const p = await prompt;
    await p.locator('#request:not([hidden])').waitFor();
    // Chrome's name for the extension (the test build has "management") and its id.
    await expect(p.locator('#app-name').textContent()).resolves.toBe('Smart card connector e2e test client');
    await expect(p.locator('#app-id').textContent()).resolves.toBe(TEST_CLIENT_ID);
    await screenshot(p, 'permission-prompt');
    await new Promise((r) => setTimeout(r, 300));
    expect(promptPages(rig)).toHaveLength(1);
    await expect(outcome(a, 'one')).resolves.toBe('pending');
    await expect(outcome(a, 'two')).resolves.toBe('pending');
    await p.getByRole('button', { name: 'Allow' }).click();
    await until(
      async () => (await outcome(a, 'one')) !== 'pending' && (await outcome(a, 'two')) !== 'pending',
      'the waiting calls',
    );
    await expect(outcome(a, 'one')).resolves.toEqual({ ok: true, value: true });
    await expect(outcome(a, 'two')).resolves.toEqual({ ok: true, value: true });
    await until(async () => p.isClosed(), 'the prompt to close');
    // Remembered: listed in the window, and a new port is not asked again.
    const row = window.locator(`.permission[data-app-id="${TEST_CLIENT_ID}"]`);
    await expect(row.locator('.badge').textContent()).resolves.toMatch(/^Allowed by you/);
    await connect(a, 'c3', 'Client A, port three');
    await expect(inClient(a, 'return (await g.c3.SCardEstablishContext(0)).hContext > 0;')).resolves.toEqual({
      ok: true,
      value: true,
    });
    expect(promptPages(rig)).toHaveLength(0);
    await a.evaluate('globalThis.c2.close(); globalThis.c3.close();');
  }, 60_000);

  it('Block: a clear SCARD_W_SECURITY_VIOLATION, no reader names, states or events; pings still answered', async () => {
    const prompt = nextPrompt(rig);
    const port = (await b.evaluate(`globalThis.raw.open(${JSON.stringify(CONNECTOR_ID)}, 'Client B raw')`)) as number;
    await b.evaluate(`globalThis.raw.post(${port}, { v: 1, kind: 'subscribe', id: 1 })`);
    await b.evaluate(
      `globalThis.raw.post(${port}, { v: 1, kind: 'call', id: 2, fn: 'SCardEstablishContext', args: [0] })`,
    );
    await b.evaluate(
      `globalThis.raw.post(${port}, { v: 1, kind: 'call', id: 3, fn: 'SCardListReaders', args: [1, null, null] })`,
    );
    const p = await prompt;
    await p.locator('#request:not([hidden])').waitFor();
    await expect(p.locator('#app-name').textContent()).resolves.toBe('Smart card connector e2e test client B');
    await p.getByRole('button', { name: 'Block' }).click();
    const state = () =>
      b.evaluate(`globalThis.raw.state(${port})`) as Promise<{ received: any[]; disconnected: boolean }>;
    await until(async () => (await state()).received.length >= 3, 'three answers');
    await b.evaluate(`globalThis.raw.post(${port}, { v: 1, kind: 'ping', id: 4 })`);
    await until(async () => (await state()).received.some((m) => m.kind === 'pong'), 'the pong');
    // A card event must not reach B either.
    await hooks(rig.worker, 't.removeDemoCard(); await new Promise((r) => setTimeout(r, 300)); t.insertDemoCard();');
    await new Promise((r) => setTimeout(r, 500));
    const { received, disconnected } = await state();
    expect(disconnected).toBe(false);
    const results = received.filter((m) => m.kind === 'result');
    expect(results.map((m) => m.id).sort()).toEqual([1, 2, 3]);
    for (const m of results) {
      expect(m).toMatchObject({ ok: false, name: 'SCARD_W_SECURITY_VIOLATION' });
      expect(m.message).toContain('the user blocked');
      expect(m.message).toContain('Smart Card Connector window');
    }
    expect(received.filter((m) => m.kind === 'event')).toEqual([]);
    expect(JSON.stringify(received)).not.toContain('Gemalto');
    expect(received.find((m) => m.kind === 'pong')).toMatchObject({ id: 4 });
    // The client library sees the same, by name.
    await connect(b, 'c', 'Client B');
    const denied = await inClient(b, 'return g.c.SCardEstablishContext(0);');
    expect(denied).toMatchObject({ ok: false, name: 'SCARD_W_SECURITY_VIOLATION' });
    expect(promptPages(rig)).toHaveLength(0);
    await b.evaluate(`globalThis.raw.close(${port})`);

    // Unblock in the window: the next call asks again; this time B is allowed (the isolation tests need it).
    const row = window.locator(`.permission[data-app-id="${TEST_CLIENT_B_ID}"]`);
    await expect(row.locator('.badge').textContent()).resolves.toMatch(/^Blocked by you/);
    await row.getByRole('button', { name: /^Unblock/ }).click();
    await row.waitFor({ state: 'detached' });
    const again = nextPrompt(rig);
    await startInClient(b, 'after-unblock', 'return (await g.c.SCardEstablishContext(0)).hContext > 0;');
    await (await again).getByRole('button', { name: 'Allow' }).click();
    await until(async () => (await outcome(b, 'after-unblock')) !== 'pending', 'B after Allow');
    await expect(outcome(b, 'after-unblock')).resolves.toEqual({ ok: true, value: true });
  }, 60_000);

  it("B cannot use A's context or card handle: SCARD_E_INVALID_HANDLE", async () => {
    const held = await inClient(a, HOLD('SHARED'));
    expect(held.ok).toBe(true);
    const { hContext, hCard } = (held as { value: { hContext: number; hCard: number } }).value;
    await expect(inClient(b, `return g.c.SCardIsValidContext(${hContext});`)).resolves.toMatchObject({
      ok: false,
      name: 'SCARD_E_INVALID_HANDLE',
    });
    await expect(inClient(b, `return g.c.SCardListReaders(${hContext}, null);`)).resolves.toMatchObject({
      ok: false,
      name: 'SCARD_E_INVALID_HANDLE',
    });
    await expect(
      inClient(b, `return g.c.SCardTransmit(${hCard}, { dwProtocol: 2 }, Uint8Array.of(0, 0, 0, 0));`),
    ).resolves.toMatchObject({
      ok: false,
      name: 'SCARD_E_INVALID_HANDLE',
    });
    await expect(inClient(b, `return g.c.SCardEndTransaction(${hCard}, 0);`)).resolves.toMatchObject({
      ok: false,
      name: 'SCARD_E_INVALID_HANDLE',
    });
    await expect(inClient(b, `return g.c.SCardDisconnect(${hCard}, 0);`)).resolves.toMatchObject({
      ok: false,
      name: 'SCARD_E_INVALID_HANDLE',
    });
    // A's handle still works.
    await expect(inClient(a, SELECT_HELLO)).resolves.toEqual({ ok: true, value: 'Hello world!' });
    await expect(
      inClient(
        a,
        'await g.c.SCardEndTransaction(g.card, 0); await g.c.SCardDisconnect(g.card, 0); await g.c.SCardReleaseContext(g.ctx);',
      ),
    ).resolves.toMatchObject({ ok: true });
  }, 60_000);

  /** A holds a transaction (shared) or the card (exclusive), B waits on it; A dies `how`; B proceeds at once. */
  async function dies(how: (page: Page) => Promise<void>, share: 'SHARED' | 'EXCLUSIVE'): Promise<void> {
    const holder = await openTestClient(rig, TEST_CLIENT_ID);
    await connect(holder, 'c', `holder (${share})`);
    expect(await inClient(holder, HOLD(share))).toMatchObject({ ok: true });
    await expect(
      inClient(
        b,
        'g.ctx = (await g.c.SCardEstablishContext(0)).hContext; g.reader = (await g.c.SCardListReaders(g.ctx, null)).readers[0];',
      ),
    ).resolves.toMatchObject({
      ok: true,
    });
    if (share === 'SHARED') {
      // B's SCardConnect waits for A's transaction to end (as pcscd's does), then B takes its own.
      await startInClient(
        b,
        'wait',
        'g.card = (await g.c.SCardConnect(g.ctx, g.reader, g.lib.SCARD_SHARE_SHARED, g.lib.SCARD_PROTOCOL_T1)).hCard; await g.c.SCardBeginTransaction(g.card); return "got the transaction";',
      );
    } else {
      // B cannot connect while A holds the card exclusively, and waits for the reader's state to change.
      await expect(
        inClient(b, 'return g.c.SCardConnect(g.ctx, g.reader, g.lib.SCARD_SHARE_SHARED, g.lib.SCARD_PROTOCOL_T1);'),
      ).resolves.toMatchObject({
        ok: false,
        name: 'SCARD_E_SHARING_VIOLATION',
      });
      await startInClient(
        b,
        'wait',
        `const now = (await g.c.SCardGetStatusChange(g.ctx, 0, [{ szReader: g.reader, dwCurrentState: 0 }])).readerStates[0];
         if (!(now.dwEventState & g.lib.SCARD_STATE_EXCLUSIVE)) return 'not exclusive to begin with';
         await g.c.SCardGetStatusChange(g.ctx, g.lib.INFINITE, [{ szReader: g.reader, dwCurrentState: now.dwEventState & ~g.lib.SCARD_STATE_CHANGED }]);
         g.card = (await g.c.SCardConnect(g.ctx, g.reader, g.lib.SCARD_SHARE_SHARED, g.lib.SCARD_PROTOCOL_T1)).hCard;
         await g.c.SCardBeginTransaction(g.card);
         return "got the transaction";`,
      );
    }
    await new Promise((r) => setTimeout(r, 300));
    await expect(outcome(b, 'wait')).resolves.toBe('pending');
    await how(holder);
    await until(async () => (await outcome(b, 'wait')) !== 'pending', 'B to proceed', 5_000);
    await expect(outcome(b, 'wait')).resolves.toEqual({ ok: true, value: 'got the transaction' });
    await inClient(
      b,
      'await g.c.SCardEndTransaction(g.card, 0); await g.c.SCardDisconnect(g.card, 0); await g.c.SCardReleaseContext(g.ctx);',
    );
    if (!holder.isClosed()) await holder.close();
  }

  it('a client whose port drops releases its transaction; the client waiting on it proceeds at once', async () => {
    await dies((holder) => holder.evaluate('globalThis.c.close()'), 'SHARED');
  }, 60_000);

  it('a client whose page closes (a crash, as far as the connector can tell) releases its exclusive hold', async () => {
    await dies((holder) => holder.close(), 'EXCLUSIVE');
  }, 60_000);

  it('a client extension disabled (chrome.management) releases what it held', async () => {
    try {
      await dies(
        () =>
          hooks(rig.worker, `await t.setExtensionEnabled(${JSON.stringify(TEST_CLIENT_ID)}, false);`) as Promise<void>,
        'SHARED',
      );
    } finally {
      await hooks(rig.worker, `await t.setExtensionEnabled(${JSON.stringify(TEST_CLIENT_ID)}, true);`);
    }
    a = await openTestClient(rig, TEST_CLIENT_ID);
    await connect(a, 'c', 'Client A, again');
  }, 60_000);

  it("Revoke in the window closes the app's contexts at once (its exclusive hold too) and its next call asks again", async () => {
    expect((await inClient(a, HOLD('EXCLUSIVE'))).ok).toBe(true);
    const before = (await hooks(rig.worker, 'return t.stats();')) as { daemonClients: number };
    await expect(
      inClient(
        b,
        'g.ctx = (await g.c.SCardEstablishContext(0)).hContext; g.reader = (await g.c.SCardListReaders(g.ctx, null)).readers[0]; return g.c.SCardConnect(g.ctx, g.reader, g.lib.SCARD_SHARE_SHARED, g.lib.SCARD_PROTOCOL_T1);',
      ),
    ).resolves.toMatchObject({
      ok: false,
      name: 'SCARD_E_SHARING_VIOLATION',
    });
    const row = window.locator(`.permission[data-app-id="${TEST_CLIENT_ID}"]`);
    await row.getByRole('button', { name: /^Revoke/ }).focus();
    await screenshot(window, 'connector-window-apps');
    await window.keyboard.press('Enter'); // keyboard operable
    await row.waitFor({ state: 'detached' });
    // A's hold is gone: B connects at once.
    await until(
      async () =>
        (
          await inClient(
            b,
            'g.card = (await g.c.SCardConnect(g.ctx, g.reader, g.lib.SCARD_SHARE_SHARED, g.lib.SCARD_PROTOCOL_T1)).hCard; return true;',
          )
        ).ok,
      'B to connect',
    );
    const after = (await hooks(rig.worker, 'return t.stats();')) as { daemonClients: number };
    expect(after.daemonClients).toBeLessThan(before.daemonClients + 1);
    await inClient(b, 'await g.c.SCardDisconnect(g.card, 0);');
    // A's next call asks again; allowed, its old context is gone.
    const prompt = nextPrompt(rig);
    await startInClient(a, 'after-revoke', 'return g.c.SCardIsValidContext(g.ctx);');
    await (await prompt).getByRole('button', { name: 'Allow' }).click();
    await until(async () => (await outcome(a, 'after-revoke')) !== 'pending', 'A after Allow');
    await expect(outcome(a, 'after-revoke')).resolves.toMatchObject({ ok: false, name: 'SCARD_E_INVALID_HANDLE' });
  }, 60_000);

  it('logs calls by client with APDU bytes as lengths by default, bytes with the switch on, PIN bytes never; exports a file', async () => {
    const logText = async () => (await window.locator('#log li').allTextContents()).join('\n');
    const hold =
      'g.ctx = (await g.c.SCardEstablishContext(0)).hContext; g.reader = (await g.c.SCardListReaders(g.ctx, null)).readers[0]; g.card = (await g.c.SCardConnect(g.ctx, g.reader, g.lib.SCARD_SHARE_SHARED, g.lib.SCARD_PROTOCOL_T1)).hCard;';
    const PIN_APDU = 'Uint8Array.of(0x00, 0x20, 0x00, 0x80, 0x08, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38)';
    const PIN_CONTROL = 'Uint8Array.of(0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38)';
    const pinCalls = `
      await g.c.SCardTransmit(g.card, { dwProtocol: 2 }, ${PIN_APDU}).catch(() => {});
      await g.c.SCardControl(g.card, 0x42000000 + 3400 * 4 + 6, ${PIN_CONTROL}).catch(() => {});`;
    expect((await inClient(a, hold)).ok).toBe(true);
    await expect(inClient(a, SELECT_HELLO)).resolves.toEqual({ ok: true, value: 'Hello world!' });
    await inClient(a, pinCalls);
    await until(async () => (await logText()).includes('SCardControl'), 'the calls in the log view');
    const off = await logText();
    expect(off).toContain(
      'client "Client A, again" (fhjfogpingjmigcfkipfiefoebccegbj): SCardTransmit → SCARD_S_SUCCESS (APDU (15 bytes), response (2 bytes))',
    );
    expect(off).toContain('SCardTransmit → SCARD_S_SUCCESS (APDU (4 bytes), response (14 bytes))');
    expect(off).not.toContain('A0 00 00 00 62');
    expect(off).not.toContain('48 65 6C 6C');
    expect(off).not.toContain('31 32 33 34');

    // The switch: labelled as sensitive, keyboard operable, remembered.
    const apduSwitch = window.getByRole('switch', { name: 'Log APDUs (sensitive)' });
    await expect(apduSwitch.isChecked()).resolves.toBe(false);
    await apduSwitch.focus();
    await window.keyboard.press('Space');
    await until(async () => (await hooks(rig.worker, 'return t.status().logApdus;')) === true, 'APDU logging on');
    await expect(inClient(a, SELECT_HELLO)).resolves.toEqual({ ok: true, value: 'Hello world!' });
    await inClient(a, pinCalls);
    await until(async () => (await logText()).includes('48 65 6C 6C 6F'), 'the APDUs in the log view');
    const on = await logText();
    expect(on).toContain('APDU (15 bytes): 00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01, response (2 bytes): 90 00');
    expect(on).toContain('response (14 bytes): 48 65 6C 6C 6F 20 77 6F 72 6C 64 21 90 00');
    expect(on).toContain('APDU (13 bytes): 00 20 00 80 [PIN data redacted: 9 bytes]');
    expect(on).toContain('input (8 bytes)');
    expect(on).not.toContain('31 32 33 34');
    await screenshot(window, 'connector-window-log');

    // Export: a text file with the same entries.
    const download = window.waitForEvent('download');
    await window.getByRole('button', { name: 'Export log…' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/^smart-card-connector-log-.*\.txt$/);
    const text = readFileSync((await file.path())!, 'utf8');
    expect(text).toMatch(/^Smart Card Connector \d+\.\d+\.\d+ log, exported /);
    expect(text).toContain('APDU logging: on');
    expect(text).toContain('00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01');
    expect(text).toContain('[PIN data redacted: 9 bytes]');
    expect(text).not.toContain('31 32 33 34');
    expect(text).toContain('the user blocked');

    await apduSwitch.uncheck();
    await until(async () => (await hooks(rig.worker, 'return t.status().logApdus;')) === false, 'APDU logging off');
    await inClient(a, 'await g.c.SCardDisconnect(g.card, 0); await g.c.SCardReleaseContext(g.ctx);');
  }, 60_000);

  it("the window shows the demo card's ATR decoded, live", async () => {
    const row = window.locator('.reader[data-state="ready"]').first();
    await expect(row.locator('.atr').textContent()).resolves.toMatch(/^3B /);
    await expect(row.locator('.atr-info').textContent()).resolves.toContain('T=1');
    await hooks(rig.worker, 't.removeDemoCard();');
    await row.locator('.atr').waitFor({ state: 'detached' });
    await hooks(rig.worker, 't.insertDemoCard();');
    await row.locator('.atr').waitFor();
    await window.locator('#about-heading').scrollIntoViewIfNeeded();
    await screenshot(window, 'connector-window');
  }, 60_000);
});
