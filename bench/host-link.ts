/**
 * The connector's link to smart-card-host over native messaging, priced against what it cannot avoid (issue 11).
 * One Chromium run, one private pcscd (Debian's 1.9.9 with the native anchor's in-memory driver, ifd_memcard.c), and
 * four figures taken round by round, alternating, so every ratio comes from the same moment:
 *
 * - **ours**: SCardTransmit (8-byte GET CHALLENGE) timed inside a client extension's page: client library →
 *   chrome.runtime port → the connector's worker → native messaging → smart-card-host (backend `system`: koffi →
 *   libpcsclite) → pcscd → the in-memory reader, and back;
 * - **native pcscd alone**: the anchor's C client (client_bench.c, libpcsclite) against the same pcscd;
 * - **bare native messaging**: a round trip between an extension's service worker and a host that only echoes
 *   (bench/native-echo-host.mjs), messages shaped and sized as a SCardTransmit call and its result;
 * - **bare browser hops**: the same path as ours with nothing behind it: client page → chrome.runtime port → a relay
 *   extension's worker → native messaging → the echo host, and back.
 *
 * Ratios: ours / native pcscd alone, and ours / (bare browser hops + native pcscd), the second taken run by run. The
 * goal is at most 1.25× the second. The relay extension is written at run time with a fresh key, so no key is kept in
 * the repository; its id is derived from that key as Chrome does.
 *
 * Needs root (unshare for the private pcscd), gcc, libpcsclite-dev, pcscd, Chromium and the builds (`npm run build`,
 * `npm run build:e2e`, `npm run build:host`); what is missing is said in the table, with no number.
 *
 * Profiling (bench/README.md, "The host link: where the time goes per hop"): with `BENCH_HOST_LINK_PROFILE=DIR` the
 * host runs under `node --cpu-prof --cpu-prof-dir=DIR` (a wrapper registered for this profile only, in place of the
 * installed launcher), and the last round's "ours" is profiled in the connector's worker and the client page through
 * CDP's Profiler: DIR gets `connector-worker.cpuprofile`, `client-page.cpuprofile` and the host's `CPU.*.cpuprofile`;
 * the floor's hops of that round likewise (`floor-relay-worker.cpuprofile`, `floor-client-page.cpuprofile`, and each
 * echo host's `echo-PID.cpuprofile`), so every hop has its counterpart.
 *
 * Diagnosis under load (wall figures swing by a factor of two when the machine is shared): `BENCH_HOST_LINK_CPU=1`
 * prints, for every timed run, each process's CPU µs per call (Chromium's browser and renderers, the hosts, pcscd; from
 * /proc), so ours and the floor compare process by process; `BENCH_HOST_LINK_TRANSMIT_ECHO=1` puts
 * bench/host-transmit-echo.mjs in front of the host, answering SCardTransmit itself (ours without the host's PC/SC work).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CDPSession, Page } from 'playwright-core';
import {
  CONNECTOR_ID,
  DIST,
  ensureChromium,
  launchWithExtensions,
  registerNativeHost,
  waitForWorker,
} from '../scripts/chromium.mjs';
import { openTestClient, preApprove, PRE_APPROVED, type Rig } from '../test/e2e/harness.js';
import { HOST_CLI, hostBuildMissing, installHost } from '../test/e2e/native-host.js';
import { NATIVE_HOST_NAME } from '../src/protocol/native.js';
import { runClient, startNative } from './host-socket.js';
import { RUNS, summarise, type Figure } from './measure.js';

const PER_RUN = Number(process.env.BENCH_HOST_LINK_APDUS ?? 500);
/** A directory for CPU profiles of every hop of the last round's "ours" (see the module comment), or undefined. */
const PROFILE_DIR = process.env.BENCH_HOST_LINK_PROFILE ? resolve(process.env.BENCH_HOST_LINK_PROFILE) : undefined;
/** Diagnosis: SCardTransmit answered by bench/host-transmit-echo.mjs in front of the host (no PC/SC work behind it). */
const TRANSMIT_ECHO = process.env.BENCH_HOST_LINK_TRANSMIT_ECHO === '1';
const NATIVE_PER_RUN = 2000;
const ECHO_HOST_NAME = 'org.smart_card_connector.bench_echo';
/** The anchor's reader, as pcscd names it (FRIENDLYNAME "Memory Card Reader", slot 00 00). */
const MEMCARD_READER = 'Memory Card Reader';

