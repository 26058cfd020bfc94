/**
 * pcsc-lite reference §3 "GetStatusChange, per entry" and §2 row GetStatusChange (winscard_clnt.c
 * SCardGetStatusChange): one test per rule.
 */
import { describe, expect, it } from 'vitest';
import {
  INFINITE,
  PNP_NOTIFICATION_READER_NAME,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_PARAMETER,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_E_TIMEOUT,
  SCARD_E_UNKNOWN_READER,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_RESET_CARD,
  SCARD_SHARE_DIRECT,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
  SCARD_STATE_CHANGED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_EXCLUSIVE,
  SCARD_STATE_IGNORE,
  SCARD_STATE_INUSE,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNAVAILABLE,
  SCARD_STATE_UNKNOWN,
  SCARD_UNPOWER_CARD,
  type ReaderStateIn,
} from '../../../src/pcsc/index.js';
import { helloWorldCardT1 } from '../../../src/sim/index.js';
import {
  FAKE_ATR,
  FakeReader,
  connectShared,
  expectCode,
  expectPending,
  expectResolves,
  expectState,
  fakeRig,
  ok,
  rig,
  track,
  closeRigsAfterEach,
  type Client,
} from './fixture.js';

const useRig = closeRigsAfterEach();

const gsc = (c: Client, timeout: number, states: ReaderStateIn[]) => c.api.SCardGetStatusChange(c.ctx, timeout, states);

/** One pass (timeout 0) that must find a change: returns the single entry's event state. */
async function onePass(c: Client, szReader: string, dwCurrentState: number): Promise<number> {
  const { readerStates } = await ok(
    gsc(c, 0, [{ szReader, dwCurrentState }]),
    `GetStatusChange(${szReader}, 0x${dwCurrentState.toString(16)})`,
  );
  return readerStates[0]!.dwEventState;
}

/** One pass (timeout 0) that must find no change: SCARD_E_TIMEOUT, with the states evaluated. */
async function noChange(c: Client, szReader: string, dwCurrentState: number): Promise<number> {
  const e = await expectCode(
    gsc(c, 0, [{ szReader, dwCurrentState }]),
    SCARD_E_TIMEOUT,
    `GetStatusChange(0x${dwCurrentState.toString(16)}) with nothing changed`,
  );
  return e.readerStates?.[0]?.dwEventState ?? -1;
}

