/**
 * The Chromium messaging figure taken apart (issue 14): the loop of bench/chromium.ts (N SCardTransmit calls, an 8-byte
 * GET CHALLENGE, from the e2e test client's page through the connector's worker to the demo reader) and its floor (the
 * same page's bare port echo through bench/floor-extension), in alternation, with optional V8 CPU profiles of the page,
 * the connector's worker and the floor's worker, and a Chrome trace of every process. Built by `npm run build:node`
 * after `npm run build && npm run build:e2e`; see bench/README.md, "Chromium messaging: where the time goes per hop":
 *
 *   node dist/node/profile-chromium.js [--apdus 500] [--runs 5] [--rounds 1]
 *       [--dist DIR]... [--profile OUT_DIR] [--trace OUT_DIR] [--window] [--cpu N]
 *
 * `--dist DIR` (repeatable): a `dist` folder holding connector/, hello-world-app/ and test-client/ (default this
 * checkout's). With two, each round launches one browser per folder, one after the other, so old and new builds are
 * compared in alternation (A/B); every launch measures its own floor in alternation with its own loop, and the
 * figure that matters is ours / floor per launch.
 *
 * `--profile OUT_DIR`: after the timed runs, one more loop of each kind with CDP `Profiler` running on the client page
 * and on both workers (attached through the page's CDP session: `Target.attachToTarget`, `sendMessageToTarget`); the
 * .cpuprofile files are written to OUT_DIR and summarised per source file through the bundles' source maps.
 * `--trace OUT_DIR`: the same loops under CDP `Tracing` (categories below); summarised per process and thread as CPU
 * time per call.
 * `--cpu N`: after the timed runs, N more loops of each kind in alternation, each with the CPU time of every thread of
 * every process of this browser (Linux /proc/…/task/…/schedstat) read before and after: CPU µs per call. On a shared
 * machine this is the figure to compare (wall time there is mostly other programs' turn on the cores). It is not the
 * latency: on an idle machine the page, the browser process and the worker overlap a little on different cores.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join, resolve } from 'node:path';
import type { CDPSession, Page } from 'playwright-core';
import { CONNECTOR_ID, ROOT, launchWithExtensions, waitForWorker } from '../scripts/chromium.mjs';
import {
  openConnectorPage,
  openTestClient,
  preApprove,
  PRE_APPROVED,
  TEST_CLIENT_ID,
  turnDemoOn,
} from '../test/e2e/harness.js';
import { FLOOR_DIR, FLOOR_ID, GET_CHALLENGE_SETUP } from './chromium.js';

const TRACE_CATEGORIES = 'devtools.timeline,v8,toplevel,ipc,mojom,disabled-by-default-devtools.timeline';

interface Args {
  apdus: number;
  runs: number;
  rounds: number;
  dists: string[];
  profile: string | undefined;
  trace: string | undefined;
  window: boolean;
  cpu: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    apdus: 500,
    runs: 5,
    rounds: 1,
    dists: [],
    profile: undefined,
    trace: undefined,
    window: false,
    cpu: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--window') {
      a.window = true;
      continue;
    }
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === '--apdus') a.apdus = Number(v);
    else if (k === '--runs') a.runs = Number(v);
    else if (k === '--rounds') a.rounds = Number(v);
    else if (k === '--dist') a.dists.push(resolve(v));
    else if (k === '--profile') a.profile = resolve(v);
    else if (k === '--trace') a.trace = resolve(v);
    else if (k === '--cpu') a.cpu = Number(v);
    else throw new Error(`unknown argument ${k}`);
    i++;
  }
  if (a.dists.length === 0) a.dists.push(join(ROOT, 'dist'));
  return a;
}

/** In the client page: connect to the connector and to the floor, open a card handle, define one() and echoOne(). */
async function setUp(page: Page): Promise<void> {
  await page.evaluate(
    `(async () => {
      const g = globalThis;
      for (let i = 0; ; i++) {
        try {
          g.c = await g.lib.connect(${JSON.stringify(CONNECTOR_ID)}, { name: 'bench', connectTimeoutMs: 20000 });
          break;
        } catch (e) {
          if (i > 200) throw e;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      const c = g.c;${GET_CHALLENGE_SETUP}
      g.one = one;
      const port = chrome.runtime.connect(${JSON.stringify(FLOOR_ID)}, { name: 'floor' });
      let pending = null;
      port.onMessage.addListener((m) => { const p = pending; pending = null; p?.(m); });
      const echo = (m) => new Promise((resolve) => { pending = resolve; port.postMessage(m); });
      g.echoOne = async () => {
        call.id += 1;
        const m = await echo(call);
        if (m.id !== call.id) throw new Error('bad echo');
      };
      g.loop = async (f, n) => {
        const t0 = performance.now();
        for (let i = 0; i < n; i++) await f();
        return ((performance.now() - t0) * 1000) / n;
      };
      for (let i = 0; i < 100; i++) { await g.one(); await g.echoOne(); }
    })()`,
  );
}