/** A protocol v1 SCardTransmit call as the connector sends it to the host (docs/protocol.md): the echo's payload. */
const CALL = { v: 1, kind: 'call', fn: 'SCardTransmit', args: [1234567, { dwProtocol: 2 }, '0084000008', null] };

export const HOST_LINK_IDS = {
  ours: 'host-link-ours',
  native: 'host-link-native',
  nm: 'host-link-nm',
  hops: 'host-link-hops',
  bound: 'host-link-bound',
} as const;

/** Chrome's extension id: the first 32 hex digits of sha256(DER public key), digits 0-f written a-p. */
export function extensionIdFromKey(der: Uint8Array): string {
  const hex = createHash('sha256').update(der).digest('hex').slice(0, 32);
  return [...hex].map((c) => String.fromCharCode(97 + parseInt(c, 16))).join('');
}

/**
 * The relay extension: its worker passes every message of an external port to a new native port to the echo host and
 * back (what the connector's worker does with the real host, minus all the work), and times bare native round trips
 * itself (`timeNative`).
 */
function writeRelayExtension(dir: string): string {
  const { publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  mkdirSync(dir, { recursive: true });
  const manifest = {
    manifest_version: 3,
    name: 'Benchmark relay (bare native messaging)',
    version: '0.1.0',
    key: Buffer.from(publicKey).toString('base64'),
    background: { service_worker: 'worker.js' },
    permissions: ['nativeMessaging'],
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(
    join(dir, 'worker.js'),
    `const HOST = ${JSON.stringify(ECHO_HOST_NAME)};
chrome.runtime.onConnectExternal.addListener((port) => {
  const native = chrome.runtime.connectNative(HOST);
  native.onMessage.addListener((m) => port.postMessage(m));
  port.onMessage.addListener((m) => native.postMessage(m));
  port.onDisconnect.addListener(() => native.disconnect());
  native.onDisconnect.addListener(() => port.disconnect());
});
// One timed run of bare round trips with the echo host, after a warm-up; microseconds per round trip.
globalThis.timeNative = async (perRun, call) => {
  const port = chrome.runtime.connectNative(HOST);
  let answer = null;
  port.onMessage.addListener((m) => { const a = answer; answer = null; a(m); });
  const once = (id) => new Promise((r) => { answer = r; port.postMessage({ ...call, id }); });
  for (let i = 0; i < 50; i++) await once(i);
  const t0 = performance.now();
  for (let i = 0; i < perRun; i++) await once(i);
  const us = ((performance.now() - t0) * 1000) / perRun;
  port.disconnect();
  return us;
};
`,
  );
  return extensionIdFromKey(new Uint8Array(publicKey));
}

/**
 * BENCH_HOST_LINK_CPU=1: CPU time (utime + stime from /proc, robust under load) of every process under this one
 * (Chromium's browser, renderers, utilities; the native hosts and pcscd), per timed run, to tell which process the
 * difference between ours and the floor is spent in.
 */
const CPU_REPORT = process.env.BENCH_HOST_LINK_CPU === '1';

/**
 * pid → [label, CPU µs] for every descendant of this process; also, as `label (exited children)`, the CPU of its
 * children that ended and were waited for (an echo host lives for one timed run only).
 */
function descendantsCpu(): Map<string, [string, number]> {
  const info = new Map<number, { ppid: number; cpu: number; reaped: number; label: string }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Chromium rewrites its processes' titles: the arguments may come as one string.
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split(/[\0 ]/);
      const type = cmd.find((a) => a.startsWith('--type='))?.slice(7);
      const client = cmd.find((a) => a.startsWith('--renderer-client-id='))?.slice(21);
      const script = cmd
        .find((a) => /\.(m?js|sh)$/.test(a))
        ?.split('/')
        .pop();
      const label =
        type === 'renderer'
          ? `renderer${cmd.includes('--extension-process') ? '(ext)' : ''}#${client ?? '?'}`
          : (type ?? (script !== undefined ? `node ${script}` : cmd[0]!.split('/').pop()!));
      const ticks = (i: number): number => Number(f[i]) * 10_000;
      info.set(Number(name), { ppid: Number(f[1]), cpu: ticks(11) + ticks(12), reaped: ticks(13) + ticks(14), label });
    } catch {
      /* gone meanwhile */
    }
  }
  const out = new Map<string, [string, number]>();
  const under = (pid: number): boolean => {
    for (let p = info.get(pid)?.ppid; p !== undefined && p > 1; p = info.get(p)?.ppid)
      if (p === process.pid) return true;
    return false;
  };
  for (const [pid, i] of info) {
    if (!under(pid)) continue;
    out.set(String(pid), [`${i.label}:${pid}`, i.cpu]);
    out.set(`${pid}+`, [`${i.label}:${pid} (exited children)`, i.reaped]);
  }
  return out;
}

