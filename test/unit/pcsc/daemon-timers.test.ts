/**
 * The daemon's timers are injectable (DaemonOptions.timers, the CCID transport's shape): the power-off grace and
 * GetStatusChange's timeout run on a manual clock, so these tests never wait for real time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  PcscDaemon,
  SCARD_E_TIMEOUT,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNAWARE,
  isPcscError,
  type PcscClient,
} from '../../../src/pcsc/index.js';
import { FakeReader, ManualClock, flush } from './fake-ifd.js';

let daemon: PcscDaemon | undefined;
afterEach(async () => {
  await daemon?.shutdown();
  daemon = undefined;
});

async function setup(powerOffGraceMs = 5000) {
  const clock = new ManualClock();
  daemon = new PcscDaemon({ timers: clock, powerOffGraceMs });
  const reader = new FakeReader();
  const [name] = await daemon.addReader(reader);
  if (name === undefined) throw new Error('no reader name');
  const client = daemon.connect({ name: 'test' });
  const { hContext } = await client.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
  return { clock, driver: reader.slot0, name, client, hContext };
}

/** The reader's state as GetStatusChange reports it now (dwCurrentState UNAWARE answers at once). */
async function currentState(client: PcscClient, hContext: number, name: string): Promise<number> {
  const r = await client.SCardGetStatusChange(hContext, 0, [{ szReader: name, dwCurrentState: SCARD_STATE_UNAWARE }]);
  return r.readerStates[0]?.dwEventState ?? 0;
}

describe('injected timers', () => {
  it('the power-off grace runs on the injected clock: the card goes down after exactly the grace period', async () => {
    const { clock, driver, name, client, hContext } = await setup(5000);
    const { hCard } = await client.SCardConnect(hContext, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    await client.SCardDisconnect(hCard, SCARD_LEAVE_CARD);
    expect(clock.pending).toContain(5000);
    driver.calls.length = 0;
    await clock.advance(4999);
    expect(driver.calls).toEqual([]);
    await clock.advance(1);
    expect(driver.calls).toEqual(['iccPresence', 'power down']);
    // the next connection powers the card up again
    driver.calls.length = 0;
    await client.SCardConnect(hContext, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    expect(driver.calls).toEqual(['iccPresence', 'power up', 'setProtocol 2']);
  });

  it("GetStatusChange's timeout is a timer of the injected clock", async () => {
    const { clock, name, client, hContext } = await setup();
    const state = await currentState(client, hContext, name);
    expect(state & SCARD_STATE_PRESENT).toBe(SCARD_STATE_PRESENT);
    let outcome: unknown;
    void client.SCardGetStatusChange(hContext, 1000, [{ szReader: name, dwCurrentState: state }]).then(
      (v) => (outcome = v),
      (e: unknown) => (outcome = e),
    );
    await flush();
    expect(clock.pending).toContain(1000);
    await clock.advance(999);
    expect(outcome).toBeUndefined();
    await clock.advance(1);
    expect(isPcscError(outcome, SCARD_E_TIMEOUT)).toBe(true);
  });

  it('an event that changes nothing for the caller keeps the deadline, measured on the same clock', async () => {
    const { clock, name, client, hContext } = await setup();
    const state = await currentState(client, hContext, name);
    let outcome: unknown;
    void client.SCardGetStatusChange(hContext, 1000, [{ szReader: name, dwCurrentState: state }]).then(
      (v) => (outcome = v),
      (e: unknown) => (outcome = e),
    );
    await clock.advance(600);
    // a second reader arriving wakes every waiter (EHSignalEventToClients) without changing the watched reader
    await daemon!.addReader(new FakeReader('Other Reader'));
    await clock.advance(0);
    expect(outcome).toBeUndefined();
    expect(clock.pending).toContain(400);
    await clock.advance(399);
    expect(outcome).toBeUndefined();
    await clock.advance(1);
    expect(isPcscError(outcome, SCARD_E_TIMEOUT)).toBe(true);
  });
});
