/**
 * Reference §2 rows BeginTransaction and EndTransaction (winscard.c, readerfactory.c RFLockSharing/RFUnlockSharing;
 * UnitaryTests SCardEndTransaction_extra_call.py, SCardBeginTransaction_*.py).
 */
import { describe, it } from 'vitest';
import {
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_VALUE,
  SCARD_E_NOT_TRANSACTED,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_E_SHARING_VIOLATION,
  SCARD_EJECT_CARD,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_RESET_CARD,
  SCARD_SHARE_DIRECT,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_UNAVAILABLE,
  SCARD_UNPOWER_CARD,
  SCARD_W_REMOVED_CARD,
  SCARD_W_RESET_CARD,
} from '../../../src/pcsc/index.js';
import { helloWorldCardT1 } from '../../../src/sim/index.js';
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

const twoHandles = () => sharedTwoHandles();

describe('SCardBeginTransaction', () => {
  it('check 1: unknown handle → SCARD_E_INVALID_HANDLE (never issued, disconnected)', async () => {
    const { a, ha } = await twoHandles();
    await fails(a.client.SCardBeginTransaction(0x31337), SCARD_E_INVALID_HANDLE);
    await ok(a.client.SCardDisconnect(ha, SCARD_LEAVE_CARD));
    await fails(a.client.SCardBeginTransaction(ha), SCARD_E_INVALID_HANDLE, 'disconnected');
  });

  it('check 2: reader in error → SCARD_E_READER_UNAVAILABLE, before the pending-event check', async () => {
    const r = rig();
    const { reader, names } = await r.addFake();
    const a = await r.client('A');
    const b = await r.client('B');
    const name = first(names);
    const ha = (await ok(a.client.SCardConnect(a.ctx, name, SCARD_SHARE_SHARED, T1))).hCard;
    const hb = (await ok(b.client.SCardConnect(b.ctx, name, SCARD_SHARE_SHARED, T1))).hCard;
    await ok(a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, T1, SCARD_RESET_CARD)); // flags hb W_RESET_CARD
    reader.slot0.breakDown();
    await waitState(a.client, a.ctx, name, SCARD_STATE_UNAVAILABLE);
    await fails(a.client.SCardBeginTransaction(ha), SCARD_E_READER_UNAVAILABLE);
    await fails(b.client.SCardBeginTransaction(hb), SCARD_E_READER_UNAVAILABLE, 'flagged handle');
  });

  it('check 3: pending event → SCARD_W_RESET_CARD ✔ / SCARD_W_REMOVED_CARD ✔', async () => {
    const { a, b, ha, hb, sim, reader } = await twoHandles();
    await ok(a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, T1, SCARD_RESET_CARD));
    await fails(b.client.SCardBeginTransaction(hb), SCARD_W_RESET_CARD, 'after another handle reset the card');
    await ok(a.client.SCardBeginTransaction(ha), 'the resetting handle is not flagged');
    await ok(a.client.SCardEndTransaction(ha, SCARD_LEAVE_CARD));
    sim.removeCard();
    await waitState(a.client, a.ctx, reader, SCARD_STATE_EMPTY);
    await fails(a.client.SCardBeginTransaction(ha), SCARD_W_REMOVED_CARD, 'after removal');
  });

  it('check 4: held by another handle → waits (the client retries) until EndTransaction', async () => {
    const { a, b, ha, hb } = await twoHandles();
    await ok(a.client.SCardBeginTransaction(ha));
    const waiting = watch(b.client.SCardBeginTransaction(hb));
    await stillPending(waiting, 'BeginTransaction while held', 250);
    await ok(a.client.SCardEndTransaction(ha, SCARD_LEAVE_CARD));
    await ok(waiting.promise, 'BeginTransaction after release');
    await fails(a.client.SCardEndTransaction(ha, SCARD_RESET_CARD), SCARD_E_SHARING_VIOLATION, 'now B holds it');
  });

  it('check 5: re-entrant per handle ✔: two Begins need two Ends before another handle gets it', async () => {
    const { a, b, ha, hb } = await twoHandles();
    await ok(a.client.SCardBeginTransaction(ha));
    await ok(a.client.SCardBeginTransaction(ha), 'second Begin of the same handle');
    const waiting = watch(b.client.SCardBeginTransaction(hb));
    await ok(a.client.SCardEndTransaction(ha, SCARD_LEAVE_CARD));
    await stillPending(waiting, 'BeginTransaction after one of two Ends', 250);
    await ok(a.client.SCardEndTransaction(ha, SCARD_LEAVE_CARD));
    await ok(waiting.promise);
  });

  it('check 6: no card-presence check: a DIRECT handle on an empty slot begins a transaction', async () => {
    const r = rig();
    const { names } = await r.addSim({ profile: 'gempc-twin' });
    const { client, ctx } = await r.client();
    const { hCard } = await ok(client.SCardConnect(ctx, first(names), SCARD_SHARE_DIRECT, 0));
    await ok(client.SCardBeginTransaction(hCard));
    await ok(client.SCardEndTransaction(hCard, SCARD_LEAVE_CARD));
  });
});

