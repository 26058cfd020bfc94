/**
 * The smart-card-host command, built as `npm run host` builds it (dist/host/cli.js) and run as a process: --help and
 * --version, bad options, the demo reader seen by Debian's pcsc_scan and opensc-tool through PCSCLITE_CSOCK_NAME,
 * a clean stop on SIGTERM and SIGINT (socket removed), a live socket refused, a start-up failure's message and status.
 *
 * pcsc_scan and opensc-tool are Debian packages (pcsc-tools, opensc): their tests skip only outside CI.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cryptoShim, spawnVicc, VICC_PACKAGES, viccMissing } from './support/vicc.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'host', 'cli.js');

const tools = ['/usr/bin/pcsc_scan', '/usr/bin/opensc-tool'];
const missingTools = tools.filter((t) => !existsSync(t));
const skipTools = missingTools.length > 0 && !process.env.CI;
if (skipTools) {
  console.warn(
    `cli.test.ts: PC/SC tool tests skipped: ${missingTools.join(', ')} missing (apt-get install pcsc-tools opensc)`,
  );
}

const missingVicc = [...viccMissing(), ...missingTools];
const skipVicc = missingVicc.length > 0 && !process.env.CI;
if (skipVicc) {
  console.warn(
    `cli.test.ts: the vpcd test is skipped: ${missingVicc.join(', ')} missing ` +
      `(apt-get install ${VICC_PACKAGES} opensc)`,
  );
}

let dir = '';
beforeAll(() => {
  // What `npm run host` runs first: the test covers the built program, not the sources.
  execFileSync('npx', ['vite', 'build', '-c', 'vite.host.config.ts'], { cwd: ROOT, stdio: 'pipe', timeout: 120_000 });
  dir = mkdtempSync(join(tmpdir(), 'sch-cli-'));
}, 150_000);
afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

const running: ChildProcess[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      const done = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await done;
    }
  }
});

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let counter = 0;
const socketPath = () => join(dir, `s${++counter}.comm`);

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 15_000,
  });
}

interface Host {
  child: ChildProcess;
  socket: string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the host and waits until it says it is ready (or exits). */
async function start(args: string[], socket = socketPath()): Promise<Host> {
  const child = spawn(process.execPath, [CLI, '--socket', socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    const check = () => {
      if (/ ready: /.test(err)) resolve();
    };
    child.stderr!.on('data', check);
    void exited.then(({ code }) => reject(new Error(`the host exited (${code}) before it was ready: ${err}`)));
  });
  await ready;
  return { child, socket, stderr: () => err, exited };
}

