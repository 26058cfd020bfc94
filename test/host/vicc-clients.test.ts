/**
 * The built host started with `--vpcd PORT`, Debian's vicc as the card, and unmodified libpcsclite programs on the
 * host's socket: pcsc_scan sees the vicc card inserted and removed; pyscard connects, transmits, waits in
 * SCardGetStatusChange and is cancelled; our C client gets pcsc-lite's codes on the error paths, and those of a card
 * removed under an open handle.
 *
 * vicc's file system dies on a SELECT that asks for FCI: SELECT MF goes with P2 = 0C, then GET CHALLENGE.
 * Each test needs Debian packages and skips only outside CI (`CI` unset), saying why.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Spawned, buildClient, havePyscard, haveTool, run } from './rig.js';
import { ROOT, buildHost, freePort, killChild, startHost, type HostProcess } from './support/host-process.js';
import { VICC_ATR_SPACED, haveVicc, startVicc, type Vicc } from './support/vicc.js';

const vicc = haveVicc('vicc-clients.test.ts');
const withScan = vicc && haveTool('/usr/bin/pcsc_scan', 'pcsc-tools');
const withPyscard = vicc && havePyscard();
const withC = vicc && haveTool('/usr/bin/gcc', 'gcc') && haveTool('/usr/include/PCSC/winscard.h', 'libpcsclite-dev');
const READER = 'Virtual PCD 00 00';
const PY_SCRIPT = join(ROOT, 'test', 'host', 'py', 'pyscard_client.py');

let cli = '';
let outDir = '';
let dir = '';
beforeAll(() => {
  if (!vicc) return;
  ({ cli, outDir } = buildHost('host-vicc-test'));
  dir = mkdtempSync(join(tmpdir(), 'sch-vicc-'));
}, 150_000);
afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  if (outDir !== '') rmSync(outDir, { recursive: true, force: true });
});

let host: HostProcess | undefined;
let card: Vicc | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) await killChild(c);
  await card?.stop();
  card = undefined;
  if (host !== undefined) {
    const { code } = await host.stop();
    host = undefined;
    expect(code).toBe(0);
  }
});

let counter = 0;

/** The built host with only a vpcd reader; vicc connected (a card in the reader) unless `withCard` is false. */
async function startWithVicc(withCard = true): Promise<{ env: NodeJS.ProcessEnv; port: number }> {
  const port = await freePort();
  const socket = join(dir, `v${++counter}.comm`);
  host = await startHost(process.execPath, [cli, '--vpcd', String(port), '--no-usb', '--socket', socket]);
  if (withCard) await insert(port);
  return { env: { ...process.env, PCSCLITE_CSOCK_NAME: socket }, port };
}

async function insert(port: number): Promise<void> {
  const from = host!.stderr().length;
  card = startVicc(port);
  await host!.waitLog(new RegExp(`${READER}: card inserted`), 'vicc connected', from);
}

async function remove(): Promise<void> {
  const from = host!.stderr().length;
  await card!.stop();
  card = undefined;
  await host!.waitLog(new RegExp(`${READER}: card removed`), 'vicc gone', from);
}

describe('pcsc_scan, --vpcd and vicc', () => {
  it.runIf(withScan)('sees the vicc card inserted and removed', { timeout: 40_000 }, async () => {
    const { env, port } = await startWithVicc(false);
    const scan = new Spawned('/usr/bin/pcsc_scan', ['-n'], { ...env, TERM: 'dumb' });
    children.push(scan.child);
    await scan.waitFor(new RegExp(`0: ${READER}`));
    await scan.waitFor(/Card state: Card removed/);
    const mark = scan.stdout.length;
    await insert(port);
    await scan.waitFor(/Card state: Card inserted/, 10_000, mark);
    await scan.waitFor(new RegExp(`ATR: ${VICC_ATR_SPACED}`), 10_000, mark);
    const mark2 = scan.stdout.length;
    await remove();
    await scan.waitFor(/Card state: Card removed/, 10_000, mark2);
    // One insertion, one removal since the reader started empty.
    expect(scan.stdout.slice(mark2)).toMatch(/Event number: 2/);
  });
});