describe('SCardEndTransaction', () => {
  it('check 1: bad disposition → SCARD_E_INVALID_VALUE ✔, before the pending-event, sharing and not-holding checks', async () => {
    const { a, b, ha, hb } = await twoHandles();
    await fails(a.client.SCardEndTransaction(ha, 4), SCARD_E_INVALID_VALUE, 'not holding');
    await ok(a.client.SCardBeginTransaction(ha));
    await fails(a.client.SCardEndTransaction(ha, 4), SCARD_E_INVALID_VALUE, 'holding');
    await fails(b.client.SCardEndTransaction(hb, 0xffffffff), SCARD_E_INVALID_VALUE, 'another handle holds it');
    await ok(a.client.SCardEndTransaction(ha, SCARD_RESET_CARD)); // flags hb
    await fails(b.client.SCardEndTransaction(hb, 4), SCARD_E_INVALID_VALUE, 'with a pending W_RESET_CARD');
  });

  it('unknown handle → SCARD_E_INVALID_HANDLE: the client library looks the handle up before the server sees the disposition', async () => {
    const { a } = await twoHandles();
    await fails(a.client.SCardEndTransaction(0x31337, SCARD_LEAVE_CARD), SCARD_E_INVALID_HANDLE);
    await fails(a.client.SCardEndTransaction(0x31337, 4), SCARD_E_INVALID_HANDLE, 'bad disposition too');
  });

  it('check 2: pending event → SCARD_W_RESET_CARD (before NOT_TRANSACTED) / SCARD_W_REMOVED_CARD', async () => {
    const { a, b, ha, hb, sim, reader } = await twoHandles();
    await ok(a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, T1, SCARD_RESET_CARD));
    await fails(b.client.SCardEndTransaction(hb, SCARD_LEAVE_CARD), SCARD_W_RESET_CARD, 'flagged, not holding');
    await ok(a.client.SCardBeginTransaction(ha));
    sim.removeCard();
    await waitState(a.client, a.ctx, reader, SCARD_STATE_EMPTY);
    await fails(a.client.SCardEndTransaction(ha, SCARD_LEAVE_CARD), SCARD_W_REMOVED_CARD, 'holder after removal');
  });

  it('check 3: non-LEAVE while another handle holds the transaction → SCARD_E_SHARING_VIOLATION ✔ at once, nothing done', async () => {
    const { a, b, ha, hb } = await twoHandles();
    await ok(a.client.SCardTransmit(ha, PCI_T1, SELECT_HELLO));
    await ok(a.client.SCardBeginTransaction(ha));
    for (const d of [SCARD_RESET_CARD, SCARD_UNPOWER_CARD, SCARD_EJECT_CARD]) {
      await fails(b.client.SCardEndTransaction(hb, d), SCARD_E_SHARING_VIOLATION, `disposition ${d}`);
    }
    await ok(a.client.SCardTransmit(ha, PCI_T1, HELLO), 'the holder was not reset');
  });

  it("LEAVE while another handle holds it → SCARD_E_SHARING_VIOLATION (RFUnlockSharing's sharing check)", async () => {
    const { a, b, ha, hb } = await twoHandles();
    await ok(a.client.SCardBeginTransaction(ha));
    await fails(b.client.SCardEndTransaction(hb, SCARD_LEAVE_CARD), SCARD_E_SHARING_VIOLATION);
  });

  it('check 4: carries out the disposition even when it then returns NOT_TRANSACTED (not holding, RESET: card reset, every handle flagged)', async () => {
    const { a, b, ha, hb } = await twoHandles();
    await ok(a.client.SCardTransmit(ha, PCI_T1, SELECT_HELLO));
    await fails(b.client.SCardEndTransaction(hb, SCARD_RESET_CARD), SCARD_E_NOT_TRANSACTED);
    await fails(a.client.SCardTransmit(ha, PCI_T1, HELLO), SCARD_W_RESET_CARD, 'other handle flagged');
    await fails(b.client.SCardTransmit(hb, PCI_T1, HELLO), SCARD_W_RESET_CARD, "the caller's own flag is set too");
    await ok(a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, T1, SCARD_LEAVE_CARD));
    expectBytes(
      (await ok(a.client.SCardTransmit(ha, PCI_T1, HELLO))).recvBuffer,
      SW_INS_NOT_SUPPORTED,
      'selection lost by the reset',
    );
  });

  it('check 5: not holding → SCARD_E_NOT_TRANSACTED ✔; an extra call after End too (SCardEndTransaction_extra_call.py)', async () => {
    const { a, ha } = await twoHandles();
    await fails(a.client.SCardEndTransaction(ha, SCARD_LEAVE_CARD), SCARD_E_NOT_TRANSACTED, 'never began');
    await ok(a.client.SCardBeginTransaction(ha));
    await ok(a.client.SCardEndTransaction(ha, SCARD_LEAVE_CARD));
    await fails(a.client.SCardEndTransaction(ha, SCARD_LEAVE_CARD), SCARD_E_NOT_TRANSACTED, 'extra call');
  });

  it('§3: an EXCLUSIVE handle holds the lock implicitly (count 1): Begin, End, then an extra End → NOT_TRANSACTED ✔', async () => {
    const r = rig();
    const { names } = await r.addSim({ profile: 'gempc-twin', cards: [helloWorldCardT1()] });
    const { client, ctx } = await r.client();
    const { hCard } = await ok(client.SCardConnect(ctx, first(names), SCARD_SHARE_EXCLUSIVE, T1));
    await fails(client.SCardEndTransaction(hCard, SCARD_LEAVE_CARD), SCARD_E_NOT_TRANSACTED, 'End without Begin');
    await ok(client.SCardBeginTransaction(hCard));
    await ok(client.SCardEndTransaction(hCard, SCARD_LEAVE_CARD));
    await fails(client.SCardEndTransaction(hCard, SCARD_LEAVE_CARD), SCARD_E_NOT_TRANSACTED, 'extra End');
  });

  it("§3: EndTransaction(RESET) does not clear the caller's own flag: its next Transmit returns W_RESET_CARD ✔", async () => {
    const { a, ha } = await twoHandles();
    await ok(a.client.SCardBeginTransaction(ha));
    await ok(a.client.SCardEndTransaction(ha, SCARD_RESET_CARD));
    await fails(a.client.SCardTransmit(ha, PCI_T1, HELLO), SCARD_W_RESET_CARD);
  });
});
