/**
 * The pcscd socket served by smart-card-host (src/host/pcscd) against native pcscd, like for like: the same
 * libpcsclite programs — the native anchor's C client (../shared/anchors/native-pcscd/client_bench.c) and pyscard
 * (bench/pyscard_bench.py) — time SCardTransmit through OUR socket (PcscDaemon + bench/memcard.ts' in-memory reader,
 * served in this process) and through Debian's pcscd 1.9.9 with the anchor's in-memory driver (ifd_memcard.c), run
 * after run, alternating, so the ratios come from the same moment. A third row per figure times the same client through
 * bench/socket-floor.ts, a bare node:net server that answers the same bytes with no daemon and no checks: what Node's
 * socket I/O alone costs, the floor under the "ours" row.
 *
 * Native pcscd runs in a private mount namespace whose /run/pcscd is a bind mount of a temporary directory (pcscd
 * ignores PCSCLITE_CSOCK_NAME; its clients honour it), so a system pcscd is left alone. Needs root (unshare), gcc,
 * libpcsclite-dev, pcscd and python3-pyscard; what is missing is said in the table, with no number.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PcscDaemon } from '../src/pcsc/index.js';
import { servePcscd } from '../src/host/pcscd/server.js';
import { memoryCardReader } from './memcard.js';
import { RUNS, summarise, type Figure } from './measure.js';
import { serveSocketFloor } from './socket-floor.js';

const RUN_RE = /apdus=(\d+) bytes=(\d+) per_apdu_us=([\d.]+)/;

interface Spec {
  key: string;
  what: string;
  client: 'c' | 'py';
  apdus: number;
  echo: number;
}

const SPECS: Spec[] = [
  {
    key: 'c-getchallenge',
    what: 'C client (libpcsclite) SCardTransmit: 8-byte GET CHALLENGE',
    client: 'c',
    apdus: 2000,
    echo: 0,
  },
  {
    key: 'c-echo',
    what: 'C client (libpcsclite) SCardTransmit: 65,000-byte extended ECHO',
    client: 'c',
    apdus: 200,
    echo: 65000,
  },
  { key: 'py-getchallenge', what: 'pyscard SCardTransmit: 8-byte GET CHALLENGE', client: 'py', apdus: 1000, echo: 0 },
  { key: 'py-echo', what: 'pyscard SCardTransmit: 65,000-byte extended ECHO', client: 'py', apdus: 100, echo: 65000 },
];

function ours(s: Spec): { id: string; name: string } {
  return { id: `host-${s.key}`, name: `smart-card-host pcscd socket, ${s.what} (our daemon, in-memory reader)` };
}
function native(s: Spec): { id: string; name: string } {
  return { id: `host-native-${s.key}`, name: `native pcscd 1.9.9 socket, ${s.what} (anchor's in-memory driver)` };
}
function floor(s: Spec): { id: string; name: string } {
  return {
    id: `host-floor-${s.key}`,
    name: `bare node:net floor (bench/socket-floor.ts), ${s.what} (canned answers, no daemon)`,
  };
}

/** Runs a client to its end without blocking this process (our server answers it from here). */
export function runClient(cmd: string, args: string[], socket: string): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, PCSCLITE_CSOCK_NAME: socket },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      fail(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const m = RUN_RE.exec(out);
      if (code !== 0 || m === null)
        fail(new Error(`${cmd} exited ${code ?? signal}: ${(err || out).trim().slice(-200)}`));
      else done(Number(m[3]));
    });
  });
}

