/**
 * Where the connector worker's cold start goes (issue 14): CDP ServiceWorker.stopAllWorkers, then a client page's
 * reconnect and first SCardEstablishContext, as bench/chromium.ts times it, with a Chrome trace of the whole browser
 * around it (V8 compile and execute events, and the V8 sampling profiler of every thread, which Chrome starts on a new
 * worker's isolate as it starts: the first sample is taken before the script is even fetched). Built by
 * `npm run build:node`; see bench/README.md, "Worker cold start: where the time goes":
 *
 *   node dist/node/profile-cold.js trace [--light] [--connector DIR] [--out FILE]   one traced restart, its breakdown
 *       [--categories CAT,CAT]   more trace categories (e.g. disabled-by-default-v8.runtime_stats), kept in FILE
 *   node dist/node/profile-cold.js ab DIR_A DIR_B [ROUNDS]                A/B: ours/floor of two connector builds
 *   node dist/node/profile-cold.js ab-cpu DIR_A DIR_B [ROUNDS]            A/B: the worker thread's CPU, from traces
 *   node dist/node/profile-cold.js ab-launch DIR_A DIR_B [ROUNDS]         A/B: launch → first answered call
 *
 * `ab` alternates the two builds (DIR: a built dist/connector) round by round, each round a fresh Chromium with the
 * floor extension, and in it BENCH_RUNS (default 7) restarts of the connector alternating with the floor's; it prints
 * each round's median ours/floor and the median of those per build.
 */
import { performance } from 'node:perf_hooks';
import { readFileSync, writeFileSync } from 'node:fs';
import type { CDPSession, Page } from 'playwright-core';
import { CONNECTOR_ID, DIST, ensureChromium, launchWithExtensions, waitForWorker } from '../scripts/chromium.mjs';
import {
  openConnectorPage,
  openTestClient,
  preApprove,
  PRE_APPROVED,
  turnDemoOn,
  type Rig,
} from '../test/e2e/harness.js';
import { FLOOR_DIR, firstContext, firstEcho } from './chromium.js';
import { summarise } from './measure.js';

const median = (xs: number[]): number => summarise(xs).median;

/** Where the traced connector's build and its source maps are (set by main). */
let MAP_DIR = DIST.connector;

const CATEGORIES = [
  'devtools.timeline',
  'v8',
  'v8.execute',
  'toplevel',
  'blink.user_timing',
  'ServiceWorker',
  'extensions',
  'disabled-by-default-v8.compile',
  'disabled-by-default-v8.cpu_profiler',
].join(',');

interface TraceEvent {
  name: string;
  cat: string;
  ph: string;
  ts: number;
  dur?: number;
  /** Thread time of a complete ('X') slice: on-CPU µs. */
  tdur?: number;
  pid: number;
  tid: number;
  id?: string;
  args?: Record<string, unknown>;
}

async function launch(connectorDir: string): Promise<{ rig: Rig; client: Page }> {
  const browser = await launchWithExtensions({ extensions: [connectorDir, DIST.testClient, FLOOR_DIR] });
  const worker = await waitForWorker(browser.context, CONNECTOR_ID);
  await preApprove(worker, PRE_APPROVED);
  const rig = { browser, context: browser.context, worker, close: () => browser.close() };
  // As bench/chromium.ts leaves it before its restarts: the demo reader on (stored, so each new worker plugs it in).
  const page = await openConnectorPage(rig);
  await turnDemoOn(page);
  await page.close();
  const client = await openTestClient(rig);
  await firstContext(client, true);
  await firstEcho(client);
  return { rig, client };
}

/**
 * The A/B rounds: each round launches each build in turn (as `launch` leaves it, with CDP's ServiceWorker domain on)
 * and runs `measure` on it; returns, per build, what `measure` returned in each round.
 */
async function alternate<T>(
  dirs: string[],
  rounds: number,
  measure: (cdp: CDPSession, client: Page, rig: Rig, label: string) => Promise<T>,
): Promise<T[][]> {
  const results: T[][] = dirs.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let d = 0; d < dirs.length; d++) {
      const { rig, client } = await launch(dirs[d]!);
      try {
        const cdp = await rig.context.newCDPSession(client);
        await cdp.send('ServiceWorker.enable');
        results[d]!.push(await measure(cdp, client, rig, `round ${round + 1} ${String.fromCharCode(65 + d)}`));
      } finally {
        await rig.close();
      }
    }
  }
  return results;
}

