/**
 * The combined daemon the router and the reader watcher talk to: each client a combinator over the worker's daemon
 * (its own daemon client there) and the host's service when there is one; the host coming and going for every client
 * at once; client death releasing everything on both sides; one naming for all clients.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CombinedDaemon } from '../../../src/connector/combined-daemon.js';
import {
  PcscDaemon,
  INFINITE,
  PcscError,
  PNP_NOTIFICATION_READER_NAME,
  SCARD_E_CANCELLED,
  SCARD_E_INVALID_VALUE,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
} from '../../../src/pcsc/index.js';
import { CcidReader } from '../../../src/ccid/reader.js';
import { createSimulatedReader, helloWorldCardT1 } from '../../../src/sim/index.js';
import { SELECT_HELLO } from '../../support/hello.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined);
});

const NAME = 'Gemalto PC Twin Reader 00 00';
const RENAMED = 'Gemalto PC Twin Reader 01 00';

async function daemonWithReader(card = true) {
  const daemon = new PcscDaemon({ powerOffGraceMs: 20 });
  cleanup.push(() => daemon.shutdown());
  const sim = createSimulatedReader('gempc-twin');
  if (card) sim.insertCard(helloWorldCardT1());
  const reader = await CcidReader.open(sim, { timeoutScale: 0.01 });
  cleanup.push(() => reader.close());
  await daemon.addReader(reader);
  return { daemon, sim };
}

describe('CombinedDaemon', () => {
  it("one list per client: the worker's readers, then the host's while it is there", async () => {
    const worker = await daemonWithReader();
    const host = await daemonWithReader(false);
    const pcsc = new CombinedDaemon(worker.daemon);
    const a = pcsc.connect({ name: 'a' });
    cleanup.push(() => a.close());
    const { hContext } = await a.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    expect((await a.SCardListReaders(hContext, null)).readers).toEqual([NAME]);

    const hostClient = host.daemon.connect({ name: 'host link' });
    await pcsc.setHost(hostClient);
    expect(pcsc.hasHost).toBe(true);
    expect((await a.SCardListReaders(hContext, null)).readers).toEqual([NAME, RENAMED]);
    expect(a.readerNames()).toEqual([
      { name: NAME, service: 'worker', raw: NAME },
      { name: RENAMED, service: 'host', raw: NAME },
    ]);
    // A client that comes later has the host from the start, under the same names.
    const b = pcsc.connect({ name: 'b' });
    cleanup.push(() => b.close());
    const hb = (await b.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
    expect((await b.SCardListReaders(hb, null)).readers).toEqual([NAME, RENAMED]);

    // Handles go to their reader's service: the worker's card answers, the host's reader has none.
    const { hCard } = await b.SCardConnect(hb, NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const r = await b.SCardTransmit(hCard, { dwProtocol: SCARD_PROTOCOL_T1 }, SELECT_HELLO);
    expect([...r.recvBuffer]).toEqual([0x90, 0x00]);
    expect(host.daemon.stats().contexts).toBe(2); // a's and b's list calls each opened a context on the host
    host.sim.insertCard(helloWorldCardT1());
    for (let i = 0; i < 100; i++) {
      const s = await b.SCardGetStatusChange(hb, 0, [{ szReader: RENAMED, dwCurrentState: 0 }]);
      if (s.readerStates[0]!.rgbAtr.length > 0) break;
      await new Promise((res) => setTimeout(res, 5));
    }
    const onHost = await b.SCardConnect(hb, RENAMED, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(host.daemon.stats().handles).toBe(1);

    // The host goes: its readers leave every client, its handles answer as for a removed reader.
    await pcsc.setHost(null);
    expect((await a.SCardListReaders(hContext, null)).readers).toEqual([NAME]);
    const e = await b.SCardTransmit(onHost.hCard, { dwProtocol: SCARD_PROTOCOL_T1 }, SELECT_HELLO).catch((x) => x);
    expect(e).toBeInstanceOf(PcscError);
    expect((e as PcscError).code).toBe(SCARD_E_INVALID_VALUE);
    expect(host.daemon.stats().contexts).toBe(0);
  });

  it("a client's death: its worker daemon client closed, its contexts on the host released", async () => {
    const worker = await daemonWithReader();
    const host = await daemonWithReader();
    const pcsc = new CombinedDaemon(worker.daemon);
    await pcsc.setHost(host.daemon.connect({ name: 'host link' }));
    const before = worker.daemon.stats().clients;
    const a = pcsc.connect({ name: 'a' });
    expect(pcsc.clients).toBe(1);
    const { hContext } = await a.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    await a.SCardListReaders(hContext, null);
    await a.SCardConnect(hContext, RENAMED, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(host.daemon.stats().handles).toBe(1);
    expect(worker.daemon.stats().clients).toBe(before + 1);
    await a.close();
    await a.close(); // twice is once
    expect(pcsc.clients).toBe(0);
    expect(host.daemon.stats().contexts).toBe(0);
    expect(host.daemon.stats().handles).toBe(0);
    expect(worker.daemon.stats().clients).toBe(before);
  });

  it('during the initial scan: context calls go through, reader calls wait for it in order, passive ones unhurried', async () => {
    const daemon = new PcscDaemon({ powerOffGraceMs: 20 });
    cleanup.push(() => daemon.shutdown());
    const combined = new CombinedDaemon(daemon);
    let finish!: () => void;
    const needed: string[] = [];
    combined.initialScan(new Promise<void>((r) => (finish = r)), () => needed.push('needed'));
    const watcher = combined.connect({ name: 'watcher' }, { passive: true });
    const client = combined.connect({ name: 'app' });
    cleanup.push(
      () => watcher.close(),
      () => client.close(),
    );
    const { hContext: w } = await watcher.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const watcherList = watcher.SCardListReaders(w, null);
    expect(needed).toEqual([]);
    // EstablishContext is answered while the scan runs.
    const { hContext } = await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const order: string[] = [];
    const list = client.SCardListReaders(hContext, null).then((r) => (order.push('list'), r));
    expect(needed).toEqual(['needed']);
    // A context call behind a waiting one waits too: the release must not overtake the list.
    const release = client.SCardReleaseContext(hContext).then(() => order.push('release'));
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]);
    // The scan brings a reader: both lists, asked before it ended, hold it.
    const sim = createSimulatedReader('gempc-twin');
    const reader = await CcidReader.open(sim, { timeoutScale: 0.01 });
    cleanup.push(() => reader.close());
    await daemon.addReader(reader);
    finish();
    await expect(list).resolves.toEqual({ readers: [NAME] });
    await release;
    expect(order).toEqual(['list', 'release']);
    await expect(watcherList).resolves.toEqual({ readers: [NAME] });
    const asked = needed.length;
    // After the scan, calls go straight through.
    const { hContext: h2 } = await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    await expect(client.SCardListReaders(h2, null)).resolves.toEqual({ readers: [NAME] });
    expect(needed.length).toBe(asked);
  });

  it('a call waiting for a change after the initial scan does not hold back the calls queued behind it', async () => {
    const daemon = new PcscDaemon({ powerOffGraceMs: 20 });
    cleanup.push(() => daemon.shutdown());
    const combined = new CombinedDaemon(daemon);
    let finish!: () => void;
    combined.initialScan(new Promise<void>((r) => (finish = r)), () => {});
    const client = combined.connect({ name: 'app' });
    cleanup.push(() => client.close());
    const { hContext } = await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    // Another context of the same client (pcsc-lite serialises the calls of one context, not of a client).
    const { hContext: other } = await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const sim = createSimulatedReader('gempc-twin');
    const reader = await CcidReader.open(sim, { timeoutScale: 0.01 });
    cleanup.push(() => reader.close());
    await daemon.addReader(reader);
    // Queued during the scan: a wait for a reader to come or go (none will), then a reader list.
    const wait = client
      .SCardGetStatusChange(hContext, INFINITE, [{ szReader: PNP_NOTIFICATION_READER_NAME, dwCurrentState: 0 }])
      .catch((e: unknown) => e);
    const list = client.SCardListReaders(other, null);
    finish();
    await expect(list).resolves.toEqual({ readers: [NAME] });
    await client.SCardCancel(hContext);
    const e = await wait;
    expect(e).toBeInstanceOf(PcscError);
    expect((e as PcscError).code).toBe(SCARD_E_CANCELLED);
  });
});
