/**
 * Reference §2 rows EstablishContext, ReleaseContext, IsValidContext (and the per-context lock note under the table).
 */
import { describe, expect, it } from 'vitest';
import {
  INFINITE,
  SCARD_E_CANCELLED,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_VALUE,
  SCARD_E_NO_SERVICE,
  SCARD_E_SHARING_VIOLATION,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_GLOBAL,
  SCARD_SCOPE_SYSTEM,
  SCARD_SCOPE_TERMINAL,
  SCARD_SCOPE_USER,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
  SCARD_STATE_PRESENT,
  SCARD_W_RESET_CARD,
} from '../../../src/pcsc/index.js';
import { helloWorldCardT1 } from '../../../src/sim/index.js';
import {
  HELLO,
  HELLO_RESPONSE,
  SELECT_HELLO,
  expectBytes,
  fails,
  first,
  ok,
  rig,
  stillPending,
  watch,
} from './fixture.js';

describe('SCardEstablishContext', () => {
  it('scopes USER, TERMINAL, SYSTEM, GLOBAL (0–3) each give a new valid context', async () => {
    const r = rig();
    const { client } = await r.client();
    const seen = new Set<number>();
    for (const scope of [SCARD_SCOPE_USER, SCARD_SCOPE_TERMINAL, SCARD_SCOPE_SYSTEM, SCARD_SCOPE_GLOBAL]) {
      const { hContext } = await ok(client.SCardEstablishContext(scope), `scope ${scope}`);
      await ok(client.SCardIsValidContext(hContext));
      seen.add(hContext);
    }
    expect(seen.size).toBe(4);
  });

  it('check 2: scope not 0–3 → SCARD_E_INVALID_VALUE ✔ (4, 0x10, 0xFFFFFFFF)', async () => {
    const { client } = await rig().client();
    for (const scope of [4, 0x10, 0xffffffff])
      await fails(client.SCardEstablishContext(scope), SCARD_E_INVALID_VALUE, `scope ${scope}`);
  });

  it('check 1: service missing (daemon shut down) → SCARD_E_NO_SERVICE, before the scope check', async () => {
    const r = rig();
    const { client } = await r.client();
    await ok(r.daemon.shutdown());
    await fails(client.SCardEstablishContext(SCARD_SCOPE_SYSTEM), SCARD_E_NO_SERVICE);
    await fails(client.SCardEstablishContext(7), SCARD_E_NO_SERVICE, 'bad scope with no service');
  });
});

