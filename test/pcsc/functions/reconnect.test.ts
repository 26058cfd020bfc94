/**
 * Reference §2 row Reconnect, check by check (winscard_clnt.c retries SHARING_VIOLATION every 100 ms; winscard.c
 * SCardReconnect checks initialization, share mode, protocol, then the handle's reader).
 */
import { describe, expect, it } from 'vitest';
import { IFD } from '../../../src/ifd/errors.js';
import {
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_VALUE,
  SCARD_E_NO_SMARTCARD,
  SCARD_E_PROTO_MISMATCH,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_E_SHARING_VIOLATION,
  SCARD_EJECT_CARD,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_ANY,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_RESET_CARD,
  SCARD_SHARE_DIRECT,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNAVAILABLE,
  SCARD_UNPOWER_CARD,
  SCARD_W_REMOVED_CARD,
  SCARD_W_RESET_CARD,
  SCARD_W_UNRESPONSIVE_CARD,
} from '../../../src/pcsc/index.js';
import { dualProtocolCard, helloWorldCardT1 } from '../../../src/sim/index.js';
import {
  HELLO,
  SELECT_HELLO,
  SW_INS_NOT_SUPPORTED,
  expectBytes,
  fails,
  first,
  ok,
  rig,
  stillPending,
  waitState,
  watch,
  twoHandles as sharedTwoHandles,
} from './fixture.js';

const T1 = SCARD_PROTOCOL_T1;
const PCI_T1 = { dwProtocol: T1 };

const twoHandles = (card = helloWorldCardT1()) => sharedTwoHandles({ card });

