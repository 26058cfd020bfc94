/**
 * The built smart-card-host as a process, and Debian's vicc as the card of its vpcd reader, for tests that drive the
 * command from outside with unmodified libpcsclite programs.
 *
 * `buildHost` builds into a folder of the caller's own under dist/ (not dist/host, which cli.test.ts rebuilds in
 * parallel; under the checkout, so the bundle still finds node-usb in node_modules). Debian's vicc as the card:
 * test/host/support/vicc.ts.
 */
import { execFileSync, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..', '..');

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