/** Runs `timed` and prints each process's CPU µs per call during it (those above 1 µs). */
async function withCpu<T>(what: string, calls: number, timed: () => Promise<T>): Promise<T> {
  if (!CPU_REPORT) return timed();
  const before = descendantsCpu();
  const r = await timed();
  const after = descendantsCpu();
  const rows: string[] = [];
  let total = 0;
  for (const [key, [label, cpu]] of after) {
    const d = (cpu - (before.get(key)?.[1] ?? 0)) / calls;
    total += d;
    if (d >= 1) rows.push(`${label} ${d.toFixed(0)}`);
  }
  console.error(`[cpu] ${what}: total ${total.toFixed(0)} µs/call; ${rows.join(', ')}`);
  return r;
}

/** In the client page: one timed run through the relay (page → relay worker → echo host), µs per round trip. */
function timeHops(page: Page, relayId: string): Promise<number> {
  return page.evaluate(
    async ([relay, perRun, call]) => {
      const port = chrome.runtime.connect(relay);
      let answer: ((m: unknown) => void) | null = null;
      port.onMessage.addListener((m: unknown) => {
        const a = answer;
        answer = null;
        a?.(m);
      });
      const once = (id: number) =>
        new Promise((r) => {
          answer = r;
          port.postMessage({ ...call, id });
        });
      for (let i = 0; i < 50; i++) await once(i);
      const t0 = performance.now();
      for (let i = 0; i < perRun; i++) await once(i);
      const us = ((performance.now() - t0) * 1000) / perRun;
      port.disconnect();
      return us;
    },
    [relayId, PER_RUN, CALL] as const,
  );
}

