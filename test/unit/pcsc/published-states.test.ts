/** The daemon's read-only READER_STATE view and event feed, for pcscd-protocol front ends (src/host/pcscd). */
import { describe, expect, it } from 'vitest';
import { CcidReader } from '../../../src/ccid/reader.js';
import {
  PcscDaemon,
  SCARD_ABSENT,
  SCARD_LEAVE_CARD,
  SCARD_NEGOTIABLE,
  SCARD_POWERED,
  SCARD_PRESENT,
  SCARD_PROTOCOL_T1,
  SCARD_RESET_CARD,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
} from '../../../src/pcsc/index.js';
import { Notifier } from '../../../src/pcsc/notifier.js';
import { createSimulatedReader, helloWorldCardT1 } from '../../../src/sim/index.js';

async function rig() {
  const daemon = new PcscDaemon({ powerOffGraceMs: 5 });
  const sim = createSimulatedReader('gempc-twin');
  sim.insertCard(helloWorldCardT1());
  const reader = await CcidReader.open(sim, { timeoutScale: 0.01, pollIntervalMs: 5 });
  const [name] = await daemon.addReader(reader);
  return { daemon, sim, reader, name: name! };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!cond()) throw new Error(`${what}: never happened`);
}

describe('Notifier.subscribe', () => {
  it('tells a listener of every notify until unsubscribed, without counting it as a waiter', () => {
    const n = new Notifier();
    let calls = 0;
    const off = n.subscribe(() => calls++);
    expect(n.waiting).toBe(0);
    n.notify();
    n.notify();
    expect(calls).toBe(2);
    off();
    n.notify();
    expect(calls).toBe(2);
  });
});

describe('daemon.readerStates() and daemon.onReaderEvent()', () => {
  it('publishes name, event counter, state, sharing, ATR and negotiated protocol', async () => {
    const { daemon, name } = await rig();
    const [r] = daemon.readerStates();
    expect(r).toMatchObject({
      name,
      eventCounter: 0,
      readerState: SCARD_PRESENT | SCARD_POWERED | SCARD_NEGOTIABLE,
      readerSharing: 0,
      cardProtocol: 0,
    });
    expect(r!.atr.length).toBeGreaterThan(2);
    const c = daemon.connect();
    const { hContext } = await c.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { hCard } = await c.SCardConnect(hContext, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(daemon.readerStates()[0]).toMatchObject({ readerSharing: 1, cardProtocol: SCARD_PROTOCOL_T1 });
    await c.SCardDisconnect(hCard, SCARD_LEAVE_CARD);
    await c.SCardConnect(hContext, name, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1);
    expect(daemon.readerStates()[0]!.readerSharing).toBe(-1);
    // A copy: changing it does not change the daemon.
    daemon.readerStates()[0]!.atr.fill(0);
    expect(daemon.readerStates()[0]!.atr[0]).not.toBe(0);
    await daemon.shutdown();
  });

  it('signals card removal and insertion (counter moves), sharing changes and reader removal; not resets', async () => {
    const { daemon, sim, reader, name } = await rig();
    let events = 0;
    const off = daemon.onReaderEvent(() => events++);
    expect(daemon.stats().waiters).toBe(0);

    sim.removeCard();
    await until(() => events === 1, 'removal event');
    expect(daemon.readerStates()[0]).toMatchObject({ eventCounter: 1, readerState: SCARD_ABSENT, cardProtocol: 0 });
    expect(daemon.readerStates()[0]!.atr.length).toBe(0);
    sim.insertCard(helloWorldCardT1());
    await until(() => events === 2, 'insertion event');
    expect(daemon.readerStates()[0]!.eventCounter).toBe(2);

    const c = daemon.connect();
    const { hContext } = await c.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { hCard } = await c.SCardConnect(hContext, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(events).toBe(3); // sharing 0 → 1
    await c.SCardBeginTransaction(hCard);
    await c.SCardEndTransaction(hCard, SCARD_RESET_CARD);
    await c.SCardReconnect(hCard, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_RESET_CARD);
    expect(events).toBe(3); // a reset, a reconnect, a transaction: no event
    await c.close();
    expect(events).toBe(4); // sharing 1 → 0

    await daemon.removeReader(reader);
    expect(events).toBe(5);
    expect(daemon.readerStates()).toEqual([]);
    off();
    await daemon.shutdown();
  });

  it('keeps going when a listener throws, and logs it', async () => {
    const logs: string[] = [];
    const daemon = new PcscDaemon({ log: (_l, m) => logs.push(m) });
    daemon.onReaderEvent(() => {
      throw new Error('boom');
    });
    let other = 0;
    daemon.onReaderEvent(() => other++);
    const sim = createSimulatedReader('gempc-twin');
    await daemon.addReader(await CcidReader.open(sim, { timeoutScale: 0.01, pollIntervalMs: 5 }));
    expect(other).toBe(1);
    expect(logs.some((m) => m.includes('reader event listener failed: boom'))).toBe(true);
    await daemon.shutdown();
  });
});
