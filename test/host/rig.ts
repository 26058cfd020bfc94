/**
 * The host rig: a PcscDaemon fed by any IfdReader (the simulated GemPC Twin by default; the vpcd reader later), served
 * on a temporary pcscd socket, and helpers to run Debian's libpcsclite programs against it through
 * PCSCLITE_CSOCK_NAME.
 *
 * Tests that need a Debian package skip only outside CI (`process.env.CI` unset) and say why; in CI a missing tool
 * fails the test.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CcidReader } from '../../src/ccid/reader.js';
import type { IfdReader } from '../../src/ifd/ifd.js';
import { PcscDaemon } from '../../src/pcsc/daemon.js';
import {
  servePcscdTuned,
  type PcscdLogLevel,
  type PcscdServer,
  type PcscdTuning,
} from '../../src/host/pcscd/server.js';
import { createSimulatedReader, helloWorldCardT1, type SimulatedReader } from '../../src/sim/index.js';

export const DRIVER_OPTIONS = { timeoutScale: 0.01, pollIntervalMs: 5 } as const;

export interface HostRig {
  daemon: PcscDaemon;
  server: PcscdServer;
  socketPath: string;
  dir: string;
  /** Environment for a libpcsclite child process: PCSCLITE_CSOCK_NAME points at our socket. */
  env: NodeJS.ProcessEnv;
  logs: string[];
  stop(): Promise<void>;
}

export interface RigOptions {
  /** The readers to add; default: one simulated GemPC Twin holding the hello-world T=1 card (see `simReader`). */
  readers?: IfdReader[];
  tuning?: Partial<PcscdTuning>;
  logApdus?: boolean;
  /** The server's logLevel (default: unset, every debug line built). */
  logLevel?: PcscdLogLevel;
}

/** A simulated GemPC Twin with the hello-world card, opened by the CCID driver. */
export async function simReader(): Promise<{ sim: SimulatedReader; reader: IfdReader }> {
  const sim = createSimulatedReader('gempc-twin');
  sim.insertCard(helloWorldCardT1());
  const reader = await CcidReader.open(sim, DRIVER_OPTIONS);
  return { sim, reader };
}

export async function startRig(options: RigOptions = {}): Promise<HostRig> {
  // Short: a Unix socket path holds 107 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'sch-'));
  const socketPath = join(dir, 'pcscd.comm');
  const logs: string[] = [];
  const log = (level: string, message: string): void => {
    logs.push(`${level}: ${message}`);
  };
  const daemon = new PcscDaemon({ log });
  for (const r of options.readers ?? [(await simReader()).reader]) await daemon.addReader(r);
  const server = await servePcscdTuned(
    {
      daemon,
      path: socketPath,
      log,
      logApdus: options.logApdus ?? false,
      ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
    },
    options.tuning ?? {},
  );
  const env = { ...process.env, PCSCLITE_CSOCK_NAME: socketPath };
  return {
    daemon,
    server,
    socketPath,
    dir,
    env,
    logs,
    stop: async () => {
      await server.close();
      await daemon.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Whether a Debian tool is there. Outside CI a missing tool skips (the reason printed); in CI it is a failure, so the
 * caller gets `true` and the test then fails on the missing program.
 */
export function haveTool(path: string, pkg: string): boolean {
  if (existsSync(path)) return true;
  if (process.env.CI) return true;
  console.warn(`skipped: ${path} is missing (Debian package ${pkg}; .ci/run installs it)`);
  return false;
}

export function havePyscard(): boolean {
  if (!existsSync('/usr/bin/python3')) return haveTool('/usr/bin/python3', 'python3');
  const r = spawnSync('/usr/bin/python3', ['-c', 'import smartcard'], { encoding: 'utf8' });
  if (r.status === 0 || process.env.CI) return true;
  console.warn(
    'skipped: /usr/bin/python3 cannot import smartcard (Debian package python3-pyscard; .ci/run installs it)',
  );
  return false;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run a program to its end (asynchronously: the daemon serving it runs in this process). */
export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 15_000,
  input?: string,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${cmd} ${args.join(' ')} did not end within ${timeoutMs} ms; stdout: ${stdout.slice(-500)} stderr: ${stderr.slice(-500)}`,
        ),
      );
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/** A long-running child whose output lines can be awaited. */
export class Spawned {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  #waiters: { re: RegExp; from: number; resolve: (m: RegExpExecArray) => void }[] = [];

  constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.stdout += d.toString();
      this.#check();
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      const m = w.re.exec(this.stdout.slice(w.from));
      if (m === null) return true;
      w.resolve(m);
      return false;
    });
  }

  /** Resolves when stdout (from offset `from`) matches; fails after `ms`. */
  waitFor(re: RegExp, ms = 10_000, from = 0): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no ${re} in output within ${ms} ms; stdout: ${this.stdout.slice(-800)} stderr: ${this.stderr.slice(-400)}`,
            ),
          ),
        ms,
      );
      this.#waiters.push({
        re,
        from,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
      this.#check();
    });
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        resolve();
        return;
      }
      this.child.once('close', () => resolve());
      this.child.kill(signal);
    });
  }
}

/** Waits until `cond()` holds, checking after each turn of the event loop and every few ms; fails after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const SELECT_HELLO = '00:A4:04:00:0A:A0:00:00:00:62:03:01:0C:06:01';
/** "Hello world!" then 90 00, as opensc-tool prints it. */
export const HELLO_HEX = '48 65 6C 6C 6F 20 77 6F 72 6C 64 21';

const C_SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'c', 'pcsc-client.c');

/** Compile test/host/c/pcsc-client.c against libpcsclite into a temp dir; throws with gcc's output when it fails. */
export function buildClient(): { dir: string; client: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pcsc-client-'));
  const client = join(dir, 'pcsc-client');
  const r = spawnSync('gcc', ['-O1', '-Wall', '-Werror', '-I/usr/include/PCSC', '-o', client, C_SOURCE, '-lpcsclite'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`gcc failed (${r.status}): ${r.stderr || r.error?.message}`);
  return { dir, client };
}