/** In the client page: connects to the connector and opens the in-memory reader (waits for the host's reader). */
async function openMemcard(page: Page): Promise<void> {
  const error = (await page.evaluate(
    `(async () => {
      const g = globalThis;
      g.c = await g.lib.connect(${JSON.stringify(CONNECTOR_ID)}, { name: 'bench host link', connectTimeoutMs: 20000 });
      const { hContext } = await g.c.SCardEstablishContext(g.lib.SCARD_SCOPE_SYSTEM);
      let reader;
      for (let i = 0; i < 300 && !reader; i++) {
        const list = await g.c.SCardListReaders(hContext, null).then((r) => r.readers, () => []);
        reader = list.find((r) => r.startsWith(${JSON.stringify(MEMCARD_READER)}));
        if (!reader) await new Promise((r) => setTimeout(r, 100));
      }
      if (!reader) return 'the host\\'s reader "${MEMCARD_READER} 00 00" never appeared in the connector';
      const { hCard, dwActiveProtocol } = await g.c.SCardConnect(hContext, reader, g.lib.SCARD_SHARE_SHARED, g.lib.SCARD_PROTOCOL_T1);
      g.memcard = { hContext, hCard, pci: { dwProtocol: dwActiveProtocol } };
      const r = (await g.c.SCardTransmit(hCard, g.memcard.pci, Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x08))).recvBuffer;
      if (r.length !== 10 || r[8] !== 0x90 || r[9] !== 0x00) return 'GET CHALLENGE through the host: unexpected answer';
      return null;
    })()`,
  )) as string | null;
  if (error !== null) throw new Error(error);
}

/** In the client page: one timed run of SCardTransmit through the connector and the host, µs per APDU. */
function timeOurs(page: Page): Promise<number> {
  return page.evaluate(
    `(async () => {
      const g = globalThis;
      const { hCard, pci } = g.memcard;
      const apdu = Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x08);
      const one = async () => {
        const r = (await g.c.SCardTransmit(hCard, pci, apdu)).recvBuffer;
        if (r.length !== 10 || r[8] !== 0x90 || r[9] !== 0x00) throw new Error('bad GET CHALLENGE answer');
      };
      for (let i = 0; i < 50; i++) await one();
      const t0 = performance.now();
      for (let i = 0; i < ${PER_RUN}; i++) await one();
      return ((performance.now() - t0) * 1000) / ${PER_RUN};
    })()`,
  ) as Promise<number>;
}

/** CDP's Profiler on one target: started now, `stop()` writes the profile to `file`. */
interface Profiling {
  stop(file: string): Promise<void>;
}

/** Profiles the page behind `session` (sampling every 100 µs). */
async function profilePage(session: CDPSession): Promise<Profiling> {
  await session.send('Profiler.enable');
  await session.send('Profiler.setSamplingInterval', { interval: 100 });
  await session.send('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await session.send('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
    },
  };
}

/**
 * Profiles an extension's service worker: Playwright opens CDP sessions on pages only, so the page's session attaches to
 * the worker's target (unflattened) and speaks to it through Target.sendMessageToTarget.
 */
async function profileWorker(session: CDPSession, extensionId: string): Promise<Profiling> {
  const { targetInfos } = await session.send('Target.getTargets');
  const target = targetInfos.find(
    (t) => t.type === 'service_worker' && t.url.startsWith(`chrome-extension://${extensionId}/`),
  );
  if (!target) throw new Error(`no service worker target for ${extensionId}`);
  const { sessionId } = await session.send('Target.attachToTarget', { targetId: target.targetId, flatten: false });
  let next = 1;
  const waiting = new Map<number, (m: { result?: unknown; error?: unknown }) => void>();
  session.on('Target.receivedMessageFromTarget', (e) => {
    if (e.sessionId !== sessionId) return;
    const m = JSON.parse(e.message) as { id?: number; result?: unknown; error?: unknown };
    if (m.id !== undefined) waiting.get(m.id)?.(m);
  });
  const send = async (method: string, params: object = {}): Promise<unknown> => {
    const id = next++;
    const answer = new Promise<{ result?: unknown; error?: unknown }>((r) => waiting.set(id, r));
    await session.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) });
    const m = await answer;
    if (m.error !== undefined) throw new Error(`${method}: ${JSON.stringify(m.error)}`);
    return m.result;
  };
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: 100 });
  await send('Profiler.start');
  return {
    async stop(file) {
      const { profile } = (await send('Profiler.stop')) as { profile: unknown };
      writeFileSync(file, JSON.stringify(profile));
      await session.send('Target.detachFromTarget', { sessionId });
    },
  };
}

