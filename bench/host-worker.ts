/**
 * The connector worker's and the client library's share of the host link, in Node, without a browser: a client
 * `Connection` (client-lib) on an in-memory port to the `ConnectorService` (router, call log, combinator, host link),
 * whose native port is answered at once for SCardTransmit with the echo host's canned answer (everything else goes to
 * an in-memory host, test/unit/connector/fake-host.ts, so that readers, contexts and handles are real). The ports pass
 * messages as they are (no JSON round trip: that is Chrome's work, in the floor too), so the CPU time per call is our
 * JavaScript on the page and in the worker: what the host-link bench's figure has above the floor's relay.
 *
 *   npm run build:node && node dist/node/host-worker.js [--rounds 7] [--calls 20000]
 *
 * CPU µs per SCardTransmit (process.cpuUsage, this process only), median of the rounds. Several builds of the path
 * can be compared in one process with `timeWorkerPath` (each gets its own service and client, timed in turn).
 */
import { connect } from '../client-lib/src/index.js';
import { ConnectorService, MemorySettings } from '../src/connector/service.js';
import { createPortPair, type PortLike } from '../src/protocol/port.js';
import { FakeNative, ManualTimers, hostDaemon } from '../test/unit/connector/fake-host.js';
import { summarise } from './measure.js';

/** The modules of one build of the path (this tree's by default; another worktree's for an A/B). */
export interface WorkerPathDeps {
  connect: typeof connect;
  ConnectorService: typeof ConnectorService;
  MemorySettings: typeof MemorySettings;
  createPortPair: typeof createPortPair;
  FakeNative: typeof FakeNative;
  ManualTimers: typeof ManualTimers;
  hostDaemon: typeof hostDaemon;
}

export const THIS_TREE: WorkerPathDeps = {
  connect,
  ConnectorService,
  MemorySettings,
  createPortPair,
  FakeNative,
  ManualTimers,
  hostDaemon,
};

/** The echo host's answer to an 8-byte GET CHALLENGE (bench/native-echo-host.mjs), a fresh object each time. */
function cannedResult(id: unknown): unknown {
  return {
    v: 1,
    kind: 'result',
    id,
    ok: true,
    value: { recvPci: { dwProtocol: 2 }, recvBuffer: '0123456789abcdef9000' },
  };
}

/** The native port, SCardTransmit answered on the next microtask (as a port delivers), the rest passed on. */
function echoingTransmit(inner: PortLike): PortLike {
  const listeners: ((m: unknown, p: PortLike) => void)[] = [];
  const port: PortLike = {
    name: inner.name ?? '',
    postMessage(m) {
      const o = m as { kind?: unknown; fn?: unknown; id?: unknown };
      if (o.kind === 'call' && o.fn === 'SCardTransmit') {
        queueMicrotask(() => {
          const answer = cannedResult(o.id);
          for (const l of listeners) l(answer, port);
        });
      } else inner.postMessage(m);
    },
    disconnect: () => inner.disconnect(),
    onMessage: {
      addListener(l) {
        listeners.push(l);
        inner.onMessage.addListener(l);
      },
      removeListener(l) {
        inner.onMessage.removeListener(l);
      },
    },
    onDisconnect: inner.onDisconnect,
  };
  return port;
}

export interface WorkerPath {
  /** CPU µs per SCardTransmit over `calls` calls (and wall µs, for information). */
  time(calls: number): Promise<{ cpu: number; wall: number }>;
  close(): Promise<void>;
}

async function until(f: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!f()) throw new Error(`never: ${what}`);
}

/** A connector service with the host's reader and a client connected to it, holding a card handle on that reader. */
export async function openWorkerPath(d: WorkerPathDeps): Promise<WorkerPath> {
  const host = await d.hostDaemon();
  const native = new d.FakeNative({ daemon: host.daemon });
  const service = new d.ConnectorService({
    usb: null,
    version: '9.9.9',
    settings: new d.MemorySettings(),
    connectNative: (name: string) => echoingTransmit(native.connectNative(name)),
    nativeLastError: native.lastError,
    hostLink: { timers: new d.ManualTimers() },
  });
  await service.start();
  await until(() => service.status().host.state === 'connected', 'host connected');
  await until(() => service.status().readers.length === 1, 'host reader listed');
  const app = await d.connect('connector', {
    pingIntervalMs: 0,
    port: () => {
      const [mine, theirs] = d.createPortPair('bench host worker', { serialize: 'none' });
      service.attachClient(theirs, { id: 'a'.repeat(32) });
      return mine;
    },
  });
  const { hContext } = await app.SCardEstablishContext(2);
  const { readers } = await app.SCardListReaders(hContext, null);
  const { hCard } = await app.SCardConnect(hContext, readers[0]!, 2, 2);
  const apdu = Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x08);
  const once = async (): Promise<void> => {
    const r = await app.SCardTransmit(hCard, { dwProtocol: 2 }, apdu);
    if (r.recvBuffer.length !== 10) throw new Error('bad GET CHALLENGE answer');
  };
  return {
    async time(calls) {
      for (let i = 0; i < 200; i++) await once();
      // (Also runs in a browser page, for comparison: there without process.cpuUsage.)
      const cpuUsage = (): NodeJS.CpuUsage =>
        typeof process === 'undefined' ? { user: 0, system: 0 } : process.cpuUsage();
      const c0 = cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) await once();
      const c1 = cpuUsage();
      const cpu = c1.user - c0.user + c1.system - c0.system;
      return { cpu: cpu / calls, wall: ((performance.now() - t0) * 1000) / calls };
    },
    async close() {
      app.close();
      await service.shutdown();
      await host.close();
    },
  };
}

/** Rounds of `calls` transmits through each build in turn; prints each round and the medians (and ratios to the first). */
export async function timeWorkerPaths(
  builds: [string, WorkerPathDeps][],
  rounds: number,
  calls: number,
): Promise<void> {
  const paths = [];
  for (const [, deps] of builds) paths.push(await openWorkerPath(deps));
  const cpu: number[][] = builds.map(() => []);
  const ratio: number[][] = builds.map(() => []);
  for (let round = -1; round < rounds; round++) {
    const row: number[] = [];
    for (const p of paths) row.push((await p.time(calls)).cpu);
    console.log(`round ${round}: ${row.map((c, i) => `${builds[i]![0]} ${c.toFixed(2)}`).join(', ')} CPU µs/call`);
    if (round < 0) continue;
    row.forEach((c, i) => {
      cpu[i]!.push(c);
      ratio[i]!.push(c / row[0]!);
    });
  }
  for (const p of paths) await p.close();
  builds.forEach(([name], i) => {
    const s = summarise(cpu[i]!);
    const r = summarise(ratio[i]!);
    console.log(
      `${name}: CPU µs per call median ${s.median.toFixed(2)} (min ${s.min.toFixed(2)}, max ${s.max.toFixed(2)}); ` +
        `÷ ${builds[0]![0]}: median ${r.median.toFixed(3)}`,
    );
  });
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

if (typeof process !== 'undefined' && process.argv[1]?.endsWith('host-worker.js')) {
  timeWorkerPaths([['this tree', THIS_TREE]], Number(arg('--rounds', '7')), Number(arg('--calls', '20000'))).then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
