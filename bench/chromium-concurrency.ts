/**
 * How cost grows (issue 14, part 3), through Chromium: per-APDU time and throughput with 1, 10 and 100 concurrent
 * clients of the released connector in headless Chromium, each client a connection of the client library
 * (`lib.connect`: its own chrome.runtime port, so its own daemon client) opened in a page of the end-to-end test client
 * extensions, with its own context and a shared handle on the demo reader (a zero-latency simulated GemPC Twin). All
 * clients send their share of a fixed total of 8-byte GET CHALLENGEs back to back, all at once.
 *
 * What a "client" is: one connection, in a client page of its own up to BENCH_CHROMIUM_CONC_PAGES pages (default 100,
 * so one page per client at every point); with fewer pages allowed, the clients are spread evenly over them (e.g. 10
 * pages × 10 connections for the 100 point) and the chart's legend says so. The connector lets one extension, over
 * all its pages, hold at most its fair share of a reader's handles (50 of pcscd's 200, src/pcsc/daemon.ts
 * FAIR_READER_HANDLES): the pages take turns between the two test clients (test-client and test-client-b, both
 * allowed before the run as the user's "Allow" would be), so the 100 point is 50 clients of each.
 *
 * All pages start together: each listens on a BroadcastChannel of its extension's origin, and one more page per
 * extension (with no client) posts the start to them. Each page times its clients' loops (performance.now()) and its
 * own start and end (on the epoch clock, shared by every process): per-APDU time is the median client's loop time over
 * its APDUs; throughput is all the APDUs over the time from the first page's start to the last page's end.
 *
 * The floor, from the same clients in the same pages, run for run in alternation: each client also has its own port to
 * bench/floor-extension, whose worker only echoes, and echoes the client library's SCardTransmit call message instead.
 */
import { performance } from 'node:perf_hooks';
import type { Page } from 'playwright-core';
import {
  CONNECTOR_ID,
  DIST,
  ensureChromium,
  extensionUrl,
  launchWithExtensions,
  waitForWorker,
} from '../scripts/chromium.mjs';
import { FAIR_READER_HANDLES } from '../src/pcsc/daemon.js';
import {
  TEST_CLIENT_B_DIST,
  TEST_CLIENT_B_ID,
  TEST_CLIENT_ID,
  openConnectorPage,
  preApprove,
  turnDemoOn,
  type Rig,
} from '../test/e2e/harness.js';
import {
  planClients,
  pointOf,
  runFigures,
  type ChromiumConcurrencyPoint,
  type ChromiumConcurrencyResults,
  type PagePlan,
  type PageReport,
  type RunFigures,
} from './chromium-concurrency-series.js';
import { FLOOR_DIR, FLOOR_ID } from './chromium.js';
import { RUNS } from './measure.js';

export const CHROMIUM_CLIENT_COUNTS = [1, 10, 100];
const TOTAL_APDUS = Number(process.env.BENCH_CHROMIUM_CONC_APDUS ?? 1000);
const MAX_PAGES = Number(process.env.BENCH_CHROMIUM_CONC_PAGES ?? 100);
const CONC_RUNS = Number(process.env.BENCH_GROWTH_RUNS ?? RUNS);

const CHANNEL = 'bench-concurrency';
/** A run's upper bound (not a timing: only so that a lost answer fails the part instead of hanging it). */
const RUN_LIMIT_MS = 300_000;
/** Client pages set up at the same time. */
const SETUP_PARALLEL = 8;

/**
 * Installed in each client page: `globalThis.conc` opens its clients and runs their loops when the start comes on the
 * BroadcastChannel. Plain JavaScript evaluated in the page, where the test client exposes the client library as `lib`.
 */