describe('SCardReleaseContext', () => {
  it('unknown context → SCARD_E_INVALID_HANDLE (never issued, already released: SCard_RemovedReader.py)', async () => {
    const { client, ctx } = await rig().client();
    await fails(client.SCardReleaseContext(123456), SCARD_E_INVALID_HANDLE, 'never issued');
    await ok(client.SCardReleaseContext(ctx));
    await fails(client.SCardReleaseContext(ctx), SCARD_E_INVALID_HANDLE, 'released twice');
    await fails(client.SCardIsValidContext(ctx), SCARD_E_INVALID_HANDLE, 'IsValidContext after release');
  });

  it("another client's context is unknown to this client → SCARD_E_INVALID_HANDLE (the client library's own map)", async () => {
    const r = rig();
    const a = await r.client('A');
    const b = await r.client('B');
    await fails(b.client.SCardReleaseContext(a.ctx), SCARD_E_INVALID_HANDLE);
    await ok(a.client.SCardIsValidContext(a.ctx));
  });

  it("disconnects all the context's handles (LEAVE): the reader is free again and the handles are gone", async () => {
    const r = rig();
    const { names } = await r.addSim({ profile: 'gempc-twin', cards: [helloWorldCardT1()] });
    const reader = first(names);
    const a = await r.client('A');
    const b = await r.client('B');
    const h1 = (await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1))).hCard;
    const h2 = (await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1))).hCard;
    await fails(
      b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1),
      SCARD_E_SHARING_VIOLATION,
      'exclusive while A holds',
    );
    await ok(a.client.SCardReleaseContext(a.ctx));
    await fails(a.client.SCardStatus(h1), SCARD_E_INVALID_HANDLE, 'handle 1 after release');
    await fails(a.client.SCardStatus(h2), SCARD_E_INVALID_HANDLE, 'handle 2 after release');
    await ok(b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1), 'exclusive after release');
  });

  it('the handle holding the transaction is disconnected with RESET (§3 client death): the other handle sees W_RESET_CARD', async () => {
    const r = rig();
    const { names } = await r.addSim({ profile: 'gempc-twin', cards: [helloWorldCardT1()] });
    const reader = first(names);
    const a = await r.client('A');
    const b = await r.client('B');
    const ha = (await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1))).hCard;
    const hb = (await ok(b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1))).hCard;
    await ok(a.client.SCardBeginTransaction(ha));
    await ok(a.client.SCardReleaseContext(a.ctx));
    await fails(b.client.SCardTransmit(hb, { dwProtocol: SCARD_PROTOCOL_T1 }, HELLO), SCARD_W_RESET_CARD);
    // the lock went with it
    await ok(b.client.SCardReconnect(hb, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD));
    await ok(b.client.SCardBeginTransaction(hb));
  });

  it('a handle not holding the lock is disconnected with LEAVE: the card is not reset', async () => {
    const r = rig();
    const { names } = await r.addSim({ profile: 'gempc-twin', cards: [helloWorldCardT1()] });
    const reader = first(names);
    const a = await r.client('A');
    const b = await r.client('B');
    await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1));
    const hb = (await ok(b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1))).hCard;
    await ok(b.client.SCardTransmit(hb, { dwProtocol: SCARD_PROTOCOL_T1 }, SELECT_HELLO));
    await ok(a.client.SCardReleaseContext(a.ctx));
    const { recvBuffer } = await ok(b.client.SCardTransmit(hb, { dwProtocol: SCARD_PROTOCOL_T1 }, HELLO));
    expectBytes(recvBuffer, HELLO_RESPONSE, 'applet still selected');
  });
});

describe('SCardIsValidContext', () => {
  it('SUCCESS for a live context; SCARD_E_INVALID_HANDLE for a never-issued or released one', async () => {
    const { client, ctx } = await rig().client();
    await ok(client.SCardIsValidContext(ctx));
    await fails(client.SCardIsValidContext(0), SCARD_E_INVALID_HANDLE, 'zero');
    await fails(client.SCardIsValidContext(ctx ^ 1), SCARD_E_INVALID_HANDLE, 'never issued');
    await ok(client.SCardReleaseContext(ctx));
    await fails(client.SCardIsValidContext(ctx), SCARD_E_INVALID_HANDLE, 'released');
  });

  it('bypasses the per-context lock: answers while the same context is blocked in GetStatusChange', async () => {
    const r = rig();
    const { names } = await r.addSim({ profile: 'gempc-twin', cards: [helloWorldCardT1()] });
    const { client, ctx } = await r.client();
    const reader = first(names);
    const present = await ok(client.SCardGetStatusChange(ctx, 0, [{ szReader: reader, dwCurrentState: 0 }]));
    const state = present.readerStates[0]?.dwEventState ?? 0;
    expect(state & SCARD_STATE_PRESENT).toBe(SCARD_STATE_PRESENT);
    const waiter = watch(
      client.SCardGetStatusChange(ctx, INFINITE, [{ szReader: reader, dwCurrentState: state & ~2 }]),
    );
    await stillPending(waiter, 'GetStatusChange with the current state');
    await ok(client.SCardIsValidContext(ctx), 'IsValidContext during the wait');
    await ok(client.SCardCancel(ctx));
    await fails(waiter.promise, SCARD_E_CANCELLED);
  });
});
