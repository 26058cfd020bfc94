/**
 * Figures measured in headless Chromium (Debian's, through playwright-core, with the end-to-end harness): the released
 * connector extension with its demo reader, and the end-to-end test client extension (`npm run build:e2e`), which
 * exposes the client library to its page as the hello-world app uses it.
 *
 * - per-APDU time through Chrome messaging: a loop of N SCardTransmit calls (8-byte GET CHALLENGE) timed inside the
 *   client page with performance.now(): client library → chrome.runtime port → the connector's service worker →
 *   router → daemon → driver → the demo reader (a zero-latency simulated GemPC Twin) and back;
 * - cold start: from launching Chromium with the extensions to the first answered SCardEstablishContext, and from
 *   stopping the connector's worker (CDP ServiceWorker.stopAllWorkers, what Chrome's idle timeout does) to the first
 *   answered SCardEstablishContext of a client that reconnects.
 *
 * Beside them, their floors (issue 14), from the same client page in the same browser: bench/floor-extension, an
 * extension whose worker only echoes chrome.runtime external port messages — the bare port echo (what any connector
 * pays per call: two structured-clone hops between the page's and the worker's processes) timed in alternation with
 * the SCardTransmit loop, run for run, with a message shaped like the client library's SCardTransmit call; and the
 * same empty worker's cold start, stopped by the same CDP call → its first echo, alternating with the connector's.
 */
import { performance } from 'node:perf_hooks';
import type { Page } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONNECTOR_ID, DIST, ROOT, ensureChromium, launchWithExtensions, waitForWorker } from '../scripts/chromium.mjs';
import {
  openConnectorPage,
  openTestClient,
  preApprove,
  PRE_APPROVED,
  turnDemoOn,
  type Rig,
} from '../test/e2e/harness.js';
import { extensionIdFromKey } from '../scripts/extension-id.mjs';
import { RUNS, summarise, type Figure } from './measure.js';

const APDUS_PER_RUN = Number(process.env.BENCH_CHROMIUM_APDUS ?? 500);
const LAUNCHES = Number(process.env.BENCH_LAUNCHES ?? 3);

/** bench/floor-extension: no build step; its id is fixed by the "key" of its manifest.json (as Chrome derives it). */
export const FLOOR_DIR = join(ROOT, 'bench', 'floor-extension');
export const FLOOR_ID = extensionIdFromKey(
  (JSON.parse(readFileSync(join(FLOOR_DIR, 'manifest.json'), 'utf8')) as { key: string }).key,
);

/**
 * In the client page: connect to the floor extension and return once a first message comes back (its worker is up),
 * with the ms it took. Leaves the port in globalThis.floor: { port, echo(message) }.
 */
export function firstEcho(page: Page): Promise<number> {
  return page.evaluate(
    `(async () => {
      const g = globalThis;
      const t0 = performance.now();
      for (let i = 0; i < 2000; i++) {
        try {
          const port = chrome.runtime.connect(${JSON.stringify(FLOOR_ID)}, { name: 'floor' });
          let pending = null;
          let gone = false;
          port.onMessage.addListener((m) => { const p = pending; pending = null; p?.resolve(m); });
          port.onDisconnect.addListener(() => { gone = true; const p = pending; pending = null; p?.reject(new Error('gone')); });
          const echo = (m) => new Promise((resolve, reject) => {
            if (gone) return reject(new Error('gone'));
            pending = { resolve, reject };
            port.postMessage(m);
          });
          const answer = await echo({ hello: i });
          if (answer.hello !== i) throw new Error('the floor worker answered something else');
          g.floor = { port, echo };
          return performance.now() - t0;
        } catch (e) {
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      throw new Error('the floor extension never answered');
    })()`,
  ) as Promise<number>;
}

async function launch(): Promise<Rig> {
  const browser = await launchWithExtensions({
    extensions: [DIST.connector, DIST.helloWorld, DIST.testClient, FLOOR_DIR],
  });
  try {
    const worker = await waitForWorker(browser.context, CONNECTOR_ID);
    // The clients are taken as approved by the user already: their grant is stored in the fresh profile (inside the
    // cold-start time), so no consent prompt waits for an answer nobody gives.
    await preApprove(worker, PRE_APPROVED);
    return { browser, context: browser.context, worker, close: () => browser.close() };
  } catch (e) {
    await browser.close();
    throw e;
  }
}