const loop = (page: Page, which: 'one' | 'echoOne', n: number): Promise<number> =>
  page.evaluate(`globalThis.loop(globalThis.${which}, ${n})`) as Promise<number>;

/** A CDP session to another target (a service worker), through the page's session (non-flattened attach). */
async function attach(cdp: CDPSession, targetId: string) {
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: false });
  let next = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  cdp.on('Target.receivedMessageFromTarget', (e) => {
    if (e.sessionId !== sessionId) return;
    const m = JSON.parse(e.message) as { id?: number; result?: unknown; error?: { message: string } };
    const w = m.id !== undefined ? waiting.get(m.id) : undefined;
    if (!w) return;
    waiting.delete(m.id!);
    if (m.error) w.reject(new Error(m.error.message));
    else w.resolve(m.result);
  });
  return {
    send<T = unknown>(method: string, params: object = {}): Promise<T> {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        void cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) });
      });
    },
  };
}

/** Source files → the hop of the path they belong to (the first match wins). */
const HOPS: [RegExp, string][] = [
  [/^\(idle\)$/, '(idle)'],
  [/^\(native\)$|^\(program\)$/, 'Chrome: port messaging, bindings, tasks (native, not JS)'],
  [/^\(garbage collector\)$/, 'garbage collection'],
  [/^client-lib\//, 'client library (client-lib/src)'],
  [/^src\/protocol\//, 'protocol codec and checks (src/protocol)'],
  [
    /^src\/connector\/(combined-daemon)\.ts$|^src\/pcsc\/combined\.ts$/,
    'combinator (combined-daemon.ts, pcsc/combined.ts)',
  ],
  [
    /^src\/connector\/|^src\/util\/(sanitize|redact)\.ts$/,
    'connector: router, consent, log (src/connector, sanitize, redact)',
  ],
  [/^src\/pcsc\//, 'daemon (src/pcsc)'],
  [/^src\/(ccid|ifd)\//, 'CCID driver (src/ccid)'],
  [/^src\/(sim|usb)\//, 'demo reader: simulated GemPC Twin and card, its USB (src/sim, src/usb)'],
  [/^chrome-extension:/, 'floor worker (worker.js)'],
];

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time per original source file (through the bundle's source map) and per function, in µs per call. */
function summariseProfile(profile: CpuProfile, dist: string, calls: number, title: string): string {
  const maps = new Map<string, SourceMap | null>();
  const extDirs: Record<string, string> = {
    [CONNECTOR_ID]: join(dist, 'connector'),
    [TEST_CLIENT_ID]: join(dist, 'test-client'),
    [FLOOR_ID]: FLOOR_DIR,
  };
  const mapOf = (url: string): SourceMap | null => {
    if (maps.has(url)) return maps.get(url)!;
    let map: SourceMap | null = null;
    const m = /^chrome-extension:\/\/([a-p]{32})\/(.*)$/.exec(url);
    const dir = m ? extDirs[m[1]!] : undefined;
    const file = dir && m ? join(dir, `${m[2]}.map`) : undefined;
    if (file && existsSync(file)) map = new SourceMap(JSON.parse(readFileSync(file, 'utf8')));
    maps.set(url, map);
    return map;
  };
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + dt);
  }
  const byFile = new Map<string, number>();
  const byFn = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const t = self.get(node.id) ?? 0;
    if (t === 0) continue;
    const f = node.callFrame;
    let file = f.url || '(native)';
    let fn = f.functionName || '(anonymous)';
    const map = f.url ? mapOf(f.url) : null;
    if (map) {
      const e = map.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string; name?: string };
      if (e.originalSource) file = e.originalSource.replace(/^(\.\.\/)+/, '');
      if (e.name) fn = `${e.name} (${fn})`;
    }
    if (['(idle)', '(program)', '(garbage collector)'].includes(f.functionName)) file = f.functionName;
    if (f.functionName !== '(idle)') total += t;
    byFile.set(file, (byFile.get(file) ?? 0) + t);
    byFn.set(`${fn} — ${file}`, (byFn.get(`${fn} — ${file}`) ?? 0) + t);
  }
  const per = (t: number) => (t / calls).toFixed(1).padStart(7);
  const byHop = new Map<string, number>();
  for (const [file, t] of byFile) {
    const hop = HOPS.find(([re]) => re.test(file))?.[1] ?? 'other';
    byHop.set(hop, (byHop.get(hop) ?? 0) + t);
  }
  const lines = [`${title}: ${(total / calls).toFixed(1)} µs busy per call (not idle), ${calls} calls`];
  lines.push('  by hop (self µs/call, share of busy):');
  for (const [k, t] of [...byHop].sort((a, b) => b[1] - a[1]))
    if (k !== '(idle)') lines.push(`   ${per(t)}  ${((100 * t) / total).toFixed(0).padStart(3)} %  ${k}`);
  lines.push('  by file (self µs/call):');
  for (const [k, t] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 25)) lines.push(`   ${per(t)}  ${k}`);
  lines.push('  top functions (self µs/call):');
  for (const [k, t] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 25)) lines.push(`   ${per(t)}  ${k}`);
  return lines.join('\n');
}

