/**
 * systemd socket activation of the built host: started as a .socket unit starts it (a listening Unix socket as fd 3,
 * LISTEN_FDS=1, LISTEN_PID = its own pid), it serves that socket — a raw protocol 4.4 client and Debian's pcsc_scan
 * reach the demo card through it — and leaves the socket file to systemd when it stops. The shipped unit files
 * (docs/systemd/) hold what docs/host.md promises: the socket on pcscd's path, a service whose ExecStart uses options
 * the host has, shown verbatim in the docs; `systemd-analyze verify` accepts them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SOCKET_PATH } from '../../src/host/pcscd/socket-path.js';
import { helloOverRawSocket } from './raw-client.js';
import { haveTool, run } from './rig.js';
import { ROOT, buildHost, startHost, type HostProcess } from './support/host-process.js';

let cli = '';
let outDir = '';
let dir = '';
beforeAll(() => {
  ({ cli, outDir } = buildHost('host-activation-test'));
  dir = mkdtempSync(join(tmpdir(), 'sch-sd-'));
}, 150_000);
afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  if (outDir !== '') rmSync(outDir, { recursive: true, force: true });
});

let host: HostProcess | undefined;
afterEach(async () => {
  await host?.stop();
  host = undefined;
});

/**
 * A listening Unix socket at `path` handed to `sh`, which sets LISTEN_PID to its own pid and execs the host (the pid
 * stays). Then this process lets go of its copy without unlinking the file (libuv unlinks the path it bound when the
 * server closes): moved aside, closed, moved back — systemd likewise keeps the only name.
 */
async function activate(path: string, args: string[]): Promise<HostProcess> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(path, resolve));
  const started = startHost(
    '/bin/sh',
    ['-c', 'export LISTEN_FDS=1 LISTEN_PID=$$; exec "$0" "$@"', process.execPath, cli, ...args],
    // The listening descriptor by number (Node's stdio takes an fd of this process and makes it the child's fd 3).
    { stdio: ['ignore', 'pipe', 'pipe', (listener as unknown as { _handle: { fd: number } })._handle.fd] },
  );
  try {
    return await started;
  } finally {
    renameSync(path, `${path}.aside`);
    await new Promise((r) => listener.close(r));
    renameSync(`${path}.aside`, path);
  }
}

describe('socket activation (LISTEN_FDS)', () => {
  it('serves the socket it is given, and leaves the file when it stops', async () => {
    const path = join(dir, 'pcscd.comm');
    host = await activate(path, ['--demo', '--no-usb', '--socket', path]);
    expect(host.stderr()).toContain(`serving pcscd protocol 4.4 on ${path} (socket passed by systemd, fd 3)`);
    const { client, hello } = await helloOverRawSocket(path);
    expect(Buffer.from(hello).toString('latin1')).toBe('Hello world!\x90\x00');
    await client.close();
    if (haveTool('/usr/bin/pcsc_scan', 'pcsc-tools')) {
      const r = await run('/usr/bin/pcsc_scan', ['-r'], { ...process.env, PCSCLITE_CSOCK_NAME: path });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('0: Gemalto PC Twin Reader 00 00');
    }
    const { code } = await host.stop();
    host = undefined;
    expect(code).toBe(0);
    // systemd's file: still there, still a socket (the unit keeps listening for the next start).
    expect(statSync(path).isSocket()).toBe(true);
  });

  it('refuses more than one socket, as pcscd does', () => {
    const sh = spawnSync(
      '/bin/sh',
      ['-c', 'export LISTEN_FDS=2 LISTEN_PID=$$; exec "$0" "$@"', process.execPath, cli, '--demo', '--no-usb'],
      { encoding: 'utf8', timeout: 15_000 },
    );
    expect(sh.status).toBe(1);
    expect(sh.stderr).toContain('systemd passed 2 sockets; the host serves exactly one');
  });
});

/** A unit file's `Key=value` lines by section (comments and blank lines dropped; repeated keys kept in order). */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section: Record<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s !== null) {
      section = out[s[1]!] ??= {};
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (kv === null || section === undefined) throw new Error(`not a unit file line: ${line}`);
    (section[kv[1]!] ??= []).push(kv[2]!);
  }
  return out;
}

const UNIT_DIR = join(ROOT, 'docs', 'systemd');
const socketUnit = readFileSync(join(UNIT_DIR, 'smart-card-host.socket'), 'utf8');
const serviceUnit = readFileSync(join(UNIT_DIR, 'smart-card-host.service'), 'utf8');

describe('the shipped systemd units', () => {
  it("listen on pcscd's path and start the host with options it has", () => {
    const socket = parseUnit(socketUnit);
    const service = parseUnit(serviceUnit);
    expect(socket['Socket']).toMatchObject({ ListenStream: [DEFAULT_SOCKET_PATH], SocketMode: ['0666'] });
    expect(socket['Unit']!['Conflicts']).toEqual(['pcscd.socket']);
    expect(socket['Install']).toEqual({ WantedBy: ['sockets.target'] });
    expect(service['Unit']).toMatchObject({ Requires: ['smart-card-host.socket'], Conflicts: ['pcscd.service'] });
    expect(service['Install']).toEqual({ Also: ['smart-card-host.socket'] });
    // RuntimeDirectory= would delete /run/pcscd, the socket's folder, whenever the service stops.
    expect(service['Service']!['RuntimeDirectory']).toBeUndefined();
    const exec = service['Service']!['ExecStart']!;
    expect(exec).toHaveLength(1);
    const [node, script, ...args] = exec[0]!.split(/\s+/);
    expect(node).toBe('/usr/bin/node');
    expect(script).toMatch(/\/dist\/host\/cli\.js$/);
    const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' }).stdout;
    for (const a of args.filter((x) => x.startsWith('--'))) expect(help).toContain(`    ${a}`);
    expect(args[args.indexOf('--socket') + 1]).toBe(socket['Socket']!['ListenStream']![0]);
    // The flags parse: the host accepts them (--version ends it before anything starts).
    expect(spawnSync(process.execPath, [cli, ...args, '--version'], { encoding: 'utf8' }).status).toBe(0);
  });

  it('are shown verbatim in docs/host.md, which the README points to', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'host.md'), 'utf8');
    expect(doc).toContain(`\`\`\`ini\n${socketUnit}\`\`\``);
    expect(doc).toContain(`\`\`\`ini\n${serviceUnit}\`\`\``);
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain('docs/systemd/');
  });

  const verify = existsSync('/usr/bin/systemd-analyze') || !!process.env.CI;
  if (!verify) console.warn('skipped: /usr/bin/systemd-analyze is missing (Debian package systemd)');
  it.runIf(verify)('pass systemd-analyze verify', () => {
    const d = mkdtempSync(join(dir, 'units-'));
    writeFileSync(join(d, 'smart-card-host.socket'), socketUnit);
    // verify checks that ExecStart's program exists: this machine's node and the cli.js just built.
    writeFileSync(
      join(d, 'smart-card-host.service'),
      serviceUnit.replace(/^ExecStart=\S+ \S+/m, `ExecStart=${process.execPath} ${cli}`),
    );
    const r = spawnSync(
      '/usr/bin/systemd-analyze',
      ['verify', join(d, 'smart-card-host.socket'), join(d, 'smart-card-host.service')],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