const PAGE_SCRIPT = `(() => {
  const g = globalThis;
  const runs = new Map();
  const deferred = (run) => {
    let d = runs.get(run);
    if (!d) {
      d = {};
      d.promise = new Promise((resolve, reject) => { d.resolve = resolve; d.reject = reject; });
      runs.set(run, d);
    }
    return d;
  };
  const now = () => performance.timeOrigin + performance.now();
  const apdu = Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x08);
  const conc = {
    clients: [],
    async open(n, connectorId, floorId) {
      for (let k = 0; k < n; k++) {
        const c = await g.lib.connect(connectorId, { name: 'bench-concurrency', connectTimeoutMs: 20000 });
        const { hContext } = await c.SCardEstablishContext(g.lib.SCARD_SCOPE_SYSTEM);
        const { readers } = await c.SCardListReaders(hContext, null);
        const { hCard, dwActiveProtocol } =
          await c.SCardConnect(hContext, readers[0], g.lib.SCARD_SHARE_SHARED, g.lib.SCARD_PROTOCOL_T1);
        const port = chrome.runtime.connect(floorId, { name: 'floor' });
        let pending = null;
        port.onMessage.addListener((m) => { const p = pending; pending = null; p?.resolve(m); });
        port.onDisconnect.addListener(() => {
          const p = pending;
          pending = null;
          p?.reject(new Error('the floor port closed'));
        });
        const echo = (m) => new Promise((resolve, reject) => { pending = { resolve, reject }; port.postMessage(m); });
        // The client library's SCardTransmit call message, as it goes on the port (src/protocol/codec.ts encodeCall).
        const call = {
          v: 1, kind: 'call', id: 0, fn: 'SCardTransmit', args: [hCard, { dwProtocol: dwActiveProtocol }, '0084000008'],
        };
        this.clients.push({ c, hContext, hCard, pci: { dwProtocol: dwActiveProtocol }, port, echo, call });
      }
      // Each floor port answers once before any timing (the floor worker is up and the port is open).
      for (const cl of this.clients) await this.one('floor', cl);
    },
    async one(kind, cl) {
      if (kind === 'pcsc') {
        const r = (await cl.c.SCardTransmit(cl.hCard, cl.pci, apdu)).recvBuffer;
        if (r.length !== 10 || r[8] !== 0x90 || r[9] !== 0x00) throw new Error('bad GET CHALLENGE answer');
      } else {
        cl.call.id += 1;
        const m = await cl.echo(cl.call);
        if (m.id !== cl.call.id) throw new Error('bad echo');
      }
    },
    listen() {
      const bc = new BroadcastChannel(${JSON.stringify(CHANNEL)});
      bc.onmessage = (e) => {
        const { run, kind, each } = e.data;
        const d = deferred(run);
        const startMs = now();
        Promise.all(this.clients.map(async (cl) => {
          const t0 = performance.now();
          for (let i = 0; i < each; i++) await this.one(kind, cl);
          return performance.now() - t0;
        })).then((clientMs) => d.resolve({ startMs, endMs: now(), clientMs }), (e) => d.reject(e));
      };
    },
    result(run) {
      return deferred(run).promise.finally(() => runs.delete(run));
    },
    start(message) {
      new BroadcastChannel(${JSON.stringify(CHANNEL)}).postMessage(message);
    },
    async close() {
      for (const cl of this.clients) {
        cl.port.disconnect();
        await cl.c.SCardDisconnect(cl.hCard, g.lib.SCARD_LEAVE_CARD);
        await cl.c.SCardReleaseContext(cl.hContext);
        cl.c.close();
      }
      this.clients = [];
    },
  };
  g.conc = conc;
})()`;

async function launch(): Promise<Rig> {
  const browser = await launchWithExtensions({
    extensions: [DIST.connector, DIST.testClient, TEST_CLIENT_B_DIST, FLOOR_DIR],
  });
  try {
    const worker = await waitForWorker(browser.context, CONNECTOR_ID);
    await preApprove(worker, [TEST_CLIENT_ID, TEST_CLIENT_B_ID]);
    return { browser, context: browser.context, worker, close: () => browser.close() };
  } catch (e) {
    await browser.close();
    throw e;
  }
}

async function clientPage(rig: Rig, extension: string): Promise<Page> {
  const page = await rig.context.newPage();
  await page.goto(extensionUrl(extension, 'index.html'));
  await page.getByText('ready', { exact: true }).waitFor();
  await page.evaluate(PAGE_SCRIPT);
  return page;
}

let nextRun = 1;

