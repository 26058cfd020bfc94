/**
 * pcsc-lite 1.9.9 UnitaryTests/*.py, replayed against the daemon over the simulated reader and card. Each test names
 * the script it follows; what the script checks is asserted exactly (reference §2 rows and §3 rules in comments).
 */
import { describe, expect, it } from 'vitest';
import {
  INFINITE,
  SCARD_E_CANCELLED,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_NOT_TRANSACTED,
  SCARD_E_SHARING_VIOLATION,
  SCARD_E_TIMEOUT,
  SCARD_E_UNKNOWN_READER,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_ANY,
  SCARD_PROTOCOL_T1,
  SCARD_PROTOCOL_UNDEFINED,
  SCARD_RESET_CARD,
  SCARD_SCOPE_USER,
  SCARD_SHARE_DIRECT,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
  SCARD_UNPOWER_CARD,
  SCARD_W_REMOVED_CARD,
  type ReaderStateIn,
} from '../../../src/pcsc/index.js';
import { helloWorldCardT1, type SimulatedCard } from '../../../src/sim/index.js';
import {
  HELLO,
  HELLO_RESPONSE,
  SELECT_HELLO,
  SW_OK,
  expectCode,
  expectPending,
  expectResolves,
  expectSettlesWith,
  expectState,
  letRun,
  ok,
  rig,
  track,
  tx,
  waitFor,
  closeRigsAfterEach,
  type Client,
} from '../semantics/fixture.js';

const useRig = closeRigsAfterEach();

const connect = async (
  c: Client,
  name: string,
  mode = SCARD_SHARE_SHARED,
  protocols = SCARD_PROTOCOL_ANY,
  ctx = c.ctx,
) => ok(c.api.SCardConnect(ctx, name, mode, protocols), `Connect(${mode})`);

/** The script's prologue: a context, ListReaders, readers[0]. */
async function prologue(c: Client): Promise<string> {
  const { readers } = await ok(c.api.SCardListReaders(c.ctx, null));
  expect(readers.length).toBeGreaterThan(0);
  return readers[0]!;
}

