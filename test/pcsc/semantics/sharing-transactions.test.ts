/**
 * pcsc-lite reference §3 "Sharing and transactions" (readerfactory.c RFLockSharing/RFUnlockSharing/RFCheckSharing,
 * winscard.c, the client library's retry loops in winscard_clnt.c).
 */
import { describe, expect, it } from 'vitest';
import {
  CM_IOCTL_GET_FEATURE_REQUEST,
  SCARD_ATTR_ATR_STRING,
  SCARD_ATTR_VENDOR_NAME,
  SCARD_E_NOT_TRANSACTED,
  SCARD_E_SHARING_VIOLATION,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_RESET_CARD,
  SCARD_SHARE_DIRECT,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
  SCARD_UNPOWER_CARD,
  SCARD_W_REMOVED_CARD,
  SCARD_W_RESET_CARD,
} from '../../../src/pcsc/index.js';
import {
  HELLO,
  HELLO_RESPONSE,
  SELECT_HELLO,
  SW_OK,
  connectShared,
  expectCode,
  expectPending,
  expectResolves,
  expectSettlesWith,
  expectState,
  ok,
  rig,
  track,
  tx,
  closeRigsAfterEach,
  twoSharedHandles,
  type Client,
  type Rig,
} from './fixture.js';

const useRig = closeRigsAfterEach();

const T1 = { dwProtocol: SCARD_PROTOCOL_T1 };

/** Rig with A holding a transaction on hA, and B holding a plain shared handle hB. */
async function lockedByA(): Promise<{ r: Rig; a: Client; b: Client; hA: number; hB: number }> {
  const handles = await twoSharedHandles(await useRig(rig()));
  await ok(handles.a.api.SCardBeginTransaction(handles.hA), 'BeginTransaction(hA)');
  return handles;
}

describe('§3 Sharing: EXCLUSIVE', () => {
  it('an EXCLUSIVE handle implicitly holds the lock (count 1): EndTransaction → NOT_TRANSACTED ✔; Begin+End fine, one more End → NOT_TRANSACTED', async () => {
    const r = await useRig(rig());
    const a = r.clients[0]!;
    const { hCard } = await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1));
    await expectCode(a.api.SCardEndTransaction(hCard, SCARD_LEAVE_CARD), SCARD_E_NOT_TRANSACTED, 'End without Begin');
    await ok(a.api.SCardBeginTransaction(hCard));
    await ok(a.api.SCardEndTransaction(hCard, SCARD_LEAVE_CARD));
    await expectCode(a.api.SCardEndTransaction(hCard, SCARD_LEAVE_CARD), SCARD_E_NOT_TRANSACTED, 'extra End');
    // Still exclusive, still usable.
    expect(await tx(a, hCard, SELECT_HELLO)).toEqual(SW_OK);
  });

  it('reader held exclusively → Connect SHARING_VIOLATION (SHARED, EXCLUSIVE and DIRECT; other context and the same context ✔)', async () => {
    const r = await useRig(rig());
    const [a, b] = r.clients as [Client, Client];
    await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1));
    for (const c of [a, b]) {
      for (const mode of [SCARD_SHARE_SHARED, SCARD_SHARE_EXCLUSIVE, SCARD_SHARE_DIRECT]) {
        await expectCode(
          c.api.SCardConnect(c.ctx, r.name, mode, SCARD_PROTOCOL_T1),
          SCARD_E_SHARING_VIOLATION,
          `Connect mode ${mode} from ${c === a ? 'the same' : 'another'} context`,
        );
      }
    }
  });

  it('EXCLUSIVE Connect while other handles exist → SHARING_VIOLATION ✔ (a DIRECT handle counts)', async () => {
    const r = await useRig(rig());
    const [a, b] = r.clients as [Client, Client];
    const { hCard } = await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_DIRECT, 0));
    await expectCode(
      b.api.SCardConnect(b.ctx, r.name, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1),
      SCARD_E_SHARING_VIOLATION,
    );
    await ok(a.api.SCardDisconnect(hCard, SCARD_LEAVE_CARD));
    await ok(b.api.SCardConnect(b.ctx, r.name, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1), 'EXCLUSIVE once alone');
  });

  it('Reconnect to EXCLUSIVE while another handle exists retries (waits ✔) until it is the only handle', async () => {
    const r = await useRig(rig());
    const [a, b] = r.clients as [Client, Client];
    const hA = await connectShared(a, r.name);
    const hB = await connectShared(b, r.name);
    const w = track(b.api.SCardReconnect(hB, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD));
    await expectPending(w, 'Reconnect(EXCLUSIVE) with another handle');
    await ok(a.api.SCardDisconnect(hA, SCARD_LEAVE_CARD));
    expect((await expectResolves(w, 'Reconnect(EXCLUSIVE) once alone')).dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
    expectState((await r.state()).dwEventState, 0x0000_00a2, 'now exclusive');
  });
});

