/**
 * Who holds each reader (issue 13, item 6): PcscDaemon.holders() counts card handles per client group, names the
 * transaction holder and the exclusive holder, and forgets them when they disconnect, end the transaction or go away
 * (client death, as when the connector revokes an app); onHoldersChange tells each change once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CcidReader } from '../../../src/ccid/reader.js';
import { createSimulatedReader, helloWorldCardT1 } from '../../../src/sim/index.js';
import {
  PcscDaemon,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
} from '../../../src/pcsc/index.js';

let daemons: PcscDaemon[] = [];
afterEach(async () => {
  for (const d of daemons) await d.shutdown();
  daemons = [];
});

async function rig() {
  const daemon = new PcscDaemon({ contextLimitScope: 'client', powerOffGraceMs: 20 });
  daemons.push(daemon);
  const sim = createSimulatedReader('gempc-twin');
  sim.insertCard(helloWorldCardT1());
  const [name] = await daemon.addReader(await CcidReader.open(sim, { timeoutScale: 0.01 }));
  return { daemon, name: name! };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('who holds each reader', () => {
  it('counts handles per client group over all its connections, and names the transaction holder', async () => {
    const { daemon, name } = await rig();
    expect(daemon.holders()).toEqual([{ reader: name, holders: [] }]);
    const a1 = daemon.connect({ name: 'A', group: 'app-a' });
    const a2 = daemon.connect({ name: 'A again', group: 'app-a' });
    const b = daemon.connect({ name: 'B', group: 'app-b' });
    const ca = (await a1.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
    const ca2 = (await a2.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
    const cb = (await b.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
    const h1 = (await a1.SCardConnect(ca, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)).hCard;
    await a1.SCardConnect(ca, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    await a2.SCardConnect(ca2, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    const hb = (await b.SCardConnect(cb, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)).hCard;
    await a1.SCardBeginTransaction(h1);
    expect(daemon.holders()).toEqual([
      {
        reader: name,
        holders: [
          { group: 'app-a', handles: 3, transaction: true, exclusive: false },
          { group: 'app-b', handles: 1, transaction: false, exclusive: false },
        ],
      },
    ]);
    await a1.SCardEndTransaction(h1, SCARD_LEAVE_CARD);
    await b.SCardBeginTransaction(hb);
    const [r] = daemon.holders();
    expect(r!.holders.find((h) => h.group === 'app-a')?.transaction).toBe(false);
    expect(r!.holders.find((h) => h.group === 'app-b')?.transaction).toBe(true);
    await b.SCardDisconnect(hb, SCARD_LEAVE_CARD);
    expect(daemon.holders()[0]!.holders.map((h) => h.group)).toEqual(['app-a']);
  });

  it('names the exclusive holder, and forgets everything of a client that goes away (revoked)', async () => {
    const { daemon, name } = await rig();
    const a = daemon.connect({ name: 'A', group: 'app-a' });
    const ca = (await a.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
    const h = (await a.SCardConnect(ca, name, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1)).hCard;
    // Exclusive alone is no transaction (though the handle holds the reader's lock implicitly, as in pcscd).
    expect(daemon.holders()[0]!.holders).toEqual([{ group: 'app-a', handles: 1, transaction: false, exclusive: true }]);
    await a.SCardBeginTransaction(h);
    expect(daemon.holders()[0]!.holders).toEqual([{ group: 'app-a', handles: 1, transaction: true, exclusive: true }]);
    await a.close();
    expect(daemon.holders()[0]!.holders).toEqual([]);
    // An app that waits for another's transaction goes on once the holder dies (the connector closes a revoked app's
    // daemon clients), and then holds the transaction itself.
    const c = daemon.connect({ name: 'C', group: 'app-c' });
    const cc = (await c.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
    const hc = (await c.SCardConnect(cc, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)).hCard;
    await c.SCardBeginTransaction(hc);
    const b = daemon.connect({ name: 'B', group: 'app-b' });
    const cb = (await b.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
    // SCardConnect itself waits while another handle holds the reader's transaction (winscard.c's lock check).
    let done = false;
    const waiting = b
      .SCardConnect(cb, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)
      .then(({ hCard }) => b.SCardBeginTransaction(hCard))
      .then(() => (done = true));
    await settle();
    expect(done).toBe(false);
    await c.close();
    await waiting;
    expect(daemon.holders()[0]!.holders).toEqual([{ group: 'app-b', handles: 1, transaction: true, exclusive: false }]);
  });

  it('tells each change once per burst, and nothing for calls that change no hold', async () => {
    const { daemon, name } = await rig();
    let told = 0;
    const off = daemon.onHoldersChange(() => told++);
    const a = daemon.connect({ name: 'A', group: 'app-a' });
    const ca = (await a.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
    await a.SCardListReaders(ca, null);
    await settle();
    expect(told).toBe(0);
    const h = (await a.SCardConnect(ca, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)).hCard;
    await settle();
    expect(told).toBe(1);
    await a.SCardBeginTransaction(h);
    await settle();
    expect(told).toBe(2);
    await a.SCardStatus(h);
    await settle();
    expect(told).toBe(2);
    await a.SCardReleaseContext(ca);
    await settle();
    expect(told).toBe(3);
    expect(daemon.holders()[0]!.holders).toEqual([]);
    off();
    await a.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    await settle();
    expect(told).toBe(3);
  });
});
