/**
 * Reference §2 rows GetStatusChange and Cancel, and the per-context lock note under the table
 * (winscard_clnt.c SCardGetStatusChange / SCardCancel; UnitaryTests SCardGetStatusChange*.py, SCardCancel*.py).
 */
import { describe, expect, it } from 'vitest';
import {
  INFINITE,
  PNP_NOTIFICATION_READER_NAME,
  SCARD_E_CANCELLED,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_PARAMETER,
  SCARD_E_TIMEOUT,
  SCARD_E_UNKNOWN_READER,
  SCARD_STATE_CHANGED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_IGNORE,
  SCARD_STATE_PRESENT,
} from '../../../src/pcsc/index.js';
import { helloWorldCardT1 } from '../../../src/sim/index.js';
import { FakeReader, fails, first, ok, readerState, rig, stillPending, watch } from './fixture.js';

async function oneReader() {
  const r = rig();
  const { names } = await r.addSim({ profile: 'gempc-twin', cards: [helloWorldCardT1()] });
  const c = await r.client();
  return { r, reader: first(names), ...c };
}

describe('SCardGetStatusChange', () => {
  it('check 1: more than 16 entries → SCARD_E_INVALID_PARAMETER, before everything else (unknown context, unknown names); 16 are fine', async () => {
    const { client, ctx, reader } = await oneReader();
    const seventeen = Array.from({ length: 17 }, () => ({ szReader: reader, dwCurrentState: 0 }));
    await fails(client.SCardGetStatusChange(ctx, 0, seventeen), SCARD_E_INVALID_PARAMETER);
    const bad = Array.from({ length: 17 }, () => ({ szReader: 'No Such Reader', dwCurrentState: 0 }));
    await fails(
      client.SCardGetStatusChange(0x999, INFINITE, bad),
      SCARD_E_INVALID_PARAMETER,
      'unknown context and names',
    );
    const { readerStates } = await ok(client.SCardGetStatusChange(ctx, 0, seventeen.slice(1)));
    expect(readerStates).toHaveLength(16);
  });

  it('check 2: 0 entries → SUCCESS without checking the context ✔', async () => {
    const { client, ctx } = await oneReader();
    expect((await ok(client.SCardGetStatusChange(ctx, INFINITE, []))).readerStates).toEqual([]);
    expect((await ok(client.SCardGetStatusChange(0x999, INFINITE, []))).readerStates).toEqual([]);
  });

  it('check 2: all entries IGNORE → SUCCESS at once without checking the context or the names ✔', async () => {
    const { client } = await oneReader();
    const states = [
      { szReader: 'No Such Reader', dwCurrentState: SCARD_STATE_IGNORE },
      { szReader: 'Another', dwCurrentState: SCARD_STATE_IGNORE | SCARD_STATE_PRESENT },
    ];
    const { readerStates } = await ok(client.SCardGetStatusChange(0x999, INFINITE, states));
    expect(readerStates.map((s) => s.szReader)).toEqual(['No Such Reader', 'Another']);
  });

  it('check 3: unknown context → SCARD_E_INVALID_HANDLE (before the name check)', async () => {
    const { client, reader } = await oneReader();
    await fails(
      client.SCardGetStatusChange(0x999, 0, [{ szReader: reader, dwCurrentState: 0 }]),
      SCARD_E_INVALID_HANDLE,
    );
    await fails(
      client.SCardGetStatusChange(0x999, 0, [{ szReader: 'No Such Reader', dwCurrentState: 0 }]),
      SCARD_E_INVALID_HANDLE,
      'unknown name',
    );
  });

  it('check 4: unknown name (not PnP) → SCARD_E_UNKNOWN_READER ✔ at once, even with an INFINITE timeout and a valid entry', async () => {
    const { client, ctx, reader } = await oneReader();
    const states = [
      { szReader: reader, dwCurrentState: 0 },
      { szReader: 'No Such Reader 00 00', dwCurrentState: SCARD_STATE_EMPTY },
    ];
    await fails(client.SCardGetStatusChange(ctx, INFINITE, states), SCARD_E_UNKNOWN_READER);
  });

  it('check 4 looks at every name, IGNORE entries included, once one entry is not IGNORE', async () => {
    const { client, ctx, reader } = await oneReader();
    const states = [
      { szReader: 'No Such Reader 00 00', dwCurrentState: SCARD_STATE_IGNORE },
      { szReader: reader, dwCurrentState: 0 },
    ];
    await fails(client.SCardGetStatusChange(ctx, 0, states), SCARD_E_UNKNOWN_READER);
  });

  it('check 4: the PnP name is known in any case (strcasecmp) and IGNORE entries stay 0', async () => {
    const { client, ctx, reader } = await oneReader();
    const e = await fails(
      client.SCardGetStatusChange(ctx, 0, [
        { szReader: '\\\\?pnp?\\notification', dwCurrentState: 0 },
        { szReader: PNP_NOTIFICATION_READER_NAME, dwCurrentState: 0 },
      ]),
      SCARD_E_TIMEOUT,
      'PnP entries with no reader change',
    );
    expect(e.readerStates?.map((s) => s.dwEventState)).toEqual([0, 0]);
    const { readerStates } = await ok(
      client.SCardGetStatusChange(ctx, 0, [
        { szReader: reader, dwCurrentState: SCARD_STATE_IGNORE },
        { szReader: reader, dwCurrentState: 0 },
      ]),
    );
    expect(readerStates[0]?.dwEventState).toBe(0);
    expect(readerStates[1]?.dwEventState).toBe(SCARD_STATE_CHANGED | SCARD_STATE_PRESENT);
  });

  it('check 5: nothing changes → SCARD_E_TIMEOUT ✔ (timeout 0 = one pass, and a short timeout), with the states seen', async () => {
    const { client, ctx, reader } = await oneReader();
    const now = await readerState(client, ctx, reader);
    const current = now.dwEventState & ~SCARD_STATE_CHANGED;
    for (const timeout of [0, 15]) {
      const e = await fails(
        client.SCardGetStatusChange(ctx, timeout, [{ szReader: reader, dwCurrentState: current }]),
        SCARD_E_TIMEOUT,
        `timeout ${timeout}`,
      );
      expect(e.readerStates?.[0]?.dwEventState).toBe(current);
    }
  });

  it('a PnP waiter wakes when a reader is added (CHANGED)', async () => {
    const { r, client, ctx } = await oneReader();
    const waiting = watch(
      client.SCardGetStatusChange(ctx, INFINITE, [{ szReader: PNP_NOTIFICATION_READER_NAME, dwCurrentState: 0 }]),
    );
    await stillPending(waiting, 'PnP wait');
    await r.addFake(new FakeReader('Late'));
    const { readerStates } = await ok(waiting.promise);
    expect((readerStates[0]?.dwEventState ?? 0) & SCARD_STATE_CHANGED).toBe(SCARD_STATE_CHANGED);
  });

  it('check 6: SCardCancel → the waiter gets SCARD_E_CANCELLED ✔', async () => {
    const { client, ctx, reader } = await oneReader();
    const now = await readerState(client, ctx, reader);
    const waiting = watch(
      client.SCardGetStatusChange(ctx, INFINITE, [
        { szReader: reader, dwCurrentState: now.dwEventState & ~SCARD_STATE_CHANGED },
      ]),
    );
    await stillPending(waiting, 'GetStatusChange INFINITE');
    await ok(client.SCardCancel(ctx));
    await fails(waiting.promise, SCARD_E_CANCELLED);
    await fails(
      client.SCardGetStatusChange(ctx, 0, [
        { szReader: reader, dwCurrentState: now.dwEventState & ~SCARD_STATE_CHANGED },
      ]),
      SCARD_E_TIMEOUT,
      'the context is usable again',
    );
  });
});