describe('UnitaryTests: transactions', () => {
  it('SCardBeginTransaction_Disconnect.py: Begin twice, then Disconnect(RESET) and ReleaseContext succeed', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    const reader = await prologue(c);
    const { hCard } = await connect(c, reader);
    await ok(c.api.SCardBeginTransaction(hCard));
    await ok(c.api.SCardBeginTransaction(hCard));
    await ok(c.api.SCardDisconnect(hCard, SCARD_RESET_CARD));
    await ok(c.api.SCardReleaseContext(c.ctx));
    // The lock went with the handle: another client locks at once.
    const d = r.clients[1]!;
    const { hCard: h2 } = await connect(d, reader);
    await ok(d.api.SCardBeginTransaction(h2));
  });

  it('SCardBeginTransaction_ExclusiceMode.py: two handles of one context, one locked; Disconnect(LEAVE) of the other, End, Disconnect, then EXCLUSIVE Connect succeeds', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    const reader = await prologue(c);
    await ok(c.api.SCardEstablishContext(SCARD_SCOPE_USER)); // hcontext2, unused as in the script
    const { hCard: h1 } = await connect(c, reader);
    const { hCard: h2 } = await connect(c, reader);
    await ok(c.api.SCardBeginTransaction(h1));
    await ok(c.api.SCardDisconnect(h2, SCARD_LEAVE_CARD));
    await ok(c.api.SCardEndTransaction(h1, SCARD_LEAVE_CARD));
    await ok(c.api.SCardDisconnect(h1, SCARD_LEAVE_CARD));
    const { hCard: h3 } = await connect(c, reader, SCARD_SHARE_EXCLUSIVE);
    await ok(c.api.SCardDisconnect(h3, SCARD_LEAVE_CARD));
    await ok(c.api.SCardReleaseContext(c.ctx));
  });

  it('SCardBeginTransaction_Reset.py: EndTransaction(UNPOWER) by the handle not holding the lock → SHARING_VIOLATION and the card is not reset', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    const reader = await prologue(c);
    const { hCard: h1 } = await connect(c, reader);
    const { hCard: h2 } = await connect(c, reader);
    await ok(c.api.SCardBeginTransaction(h1));
    await expectCode(c.api.SCardEndTransaction(h2, SCARD_UNPOWER_CARD), SCARD_E_SHARING_VIOLATION);
    await ok(c.api.SCardStatus(h1), 'Status(h1) must not be W_RESET_CARD');
    await ok(c.api.SCardEndTransaction(h1, SCARD_LEAVE_CARD));
    await ok(c.api.SCardDisconnect(h1, SCARD_LEAVE_CARD));
    await ok(c.api.SCardDisconnect(h2, SCARD_LEAVE_CARD));
    await ok(c.api.SCardReleaseContext(c.ctx));
  });

  it('SCardBeginTransaction_SharedMode.py: client 1 leaves; client 3’s Begin blocks while client 2 holds the transaction, then transmits', async () => {
    const r = await useRig(rig({ clients: 3 }));
    const [c1, c2, c3] = r.clients as [Client, Client, Client];
    const reader = await prologue(c1);
    const h1 = (await connect(c1, reader)).hCard;
    const h3 = (await connect(c3, reader)).hCard;
    void h1;
    const h2 = (await connect(c2, reader)).hCard;
    await ok(c2.api.SCardBeginTransaction(h2));
    expect(await tx(c2, h2, SELECT_HELLO)).toEqual(SW_OK);
    await ok(c1.api.SCardReleaseContext(c1.ctx), 'client 1 releases its context (SUCCESS)');
    const begin3 = track(c3.api.SCardBeginTransaction(h3));
    await expectPending(begin3, 'client 3 Begin (should block)');
    expect(await tx(c2, h2, HELLO)).toEqual(HELLO_RESPONSE); // client 2's transaction undisturbed
    await ok(c2.api.SCardEndTransaction(h2, SCARD_LEAVE_CARD), 'client 2 End (not SHARING_VIOLATION)');
    await expectResolves(begin3, 'client 3 Begin');
    expect(await tx(c3, h3, SELECT_HELLO)).toEqual(SW_OK);
    await ok(c2.api.SCardReleaseContext(c2.ctx));
    await ok(c3.api.SCardReleaseContext(c3.ctx));
  });

  it('SCardBeginTransaction_deadlock.py: Reconnect of a second handle of the same context waits for the transaction, no deadlock', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    const reader = await prologue(c);
    const { hCard: h2 } = await connect(c, reader);
    const { hCard: h1 } = await connect(c, reader);
    await ok(c.api.SCardBeginTransaction(h1));
    const reconnect = track(c.api.SCardReconnect(h2, SCARD_SHARE_SHARED, SCARD_PROTOCOL_ANY, SCARD_LEAVE_CARD));
    await expectPending(reconnect, 'Reconnect(h2) during the transaction of h1');
    // The same context can still end its transaction while its other call waits (the retry loop lets go).
    await ok(c.api.SCardEndTransaction(h1, SCARD_LEAVE_CARD));
    expect((await expectResolves(reconnect, 'Reconnect(h2)')).dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
    await ok(c.api.SCardDisconnect(h2, SCARD_LEAVE_CARD));
    await ok(c.api.SCardDisconnect(h1, SCARD_LEAVE_CARD));
    await ok(c.api.SCardReleaseContext(c.ctx));
  });

  it('SCardEndTransaction_extra_call.py: the second EndTransaction → NOT_TRANSACTED', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    const { hCard } = await connect(c, await prologue(c));
    await ok(c.api.SCardBeginTransaction(hCard));
    await ok(c.api.SCardEndTransaction(hCard, SCARD_LEAVE_CARD));
    await expectCode(c.api.SCardEndTransaction(hCard, SCARD_LEAVE_CARD), SCARD_E_NOT_TRANSACTED);
    await ok(c.api.SCardReleaseContext(c.ctx));
  });
});