/** One restart: stop every worker, then the client's reconnect and first answered call; ms. */
async function restart(cdp: CDPSession, client: Page): Promise<number> {
  await client.evaluate('performance.mark("cold:stop")');
  const t0 = performance.now();
  await cdp.send('ServiceWorker.stopAllWorkers');
  await firstContext(client, false);
  const ms = performance.now() - t0;
  await client.evaluate('performance.mark("cold:answered")');
  return ms;
}

async function floorRestart(cdp: CDPSession, client: Page): Promise<number> {
  const t0 = performance.now();
  await cdp.send('ServiceWorker.stopAllWorkers');
  await firstEcho(client);
  return performance.now() - t0;
}

/** One restart with Chrome's tracing on the browser target (every process); its events and wall time. */
async function tracedRestart(
  rig: Rig,
  cdp: CDPSession,
  client: Page,
  categories: string[],
): Promise<{ events: TraceEvent[]; ms: number }> {
  const browserCdp = await rig.context.browser()!.newBrowserCDPSession();
  const events: TraceEvent[] = [];
  browserCdp.on('Tracing.dataCollected', (e) => {
    events.push(...(e.value as unknown as TraceEvent[]));
  });
  const done = new Promise<void>((resolve) => browserCdp.once('Tracing.tracingComplete', () => resolve()));
  await browserCdp.send('Tracing.start', { traceConfig: { includedCategories: categories } } as never);
  const ms = await restart(cdp, client);
  await new Promise((r) => setTimeout(r, 300));
  await browserCdp.send('Tracing.end');
  await done;
  await browserCdp.detach();
  return { events, ms };
}

async function trace(connectorDir: string, out: string, light: boolean, extra: string[] = []): Promise<void> {
  const { rig, client } = await launch(connectorDir);
  try {
    const cdp = await rig.context.newCDPSession(client);
    await cdp.send('ServiceWorker.enable');
    // Two untraced restarts first: the code cache of a restarted worker is what a real idle restart sees.
    for (let i = 0; i < 2; i++) await restart(cdp, client);
    // The sampling profiler and the compile events slow the start a lot (the first sample waits for source positions):
    // --light leaves them out, for the phases' real proportions.
    const categories = [
      ...CATEGORIES.split(',').filter((c) => !light || !c.startsWith('disabled-by-default')),
      ...extra,
    ];
    const { events, ms } = await tracedRestart(rig, cdp, client, categories);
    writeFileSync(out, JSON.stringify({ traceEvents: events }));
    console.log(`restart → first answered SCardEstablishContext: ${ms.toFixed(1)} ms; trace: ${out}`);
    analyse(events);
  } finally {
    await rig.close();
  }
}

/**
 * The connector worker thread's on-CPU time from the stop to the answer in the page, µs: the thread durations (`tdur`)
 * of its outermost trace slices. Unlike wall time it does not count the thread waiting for a core, so it compares
 * builds on a loaded machine; it leaves out the browser's and the page's share (the same for both builds).
 */
function workerCpu(events: TraceEvent[]): number | null {
  const stop = events.find((e) => e.name === 'cold:stop' && e.cat.includes('user_timing'));
  const answered = events.find((e) => e.name === 'cold:answered' && e.cat.includes('user_timing'));
  const script = `chrome-extension://${CONNECTOR_ID}/background.js`;
  const compile = events.find(
    (e) =>
      (e.name === 'v8.compileModule' || e.name === 'v8.compile') &&
      stop &&
      e.ts > stop.ts &&
      JSON.stringify(e.args ?? {}).includes(script),
  );
  if (!stop || !answered || !compile) return null;
  const slices = events
    .filter((e) => e.pid === compile.pid && e.tid === compile.tid && e.ph === 'X' && e.ts > stop.ts)
    .filter((e) => e.ts < answered.ts)
    .sort((a, b) => a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0));
  let end = 0;
  let cpu = 0;
  for (const e of slices) {
    if (e.ts < end) continue;
    end = e.ts + (e.dur ?? 0);
    cpu += e.tdur ?? 0;
  }
  return cpu;
}

/**
 * A/B by the worker thread's CPU (workerCpu): each round launches each build in turn and traces `runs` restarts
 * (after two untraced ones); prints each round's median and the median of those per build.
 */
