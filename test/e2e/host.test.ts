/**
 * Issue 11, real readers in the connector: Chromium (Debian's, through playwright-core) with smart-card-host
 * registered in the test profile by its own `install --user-data-dir`, against a real system PC/SC service — Debian's
 * pcscd, started privately by the test with vsmartcard's vpcd driver and the vicc card emulator. The host's `system`
 * backend (libpcsclite through koffi) reaches that pcscd; the connector merges its reader with the worker's own (the
 * demo reader) in one reader list.
 *
 * vicc's iso7816 card: SELECT of the master file asks for no response data (`00 A4 00 0C 02 3F 00`): asked for the
 * FCI (P2 = 00), Debian's vicc crashes building it.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VICC_ISO7816_ATR, VPCD_READER } from '../host/support/private-pcscd.js';
import {
  TEST_CLIENT_B_ID,
  openConnectorPage,
  openHelloWorld,
  openTestClient,
  runHelloWorld,
  screenshot,
  turnDemoOn,
  until,
} from './harness.js';
import { hostRigUnavailable, launchHostRig, type HostRig } from './native-host.js';
import { DEMO_READER, SELECT_MF, inClient, connectClient, hex, waitForReaders } from './host-support.js';

const unavailable = hostRigUnavailable();
const skip = unavailable !== null && !process.env.CI;
if (skip) console.warn(`[e2e host] skipped: ${unavailable}`);

describe.skipIf(skip)('real readers through smart-card-host: vicc in a private pcscd beside the demo reader', () => {
  let h: HostRig;
  let client: Page;
  beforeAll(async () => {
    h = await launchHostRig({ connector: 'release' });
    const connector = await openConnectorPage(h.rig);
    await turnDemoOn(connector);
    await connector.close();
    client = await openTestClient(h.rig);
    await connectClient(client, 'e2e host');
  }, 90_000);
  afterAll(async () => {
    await h?.close();
  });

  it('lists the vicc reader (through the host) next to the demo reader (in the worker)', async () => {
    // Proves the whole chain is wired: connector → native messaging → host → libpcsclite → private pcscd → vpcd.
    const readers = await waitForReaders(client, [VPCD_READER, DEMO_READER]);
    expect(readers).toEqual(expect.arrayContaining([VPCD_READER, DEMO_READER]));
    const page = await openConnectorPage(h.rig);
    // The window says where each reader comes from and that the host is running, on which backend.
    const vicc = page.locator('.reader[data-origin="system"]', { hasText: VPCD_READER });
    await vicc.waitFor({ timeout: 20_000 });
    await expect(vicc.locator('.origin').textContent()).resolves.toBe("the host's system service");
    const demo = page.locator('.reader[data-origin="demo"]', { hasText: DEMO_READER });
    await expect(demo.locator('.origin').textContent()).resolves.toBe('demo');
    const state = page.locator('#host-state[data-state="connected"]');
    await state.waitFor();
    await expect(state.textContent()).resolves.toMatch(
      /^Host .+ on linux: connected, readers from its system service\.$/,
    );
    await screenshot(page, 'connector-host-readers');
    await page.close();
  }, 60_000);

  it('connects to the vicc card, selects the master file and gets a challenge', async () => {
    // Real APDUs reach vicc and its answers come back unchanged through every hop.
    const r = await inClient(
      client,
      `const { hContext } = await g.c.SCardEstablishContext(g.lib.SCARD_SCOPE_SYSTEM);
       const { hCard, dwActiveProtocol } = await g.c.SCardConnect(hContext, ${JSON.stringify(VPCD_READER)},
         g.lib.SCARD_SHARE_SHARED, g.lib.SCARD_PROTOCOL_T0 | g.lib.SCARD_PROTOCOL_T1);
       const pci = { dwProtocol: dwActiveProtocol };
       const status = await g.c.SCardStatus(hCard);
       const select = await g.c.SCardTransmit(hCard, pci, g.fromHex(${JSON.stringify(SELECT_MF)}));
       const a = await g.c.SCardTransmit(hCard, pci, Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x08));
       const b = await g.c.SCardTransmit(hCard, pci, Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x08));
       await g.c.SCardDisconnect(hCard, g.lib.SCARD_LEAVE_CARD);
       await g.c.SCardReleaseContext(hContext);
       return { atr: status.atr, reader: status.szReaderName, select: select.recvBuffer, a: a.recvBuffer, b: b.recvBuffer };`,
    );
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const v = (r as { value: { atr: string; reader: string; select: string; a: string; b: string } }).value;
    expect(v.reader).toBe(VPCD_READER);
    expect(v.atr).toBe(hex(VICC_ISO7816_ATR));
    expect(v.select).toBe('9000');
    expect(v.a).toMatch(/^[0-9a-f]{16}9000$/);
    expect(v.b).toMatch(/^[0-9a-f]{16}9000$/);
    // Two challenges from the card's random generator differ (a cached or echoed answer would not).
    expect(v.a).not.toBe(v.b);
  }, 60_000);

  it('waits for removal when vicc stops, and for insertion when it starts again', async () => {
    // Card events of the system pcscd reach a waiting SCardGetStatusChange in the page.
    const present = await inClient(
      client,
      `g.ctxWait = (await g.c.SCardEstablishContext(g.lib.SCARD_SCOPE_SYSTEM)).hContext;
       const [s] = (await g.c.SCardGetStatusChange(g.ctxWait, 0, [{ szReader: ${JSON.stringify(VPCD_READER)}, dwCurrentState: 0 }])).readerStates;
       g.last = s.dwEventState;
       g.wait = g.c.SCardGetStatusChange(g.ctxWait, g.lib.INFINITE, [{ szReader: ${JSON.stringify(VPCD_READER)}, dwCurrentState: s.dwEventState }]);
       return (s.dwEventState & g.lib.SCARD_STATE_PRESENT) !== 0;`,
    );
    expect(present).toEqual({ ok: true, value: true });
    await h.pcscd.stopCard();
    const removed = await inClient(
      client,
      `const [s] = (await g.wait).readerStates;
       g.last = s.dwEventState;
       g.wait = g.c.SCardGetStatusChange(g.ctxWait, g.lib.INFINITE, [{ szReader: ${JSON.stringify(VPCD_READER)}, dwCurrentState: s.dwEventState }]);
       return { empty: (s.dwEventState & g.lib.SCARD_STATE_EMPTY) !== 0, changed: (s.dwEventState & g.lib.SCARD_STATE_CHANGED) !== 0 };`,
    );
    expect(removed).toEqual({ ok: true, value: { empty: true, changed: true } });
    h.pcscd.startCard();
    const inserted = await inClient(
      client,
      `const [s] = (await g.wait).readerStates;
       return { present: (s.dwEventState & g.lib.SCARD_STATE_PRESENT) !== 0, atr: s.rgbAtr };`,
    );
    expect(inserted).toEqual({ ok: true, value: { present: true, atr: hex(VICC_ISO7816_ATR) } });
    await inClient(client, 'await g.c.SCardReleaseContext(g.ctxWait);');
  }, 60_000);

  it('runs the hello-world app on the demo reader in the same browser run', async () => {
    // The host's reader beside it changes nothing for the classic sample (it takes the first reader: the demo one).
    const app = await openHelloWorld(h.rig);
    const { ok, lines } = await runHelloWorld(app);
    expect(ok, lines.join('\n')).toBe(true);
    expect(lines).toContain(`reader name: ${DEMO_READER}`);
    expect(lines).toContain('response: 48 65 6C 6C 6F 20 77 6F 72 6C 64 21 90 00');
    expect(lines.at(-1)).toBe('Hello world!');
    await app.close();
  }, 60_000);

  it('two client extensions in transactions at once: one on the host reader, one on the demo reader', async () => {
    // Each holds its own transaction on its own reader while the other works; a third handle on the host reader
    // (the second client's) waits for the first client's transaction to end, as pcscd makes it.
    const other = await openTestClient(h.rig, TEST_CLIENT_B_ID);
    await connectClient(other, 'e2e host B');
    const open = (reader: string) =>
      `g.tx = g.tx || {};
       const { hContext } = await g.c.SCardEstablishContext(g.lib.SCARD_SCOPE_SYSTEM);
       const { hCard, dwActiveProtocol } = await g.c.SCardConnect(hContext, ${JSON.stringify(reader)},
         g.lib.SCARD_SHARE_SHARED, g.lib.SCARD_PROTOCOL_T0 | g.lib.SCARD_PROTOCOL_T1);
       g.tx[${JSON.stringify(reader)}] = { hContext, hCard, pci: { dwProtocol: dwActiveProtocol } };
       return true;`;
    expect(await inClient(client, open(VPCD_READER))).toEqual({ ok: true, value: true });
    expect(await inClient(other, open(DEMO_READER))).toEqual({ ok: true, value: true });
    expect(await inClient(other, open(VPCD_READER))).toEqual({ ok: true, value: true });
    const begin = (reader: string) =>
      `await g.c.SCardBeginTransaction(g.tx[${JSON.stringify(reader)}].hCard); return true;`;
    expect(await inClient(client, begin(VPCD_READER))).toEqual({ ok: true, value: true });
    expect(await inClient(other, begin(DEMO_READER))).toEqual({ ok: true, value: true });
    // B on the host reader: starts waiting behind A's transaction.
    await inClient(
      other,
      `const t = g.tx[${JSON.stringify(VPCD_READER)}];
       g.waiting = 'waiting';
       g.blocked = g.c.SCardBeginTransaction(t.hCard).then(() => { g.waiting = 'granted'; }, (e) => { g.waiting = 'failed: ' + e.message; });
       return true;`,
    );
    const transmit = (reader: string, apdu: string) =>
      `const t = g.tx[${JSON.stringify(reader)}];
       const out = [];
       for (let i = 0; i < 5; i++) out.push(g.toHex((await g.c.SCardTransmit(t.hCard, t.pci, g.fromHex(${JSON.stringify(apdu)}))).recvBuffer));
       return out;`;
    // Both transactions work at the same moment, each on its own reader.
    const [a, b] = await Promise.all([
      inClient(client, transmit(VPCD_READER, '0084000008')),
      inClient(other, transmit(DEMO_READER, '0084000008')),
    ]);
    expect(a.ok && (a.value as string[]).every((r) => /^[0-9a-f]{16}9000$/.test(r)), JSON.stringify(a)).toBe(true);
    expect(b.ok && (b.value as string[]).every((r) => /^[0-9a-f]{16}9000$/.test(r)), JSON.stringify(b)).toBe(true);
    // Still waiting: A holds the host reader.
    await expect(other.evaluate('globalThis.waiting')).resolves.toBe('waiting');
    expect(
      await inClient(
        client,
        `await g.c.SCardEndTransaction(g.tx[${JSON.stringify(VPCD_READER)}].hCard, g.lib.SCARD_LEAVE_CARD); return true;`,
      ),
    ).toEqual({ ok: true, value: true });
    await until(
      async () => (await other.evaluate('globalThis.waiting')) !== 'waiting',
      "B's transaction to be granted",
    );
    await expect(other.evaluate('globalThis.waiting')).resolves.toBe('granted');
    const end = (reader: string) =>
      `const t = g.tx[${JSON.stringify(reader)}];
       await g.c.SCardEndTransaction(t.hCard, g.lib.SCARD_LEAVE_CARD);
       await g.c.SCardDisconnect(t.hCard, g.lib.SCARD_LEAVE_CARD);
       await g.c.SCardReleaseContext(t.hContext);
       return true;`;
    expect(await inClient(other, end(VPCD_READER))).toEqual({ ok: true, value: true });
    expect(await inClient(other, end(DEMO_READER))).toEqual({ ok: true, value: true });
    expect(
      await inClient(
        client,
        `const t = g.tx[${JSON.stringify(VPCD_READER)}];
         await g.c.SCardDisconnect(t.hCard, g.lib.SCARD_LEAVE_CARD);
         await g.c.SCardReleaseContext(t.hContext);
         return true;`,
      ),
    ).toEqual({ ok: true, value: true });
    await other.close();
  }, 90_000);
});
