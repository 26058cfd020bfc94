/**
 * The host's share of the host link, without a browser: `smart-card-host --native-messaging` (its native server, the
 * system backend, koffi, libpcsclite) fed Chrome's frames through a pipe by this process, against the anchor's C client
 * on the same pcscd (Debian's 1.9.9 with the in-memory driver ifd_memcard.c), round by round, alternating. Also, in this
 * process: SystemPcsc.SCardTransmit alone (koffi's async call on libuv's pool, as the host makes it) and the same
 * libpcsclite function called synchronously through koffi, to price the thread-pool hop.
 *
 *   npm run build:host && npm run build:node
 *   node dist/node/host-pipe.js [--rounds 7] [--apdus 2000] [--cli dist/host/cli.js[,OTHER/cli.js]]
 *
 * Several `--cli` builds (e.g. this tree's and an older worktree's) are timed in turn within each round, so their
 * ratios come from the same moment; `bench/native-echo-host.mjs` among them times the benchmark's echo host on the same
 * pipe (its answers are shaped like the host's), the share of the browser hops' floor that stands for our host. For every host: wall µs per APDU (pipe round trip) and the host process's CPU µs
 * per APDU (utime + stime from /proc, robust under load). `HOST_PIPE_NODE_FLAGS` go to Node before the host's script,
 * e.g. `HOST_PIPE_NODE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof'` for a V8 profile of each host (Node refuses
 * --cpu-prof in NODE_OPTIONS); `HOST_PIPE_STDERR=1` shows the hosts' log lines.
 * Needs root (unshare for the private pcscd), gcc, libpcsclite-dev and pcscd.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { CONNECTOR_ID } from '../src/host/native/connector-id.js';
import { FrameDecoder, encodeFrame } from '../src/host/native/framing.js';
import { openSystemPcsc } from '../src/host/system/system-pcsc.js';
import { loadWinscard } from '../src/host/system/winscard-ffi.js';
import { runClient, startNative } from './host-socket.js';
import { summarise } from './measure.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const GET_CHALLENGE = '0084000008';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** utime + stime of a process, µs (from /proc/PID/stat, in clock ticks of 10 ms). */
function cpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

/** One host process on a pipe: frames out, frames in, one request at a time. */
class PipeHost {
  readonly child: ChildProcessWithoutNullStreams;
  /** bench/native-echo-host.mjs: the same frames, answered with no PC/SC work (the host's own floor). */
  readonly echo: boolean;
  readonly #decoder = new FrameDecoder();
  #waiting: ((m: Record<string, unknown>) => void) | null = null;
  #id = 1;