describe('§3 Transactions', () => {
  it('EndTransaction without a transaction → NOT_TRANSACTED ✔; an extra EndTransaction → NOT_TRANSACTED', async () => {
    const r = await useRig(rig());
    const a = r.clients[0]!;
    const h = await connectShared(a, r.name);
    await expectCode(a.api.SCardEndTransaction(h, SCARD_LEAVE_CARD), SCARD_E_NOT_TRANSACTED, 'End without Begin');
    await ok(a.api.SCardBeginTransaction(h));
    await ok(a.api.SCardEndTransaction(h, SCARD_LEAVE_CARD));
    await expectCode(a.api.SCardEndTransaction(h, SCARD_LEAVE_CARD), SCARD_E_NOT_TRANSACTED, 'extra End');
  });

  it('BeginTransaction is re-entrant per handle ✔: the lock is held until as many Ends as Begins', async () => {
    const r = await useRig(rig());
    const [a, b] = r.clients as [Client, Client];
    const hA = await connectShared(a, r.name);
    const hB = await connectShared(b, r.name);
    await ok(a.api.SCardBeginTransaction(hA));
    await ok(a.api.SCardBeginTransaction(hA));
    const w = track(b.api.SCardBeginTransaction(hB));
    await ok(a.api.SCardEndTransaction(hA, SCARD_LEAVE_CARD));
    await expectPending(w, "B's Begin with A's count at 1");
    await ok(a.api.SCardEndTransaction(hA, SCARD_LEAVE_CARD));
    await expectResolves(w, "B's Begin once A's count is 0");
  });

  it('another context of the same client is a different handle: it waits too', async () => {
    const r = await useRig(rig());
    const a = r.clients[0]!;
    const hA = await connectShared(a, r.name);
    const { hContext } = await ok(a.api.SCardEstablishContext(0));
    const { hCard: hA2 } = await ok(a.api.SCardConnect(hContext, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1));
    await ok(a.api.SCardBeginTransaction(hA));
    const w = track(a.api.SCardBeginTransaction(hA2));
    await expectPending(w, 'Begin on the second context');
    await ok(a.api.SCardEndTransaction(hA, SCARD_LEAVE_CARD));
    await expectResolves(w, 'Begin on the second context after End');
  });

  // While another handle holds the lock, these wait (and go on once it is released).
  const waiting: [string, (b: Client, hB: number, name: string) => Promise<unknown>][] = [
    ['Transmit', (b, hB) => b.api.SCardTransmit(hB, T1, SELECT_HELLO)],
    ['Status', (b, hB) => b.api.SCardStatus(hB)],
    [
      'Reconnect(SHARED, LEAVE)',
      (b, hB) => b.api.SCardReconnect(hB, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD),
    ],
    ['BeginTransaction', (b, hB) => b.api.SCardBeginTransaction(hB)],
    ['Connect(SHARED)', (b, _hB, name) => b.api.SCardConnect(b.ctx, name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)],
    ['Connect(DIRECT)', (b, _hB, name) => b.api.SCardConnect(b.ctx, name, SCARD_SHARE_DIRECT, 0)],
    ['Disconnect(RESET)', (b, hB) => b.api.SCardDisconnect(hB, SCARD_RESET_CARD)],
    ['Disconnect(UNPOWER)', (b, hB) => b.api.SCardDisconnect(hB, SCARD_UNPOWER_CARD)],
  ];
  for (const [what, call] of waiting) {
    it(`while another handle holds the transaction, ${what} waits ✔ and goes on after its EndTransaction`, async () => {
      const { r, a, b, hA, hB } = await lockedByA();
      const w = track(call(b, hB, r.name), what);
      await expectPending(w, what);
      await ok(a.api.SCardEndTransaction(hA, SCARD_LEAVE_CARD));
      await expectResolves(w, `${what} after the EndTransaction`);
    });
  }

  it('a waiting Transmit runs its APDU only after the transaction ends (the holder sees its own card state)', async () => {
    const { a, b, hA, hB } = await lockedByA();
    expect(await tx(a, hA, SELECT_HELLO)).toEqual(SW_OK);
    const w = track(b.api.SCardTransmit(hB, T1, HELLO));
    await expectPending(w, "B's Transmit");
    expect(await tx(a, hA, HELLO)).toEqual(HELLO_RESPONSE);
    await ok(a.api.SCardEndTransaction(hA, SCARD_LEAVE_CARD));
    expect((await expectResolves(w, "B's Transmit")).recvBuffer).toEqual(HELLO_RESPONSE);
  });

  it('Disconnect(LEAVE) by another handle does not wait (SCardBeginTransaction_ExclusiceMode.py)', async () => {
    const { b, hB } = await lockedByA();
    await ok(b.api.SCardDisconnect(hB, SCARD_LEAVE_CARD), 'Disconnect(LEAVE) while A holds the lock');
  });

  // While another handle holds the lock, these fail at once.
  const failing: [string, (b: Client, hB: number) => Promise<unknown>][] = [
    ['Control', (b, hB) => b.api.SCardControl(hB, CM_IOCTL_GET_FEATURE_REQUEST, Uint8Array.of(0))],
    ['GetAttrib', (b, hB) => b.api.SCardGetAttrib(hB, SCARD_ATTR_ATR_STRING)],
    ['SetAttrib', (b, hB) => b.api.SCardSetAttrib(hB, SCARD_ATTR_VENDOR_NAME, Uint8Array.of(0x41))],
    ['EndTransaction(RESET)', (b, hB) => b.api.SCardEndTransaction(hB, SCARD_RESET_CARD)],
    ['EndTransaction(UNPOWER)', (b, hB) => b.api.SCardEndTransaction(hB, SCARD_UNPOWER_CARD)],
    // RFUnlockSharing → RFCheckSharing fails for a handle that does not hold the lock.
    ['EndTransaction(LEAVE)', (b, hB) => b.api.SCardEndTransaction(hB, SCARD_LEAVE_CARD)],
  ];
  for (const [what, call] of failing) {
    it(`while another handle holds the transaction, ${what} fails at once with SHARING_VIOLATION ✔`, async () => {
      const { a, b, hA, hB } = await lockedByA();
      await expectCode(call(b, hB), SCARD_E_SHARING_VIOLATION, what);
      // The holder is untouched: no reset flag, the lock still its own.
      await ok(a.api.SCardStatus(hA), "holder's Status (not reset)");
      await ok(a.api.SCardEndTransaction(hA, SCARD_LEAVE_CARD));
    });
  }

  it('non-LEAVE EndTransaction by another handle does not reset the card (SCardBeginTransaction_Reset.py)', async () => {
    const { r, a, b, hA, hB } = await lockedByA();
    expect(await tx(a, hA, SELECT_HELLO)).toEqual(SW_OK);
    await expectCode(b.api.SCardEndTransaction(hB, SCARD_UNPOWER_CARD), SCARD_E_SHARING_VIOLATION);
    expect(r.sims[0]!.cardIn()?.powered).toBe(true);
    expect(await tx(a, hA, HELLO)).toEqual(HELLO_RESPONSE); // applet still selected
  });

  // The lock is released by: EndTransaction (count 0), Disconnect, card removal, the holder's context release, its
  // client's death. A waiting BeginTransaction retries: after removal its handle is flagged (W_REMOVED_CARD); after
  // release/death the holder's handle is Disconnect(RESET) (§3 Client death), flagging B with W_RESET_CARD.
  const releases: [string, (x: { r: Rig; a: Client; hA: number }) => Promise<unknown>, number | 'ok'][] = [
    ['EndTransaction(LEAVE)', ({ a, hA }) => a.api.SCardEndTransaction(hA, SCARD_LEAVE_CARD), 'ok'],
    ['Disconnect(LEAVE)', ({ a, hA }) => a.api.SCardDisconnect(hA, SCARD_LEAVE_CARD), 'ok'],
    ['card removal', ({ r }) => r.remove(), SCARD_W_REMOVED_CARD],
    ["the holder's ReleaseContext", ({ a }) => a.api.SCardReleaseContext(a.ctx), SCARD_W_RESET_CARD],
    ["the holder's client death", ({ a }) => a.api.close(), SCARD_W_RESET_CARD],
  ];
  for (const [what, release, expected] of releases) {
    it(`the lock is released by ${what}: the waiting BeginTransaction ends (${expected === 'ok' ? 'SUCCESS' : expected === SCARD_W_RESET_CARD ? 'W_RESET_CARD' : 'W_REMOVED_CARD'}) and a new handle locks at once`, async () => {
      const { r, a, b, hA, hB } = await lockedByA();
      const w = track(b.api.SCardBeginTransaction(hB));
      await expectPending(w, "B's BeginTransaction");
      await ok(release({ r, a, hA }) as Promise<unknown>, what);
      if (expected === 'ok') {
        await expectResolves(w, "B's BeginTransaction");
        await ok(b.api.SCardEndTransaction(hB, SCARD_LEAVE_CARD), "B's EndTransaction");
      } else await expectSettlesWith(w, expected, "B's BeginTransaction");
      if (expected === SCARD_W_REMOVED_CARD) await r.insert();
      const c = await r.newClient('C');
      const hC = await connectShared(c, r.name);
      await ok(c.api.SCardBeginTransaction(hC), 'a new handle locks at once');
    });
  }
});
