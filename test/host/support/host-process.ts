/**
 * The built smart-card-host as a process, and Debian's vicc as the card of its vpcd reader, for tests that drive the
 * command from outside with unmodified libpcsclite programs.
 *
 * `buildHost` builds into a folder of the caller's own under dist/ (not dist/host, which cli.test.ts rebuilds in
 * parallel; under the checkout, so the bundle still finds node-usb in node_modules).
 *
 * Debian's vicc needs its module's parent folder on PYTHONPATH and a `Crypto` symlink to pycryptodome's `Cryptodome`
 * (see /work/shared/reference/host-platform.md); `startVicc` makes both.
 */
import { execFileSync, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..', '..');

const VICC = '/usr/bin/vicc';
const VICC_MODULE_PARENT = '/usr/lib/python3/site-packages/virtualsmartcard';
const CRYPTODOME = '/usr/lib/python3/dist-packages/Cryptodome';

/** vicc's iso7816 card's ATR, as pcsc_scan prints it. */
export const VICC_ATR_SPACED = '3B 95 13 81 01 80 73 FF 01 00 0B';

/**
 * Whether vicc can run. Outside CI a missing piece skips (the reason printed); in CI the caller gets `true` and the
 * test then fails on what is missing.
 */
export function haveVicc(what: string): boolean {
  const missing = [VICC, VICC_MODULE_PARENT, CRYPTODOME].filter((p) => !existsSync(p));
  if (missing.length === 0 || process.env.CI) return true;
  console.warn(
    `${what} skipped: ${missing.join(', ')} not found (apt-get install python3-virtualsmartcard python3-pycryptodome)`,
  );
  return false;
}

/**
 * Builds the host as `npm run build:host` does, into a fresh folder dist/PREFIX-XXXXXX (one per run: concurrent runs
 * never empty each other's); returns the path of its cli.js and the folder, for the caller to remove.
 */
export function buildHost(prefix: string): { cli: string; outDir: string } {
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const outDir = mkdtempSync(join(ROOT, 'dist', `${prefix}-`));
  execFileSync('npx', ['vite', 'build', '-c', 'vite.host.config.ts', '--outDir', outDir, '--emptyOutDir'], {
    cwd: ROOT,
    stdio: 'pipe',
    timeout: 120_000,
  });
  return { cli: join(outDir, 'cli.js'), outDir };
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => probe.once('listening', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  return port;
}

export interface HostProcess {
  child: ChildProcess;
  stderr(): string;
  /** Resolves when stderr (from offset `from`) matches; fails after `ms` or when the host exits first. */
  waitLog(re: RegExp, what: string, from?: number, ms?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then the exit status. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `cmd args` (the host, or a wrapper around it) and waits for its "ready:" line. */
export async function startHost(
  cmd: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdio?: StdioOptions } = {},
): Promise<HostProcess> {
  // stderr must be a pipe: the "ready:" line is read from it.
  const child = spawn(cmd, args, {
    env: options.env ?? process.env,
    stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let done = false;
  void exited.then(() => (done = true));
  const waitLog = async (re: RegExp, what: string, from = 0, ms = 15_000): Promise<void> => {
    const end = Date.now() + ms;
    while (!re.test(err.slice(from))) {
      if (done) throw new Error(`the host exited before ${what}: ${err}`);
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms; host log: ${err.slice(-1500)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await waitLog(/ ready: /, 'it was ready');
  return {
    child,
    stderr: () => err,
    waitLog,
    exited,
    stop: async () => {
      if (!done) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Kills a child that may still run (test clean-up). */
export async function killChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await gone;
}

export interface Vicc {
  child: ChildProcess;
  /** SIGTERM and wait for the exit: the card leaves the reader. */
  stop(): Promise<void>;
}

/** Starts Debian's vicc (iso7816 card) connecting to 127.0.0.1:port. */
export function startVicc(port: number): Vicc {
  const shim = mkdtempSync(join(tmpdir(), 'vicc-crypto-'));
  symlinkSync(CRYPTODOME, join(shim, 'Crypto'));
  const child = spawn('/usr/bin/python3', [VICC, '-t', 'iso7816', '-H', '127.0.0.1', '-P', String(port)], {
    env: { ...process.env, PYTHONPATH: `${VICC_MODULE_PARENT}:${shim}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.once('exit', (code) => {
    rmSync(shim, { recursive: true, force: true });
    if (code !== 0 && code !== null) console.error(`vicc exited with ${code}: ${stderr}`);
  });
  return {
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    },
  };
}
