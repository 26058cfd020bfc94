/**
 * How cost grows (issue 14, part 3), in-process: per-APDU time and throughput with 1, 10 and 100 concurrent clients;
 * per-APDU time and throughput for APDU sizes from 8 bytes to 64 KiB; the time from one card insertion until 10 …
 * 10,000 waiting SCardGetStatusChange calls have all resolved. Each series is drawn as an SVG line chart
 * (bench/chart.ts) into bench/results/, and its numbers go to bench/results/growth.json.
 *
 * Every point is the median of BENCH_RUNS runs (BENCH_GROWTH_RUNS overrides it for this part alone); the figures are
 * for comparing points of one series with each other, taken in one run, not with other machines.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CcidReader } from '../src/ccid/reader.js';
import type { IfdReader } from '../src/ifd/index.js';
import {
  PcscDaemon,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  type PcscClient,
} from '../src/pcsc/index.js';
import { createSimulatedReader, helloWorldCardT1, type ProfileId } from '../src/sim/index.js';
import { lineChart, type Series } from './chart.js';
import { eventLatency } from './inprocess.js';
import { memoryCardReader } from './memcard.js';
import { GET_CHALLENGE_8, RUNS, echoApdu, isEchoOf, looksLikeEchoOf, summarise } from './measure.js';
import { t1FloorFigure } from './t1-floor.js';

const GROWTH_RUNS = Number(process.env.BENCH_GROWTH_RUNS ?? RUNS);
export const CLIENT_COUNTS = [1, 10, 100];
/** ECHO data lengths: 8 bytes … 65,535 (the largest Lc; with 90 00 the answer is 65,537 bytes, 64 KiB and more). */
export const APDU_SIZES = [8, 64, 512, 4096, 32768, 65535];
export const WAITER_COUNTS = [10, 100, 1000, 10000];

interface Reader {
  label: string;
  open(): Promise<IfdReader>;
}

function simulated(profile: ProfileId, label: string): Reader {
  return {
    label,
    open: async () => {
      const device = createSimulatedReader(profile);
      device.insertCard(helloWorldCardT1({ seed: 1 }));
      return CcidReader.open(device);
    },
  };
}

const MEMCARD: Reader = { label: 'stack alone (in-memory card)', open: async () => memoryCardReader() };
const GEMPC = simulated('gempc-twin', 'GemPC Twin (driver + simulator, T=1)');
const EXTENDED = simulated('extended-apdu', 'extended-APDU reader (CCID chaining)');

interface ConcurrencyPoint {
  clients: number;
  perApduUs: number;
  apdusPerSecond: number;
}

/**
 * `clients` clients of one daemon, each with its own context and shared handle on the same reader, each sending its
 * share of `total` 8-byte GET CHALLENGEs back to back, all at once. Per-APDU time is what one client waits per call
 * (the run's time over its share); throughput is every client's APDUs over the run's time.
 */
async function concurrency(reader: Reader, clients: number, total: number): Promise<ConcurrencyPoint> {
  const daemon = new PcscDaemon();
  const [name] = await daemon.addReader(await reader.open());
  const each = Math.max(1, Math.round(total / clients));
  const handles: { client: PcscClient; hCard: number; pci: { dwProtocol: number } }[] = [];
  for (let c = 0; c < clients; c++) {
    const client = daemon.connect({ name: `bench-${c}` });
    const { hContext } = await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { hCard, dwActiveProtocol } = await client.SCardConnect(
      hContext,
      name!,
      SCARD_SHARE_SHARED,
      SCARD_PROTOCOL_T1,
    );
    handles.push({ client, hCard, pci: { dwProtocol: dwActiveProtocol } });
  }
  const loop = async (n: number) => {
    await Promise.all(
      handles.map(async ({ client, hCard, pci }) => {
        for (let i = 0; i < n; i++) {
          const r = (await client.SCardTransmit(hCard, pci, GET_CHALLENGE_8)).recvBuffer;
          if (r.length !== 10 || r[8] !== 0x90) throw new Error('bad GET CHALLENGE answer');
        }
      }),
    );
  };
  await loop(Math.max(2, Math.ceil(each / 5)));
  const samples: number[] = [];
  for (let r = 0; r < GROWTH_RUNS; r++) {
    const t0 = performance.now();
    await loop(each);
    samples.push(performance.now() - t0);
  }
  await daemon.shutdown();
  const ms = summarise(samples).median;
  return { clients, perApduUs: (ms * 1000) / each, apdusPerSecond: (each * clients * 1000) / ms };
}

interface SizePoint {
  bytes: number;
  perApduUs: number;
  /** Data bytes moved per second, both ways (the command's data and the answer's). */
  mbPerSecond: number;
}

function opsFor(bytes: number): number {
  return Math.min(500, Math.max(10, Math.round(200_000 / (bytes + 100))));
}

function sizePoint(bytes: number, us: number): SizePoint {
  return { bytes, perApduUs: us, mbPerSecond: (2 * bytes) / us };
}

