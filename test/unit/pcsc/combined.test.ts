/**
 * The combinator of PC/SC services, over two in-process daemons, each with a simulated GemPC Twin behind the CCID
 * driver: both daemons name their reader "Gemalto PC Twin Reader 00 00" and draw the same handle values (same seed),
 * so every mapping of the combinator is exercised.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CcidReader } from '../../../src/ccid/reader.js';
import { createSimulatedReader, helloWorldCardT1, type SimulatedReader } from '../../../src/sim/index.js';
import { combinePcsc, createReaderNameRegistry } from '../../../src/pcsc/combined.js';
import type { PcscApi } from '../../../src/pcsc/api.js';
import {
  INFINITE,
  PNP_NOTIFICATION_READER_NAME,
  SCARD_E_CANCELLED,
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_PARAMETER,
  SCARD_E_INVALID_VALUE,
  SCARD_E_NO_READERS_AVAILABLE,
  SCARD_E_NO_SERVICE,
  SCARD_E_NO_SMARTCARD,
  SCARD_E_PROTO_MISMATCH,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_E_TIMEOUT,
  SCARD_E_UNKNOWN_READER,
  SCARD_F_INTERNAL_ERROR,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  SCARD_STATE_CHANGED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_IGNORE,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNAVAILABLE,
  SCARD_STATE_UNAWARE,
  SCARD_STATE_UNKNOWN,
  SCARD_W_REMOVED_CARD,
} from '../../../src/pcsc/constants.js';
import { PcscDaemon, PcscError, type PcscClient } from '../../../src/pcsc/index.js';

const hex = (s: string): Uint8Array =>
  Uint8Array.from(
    s
      .split(/\s+/)
      .filter(Boolean)
      .map((b) => parseInt(b, 16)),
  );
const SELECT = hex('00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01');
const HELLO = hex('00 00 00 00');
const HELLO_RESPONSE = Uint8Array.from([...new TextEncoder().encode('Hello world!'), 0x90, 0x00]);
const T1 = { dwProtocol: SCARD_PROTOCOL_T1 };
const NAME = 'Gemalto PC Twin Reader 00 00';
const RENAMED = 'Gemalto PC Twin Reader 01 00';

async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PcscError) return e.code;
    throw e;
  }
  throw new Error('resolved where it had to fail');
}

async function error(p: Promise<unknown>): Promise<PcscError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PcscError) return e;
    throw e;
  }
  throw new Error('resolved where it had to fail');
}

/** The same deterministic handle sequence in every daemon: equal handle values across services. */
function seeded(): () => number {
  let n = 0;
  return () => ((n = (n * 7919 + 104729) % 2147483647), n / 2147483648);
}

interface Side {
  daemon: PcscDaemon;
  sim: SimulatedReader;
  client: PcscClient;
}

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function side(card = true): Promise<Side> {
  const daemon = new PcscDaemon({ powerOffGraceMs: 20, random: seeded() });
  cleanups.push(() => daemon.shutdown());
  const sim = createSimulatedReader('gempc-twin');
  if (card) sim.insertCard(helloWorldCardT1());
  await daemon.addReader(await CcidReader.open(sim, { timeoutScale: 0.01 }));
  return { daemon, sim, client: daemon.connect({ name: 'combined' }) };
}