describe('UnitaryTests: Cancel', () => {
  async function watchAll(c: Client): Promise<ReaderStateIn[]> {
    const { readers } = await ok(c.api.SCardListReaders(c.ctx, null));
    const { readerStates } = await ok(
      c.api.SCardGetStatusChange(
        c.ctx,
        0,
        readers.map((szReader) => ({ szReader, dwCurrentState: 0 })),
      ),
    );
    return readerStates.map((s) => ({ szReader: s.szReader, dwCurrentState: s.dwEventState }));
  }

  it('SCardCancel.py: Cancel from another call ends a blocked GetStatusChange with E_CANCELLED; Cancel itself succeeds', async () => {
    const r = await useRig(rig({ sims: [{}, { cards: [] }] }));
    const c = r.clients[0]!;
    const states = await watchAll(c);
    const w = track(c.api.SCardGetStatusChange(c.ctx, 10_000, states));
    await expectPending(w, 'GetStatusChange before Cancel');
    await ok(c.api.SCardCancel(c.ctx), 'Cancel (bypasses the context lock)');
    await expectSettlesWith(w, SCARD_E_CANCELLED, 'the blocked GetStatusChange');
    await ok(c.api.SCardReleaseContext(c.ctx));
  });

  it('SCardCancel2.py: Cancel with nothing waiting → SUCCESS (1.9.9 client: not cancellable → SUCCESS); the next wait is not cancelled', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    await ok(c.api.SCardCancel(c.ctx));
    await expectCode(
      c.api.SCardGetStatusChange(c.ctx, 0, [{ szReader: r.name, dwCurrentState: 0x20 }]),
      SCARD_E_TIMEOUT,
      'a later wait is not cancelled',
    );
    await ok(c.api.SCardReleaseContext(c.ctx));
  });

  it('SCardCancel3.py: after a cancelled GetStatusChange the context goes on; Status after card removal → W_REMOVED_CARD (and nothing else)', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    const states = await watchAll(c);
    const { hCard } = await connect(c, r.name);
    const w = track(
      c.api.SCardGetStatusChange(
        c.ctx,
        10_000,
        states.map((s) => ({ ...s, dwCurrentState: s.dwCurrentState | 0x100 })),
      ),
    );
    await expectPending(w, 'GetStatusChange before Cancel');
    await ok(c.api.SCardCancel(c.ctx));
    await expectSettlesWith(w, SCARD_E_CANCELLED, 'the blocked GetStatusChange');
    await r.remove();
    await expectCode(c.api.SCardStatus(hCard), SCARD_W_REMOVED_CARD);
    await ok(c.api.SCardReleaseContext(c.ctx));
  });

  it('Cancel of an unknown context → INVALID_HANDLE; Cancel only reaches the caller’s own contexts', async () => {
    const r = await useRig(rig());
    const [a, b] = r.clients as [Client, Client];
    await expectCode(a.api.SCardCancel(0x0bad_cafe), SCARD_E_INVALID_HANDLE);
    const w = track(a.api.SCardGetStatusChange(a.ctx, INFINITE, [{ szReader: r.name, dwCurrentState: 0x20 }]));
    await expectPending(w, "A's wait");
    await expectCode(b.api.SCardCancel(a.ctx), SCARD_E_INVALID_HANDLE, "B cancelling A's context");
    await expectPending(w, "A's wait after B's attempt", 50);
    await ok(a.api.SCardCancel(a.ctx));
    await expectSettlesWith(w, SCARD_E_CANCELLED, "A's wait");
  });
});

