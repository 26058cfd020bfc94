/**
 * `npm run bench`: what the stack costs, measured on this machine, side by side with native pcsc-lite. Not a test: it
 * asserts nothing about speed.
 *
 * One command prints a table (Markdown, ready for the README) and writes bench/results/latest.json. Each timed figure
 * is the median of BENCH_RUNS runs (default 7; the count is printed), each run a batch of exchanges after a warm-up.
 * Native pcsc-lite (../shared/anchors/native-pcscd/run.sh) runs in the same command, so "ours / native" ratios are
 * taken on the same machine at the same time; absolute figures drift between runs and machines, ratios much less.
 *
 * BENCH_SKIP_CHROMIUM=1, BENCH_SKIP_NATIVE=1, BENCH_SKIP_HOST=1, BENCH_SKIP_HOST_LINK=1 and BENCH_SKIP_CHROMIUM_GROWTH=1
 * leave those parts out (said so in the table). `--only PART[,PART…]` runs just those parts (in-process, chromium,
 * sizes, native, host-socket, host-link, growth, chromium-growth), e.g. `node dist/node/bench.js --only host-socket`
 * (no build of the extensions needed; see bench/README.md). `host-link` measures the native-messaging link with its own
 * native pcscd figure in the same run. `growth` (bench/growth.ts) adds no rows: it draws the growth series into
 * bench/results/*.svg (BENCH_GROWTH_RUNS). `chromium-growth` (bench/chromium-concurrency.ts) adds no rows either: it
 * draws the Chromium concurrency series into bench/results/chromium-concurrency-*.svg and puts its points in the results
 * JSON (`series.chromiumConcurrency`).
 * A figure may name its floor (`floorId`) and carry a goal: the table's last column is "ours / floor (or limit)".
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumConcurrency } from './chromium-concurrency.js';
import { chromiumConcurrencyCharts } from './chromium-concurrency-series.js';
import { chromiumFigures } from './chromium.js';
import { growthSeries } from './growth.js';
import { hostLinkFigures } from './host-link.js';
import { hostSocketFigures } from './host-socket.js';
import { inProcessFigures } from './inprocess.js';
import { RUNS, type Figure } from './measure.js';
import { nativeFigures } from './native.js';
import { compositionLines, sizeFigures } from './sizes.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function format(f: Figure): string {
  if (f.median === null) return 'not measured';
  const v = f.median;
  if (f.unit === 'bytes') return `${v.toLocaleString('en-US')} B`;
  const digits = v >= 1000 ? 0 : v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${f.unit === 'us' ? 'µs' : f.unit}`;
}

/** "1.24× (goal ≤ 1.3×: met)" when the figure has a goal on this ratio. */
function goalText(f: Figure, of: 'floor' | 'native' | 'limit', ratio: number): string {
  if (f.goal?.of !== of) return '';
  const met = of === 'limit' ? ratio <= 1 : ratio <= f.goal.max;
  const limit = of === 'limit' ? `${(f.goal.max / 1000).toLocaleString('en-US')} KB limit` : `goal ≤ ${f.goal.max}×`;
  return ` (${limit}: ${met ? 'met' : 'NOT met'})`;
}

function ratioText(f: Figure): string {
  if (f.nativeId === undefined || f.median === null) return '';
  if (f.ratio === null || f.ratio === undefined) return 'no native figure';
  return `${f.ratio.toFixed(2)}×${goalText(f, 'native', f.ratio)}`;
}

function floorText(f: Figure): string {
  if (f.floorId === undefined && f.goal?.of !== 'limit') return '';
  if (f.floorRatio === null || f.floorRatio === undefined) return f.floorId ? 'no floor figure' : 'not measured';
  return `${f.floorRatio.toFixed(2)}×${goalText(f, f.goal?.of === 'limit' ? 'limit' : 'floor', f.floorRatio)}`;
}

const PARTS = [
  'in-process',
  'chromium',
  'sizes',
  'native',
  'host-socket',
  'host-link',
  'growth',
  'chromium-growth',
] as const;
type Part = (typeof PARTS)[number];

/** The parts `--only a,b` (or `--only=a,b`) asks for; every part without the flag. */
function selectedParts(argv: readonly string[]): Set<Part> {
  const i = argv.findIndex((a) => a === '--only' || a.startsWith('--only='));
  if (i < 0) return new Set(PARTS);
  const value = argv[i]!.startsWith('--only=') ? argv[i]!.slice('--only='.length) : argv[i + 1];
  const names = (value ?? '').split(',').filter((n) => n !== '');
  const bad = names.filter((n) => !(PARTS as readonly string[]).includes(n));
  if (names.length === 0 || bad.length > 0) {
    throw new Error(`--only takes a comma-separated list of ${PARTS.join(', ')}; got "${value ?? ''}"`);
  }
  return new Set(names as Part[]);
}

