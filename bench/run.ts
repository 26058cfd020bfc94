/**
 * `npm run bench`: what the stack costs, measured on this machine, side by side with native pcsc-lite. Not a test: it
 * asserts nothing about speed.
 *
 * One command prints a table (Markdown, ready for the README) and writes bench/results/latest.json. Each timed figure
 * is the median of BENCH_RUNS runs (default 7; the count is printed), each run a batch of exchanges after a warm-up.
 * Native pcsc-lite (../shared/anchors/native-pcscd/run.sh) runs in the same command, so "ours / native" ratios are
 * taken on the same machine at the same time; absolute figures drift between runs and machines, ratios much less.
 *
 * BENCH_SKIP_CHROMIUM=1, BENCH_SKIP_NATIVE=1, BENCH_SKIP_HOST=1 and BENCH_SKIP_HOST_LINK=1 leave those parts out (said
 * so in the table). `--only host-link` runs the native-messaging link alone (bench/host-link.ts: it measures its own
 * native pcscd figure in the same run), e.g. `npm run bench -- --only host-link`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumFigures } from './chromium.js';
import { hostLinkFigures } from './host-link.js';
import { hostSocketFigures } from './host-socket.js';
import { inProcessFigures } from './inprocess.js';
import { RUNS, type Figure } from './measure.js';
import { nativeFigures } from './native.js';
import { sizeFigures } from './sizes.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function format(f: Figure): string {
  if (f.median === null) return 'not measured';
  const v = f.median;
  if (f.unit === 'bytes') return `${v.toLocaleString('en-US')} B`;
  const digits = v >= 1000 ? 0 : v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${f.unit === 'us' ? 'µs' : f.unit}`;
}

function ratioText(f: Figure): string {
  if (f.nativeId === undefined || f.median === null) return '';
  if (f.ratio === null || f.ratio === undefined) return 'no native figure';
  if (f.boundId === undefined) return `${f.ratio.toFixed(2)}×`;
  const bound = f.boundRatio === null || f.boundRatio === undefined ? 'no floor figure' : `${f.boundRatio.toFixed(2)}×`;
  return `${f.ratio.toFixed(2)}× native; ${bound} (bare hops + native)`;
}

/** The parts `--only NAME` may pick (every part when absent). */
const PARTS = ['inprocess', 'chromium', 'sizes', 'native', 'host-socket', 'host-link'] as const;
type Part = (typeof PARTS)[number];

function selectedParts(argv: readonly string[]): Set<Part> {
  const i = argv.indexOf('--only');
  if (i < 0) return new Set(PARTS);
  const picked = (argv[i + 1] ?? '').split(',').filter(Boolean);
  const unknown = picked.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (picked.length === 0 || unknown.length > 0) {
    throw new Error(`--only takes one or more of ${PARTS.join(', ')} (comma-separated); got "${argv[i + 1] ?? ''}"`);
  }
  return new Set(picked as Part[]);
}

async function main(): Promise<void> {
  const started = new Date();
  const figures: Figure[] = [];
  const log = (s: string) => console.error(`[bench] ${s}`);
  const parts = selectedParts(process.argv.slice(2));

  if (parts.has('inprocess')) {
    log(`in-process figures (median of ${RUNS} runs)…`);
    figures.push(...(await inProcessFigures()));
  }

  if (!parts.has('chromium')) {
    // not asked for (--only)
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
  }

  if (!parts.has('native')) {
    // not asked for (--only)
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
    // not asked for (--only)
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
    // not asked for (--only)
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

  const byId = new Map(figures.map((f) => [f.id, f]));
  for (const f of figures) {
    if (f.nativeId === undefined) continue;
    const n = byId.get(f.nativeId);
    f.ratio = f.median !== null && n?.median != null ? f.median / n.median : null;
    if (f.boundId === undefined) continue;
    const b = byId.get(f.boundId);
    f.boundRatio = f.median !== null && b?.median != null ? f.median / b.median : null;
  }

  const date = started.toISOString().slice(0, 10);
  console.log(
    `\nBenchmarks, ${date}, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; timed figures are medians of ${RUNS} runs.\n`,
  );
  console.log('| figure | median | runs × per run | ours / native |');
  console.log('|---|---|---|---|');
  for (const f of figures) {
    const runs = f.runs !== undefined ? `${f.runs} × ${f.perRun ?? 1}` : '';
    const value = f.median === null ? `not measured: ${f.note ?? ''}` : format(f);
    const note = f.median !== null && f.note ? ` (${f.note})` : '';
    console.log(`| ${f.name}${note} | ${value} | ${runs} | ${ratioText(f)} |`);
  }
  const out = resolve(ROOT, 'bench', 'results', 'latest.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      { date: started.toISOString(), node: process.version, cpus: cpus().length, runs: RUNS, figures },
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