interface TraceEvent {
  ph: string;
  name: string;
  cat: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string; labels?: string };
}

/** CPU time of top-level tasks per process and thread, in µs per call (and the count of IPC/mojo events). */
function summariseTrace(events: TraceEvent[], calls: number): string {
  const procName = new Map<number, string>();
  const threadName = new Map<string, string>();
  for (const e of events) {
    if (e.ph === 'M' && e.name === 'process_name') procName.set(e.pid, e.args?.name ?? '');
    if (e.ph === 'M' && e.name === 'process_labels') procName.set(e.pid, `${procName.get(e.pid)} ${e.args?.labels}`);
    if (e.ph === 'M' && e.name === 'thread_name') threadName.set(`${e.pid}:${e.tid}`, e.args?.name ?? '');
  }
  const busy = new Map<string, { wall: number; cpu: number; tasks: number; mojo: number }>();
  for (const e of events) {
    if (e.ph !== 'X') continue;
    const key = `${e.pid}:${e.tid}`;
    const b = busy.get(key) ?? { wall: 0, cpu: 0, tasks: 0, mojo: 0 };
    if (e.name === 'ThreadControllerImpl::RunTask' || e.name === 'ThreadPool_RunTask') {
      b.wall += e.dur ?? 0;
      b.cpu += e.tdur ?? 0;
      b.tasks++;
    }
    if (e.cat.includes('mojom') || e.cat.includes('ipc')) b.mojo++;
    busy.set(key, b);
  }
  const lines = [
    'trace: top-level tasks per thread (µs per call: wall, thread CPU; tasks and ipc/mojom events per call)',
  ];
  for (const [key, b] of [...busy].sort((a, z) => z[1].cpu - a[1].cpu)) {
    if (b.cpu / calls < 1 && b.mojo / calls < 0.5) continue;
    const [pid] = key.split(':');
    lines.push(
      `  ${(b.wall / calls).toFixed(1).padStart(7)} ${(b.cpu / calls).toFixed(1).padStart(7)}  ` +
        `${(b.tasks / calls).toFixed(1).padStart(5)} ${(b.mojo / calls).toFixed(1).padStart(5)}  ` +
        `${procName.get(Number(pid)) ?? pid} / ${threadName.get(key) ?? key}`,
    );
  }
  return lines.join('\n');
}

/** The browser's main process: the one whose command line names this profile. */
function browserPid(userDataDir: string): number {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (cmd.includes(`--user-data-dir=${userDataDir}`) && !cmd.some((a) => a.startsWith('--type='))) return Number(d);
    } catch {
      /* gone */
    }
  }
  throw new Error('the browser process was not found in /proc');
}

/**
 * CPU time (ns) of every thread of the browser and all its descendants (Linux /proc/<pid>/task/<tid>/schedstat), by
 * process type and thread name ("renderer/ServiceWorker t", "browser/CrBrowserMain", …).
 */
