/**
 * End to end, issue 13: hostile extensions against consent, the log and the prompt, on the connector's test build.
 * Client A (test/e2e/client-extension) is allowed and plays the hostile allowed app (it closes other apps' prompts and
 * sends PIN commands); client B (the same page under another key) was never allowed and plays the stranger (forged
 * names, floods, malformed messages carrying PINs, re-prompting after every dismissal). Each attack is shown to fail:
 *   5. PIN bytes never reach the log: ENVELOPE carrying a VERIFY, PUT DATA of the resetting code, error texts;
 *   4. a name with a newline forges no log line; a stranger's flood evicts neither A's entries nor the decisions;
 *   3. the prompt leads with the id, strips bidirectional overrides, isolates and wraps the name, flags mixed scripts;
 *   1. no button is focused or active when the prompt shows (Enter answers nothing); re-prompts come after a delay;
 *   2. another extension closing the prompt is not an answer: the request stays, listed and badged, answerable there.
 */
import type { Page, Worker } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extensionUrl } from '../../scripts/chromium.mjs';
import {
  CONNECTOR_ID,
  HELLO_WORLD_ID,
  TEST_CLIENT_B_ID,
  TEST_CLIENT_ID,
  launchRig,
  openConnectorPage,
  openHelloWorld,
  openTestClient,
  runHelloWorld,
  screenshot,
  until,
  type Rig,
} from './harness.js';

type Outcome = { ok: true; value: any } | { ok: false; name: string; message: string };
interface Entry {
  source: string;
  level: string;
  message: string;
}

const hooks = <T = unknown>(worker: Worker, body: string) =>
  worker.evaluate(`(async () => { const t = globalThis.connectorTest; await t.started; ${body} })()`) as Promise<T>;
const logEntries = (rig: Rig) => hooks<Entry[]>(rig.worker, 'return t.log();');
const logText = async (rig: Rig) => (await logEntries(rig)).map((e) => `${e.source}: ${e.message}`).join('\n');

function inClient(page: Page, body: string): Promise<Outcome> {
  return page.evaluate(
    `(async () => { const g = globalThis; return g.attempt(async () => { ${body} }); })()`,
  ) as Promise<Outcome>;
}
/** Raw ports of a test client page (its `raw` object). */
const rawOpen = (page: Page, name: string) =>
  page.evaluate(([c, n]) => (globalThis as any).raw.open(c, n), [CONNECTOR_ID, name] as const) as Promise<number>;
const rawPost = (page: Page, port: number, message: unknown) =>
  page.evaluate(([p, m]) => (globalThis as any).raw.post(p, m), [port, message] as const);
const rawState = (page: Page, port: number) =>
  page.evaluate((p) => (globalThis as any).raw.state(p), port) as Promise<{
    received: any[];
    disconnected: boolean;
  }>;
const rawClose = (page: Page, port: number) => page.evaluate((p) => (globalThis as any).raw.close(p), port);

const PROMPT_URL = extensionUrl(CONNECTOR_ID, 'pages/prompt.html');
const promptPages = (rig: Rig) => rig.context.pages().filter((p) => p.url().startsWith(PROMPT_URL));
const nextPrompt = (rig: Rig) =>
  rig.context.waitForEvent('page', { predicate: (p) => p.url().startsWith(PROMPT_URL), timeout: 15_000 });
const pendingOf = (rig: Rig) =>
  hooks<{ id: string; promptAt: number | null; unanswered: number }[]>(rig.worker, 'return t.status().prompts;');

const RLO = '\u202e';
const LOOKALIKE = 'Gооgle Smаrt Card'; // Cyrillic о, о and а among Latin letters
const EVIL_NAME = `${LOOKALIKE} ${RLO}deifirev ton eman${'W'.repeat(128)}`;
const FORGED = 'x\n2026-12-03T10:00:00.000Z info  permissions: the user allowed ponmlkjihgfedcbaponmlkjihgfedcba';