function figureSkeletons(): Record<keyof typeof HOST_LINK_IDS, Figure> {
  return {
    ours: {
      id: HOST_LINK_IDS.ours,
      name:
        'host link SCardTransmit: 8-byte GET CHALLENGE (client page → port → connector worker → native messaging → ' +
        'smart-card-host, system backend → pcscd → in-memory reader)',
      unit: 'us',
      median: null,
      nativeId: HOST_LINK_IDS.native,
      floorId: HOST_LINK_IDS.bound,
      // Issue 11's goal: at most 1.25× the bare browser hops plus native pcscd.
      goal: { max: 1.25, of: 'floor' },
    },
    native: {
      id: HOST_LINK_IDS.native,
      name: 'host link: native pcscd alone, C client SCardTransmit: 8-byte GET CHALLENGE (same pcscd, same moment)',
      unit: 'us',
      median: null,
    },
    nm: {
      id: HOST_LINK_IDS.nm,
      name: 'host link: bare native-messaging round trip (extension worker ↔ echo host, SCardTransmit-sized JSON)',
      unit: 'us',
      median: null,
    },
    hops: {
      id: HOST_LINK_IDS.hops,
      name: 'host link: bare browser hops (client page → port → relay worker → native messaging → echo host, and back)',
      unit: 'us',
      median: null,
    },
    bound: {
      id: HOST_LINK_IDS.bound,
      name: 'host link: bare browser hops + native pcscd alone (the floor; summed run by run)',
      unit: 'us',
      median: null,
    },
  };
}