function treeCpuNs(root: number): Map<string, number> {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, n = 0; p > 1 && n < 50; p = parent.get(p) ?? 0, n++) if (p === root) return true;
    return false;
  };
  const out = new Map<string, number>();
  for (const pid of parent.keys()) {
    if (!inTree(pid)) continue;
    try {
      // Renderers rewrite their command line (one string, spaces): the type is found either way.
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      let type = /--type=([\w-]+)/.exec(cmd)?.[1] ?? 'browser';
      const tids = readdirSync(`/proc/${pid}/task`);
      const comms = tids.map((tid) => readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim());
      // The workers' processes (the connector's, the floor's) apart from the client page's.
      if (type === 'renderer' && comms.includes('ServiceWorker t')) type = 'worker renderer';
      for (const tid of tids) {
        const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
        const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
        const key = `${type}/${comm}`;
        out.set(key, (out.get(key) ?? 0) + ns);
      }
    } catch {
      /* gone */
    }
  }
  return out;
}

/** after − before, per key, in µs per call. */
function cpuDelta(before: Map<string, number>, after: Map<string, number>, calls: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of after) out.set(k, (v - (before.get(k) ?? 0)) / 1000 / calls);
  return out;
}
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

async function traced(
  cdp: CDPSession,
  run: () => Promise<unknown>,
  categories = TRACE_CATEGORIES,
): Promise<TraceEvent[]> {
  const events: TraceEvent[] = [];
  const onData = (e: { value: object[] }) => events.push(...(e.value as TraceEvent[]));
  cdp.on('Tracing.dataCollected', onData);
  await cdp.send('Tracing.start', { categories, transferMode: 'ReportEvents' });
  await run();
  const done = new Promise<void>((r) => cdp.once('Tracing.tracingComplete', () => r()));
  await cdp.send('Tracing.end');
  await done;
  cdp.off('Tracing.dataCollected', onData);
  return events;
}