async function sizeSeries(reader: Reader): Promise<SizePoint[]> {
  const daemon = new PcscDaemon();
  const [name] = await daemon.addReader(await reader.open());
  const client = daemon.connect({ name: 'bench' });
  const { hContext } = await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
  const { hCard, dwActiveProtocol } = await client.SCardConnect(hContext, name!, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
  const pci = { dwProtocol: dwActiveProtocol };
  const out: SizePoint[] = [];
  for (const bytes of APDU_SIZES) {
    const echo = echoApdu(bytes);
    if (!isEchoOf((await client.SCardTransmit(hCard, pci, echo)).recvBuffer, echo))
      throw new Error(`${reader.label}: the ${bytes}-byte ECHO answer is wrong`);
    const n = opsFor(bytes);
    const one = async () => {
      if (!looksLikeEchoOf((await client.SCardTransmit(hCard, pci, echo)).recvBuffer, echo))
        throw new Error('bad ECHO answer');
    };
    for (let i = 0; i < Math.max(3, n / 5); i++) await one();
    const samples: number[] = [];
    for (let r = 0; r < GROWTH_RUNS; r++) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await one();
      samples.push(((performance.now() - t0) * 1000) / n);
    }
    out.push(sizePoint(bytes, summarise(samples).median));
  }
  await daemon.shutdown();
  return out;
}

export interface GrowthResults {
  concurrency: { reader: string; points: ConcurrencyPoint[] }[];
  sizes: { reader: string; points: SizePoint[] }[];
  waiters: { waiters: number; clients: number; insertionToLastUs: number }[];
}

/** Runs the three series, writes growth.json and the charts into `dir`; returns the numbers. */
export async function growthSeries(dir: string, log: (s: string) => void = () => {}): Promise<GrowthResults> {
  const results: GrowthResults = { concurrency: [], sizes: [], waiters: [] };
  for (const reader of [MEMCARD, GEMPC]) {
    log(`growth: concurrency, ${reader.label}…`);
    const points: ConcurrencyPoint[] = [];
    for (const clients of CLIENT_COUNTS) points.push(await concurrency(reader, clients, 2000));
    results.concurrency.push({ reader: reader.label, points });
  }
  for (const reader of [MEMCARD, GEMPC, EXTENDED]) {
    log(`growth: APDU sizes, ${reader.label}…`);
    results.sizes.push({ reader: reader.label, points: await sizeSeries(reader) });
  }
  log('growth: APDU sizes, T=1 floor (blocks replayed into the simulator alone)…');
  const floor: SizePoint[] = [];
  for (const bytes of APDU_SIZES) {
    const f = await t1FloorFigure(bytes, `t1-floor-echo-${bytes}`, opsFor(bytes), GROWTH_RUNS);
    floor.push(sizePoint(bytes, f.median!));
  }
  results.sizes.push({ reader: 'T=1 floor: GemPC Twin simulator alone (no driver)', points: floor });
  for (const waiters of WAITER_COUNTS) {
    log(`growth: ${waiters} waiters on one insertion…`);
    // pcscd allows 200 contexts per client (contextLimitScope 'client'): 100 contexts per client at most here.
    const clients = Math.max(1, Math.ceil(waiters / 100));
    const f = await eventLatency(waiters, clients, {
      contextLimitScope: 'client',
      rounds: GROWTH_RUNS,
      settleMs: Math.max(20, waiters / 10),
    });
    results.waiters.push({ waiters, clients, insertionToLastUs: f.median! });
  }

  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'growth.json'),
    JSON.stringify({ date: new Date().toISOString(), runs: GROWTH_RUNS, ...results }, null, 2),
  );
  const charts: [string, Series[], Parameters<typeof lineChart>[1]][] = [
    [
      'concurrency-latency.svg',
      results.concurrency.map((s) => ({
        name: s.reader,
        points: s.points.map((p) => ({ x: p.clients, y: p.perApduUs })),
      })),
      {
        title: 'In-process: per-APDU time seen by each client (8-byte GET CHALLENGE)',
        xLabel: 'concurrent clients on one reader',
        yLabel: 'µs per APDU',
        xLog: true,
        yLog: true,
      },
    ],
    [
      'concurrency-throughput.svg',
      results.concurrency.map((s) => ({
        name: s.reader,
        points: s.points.map((p) => ({ x: p.clients, y: p.apdusPerSecond })),
      })),
      {
        title: 'In-process: throughput, all clients together (8-byte GET CHALLENGE)',
        xLabel: 'concurrent clients on one reader',
        yLabel: 'APDUs per second',
        xLog: true,
      },
    ],
    [
      'apdu-size-latency.svg',
      results.sizes.map((s) => ({ name: s.reader, points: s.points.map((p) => ({ x: p.bytes, y: p.perApduUs })) })),
      {
        title: 'In-process: per-APDU time by ECHO data length',
        xLabel: 'ECHO data bytes',
        yLabel: 'µs per APDU',
        xLog: true,
        yLog: true,
      },
    ],
    [
      'apdu-size-throughput.svg',
      results.sizes.map((s) => ({ name: s.reader, points: s.points.map((p) => ({ x: p.bytes, y: p.mbPerSecond })) })),
      {
        title: 'In-process: data moved by ECHO data length (both ways)',
        xLabel: 'ECHO data bytes',
        yLabel: 'MB per second',
        xLog: true,
        yLog: true,
      },
    ],
    [
      'waiters.svg',
      [
        {
          name: 'GemPC Twin (driver + simulator)',
          points: results.waiters.map((w) => ({ x: w.waiters, y: w.insertionToLastUs / 1000 })),
        },
      ],
      {
        title: 'In-process: one card insertion → every waiting SCardGetStatusChange resolved',
        xLabel: 'waiting SCardGetStatusChange calls',
        yLabel: 'ms until the last resolved',
        xLog: true,
        yLog: true,
      },
    ],
  ];
  for (const [file, series, options] of charts) writeFileSync(join(dir, file), lineChart(series, options));
  return results;
}
