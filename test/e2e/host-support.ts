/**
 * Page-side helpers of the host suites (test/e2e/host*.test.ts): the test client's page runs the client library
 * (`globalThis.lib`, test/e2e/client-extension/main.ts); these run code in it and bring the outcome back as JSON.
 */
import type { Page } from 'playwright-core';
import { CONNECTOR_ID, until } from './harness.js';

/** The demo reader as the worker's daemon names it. */
export const DEMO_READER = 'Gemalto PC Twin Reader 00 00';
/**
 * SELECT of the master file asking for no response data (P2 = 0C, ISO/IEC 7816-4 §11.1.1): vicc answers 90 00. With
 * P2 = 00 (return the FCI), with or without Le, Debian's vicc crashes building the FCI and the card is gone.
 */
export const SELECT_MF = '00a4000c023f00';

export type Outcome = { ok: true; value: unknown } | { ok: false; name: string; message: string };

export function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Runs `body` (an async function body) in the client page with `g` = globalThis (`g.lib`, the connection `g.c`,
 * `g.fromHex`, `g.toHex`); the value it returns, or the PC/SC name and message of what it threw.
 */
export function inClient(page: Page, body: string): Promise<Outcome> {
  return page.evaluate(
    `(async () => { const g = globalThis; return g.attempt(async () => { ${body} }); })()`,
  ) as Promise<Outcome>;
}

/** Connects the page's client library to the connector as `g.c`, and gives the page its hex helpers. */
export async function connectClient(page: Page, name: string): Promise<void> {
  await page.evaluate(
    `(async () => {
      const g = globalThis;
      g.fromHex = (h) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
      g.toHex = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
      g.c = await g.lib.connect(${JSON.stringify(CONNECTOR_ID)}, { name: ${JSON.stringify(name)} });
    })()`,
  );
}

/** The page's reader list (SCardListReaders on a fresh context), [] when there is none or the call fails. */
export async function listReaders(page: Page): Promise<string[]> {
  const r = await inClient(
    page,
    `const { hContext } = await g.c.SCardEstablishContext(g.lib.SCARD_SCOPE_SYSTEM);
     try { return (await g.c.SCardListReaders(hContext, null)).readers; }
     catch (e) { return []; }
     finally { await g.c.SCardReleaseContext(hContext); }`,
  );
  return r.ok ? (r.value as string[]) : [];
}

/** Waits until every one of `names` is in the page's reader list; returns the list. */
export function waitForReaders(page: Page, names: readonly string[], timeoutMs = 30_000): Promise<string[]> {
  return until(
    async () => {
      const readers = await listReaders(page);
      return names.every((n) => readers.includes(n)) ? readers : null;
    },
    `readers ${names.join(', ')}`,
    timeoutMs,
  );
}

/** Waits until `name` is gone from the page's reader list; returns the list. */
export function waitForReaderGone(page: Page, name: string, timeoutMs = 30_000): Promise<string[]> {
  return until(
    async () => {
      const readers = await listReaders(page);
      return readers.includes(name) ? null : readers;
    },
    `reader ${name} to go`,
    timeoutMs,
  );
}

/**
 * Starts recording every text the connector window's host line shows (a MutationObserver in the page), so that a
 * state that lasts a second (the back-off before a restart) is seen however slow the machine; `seen` returns them.
 */
export async function recordHostStates(window: Page): Promise<{ seen(): Promise<string[]> }> {
  await window.evaluate(() => {
    const el = document.getElementById('host-state')!;
    const g = globalThis as unknown as { hostStates: string[]; hostObserver?: MutationObserver };
    g.hostObserver?.disconnect();
    g.hostStates = [el.textContent ?? ''];
    g.hostObserver = new MutationObserver(() => {
      const t = el.textContent ?? '';
      if (g.hostStates.at(-1) !== t) g.hostStates.push(t);
    });
    g.hostObserver.observe(el, { childList: true, characterData: true, subtree: true });
  });
  return { seen: () => window.evaluate(() => (globalThis as unknown as { hostStates: string[] }).hostStates) };
}