async function abCpu(dirs: string[], rounds: number): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const categories = CATEGORIES.split(',').filter((c) => !c.startsWith('disabled-by-default'));
  const medians = await alternate(dirs, rounds, async (cdp, client, rig, label) => {
    for (let i = 0; i < 2; i++) await restart(cdp, client);
    const cpus: number[] = [];
    for (let r = 0; r < runs; r++) {
      const cpu = workerCpu((await tracedRestart(rig, cdp, client, categories)).events);
      if (cpu !== null) cpus.push(cpu / 1000);
    }
    console.log(`${label}: worker on CPU ${cpus.map((c) => c.toFixed(1)).join(' ')} ms`);
    return median(cpus);
  });
  dirs.forEach((dir, d) =>
    console.log(
      `${String.fromCharCode(65 + d)} ${dir}: median worker CPU stop → answer ${median(medians[d]!).toFixed(1)} ms ` +
        `(rounds ${medians[d]!.map((r) => r.toFixed(1)).join(' ')})`,
    ),
  );
}

/** The connector worker's thread in the trace, what it did from the stop to the answer, and its CPU profile. */
function analyse(events: TraceEvent[]): void {
  const mark = (name: string) => events.find((e) => e.name === name && e.cat.includes('user_timing'));
  const stop = mark('cold:stop');
  const answered = mark('cold:answered');
  if (!stop || !answered) throw new Error('the page marks are not in the trace');
  const rel = (ts: number) => ((ts - stop.ts) / 1000).toFixed(1);
  const script = `chrome-extension://${CONNECTOR_ID}/background.js`;
  // The worker's thread: where V8 compiled the connector's script after the stop (v8.compile for a classic worker,
  // whose args say how much code cache it consumed; v8.compileModule for a module worker).
  const compile = events.find(
    (e) =>
      (e.name === 'v8.compileModule' || e.name === 'v8.compile') &&
      e.ts > stop.ts &&
      JSON.stringify(e.args ?? {}).includes(script),
  );
  if (!compile) throw new Error('no compile of the connector script after the stop');
  const { pid, tid } = compile;
  console.log(
    `\nstop at 0 ms; answered in the page at ${rel(answered.ts)} ms; the worker thread: pid ${pid}, tid ${tid}, ` +
      `on CPU ${(workerCpu(events)! / 1000).toFixed(1)} ms up to the answer`,
  );
  // The browser's side of the start (the worker's version, its script reads) and the worker's own milestones.
  const browserSide = events.filter(
    (e) =>
      e.ts > stop.ts &&
      e.ts <= answered.ts &&
      e.pid !== pid &&
      /^(ServiceWorkerVersion::StartWorker|EmbeddedWorkerInstance::Start|ServiceWorkerInstalledScriptsSender::OnStarted|EmbeddedWorkerInstance::OnStarted)$/.test(
        e.name,
      ) &&
      JSON.stringify(e.args ?? {}).length >= 2,
  );
  const milestones = events.filter(
    (e) =>
      e.pid === pid &&
      e.ts > stop.ts &&
      e.ts <= answered.ts &&
      ((e.pid === pid && e.tid === tid && (e.ph === 'I' || e.ph === 'i' || (e.dur ?? 0) >= 1000)) ||
        e.name === 'V8PerIsolateData::Initialize' ||
        e.name === 'RendererMain.START_MSG_LOOP') &&
      !/RunTask|OnHandleReady|Receive mojo|StackGuard|HandleInterrupts|InvokeApiInterrupt/.test(e.name),
  );
  for (const e of [...browserSide, ...milestones].sort((a, b) => a.ts - b.ts)) {
    const data = (e.args?.data ?? {}) as Record<string, unknown>;
    const what = [
      data.url,
      typeof e.args?.body_size === 'number' ? `body ${e.args.body_size} B` : '',
      typeof e.args?.meta_data_size === 'number' ? `code cache ${e.args.meta_data_size} B` : '',
      typeof data.consumedCacheSize === 'number' ? `code cache consumed ${data.consumedCacheSize} B` : '',
    ]
      .filter((x) => x)
      .join(' ');
    const where = e.pid !== pid ? 'browser ' : e.tid === tid ? 'worker  ' : 'renderer';
    const line = `${rel(e.ts).padStart(7)} ms ${((e.dur ?? 0) / 1000).toFixed(2).padStart(6)} ms  ${where} `;
    console.log(`${line}${e.name} ${String(what).slice(0, 100)}`);
  }
  profileOf(events, pid, tid, stop.ts, answered.ts);
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber?: number; columnNumber?: number };
  parent?: number;
}