describe('hostile extensions against consent, the log and the prompt (issue 13)', () => {
  let rig: Rig;
  let window: Page;
  let a: Page;
  let b: Page;
  beforeAll(async () => {
    rig = await launchRig({ connector: 'test', approve: [TEST_CLIENT_ID, HELLO_WORLD_ID] });
    await hooks(rig.worker, 'await t.setDemoReader(true);');
    window = await openConnectorPage(rig);
    a = await openTestClient(rig, TEST_CLIENT_ID);
    b = await openTestClient(rig, TEST_CLIENT_B_ID);
    await a.evaluate(
      `(async () => { globalThis.c = await globalThis.lib.connect(${JSON.stringify(CONNECTOR_ID)}, { name: 'A' }); })()`,
    );
  }, 60_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('5: PIN bytes reach the log neither in an ENVELOPE, nor in PUT DATA of the resetting code, nor in error texts', async () => {
    await hooks(rig.worker, 'await t.setLogApdus(true);');
    const pin = '0x31, 0x32, 0x33, 0x34, 0x35, 0x36';
    const result = await inClient(
      a,
      `const { hContext } = await g.c.SCardEstablishContext(0);
       const { readers } = await g.c.SCardListReaders(hContext, null);
       const { hCard } = await g.c.SCardConnect(hContext, readers[0], g.lib.SCARD_SHARE_SHARED, g.lib.SCARD_PROTOCOL_T1);
       const pci = { dwProtocol: g.lib.SCARD_PROTOCOL_T1 };
       await g.c.SCardTransmit(hCard, pci, Uint8Array.of(0x00, 0xc2, 0x00, 0x00, 0x0b, 0x00, 0x20, 0x00, 0x81, 0x06, ${pin}));
       await g.c.SCardTransmit(hCard, pci, Uint8Array.of(0x00, 0xda, 0x00, 0xd3, 0x06, ${pin}));
       await g.c.SCardReleaseContext(hContext);
       return 'sent';`,
    );
    expect(result).toEqual({ ok: true, value: 'sent' });
    await until(async () => (await logText(rig)).includes('00 DA 00 D3'), 'the PUT DATA in the log');
    await hooks(rig.worker, 'await t.setLogApdus(false);');
    // A stranger's malformed messages carrying a PIN where a string or a number was expected.
    const port = await rawOpen(b, 'pins');
    await rawPost(b, port, { v: 1, kind: 'call', id: 1, fn: 'SCardEstablishContext', args: ['1234'] });
    await rawPost(b, port, { v: 1, kind: 'call', id: 2, fn: '002000810431323334', args: [] });
    await rawPost(b, port, { v: 1, kind: '1234', id: 3 });
    const errors = await until(async () => {
      const s = await rawState(b, port);
      return s.received.length >= 3 ? s.received : null;
    }, 'the three error answers');
    await rawClose(b, port);
    const log = await logText(rig);
    expect(log).toContain('00 C2 00 00 [data redacted: 12 bytes]');
    expect(log).toContain('00 DA 00 D3 [data redacted: 7 bytes]');
    expect(log).toContain('malformed message');
    for (const text of [log, JSON.stringify(errors)]) {
      expect(text).not.toMatch(/31 32 33 34|31323334|"1234"/);
    }
  }, 60_000);

  it('4: a name with a newline forges no log line; a flood evicts neither the allowed app nor the decisions', async () => {
    await inClient(a, 'await g.c.SCardReleaseContext((await g.c.SCardEstablishContext(0)).hContext); return 1;');
    const before = (await logEntries(rig)).filter((e) => e.message.includes(`(${TEST_CLIENT_ID})`)).length;
    expect(before).toBeGreaterThan(0);
    const forged = await rawOpen(b, FORGED);
    await until(async () => (await logText(rig)).includes('2026-12-03T10:00:00.000Z'), 'the forged name in the log');
    await rawClose(b, forged);
    // The window shows one entry per line, the forged text inside a quoted name.
    const lines = await until(async () => {
      const all = await window.locator('#log li').allTextContents();
      return all.some((l) => l.includes('2026-12-03T10:00:00.000Z')) ? all : null;
    }, 'the forged name in the window');
    const hit = lines.filter((l) => l.includes('2026-12-03T10:00:00.000Z'));
    for (const l of hit) {
      expect(l).not.toContain('\n');
      expect(l).toContain('"x\\n2026-12-03T10:00:00.000Z');
    }
    expect(lines.some((l) => l.startsWith('2026-12-03T10:00:00.000Z'))).toBe(false);
    // The flood: 60 ports of malformed messages from the stranger (each port is cut after 10).
    await b.evaluate(
      `(async () => { for (let i = 0; i < 60; i++) { const p = globalThis.raw.open(${JSON.stringify(CONNECTOR_ID)}, 'flood'); for (let j = 0; j < 12; j++) globalThis.raw.post(p, { v: 1, kind: 'junk', id: j }); await new Promise((r) => setTimeout(r, 5)); } })()`,
    );
    await until(async () => (await logText(rig)).includes('too many log entries'), 'the quota to hold the flood back');
    const after = await logEntries(rig);
    expect(after.filter((e) => e.message.includes(`(${TEST_CLIENT_ID})`)).length).toBe(before);
    expect(after.filter((e) => e.message.includes('flood')).length).toBeLessThan(100);
  }, 60_000);

  let port = 0;
  it('3 and 1: the prompt leads with the id, shows a cleaned, isolated, wrapped, flagged name, and no armed default', async () => {
    const prompt = nextPrompt(rig);
    port = await rawOpen(b, EVIL_NAME);
    await rawPost(b, port, { v: 1, kind: 'call', id: 1, fn: 'SCardEstablishContext', args: [0] });
    const p = await prompt;
    await p.locator('#request').waitFor({ state: 'visible' });
    // 1: nothing focused that Enter would press, and both buttons inert for a moment.
    await expect(p.evaluate(() => document.activeElement?.tagName)).resolves.not.toBe('BUTTON');
    await p.keyboard.press('Enter');
    await p.keyboard.press('Space');
    expect(await pendingOf(rig)).toMatchObject([{ id: TEST_CLIENT_B_ID }]);
    // 3: the id first, the names cleaned and isolated, "not verified" on its own, mixed scripts flagged.
    const order = await p.evaluate(() => {
      const id = document.getElementById('app-id')!;
      const name = document.getElementById('claimed-name')!;
      return id.compareDocumentPosition(name) & Node.DOCUMENT_POSITION_FOLLOWING;
    });
    expect(order).toBeTruthy();
    await expect(p.locator('#app-id').textContent()).resolves.toBe(TEST_CLIENT_B_ID);
    const claimed = (await p.locator('#claimed-name').textContent())!;
    expect(claimed).not.toContain(RLO);
    expect(claimed.startsWith(LOOKALIKE)).toBe(true);
    await expect(p.locator('#claimed-name').evaluate((e) => e.tagName)).resolves.toBe('BDI');
    await expect(p.locator('#claimed-row .unverified').textContent()).resolves.toBe('(not verified)');
    const flags = (await p.locator('#name-flags').textContent())!;
    expect(flags).toContain('Latin');
    expect(flags).toContain('Cyrillic');
    expect(flags).toContain('removed');
    // The 128-character run wraps: nothing overflows the window sideways, the heading stays in view.
    const overflow = await p.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(p, 'prompt-hostile-name');
  }, 60_000);

  it("2: another extension closing the prompt is no answer: B's request stays, listed and badged, its call waiting", async () => {
    const [p] = promptPages(rig);
    expect(p).toBeDefined();
    // A (allowed, hostile) finds the prompt window in chrome.windows and removes it.
    const removed = await a.evaluate(async (url) => {
      const c = (globalThis as any).chrome as typeof chrome;
      const wins = await c.windows.getAll({ populate: true });
      let n = 0;
      for (const w of wins)
        if (w.type === 'popup' && (w.tabs ?? []).some((t) => !t.url || t.url.startsWith(url) || t.url === '')) {
          await c.windows.remove(w.id!);
          n++;
        }
      return n;
    }, PROMPT_URL);
    expect(removed).toBeGreaterThan(0);
    await until(async () => p!.isClosed(), 'the prompt to be closed');
    await until(async () => (await pendingOf(rig))[0]?.unanswered === 1, 'the close to be counted');
    expect(await pendingOf(rig)).toMatchObject([{ id: TEST_CLIENT_B_ID }]);
    const s = await rawState(b, port);
    expect(s.received.filter((m: any) => m.kind === 'result')).toEqual([]); // still waiting, not denied
    await expect(hooks(rig.worker, 'return t.badge();')).resolves.toBe('1');
    const row = window.locator(`.permission.pending[data-app-id="${TEST_CLIENT_B_ID}"]`);
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain('closed without an answer');
  }, 60_000);

  it('1: an app that drops its ports to re-prompt after each dismissal is asked again only after a delay', async () => {
    // B withdraws (its port goes) and asks again: one more prompt at once, which the user closes.
    await rawClose(b, port);
    await until(async () => (await pendingOf(rig)).length === 0, 'the request to be withdrawn');
    const prompt = nextPrompt(rig);
    port = await rawOpen(b, 'again');
    await rawPost(b, port, { v: 1, kind: 'call', id: 1, fn: 'SCardEstablishContext', args: [0] });
    const p = await prompt;
    await p.close();
    await until(async () => (await pendingOf(rig))[0]?.unanswered === 2, 'the second close to be counted');
    await rawClose(b, port);
    await until(async () => (await pendingOf(rig)).length === 0, 'the request to be withdrawn again');
    // The third time: no window now; the connector's window says when, and can answer.
    port = await rawOpen(b, 'and again');
    await rawPost(b, port, { v: 1, kind: 'call', id: 1, fn: 'SCardEstablishContext', args: [0] });
    const [request] = await until(async () => {
      const r = await pendingOf(rig);
      return r.length ? r : null;
    }, 'the third request');
    expect(request!.promptAt).toBeGreaterThan(Date.now());
    expect(promptPages(rig)).toHaveLength(0);
    const row = window.locator(`.permission.pending[data-app-id="${TEST_CLIENT_B_ID}"]`);
    await until(async () => (await row.textContent())?.includes('opens again at'), 'the delay in the window');
    await screenshot(window, 'connector-window-pending');
    await row.getByRole('button', { name: `Block ${TEST_CLIENT_B_ID}` }).click();
    const answer = await until(
      async () => (await rawState(b, port)).received.find((m: any) => m.kind === 'result'),
      'the answer',
    );
    expect(answer).toMatchObject({ ok: false });
    expect(JSON.stringify(answer)).toContain('SCARD_W_SECURITY_VIOLATION');
    await expect(hooks(rig.worker, 'return t.badge();')).resolves.toBe('');
    await rawClose(b, port);
  }, 60_000);

  it('7: a never-allowed extension posting a huge message loses its port and is refused for a while', async () => {
    const port = await rawOpen(b, 'huge');
    await b.evaluate(
      ([p]) => (globalThis as any).raw.post(p, { v: 1, kind: 'ping', id: 1, pad: 'x'.repeat(8 * 1024 * 1024) }),
      [port] as const,
    );
    const s = await until(async () => {
      const st = await rawState(b, port);
      return st.disconnected ? st : null;
    }, 'the port to be dropped');
    expect(JSON.stringify(s.received)).toContain('message too large');
    const again = await rawOpen(b, 'again');
    const refused = await until(async () => {
      const st = await rawState(b, again);
      return st.disconnected ? st : null;
    }, 'the next port to be refused');
    expect(JSON.stringify(refused.received)).toContain('refused for now');
    // The allowed app is served as before, with handles the stranger cannot guess.
    const ok = await inClient(
      a,
      'const { hContext } = await g.c.SCardEstablishContext(0); await g.c.SCardReleaseContext(hContext); return hContext;',
    );
    expect(ok.ok).toBe(true);
  }, 60_000);

  it("6: an allowed app taking a reader's handles gets its fair share only; hello-world still connects", async () => {
    const hog = await inClient(
      a,
      `const { hContext } = await g.c.SCardEstablishContext(0);
       const { readers } = await g.c.SCardListReaders(hContext, null);
       let n = 0;
       try {
         for (let i = 0; i < 200; i++) {
           await g.c.SCardConnect(hContext, readers[0], g.lib.SCARD_SHARE_SHARED, g.lib.SCARD_PROTOCOL_T1);
           n++;
         }
       } catch (e) {
         return { n, name: g.lib.pcscErrorName(e.code), message: e.message };
       }
       return { n };`,
    );
    expect(hog).toMatchObject({ ok: true, value: { n: 50, name: 'SCARD_F_INTERNAL_ERROR' } });
    expect((hog as { value: { message: string } }).value.message).toContain('fair share');
    const app = await openHelloWorld(rig);
    const run = await runHelloWorld(app);
    expect(run.ok, run.lines.join('\n')).toBe(true);
  }, 60_000);
});
