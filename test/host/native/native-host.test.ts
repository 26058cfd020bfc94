/**
 * The built host (`npm run build:host`'s config) as Chrome runs it for the connector: `--native-messaging` or a
 * `chrome-extension://ID/` argument, Chrome's frames over its stdio. The own backend with the demo reader: hello,
 * the hello-world SELECT, a GetStatusChange wait ended by SCardCancel, a hello switching backends (what the connector
 * held is released), calls before hello and on an unavailable backend, the end of stdin, a bad stream, a foreign
 * caller.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTOR_ID } from '../../../src/host/native/connector-id.js';
import {
  INFINITE,
  SCARD_E_CANCELLED,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_NO_SERVICE,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  SCARD_STATE_PRESENT,
} from '../../../src/pcsc/constants.js';
import { bytesToHex } from '../../../src/protocol/codec.js';
import { SELECT_HELLO } from '../../support/hello.js';
import { NativeLink, buildHost } from './link.js';

let CLI = '';
let outDir = '';

let home = '';
/** No system service for these tests: libpcsclite is pointed at a socket that does not exist. */
let env: NodeJS.ProcessEnv = {};

beforeAll(() => {
  ({ cli: CLI, outDir } = buildHost('host-native-test'));
  home = mkdtempSync(join(tmpdir(), 'sch-native-'));
  env = { ...process.env, PCSCLITE_CSOCK_NAME: join(home, 'no-pcscd.comm') };
}, 150_000);
afterAll(() => {
  if (home !== '') rmSync(home, { recursive: true, force: true });
  if (outDir !== '') rmSync(outDir, { recursive: true, force: true });
});

const links: NativeLink[] = [];
afterEach(() => {
  for (const l of links.splice(0)) l.kill();
});

function host(...args: string[]): NativeLink {
  const l = new NativeLink(process.execPath, [CLI, ...args], env);
  links.push(l);
  return l;
}

const DEMO = ['--native-messaging', '--demo', '--no-usb'];

async function demoCard(l: NativeLink): Promise<{ hContext: number; hCard: number; protocol: number; reader: string }> {
  const { hContext } = (await l.ok('SCardEstablishContext', SCARD_SCOPE_SYSTEM)) as { hContext: number };
  const { readers } = (await l.ok('SCardListReaders', hContext, null, null)) as { readers: string[] };
  expect(readers).toEqual(['Gemalto PC Twin Reader 00 00']);
  const c = (await l.ok(
    'SCardConnect',
    hContext,
    readers[0],
    SCARD_SHARE_SHARED,
    SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
  )) as {
    hCard: number;
    dwActiveProtocol: number;
  };
  return { hContext, hCard: c.hCard, protocol: c.dwActiveProtocol, reader: readers[0]! };
}