describe('smart-card-host', () => {
  it('--help reads like a man page, on stdout, exit 0', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const section of [
      'NAME',
      'SYNOPSIS',
      'DESCRIPTION',
      'OPTIONS',
      'ENVIRONMENT',
      'FILES',
      'EXIT STATUS',
      'EXAMPLES',
    ]) {
      expect(r.stdout).toMatch(new RegExp(`^${section}$`, 'm'));
    }
    for (const option of [
      '--demo',
      '--sim',
      '--vpcd',
      '--no-usb',
      '--socket',
      '--log-level',
      '--log-apdus',
      'PCSCLITE_CSOCK_NAME',
    ]) {
      expect(r.stdout).toContain(option);
    }
    expect(r.stderr).toBe('');
  });

  it('--version prints the package version', () => {
    const r = run(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^smart-card-host \d+\.\d+\.\d+\n$/);
  });

  it.each([
    [['--bogus'], /unknown option --bogus/],
    [['--sim', 'nope'], /--sim: unknown reader profile "nope": one of gempc-twin/],
    [['--sim'], /--sim needs a value/],
    [['--vpcd=99999'], /--vpcd: "99999" is not a TCP port/],
    [['--log-level', 'loud'], /--log-level: "loud" is not one of debug, info, warn, error/],
    [['--demo=yes'], /--demo takes no value/],
    [['--socket', `/tmp/${'x'.repeat(120)}`], /--socket: the socket path is \d+ bytes long/],
    [['stray'], /unexpected argument "stray"/],
  ])('refuses %j with exit status 2 and a message', (args, message) => {
    const r = run(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain("Try 'smart-card-host --help'");
    expect(r.stdout).toBe('');
  });

  it.skipIf(skipTools)('serves the demo card to pcsc_scan and opensc-tool through PCSCLITE_CSOCK_NAME', async () => {
    const host = await start(['--demo', '--no-usb']);
    const env = { ...process.env, PCSCLITE_CSOCK_NAME: host.socket };
    const scan = spawnSync('/usr/bin/pcsc_scan', ['-r'], { encoding: 'utf8', env, timeout: 15_000 });
    expect(scan.stdout).toContain('Gemalto PC Twin Reader 00 00');
    const atr = spawnSync('/usr/bin/opensc-tool', ['-a'], { encoding: 'utf8', env, timeout: 15_000 });
    expect(atr.status).toBe(0);
    // The hello-world card: JCOP v2.4.1's ATR.
    expect(atr.stdout).toContain('3b:f8:13:00:00:81:31:fe:45:4a:43:4f:50:76:32:34:31:b7');
    expect(host.stderr()).toContain('reader added: Gemalto PC Twin Reader 00 00');
  });

  it.skipIf(skipTools)('logs APDUs with --log-apdus, and never PIN data', { timeout: 30_000 }, async () => {
    const host = await start(['--sim', 'pinpad', '--no-usb', '--log-apdus', '--log-level', 'debug']);
    const env = { ...process.env, PCSCLITE_CSOCK_NAME: host.socket };
    // SELECT the PIN applet's AID is not needed: VERIFY goes out as sent, whatever the card answers.
    const r = spawnSync('/usr/bin/opensc-tool', ['-s', '00 20 00 01 04 31 32 33 34', '-s', '00 84 00 00 08'], {
      encoding: 'utf8',
      env,
      timeout: 15_000,
    });
    expect(r.status, r.stderr).toBe(0);
    // spawnSync blocked this process: the host's log lines are read now.
    await until(() => host.stderr().includes('00 84 00 00 08'), 'the GET CHALLENGE log line');
    const log = host.stderr();
    expect(log).toContain('00 84 00 00 08');
    expect(log).toContain('PIN data redacted');
    expect(log).not.toMatch(/31 32 33 34/);
  });

  it.skipIf(skipVicc)('--vpcd serves a vicc card to opensc-tool', { timeout: 30_000 }, async () => {
    const probe = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => probe.once('listening', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const host = await start(['--vpcd', String(port), '--no-usb']);
    const vicc = spawnVicc(port, cryptoShim(dir));
    running.push(vicc);
    await until(() => host.stderr().includes('Virtual PCD 00 00: card inserted'), 'vicc to connect');
    const env = { ...process.env, PCSCLITE_CSOCK_NAME: host.socket };
    const atr = spawnSync('/usr/bin/opensc-tool', ['-a'], { encoding: 'utf8', env, timeout: 15_000 });
    expect(atr.stdout).toContain('3b:95:13:81:01:80:73:ff:01:00:0b');
  });

  it('SIGTERM stops it cleanly: exit 0, socket removed', async () => {
    const host = await start(['--demo', '--no-usb']);
    expect(existsSync(host.socket)).toBe(true);
    host.child.kill('SIGTERM');
    const { code } = await host.exited;
    expect(code).toBe(0);
    expect(existsSync(host.socket)).toBe(false);
    expect(host.stderr()).toContain('SIGTERM: stopping');
    expect(host.stderr()).toContain('reader removed: Gemalto PC Twin Reader 00 00');
  });

  it('serves on $PCSCLITE_CSOCK_NAME when --socket is not given', async () => {
    const socket = socketPath();
    const child = spawn(process.execPath, [CLI, '--demo', '--no-usb'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, PCSCLITE_CSOCK_NAME: socket },
    });
    running.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await until(() => err.includes(' ready: '), 'the host to be ready');
    expect(err).toContain(`serving pcscd protocol 4.4 on ${socket}`);
    expect(existsSync(socket)).toBe(true);
  });

  it('SIGINT stops it the same way', async () => {
    const host = await start(['--demo', '--no-usb']);
    host.child.kill('SIGINT');
    expect((await host.exited).code).toBe(0);
    expect(existsSync(host.socket)).toBe(false);
  });

  it('refuses a socket a live server answers on, naming it, with exit status 1; that socket stays', async () => {
    const first = await start(['--demo', '--no-usb']);
    const r = run(['--demo', '--no-usb', '--socket', first.socket]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${first.socket} is in use: process ${first.child.pid}`));
    expect(r.stderr).toContain('systemctl stop pcscd.socket pcscd');
    expect(existsSync(first.socket)).toBe(true);
    // The first host still serves.
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(first.socket, () => {
        s.destroy();
        resolve();
      });
      s.once('error', reject);
    });
  });

  it('replaces a stale socket left by a crashed daemon', async () => {
    const socket = socketPath();
    // A listener killed outright leaves its socket file behind, as a crashed pcscd does.
    spawnSync(process.execPath, [
      '-e',
      "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))",
      socket,
    ]);
    expect(existsSync(socket)).toBe(true);
    const host = await start(['--demo', '--no-usb'], socket);
    expect(host.stderr()).toContain(`serving pcscd protocol 4.4 on ${socket}`);
  });

  it('fails to start with exit status 1 and one clear message when a path cannot be used', () => {
    const file = join(dir, 'not-a-socket');
    writeFileSync(file, 'x');
    const r = run(['--demo', '--no-usb', '--socket', file]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`smart-card-host: ${file} exists and is not a socket`);
    const blocked = run(['--demo', '--no-usb', '--socket', join(file, 'sub', 'pcscd.comm')]);
    expect(blocked.status).toBe(1);
    expect(blocked.stderr).toMatch(/smart-card-host: cannot create the directory/);
  });

  it('fails to start when the vpcd port is taken, releasing what it opened', async () => {
    const taken = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => taken.once('listening', r));
    const port = (taken.address() as net.AddressInfo).port;
    const socket = socketPath();
    const r = run(['--demo', '--no-usb', '--vpcd', String(port), '--socket', socket]);
    taken.close();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`smart-card-host: cannot start the vpcd reader: port ${port} on 127\\.0\\.0\\.1 is already in use`),
    );
    expect(existsSync(socket)).toBe(false);
  });

  it('with USB on, says whether there is a USB bus and serves the other readers either way', async () => {
    const host = await start(['--demo']);
    if (existsSync('/sys/bus/usb/devices')) expect(host.stderr()).not.toContain('no USB bus');
    else expect(host.stderr()).toMatch(/warn {2}no USB bus: \/sys\/bus\/usb\/devices does not exist/);
    expect(host.stderr()).toContain('Gemalto PC Twin Reader 00 00');
  });
});