describe('§3 GetStatusChange, per entry', () => {
  it('observed values ✔: idle card 0x0001_0022, in use 0x0001_0122, exclusive 0x0001_00A2, empty 0x0000_0012, after removal 0x0002_0012', async () => {
    const r = await useRig(rig({ sims: [{ cards: [] }, { cards: [] }] }));
    const [a, b] = r.clients as [Client, Client];
    expectState(await onePass(b, r.names[1]!, 0), 0x0000_0012, 'empty slot');
    await r.insert();
    expectState(await onePass(b, r.name, 0), 0x0001_0022, 'idle card');
    const h = await connectShared(a, r.name);
    expectState(await onePass(b, r.name, 0), 0x0001_0122, 'in use');
    await ok(a.api.SCardDisconnect(h, SCARD_LEAVE_CARD));
    const { hCard } = await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1));
    expectState(await onePass(b, r.name, 0), 0x0001_00a2, 'exclusive');
    await ok(a.api.SCardDisconnect(hCard, SCARD_LEAVE_CARD));
    await r.remove();
    expectState(await onePass(b, r.name, 0), 0x0002_0012, 'after removal');
  });

  it('UNAWARE (current state exactly 0) → CHANGED at once', async () => {
    const r = await useRig(rig());
    expectState(await onePass(r.clients[0]!, r.name, 0), SCARD_STATE_CHANGED | SCARD_STATE_PRESENT);
  });

  it('the ATR comes with PRESENT; an empty slot has none', async () => {
    const r = await useRig(rig({ sims: [{}, { cards: [] }] }));
    const c = r.clients[0]!;
    const { readerStates } = await ok(
      gsc(c, 0, [
        { szReader: r.names[0]!, dwCurrentState: 0 },
        { szReader: r.names[1]!, dwCurrentState: 0 },
      ]),
    );
    expect(Array.from(readerStates[0]!.rgbAtr)).toEqual(Array.from(FAKE_ATR)); // the hello-world T=1 card's ATR
    expect(readerStates[1]!.rgbAtr.length).toBe(0);
  });

  it('card absent: EMPTY, CHANGED when the current state has PRESENT; no change when it has EMPTY', async () => {
    const r = await useRig(rig({ sims: [{ cards: [] }] }));
    const c = r.clients[0]!;
    expectState(await onePass(c, r.name, SCARD_STATE_PRESENT), SCARD_STATE_EMPTY | SCARD_STATE_CHANGED);
    expectState(await noChange(c, r.name, SCARD_STATE_EMPTY), SCARD_STATE_EMPTY);
  });

  it('card present: PRESENT, CHANGED when the current state has EMPTY; no change when it has PRESENT', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    expectState(await onePass(c, r.name, SCARD_STATE_EMPTY), SCARD_STATE_PRESENT | SCARD_STATE_CHANGED);
    expectState(await noChange(c, r.name, SCARD_STATE_PRESENT), SCARD_STATE_PRESENT);
  });

  it('card that failed to power up: PRESENT | MUTE (CHANGED when the current state lacks MUTE), no ATR', async () => {
    const reader = new FakeReader('Mute Reader', { present: false });
    const f = await useRig(fakeRig([reader]));
    const c = f.clients[0]!;
    const name = f.names[0]!;
    reader.slots[0]!.mute = true;
    const w = track(gsc(c, INFINITE, [{ szReader: name, dwCurrentState: SCARD_STATE_EMPTY }]));
    reader.slots[0]!.insert();
    const { readerStates } = await expectResolves(w, 'the waiter on the insertion of a mute card');
    expectState(readerStates[0]!.dwEventState, 0x0001_0000 | SCARD_STATE_PRESENT | 0x200 | SCARD_STATE_CHANGED);
    expect(readerStates[0]!.rgbAtr.length).toBe(0);
    // Current state with MUTE: nothing changed.
    expectState(await noChange(c, name, 0x0001_0000 | SCARD_STATE_PRESENT | 0x200), 0x0001_0220);
    // Current state without MUTE: CHANGED.
    expectState(await onePass(c, name, 0x0001_0000 | SCARD_STATE_PRESENT), 0x0001_0222);
  });

  it('high word of the current state ≠ 0 and ≠ the counter → CHANGED; the event state carries the counter', async () => {
    const r = await useRig(rig({ sims: [{ cards: [] }] }));
    await r.insert(); // counter 1
    const c = r.clients[0]!;
    expectState(await onePass(c, r.name, 0x0005_0020), 0x0001_0022, 'stale counter 5');
    expectState(await noChange(c, r.name, 0x0001_0020), 0x0001_0020, 'right counter');
    // High word 0 means "no counter given": not compared.
    expectState(await noChange(c, r.name, 0x0000_0020), 0x0001_0020, 'no counter given');
  });

  it('exclusive handle: EXCLUSIVE; CHANGED when the current state has INUSE', async () => {
    const r = await useRig(rig());
    const [a, b] = r.clients as [Client, Client];
    await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1));
    expectState(await onePass(b, r.name, SCARD_STATE_PRESENT | SCARD_STATE_INUSE), 0x0000_00a2);
    expectState(await noChange(b, r.name, SCARD_STATE_PRESENT | SCARD_STATE_EXCLUSIVE), 0x0000_00a0);
  });

  it('shared handle: INUSE; CHANGED when the current state has EXCLUSIVE', async () => {
    const r = await useRig(rig());
    const [a, b] = r.clients as [Client, Client];
    await connectShared(a, r.name);
    expectState(await onePass(b, r.name, SCARD_STATE_PRESENT | SCARD_STATE_EXCLUSIVE), 0x0000_0122);
    expectState(await noChange(b, r.name, SCARD_STATE_PRESENT | SCARD_STATE_INUSE), 0x0000_0120);
  });

  it('direct handle with a card: INUSE; a direct handle on an empty reader: no INUSE', async () => {
    const r = await useRig(rig({ sims: [{}, { cards: [] }] }));
    const [a, b] = r.clients as [Client, Client];
    await ok(a.api.SCardConnect(a.ctx, r.names[0]!, SCARD_SHARE_DIRECT, 0));
    await ok(a.api.SCardConnect(a.ctx, r.names[1]!, SCARD_SHARE_DIRECT, 0));
    expectState(await onePass(b, r.names[0]!, 0), 0x0000_0122);
    expectState(await onePass(b, r.names[1]!, 0), 0x0000_0012);
  });

  it('free reader: neither flag; CHANGED when the current state has INUSE or EXCLUSIVE', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    expectState(await onePass(c, r.name, SCARD_STATE_PRESENT | SCARD_STATE_INUSE), 0x0000_0022);
    expectState(await onePass(c, r.name, SCARD_STATE_PRESENT | SCARD_STATE_EXCLUSIVE), 0x0000_0022);
  });

  it('free → INUSE alone does NOT fire ✔ (nor free → EXCLUSIVE); the waiter wakes on the next real change', async () => {
    const r = await useRig(rig());
    const [a, b] = r.clients as [Client, Client];
    const w = track(gsc(b, INFINITE, [{ szReader: r.name, dwCurrentState: SCARD_STATE_PRESENT }]));
    const h = await connectShared(a, r.name);
    await expectPending(w, 'waiter after a shared Connect');
    await ok(a.api.SCardDisconnect(h, SCARD_LEAVE_CARD)); // INUSE → free: the waiter's current state lacks INUSE
    await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1));
    await expectPending(w, 'waiter after an exclusive Connect');
    r.sims[0]!.removeCard();
    const { readerStates } = await expectResolves(w, 'waiter after the removal');
    // The EXCLUSIVE handle is still there: EXCLUSIVE is reported next to EMPTY (the sharing rule does not look at the
    // card), INUSE is not.
    expectState(
      readerStates[0]!.dwEventState,
      0x0001_0000 | SCARD_STATE_EMPTY | SCARD_STATE_EXCLUSIVE | SCARD_STATE_CHANGED,
    );
  });

  it('INUSE → free fires for a waiter whose current state has INUSE', async () => {
    const r = await useRig(rig());
    const [a, b] = r.clients as [Client, Client];
    const h = await connectShared(a, r.name);
    const w = track(gsc(b, INFINITE, [{ szReader: r.name, dwCurrentState: 0x0000_0120 }]));
    await expectPending(w, 'waiter while in use');
    await ok(a.api.SCardDisconnect(h, SCARD_LEAVE_CARD));
    const { readerStates } = await expectResolves(w, 'waiter after the last Disconnect');
    expectState(readerStates[0]!.dwEventState, 0x0000_0022);
  });

  // pcscd's event loop asks IFDHICCPresence on every round (after each card event or poll); a failure there is the
  // reader-in-error state (readerState SCARD_UNKNOWN). The fake slot fails IFDHICCPresence, then raises an event.
  it('reader in error: UNAVAILABLE (event state exactly UNAVAILABLE | CHANGED when the current state lacks it); back to normal → CHANGED', async () => {
    const reader = new FakeReader('Flaky Reader');
    const f = await useRig(fakeRig([reader]));
    const c = f.clients[0]!;
    const name = f.names[0]!;
    const w = track(gsc(c, INFINITE, [{ szReader: name, dwCurrentState: 0x0000_0020 }]));
    await expectPending(w, 'waiter before the error');
    reader.slots[0]!.setFailing(true);
    const { readerStates } = await expectResolves(w, 'waiter on the reader error');
    expectState(readerStates[0]!.dwEventState, SCARD_STATE_UNAVAILABLE | SCARD_STATE_CHANGED);
    expectState(await noChange(c, name, SCARD_STATE_UNAVAILABLE), SCARD_STATE_UNAVAILABLE);
    // §2 Connect: reader in error → READER_UNAVAILABLE.
    await expectCode(
      c.api.SCardConnect(c.ctx, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1),
      SCARD_E_READER_UNAVAILABLE,
    );
    // The other way round: the current state has UNAVAILABLE, the reader works again → CHANGED.
    const w2 = track(gsc(c, INFINITE, [{ szReader: name, dwCurrentState: SCARD_STATE_UNAVAILABLE }]));
    reader.slots[0]!.setFailing(false);
    const back = await expectResolves(w2, 'waiter on the reader recovering');
    expect(back.readerStates[0]!.dwEventState & (SCARD_STATE_CHANGED | SCARD_STATE_UNAVAILABLE)).toBe(
      SCARD_STATE_CHANGED,
    );
  });

  it('a named reader that disappears: UNKNOWN | UNAVAILABLE | CHANGED (current state lacks UNKNOWN)', async () => {
    const r = await useRig(rig({ sims: [{}, {}] }));
    const c = r.clients[0]!;
    const w = track(gsc(c, INFINITE, [{ szReader: r.names[1]!, dwCurrentState: 0x0000_0020 }]));
    await expectPending(w, 'waiter before the removal');
    await ok(r.daemon.removeReader(r.readers[1]!));
    const { readerStates } = await expectResolves(w, 'waiter on the reader removal');
    expectState(readerStates[0]!.dwEventState, SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE | SCARD_STATE_CHANGED);
  });

  it('current state has UNKNOWN and the reader exists (again) → CHANGED, UNKNOWN cleared', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    expectState(await onePass(c, r.name, SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE), 0x0000_0022);
  });

  it('PnP entry: CHANGED only if the reader count differs from the count at the start of the call ✔ (not UNAWARE, not card events)', async () => {
    const r = await useRig(rig({ sims: [{ cards: [] }] }));
    const c = r.clients[0]!;
    // UNAWARE does not fire for the PnP entry.
    const e = await expectCode(
      gsc(c, 0, [{ szReader: PNP_NOTIFICATION_READER_NAME, dwCurrentState: 0 }]),
      SCARD_E_TIMEOUT,
    );
    expect(e.readerStates?.[0]?.dwEventState).toBe(0);
    const w = track(gsc(c, INFINITE, [{ szReader: PNP_NOTIFICATION_READER_NAME, dwCurrentState: 0 }]));
    await r.insert();
    await expectPending(w, 'PnP waiter after a card insertion');
    await r.addSim();
    const { readerStates } = await expectResolves(w, 'PnP waiter after a reader was added');
    expectState(readerStates[0]!.dwEventState, SCARD_STATE_CHANGED, 'no count in the high word in 1.9.9');
    // Removal fires too.
    const w2 = track(gsc(c, INFINITE, [{ szReader: PNP_NOTIFICATION_READER_NAME, dwCurrentState: 0 }]));
    await expectPending(w2, 'PnP waiter before the removal');
    await ok(r.daemon.removeReader(r.readers[1]!));
    expectState(
      (await expectResolves(w2, 'PnP waiter after the removal')).readerStates[0]!.dwEventState,
      SCARD_STATE_CHANGED,
    );
  });

  it('the PnP name is case-insensitive', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    await expectCode(gsc(c, 0, [{ szReader: '\\\\?pnp?\\NOTIFICATION', dwCurrentState: 0 }]), SCARD_E_TIMEOUT);
  });

  it('timeout 0 = one pass: E_TIMEOUT at once when nothing changed, with the evaluated states', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    const e = await expectCode(gsc(c, 0, [{ szReader: r.name, dwCurrentState: 0x0000_0020 }]), SCARD_E_TIMEOUT);
    expect(e.readerStates).toHaveLength(1);
    expect(e.readerStates?.[0]?.szReader).toBe(r.name);
    expectState(e.readerStates?.[0]?.dwEventState, 0x0000_0020);
  });

  it('a finite timeout ends with E_TIMEOUT when nothing happens', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    await expectCode(gsc(c, 30, [{ szReader: r.name, dwCurrentState: 0x0000_0020 }]), SCARD_E_TIMEOUT);
  });

  it('INFINITE never returns on its own; an insertion wakes it', async () => {
    const r = await useRig(rig({ sims: [{ cards: [] }] }));
    const c = r.clients[0]!;
    const w = track(gsc(c, INFINITE, [{ szReader: r.name, dwCurrentState: 0x0000_0010 }]));
    await expectPending(w, 'INFINITE waiter', 400);
    r.sims[0]!.insertCard(helloWorldCardT1());
    const { readerStates } = await expectResolves(w, 'INFINITE waiter after the insertion');
    expectState(readerStates[0]!.dwEventState, 0x0001_0022);
  });

  it('a reset never wakes a waiter ✔ (Reconnect RESET/UNPOWER, EndTransaction RESET)', async () => {
    const r = await useRig(rig());
    const [a, b] = r.clients as [Client, Client];
    const h = await connectShared(a, r.name);
    const w = track(gsc(b, INFINITE, [{ szReader: r.name, dwCurrentState: 0x0000_0120 }]));
    await ok(a.api.SCardReconnect(h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_RESET_CARD));
    await ok(a.api.SCardReconnect(h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_UNPOWER_CARD));
    await ok(a.api.SCardBeginTransaction(h));
    await ok(a.api.SCardEndTransaction(h, SCARD_RESET_CARD));
    await expectPending(w, 'waiter after resets');
    r.sims[0]!.removeCard();
    expectState(
      (await expectResolves(w, 'waiter after removal')).readerStates[0]!.dwEventState,
      0x0001_0012 | SCARD_STATE_CHANGED,
    );
  });

  it('IGNORE entries stay 0 while the others are evaluated', async () => {
    const r = await useRig(rig({ sims: [{}, {}] }));
    const c = r.clients[0]!;
    const { readerStates } = await ok(
      gsc(c, 0, [
        { szReader: r.names[0]!, dwCurrentState: SCARD_STATE_IGNORE },
        { szReader: r.names[1]!, dwCurrentState: 0 },
      ]),
    );
    expectState(readerStates[0]!.dwEventState, 0, 'IGNORE entry');
    expectState(readerStates[1]!.dwEventState, 0x0000_0022, 'evaluated entry');
  });

  it('0 entries or all IGNORE → SUCCESS without checking the context ✔', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    const bogus = 0x1234_5678;
    await ok(c.api.SCardGetStatusChange(bogus, INFINITE, []), 'no entries, bogus context');
    const { readerStates } = await ok(
      c.api.SCardGetStatusChange(bogus, INFINITE, [{ szReader: 'no such reader', dwCurrentState: SCARD_STATE_IGNORE }]),
      'all IGNORE, bogus context, unknown name',
    );
    expectState(readerStates[0]!.dwEventState, 0);
  });

  it('more than 16 entries → INVALID_PARAMETER (checked first, even with a bogus context)', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    const entries = Array.from({ length: 17 }, () => ({ szReader: r.name, dwCurrentState: 0 }));
    await expectCode(c.api.SCardGetStatusChange(c.ctx, 0, entries), SCARD_E_INVALID_PARAMETER);
    await expectCode(c.api.SCardGetStatusChange(0x1234_5678, 0, entries), SCARD_E_INVALID_PARAMETER);
    // 16 entries are fine.
    await ok(c.api.SCardGetStatusChange(c.ctx, 0, entries.slice(0, 16)));
  });

  it('unknown context → INVALID_HANDLE; unknown name (not PnP) → UNKNOWN_READER ✔ (even next to an IGNORE)', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    await expectCode(
      c.api.SCardGetStatusChange(0x1234_5678, 0, [{ szReader: r.name, dwCurrentState: 0 }]),
      SCARD_E_INVALID_HANDLE,
    );
    await expectCode(gsc(c, 0, [{ szReader: 'No Such Reader 00 00', dwCurrentState: 0 }]), SCARD_E_UNKNOWN_READER);
    await expectCode(
      gsc(c, 0, [
        { szReader: r.name, dwCurrentState: 0 },
        { szReader: 'No Such Reader 00 00', dwCurrentState: 0 },
      ]),
      SCARD_E_UNKNOWN_READER,
    );
  });

  it('pvUserData and szReader come back as given', async () => {
    const r = await useRig(rig());
    const c = r.clients[0]!;
    const tag = { any: 'thing' };
    const { readerStates } = await ok(gsc(c, 0, [{ szReader: r.name, dwCurrentState: 0, pvUserData: tag }]));
    expect(readerStates[0]!.pvUserData).toBe(tag);
    expect(readerStates[0]!.szReader).toBe(r.name);
    expect(readerStates[0]!.dwCurrentState).toBe(0);
  });
});