function why(anchorDir: string): { ours?: string; native?: string; py?: string } {
  const r: { ours?: string; native?: string; py?: string } = {};
  if (!existsSync(join(anchorDir, 'client_bench.c'))) r.ours = `${anchorDir}/client_bench.c not found`;
  else if (spawnSync('gcc', ['--version']).status !== 0) r.ours = 'gcc is missing';
  else if (!existsSync('/usr/include/PCSC/winscard.h')) r.ours = 'libpcsclite-dev is missing';
  if (r.ours !== undefined) r.native = r.ours;
  else if (process.env.BENCH_SKIP_NATIVE) r.native = 'skipped (BENCH_SKIP_NATIVE)';
  else if (typeof process.getuid === 'function' && process.getuid() !== 0) r.native = 'needs root (unshare)';
  else if (!existsSync('/usr/sbin/pcscd')) r.native = 'pcscd is missing';
  if (spawnSync('/usr/bin/python3', ['-c', 'import smartcard']).status !== 0) r.py = 'python3-pyscard is missing';
  return r;
}

export async function startNative(dir: string, driver: string): Promise<{ socket: string; child: ChildProcess }> {
  const run = join(dir, 'native-run');
  const conf = join(dir, 'conf.d');
  mkdirSync(run, { recursive: true });
  mkdirSync(conf, { recursive: true });
  mkdirSync('/run/pcscd', { recursive: true });
  writeFileSync(
    join(conf, 'memcard'),
    `FRIENDLYNAME "Memory Card Reader"\nDEVICENAME   /dev/null\nLIBPATH      ${driver}\n`,
  );
  const child = spawn('unshare', ['-m', 'sh', '-c', `mount --bind '${run}' /run/pcscd && exec pcscd -f -c '${conf}'`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let failure = '';
  let stderr = '';
  child.on('error', (e) => (failure = e.message));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const socket = join(run, 'pcscd.comm');
  for (let i = 0; i < 100 && !existsSync(socket) && failure === '' && child.exitCode === null; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!existsSync(socket)) {
    child.kill('SIGKILL');
    throw new Error(`native pcscd did not start: ${failure || stderr.trim().slice(-200) || 'no socket within 5 s'}`);
  }
  await new Promise((r) => setTimeout(r, 300)); // its reader thread comes up after the socket
  return { socket, child };
}

export async function hostSocketFigures(root: string): Promise<Figure[]> {
  const anchorDir = resolve(root, '..', 'shared', 'anchors', 'native-pcscd');
  const pyScript = resolve(root, 'bench', 'pyscard_bench.py');
  const missing = why(anchorDir);
  const figures = new Map<string, Figure>();
  const samples = new Map<string, number[]>();
  for (const s of SPECS) {
    const o = ours(s);
    const n = native(s);
    const fl = floor(s);
    const oursWhy = missing.ours ?? (s.client === 'py' ? missing.py : undefined);
    const nativeWhy = missing.native ?? (s.client === 'py' ? missing.py : undefined);
    figures.set(o.id, {
      id: o.id,
      name: o.name,
      unit: 'us',
      median: null,
      nativeId: n.id,
      ...(oursWhy ? { note: oursWhy } : {}),
    });
    figures.set(n.id, {
      id: n.id,
      name: n.name,
      unit: 'us',
      median: null,
      ...(nativeWhy ? { note: `not run: ${nativeWhy}` } : {}),
    });
    figures.set(fl.id, {
      id: fl.id,
      name: fl.name,
      unit: 'us',
      median: null,
      nativeId: n.id,
      ...(oursWhy ? { note: oursWhy } : {}),
    });
    samples.set(o.id, []);
    samples.set(n.id, []);
    samples.set(fl.id, []);
  }
  if (missing.ours !== undefined) return [...figures.values()];

  const dir = mkdtempSync(join(tmpdir(), 'hostbench-'));
  const client = join(dir, 'client_bench');
  const driver = join(dir, 'libifdmemcard.so');
  const daemon = new PcscDaemon();
  let server: Awaited<ReturnType<typeof servePcscd>> | undefined;
  let floorServer: Awaited<ReturnType<typeof serveSocketFloor>> | undefined;
  let nativePcscd: { socket: string; child: ChildProcess } | undefined;
  try {
    const cc = spawnSync(
      'gcc',
      ['-O2', '-Wall', '-I/usr/include/PCSC', '-o', client, join(anchorDir, 'client_bench.c'), '-lpcsclite'],
      {
        encoding: 'utf8',
      },
    );
    if (cc.status !== 0) throw new Error(`gcc client_bench.c: ${cc.stderr.slice(0, 200)}`);
    await daemon.addReader(memoryCardReader());
    server = await servePcscd({ daemon, path: join(dir, 'ours.comm') });
    floorServer = await serveSocketFloor(join(dir, 'floor.comm'));
    if (missing.native === undefined) {
      const so = spawnSync(
        'gcc',
        ['-shared', '-fPIC', '-O2', '-Wall', '-I/usr/include/PCSC', '-o', driver, join(anchorDir, 'ifd_memcard.c')],
        {
          encoding: 'utf8',
        },
      );
      if (so.status !== 0) missing.native = `gcc ifd_memcard.c: ${so.stderr.slice(0, 200)}`;
      else {
        try {
          nativePcscd = await startNative(dir, driver);
        } catch (e) {
          missing.native = (e as Error).message;
        }
      }
    }
    const runSpec = (s: Spec, socket: string): Promise<number> =>
      s.client === 'c'
        ? runClient(client, [String(s.apdus), String(s.echo)], socket)
        : runClient('/usr/bin/python3', [pyScript, String(s.apdus), String(s.echo)], socket);
    // Warm-up, then RUNS rounds; each round runs every spec through ours, the floor, then native, so all three see the
    // same machine.
    for (let round = -1; round < RUNS; round++) {
      for (const s of SPECS) {
        if (s.client === 'py' && missing.py !== undefined) continue;
        for (const side of ['ours', 'floor', 'native'] as const) {
          const f = figures.get(side === 'ours' ? ours(s).id : side === 'floor' ? floor(s).id : native(s).id)!;
          if (f.note?.startsWith('failed')) continue;
          if (side === 'native' && (missing.native !== undefined || nativePcscd === undefined)) continue;
          try {
            const socket = side === 'ours' ? server.path : side === 'floor' ? floorServer.path : nativePcscd!.socket;
            const v = await runSpec(s, socket);
            if (round >= 0) samples.get(f.id)!.push(v);
          } catch (e) {
            f.note = `failed: ${(e as Error).message.split('\n')[0]}`;
          }
        }
      }
    }
  } catch (e) {
    for (const f of figures.values())
      if (f.note === undefined) f.note = `failed: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    await server?.close();
    await floorServer?.close();
    await daemon.shutdown();
    const child = nativePcscd?.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const closed = new Promise((r) => child.once('close', r));
      child.kill('SIGTERM');
      await closed;
    }
    rmSync(dir, { recursive: true, force: true });
  }
  for (const s of SPECS) {
    for (const id of [ours(s).id, floor(s).id, native(s).id]) {
      const f = figures.get(id)!;
      const xs = samples.get(id)!;
      if (xs.length > 0 && !f.note?.startsWith('failed'))
        Object.assign(f, summarise(xs), { runs: xs.length, perRun: s.apdus });
      else if (f.note === undefined && missing.native !== undefined && id.startsWith('host-native'))
        f.note = `not run: ${missing.native}`;
    }
    // The ratio of each round's pair, then their median: on a shared machine the load moves between rounds, and a
    // pair from one round saw the same load (a ratio of the two medians mixes rounds). run.ts keeps a ratio set here.
    const nat = samples.get(native(s).id)!;
    for (const id of [ours(s).id, floor(s).id]) {
      const f = figures.get(id)!;
      const xs = samples.get(id)!;
      if (f.median !== null && xs.length === nat.length && xs.length > 0)
        f.ratio = summarise(xs.map((x, i) => x / nat[i]!)).median;
    }
  }
  return [...figures.values()];
}