/** One run of every client of `pages` at once; the pages' reports. */
async function oneRun(
  pages: readonly Page[],
  starters: readonly Page[],
  kind: 'pcsc' | 'floor',
  each: number,
): Promise<PageReport[]> {
  const run = nextRun++;
  const results = pages.map((p) => p.evaluate(`globalThis.conc.result(${run})`) as Promise<PageReport>);
  const message = JSON.stringify({ run, kind, each });
  await Promise.all(starters.map((p) => p.evaluate(`globalThis.conc.start(${message})`)));
  // A client that never finishes (a lost answer, a page that missed the start) must fail the part, not hang the bench.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`a ${kind} run of ${each} APDUs per client did not end in ${RUN_LIMIT_MS} ms`)),
      RUN_LIMIT_MS,
    );
  });
  try {
    return await Promise.race([Promise.all(results), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function point(rig: Rig, plan: readonly PagePlan[], log: (s: string) => void): Promise<ChromiumConcurrencyPoint> {
  const t0 = performance.now();
  const clients = plan.reduce((n, p) => n + p.clients, 0);
  const each = Math.max(1, Math.round(TOTAL_APDUS / clients));
  const pages: Page[] = [];
  const starters: Page[] = [];
  try {
    // Pages are set up a few at a time: one by one, 100 pages take a minute and more on a loaded 2-core machine.
    let next = 0;
    const setUp = async () => {
      while (next < plan.length) {
        const p = plan[next++]!;
        const page = await clientPage(rig, p.extension);
        pages.push(page);
        await page.evaluate(
          `globalThis.conc.open(${p.clients}, ${JSON.stringify(CONNECTOR_ID)}, ${JSON.stringify(FLOOR_ID)})`,
        );
        await page.evaluate('globalThis.conc.listen()');
      }
    };
    await Promise.all(Array.from({ length: SETUP_PARALLEL }, setUp));
    // A page of each extension with no client posts the start (a BroadcastChannel does not deliver to its sender).
    for (const extension of new Set(plan.map((p) => p.extension))) starters.push(await clientPage(rig, extension));
    const t1 = performance.now();
    const warm = Math.max(2, Math.ceil(each / 5));
    await oneRun(pages, starters, 'pcsc', warm);
    await oneRun(pages, starters, 'floor', warm);
    const ours: RunFigures[] = [];
    const floor: RunFigures[] = [];
    // Run for run, ours then the floor, so that both come from the same moments of a shared machine.
    for (let r = 0; r < CONC_RUNS; r++) {
      ours.push(runFigures(await oneRun(pages, starters, 'pcsc', each), each));
      floor.push(runFigures(await oneRun(pages, starters, 'floor', each), each));
    }
    for (const page of pages) await page.evaluate('globalThis.conc.close()');
    log(
      `  set up in ${((t1 - t0) / 1000).toFixed(1)} s, measured in ${((performance.now() - t1) / 1000).toFixed(1)} s`,
    );
    const o = pointOf(ours);
    const f = pointOf(floor);
    return {
      clients,
      pages: plan.length,
      perApduUs: o.perApduUs,
      apdusPerSecond: o.apdusPerSecond,
      floorPerApduUs: f.perApduUs,
      floorApdusPerSecond: f.apdusPerSecond,
    };
  } finally {
    for (const page of [...pages, ...starters]) await page.close().catch(() => {});
  }
}

/** Measures the series; `log` reports progress. Throws when Chromium or the builds are missing. */
export async function chromiumConcurrency(log: (s: string) => void = () => {}): Promise<ChromiumConcurrencyResults> {
  ensureChromium();
  const rig = await launch();
  try {
    const connector = await openConnectorPage(rig);
    await turnDemoOn(connector);
    // The demo reader stays on (a service setting): no page of the connector is open while the clients run.
    await connector.close();
    const points: ChromiumConcurrencyPoint[] = [];
    for (const clients of CHROMIUM_CLIENT_COUNTS) {
      const plan = planClients(clients, {
        maxPages: MAX_PAGES,
        extensions: [TEST_CLIENT_ID, TEST_CLIENT_B_ID],
        perExtension: FAIR_READER_HANDLES,
      });
      log(`chromium concurrency: ${clients} client(s) in ${plan.length} page(s)…`);
      points.push(await point(rig, plan, log));
    }
    return { total: TOTAL_APDUS, runs: CONC_RUNS, maxPages: MAX_PAGES, points };
  } finally {
    await rig.close();
  }
}
