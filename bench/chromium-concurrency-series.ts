/**
 * The pure part of the Chromium concurrency series (bench/chromium-concurrency.ts): how the clients are spread over
 * client pages and extensions, what one run's page reports give as a point, and the charts. No browser: unit-tested in
 * test/unit/bench/chromium-concurrency-series.test.ts.
 */
import { lineChart, type Series } from './chart.js';
import { summarise } from './measure.js';

export interface ChromiumConcurrencyPoint {
  clients: number;
  pages: number;
  perApduUs: number;
  apdusPerSecond: number;
  floorPerApduUs: number;
  floorApdusPerSecond: number;
}

export interface ChromiumConcurrencyResults {
  /** APDUs per run, shared by the clients; runs per point. */
  total: number;
  runs: number;
  maxPages: number;
  points: ChromiumConcurrencyPoint[];
}

/** One client page: the extension it belongs to and how many clients (connections) it opens. */
export interface PagePlan {
  extension: string;
  clients: number;
}

/**
 * Spreads `clients` over at most `maxPages` pages (as evenly as they go), the pages taking turns among `extensions`,
 * so that no extension has more than `perExtension` clients: the connector lets one extension, over all its pages and
 * connections, hold at most its fair share of a reader's handles (src/pcsc/daemon.ts FAIR_READER_HANDLES), and each
 * client here holds one. Throws when the extensions' shares cannot hold them all.
 */
export function planClients(
  clients: number,
  options: { maxPages: number; extensions: readonly string[]; perExtension: number },
): PagePlan[] {
  const { maxPages, extensions, perExtension } = options;
  if (!Number.isInteger(clients) || clients < 1) throw new RangeError(`clients must be a whole number ≥ 1`);
  if (!Number.isInteger(maxPages) || maxPages < 1) throw new RangeError('maxPages must be a whole number ≥ 1');
  if (extensions.length === 0) throw new RangeError('no client extension given');
  if (clients > extensions.length * perExtension) {
    throw new RangeError(
      `${clients} clients need more handles than ${extensions.length} extensions × ${perExtension} (fair shares)`,
    );
  }
  const pages = Math.min(clients, maxPages);
  // The clients each page opens, as even as they go; then the pages' extensions in turn, an extension that would go
  // over its share leaving its turn to the next (only needed when the counts are uneven).
  const sizes = Array.from({ length: pages }, (_, i) => Math.floor(clients / pages) + (i < clients % pages ? 1 : 0));
  const held = new Map(extensions.map((e) => [e, 0]));
  const plan: PagePlan[] = [];
  sizes.forEach((size, i) => {
    for (let k = 0; k < extensions.length; k++) {
      const extension = extensions[(i + k) % extensions.length]!;
      if (held.get(extension)! + size <= perExtension) {
        held.set(extension, held.get(extension)! + size);
        plan.push({ extension, clients: size });
        return;
      }
    }
    throw new RangeError(`cannot place a page of ${size} clients within the extensions' shares of ${perExtension}`);
  });
  return plan;
}

/** What one page reports for one run: when it started and ended (epoch ms) and each of its clients' loop time (ms). */
export interface PageReport {
  startMs: number;
  endMs: number;
  clientMs: number[];
}

export interface RunFigures {
  /** The median client's wait per APDU (its loop's time over its APDUs), µs. */
  perApduUs: number;
  /** Every client's APDUs over the time from the first page's start to the last page's end. */
  apdusPerSecond: number;
}

/** One run's figures from its pages' reports; `each` is the APDUs every client sent. */
export function runFigures(reports: readonly PageReport[], each: number): RunFigures {
  const clientMs = reports.flatMap((r) => r.clientMs);
  if (clientMs.length === 0 || !(each > 0)) throw new RangeError('a run needs at least one client and one APDU');
  const span = Math.max(...reports.map((r) => r.endMs)) - Math.min(...reports.map((r) => r.startMs));
  if (!(span > 0)) throw new RangeError('a run took no time: its clock readings are wrong');
  return {
    perApduUs: (summarise(clientMs).median * 1000) / each,
    apdusPerSecond: (clientMs.length * each * 1000) / span,
  };
}

/** A point of the series: the median over runs of each figure (each taken on its own). */
export function pointOf(runs: readonly RunFigures[]): RunFigures {
  if (runs.length === 0) throw new RangeError('a point needs at least one run');
  return {
    perApduUs: summarise(runs.map((r) => r.perApduUs)).median,
    apdusPerSecond: summarise(runs.map((r) => r.apdusPerSecond)).median,
  };
}

/**
 * What the points' clients were, for the chart's legend: "a client page each" when every client had its own page,
 * else the points that shared pages, e.g. "a client page each, but 100 = 10 pages × 10".
 */
export function layoutText(points: readonly { clients: number; pages: number }[]): string {
  const shared = points
    .filter((p) => p.pages !== p.clients)
    .map((p) => {
      const lo = Math.floor(p.clients / p.pages);
      const hi = Math.ceil(p.clients / p.pages);
      return `${p.clients} = ${p.pages} page${p.pages === 1 ? '' : 's'} × ${lo === hi ? lo : `${lo}–${hi}`}`;
    });
  return shared.length === 0 ? 'a client page each' : `a client page each, but ${shared.join(', ')}`;
}

/** The two charts (file name → SVG text). */
export function chromiumConcurrencyCharts(results: ChromiumConcurrencyResults): Record<string, string> {
  const layout = layoutText(results.points);
  const series = (y: (p: ChromiumConcurrencyPoint) => number, yFloor: (p: ChromiumConcurrencyPoint) => number) =>
    [
      {
        name: `connector: SCardTransmit through the client library (${layout})`,
        points: results.points.map((p) => ({ x: p.clients, y: y(p) })),
      },
      {
        name: 'floor: bare port echo to an empty extension worker, same clients',
        points: results.points.map((p) => ({ x: p.clients, y: yFloor(p) })),
      },
    ] satisfies Series[];
  return {
    'chromium-concurrency-latency.svg': lineChart(
      series(
        (p) => p.perApduUs,
        (p) => p.floorPerApduUs,
      ),
      {
        title: 'Chromium: per-APDU time seen by each client (8-byte GET CHALLENGE)',
        xLabel: 'concurrent clients (connections) on the demo reader',
        yLabel: 'µs per APDU',
        xLog: true,
        yLog: true,
      },
    ),
    'chromium-concurrency-throughput.svg': lineChart(
      series(
        (p) => p.apdusPerSecond,
        (p) => p.floorApdusPerSecond,
      ),
      {
        title: 'Chromium: throughput, all clients together (8-byte GET CHALLENGE)',
        xLabel: 'concurrent clients (connections) on the demo reader',
        yLabel: 'APDUs per second',
        xLog: true,
      },
    ),
  };
}
