/**
 * End to end in Node: client library → Chrome-like JSON ports → ConnectorRouter → the real PcscDaemon → CCID driver →
 * simulated GemPC Twin with the hello-world card. The classic sample: establish, list, connect, SELECT, `00 00 00 00`
 * → "Hello world!"; then the client's death releases everything in the daemon.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PcscDaemon } from '../../../src/pcsc/index.js';
import { CcidReader } from '../../../src/ccid/reader.js';
import { createSimulatedReader, helloWorldCardT1 } from '../../../src/sim/index.js';
import { ConnectorRouter } from '../../../src/connector/router.js';
import {
  PcscError,
  SCARD_E_NO_SERVICE,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
  SCARD_STATE_CHANGED,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNAWARE,
  type Connection,
} from '../../../client-lib/src/index.js';
import { attachClient, flush } from './fake-daemon.js';
import { SELECT_HELLO } from '../../support/hello.js';

const SAY_HELLO = Uint8Array.of(0x00, 0x00, 0x00, 0x00);

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined);
});

async function stack() {
  const daemon = new PcscDaemon({ powerOffGraceMs: 20 });
  cleanup.push(() => daemon.shutdown());
  const sim = createSimulatedReader('gempc-twin');
  sim.insertCard(helloWorldCardT1());
  const reader = await CcidReader.open(sim, { timeoutScale: 0.01 });
  cleanup.push(() => reader.close());
  const names = await daemon.addReader(reader);
  const router = new ConnectorRouter({ daemon, instance: 'e2e', version: '0.1.0' });
  cleanup.push(() => router.close());
  return { daemon, router, names };
}

async function client(router: ConnectorRouter, name: string): Promise<Connection> {
  const conn = await attachClient(router, { name });
  cleanup.push(() => conn.close());
  return conn;
}

describe('end to end: client library ↔ router ↔ PcscDaemon ↔ simulated reader', () => {
  it('runs the hello-world sample', async () => {
    const { router, names } = await stack();
    const pcsc = await client(router, 'Hello world test');
    expect(pcsc.instance).toBe('e2e');

    const { hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const { readers } = await pcsc.SCardListReaders(hContext, null);
    expect(readers).toEqual(names);
    expect(readers[0]).toMatch(/PC Twin Reader 00 00$/);

    const { readerStates } = await pcsc.SCardGetStatusChange(hContext, 0, [
      { szReader: readers[0]!, dwCurrentState: SCARD_STATE_UNAWARE, pvUserData: 'first reader' },
    ]);
    expect(readerStates[0]!.dwEventState & SCARD_STATE_PRESENT).toBe(SCARD_STATE_PRESENT);
    expect(readerStates[0]!.rgbAtr.length).toBeGreaterThan(1);
    expect(readerStates[0]!.pvUserData).toBe('first reader');

    const { hCard, dwActiveProtocol } = await pcsc.SCardConnect(
      hContext,
      readers[0]!,
      SCARD_SHARE_SHARED,
      SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
    );
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
    const status = await pcsc.SCardStatus(hCard);
    expect(status.szReaderName).toBe(readers[0]);
    expect(status.atr).toEqual(readerStates[0]!.rgbAtr);

    const select = await pcsc.SCardTransmit(hCard, { dwProtocol: dwActiveProtocol }, SELECT_HELLO);
    expect([...select.recvBuffer.subarray(-2)]).toEqual([0x90, 0x00]);
    const hello = await pcsc.SCardTransmit(hCard, { dwProtocol: dwActiveProtocol }, SAY_HELLO);
    expect([...hello.recvBuffer.subarray(-2)]).toEqual([0x90, 0x00]);
    expect(new TextDecoder().decode(hello.recvBuffer.subarray(0, -2))).toBe('Hello world!');

    await pcsc.SCardDisconnect(hCard, SCARD_LEAVE_CARD);
    await pcsc.SCardReleaseContext(hContext);
    expect(router.stats.pendingCalls).toBe(0);
  });

  it("a client's death releases its handles in the daemon; another client then gets the reader exclusively", async () => {
    const { router, names } = await stack();
    const a = await client(router, 'A');
    const b = await client(router, 'B');
    const ca = await a.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    await a.SCardConnect(ca.hContext, names[0]!, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1);
    const cb = await b.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    await expect(b.SCardConnect(cb.hContext, names[0]!, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)).rejects.toMatchObject({
      code: 0x8010000b,
    });
    // a waits for a change that never comes: its port dying must not leave it pending
    const now = await a.SCardGetStatusChange(ca.hContext, 0, [
      { szReader: names[0]!, dwCurrentState: SCARD_STATE_UNAWARE },
    ]);
    const current = now.readerStates[0]!.dwEventState & ~SCARD_STATE_CHANGED;
    const waiting = a.SCardGetStatusChange(ca.hContext, 0xffffffff, [{ szReader: names[0]!, dwCurrentState: current }]);
    await flush();
    a.close();
    await expect(waiting).rejects.toBeInstanceOf(PcscError);
    await expect(waiting).rejects.toMatchObject({ code: SCARD_E_NO_SERVICE });
    await flush();
    expect(router.stats).toMatchObject({ ports: 1, daemonClients: 1 });
    const { hCard } = await b.SCardConnect(cb.hContext, names[0]!, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1);
    const r = await b.SCardTransmit(hCard, { dwProtocol: SCARD_PROTOCOL_T1 }, SELECT_HELLO);
    expect([...r.recvBuffer.subarray(-2)]).toEqual([0x90, 0x00]);
  });
});