  constructor(cli: string, socket: string) {
    const env: NodeJS.ProcessEnv = { ...process.env, PCSCLITE_CSOCK_NAME: socket };
    // Node takes --cpu-prof on its command line only (NODE_OPTIONS refuses it).
    const flags = (process.env.HOST_PIPE_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    this.echo = cli.endsWith('native-echo-host.mjs');
    this.child = spawn(process.execPath, [...flags, cli, '--native-messaging', `chrome-extension://${CONNECTOR_ID}/`], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stderr.on('data', (d: Buffer) => {
      if (process.env.HOST_PIPE_STDERR) process.stderr.write(d);
    });
    this.child.stdout.on('data', (chunk: Buffer) => {
      for (const m of this.#decoder.push(chunk)) {
        const w = this.#waiting;
        this.#waiting = null;
        w?.(m as Record<string, unknown>);
      }
    });
  }

  send(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    return new Promise((r) => {
      this.#waiting = r;
      this.child.stdin.write(encodeFrame(JSON.stringify({ ...message, id: this.#id++ })));
    });
  }

  async call(fn: string, args: unknown[]): Promise<unknown> {
    const m = await this.send({ v: 1, kind: 'call', fn, args });
    if (m.ok !== true) throw new Error(`${fn}: ${JSON.stringify(m)}`);
    return m.value;
  }

  /** Establishes, connects to the memory card; returns the transmit's arguments. */
  async open(): Promise<unknown[]> {
    if (this.echo) return [1, { dwProtocol: 2 }, GET_CHALLENGE, null];
    const hello = await this.send({ v: 1, kind: 'hello', backend: 'system' });
    if (hello.backend !== 'system') throw new Error(`the host's hello: ${JSON.stringify(hello)}`);
    const { hContext } = (await this.call('SCardEstablishContext', [2])) as { hContext: number };
    const { readers } = (await this.call('SCardListReaders', [hContext, null, null])) as { readers: string[] };
    const reader = readers.find((r) => r.startsWith('Memory Card Reader'));
    if (!reader) throw new Error(`no memory card reader in ${JSON.stringify(readers)}`);
    const { hCard } = (await this.call('SCardConnect', [hContext, reader, 2, 2])) as { hCard: number };
    return [hCard, { dwProtocol: 2 }, GET_CHALLENGE, null];
  }

  /** µs per APDU (wall) and the host's CPU µs per APDU. */
  async time(args: unknown[], apdus: number): Promise<{ wall: number; cpu: number }> {
    for (let i = 0; i < 100; i++) await this.call('SCardTransmit', args);
    const c0 = cpuUs(this.child.pid!);
    const t0 = performance.now();
    for (let i = 0; i < apdus; i++) {
      const v = (await this.call('SCardTransmit', args)) as { recvBuffer: string };
      if (v.recvBuffer.length !== 20 || !v.recvBuffer.endsWith('9000')) throw new Error('bad GET CHALLENGE answer');
    }
    const wall = ((performance.now() - t0) * 1000) / apdus;
    return { wall, cpu: (cpuUs(this.child.pid!) - c0) / apdus };
  }

  async close(): Promise<void> {
    const closed = new Promise((r) => this.child.once('close', r));
    this.child.stdin.end();
    await closed;
  }
}

/** In this process: SystemPcsc's transmit (koffi async) and libpcsclite's SCardTransmit called synchronously. */
async function inProcess(apdus: number): Promise<{ system: number; sync: number }> {
  const pcsc = openSystemPcsc();
  const { hContext } = await pcsc.SCardEstablishContext(2);
  const { readers } = await pcsc.SCardListReaders(hContext, null);
  const reader = readers.find((r) => r.startsWith('Memory Card Reader'))!;
  const { hCard } = await pcsc.SCardConnect(hContext, reader, 2, 2);
  const apdu = Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x08);
  for (let i = 0; i < 100; i++) await pcsc.SCardTransmit(hCard, { dwProtocol: 2 }, apdu);
  let t0 = performance.now();
  for (let i = 0; i < apdus; i++) await pcsc.SCardTransmit(hCard, { dwProtocol: 2 }, apdu);
  const system = ((performance.now() - t0) * 1000) / apdus;
  await pcsc.SCardDisconnect(hCard, 0);
  await pcsc.close();

  const lib = loadWinscard('linux');
  const ctx: (number | bigint)[] = [0];
  lib.SCardEstablishContext(2, null, null, ctx);
  const card: (number | bigint)[] = [0];
  lib.SCardConnect(ctx[0], reader, 2, 2, card, [0]);
  const recv = new Uint8Array(258);
  const len = [0];
  const once = (): void => {
    len[0] = recv.length;
    const rv = Number(lib.SCardTransmit(card[0], lib.pci.T1, apdu, apdu.length, null, recv, len));
    if (rv !== 0 || len[0] !== 10) throw new Error(`sync SCardTransmit: 0x${rv.toString(16)}`);
  };
  for (let i = 0; i < 100; i++) once();
  t0 = performance.now();
  for (let i = 0; i < apdus; i++) once();
  const sync = ((performance.now() - t0) * 1000) / apdus;
  lib.SCardDisconnect(card[0], 0);
  lib.SCardReleaseContext(ctx[0]);
  return { system, sync };
}

async function main(): Promise<void> {
  const rounds = Number(arg('--rounds', '7'));
  const apdus = Number(arg('--apdus', '2000'));
  const clis = arg('--cli', join(ROOT, 'dist', 'host', 'cli.js'))
    .split(',')
    .map((p) => resolve(p));
  const anchor = resolve(ROOT, '..', 'shared', 'anchors', 'native-pcscd');
  const dir = mkdtempSync(join(tmpdir(), 'hostpipe-'));
  const client = join(dir, 'client_bench');
  const driver = join(dir, 'libifdmemcard.so');
  const gcc = (args: string[]): void => {
    const r = spawnSync('gcc', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gcc ${args.at(-1)}: ${r.stderr.slice(0, 200)}`);
  };
  gcc(['-O2', '-Wall', '-I/usr/include/PCSC', '-o', client, join(anchor, 'client_bench.c'), '-lpcsclite']);
  gcc(['-shared', '-fPIC', '-O2', '-Wall', '-I/usr/include/PCSC', '-o', driver, join(anchor, 'ifd_memcard.c')]);
  const pcscd = await startNative(dir, driver);
  process.env.PCSCLITE_CSOCK_NAME = pcscd.socket;
  const samples: Record<string, number[]> = {};
  const add = (k: string, v: number): void => void (samples[k] ??= []).push(v);
  try {
    const hosts = clis.map((cli) => new PipeHost(cli, pcscd.socket));
    const args = await Promise.all(hosts.map((h) => h.open()));
    for (let round = -1; round < rounds; round++) {
      const c = await runClient(client, [String(apdus), '0'], pcscd.socket);
      const inproc = await inProcess(apdus);
      const row: string[] = [`C ${c.toFixed(1)}`, `system-pcsc ${inproc.system.toFixed(1)}`];
      row.push(`koffi sync ${inproc.sync.toFixed(1)}`);
      const perHost: { wall: number; cpu: number }[] = [];
      for (const [i, h] of hosts.entries()) perHost.push(await h.time(args[i]!, apdus));
      perHost.forEach((t, i) => row.push(`host#${i} ${t.wall.toFixed(1)} (cpu ${t.cpu.toFixed(1)})`));
      console.log(`round ${round}: ${row.join(', ')} µs/APDU`);
      if (round < 0) continue;
      add('C client', c);
      add('SystemPcsc.SCardTransmit (koffi async), in process', inproc.system);
      add('koffi sync SCardTransmit, in process', inproc.sync);
      perHost.forEach((t, i) => {
        add(`host#${i} pipe wall`, t.wall);
        add(`host#${i} CPU`, t.cpu);
        add(`host#${i} pipe wall / host#0`, t.wall / perHost[0]!.wall);
        add(`host#${i} CPU / host#0`, t.cpu / perHost[0]!.cpu);
      });
    }
    await Promise.all(hosts.map((h) => h.close()));
  } finally {
    pcscd.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  clis.forEach((c, i) => console.log(`host#${i}: ${c}`));
  for (const [k, v] of Object.entries(samples)) {
    const s = summarise(v);
    console.log(
      `${k}: median ${s.median.toFixed(2)} (min ${s.min.toFixed(2)}, max ${s.max.toFixed(2)}, ${v.length} runs)`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
