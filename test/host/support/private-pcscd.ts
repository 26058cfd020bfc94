/**
 * A private pcscd (Debian's pcsc-lite) with one vpcd reader, and vicc (vsmartcard's card emulator) as the card in it.
 *
 * pcscd always creates /run/pcscd/pcscd.comm (it ignores PCSCLITE_CSOCK_NAME), so it runs in its own user + mount
 * namespace (`unshare -Urm`) with a private directory bind-mounted on /run/pcscd; clients reach it through that
 * directory by setting PCSCLITE_CSOCK_NAME (see /work/shared/reference/host-platform.md). vpcd listens on PORT (reader
 * "Virtual PCD 00 00") and PORT+1 ("… 00 01"); vicc connects to PORT as a TCP client and exits (status 0) whenever
 * it cannot connect or vpcd drops it, so the rig restarts it while a card is wanted.
 *
 * Reused by the host tests and the browser end-to-end tests.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cryptoShim, spawnVicc as spawnViccProcess, VICC_PACKAGES, viccMissing } from './vicc.js';

const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';

/** The name pcscd gives the first vpcd reader (FRIENDLYNAME "Virtual PCD", slot 00 00). */
export const VPCD_READER = 'Virtual PCD 00 00';
export { VICC_ISO7816_ATR } from './vicc.js';

/** Why the rig cannot run here (missing package, not Linux, no user namespaces), or null when it can. */
export function privatePcscdUnavailable(): string | null {
  if (process.platform !== 'linux') return `the private pcscd rig needs Linux (this is ${process.platform})`;
  const missing: string[] = [];
  if (!existsSync('/usr/sbin/pcscd')) missing.push('pcscd');
  if (!existsSync(VPCD_DRIVER)) missing.push('vsmartcard-vpcd');
  if (viccMissing().length) missing.push(VICC_PACKAGES);
  const libdirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu'];
  if (!libdirs.some((d) => existsSync(join(d, 'libpcsclite.so.1')))) {
    missing.push('libpcsclite1');
  }
  if (missing.length) return `Debian packages missing: apt-get install ${missing.join(' ')}`;
  if (!existsSync('/run/pcscd')) {
    try {
      mkdirSync('/run/pcscd', { recursive: true });
    } catch {
      return '/run/pcscd does not exist and cannot be created (needed as the bind-mount point): run as root';
    }
  }
  const probe = spawnSync('unshare', ['-Urm', 'true'], { stdio: 'ignore' });
  if (probe.status !== 0) return 'unshare -Urm failed: user namespaces are not available here';
  return null;
}

async function freePortPair(): Promise<number> {
  const listen = (port: number) =>
    new Promise<number | null>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(null));
      s.listen(port, '0.0.0.0', () => {
        const a = s.address();
        const p = typeof a === 'object' && a ? a.port : null;
        s.close(() => resolve(p));
      });
    });
  for (let i = 0; i < 50; i++) {
    const port = await listen(0);
    if (port === null || port >= 65535) continue;
    if ((await listen(port + 1)) !== null) return port;
  }
  throw new Error('no free pair of TCP ports for vpcd');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface PrivatePcscd {
  /** Private directory (reader.conf, run/, logs). */
  dir: string;
  /** Client socket path: what PCSCLITE_CSOCK_NAME must name. */
  socketPath: string;
  /** vpcd's first port (vicc connects here). */
  port: number;
  readerName: string;
  /** Starts pcscd (again); resolves when its socket exists. */
  startPcscd(): Promise<void>;
  /** SIGTERM to pcscd; resolves when it has exited. */
  stopPcscd(): Promise<void>;
  /** Starts vicc (iso7816 card) and keeps it running until stopCard. */
  startCard(): void;
  /** Kills vicc: the card is removed. Resolves when it has exited. */
  stopCard(): Promise<void>;
  /** Stops everything and removes the directory. */
  close(): Promise<void>;
}

function waitExit(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

/** Creates the directory and reader.conf and starts pcscd (no card yet). Check privatePcscdUnavailable() first. */
export async function startPrivatePcscd(): Promise<PrivatePcscd> {
  const dir = mkdtempSync(join(tmpdir(), 'private-pcscd-'));
  const run = join(dir, 'run');
  mkdirSync(run);
  const port = await freePortPair();
  const conf = join(dir, 'reader.conf');
  writeFileSync(conf, `FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:${port}\nLIBPATH ${VPCD_DRIVER}\n`);
  const shim = cryptoShim(dir);
  const socketPath = join(run, 'pcscd.comm');

  let pcscd: ChildProcess | null = null;
  let vicc: ChildProcess | null = null;
  let wantCard = false;
  let closed = false;

  const startPcscd = async (): Promise<void> => {
    if (pcscd && pcscd.exitCode === null && pcscd.signalCode === null) return;
    rmSync(socketPath, { force: true });
    const log = openSync(join(dir, 'pcscd.log'), 'a');
    pcscd = spawn('unshare', ['-Urm', 'sh', '-c', `mount --bind '${run}' /run/pcscd && exec pcscd -f -c '${conf}'`], {
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    const child = pcscd;
    for (let i = 0; i < 200 && !existsSync(socketPath); i++) {
      if (child.exitCode !== null) throw new Error(`pcscd exited (${child.exitCode}); see ${join(dir, 'pcscd.log')}`);
      await sleep(25);
    }
    if (!existsSync(socketPath)) throw new Error(`pcscd did not create ${socketPath}; see ${join(dir, 'pcscd.log')}`);
  };

  const stopPcscd = async (): Promise<void> => {
    const child = pcscd;
    pcscd = null;
    if (!child) return;
    child.kill('SIGTERM');
    await waitExit(child);
  };

  const spawnVicc = (): void => {
    const log = openSync(join(dir, 'vicc.log'), 'a');
    const child = spawnViccProcess(port, shim, ['ignore', log, log]);
    closeSync(log);
    vicc = child;
    child.once('exit', () => {
      if (vicc === child) vicc = null;
      // vicc gives up (status 0) when vpcd is not there yet or dropped it: try again while a card is wanted.
      if (wantCard && !closed) setTimeout(() => wantCard && !closed && !vicc && spawnVicc(), 200);
    });
  };

  const startCard = (): void => {
    wantCard = true;
    if (!vicc) spawnVicc();
  };

  const stopCard = async (): Promise<void> => {
    wantCard = false;
    const child = vicc;
    vicc = null;
    if (!child) return;
    child.kill('SIGKILL');
    await waitExit(child);
  };

  const close = async (): Promise<void> => {
    closed = true;
    await stopCard();
    await stopPcscd();
    rmSync(dir, { recursive: true, force: true });
  };

  await startPcscd();
  return { dir, socketPath, port, readerName: VPCD_READER, startPcscd, stopPcscd, startCard, stopCard, close };
}