function missing(anchorDir: string): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (unshare)';
  if (!existsSync('/usr/sbin/pcscd')) return 'pcscd is missing (apt-get install pcscd)';
  if (!existsSync('/usr/include/PCSC/winscard.h')) return 'libpcsclite-dev is missing';
  if (spawnSync('gcc', ['--version']).status !== 0) return 'gcc is missing';
  if (!existsSync(join(anchorDir, 'ifd_memcard.c'))) return `${anchorDir}/ifd_memcard.c not found`;
  for (const d of [DIST.connector, DIST.testClient]) {
    if (!existsSync(join(d, 'manifest.json'))) return `${d} is missing: run npm run build && npm run build:e2e`;
  }
  try {
    ensureChromium();
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

/** Every host-link figure, each with a note when it could not be measured. */
export async function hostLinkFigures(root: string): Promise<Figure[]> {
  const anchorDir = resolve(root, '..', 'shared', 'anchors', 'native-pcscd');
  const figures = figureSkeletons();
  const all = (): Figure[] => Object.values(figures);
  const why = missing(anchorDir);
  if (why !== null) {
    for (const f of all()) f.note = why;
    return all();
  }
  // Without the host's build the floor is still measured: ours says why it is not.
  const noHost = hostBuildMissing();
  if (noHost !== null) figures.ours.note = noHost;
  const samples: Record<keyof typeof HOST_LINK_IDS, number[]> = { ours: [], native: [], nm: [], hops: [], bound: [] };
  const dir = mkdtempSync(join(tmpdir(), 'hostlink-'));
  let pcscd: { socket: string; child: ChildProcess } | undefined;
  let rig: Rig | undefined;
  try {
    const client = join(dir, 'client_bench');
    const driver = join(dir, 'libifdmemcard.so');
    const gcc = (args: string[]) => {
      const r = spawnSync('gcc', args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`gcc ${args.at(-1)}: ${r.stderr.slice(0, 200)}`);
    };
    gcc(['-O2', '-Wall', '-I/usr/include/PCSC', '-o', client, join(anchorDir, 'client_bench.c'), '-lpcsclite']);
    gcc(['-shared', '-fPIC', '-O2', '-Wall', '-I/usr/include/PCSC', '-o', driver, join(anchorDir, 'ifd_memcard.c')]);
    pcscd = await startNative(dir, driver);

    const profile = join(dir, 'profile');
    mkdirSync(profile);
    const relayDir = join(dir, 'relay');
    const relayId = writeRelayExtension(relayDir);
    // Chromium runs the host's "path" with no arguments but the origin: a wrapper names Node and the script.
    const echo = join(dir, 'echo-host.sh');
    // Profiling: every echo host under --cpu-prof as well (its files are named echo-*.cpuprofile).
    const echoFlags =
      PROFILE_DIR === undefined
        ? ''
        : `--cpu-prof --cpu-prof-dir='${PROFILE_DIR}' --cpu-prof-name=echo-\${$}.cpuprofile `;
    writeFileSync(
      echo,
      `#!/bin/sh\nexec '${process.execPath}' ${echoFlags}'${join(root, 'bench', 'native-echo-host.mjs')}' "$@"\n`,
    );
    chmodSync(echo, 0o755);
    registerNativeHost(profile, {
      name: ECHO_HOST_NAME,
      path: echo,
      // The connector too, under BENCH_HOST_LINK_CPU: the same bare round trips timed from its worker (below).
      allowedOrigins: [
        `chrome-extension://${relayId}/`,
        ...(CPU_REPORT ? [`chrome-extension://${CONNECTOR_ID}/`] : []),
      ],
    });
    if (noHost === null) installHost(profile);
    if (noHost === null && TRANSMIT_ECHO) {
      // Diagnosis: SCardTransmit answered in front of the host (bench/host-transmit-echo.mjs), the rest by the host.
      const wrapper = join(dir, 'host-transmit-echo.sh');
      writeFileSync(
        wrapper,
        `#!/bin/sh\nexec '${process.execPath}' '${join(root, 'bench', 'host-transmit-echo.mjs')}' '${HOST_CLI}' ` +
          '--native-messaging "$@"\n',
      );
      chmodSync(wrapper, 0o755);
      registerNativeHost(profile, {
        name: NATIVE_HOST_NAME,
        path: wrapper,
        allowedOrigins: [`chrome-extension://${CONNECTOR_ID}/`],
      });
    } else if (noHost === null && PROFILE_DIR !== undefined) {
      // The host under --cpu-prof (Node refuses it in NODE_OPTIONS): a wrapper in place of the installed launcher.
      mkdirSync(PROFILE_DIR, { recursive: true });
      const wrapper = join(dir, 'host-profiled.sh');
      writeFileSync(
        wrapper,
        `#!/bin/sh\nexec '${process.execPath}' --cpu-prof --cpu-prof-dir='${PROFILE_DIR}' '${HOST_CLI}' ` +
          '--native-messaging "$@"\n',
      );
      chmodSync(wrapper, 0o755);
      registerNativeHost(profile, {
        name: NATIVE_HOST_NAME,
        path: wrapper,
        allowedOrigins: [`chrome-extension://${CONNECTOR_ID}/`],
      });
    }

    const browser = await launchWithExtensions({
      extensions: [DIST.connector, DIST.testClient, relayDir],
      userDataDir: profile,
      // The host inherits Chromium's environment: its libpcsclite finds the private pcscd through this variable.
      env: { ...(process.env as Record<string, string>), PCSCLITE_CSOCK_NAME: pcscd.socket },
    });
    const worker = await waitForWorker(browser.context, CONNECTOR_ID).catch(async (e: unknown) => {
      await browser.close();
      throw e;
    });
    rig = { browser, context: browser.context, worker, close: () => browser.close() };
    await preApprove(worker, PRE_APPROVED);
    const page = await openTestClient(rig);
    if (noHost === null) await openMemcard(page);

    for (let round = -1; round < RUNS; round++) {
      const native = await runClient(client, [String(NATIVE_PER_RUN), '0'], pcscd.socket);
      // Profiling: the floor's hops too (the client page and the relay's worker), so each hop compares with its own.
      const floorProfiling =
        PROFILE_DIR !== undefined && round === RUNS - 1
          ? await rig.context.newCDPSession(page).then(async (cdp) => ({
              page: await profilePage(cdp),
              worker: await profileWorker(cdp, relayId),
            }))
          : undefined;
      const hops = await withCpu('floor hops', PER_RUN + 50, () => timeHops(page, relayId));
      if (floorProfiling !== undefined && PROFILE_DIR !== undefined) {
        await floorProfiling.worker.stop(join(PROFILE_DIR, 'floor-relay-worker.cpuprofile'));
        await floorProfiling.page.stop(join(PROFILE_DIR, 'floor-client-page.cpuprofile'));
      }
      const relay = await waitForWorker(rig.context, relayId);
      const nm = (await withCpu('bare native messaging, relay worker', PER_RUN + 50, () =>
        relay.evaluate(
          ([perRun, call]) =>
            (globalThis as unknown as { timeNative: (n: number, c: unknown) => Promise<number> }).timeNative(
              perRun,
              call,
            ),
          [PER_RUN, CALL] as const,
        ),
      )) as number;
      if (CPU_REPORT) {
        // The same bare round trips from the connector's worker (none of our code on the path): whether the extra
        // CPU per message of ours belongs to the connector's worker itself rather than to what it does per call.
        const connector = await waitForWorker(rig.context, CONNECTOR_ID);
        const us = await withCpu('bare native messaging, connector worker', PER_RUN + 50, () =>
          connector.evaluate(
            async ([host, perRun, call]) => {
              const port = chrome.runtime.connectNative(host);
              let answer: ((m: unknown) => void) | null = null;
              port.onMessage.addListener((m: unknown) => {
                const a = answer;
                answer = null;
                a?.(m);
              });
              const once = (id: number) =>
                new Promise((r) => {
                  answer = r;
                  port.postMessage({ ...call, id });
                });
              for (let i = 0; i < 50; i++) await once(i);
              const t0 = performance.now();
              for (let i = 0; i < perRun; i++) await once(i);
              port.disconnect();
              return ((performance.now() - t0) * 1000) / perRun;
            },
            [ECHO_HOST_NAME, PER_RUN, CALL] as const,
          ),
        );
        console.error(
          `[cpu] bare native messaging µs per round trip: relay worker ${nm.toFixed(0)}, connector worker ${us.toFixed(0)}`,
        );
      }
      const profiling =
        noHost === null && PROFILE_DIR !== undefined && round === RUNS - 1
          ? await rig.context.newCDPSession(page).then(async (cdp) => ({
              page: await profilePage(cdp),
              worker: await profileWorker(cdp, CONNECTOR_ID),
            }))
          : undefined;
      const ours = noHost === null ? await withCpu('ours', PER_RUN + 50, () => timeOurs(page)) : null;
      if (profiling !== undefined && PROFILE_DIR !== undefined) {
        await profiling.worker.stop(join(PROFILE_DIR, 'connector-worker.cpuprofile'));
        await profiling.page.stop(join(PROFILE_DIR, 'client-page.cpuprofile'));
      }
      if (round < 0) continue; // warm-up round
      samples.native.push(native);
      samples.hops.push(hops);
      samples.nm.push(nm);
      if (ours !== null) samples.ours.push(ours);
      samples.bound.push(hops + native);
    }
    for (const key of Object.keys(figures) as (keyof typeof HOST_LINK_IDS)[]) {
      if (samples[key].length === 0) continue;
      const perRun = key === 'native' ? NATIVE_PER_RUN : PER_RUN;
      Object.assign(figures[key], summarise(samples[key]), { runs: samples[key].length, perRun });
    }
  } catch (e) {
    for (const f of all()) if (f.median === null) f.note = `failed: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    await rig?.close();
    const child = pcscd?.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const closed = new Promise((r) => child.once('close', r));
      child.kill('SIGTERM');
      await closed;
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return all();
}