/** In the client page: connect (or reconnect) and retry SCardEstablishContext until it is answered; ms it took. */
export function firstContext(page: Page, fresh: boolean): Promise<number> {
  return page.evaluate(
    `(async () => {
      const g = globalThis;
      const t0 = performance.now();
      for (let i = 0; i < 2000; i++) {
        try {
          if (${fresh} || !g.c) g.c = await g.lib.connect(${JSON.stringify(CONNECTOR_ID)}, { name: 'bench', connectTimeoutMs: 20000 });
          else await g.c.reconnect();
          const { hContext } = await g.c.SCardEstablishContext(g.lib.SCARD_SCOPE_SYSTEM);
          await g.c.SCardReleaseContext(hContext);
          return performance.now() - t0;
        } catch (e) {
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      throw new Error('no SCardEstablishContext answered');
    })()`,
  ) as Promise<number>;
}

/**
 * Page-script statements for a client page holding the client library as `g.lib` and a connection as `c`: a context,
 * a shared handle on the first reader (`hCard`, `hContext`), `one()` making one 8-byte GET CHALLENGE and checking its
 * answer, and `call`, the client library's SCardTransmit call message as it goes on the port
 * (src/protocol/codec.ts encodeCall), which the floor echoes.
 */
export const GET_CHALLENGE_SETUP = `
      const { hContext } = await c.SCardEstablishContext(g.lib.SCARD_SCOPE_SYSTEM);
      const { readers } = await c.SCardListReaders(hContext, null);
      const { hCard, dwActiveProtocol } = await c.SCardConnect(hContext, readers[0], g.lib.SCARD_SHARE_SHARED, g.lib.SCARD_PROTOCOL_T1);
      const pci = { dwProtocol: dwActiveProtocol };
      const apdu = Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x08);
      const one = async () => {
        const r = (await c.SCardTransmit(hCard, pci, apdu)).recvBuffer;
        if (r.length !== 10 || r[8] !== 0x90 || r[9] !== 0x00) throw new Error('bad GET CHALLENGE answer');
      };
      const call = { v: 1, kind: 'call', id: 0, fn: 'SCardTransmit', args: [hCard, pci, '0084000008'] };`;

async function messagingFigures(rig: Rig): Promise<Figure[]> {
  const connector = await openConnectorPage(rig);
  await turnDemoOn(connector);
  // The connector's window only turns the demo reader on (the worker keeps it on): it is closed before anything is
  // timed. Left open, it watches the log and redraws its last 500 entries at each batch of new ones (every 150 ms while
  // calls are logged), in the connector's own renderer process: about 0.9 ms of CPU per call on a 2-core machine,
  // landing in both loops (its last redraw in the floor's), which is neither the messaging path nor its floor.
  await connector.close();
  const client = await openTestClient(rig);
  await firstContext(client, true);
  await firstEcho(client);
  // Run for run, the SCardTransmit loop then the bare echo loop, so that their ratio comes from the same moment.
  const { ours, floor } = (await client.evaluate(
    `(async () => {
      const g = globalThis;
      const c = g.c;${GET_CHALLENGE_SETUP}
      const echoOne = async () => {
        call.id += 1;
        const m = await g.floor.echo(call);
        if (m.id !== call.id) throw new Error('bad echo');
      };
      for (let i = 0; i < 100; i++) { await one(); await echoOne(); }
      const ours = [];
      const floor = [];
      for (let run = 0; run < ${RUNS}; run++) {
        let t0 = performance.now();
        for (let i = 0; i < ${APDUS_PER_RUN}; i++) await one();
        ours.push(((performance.now() - t0) * 1000) / ${APDUS_PER_RUN});
        t0 = performance.now();
        for (let i = 0; i < ${APDUS_PER_RUN}; i++) await echoOne();
        floor.push(((performance.now() - t0) * 1000) / ${APDUS_PER_RUN});
      }
      await c.SCardDisconnect(hCard, g.lib.SCARD_LEAVE_CARD);
      await c.SCardReleaseContext(hContext);
      return { ours, floor };
    })()`,
  )) as { ours: number[]; floor: number[] };
  return [
    {
      id: 'chromium-getchallenge',
      name: 'Chromium messaging SCardTransmit: 8-byte GET CHALLENGE (client page → port → connector worker → daemon → demo reader)',
      unit: 'us',
      ...summarise(ours),
      runs: ours.length,
      perRun: APDUS_PER_RUN,
      nativeId: 'native-getchallenge',
      floorId: 'chromium-port-echo',
      goal: { max: 1.3, of: 'floor' },
    },
    {
      id: 'chromium-port-echo',
      name: "floor: bare chrome.runtime port echo, same client page → bench/floor-extension's worker (the SCardTransmit call message echoed)",
      unit: 'us',
      ...summarise(floor),
      runs: floor.length,
      perRun: APDUS_PER_RUN,
    },
  ];
}