/** Rebuilds the thread's sampled CPU profile from the trace's Profile/ProfileChunk events; prints its totals. */
function profileOf(events: TraceEvent[], pid: number, tid: number, from: number, to: number): void {
  const chunks = events.filter((e) => e.pid === pid && (e.name === 'Profile' || e.name === 'ProfileChunk'));
  // Profiles are keyed by id; the worker's is the one whose chunks come from its thread.
  const ids = new Set(chunks.filter((e) => e.tid === tid).map((e) => e.id));
  const nodes = new Map<number, ProfileNode>();
  const samples: { node: number; ts: number }[] = [];
  let startTime = 0;
  for (const e of chunks.filter((c) => ids.has(c.id))) {
    const data = (e.args?.data ?? {}) as Record<string, unknown>;
    if (e.name === 'Profile') startTime = (data.startTime as number) ?? e.ts;
    const p = (data.cpuProfile ?? {}) as { nodes?: ProfileNode[]; samples?: number[] };
    for (const n of p.nodes ?? []) nodes.set(n.id, n);
    const deltas = (data.timeDeltas ?? []) as number[];
    (p.samples ?? []).forEach((s, i) => {
      startTime += deltas[i] ?? 0;
      samples.push({ node: s, ts: startTime });
    });
  }
  const inWindow = samples.filter((s) => s.ts >= from && s.ts <= to);
  if (inWindow.length === 0) {
    console.log('\n(no CPU profile samples of the worker thread in the window)');
    return;
  }
  const maps = new Map<string, SourceMap | null>();
  const where = (f: ProfileNode['callFrame']): string => {
    const url = f.url ?? '';
    if (!url.startsWith('chrome-extension://'))
      return `${f.functionName || '(anonymous)'} ${url.split('/').pop() ?? ''}`;
    const file = url.replace(/^chrome-extension:\/\/[a-p]{32}\//, '');
    if (!maps.has(file)) maps.set(file, loadMap(file));
    const original = maps.get(file)?.find(f.lineNumber ?? 0, f.columnNumber ?? 0);
    return original ? `${f.functionName || '(anon)'} ${original}` : `${f.functionName || '(anon)'} ${file}`;
  };
  const bySelf = new Map<string, number>();
  const byFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (let i = 0; i < inWindow.length; i++) {
    const s = inWindow[i]!;
    const dt = (i + 1 < inWindow.length ? inWindow[i + 1]!.ts : to) - s.ts;
    const n = nodes.get(s.node);
    if (!n) continue;
    const name = where(n.callFrame);
    bySelf.set(name, (bySelf.get(name) ?? 0) + dt);
    const file = name.split(' ').pop()!.replace(/:\d+$/, '');
    byFile.set(file, (byFile.get(file) ?? 0) + dt);
    const seen = new Set<string>();
    for (let m: ProfileNode | undefined = n; m; m = m.parent !== undefined ? nodes.get(m.parent) : undefined) {
      const k = where(m.callFrame);
      if (!seen.has(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
      seen.add(k);
    }
  }
  const total = [...byFile.values()].reduce((a, b) => a + b, 0);
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `  ${(v / 1000).toFixed(1).padStart(6)} ms  ${k}`)
      .join('\n');
  console.log(`\nthe worker thread's samples (sampled CPU) up to the answer: ${(total / 1000).toFixed(1)} ms`);
  console.log(`self time by source file:\n${top(byFile, 15)}`);
  console.log(`self time by function:\n${top(bySelf, 20)}`);
  console.log(`inclusive time by function:\n${top(inclusive, 45)}`);
}

/** A source map of the connector's build (dist/connector/FILE.map), to name the original file and line of a frame. */
interface SourceMap {
  find(line: number, column: number): string | null;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function loadMap(file: string): SourceMap | null {
  let raw: { sources: string[]; mappings: string };
  try {
    raw = JSON.parse(readFileSync(`${MAP_DIR}/${file}.map`, 'utf8')) as typeof raw;
  } catch {
    return null;
  }
  // Per generated line: [generated column, source index, original line] sorted by column (the mappings' VLQs).
  const lines: [number, number, number][][] = [];
  let src = 0;
  let oline = 0;
  for (const text of raw.mappings.split(';')) {
    const segs: [number, number, number][] = [];
    let col = 0;
    for (const seg of text.split(',')) {
      if (!seg) continue;
      const v: number[] = [];
      let shift = 0;
      let value = 0;
      for (const ch of seg) {
        const d = B64.indexOf(ch);
        value += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          v.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      col += v[0]!;
      if (v.length >= 4) {
        src += v[1]!;
        oline += v[2]!;
        segs.push([col, src, oline]);
      }
    }
    lines.push(segs);
  }
  return {
    find(line, column) {
      const segs = lines[line];
      if (!segs || segs.length === 0) return null;
      let lo = 0;
      let hi = segs.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (segs[mid]![0] <= column) lo = mid;
        else hi = mid - 1;
      }
      const [, s, l] = segs[lo]!;
      return `${(raw.sources[s] ?? '?').replace(/^(\.\.\/)+/, '')}:${l + 1}`;
    },
  };
}

async function ab(dirs: string[], rounds: number): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 7);
  const results = await alternate(dirs, rounds, async (cdp, client, _rig, label) => {
    const ours: number[] = [];
    const floor: number[] = [];
    for (let r = 0; r < runs; r++) {
      ours.push(await restart(cdp, client));
      floor.push(await floorRestart(cdp, client));
    }
    const ratio = median(ours) / median(floor);
    console.log(
      `${label}: ours ${median(ours).toFixed(1)} ms, floor ${median(floor).toFixed(1)} ms, ${ratio.toFixed(2)}×`,
    );
    return { ratio, ms: median(ours) };
  });
  const ratios = results.map((r) => r.map((x) => x.ratio));
  const ms = results.map((r) => r.map((x) => x.ms));
  dirs.forEach((dir, d) =>
    console.log(
      `${String.fromCharCode(65 + d)} ${dir}: median ours/floor ${median(ratios[d]!).toFixed(2)}× ` +
        `(rounds ${ratios[d]!.map((r) => r.toFixed(2)).join(' ')}), median ours ${median(ms[d]!).toFixed(1)} ms`,
    ),
  );
}

/**
 * A/B of the launch figure (bench/chromium.ts's cold-start-launch): launching Chromium with the build, the e2e test
 * client and the floor extension until the client page's first answered SCardEstablishContext, alternating the builds.
 * A fresh profile each time, so the worker's first start is its install run (no code cache yet).
 */
async function abLaunch(dirs: string[], rounds: number): Promise<void> {
  const ms: number[][] = dirs.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let d = 0; d < dirs.length; d++) {
      const t0 = performance.now();
      const browser = await launchWithExtensions({ extensions: [dirs[d]!, DIST.testClient, FLOOR_DIR] });
      try {
        const worker = await waitForWorker(browser.context, CONNECTOR_ID);
        await preApprove(worker, PRE_APPROVED);
        const rig = { browser, context: browser.context, worker, close: () => browser.close() };
        await firstContext(await openTestClient(rig), true);
        ms[d]!.push(performance.now() - t0);
        console.log(`round ${round + 1} ${String.fromCharCode(65 + d)}: ${ms[d]!.at(-1)!.toFixed(0)} ms`);
      } finally {
        await browser.close();
      }
    }
  }
  dirs.forEach((dir, d) =>
    console.log(`${String.fromCharCode(65 + d)} ${dir}: median launch ${median(ms[d]!).toFixed(0)} ms`),
  );
}