describe('UnitaryTests: Connect DIRECT, exclusive behaviour', () => {
  it('SCardConnect_DIRECT.py: DIRECT on a fresh card → protocol UNDEFINED (Reconnect DIRECT too); SHARED → T=1; Reconnect DIRECT keeps T=1', async () => {
    const r = await useRig(rig({ graceMs: 60_000 }));
    const c = r.clients[0]!;
    const reader = await prologue(c);
    const d = await connect(c, reader, SCARD_SHARE_DIRECT);
    expect(d.dwActiveProtocol).toBe(SCARD_PROTOCOL_UNDEFINED);
    const rd = await ok(c.api.SCardReconnect(d.hCard, SCARD_SHARE_DIRECT, SCARD_PROTOCOL_ANY, SCARD_LEAVE_CARD));
    expect(rd.dwActiveProtocol).toBe(SCARD_PROTOCOL_UNDEFINED);
    await ok(c.api.SCardDisconnect(d.hCard, SCARD_LEAVE_CARD));
    const s = await connect(c, reader);
    expect(s.dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
    const rs = await ok(c.api.SCardReconnect(s.hCard, SCARD_SHARE_DIRECT, SCARD_PROTOCOL_ANY, SCARD_LEAVE_CARD));
    expect(rs.dwActiveProtocol).toBe(s.dwActiveProtocol);
    await ok(c.api.SCardDisconnect(s.hCard, SCARD_RESET_CARD));
    await ok(c.api.SCardReleaseContext(c.ctx));
  });

  it('SCardConnect_DIRECT2.py: SHARED/Transmit, DIRECT, SHARED/Transmit, Reconnect to DIRECT, SHARED/Transmit all succeed', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    const reader = await prologue(c);
    let { hCard } = await connect(c, reader);
    expect(await tx(c, hCard, SELECT_HELLO)).toEqual(SW_OK);
    await ok(c.api.SCardDisconnect(hCard, SCARD_LEAVE_CARD));
    ({ hCard } = await connect(c, reader, SCARD_SHARE_DIRECT));
    await ok(c.api.SCardDisconnect(hCard, SCARD_LEAVE_CARD));
    ({ hCard } = await connect(c, reader));
    expect(await tx(c, hCard, SELECT_HELLO)).toEqual(SW_OK);
    await ok(c.api.SCardReconnect(hCard, SCARD_SHARE_DIRECT, SCARD_PROTOCOL_ANY, SCARD_LEAVE_CARD));
    await ok(c.api.SCardDisconnect(hCard, SCARD_LEAVE_CARD));
    ({ hCard } = await connect(c, reader));
    expect(await tx(c, hCard, SELECT_HELLO)).toEqual(SW_OK);
    await ok(c.api.SCardDisconnect(hCard, SCARD_LEAVE_CARD));
    await ok(c.api.SCardReleaseContext(c.ctx));
  });

  it('SCardExclusiveBehaviour.py: EXCLUSIVE then SHARED from another context → SHARING_VIOLATION; SHARED then EXCLUSIVE → SHARING_VIOLATION', async () => {
    const r = await useRig(rig({ clients: 4 }));
    const [c1, c2, c3, c4] = r.clients as [Client, Client, Client, Client];
    const reader = await prologue(c1);
    const { hCard } = await connect(c1, reader, SCARD_SHARE_EXCLUSIVE);
    await expectCode(
      c2.api.SCardConnect(c2.ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_ANY),
      SCARD_E_SHARING_VIOLATION,
      'Test1',
    );
    await ok(c1.api.SCardDisconnect(hCard, SCARD_LEAVE_CARD));
    await connect(c3, reader, SCARD_SHARE_SHARED);
    await expectCode(
      c4.api.SCardConnect(c4.ctx, reader, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_ANY),
      SCARD_E_SHARING_VIOLATION,
      'Test2',
    );
  });
});

