import { describe, expect, it } from 'vitest';
import { CcidReader } from '../../../src/ccid/reader.js';
import {
  PcscDaemon,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  SCARD_STATE_UNAWARE,
  INFINITE,
} from '../../../src/pcsc/index.js';
import { createSimulatedReader, helloWorldCardT1 } from '../../../src/sim/index.js';

async function rig() {
  const daemon = new PcscDaemon({ powerOffGraceMs: 5 });
  const sim = createSimulatedReader('gempc-twin');
  sim.insertCard(helloWorldCardT1());
  const [name] = await daemon.addReader(await CcidReader.open(sim, { timeoutScale: 0.01, pollIntervalMs: 5 }));
  return { daemon, sim, name: name! };
}

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('daemon.stats(): what the daemon holds, for leak checks', () => {
  it('counts clients, contexts, handles and readers, and returns to zero when clients go away', async () => {
    const { daemon, name } = await rig();
    expect(daemon.stats()).toEqual({ clients: 0, contexts: 0, handles: 0, waiters: 0, readers: 1 });
    const a = daemon.connect({ name: 'a' });
    const { hContext } = await a.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    await a.SCardConnect(hContext, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    await a.SCardConnect(hContext, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(daemon.stats()).toMatchObject({ clients: 1, contexts: 1, handles: 2, waiters: 0 });
    await a.close();
    expect(daemon.stats()).toMatchObject({ clients: 0, contexts: 0, handles: 0, waiters: 0 });
    await daemon.shutdown();
  });

  it('counts a GetStatusChange waiter while it waits, and not after a timeout, a Cancel or the client going away', async () => {
    const { daemon, name } = await rig();
    const a = daemon.connect({ name: 'a' });
    const { hContext } = await a.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { readerStates } = await a.SCardGetStatusChange(hContext, 0, [
      { szReader: name, dwCurrentState: SCARD_STATE_UNAWARE },
    ]);
    const current = [{ szReader: name, dwCurrentState: readerStates[0]!.dwEventState }];

    await a.SCardGetStatusChange(hContext, 3, current).catch(() => undefined);
    expect(daemon.stats().waiters).toBe(0);

    const cancelled = a.SCardGetStatusChange(hContext, INFINITE, current).catch(() => 'cancelled');
    await tick();
    expect(daemon.stats().waiters).toBe(1);
    await a.SCardCancel(hContext);
    expect(await cancelled).toBe('cancelled');
    expect(daemon.stats().waiters).toBe(0);

    const orphan = a.SCardGetStatusChange(hContext, INFINITE, current).catch(() => 'gone');
    await tick();
    expect(daemon.stats().waiters).toBe(1);
    await a.close();
    expect(await orphan).toBe('gone');
    expect(daemon.stats().waiters).toBe(0);
    await daemon.shutdown();
  });

  it("counts a call waiting for another handle's transaction until the lock is released", async () => {
    const { daemon, name } = await rig();
    const a = daemon.connect({ name: 'a' });
    const b = daemon.connect({ name: 'b' });
    const ca = (await a.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
    const cb = (await b.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
    const ha = (await a.SCardConnect(ca, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)).hCard;
    const hb = (await b.SCardConnect(cb, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)).hCard;
    await a.SCardBeginTransaction(ha);
    const waiting = b.SCardBeginTransaction(hb);
    await tick();
    expect(daemon.stats().waiters).toBe(1);
    await a.SCardEndTransaction(ha, SCARD_LEAVE_CARD);
    await waiting;
    expect(daemon.stats().waiters).toBe(0);
    await daemon.shutdown();
  });
});