async function main(): Promise<void> {
  ensureChromium();
  const [mode, ...rest] = process.argv.slice(2);
  const opt = (name: string) => {
    const i = rest.indexOf(name);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  MAP_DIR = opt('--connector') ?? DIST.connector;
  if (mode === 'trace')
    await trace(
      opt('--connector') ?? DIST.connector,
      opt('--out') ?? '/tmp/cold-start.json',
      rest.includes('--light'),
      opt('--categories')?.split(',') ?? [],
    );
  else if (mode === 'analyse' && rest[0])
    analyse((JSON.parse(readFileSync(rest[0], 'utf8')) as { traceEvents: TraceEvent[] }).traceEvents);
  else if (mode === 'ab' && rest.length >= 2) await ab(rest.slice(0, 2), Number(rest[2] ?? 3));
  else if (mode === 'ab-cpu' && rest.length >= 2) await abCpu(rest.slice(0, 2), Number(rest[2] ?? 3));
  else if (mode === 'ab-launch' && rest.length >= 2) await abLaunch(rest.slice(0, 2), Number(rest[2] ?? 3));
  else
    throw new Error(
      'usage: profile-cold.js trace [--connector DIR] [--out FILE] | ab|ab-cpu|ab-launch DIR_A DIR_B [ROUNDS]',
    );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