describe('smart-card-host --native-messaging, own backend', () => {
  it('answers hello with both backends, then serves the hello-world card', async () => {
    const l = host(...DEMO);
    const hello = await l.hello('auto');
    expect(hello).toMatchObject({ v: 1, kind: 'hello', protocol: 1, platform: process.platform, backend: 'own' });
    expect(hello.version).toMatch(/^\d+\.\d+\.\d+/);
    // No pcscd answers at PCSCLITE_CSOCK_NAME: the system backend says so and offers the own stack.
    expect(hello.system).toMatchObject({ available: false });
    expect(String((hello.system as { detail: string }).detail)).toMatch(/not running.*own stack/);
    expect(hello.own).toEqual({ available: true, detail: expect.stringContaining('Gemalto PC Twin Reader 00 00') });

    const { hCard, protocol } = await demoCard(l);
    const select = await l.ok('SCardTransmit', hCard, { dwProtocol: protocol }, bytesToHex(SELECT_HELLO), null);
    expect(select.recvBuffer).toBe('9000');
    const hi = await l.ok('SCardTransmit', hCard, { dwProtocol: protocol }, '00000000', null);
    expect(Buffer.from(String(hi.recvBuffer), 'hex').toString('latin1')).toBe('Hello world!\x90\x00');

    const pong = await l.request({ kind: 'ping' });
    expect(pong).toMatchObject({ kind: 'pong', version: hello.version });
    expect(pong.instance).toMatch(/^[0-9a-f]{16}$/);

    expect(await l.end()).toEqual({ code: 0, signal: null });
    expect(l.stdoutError).toBeNull();
    expect(l.stderr).toMatch(/the browser closed the link/);
  });

  it('logs calls at debug level to stderr, APDUs as lengths unless --log-apdus', async () => {
    for (const apdus of [false, true]) {
      const l = host(...DEMO, '--log-level', 'debug', ...(apdus ? ['--log-apdus'] : []));
      await l.hello('own');
      const { hCard, protocol } = await demoCard(l);
      await l.ok('SCardTransmit', hCard, { dwProtocol: protocol }, bytesToHex(SELECT_HELLO), null);
      expect(await l.end()).toEqual({ code: 0, signal: null });
      expect(l.stderr).toContain('debug connector: SCardTransmit → SCARD_S_SUCCESS (APDU (15 bytes)');
      expect(l.stderr.includes('00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01')).toBe(apdus);
    }
  });

  it('publishes readers events to a subscribed connector', async () => {
    const l = host(...DEMO);
    await l.hello('own');
    const sub = await l.request({ kind: 'subscribe' });
    expect(sub).toMatchObject({ kind: 'result', ok: true, value: null });
    const ev = await l.next((m) => m.kind === 'event', 'a readers event');
    const readers = (ev.event as { readers: { name: string; state: number; atr: string }[] }).readers;
    expect(readers.map((r) => r.name)).toEqual(['Gemalto PC Twin Reader 00 00']);
    expect(readers[0]!.state & SCARD_STATE_PRESENT).toBe(SCARD_STATE_PRESENT);
    expect(readers[0]!.atr.length).toBeGreaterThan(0);
  });

  it('ends an infinite SCardGetStatusChange with SCardCancel, other calls running meanwhile', async () => {
    const l = host(...DEMO);
    await l.hello('own');
    const { hCard, protocol, reader } = await demoCard(l);
    // The wait on a context of its own, as pcsc-lite clients must (a context's calls are serialised).
    const { hContext } = (await l.ok('SCardEstablishContext', SCARD_SCOPE_SYSTEM)) as { hContext: number };
    const now = await l.ok('SCardGetStatusChange', hContext, 0, [{ szReader: reader, dwCurrentState: 0 }]);
    const state = (now.readerStates as { dwEventState: number }[])[0]!.dwEventState;
    const wait = l.call('SCardGetStatusChange', hContext, INFINITE, [{ szReader: reader, dwCurrentState: state }]);
    const select = await l.ok('SCardTransmit', hCard, { dwProtocol: protocol }, bytesToHex(SELECT_HELLO), null);
    expect(select.recvBuffer).toBe('9000');
    await l.ok('SCardCancel', hContext);
    expect(await wait).toMatchObject({ ok: false, code: SCARD_E_CANCELLED, name: 'SCARD_E_CANCELLED' });
  });

  it('fails calls before hello with SCARD_E_NO_SERVICE, saying hello comes first', async () => {
    const l = host(...DEMO);
    const r = await l.call('SCardEstablishContext', SCARD_SCOPE_SYSTEM);
    expect(r).toMatchObject({ ok: false, code: SCARD_E_NO_SERVICE });
    expect(String(r.message)).toMatch(/"hello" first/);
  });

  it('switches backends on a later hello, releasing what the connector held (its wait first)', async () => {
    const l = host(...DEMO);
    await l.hello('own');
    const { hContext, reader } = await demoCard(l);
    const now = await l.ok('SCardGetStatusChange', hContext, 0, [{ szReader: reader, dwCurrentState: 0 }]);
    const state = (now.readerStates as { dwEventState: number }[])[0]!.dwEventState;
    const wait = l.call('SCardGetStatusChange', hContext, INFINITE, [{ szReader: reader, dwCurrentState: state }]);

    // No system service here: the switch leaves no backend, and says why in words a person can act on.
    const toSystem = await l.hello('system');
    expect(toSystem.backend).toBeNull();
    expect(toSystem.system).toMatchObject({ available: false });
    expect(String((toSystem.system as { detail: string }).detail)).toMatch(/pcscd.*not running/);
    // The pending wait was answered (cancelled by the release), not left hanging.
    expect((await wait).ok).toBe(false);
    const refused = await l.call('SCardEstablishContext', SCARD_SCOPE_SYSTEM);
    expect(refused).toMatchObject({ ok: false, code: SCARD_E_NO_SERVICE });
    expect(String(refused.message)).toMatch(/system.*not available.*own stack/);

    const back = await l.hello('own');
    expect(back.backend).toBe('own');
    // The old context went with the old backend.
    expect(await l.call('SCardIsValidContext', hContext)).toMatchObject({ ok: false, code: SCARD_E_INVALID_HANDLE });
    await demoCard(l);
  });

  it('exits 0 promptly when stdin closes with a wait pending', async () => {
    const l = host(...DEMO);
    await l.hello('own');
    const { hContext, reader } = await demoCard(l);
    const now = await l.ok('SCardGetStatusChange', hContext, 0, [{ szReader: reader, dwCurrentState: 0 }]);
    const state = (now.readerStates as { dwEventState: number }[])[0]!.dwEventState;
    void l.call('SCardGetStatusChange', hContext, INFINITE, [{ szReader: reader, dwCurrentState: state }]);
    await l.request({ kind: 'ping' });
    expect(await l.end()).toEqual({ code: 0, signal: null });
    expect(l.stderr).toMatch(/reader removed/);
  });

  it('releases everything and exits 0 on SIGTERM (how Chrome ends a host that outlives its port)', async () => {
    const l = host(...DEMO);
    await l.hello('own');
    await demoCard(l);
    l.child.kill('SIGTERM');
    expect(await l.exited).toEqual({ code: 0, signal: null });
    expect(l.stderr).toMatch(/SIGTERM: releasing every context and card/);
    expect(l.stderr).toMatch(/reader removed/);
  });

  it('answers a malformed message with an error and goes on', async () => {
    const l = host(...DEMO);
    l.send({ v: 1, kind: 'call', id: 7, fn: 'SCardFoo', args: [] });
    const err = await l.next((m) => m.kind === 'error', 'an error message');
    expect(err).toMatchObject({ id: 7, message: expect.stringContaining('unknown function') });
    l.send({ v: 2, kind: 'hello', id: 8, backend: 'own' });
    const version = await l.next((m) => m.kind === 'error', 'an error message');
    expect(version).toMatchObject({
      id: 8,
      message: expect.stringMatching(/protocol v2.*speaks v1: update smart-card-host/),
    });
    expect((await l.hello('own')).backend).toBe('own');
  });

  it('logs a bad stream in one line on stderr and exits 1, stdout untouched', async () => {
    const l = host(...DEMO);
    const head = Buffer.alloc(4);
    head.writeUInt32LE(0xfffffff0);
    l.writeRaw(head);
    expect(await l.exited).toEqual({ code: 1, signal: null });
    expect(l.messages).toEqual([]);
    expect(l.stderr).toMatch(/bad input from the browser: a frame announces 4294967280 bytes, beyond the limit/);
    expect(l.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('smart-card-host chrome-extension://ID/ (as Chrome starts it)', () => {
  it("serves the connector's origin as --native-messaging", async () => {
    const l = host(`chrome-extension://${CONNECTOR_ID}/`, '--no-usb');
    const hello = await l.hello('own');
    expect(hello.backend).toBe('own');
    expect(hello.own).toEqual({ available: true, detail: "the host's own stack: 0 readers" });
    const { hContext } = (await l.ok('SCardEstablishContext', SCARD_SCOPE_SYSTEM)) as { hContext: number };
    expect(await l.call('SCardListReaders', hContext, null, null)).toMatchObject({
      ok: false,
      name: 'SCARD_E_NO_READERS_AVAILABLE',
    });
    expect(await l.end()).toEqual({ code: 0, signal: null });
  });

  it('refuses another extension, saying which it serves', async () => {
    const other = 'a'.repeat(32);
    const l = host(`chrome-extension://${other}/`);
    expect(await l.exited).toEqual({ code: 1, signal: null });
    expect(l.messages).toEqual([]);
    expect(l.stderr).toContain(
      `refusing chrome-extension://${other}/: this host serves chrome-extension://${CONNECTOR_ID}/`,
    );
  });

  it('serves another extension named by --extension-id', async () => {
    const other = 'b'.repeat(32);
    const l = host(`chrome-extension://${other}/`, '--extension-id', other, '--no-usb');
    expect((await l.hello('own')).backend).toBe('own');
  });
});
