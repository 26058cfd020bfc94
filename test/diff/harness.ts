/**
 * The differential suite's machinery: builds the C client (pcsc-diff.c) and the in-memory IFD handler
 * (ifd-memcard.c), starts Debian's pcscd loading that handler in a private mount namespace, starts smart-card-host
 * --memcard on a private socket, and runs a scenario against one of them, giving its transcript (one line per call).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Scenario, Step } from './scenarios.js';

const HERE = import.meta.dirname;
export const ROOT = join(HERE, '..', '..');
/** Our host, built for this suite into its own directory (cli.test.ts rebuilds dist/host concurrently). */
export const HOST_OUT = join(ROOT, 'dist', 'diff-host');

const LINE_TIMEOUT_MS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Why the suite cannot run here, or null. */
export function unavailable(): string | null {
  if (process.platform !== 'linux') return `pcscd runs on Linux only (this is ${process.platform})`;
  const missing: string[] = [];
  if (!existsSync('/usr/sbin/pcscd')) missing.push('pcscd');
  if (!existsSync('/usr/include/PCSC/winscard.h')) missing.push('libpcsclite-dev');
  if (!existsSync('/usr/bin/gcc')) missing.push('gcc');
  if (missing.length > 0) return `Debian packages missing: apt-get install ${missing.join(' ')}`;
  if (!existsSync('/run/pcscd')) {
    try {
      mkdirSync('/run/pcscd', { recursive: true });
    } catch {
      return '/run/pcscd does not exist and cannot be created (the bind-mount point for a private pcscd): run as root';
    }
  }
  if (spawnSync('unshare', ['-Urm', 'true'], { stdio: 'ignore' }).status !== 0)
    return 'unshare -Urm failed: user namespaces are not available here';
  return null;
}

export interface Built {
  dir: string;
  client: string;
  driver: string;
}

function gcc(args: string[]): void {
  const r = spawnSync('gcc', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error?.message}`);
}

/** Compiles the client and the driver into a temporary directory, and our host into dist/diff-host. */
export function build(): Built {
  const dir = mkdtempSync(join(tmpdir(), 'pcsc-diff-'));
  const client = join(dir, 'pcsc-diff');
  const driver = join(dir, 'libifdmemcard.so');
  gcc([
    '-O1',
    '-Wall',
    '-Werror',
    '-pthread',
    '-I/usr/include/PCSC',
    '-o',
    client,
    join(HERE, 'pcsc-diff.c'),
    '-lpcsclite',
  ]);
  gcc(['-shared', '-fPIC', '-O2', '-Wall', '-I/usr/include/PCSC', '-o', driver, join(HERE, 'ifd-memcard.c')]);
  const r = spawnSync('npx', ['vite', 'build', '-c', 'vite.host.config.ts', '--outDir', HOST_OUT], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`building the host failed: ${r.stderr || r.error?.message}`);
  return { dir, client, driver };
}

export interface Daemon {
  kind: 'pcscd' | 'ours';
  socket: string;
  /** The in-memory card is absent while `presenceDir/absent` exists. */
  presenceDir: string;
  stop(): Promise<void>;
  log(): string;
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

/** Runs the client with a two-line script until the reader is listed (pcscd loads readers after its socket is up). */
async function untilReaderListed(built: Built, socket: string, what: string): Promise<void> {
  let last = '';
  for (let i = 0; i < 100; i++) {
    if (existsSync(socket)) {
      const r = spawnSync(built.client, [], {
        input: 'establish c0\nlist c0\n',
        encoding: 'utf8',
        env: { ...process.env, PCSCLITE_CSOCK_NAME: socket },
        timeout: 5000,
      });
      last = r.stdout;
      if (r.stdout.includes('names="')) return;
    }
    await sleep(50);
  }
  throw new Error(`${what} did not list its reader within 5 s: ${last}`);
}

export async function startPcscd(built: Built): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'diff-pcscd-'));
  const run = join(dir, 'run');
  mkdirSync(run);
  const conf = join(dir, 'reader.conf');
  const presenceDir = join(dir, 'presence');
  mkdirSync(presenceDir);
  writeFileSync(conf, `FRIENDLYNAME "Memory Card Reader"\nDEVICENAME ${presenceDir}\nLIBPATH ${built.driver}\n`);
  const logPath = join(dir, 'pcscd.log');
  const fd = openSync(logPath, 'a');
  // pcscd ignores PCSCLITE_CSOCK_NAME: a private /run/pcscd in a mount namespace (reference/host-platform.md).
  const child = spawn(
    'unshare',
    ['-Urm', 'sh', '-c', `mount --bind '${run}' /run/pcscd && exec pcscd -f -c '${conf}'`],
    {
      stdio: ['ignore', fd, fd],
    },
  );
  closeSync(fd);
  const socket = join(run, 'pcscd.comm');
  const stop = async () => {
    child.kill('SIGTERM');
    await waitExit(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await untilReaderListed(built, socket, 'pcscd');
  } catch (e) {
    const log = existsSync(logPath) ? readFileSync(logPath, 'utf8').slice(-1000) : '';
    await stop();
    throw new Error(`${(e as Error).message}\npcscd's log: ${log}`, { cause: e });
  }
  return {
    kind: 'pcscd',
    socket,
    presenceDir,
    stop,
    log: () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : ''),
  };
}