async function main(): Promise<void> {
  const parts = selectedParts(process.argv.slice(2));
  const started = new Date();
  const figures: Figure[] = [];
  /** Growth series measured in this run, by name, written beside the figures in the results JSON. */
  const series: Record<string, unknown> = {};
  const log = (s: string) => console.error(`[bench] ${s}`);

  if (parts.has('in-process')) {
    log(`in-process figures (median of ${RUNS} runs)…`);
    figures.push(...(await inProcessFigures()));
  }

  if (!parts.has('chromium')) {
    // left out by --only: no row
  } else if (process.env.BENCH_SKIP_CHROMIUM) {
    figures.push({
      id: 'chromium',
      name: 'Chromium figures',
      unit: 'us',
      median: null,
      note: 'skipped (BENCH_SKIP_CHROMIUM)',
    });
  } else {
    log('Chromium figures (headless, release connector + e2e test client)…');
    try {
      figures.push(...(await chromiumFigures()));
    } catch (e) {
      figures.push({
        id: 'chromium',
        name: 'Chromium figures',
        unit: 'us',
        median: null,
        note: `failed: ${(e as Error).message.split('\n')[0]}`,
      });
    }
  }

  if (parts.has('sizes')) {
    log('built sizes…');
    figures.push(...sizeFigures(ROOT));
    // Where the bytes go (bench/README.md, "Bundle sizes: where the bytes go"): relative to the working directory.
    for (const line of compositionLines(ROOT)) log(line);
  }

  if (!parts.has('native')) {
    // left out by --only: no row
  } else if (process.env.BENCH_SKIP_NATIVE) {
    for (const id of ['native-getchallenge', 'native-echo']) {
      figures.push({
        id,
        name: `native pcsc-lite (${id})`,
        unit: 'us',
        median: null,
        note: 'anchor not run: skipped (BENCH_SKIP_NATIVE)',
      });
    }
  } else {
    log('native pcsc-lite anchor (../shared/anchors/native-pcscd/run.sh)…');
    figures.push(...nativeFigures(ROOT));
  }

  if (!parts.has('host-socket')) {
    // left out by --only: no row
  } else if (process.env.BENCH_SKIP_HOST) {
    figures.push({
      id: 'host',
      name: 'smart-card-host pcscd socket figures',
      unit: 'us',
      median: null,
      note: 'skipped (BENCH_SKIP_HOST)',
    });
  } else {
    log('smart-card-host pcscd socket vs native pcscd (C client and pyscard through each)…');
    figures.push(...(await hostSocketFigures(ROOT)));
  }

  if (!parts.has('host-link')) {
    // left out by --only: no row
  } else if (process.env.BENCH_SKIP_HOST_LINK) {
    figures.push({
      id: 'host-link',
      name: 'connector ↔ smart-card-host native-messaging link figures',
      unit: 'us',
      median: null,
      note: 'skipped (BENCH_SKIP_HOST_LINK)',
    });
  } else {
    log('connector → native messaging → smart-card-host → native pcscd, against native pcscd and bare hops…');
    figures.push(...(await hostLinkFigures(ROOT)));
  }

  if (parts.has('growth')) {
    // Issue 14's growth series: charts (SVG) and growth.json in bench/results/, no rows in the table.
    log('growth series (in-process): concurrency, APDU sizes, waiters on one insertion…');
    await growthSeries(resolve(ROOT, 'bench', 'results'), log);
  }

  if (!parts.has('chromium-growth')) {
    // left out by --only: no row
  } else if (process.env.BENCH_SKIP_CHROMIUM_GROWTH) {
    figures.push({
      id: 'chromium-growth',
      name: 'Chromium concurrency series',
      unit: 'us',
      median: null,
      note: 'skipped (BENCH_SKIP_CHROMIUM_GROWTH)',
    });
  } else {
    // Issue 14's growth series through Chromium: charts (SVG) in bench/results/ and the points in the results JSON.
    log('growth series (Chromium): 1, 10 and 100 concurrent client connections, and the port-echo floor…');
    try {
      const results = await chromiumConcurrency(log);
      series.chromiumConcurrency = results;
      const dir = resolve(ROOT, 'bench', 'results');
      mkdirSync(dir, { recursive: true });
      for (const [file, svg] of Object.entries(chromiumConcurrencyCharts(results)))
        writeFileSync(resolve(dir, file), svg);
    } catch (e) {
      figures.push({
        id: 'chromium-growth',
        name: 'Chromium concurrency series',
        unit: 'us',
        median: null,
        note: `failed: ${(e as Error).message.split('\n')[0]}`,
      });
    }
  }

  const byId = new Map(figures.map((f) => [f.id, f]));
  for (const f of figures) {
    if (f.nativeId === undefined || f.ratio !== undefined) continue; // a part may pair its runs itself (host-socket)
    const n = byId.get(f.nativeId);
    f.ratio = f.median !== null && n?.median != null ? f.median / n.median : null;
  }
  for (const f of figures) {
    if (f.floorRatio !== undefined) continue;
    if (f.floorId !== undefined) {
      const n = byId.get(f.floorId);
      f.floorRatio = f.median !== null && n?.median != null ? f.median / n.median : null;
    } else if (f.goal?.of === 'limit') {
      f.floorRatio = f.median !== null ? f.median / f.goal.max : null;
    }
  }

  const date = started.toISOString().slice(0, 10);
  console.log(
    `\nBenchmarks, ${date}, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; timed figures are medians of ${RUNS} runs.\n`,
  );
  console.log('| figure | median | runs × per run | ours / native | ours / floor (or limit) |');
  console.log('|---|---|---|---|---|');
  for (const f of figures) {
    const runs = f.runs !== undefined ? `${f.runs} × ${f.perRun ?? 1}` : '';
    const value = f.median === null ? `not measured: ${f.note ?? ''}` : format(f);
    const note = f.median !== null && f.note ? ` (${f.note})` : '';
    console.log(`| ${f.name}${note} | ${value} | ${runs} | ${ratioText(f)} | ${floorText(f)} |`);
  }
  // A partial run does not overwrite the whole bench's results.
  const file = parts.size === PARTS.length ? 'latest.json' : `latest-${[...parts].join('+')}.json`;
  const out = resolve(ROOT, 'bench', 'results', file);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      { date: started.toISOString(), node: process.version, cpus: cpus().length, runs: RUNS, figures, series },
      null,
      2,
    ),
  );
  console.log(`\nwritten to ${out}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