async function oneLaunch(
  dist: string,
  args: Args,
  label: string,
): Promise<{ ours: number[]; floor: number[]; oursCpu: number[]; floorCpu: number[] }> {
  const browser = await launchWithExtensions({
    extensions: [join(dist, 'connector'), join(dist, 'hello-world-app'), join(dist, 'test-client'), FLOOR_DIR],
  });
  try {
    const worker = await waitForWorker(browser.context, CONNECTOR_ID);
    await preApprove(worker, PRE_APPROVED);
    const rig = { browser, context: browser.context, worker, close: () => browser.close() };
    // As bench/chromium.ts: the connector's window turns the demo reader on, then closes (with --window it stays open,
    // watching the log, as the benchmark had it until 2026-12-03).
    const connector = await openConnectorPage(rig);
    await turnDemoOn(connector);
    if (!args.window) await connector.close();
    const page = await openTestClient(rig);
    await setUp(page);
    const ours: number[] = [];
    const floor: number[] = [];
    for (let r = 0; r < args.runs; r++) {
      ours.push(await loop(page, 'one', args.apdus));
      floor.push(await loop(page, 'echoOne', args.apdus));
    }
    const oursCpu: number[] = [];
    const floorCpu: number[] = [];
    if (args.cpu > 0) {
      // Every process of this browser (not the harness): what one call costs in CPU, whoever else uses the cores.
      const root = browserPid(browser.userDataDir);
      const threads: Record<'one' | 'echoOne', Map<string, number[]>> = { one: new Map(), echoOne: new Map() };
      const cpuOf = async (which: 'one' | 'echoOne') => {
        const t0 = treeCpuNs(root);
        await loop(page, which, args.apdus);
        const d = cpuDelta(t0, treeCpuNs(root), args.apdus);
        for (const [k, v] of d) threads[which].set(k, [...(threads[which].get(k) ?? []), v]);
        return sum(d);
      };
      for (let r = 0; r < args.cpu; r++) {
        oursCpu.push(await cpuOf('one'));
        floorCpu.push(await cpuOf('echoOne'));
      }
      const lines = [`${label} CPU µs per call by process type / thread (median of ${args.cpu}): ours | floor`];
      const keys = [...new Set([...threads.one.keys(), ...threads.echoOne.keys()])];
      const med = (k: string, w: 'one' | 'echoOne') => median(threads[w].get(k) ?? [0]);
      keys.sort((x, y) => med(y, 'one') + med(y, 'echoOne') - med(x, 'one') - med(x, 'echoOne'));
      for (const k of keys) {
        if (med(k, 'one') < 2 && med(k, 'echoOne') < 2) continue;
        lines.push(`  ${med(k, 'one').toFixed(0).padStart(6)} | ${med(k, 'echoOne').toFixed(0).padStart(6)}  ${k}`);
      }
      console.log(lines.join('\n'));
    }
    if (args.profile || args.trace) {
      const cdp = await browser.context.newCDPSession(page);
      const { targetInfos } = await cdp.send('Target.getTargets');
      const sw = (id: string) => targetInfos.find((t) => t.type === 'service_worker' && t.url.includes(id))!;
      if (args.profile) {
        mkdirSync(args.profile, { recursive: true });
        const targets = {
          page: null,
          connector: await attach(cdp, sw(CONNECTOR_ID).targetId),
          floor: await attach(cdp, sw(FLOOR_ID).targetId),
        };
        for (const which of ['one', 'echoOne'] as const) {
          const sessions: [string, { send<T>(m: string, p?: object): Promise<T> }][] = [
            ['page', { send: <T>(m: string, p?: object) => cdp.send(m as 'Profiler.start', p as never) as Promise<T> }],
            ['connector-worker', targets.connector],
            ['floor-worker', targets.floor],
          ];
          for (const [, s] of sessions) {
            await s.send('Profiler.enable');
            await s.send('Profiler.setSamplingInterval', { interval: 50 });
            await s.send('Profiler.start');
          }
          await loop(page, which, args.apdus);
          for (const [name, s] of sessions) {
            const { profile } = await s.send<{ profile: CpuProfile }>('Profiler.stop');
            const file = join(args.profile, `${label}-${which === 'one' ? 'transmit' : 'echo'}-${name}.cpuprofile`);
            writeFileSync(file, JSON.stringify(profile));
            if (which === 'one' ? name !== 'floor-worker' : name !== 'connector-worker')
              console.log(
                summariseProfile(
                  profile,
                  dist,
                  args.apdus,
                  `${label} ${which === 'one' ? 'SCardTransmit loop' : 'echo loop'}, ${name}`,
                ),
              );
          }
        }
      }
      if (args.trace) {
        mkdirSync(args.trace, { recursive: true });
        for (const which of ['one', 'echoOne'] as const) {
          const events = await traced(cdp, () => loop(page, which, args.apdus));
          writeFileSync(
            join(args.trace, `${label}-${which === 'one' ? 'transmit' : 'echo'}.json`),
            JSON.stringify(events),
          );
          console.log(`${label} ${which === 'one' ? 'SCardTransmit loop' : 'echo loop'}:`);
          console.log(summariseTrace(events, args.apdus));
        }
      }
      await cdp.detach();
    }
    return { ours, floor, oursCpu, floorCpu };
  } finally {
    await browser.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const ratios: number[][] = args.dists.map(() => []);
  const cpuRatios: number[][] = args.dists.map(() => []);
  const fixed = (xs: number[], d = 0) => xs.map((x) => x.toFixed(d)).join(' ');
  for (let round = 0; round < args.rounds; round++) {
    for (const [i, dist] of args.dists.entries()) {
      const label = args.dists.length > 1 ? `${String.fromCharCode(65 + i)}${round}` : `run${round}`;
      const once = round === 0 ? args : { ...args, profile: undefined, trace: undefined };
      const { ours, floor, oursCpu, floorCpu } = await oneLaunch(dist, once, label);
      const perRun = ours.map((o, k) => o / floor[k]!);
      ratios[i]!.push(...perRun);
      console.log(
        `${label} ${dist}: wall ours ${fixed(ours)} µs; floor ${fixed(floor)} µs; ` +
          `ours/floor ${fixed(perRun, 2)} (median ${median(perRun).toFixed(2)})`,
      );
      if (oursCpu.length > 0) {
        const cpu = oursCpu.map((o, k) => o / floorCpu[k]!);
        cpuRatios[i]!.push(...cpu);
        console.log(
          `${label} ${dist}: CPU ours ${fixed(oursCpu)} µs/call; floor ${fixed(floorCpu)} µs/call; ` +
            `ours/floor ${fixed(cpu, 2)} (median ${median(cpu).toFixed(2)})`,
        );
      }
    }
  }
  if (args.dists.length > 1)
    for (const [i, dist] of args.dists.entries()) {
      const c = cpuRatios[i]!.length > 0 ? `; CPU ${median(cpuRatios[i]!).toFixed(2)}` : '';
      console.log(
        `${String.fromCharCode(65 + i)} ${dist}: median ours/floor: wall ${median(ratios[i]!).toFixed(2)}${c}`,
      );
    }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