async function restartFigures(rig: Rig): Promise<Figure[]> {
  const client = await openTestClient(rig);
  await firstContext(client, true);
  await firstEcho(client);
  const cdp = await rig.context.newCDPSession(client);
  await cdp.send('ServiceWorker.enable');
  const samples: number[] = [];
  const floor: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const before = await client.evaluate('globalThis.c.instance');
    let t0 = performance.now();
    await cdp.send('ServiceWorker.stopAllWorkers');
    await firstContext(client, false);
    samples.push(performance.now() - t0);
    // The answer must come from a new worker, not from the one that was to stop.
    if ((await client.evaluate('globalThis.c.instance')) === before)
      throw new Error('the connector worker did not restart');
    // The same stop for the empty worker: its old port dies with it; the first echo on a new port is the answer.
    t0 = performance.now();
    await cdp.send('ServiceWorker.stopAllWorkers');
    await firstEcho(client);
    floor.push(performance.now() - t0);
  }
  await cdp.detach();
  return [
    {
      id: 'cold-start-worker',
      name: 'cold start: connector worker stopped (CDP ServiceWorker.stopAllWorkers) → first answered SCardEstablishContext',
      unit: 'ms',
      ...summarise(samples),
      runs: samples.length,
      perRun: 1,
      floorId: 'cold-start-floor-worker',
      goal: { max: 1.5, of: 'floor' },
    },
    {
      id: 'cold-start-floor-worker',
      name: 'floor: empty extension worker stopped (the same CDP call) → first port message echoed (bench/floor-extension)',
      unit: 'ms',
      ...summarise(floor),
      runs: floor.length,
      perRun: 1,
    },
  ];
}

/** Every Chromium figure, or one explaining figure when Chromium or the builds are missing. */
export async function chromiumFigures(): Promise<Figure[]> {
  try {
    ensureChromium();
  } catch (e) {
    return [
      {
        id: 'chromium',
        name: 'Chromium figures',
        unit: 'us',
        median: null,
        note: `not measured: ${(e as Error).message}`,
      },
    ];
  }
  const figures: Figure[] = [];
  const launches: number[] = [];
  let rig: Rig | undefined;
  try {
    for (let i = 0; i < LAUNCHES; i++) {
      const t0 = performance.now();
      const r = await launch();
      const page = await openTestClient(r);
      await firstContext(page, true);
      launches.push(performance.now() - t0);
      await page.close();
      if (i < LAUNCHES - 1) await r.close();
      else rig = r;
    }
    figures.push({
      id: 'cold-start-launch',
      name: 'cold start: launching Chromium with the extensions → first answered SCardEstablishContext (test client page)',
      unit: 'ms',
      ...summarise(launches),
      runs: launches.length,
      perRun: 1,
    });
    figures.push(...(await messagingFigures(rig!)));
    figures.push(...(await restartFigures(rig!)));
  } finally {
    await rig?.close();
  }
  return figures;
}
