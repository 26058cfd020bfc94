/**
 * The native host's system backend: Debian's pcscd run privately (test/host/support/private-pcscd.ts) with a vpcd
 * reader and vicc's iso7816 card, reached through the built host's koffi binding to libpcsclite. An infinite
 * SCardGetStatusChange does not hold up other calls and ends with SCardCancel; `auto` picks the system service when
 * it answers; switching to the own stack releases the connector's system contexts; with pcscd gone, `system` leaves
 * no backend and says why.
 */
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  INFINITE,
  SCARD_E_CANCELLED,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_NO_SERVICE,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  SCARD_STATE_CHANGED,
  SCARD_STATE_PRESENT,
} from '../../../src/pcsc/constants.js';
import { privatePcscdUnavailable, startPrivatePcscd, type PrivatePcscd } from '../support/private-pcscd.js';
import { NativeLink, buildHost } from './link.js';

const unavailable = privatePcscdUnavailable();
const skip = unavailable !== null && !process.env.CI;
if (skip) console.log(`skipping the native host's system backend tests: ${unavailable}`);

// SELECT MF without response data (Debian's vicc crashes on a SELECT that returns FCI), then GET CHALLENGE.
const SELECT_MF = '00a4000c023f00';
const GET_CHALLENGE = '0084000008';

describe.skipIf(skip)('smart-card-host --native-messaging, system backend (private pcscd + vpcd + vicc)', () => {
  let rig: PrivatePcscd;
  let cli = '';
  let outDir = '';
  const links: NativeLink[] = [];

  beforeAll(async () => {
    ({ cli, outDir } = buildHost('host-system-test'));
    rig = await startPrivatePcscd();
    rig.startCard();
  }, 150_000);
  afterAll(async () => {
    await rig?.close();
    if (outDir !== '') rmSync(outDir, { recursive: true, force: true });
  });
  afterEach(() => {
    for (const l of links.splice(0)) l.kill();
  });

  function host(...args: string[]): NativeLink {
    const env = { ...process.env, PCSCLITE_CSOCK_NAME: rig.socketPath, UV_THREADPOOL_SIZE: '8' };
    const l = new NativeLink(process.execPath, [cli, '--native-messaging', '--no-usb', ...args], env);
    links.push(l);
    return l;
  }

  /** Waits until vicc's card is in the reader (it appears ~0.4 s after vicc starts); returns the reader state. */
  async function cardPresent(l: NativeLink, hContext: number): Promise<number> {
    let current = 0;
    for (let i = 0; i < 40; i++) {
      const r = await l.call('SCardGetStatusChange', hContext, 500, [
        { szReader: rig.readerName, dwCurrentState: current },
      ]);
      const states = (r.ok ? (r.value as { readerStates: unknown[] }).readerStates : r.readerStates) as
        { dwEventState: number }[] | undefined;
      const s = states?.[0]?.dwEventState ?? 0;
      if (s & SCARD_STATE_PRESENT) return s & ~SCARD_STATE_CHANGED;
      current = s & ~SCARD_STATE_CHANGED;
    }
    throw new Error(`no card in ${rig.readerName}`);
  }

  it('auto serves the system service; a wait blocks nothing and ends with SCardCancel', async () => {
    const l = host();
    const hello = await l.hello('auto');
    expect(hello.backend).toBe('system');
    expect(hello.system).toEqual({ available: true, detail: expect.stringContaining('pcsc-lite') });
    expect(hello.own).toMatchObject({ available: true });

    const { hContext } = (await l.ok('SCardEstablishContext', SCARD_SCOPE_SYSTEM)) as { hContext: number };
    const { readers } = (await l.ok('SCardListReaders', hContext, null, null)) as { readers: string[] };
    expect(readers).toContain(rig.readerName);
    // Reader events come from pcscd too (a watcher on the system service, \\?PnP?\Notification included).
    expect(await l.request({ kind: 'subscribe' })).toMatchObject({ ok: true });
    const ev = await l.next((m) => m.kind === 'event', 'a readers event');
    expect((ev.event as { readers: { name: string }[] }).readers.map((r) => r.name)).toContain(rig.readerName);
    const state = await cardPresent(l, hContext);
    const wait = l.call('SCardGetStatusChange', hContext, INFINITE, [
      { szReader: rig.readerName, dwCurrentState: state },
    ]);

    // While the wait holds its pool thread, calls on the same context (the backend's second system context) and on a
    // card go through.
    const c = (await l.ok(
      'SCardConnect',
      hContext,
      rig.readerName,
      SCARD_SHARE_SHARED,
      SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
    )) as {
      hCard: number;
      dwActiveProtocol: number;
    };
    const pci = { dwProtocol: c.dwActiveProtocol };
    expect((await l.ok('SCardTransmit', c.hCard, pci, SELECT_MF, null)).recvBuffer).toBe('9000');
    const challenge = String((await l.ok('SCardTransmit', c.hCard, pci, GET_CHALLENGE, null)).recvBuffer);
    expect(challenge).toMatch(/^[0-9a-f]{16}9000$/);
    expect((await l.request({ kind: 'ping' })).kind).toBe('pong');

    await l.ok('SCardCancel', hContext);
    expect(await wait).toMatchObject({ ok: false, code: SCARD_E_CANCELLED });
    expect(await l.end()).toEqual({ code: 0, signal: null });
  });

  it('a hello switching to the own stack releases the system contexts, waits first', async () => {
    const l = host('--demo');
    expect((await l.hello('system')).backend).toBe('system');
    const { hContext } = (await l.ok('SCardEstablishContext', SCARD_SCOPE_SYSTEM)) as { hContext: number };
    const state = await cardPresent(l, hContext);
    const wait = l.call('SCardGetStatusChange', hContext, INFINITE, [
      { szReader: rig.readerName, dwCurrentState: state },
    ]);
    const own = await l.hello('own');
    expect(own.backend).toBe('own');
    expect(own.system).toMatchObject({ available: true });
    expect((await wait).ok).toBe(false);
    expect(await l.call('SCardIsValidContext', hContext)).toMatchObject({ ok: false, code: SCARD_E_INVALID_HANDLE });
    const ctx = (await l.ok('SCardEstablishContext', SCARD_SCOPE_SYSTEM)) as { hContext: number };
    const { readers } = (await l.ok('SCardListReaders', ctx.hContext, null, null)) as { readers: string[] };
    expect(readers).toEqual(['Gemalto PC Twin Reader 00 00']);
    expect(await l.end()).toEqual({ code: 0, signal: null });
  });

  it('with pcscd stopped, system leaves no backend and says so; calls get SCARD_E_NO_SERVICE', async () => {
    await rig.stopPcscd();
    try {
      const l = host('--demo');
      const hello = await l.hello('system');
      expect(hello.backend).toBeNull();
      expect(hello.system).toMatchObject({
        available: false,
        detail: expect.stringMatching(/pcscd is not running.*systemctl start pcscd.*own stack/),
      });
      expect(hello.own).toMatchObject({ available: true });
      const r = await l.call('SCardEstablishContext', SCARD_SCOPE_SYSTEM);
      expect(r).toMatchObject({ ok: false, code: SCARD_E_NO_SERVICE, message: expect.stringMatching(/own stack/) });
      // auto falls back to the own stack.
      expect((await l.hello('auto')).backend).toBe('own');
    } finally {
      await rig.startPcscd();
      rig.startCard();
    }
  });
});