describe('pyscard, --vpcd and vicc', () => {
  it.runIf(withPyscard)('lists, connects, transmits, and has a wait cancelled', { timeout: 40_000 }, async () => {
    const { env } = await startWithVicc();
    const py = new Spawned('/usr/bin/python3', [PY_SCRIPT, 'vicc'], env);
    children.push(py.child);
    await py.waitFor(/waiting=1/);
    py.send('cancel');
    await py.waitFor(/done=1/, 15_000);
    const o = py.stdout;
    expect(o).toContain(`high_level_readers=${READER}\n`);
    expect(o).toContain(`reader=${READER}\n`);
    expect(o).toContain('connect=0x0\n');
    expect(o).toContain('protocol=2\n'); // T=1: vicc's ATR offers T=1 only
    expect(o).toContain('select=9000\n');
    expect(o).toContain('transmit=0x0\n');
    expect(o).toContain('response_len=10\n'); // 8 random bytes and 90 00
    expect(o).toContain('sw=9000\n');
    expect(o).toContain('cancel=0x0\n');
    expect(o).toContain('wait_rv=0x80100002\n'); // SCARD_E_CANCELLED
    expect(o).toContain('wait_cancelled=True\n');
    expect(o).toContain('release=0x0\n');
  });
});

function codes(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    for (const m of line.matchAll(/(\w+)=(\S+)/g)) out[m[1]!] = m[2]!;
  }
  return out;
}

describe.runIf(withC)('the C client, --vpcd and vicc', () => {
  let binDir = '';
  let client = '';
  beforeAll(() => {
    const b = buildClient();
    binDir = b.dir;
    client = b.client;
  });
  afterAll(() => {
    if (binDir !== '') rmSync(binDir, { recursive: true, force: true });
  });

  it("gets pcsc-lite's codes on the error paths", { timeout: 40_000 }, async () => {
    const { env } = await startWithVicc();
    const r = await run(client, ['errors', 'vicc'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(codes(r.stdout)).toMatchObject({
      reader: 'Virtual',
      connect_bad_context: '0x80100003', // SCARD_E_INVALID_HANDLE
      transmit_bad_handle: '0x80100003',
      release_bad_context: '0x80100003',
      connect_unknown_reader: '0x80100009', // SCARD_E_UNKNOWN_READER
      list_small: '0x80100008', // SCARD_E_INSUFFICIENT_BUFFER …
      list_needed: String(READER.length + 2), // … with the multi-string's length
      select: '0x00000000',
      select_sw: '9000',
      transmit_small: '0x80100008', // GET CHALLENGE ran; 10 bytes do not fit in 5
      transmit_needed: '10',
      transmit_hello: '0x00000000',
      response_len: '10',
      sw: '9000',
      getattrib_small: '0x80100008',
      getattrib_atr: '0x00000000',
      atr_len: '11',
      transmit_wrong_protocol: '0x8010000F', // SCARD_E_PROTO_MISMATCH
      status: '0x00000000',
      // Event counter 1 (vicc came after the reader) << 16 | PRESENT | POWERED | NEGOTIABLE.
      status_state: '0x00010034',
      status_protocol: '2',
      status_atr_len: '11',
      end_without_begin: '0x80100016', // SCARD_E_NOT_TRANSACTED
      exclusive_while_shared: '0x8010000B', // SCARD_E_SHARING_VIOLATION
      disconnect: '0x00000000',
      disconnect_again: '0x80100003',
      exclusive: '0x00000000',
      shared_while_exclusive: '0x8010000B',
      disconnect_exclusive: '0x00000000',
      gsc_unknown_reader: '0x80100009',
      gsc_unaware: '0x00000000',
      gsc_event_state: '0x00010022', // counter 1 | PRESENT | CHANGED
      gsc_atr_len: '11',
      gsc_timeout: '0x8010000A', // SCARD_E_TIMEOUT
      release2: '0x00000000',
      release: '0x00000000',
      release_again: '0x80100003',
    });
  });

  it('gets the removed-card codes when vicc goes away under an open handle', { timeout: 40_000 }, async () => {
    const { env } = await startWithVicc();
    const c = new Spawned(client, ['removed'], env);
    children.push(c.child);
    await c.waitFor(/CONNECTED/);
    await remove();
    c.send('go');
    await c.waitFor(/release=/);
    expect(codes(c.stdout)).toMatchObject({
      transmit_removed: '0x80100069', // SCARD_W_REMOVED_CARD
      status_removed: '0x80100069',
      connect_no_card: '0x8010000C', // SCARD_E_NO_SMARTCARD
      disconnect_removed: '0x00000000',
      release: '0x00000000',
    });
  });
});