describe('SCardCancel', () => {
  it("unknown context → SCARD_E_INVALID_HANDLE (also another client's context)", async () => {
    const { r, client, ctx } = await oneReader();
    await fails(client.SCardCancel(0x999), SCARD_E_INVALID_HANDLE);
    const other = await r.client('other');
    await fails(other.client.SCardCancel(ctx), SCARD_E_INVALID_HANDLE, "another client's context");
  });

  it('nothing waiting → SUCCESS', async () => {
    const { client, ctx } = await oneReader();
    await ok(client.SCardCancel(ctx));
  });

  it('cancels only its own context: a waiter on another context keeps waiting', async () => {
    const { r, client, ctx, reader } = await oneReader();
    const other = await r.client('other');
    const current = (await readerState(client, ctx, reader)).dwEventState & ~SCARD_STATE_CHANGED;
    const mine = watch(client.SCardGetStatusChange(ctx, INFINITE, [{ szReader: reader, dwCurrentState: current }]));
    const theirs = watch(
      other.client.SCardGetStatusChange(other.ctx, INFINITE, [{ szReader: reader, dwCurrentState: current }]),
    );
    await stillPending(mine, 'my waiter');
    await ok(client.SCardCancel(ctx));
    await fails(mine.promise, SCARD_E_CANCELLED);
    await stillPending(theirs, "the other context's waiter");
    await ok(other.client.SCardCancel(other.ctx));
    await fails(theirs.promise, SCARD_E_CANCELLED);
  });
});

describe('per-context lock (note under the §2 table)', () => {
  it('a context serialises its calls (ListReaders waits behind its blocked GetStatusChange); other contexts run in parallel', async () => {
    const { client, ctx, reader, r } = await oneReader();
    const other = await r.client('other');
    const current = (await readerState(client, ctx, reader)).dwEventState & ~SCARD_STATE_CHANGED;
    const blocked = watch(client.SCardGetStatusChange(ctx, INFINITE, [{ szReader: reader, dwCurrentState: current }]));
    await stillPending(blocked, 'GetStatusChange');
    const queued = watch(client.SCardListReaders(ctx));
    await ok(other.client.SCardListReaders(other.ctx), 'another context');
    await stillPending(queued, 'ListReaders on the blocked context');
    await ok(client.SCardCancel(ctx), 'Cancel bypasses the lock');
    await fails(blocked.promise, SCARD_E_CANCELLED);
    expect((await ok(queued.promise)).readers).toEqual([reader]);
  });
});