describe('UnitaryTests: GetStatusChange, RemovedReader, CheckAutoPowerOff', () => {
  it('SCardGetStatusChange.py: UNAWARE pass for every reader, then a wait that a card insertion ends', async () => {
    const r = await useRig(rig({ sims: [{}, { cards: [] }] }));
    const c = r.clients[0]!;
    const { readers } = await ok(c.api.SCardListReaders(c.ctx, null));
    const first = await ok(
      c.api.SCardGetStatusChange(
        c.ctx,
        0,
        readers.map((szReader) => ({ szReader, dwCurrentState: 0 })),
      ),
    );
    expect(first.readerStates.map((s) => s.dwEventState)).toEqual([0x0000_0022, 0x0000_0012]);
    const w = track(
      c.api.SCardGetStatusChange(
        c.ctx,
        10_000,
        first.readerStates.map((s) => ({ szReader: s.szReader, dwCurrentState: s.dwEventState })),
      ),
    );
    await expectPending(w, 'the 10 s wait');
    r.sims[1]!.insertCard(helloWorldCardT1());
    const { readerStates } = await expectResolves(w, 'the wait after the insertion');
    expectState(readerStates[0]!.dwEventState, 0x0000_0020, 'untouched reader: no CHANGED');
    expectState(readerStates[1]!.dwEventState, 0x0001_0022, 'reader with the new card');
  });

  it('SCardGetStatusChange2.py: unknown readers "a", "b" → UNKNOWN_READER', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    await expectCode(
      c.api.SCardGetStatusChange(c.ctx, 10, [
        { szReader: 'a', dwCurrentState: 0 },
        { szReader: 'b', dwCurrentState: 0 },
      ]),
      SCARD_E_UNKNOWN_READER,
    );
    await ok(c.api.SCardReleaseContext(c.ctx));
  });

  it('SCardGetStatusChange_PnP.py: readers plus the PnP entry; a new reader ends the wait with PnP CHANGED', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    const PNP = '\\\\?PnP?\\Notification';
    const entries = [
      { szReader: r.name, dwCurrentState: 0 },
      { szReader: PNP, dwCurrentState: 0 },
    ];
    const first = await ok(c.api.SCardGetStatusChange(c.ctx, 0, entries));
    expect(first.readerStates.map((s) => s.dwEventState)).toEqual([0x0000_0022, 0]);
    const w = track(
      c.api.SCardGetStatusChange(
        c.ctx,
        10_000,
        first.readerStates.map((s) => ({ szReader: s.szReader, dwCurrentState: s.dwEventState })),
      ),
    );
    await expectPending(w, 'the PnP wait');
    await r.addSim();
    const { readerStates } = await expectResolves(w, 'the PnP wait after a reader was added');
    expectState(readerStates[1]!.dwEventState, 0x0000_0002);
  });

  it('SCard_RemovedReader.py: fake handle → INVALID_HANDLE; after the reader is removed Disconnect → SUCCESS, again → INVALID_HANDLE; ReleaseContext twice → SUCCESS then INVALID_HANDLE', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    const { hCard } = await connect(c, await prologue(c));
    await expectCode(
      c.api.SCardDisconnect(123456, SCARD_LEAVE_CARD),
      SCARD_E_INVALID_HANDLE,
      'Disconnect(FAKE_HANDLE)',
    );
    await expectCode(c.api.SCardReleaseContext(123456), SCARD_E_INVALID_HANDLE, 'ReleaseContext(FAKE_HANDLE)');
    r.sims[0]!.unplug();
    r.readers[0]!.markRemoved();
    await waitFor(() => r.daemon.readerNames.length === 0, 'the daemon to drop the unplugged reader');
    await ok(c.api.SCardDisconnect(hCard, SCARD_LEAVE_CARD), 'Disconnect after the reader went');
    await expectCode(c.api.SCardDisconnect(hCard, SCARD_LEAVE_CARD), SCARD_E_INVALID_HANDLE, 'second Disconnect');
    await ok(c.api.SCardReleaseContext(c.ctx));
    await expectCode(c.api.SCardReleaseContext(c.ctx), SCARD_E_INVALID_HANDLE, 'second ReleaseContext');
  });

  it('CheckAutoPowerOff.py: after removal and reinsertion, Reconnect(EXCLUSIVE, LEAVE) keeps the card powered — never auto powered off (protocol never 0)', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    const { hCard } = await connect(c, r.name);
    await r.remove();
    await expectCode(c.api.SCardStatus(hCard), SCARD_W_REMOVED_CARD);
    await r.insert();
    const { dwActiveProtocol } = await ok(
      c.api.SCardReconnect(hCard, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_ANY, SCARD_LEAVE_CARD),
    );
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
    const card = r.sims[0]!.cardIn() as SimulatedCard;
    for (let i = 0; i < 10; i++) {
      await letRun(20); // one grace period each
      const st = await ok(c.api.SCardStatus(hCard));
      expect(st.dwProtocol, `Status #${i + 1}: the card is powered off`).not.toBe(0);
      expect(card.powered).toBe(true);
    }
    expect(await tx(c, hCard, SELECT_HELLO)).toEqual(SW_OK);
    await ok(c.api.SCardDisconnect(hCard, SCARD_LEAVE_CARD));
    await ok(c.api.SCardReleaseContext(c.ctx));
  });
});