async function rig(opts: { cardA?: boolean; cardB?: boolean } = {}) {
  const a = await side(opts.cardA ?? true);
  const b = await side(opts.cardB ?? true);
  let n = 12345;
  const random = () => ((n = (n * 48271) % 2147483647), n / 2147483648);
  const pcsc = combinePcsc(
    [
      { id: 'worker', label: 'WebUSB', client: a.client },
      { id: 'host', label: 'host', client: b.client },
    ],
    { random },
  );
  cleanups.push(() => pcsc.close());
  const { hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
  return { a, b, pcsc, hContext };
}

/** What the caller knows of each reader now (a GetStatusChange with UNAWARE). */
async function known(pcsc: PcscApi, hContext: number, names: string[]): Promise<number[]> {
  const r = await pcsc.SCardGetStatusChange(
    hContext,
    0,
    names.map((szReader) => ({ szReader, dwCurrentState: SCARD_STATE_UNAWARE })),
  );
  return r.readerStates.map((s) => s.dwEventState & ~SCARD_STATE_CHANGED);
}

/** The entries of a wait on these readers, each believed in the state given. */
const watch = (names: string[], states: number[]) =>
  names.map((szReader, i) => ({ szReader, dwCurrentState: states[i]! }));
const pnpOnly = () => [{ szReader: PNP_NOTIFICATION_READER_NAME, dwCurrentState: 0 }];
const shared = (pcsc: PcscApi, hContext: number, name: string, protocols = SCARD_PROTOCOL_T1) =>
  pcsc.SCardConnect(hContext, name, SCARD_SHARE_SHARED, protocols);

const idle = (...sides: Side[]) => sides.map((s) => s.daemon.stats().waiters);

/** Lets a started GetStatusChange reach its services' waits (their waiters show up in stats()). */
async function untilWaiting(...sides: Side[]): Promise<void> {
  for (let i = 0; i < 1000 && sides.some((s) => s.daemon.stats().waiters === 0); i++) {
    await new Promise((r) => setTimeout(r, 1));
  }
  expect(sides.map((s) => s.daemon.stats().waiters > 0)).toEqual(sides.map(() => true));
}

describe('combinePcsc: readers', () => {
  it('lists the union in service order, renaming the later of two equal names with the next free XX', async () => {
    const { pcsc, hContext, a } = await rig();
    expect(a.daemon.readerNames).toEqual([NAME]);
    const { readers } = await pcsc.SCardListReaders(hContext);
    expect(readers).toEqual([NAME, RENAMED]);
    const needed = readers.reduce((n, s) => n + s.length + 1, 0) + 1;
    const e = await error(pcsc.SCardListReaders(hContext, null, { bufferLength: needed - 1 }));
    expect(e.code).toBe(SCARD_E_INSUFFICIENT_BUFFER);
    expect(e.needed).toBe(needed);
    expect((await pcsc.SCardListReaders(hContext, null, { bufferLength: needed })).readers).toEqual(readers);
    expect((await pcsc.SCardListReaderGroups(hContext)).groups).toEqual(['SCard$DefaultReaders']);
  });

  it('keeps names stable: a renamed reader keeps its name while the first one comes and goes', async () => {
    const { pcsc, hContext, a } = await rig();
    await pcsc.SCardListReaders(hContext);
    await pcsc.remove('worker');
    expect((await pcsc.SCardListReaders(hContext)).readers).toEqual([RENAMED]);
    pcsc.add({ id: 'worker', client: a.daemon.connect() });
    // The worker's reader is now the later one (and the later service: listed second); "… 00 00" is free again.
    expect((await pcsc.SCardListReaders(hContext)).readers).toEqual([RENAMED, NAME]);
    const { hCard } = await shared(pcsc, hContext, RENAMED);
    expect((await pcsc.SCardStatus(hCard)).szReaderName).toBe(RENAMED);
  });

  it('a shared name registry: two combinators name a reader alike whatever order they saw the readers in', async () => {
    const a = await side();
    const b = await side();
    const names = createReaderNameRegistry();
    // The first combinator sees the host's reader before the worker's: the worker's is the one renamed.
    const first = combinePcsc([{ id: 'host', client: b.daemon.connect() }], { names });
    cleanups.push(() => first.close());
    const h1 = (await first.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
    expect((await first.SCardListReaders(h1)).readers).toEqual([NAME]);
    first.add({ id: 'worker', client: a.daemon.connect() });
    expect((await first.SCardListReaders(h1)).readers).toEqual([NAME, RENAMED]);
    // A second one sees both at once, worker first: with its own registry the worker's would keep NAME; shared, not.
    const second = combinePcsc(
      [
        { id: 'worker', client: a.daemon.connect() },
        { id: 'host', client: b.daemon.connect() },
      ],
      { names },
    );
    cleanups.push(() => second.close());
    const h2 = (await second.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
    expect((await second.SCardListReaders(h2)).readers).toEqual([RENAMED, NAME]);
    expect(second.readerNames()).toEqual([
      { name: RENAMED, service: 'worker', raw: NAME },
      { name: NAME, service: 'host', raw: NAME },
    ]);
    const { hCard } = await shared(second, h2, RENAMED);
    expect((await second.SCardStatus(hCard)).szReaderName).toBe(RENAMED);
    await second.SCardDisconnect(hCard, SCARD_LEAVE_CARD);
    // Once no combinator lists the host's reader, its name is free: a later one gives it to the worker's reader.
    await first.remove('host');
    await second.remove('host');
    await first.close();
    await second.close();
    const third = combinePcsc([{ id: 'worker', client: a.daemon.connect() }], { names });
    cleanups.push(() => third.close());
    const h3 = (await third.SCardEstablishContext(SCARD_SCOPE_SYSTEM)).hContext;
    expect((await third.SCardListReaders(h3)).readers).toEqual([NAME]);
  });

  it('answers SCARD_E_NO_READERS_AVAILABLE for an empty union, and without any service', async () => {
    const none = combinePcsc([]);
    cleanups.push(() => none.close());
    const { hContext } = await none.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    expect(await code(none.SCardListReaders(hContext))).toBe(SCARD_E_NO_READERS_AVAILABLE);
    const empty = new PcscDaemon();
    cleanups.push(() => empty.shutdown());
    none.add({ id: 'empty', client: empty.connect() });
    expect(await code(none.SCardListReaders(hContext))).toBe(SCARD_E_NO_READERS_AVAILABLE);
    expect(empty.stats().contexts).toBe(1);
  });

  it("does not hide the other services' readers when one fails", async () => {
    const { pcsc, hContext, b } = await rig();
    const broken: PcscApi = new Proxy(b.client, {
      get(target, prop, receiver) {
        if (prop === 'SCardListReaders') return () => Promise.reject(new PcscError(0x80100004, 'broken'));
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    await pcsc.remove('host');
    pcsc.add({ id: 'broken', client: broken });
    expect((await pcsc.SCardListReaders(hContext)).readers).toEqual([NAME]);
  });

  it('property: names stay unique and map back to their service, whatever the lists', async () => {
    const rawName = fc.constantFrom('R 00 00', 'R 00 01', 'R 01 00', 'S 00 00', 'plain', 'L'.repeat(127));
    const serviceLists = fc.array(fc.uniqueArray(rawName, { maxLength: 4 }), { minLength: 1, maxLength: 3 });
    await fc.assert(
      fc.asyncProperty(serviceLists, async (lists) => {
        const services = lists.map((readers, k) => ({ id: `s${k}`, client: listOnly(readers, k) }));
        const pcsc = combinePcsc(services);
        const { hContext } = await pcsc.SCardEstablishContext(0);
        const total = lists.reduce((n, l) => n + l.length, 0);
        const listed = total === 0 ? [] : (await pcsc.SCardListReaders(hContext)).readers;
        expect(new Set(listed).size).toBe(total);
        for (const name of listed) expect(name.length).toBeLessThanOrEqual(127);
        // Connect goes to the service that listed the reader, under its own name.
        let i = 0;
        for (const [k, readers] of lists.entries()) {
          for (const raw of readers) {
            const name = listed[i++]!;
            const { dwActiveProtocol } = await shared(pcsc, hContext, name);
            expect(dwActiveProtocol).toBe(k * 100 + readers.indexOf(raw));
          }
        }
        await pcsc.close();
      }),
      { numRuns: 60 },
    );
  });
});

describe('combinePcsc: contexts and card handles', () => {
  it('routes connect and transmit to the service of the reader, with handles of its own', async () => {
    const { pcsc, hContext, a, b } = await rig();
    const ha = await shared(pcsc, hContext, NAME);
    const hb = await shared(pcsc, hContext, RENAMED);
    expect(ha.hCard).not.toBe(hb.hCard);
    expect([a.daemon.stats().handles, b.daemon.stats().handles]).toEqual([1, 1]);
    for (const h of [ha.hCard, hb.hCard]) {
      expect((await pcsc.SCardTransmit(h, T1, SELECT)).recvBuffer).toEqual(hex('90 00'));
      expect((await pcsc.SCardTransmit(h, T1, HELLO)).recvBuffer).toEqual(HELLO_RESPONSE);
    }
    expect((await pcsc.SCardStatus(ha.hCard)).szReaderName).toBe(NAME);
    expect((await pcsc.SCardStatus(hb.hCard)).szReaderName).toBe(RENAMED);
    // The card leaves the host's reader: only the host's handle hears of it.
    b.sim.removeCard();
    await pcsc.SCardGetStatusChange(hContext, INFINITE, [{ szReader: RENAMED, dwCurrentState: SCARD_STATE_PRESENT }]);
    expect(await code(pcsc.SCardTransmit(hb.hCard, T1, HELLO))).toBe(SCARD_W_REMOVED_CARD);
    expect((await pcsc.SCardTransmit(ha.hCard, T1, HELLO)).recvBuffer).toEqual(HELLO_RESPONSE);
    await pcsc.SCardDisconnect(hb.hCard, SCARD_LEAVE_CARD);
    expect([a.daemon.stats().handles, b.daemon.stats().handles]).toEqual([1, 0]);
    expect(await code(pcsc.SCardStatus(hb.hCard))).toBe(SCARD_E_INVALID_HANDLE);
  });

  it("rejects a service's own handle and context values: only the combined ones are valid", async () => {
    const { pcsc, hContext, a } = await rig();
    const { hCard } = await shared(pcsc, hContext, NAME);
    const own = a.daemon.connect();
    const { hContext: foreign } = await own.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    const direct = await own.SCardConnect(foreign, NAME, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1);
    // The combinator draws its own values (its own seed here): the daemon's are none of its handles.
    expect(direct.hCard).not.toBe(hCard);
    expect(foreign).not.toBe(hContext);
    expect(await code(pcsc.SCardTransmit(direct.hCard, T1, HELLO))).toBe(SCARD_E_INVALID_HANDLE);
    expect(await code(pcsc.SCardListReaders(foreign))).toBe(SCARD_E_INVALID_HANDLE);
    expect(await code(a.client.SCardTransmit(hCard, T1, HELLO))).toBe(SCARD_E_INVALID_HANDLE);
    await pcsc.SCardIsValidContext(hContext);
    expect(await code(pcsc.SCardIsValidContext(hContext ^ 1))).toBe(SCARD_E_INVALID_HANDLE);
  });

  it("keeps the services' error codes", async () => {
    const { pcsc, hContext } = await rig();
    expect(await code(shared(pcsc, hContext, RENAMED, SCARD_PROTOCOL_T0))).toBe(SCARD_E_PROTO_MISMATCH);
    expect(await code(pcsc.SCardConnect(hContext, RENAMED, 7, SCARD_PROTOCOL_T1))).toBe(SCARD_E_INVALID_VALUE);
    expect(await code(shared(pcsc, hContext, 'nope 00 00'))).toBe(SCARD_E_UNKNOWN_READER);
    const { hCard } = await shared(pcsc, hContext, RENAMED);
    const t0 = { dwProtocol: SCARD_PROTOCOL_T0 };
    expect(await code(pcsc.SCardTransmit(hCard, t0, HELLO))).toBe(SCARD_E_PROTO_MISMATCH);
    await pcsc.SCardTransmit(hCard, T1, SELECT);
    const e = await error(pcsc.SCardTransmit(hCard, T1, HELLO, { recvLength: 4 }));
    expect([e.code, e.needed]).toEqual([SCARD_E_INSUFFICIENT_BUFFER, 14]);
    expect(await code(pcsc.SCardEstablishContext(9))).toBe(SCARD_E_INVALID_VALUE);
  });

  it('releases every per-service context with the combined one, and leaves nothing after close', async () => {
    const { pcsc, hContext, a, b } = await rig();
    const { hCard } = await shared(pcsc, hContext, RENAMED);
    await pcsc.SCardListReaders(hContext);
    expect([a.daemon.stats().contexts, b.daemon.stats().contexts]).toEqual([1, 1]);
    await pcsc.SCardReleaseContext(hContext);
    expect([a.daemon.stats(), b.daemon.stats()].map((s) => [s.contexts, s.handles, s.waiters])).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(await code(pcsc.SCardTransmit(hCard, T1, HELLO))).toBe(SCARD_E_INVALID_HANDLE);
    expect(await code(pcsc.SCardReleaseContext(hContext))).toBe(SCARD_E_INVALID_HANDLE);
    const second = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
    await shared(pcsc, second.hContext, NAME);
    const waiting = pcsc.SCardGetStatusChange(second.hContext, INFINITE, pnpOnly());
    await untilWaiting(a, b);
    await pcsc.close();
    expect(await code(waiting)).toBe(SCARD_E_NO_SERVICE);
    expect([a.daemon.stats(), b.daemon.stats()].map((s) => [s.contexts, s.handles, s.waiters])).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(await code(pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM))).toBe(SCARD_E_NO_SERVICE);
  });
});

describe('combinePcsc: SCardGetStatusChange', () => {
  for (const which of ['worker', 'host'] as const) {
    it(`wakes on a card inserted in the ${which}'s reader and cancels the other wait`, async () => {
      const { pcsc, hContext, a, b } = await rig({ cardA: false, cardB: false });
      const names = [NAME, RENAMED];
      const states = await known(pcsc, hContext, names);
      expect(states.map((s) => s & 0xffff)).toEqual([SCARD_STATE_EMPTY, SCARD_STATE_EMPTY]);
      const wait = pcsc.SCardGetStatusChange(
        hContext,
        INFINITE,
        names.map((szReader, i) => ({ szReader, dwCurrentState: states[i]!, pvUserData: i })),
      );
      await untilWaiting(a, b);
      (which === 'worker' ? a : b).sim.insertCard(helloWorldCardT1());
      const r = (await wait).readerStates;
      const hit = which === 'worker' ? 0 : 1;
      const present = SCARD_STATE_PRESENT | SCARD_STATE_CHANGED;
      expect(r[hit]!.dwEventState & present).toBe(present);
      expect(r[hit]!.rgbAtr.length).toBeGreaterThan(0);
      expect(r[1 - hit]!.dwEventState & 0xffff).toBe(SCARD_STATE_EMPTY);
      expect(r.map((s) => [s.szReader, s.pvUserData])).toEqual([
        [NAME, 0],
        [RENAMED, 1],
      ]);
      expect(idle(a, b)).toEqual([0, 0]);
    });
  }

  it('checks the 16-entry limit, unknown names and IGNORE on the combined call', async () => {
    const { pcsc, hContext } = await rig();
    const many = Array.from({ length: 17 }, () => ({ szReader: NAME, dwCurrentState: 0 }));
    expect(await code(pcsc.SCardGetStatusChange(hContext, 0, many))).toBe(SCARD_E_INVALID_PARAMETER);
    const unknown = [{ szReader: 'Gemalto PC Twin Reader 02 00', dwCurrentState: 0 }];
    expect(await code(pcsc.SCardGetStatusChange(hContext, 0, unknown))).toBe(SCARD_E_UNKNOWN_READER);
    const r = await pcsc.SCardGetStatusChange(0x1234, 0, [{ szReader: 'x', dwCurrentState: SCARD_STATE_IGNORE }]);
    expect(r.readerStates[0]!.dwEventState).toBe(0);
    expect(await code(pcsc.SCardGetStatusChange(hContext ^ 1, 0, watch([NAME], [0])))).toBe(SCARD_E_INVALID_HANDLE);
  });

  it('times out once for all services, with the states seen, and leaves no waiter', async () => {
    const { pcsc, hContext, a, b } = await rig();
    const names = [NAME, RENAMED];
    const states = await known(pcsc, hContext, names);
    for (const timeout of [0, 30]) {
      const e = await error(pcsc.SCardGetStatusChange(hContext, timeout, watch(names, states)));
      expect(e.code).toBe(SCARD_E_TIMEOUT);
      expect(e.readerStates?.map((s) => s.dwEventState)).toEqual(states);
      expect(idle(a, b)).toEqual([0, 0]);
    }
  });

  it('SCardCancel reaches every service: the combined call is cancelled, no service keeps a waiter', async () => {
    const { pcsc, hContext, a, b } = await rig();
    await pcsc.SCardCancel(hContext);
    const names = [NAME, RENAMED];
    const states = await known(pcsc, hContext, names);
    const wait = pcsc.SCardGetStatusChange(hContext, INFINITE, watch(names, states));
    await untilWaiting(a, b);
    await pcsc.SCardCancel(hContext);
    const e = await error(wait);
    expect(e.code).toBe(SCARD_E_CANCELLED);
    expect(e.readerStates?.map((s) => s.dwEventState)).toEqual(states);
    expect(idle(a, b)).toEqual([0, 0]);
    expect(await code(pcsc.SCardCancel(hContext ^ 1))).toBe(SCARD_E_INVALID_HANDLE);
  });

  it('a cancel that reaches a service before its waiter is registered is repeated, not lost', async () => {
    const { pcsc, hContext, a, b } = await rig();
    await pcsc.remove('host');
    let open: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const late: PcscApi = new Proxy(b.client, {
      get(target, prop, receiver) {
        if (prop === 'SCardGetStatusChange') {
          return async (...args: Parameters<PcscApi['SCardGetStatusChange']>) => {
            await gate;
            return target.SCardGetStatusChange(...args);
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    pcsc.add({ id: 'host', client: late });
    const cancelled = code(pcsc.SCardGetStatusChange(hContext, INFINITE, pnpOnly()));
    await untilWaiting(a);
    await pcsc.SCardCancel(hContext);
    await new Promise((r) => setTimeout(r, 5));
    open();
    expect(await cancelled).toBe(SCARD_E_CANCELLED);
    expect(idle(a, b)).toEqual([0, 0]);
  });

  it('a failing service: its error (same code) if the caller watches its reader, else it is left out', async () => {
    const { pcsc, hContext, a, b } = await rig({ cardA: false });
    const names = [NAME, RENAMED];
    const states = await known(pcsc, hContext, names);
    await pcsc.remove('host');
    const failing: PcscApi = new Proxy(b.client, {
      get(target, prop, receiver) {
        if (prop !== 'SCardGetStatusChange') return Reflect.get(target, prop, receiver) as unknown;
        return () => Promise.reject(new PcscError(SCARD_F_INTERNAL_ERROR, 'broken'));
      },
    });
    pcsc.add({ id: 'host', client: failing });
    await pcsc.SCardListReaders(hContext);
    const both = pcsc.SCardGetStatusChange(hContext, INFINITE, watch(names, states));
    expect(await code(both)).toBe(SCARD_F_INTERNAL_ERROR);
    const wait = pcsc.SCardGetStatusChange(hContext, INFINITE, [...watch([NAME], states), ...pnpOnly()]);
    await untilWaiting(a);
    a.sim.insertCard(helloWorldCardT1());
    const r = (await wait).readerStates;
    expect(r[0]!.dwEventState & SCARD_STATE_CHANGED).toBe(SCARD_STATE_CHANGED);
    expect(r[1]!.dwEventState).toBe(0);
    expect(idle(a, b)).toEqual([0, 0]);
  });

  it('asks a service again when its wait was cancelled by a late cancel of its own, not by the caller', async () => {
    const { pcsc, hContext, a, b } = await rig();
    const names = [NAME, RENAMED];
    const states = await known(pcsc, hContext, names);
    await pcsc.remove('host');
    let calls = 0;
    const stray: PcscApi = new Proxy(b.client, {
      get(target, prop, receiver) {
        if (prop !== 'SCardGetStatusChange') return Reflect.get(target, prop, receiver) as unknown;
        return (...args: Parameters<PcscApi['SCardGetStatusChange']>) => {
          if (++calls === 1) return Promise.reject(new PcscError(SCARD_E_CANCELLED, 'a stray cancel'));
          return target.SCardGetStatusChange(...args);
        };
      },
    });
    pcsc.add({ id: 'host', client: stray });
    const wait = pcsc.SCardGetStatusChange(hContext, INFINITE, watch(names, states));
    await untilWaiting(a, b);
    expect(calls).toBe(2);
    b.sim.removeCard();
    const r = (await wait).readerStates;
    const emptied = SCARD_STATE_EMPTY | SCARD_STATE_CHANGED;
    expect(r[1]!.dwEventState & emptied).toBe(emptied);
    expect(idle(a, b)).toEqual([0, 0]);
  });

  it('fires PnP when a reader is added to either service', async () => {
    const { pcsc, hContext, a, b } = await rig();
    for (const s of [b, a]) {
      const wait = pcsc.SCardGetStatusChange(hContext, INFINITE, pnpOnly());
      await untilWaiting(a, b);
      const sim = createSimulatedReader('gempc-twin');
      await s.daemon.addReader(await CcidReader.open(sim, { timeoutScale: 0.01 }));
      const r = await wait;
      expect(r.readerStates[0]!.dwEventState & SCARD_STATE_CHANGED).toBe(SCARD_STATE_CHANGED);
      expect(idle(a, b)).toEqual([0, 0]);
    }
    const { readers } = await pcsc.SCardListReaders(hContext);
    expect(new Set(readers).size).toBe(4);
    // Each daemon calls its new reader "… 01 00": the host's collides with its own renamed first reader (→ 02), the
    // worker's with that one (→ 03, the first index free).
    expect(readers).toEqual([NAME, 'Gemalto PC Twin Reader 03 00', RENAMED, 'Gemalto PC Twin Reader 02 00']);
    const { hCard } = await shared(pcsc, hContext, RENAMED);
    await pcsc.SCardTransmit(hCard, T1, SELECT);
    expect((await pcsc.SCardTransmit(hCard, T1, HELLO)).recvBuffer).toEqual(HELLO_RESPONSE);
    expect(await code(shared(pcsc, hContext, 'Gemalto PC Twin Reader 02 00'))).toBe(SCARD_E_NO_SMARTCARD);
  });

  it('fires PnP when a service with readers is added, and when one is removed', async () => {
    const { pcsc, hContext, a, b } = await rig();
    const c = await side();
    const pnp = pnpOnly();
    let wait = pcsc.SCardGetStatusChange(hContext, INFINITE, pnp);
    await untilWaiting(a, b);
    pcsc.add({ id: 'demo', client: c.client });
    expect((await wait).readerStates[0]!.dwEventState).toBe(SCARD_STATE_CHANGED);
    expect((await pcsc.SCardListReaders(hContext)).readers).toEqual([NAME, RENAMED, 'Gemalto PC Twin Reader 02 00']);
    wait = pcsc.SCardGetStatusChange(hContext, INFINITE, pnp);
    await untilWaiting(a, b, c);
    await pcsc.remove('demo');
    expect((await wait).readerStates[0]!.dwEventState).toBe(SCARD_STATE_CHANGED);
    expect(idle(a, b, c)).toEqual([0, 0, 0]);
    expect(c.daemon.stats().contexts).toBe(0);
    expect(pcsc.serviceIds).toEqual(['worker', 'host']);
  });
});

describe('combinePcsc: a service leaves', () => {
  it('mid-wait: its readers turn UNKNOWN | UNAVAILABLE, the wait ends, the service keeps nothing', async () => {
    const { pcsc, hContext, a, b } = await rig();
    const names = [NAME, RENAMED];
    const states = await known(pcsc, hContext, names);
    const wait = pcsc.SCardGetStatusChange(hContext, INFINITE, watch(names, states));
    await untilWaiting(a, b);
    await pcsc.remove('host');
    const r = (await wait).readerStates;
    expect(r[1]!.dwEventState).toBe(SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE | SCARD_STATE_CHANGED);
    expect(r[0]!.dwEventState).toBe(states[0]);
    expect(idle(a, b)).toEqual([0, 0]);
    expect(b.daemon.stats().contexts).toBe(0);
    expect((await pcsc.SCardListReaders(hContext)).readers).toEqual([NAME]);
    expect(await code(pcsc.SCardGetStatusChange(hContext, 0, watch([RENAMED], [0])))).toBe(SCARD_E_UNKNOWN_READER);
  });

  it('mid-transmit: the call fails READER_UNAVAILABLE, then the handle answers as for a removed reader', async () => {
    const { pcsc, hContext, b } = await rig();
    await pcsc.remove('host');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow: PcscApi = new Proxy(b.client, {
      get(target, prop, receiver) {
        if (prop !== 'SCardTransmit') return Reflect.get(target, prop, receiver) as unknown;
        return async (...args: Parameters<PcscApi['SCardTransmit']>) => {
          await gate;
          return target.SCardTransmit(...args);
        };
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    pcsc.add({ id: 'host', client: slow });
    const { hCard } = await shared(pcsc, hContext, RENAMED);
    const transmit = pcsc.SCardTransmit(hCard, T1, HELLO);
    await pcsc.remove('host');
    expect(await code(transmit)).toBe(SCARD_E_READER_UNAVAILABLE);
    release();
    expect(await code(pcsc.SCardStatus(hCard))).toBe(SCARD_E_READER_UNAVAILABLE);
    expect(await code(pcsc.SCardTransmit(hCard, T1, HELLO))).toBe(SCARD_E_INVALID_VALUE);
    expect(await code(pcsc.SCardBeginTransaction(hCard))).toBe(SCARD_E_INVALID_VALUE);
    expect(await code(pcsc.SCardDisconnect(hCard, 9))).toBe(SCARD_E_INVALID_VALUE);
    await pcsc.SCardDisconnect(hCard, SCARD_LEAVE_CARD);
    expect(await code(pcsc.SCardStatus(hCard))).toBe(SCARD_E_INVALID_HANDLE);
    await new Promise((r) => setTimeout(r, 0));
    expect(b.daemon.stats().handles).toBe(0);
    expect(b.daemon.stats().contexts).toBe(0);
  });

  it('answering SCARD_E_NO_SERVICE counts as leaving', async () => {
    const { pcsc, hContext, a, b } = await rig();
    const { hCard } = await shared(pcsc, hContext, RENAMED);
    const names = [NAME, RENAMED];
    const states = await known(pcsc, hContext, names);
    const wait = pcsc.SCardGetStatusChange(hContext, INFINITE, watch(names, states));
    await untilWaiting(a, b);
    await b.client.close();
    const r = (await wait).readerStates;
    expect(r[1]!.dwEventState).toBe(SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE | SCARD_STATE_CHANGED);
    expect(pcsc.serviceIds).toEqual(['worker']);
    expect(await code(pcsc.SCardTransmit(hCard, T1, HELLO))).toBe(SCARD_E_INVALID_VALUE);
    expect((await pcsc.SCardListReaders(hContext)).readers).toEqual([NAME]);
    expect(idle(a, b)).toEqual([0, 0]);
  });
});

/** A service that lists fixed readers and "connects" with a protocol value telling which service and reader it was. */
function listOnly(readers: string[], k: number): PcscApi {
  let next = 1;
  const api: Partial<PcscApi> = {
    SCardEstablishContext: async () => ({ hContext: next++ }),
    SCardReleaseContext: async () => undefined,
    SCardListReaders: async () => {
      if (readers.length === 0) throw new PcscError(SCARD_E_NO_READERS_AVAILABLE);
      return { readers: [...readers] };
    },
    SCardConnect: async (_h, name) => {
      const i = readers.indexOf(name);
      if (i < 0) throw new PcscError(SCARD_E_UNKNOWN_READER);
      return { hCard: next++, dwActiveProtocol: k * 100 + i };
    },
  };
  return api as PcscApi;
}
