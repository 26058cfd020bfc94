/**
 * Reference §2 row Disconnect (winscard.c SCardDisconnect; UnitaryTests/SCard_RemovedReader.py).
 */
import { describe, expect, it } from 'vitest';
import {
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_VALUE,
  SCARD_E_NO_READERS_AVAILABLE,
  SCARD_E_SHARING_VIOLATION,
  SCARD_EJECT_CARD,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_RESET_CARD,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
  SCARD_UNPOWER_CARD,
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
  until,
  watch,
  twoHandles as sharedTwoHandles,
} from './fixture.js';

const T1 = SCARD_PROTOCOL_T1;
const PCI_T1 = { dwProtocol: T1 };

const twoHandles = () => sharedTwoHandles();

describe('SCardDisconnect', () => {
  it('check 1: unknown handle → SCARD_E_INVALID_HANDLE (never issued; disconnected twice; also with a bad disposition)', async () => {
    const { a, ha } = await twoHandles();
    await fails(
      a.client.SCardDisconnect(123456, SCARD_LEAVE_CARD),
      SCARD_E_INVALID_HANDLE,
      'FAKE_HANDLE of SCard_RemovedReader.py',
    );
    await fails(a.client.SCardDisconnect(123456, 9), SCARD_E_INVALID_HANDLE, 'bad disposition too');
    await ok(a.client.SCardDisconnect(ha, SCARD_LEAVE_CARD));
    await fails(a.client.SCardDisconnect(ha, SCARD_LEAVE_CARD), SCARD_E_INVALID_HANDLE, 'second disconnect');
  });

  it('check 2: disposition > 3 → SCARD_E_INVALID_VALUE ✔, and the handle stays connected', async () => {
    const { a, ha } = await twoHandles();
    await fails(a.client.SCardDisconnect(ha, 4), SCARD_E_INVALID_VALUE, '4');
    await fails(a.client.SCardDisconnect(ha, 0xffffffff), SCARD_E_INVALID_VALUE, '0xFFFFFFFF');
    await ok(a.client.SCardTransmit(ha, PCI_T1, HELLO), 'still connected');
  });

  it('check 3: reader gone → SUCCESS (any disposition), then SCARD_E_INVALID_HANDLE (SCard_RemovedReader.py)', async () => {
    const { a, b, ha, hb, sim, ccid } = await twoHandles();
    sim.unplug();
    ccid.markRemoved();
    await until(async () => {
      try {
        await a.client.SCardListReaders(a.ctx);
        return false;
      } catch (e) {
        return (e as { code?: number }).code === SCARD_E_NO_READERS_AVAILABLE;
      }
    }, 'the reader to be gone');
    await ok(a.client.SCardDisconnect(ha, SCARD_LEAVE_CARD), 'LEAVE');
    await ok(b.client.SCardDisconnect(hb, SCARD_RESET_CARD), 'RESET');
    await fails(a.client.SCardDisconnect(ha, SCARD_LEAVE_CARD), SCARD_E_INVALID_HANDLE, 'again');
    await ok(a.client.SCardReleaseContext(a.ctx));
    await fails(a.client.SCardReleaseContext(a.ctx), SCARD_E_INVALID_HANDLE, 'ReleaseContext again');
  });

  it('check 4: non-LEAVE while another handle holds the transaction → waits ✔, then carries out the disposition', async () => {
    const { a, b, ha, hb } = await twoHandles();
    await ok(a.client.SCardBeginTransaction(ha));
    const waiting = watch(b.client.SCardDisconnect(hb, SCARD_RESET_CARD));
    await stillPending(waiting, 'Disconnect(RESET) during the transaction', 150);
    await ok(a.client.SCardTransmit(ha, PCI_T1, HELLO), 'the holder still works undisturbed');
    await ok(a.client.SCardEndTransaction(ha, SCARD_LEAVE_CARD));
    await ok(waiting.promise, 'Disconnect(RESET) after EndTransaction');
    await fails(a.client.SCardTransmit(ha, PCI_T1, HELLO), SCARD_W_RESET_CARD, 'the reset happened');
  });

  it("check 4 is only for non-LEAVE: Disconnect(LEAVE) during another handle's transaction returns at once", async () => {
    const { a, b, ha, hb } = await twoHandles();
    await ok(a.client.SCardBeginTransaction(ha));
    await ok(b.client.SCardDisconnect(hb, SCARD_LEAVE_CARD));
    await ok(a.client.SCardTransmit(ha, PCI_T1, HELLO), 'no reset');
  });

  it('check 5: releases its own transaction (the waiting BeginTransaction of another handle gets it)', async () => {
    const { a, b, ha, hb } = await twoHandles();
    await ok(a.client.SCardBeginTransaction(ha));
    await ok(a.client.SCardBeginTransaction(ha));
    const waiting = watch(b.client.SCardBeginTransaction(hb));
    await stillPending(waiting, 'BeginTransaction while another handle holds it', 150);
    await ok(a.client.SCardDisconnect(ha, SCARD_LEAVE_CARD));
    await ok(waiting.promise, 'BeginTransaction after the holder disconnected');
  });

  it('an EXCLUSIVE handle frees the reader on Disconnect', async () => {
    const r = rig();
    const sim = await r.addSim({ profile: 'gempc-twin', cards: [helloWorldCardT1()] });
    const reader = first(sim.names);
    const a = await r.client('A');
    const b = await r.client('B');
    const { hCard } = await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_EXCLUSIVE, T1));
    await fails(b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_SHARED, T1), SCARD_E_SHARING_VIOLATION);
    await ok(a.client.SCardDisconnect(hCard, SCARD_LEAVE_CARD));
    await ok(b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_EXCLUSIVE, T1));
  });

  it('check 6: ignores pending events: a handle flagged W_RESET_CARD disconnects with SUCCESS', async () => {
    const { a, b, ha, hb } = await twoHandles();
    await ok(a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, T1, SCARD_RESET_CARD));
    await ok(b.client.SCardDisconnect(hb, SCARD_LEAVE_CARD));
  });

  it('LEAVE keeps the card state; RESET resets it (selection forgotten) and flags the others', async () => {
    const { a, b, ha, hb, reader } = await twoHandles();
    await ok(b.client.SCardTransmit(hb, PCI_T1, SELECT_HELLO));
    const hc = (await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, T1))).hCard;
    await ok(a.client.SCardDisconnect(hc, SCARD_LEAVE_CARD));
    expectBytes((await ok(b.client.SCardTransmit(hb, PCI_T1, HELLO))).recvBuffer, HELLO_RESPONSE, 'after LEAVE');
    await ok(a.client.SCardDisconnect(ha, SCARD_RESET_CARD));
    await fails(b.client.SCardTransmit(hb, PCI_T1, HELLO), SCARD_W_RESET_CARD, 'after RESET');
  });

  it('UNPOWER leaves the card unpowered (§3 Power); EJECT is accepted', async () => {
    const { a, b, ha, hb, card } = await twoHandles();
    await ok(b.client.SCardDisconnect(hb, SCARD_EJECT_CARD), 'EJECT');
    expect(card.powered).toBe(true);
    await ok(a.client.SCardDisconnect(ha, SCARD_UNPOWER_CARD));
    expect(card.powered).toBe(false);
  });
});