describe('SCardReconnect', () => {
  it('check 1: unknown handle → SCARD_E_INVALID_HANDLE (client check: also with EJECT, a bad share mode or no protocol)', async () => {
    const { a, ha } = await twoHandles();
    await fails(a.client.SCardReconnect(0x4242, SCARD_SHARE_SHARED, T1, SCARD_LEAVE_CARD), SCARD_E_INVALID_HANDLE);
    await fails(
      a.client.SCardReconnect(0x4242, SCARD_SHARE_SHARED, T1, SCARD_EJECT_CARD),
      SCARD_E_INVALID_HANDLE,
      'with EJECT',
    );
    await fails(a.client.SCardReconnect(0x4242, 9, 0, 9), SCARD_E_INVALID_HANDLE, 'with everything wrong');
    await ok(a.client.SCardDisconnect(ha, SCARD_LEAVE_CARD));
    await fails(
      a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, T1, SCARD_LEAVE_CARD),
      SCARD_E_INVALID_HANDLE,
      'disconnected handle',
    );
  });

  it("check 1: another client's handle is unknown to this client → SCARD_E_INVALID_HANDLE", async () => {
    const { a, hb } = await twoHandles();
    await fails(a.client.SCardReconnect(hb, SCARD_SHARE_SHARED, T1, SCARD_LEAVE_CARD), SCARD_E_INVALID_HANDLE);
  });

  it("check 2: another handle's transaction → SHARING_VIOLATION, retried by the client every 100 ms ✔: Reconnect waits for EndTransaction", async () => {
    const { a, b, ha, hb } = await twoHandles();
    await ok(a.client.SCardBeginTransaction(ha));
    const waiting = watch(b.client.SCardReconnect(hb, SCARD_SHARE_SHARED, T1, SCARD_LEAVE_CARD));
    await stillPending(waiting, 'Reconnect during the transaction', 150);
    await ok(a.client.SCardEndTransaction(ha, SCARD_LEAVE_CARD));
    expect((await ok(waiting.promise)).dwActiveProtocol).toBe(T1);
  });

  it('check 3: initialization not LEAVE/RESET/UNPOWER (EJECT included) → SCARD_E_INVALID_VALUE ✔; before the share-mode and protocol checks', async () => {
    const { a, ha } = await twoHandles();
    await fails(a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, T1, SCARD_EJECT_CARD), SCARD_E_INVALID_VALUE, 'EJECT');
    await fails(a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, T1, 4), SCARD_E_INVALID_VALUE, '4');
    await fails(
      a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, 0, SCARD_EJECT_CARD),
      SCARD_E_INVALID_VALUE,
      'EJECT, no protocol',
    );
    await fails(a.client.SCardReconnect(ha, 9, T1, SCARD_EJECT_CARD), SCARD_E_INVALID_VALUE, 'EJECT, bad share mode');
    await ok(a.client.SCardTransmit(ha, PCI_T1, HELLO), 'the handle still works');
  });

  it('check 4: bad share mode → SCARD_E_INVALID_VALUE; before the protocol check', async () => {
    const { a, ha } = await twoHandles();
    await fails(a.client.SCardReconnect(ha, 0, T1, SCARD_LEAVE_CARD), SCARD_E_INVALID_VALUE, 'share 0');
    await fails(a.client.SCardReconnect(ha, 4, T1, SCARD_LEAVE_CARD), SCARD_E_INVALID_VALUE, 'share 4');
    await fails(a.client.SCardReconnect(ha, 4, 0, SCARD_LEAVE_CARD), SCARD_E_INVALID_VALUE, 'share 4, no protocol');
  });

  it('check 5: non-DIRECT with no T0/T1/RAW → SCARD_E_PROTO_MISMATCH ✔; a protocol other than the negotiated one → PROTO_MISMATCH ✔', async () => {
    const { a, ha } = await twoHandles(dualProtocolCard());
    await fails(
      a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, 0, SCARD_LEAVE_CARD),
      SCARD_E_PROTO_MISMATCH,
      'no protocol',
    );
    await fails(
      a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0, SCARD_LEAVE_CARD),
      SCARD_E_PROTO_MISMATCH,
      'T=0 after T=1 (LEAVE)',
    );
    expect(
      (await ok(a.client.SCardReconnect(ha, SCARD_SHARE_DIRECT, 0, SCARD_LEAVE_CARD))).dwActiveProtocol,
      'DIRECT',
    ).toBe(T1);
  });

  it('a RESET unsets the protocol: Reconnect(RESET) may then negotiate another one', async () => {
    const { a, ha } = await twoHandles(dualProtocolCard());
    expect(
      (await ok(a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0, SCARD_RESET_CARD))).dwActiveProtocol,
    ).toBe(SCARD_PROTOCOL_T0);
  });

  it('check 6: reader in error → SCARD_E_READER_UNAVAILABLE; the protocol check comes first', async () => {
    const r = rig();
    const { reader, names } = await r.addFake();
    const { client, ctx } = await r.client();
    const { hCard } = await ok(client.SCardConnect(ctx, first(names), SCARD_SHARE_SHARED, T1));
    reader.slot0.breakDown();
    await waitState(client, ctx, first(names), SCARD_STATE_UNAVAILABLE);
    await fails(
      client.SCardReconnect(hCard, SCARD_SHARE_SHARED, T1, SCARD_LEAVE_CARD),
      SCARD_E_READER_UNAVAILABLE,
      'LEAVE',
    );
    await fails(
      client.SCardReconnect(hCard, SCARD_SHARE_SHARED, T1, SCARD_RESET_CARD),
      SCARD_E_READER_UNAVAILABLE,
      'RESET',
    );
    await fails(
      client.SCardReconnect(hCard, SCARD_SHARE_SHARED, 0, SCARD_LEAVE_CARD),
      SCARD_E_PROTO_MISMATCH,
      'no protocol',
    );
  });

  it('check 7: RESET/UNPOWER with the card gone → SCARD_E_NO_SMARTCARD; LEAVE with no card → SCARD_E_NO_SMARTCARD', async () => {
    const { a, ha, sim, reader } = await twoHandles();
    sim.removeCard();
    await waitState(a.client, a.ctx, reader, SCARD_STATE_EMPTY);
    await fails(a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, T1, SCARD_RESET_CARD), SCARD_E_NO_SMARTCARD, 'RESET');
    await fails(
      a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, T1, SCARD_UNPOWER_CARD),
      SCARD_E_NO_SMARTCARD,
      'UNPOWER',
    );
    await fails(a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, T1, SCARD_LEAVE_CARD), SCARD_E_NO_SMARTCARD, 'LEAVE');
  });

  it('check 7: RESET that the card does not answer → SCARD_W_UNRESPONSIVE_CARD (and a later LEAVE too: the card is mute)', async () => {
    const r = rig();
    const { reader, names } = await r.addFake();
    const { client, ctx } = await r.client();
    const { hCard } = await ok(client.SCardConnect(ctx, first(names), SCARD_SHARE_SHARED, T1));
    reader.slot0.powerFailure = IFD.ERROR_POWER_ACTION;
    await fails(
      client.SCardReconnect(hCard, SCARD_SHARE_SHARED, T1, SCARD_RESET_CARD),
      SCARD_W_UNRESPONSIVE_CARD,
      'RESET',
    );
    await fails(
      client.SCardReconnect(hCard, SCARD_SHARE_SHARED, T1, SCARD_LEAVE_CARD),
      SCARD_W_UNRESPONSIVE_CARD,
      'LEAVE on a mute card',
    );
  });

  it('RESET resets the card: the applet selection is forgotten and the other handles get W_RESET_CARD', async () => {
    const { a, b, ha, hb } = await twoHandles();
    await ok(a.client.SCardTransmit(ha, PCI_T1, SELECT_HELLO));
    await ok(a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, T1, SCARD_RESET_CARD));
    expectBytes((await ok(a.client.SCardTransmit(ha, PCI_T1, HELLO))).recvBuffer, SW_INS_NOT_SUPPORTED, 'after reset');
    await fails(b.client.SCardTransmit(hb, PCI_T1, HELLO), SCARD_W_RESET_CARD, 'other handle');
  });

  it('check 8: to EXCLUSIVE must be the only handle: SHARING_VIOLATION is retried, so Reconnect waits until the other handle goes', async () => {
    const { a, b, ha, hb, reader } = await twoHandles();
    const waiting = watch(b.client.SCardReconnect(hb, SCARD_SHARE_EXCLUSIVE, T1, SCARD_LEAVE_CARD));
    await stillPending(waiting, 'Reconnect to EXCLUSIVE while another handle exists', 150);
    await ok(a.client.SCardDisconnect(ha, SCARD_LEAVE_CARD));
    await ok(waiting.promise, 'Reconnect to EXCLUSIVE once alone');
    await fails(
      a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, T1),
      SCARD_E_SHARING_VIOLATION,
      'now exclusive',
    );
    // (Back to SHARED, pcsc-lite 1.9.9 keeps the implicit lock: RFUnlockSharing refuses LockCount 1 while EXCLUSIVE.)
  });

  it("check 9: success clears this handle's pending W_RESET_CARD (not the others'); Reconnect never returns W_RESET_CARD itself", async () => {
    const r = rig();
    const sim = await r.addSim({ profile: 'gempc-twin', cards: [helloWorldCardT1()] });
    const reader = first(sim.names);
    const a = await r.client('A');
    const b = await r.client('B');
    const c = await r.client('C');
    const ha = (await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, T1))).hCard;
    const hb = (await ok(b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_SHARED, T1))).hCard;
    const hc = (await ok(c.client.SCardConnect(c.ctx, reader, SCARD_SHARE_SHARED, T1))).hCard;
    await ok(a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, T1, SCARD_RESET_CARD));
    await ok(a.client.SCardTransmit(ha, PCI_T1, HELLO), "the resetting handle's own flag is cleared");
    await ok(
      b.client.SCardReconnect(hb, SCARD_SHARE_SHARED, T1, SCARD_LEAVE_CARD),
      'flagged handle reconnects with SUCCESS',
    );
    await ok(b.client.SCardTransmit(hb, PCI_T1, HELLO), 'flag cleared by Reconnect');
    await fails(c.client.SCardTransmit(hc, PCI_T1, HELLO), SCARD_W_RESET_CARD, "the third handle's flag stays");
  });

  it('check 9: W_REMOVED_CARD stays set after reinsertion until Reconnect ✔, which returns SUCCESS and clears it', async () => {
    const { a, ha, sim, reader } = await twoHandles();
    sim.removeCard();
    await waitState(a.client, a.ctx, reader, SCARD_STATE_EMPTY);
    sim.insertCard(helloWorldCardT1());
    await waitState(a.client, a.ctx, reader, SCARD_STATE_PRESENT);
    await fails(a.client.SCardTransmit(ha, PCI_T1, HELLO), SCARD_W_REMOVED_CARD, 'after reinsertion');
    expect(
      (await ok(a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, SCARD_PROTOCOL_ANY, SCARD_LEAVE_CARD)))
        .dwActiveProtocol,
    ).toBe(T1);
    await ok(a.client.SCardTransmit(ha, PCI_T1, HELLO), 'cleared');
  });
});