export async function startOurs(built: Built): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'diff-ours-'));
  const socket = join(dir, 'pcscd.comm');
  const presenceDir = join(dir, 'presence');
  mkdirSync(presenceDir);
  let log = '';
  const args = [join(HOST_OUT, 'cli.js'), `--memcard=${presenceDir}`, '--no-usb', '--socket', socket];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const stop = async () => {
    child.kill('SIGTERM');
    await waitExit(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await untilReaderListed(built, socket, 'smart-card-host');
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\nits log: ${log.slice(-1000)}`, { cause: e });
  }
  return { kind: 'ours', socket, presenceDir, stop, log: () => log };
}

/** One client process driven line by line: each command sent gives exactly one output line. */
class Client {
  readonly child: ChildProcess;
  #buffer = '';
  #lines: string[] = [];
  #waiters: ((line: string) => void)[] = [];
  stderr = '';

  constructor(built: Built, daemon: Daemon) {
    this.child = spawn(built.client, [], {
      env: { ...process.env, PCSCLITE_CSOCK_NAME: daemon.socket, DIFF_PRESENCE_DIR: daemon.presenceDir },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.#buffer += d.toString();
      let i;
      while ((i = this.#buffer.indexOf('\n')) >= 0) {
        const line = this.#buffer.slice(0, i);
        this.#buffer = this.#buffer.slice(i + 1);
        const w = this.#waiters.shift();
        if (w) w(line);
        else this.#lines.push(line);
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  send(cmd: string): void {
    this.child.stdin!.write(`${cmd}\n`);
  }

  next(what: string): Promise<string> {
    const ready = this.#lines.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== done);
        reject(new Error(`no answer to "${what}" within ${LINE_TIMEOUT_MS} ms (a hang); stderr: ${this.stderr}`));
      }, LINE_TIMEOUT_MS);
      const done = (line: string) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.#waiters.push(done);
    });
  }

  async close(): Promise<void> {
    this.child.stdin!.end();
    const exited = waitExit(this.child);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), LINE_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}

/** Runs a scenario against one daemon; resolves with its transcript (one line per step, in the script's order). */
export async function runScenario(built: Built, daemon: Daemon, scenario: Scenario): Promise<string[]> {
  const steps: Step[] = scenario.steps ?? (scenario.script ?? '').split('\n').map((cmd): Step => ({ p: 'A', cmd }));
  const clients = { A: new Client(built, daemon), B: new Client(built, daemon) };
  const transcript: string[] = [];
  const pending: Partial<Record<'A' | 'B', { index: number; line: Promise<string> }>> = {};
  const collect = async (p: 'A' | 'B') => {
    const w = pending[p];
    if (w === undefined) return;
    delete pending[p];
    transcript[w.index] = `${p}: ${await w.line}`;
  };
  try {
    for (const step of steps) {
      await collect(step.p);
      const client = clients[step.p];
      if (step.cmd === 'exit') {
        client.send('exit');
        await waitExit(client.child);
        transcript.push(`${step.p}: exit => exited (${client.child.exitCode})`);
        continue;
      }
      client.send(step.cmd);
      const line = client.next(step.cmd);
      if (step.pending === true) {
        pending[step.p] = { index: transcript.length, line };
        transcript.push('');
        // A rejection is reported when collected; keep Node from calling it unhandled meanwhile.
        line.catch(() => undefined);
      } else {
        transcript.push(`${step.p}: ${await line}`);
      }
    }
    await collect('A');
    await collect('B');
  } finally {
    await Promise.all([clients.A.close(), clients.B.close()]);
  }
  return scenario.steps === undefined ? transcript.map((l) => l.replace(/^A: /, '')) : transcript;
}
