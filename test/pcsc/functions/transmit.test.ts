/**
 * Reference §2 row Transmit (winscard_clnt.c SCardTransmit, winscard_svc.c buffer check, winscard.c SCardTransmit,
 * ifdwrapper.c IFDTransmit's error mapping) and UnitaryTests/BufferOverflow_SCardTransmit.c.
 */
import { describe, expect, it } from 'vitest';
import { IFD } from '../../../src/ifd/errors.js';
import {
  MAX_BUFFER_SIZE_EXTENDED,
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_VALUE,
  SCARD_E_NO_SMARTCARD,
  SCARD_E_NOT_TRANSACTED,
  SCARD_E_PROTO_MISMATCH,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_ANY,
  SCARD_PROTOCOL_ANY_OLD,
  SCARD_PROTOCOL_RAW,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_RESET_CARD,
  SCARD_SHARE_DIRECT,
  SCARD_SHARE_SHARED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_UNAVAILABLE,
  SCARD_W_REMOVED_CARD,
  SCARD_W_RESET_CARD,
} from '../../../src/pcsc/index.js';
import { helloWorldCardT0, helloWorldCardT1, pinCard } from '../../../src/sim/index.js';
import {
  HELLO,
  HELLO_RESPONSE,
  SELECT_HELLO,
  SELECT_PIN,
  SW_INS_NOT_SUPPORTED,
  SW_OK,
  expectBytes,
  fails,
  first,
  getChallenge,
  ok,
  rig,
  settle,
  stillPending,
  verifyPin,
  waitState,
  watch,
  twoHandles as sharedTwoHandles,
} from './fixture.js';

const T1 = SCARD_PROTOCOL_T1;
const PCI_T1 = { dwProtocol: T1 };
/** SELECT MF asking for the FCI (P2 = 00, Le present): 9 bytes of FCI + 90 00. */
const SELECT_MF_FCI = Uint8Array.of(0x00, 0xa4, 0x00, 0x00, 0x02, 0x3f, 0x00, 0x00);

const twoHandles = (card = helloWorldCardT1()) => sharedTwoHandles({ card, protocols: SCARD_PROTOCOL_ANY });

async function fakeHandle() {
  const r = rig();
  const { reader, names } = await r.addFake();
  const c = await r.client();
  const { hCard } = await ok(c.client.SCardConnect(c.ctx, first(names), SCARD_SHARE_SHARED, T1));
  return { r, fake: reader, slot: reader.slot0, name: first(names), ...c, hCard };
}

describe('SCardTransmit', () => {
  it('works: SELECT then the hello-world command; recvPci carries the protocol', async () => {
    const { a, ha } = await twoHandles();
    expectBytes((await ok(a.client.SCardTransmit(ha, PCI_T1, SELECT_HELLO))).recvBuffer, SW_OK, 'SELECT');
    const { recvBuffer, recvPci } = await ok(a.client.SCardTransmit(ha, PCI_T1, HELLO));
    expectBytes(recvBuffer, HELLO_RESPONSE, 'hello');
    expect(recvPci.dwProtocol).toBe(T1);
  });

  it('check 1: unknown handle → SCARD_E_INVALID_HANDLE (also with an oversized APDU)', async () => {
    const { a } = await twoHandles();
    await fails(a.client.SCardTransmit(0x777, PCI_T1, HELLO), SCARD_E_INVALID_HANDLE);
    await fails(
      a.client.SCardTransmit(0x777, PCI_T1, new Uint8Array(MAX_BUFFER_SIZE_EXTENDED + 1)),
      SCARD_E_INVALID_HANDLE,
      'oversized',
    );
  });

  it("check 2: input > 65548 → SCARD_E_INSUFFICIENT_BUFFER ✔ at once, even during another handle's transaction", async () => {
    const { a, b, ha, hb } = await twoHandles();
    await fails(
      b.client.SCardTransmit(hb, PCI_T1, new Uint8Array(MAX_BUFFER_SIZE_EXTENDED + 1)),
      SCARD_E_INSUFFICIENT_BUFFER,
    );
    await ok(a.client.SCardBeginTransaction(ha));
    await fails(
      b.client.SCardTransmit(hb, PCI_T1, new Uint8Array(MAX_BUFFER_SIZE_EXTENDED + 1)),
      SCARD_E_INSUFFICIENT_BUFFER,
      'during a transaction',
    );
  });

  it("check 3: another handle's transaction → Transmit waits until EndTransaction", async () => {
    const { a, b, ha, hb } = await twoHandles();
    await ok(a.client.SCardBeginTransaction(ha));
    const waiting = watch(b.client.SCardTransmit(hb, PCI_T1, SELECT_HELLO));
    await stillPending(waiting, 'Transmit during the transaction', 150);
    await ok(a.client.SCardTransmit(ha, PCI_T1, HELLO), 'the holder transmits');
    await ok(a.client.SCardEndTransaction(ha, SCARD_LEAVE_CARD));
    expectBytes((await ok(waiting.promise)).recvBuffer, SW_OK);
  });

  it('check 4: reader in error → SCARD_E_READER_UNAVAILABLE, before the pending-event check', async () => {
    const { client, ctx, hCard, slot, name } = await fakeHandle();
    const other = (await ok(client.SCardConnect(ctx, name, SCARD_SHARE_SHARED, T1))).hCard;
    await ok(client.SCardReconnect(other, SCARD_SHARE_SHARED, T1, SCARD_RESET_CARD)); // flags hCard
    slot.breakDown();
    await waitState(client, ctx, name, SCARD_STATE_UNAVAILABLE);
    await fails(client.SCardTransmit(hCard, PCI_T1, HELLO), SCARD_E_READER_UNAVAILABLE);
  });

  it('check 5: pending event → SCARD_W_RESET_CARD ✔ / SCARD_W_REMOVED_CARD ✔, before the card and protocol checks', async () => {
    const { a, b, ha, hb, sim, reader } = await twoHandles();
    await ok(a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, T1, SCARD_RESET_CARD));
    await fails(
      b.client.SCardTransmit(hb, { dwProtocol: SCARD_PROTOCOL_T0 }, HELLO),
      SCARD_W_RESET_CARD,
      'wrong PCI too',
    );
    sim.removeCard();
    await waitState(a.client, a.ctx, reader, SCARD_STATE_EMPTY);
    await fails(a.client.SCardTransmit(ha, PCI_T1, HELLO), SCARD_W_REMOVED_CARD, 'card removed');
  });

  it('check 6: no card (PCI not RAW) → SCARD_E_NO_SMARTCARD ✔, before the protocol check', async () => {
    const r = rig();
    const { names } = await r.addSim({ profile: 'gempc-twin' });
    const { client, ctx } = await r.client();
    const { hCard } = await ok(client.SCardConnect(ctx, first(names), SCARD_SHARE_DIRECT, 0));
    await fails(client.SCardTransmit(hCard, PCI_T1, HELLO), SCARD_E_NO_SMARTCARD, 'T1');
    await fails(client.SCardTransmit(hCard, { dwProtocol: SCARD_PROTOCOL_T0 }, HELLO), SCARD_E_NO_SMARTCARD, 'T0');
  });

  it('check 7: PCI protocol ≠ negotiated protocol (ANY also fails) → SCARD_E_PROTO_MISMATCH ✔; ANY_OLD uses the negotiated one', async () => {
    const { a, ha } = await twoHandles();
    await fails(
      a.client.SCardTransmit(ha, { dwProtocol: SCARD_PROTOCOL_T0 }, HELLO),
      SCARD_E_PROTO_MISMATCH,
      'T0 on T=1',
    );
    await fails(a.client.SCardTransmit(ha, { dwProtocol: SCARD_PROTOCOL_ANY }, HELLO), SCARD_E_PROTO_MISMATCH, 'ANY');
    await fails(a.client.SCardTransmit(ha, { dwProtocol: 0 }, HELLO), SCARD_E_PROTO_MISMATCH, 'UNDEFINED');
    expectBytes(
      (await ok(a.client.SCardTransmit(ha, { dwProtocol: SCARD_PROTOCOL_ANY_OLD }, SELECT_HELLO))).recvBuffer,
      SW_OK,
      'ANY_OLD',
    );
  });

  it('check 7: T=1 PCI on a T=0 card → PROTO_MISMATCH; T=0 PCI works (61 0C answered by the T=0 card)', async () => {
    const { a, ha } = await twoHandles(helloWorldCardT0());
    await fails(a.client.SCardTransmit(ha, PCI_T1, SELECT_HELLO), SCARD_E_PROTO_MISMATCH);
    expectBytes(
      (await ok(a.client.SCardTransmit(ha, { dwProtocol: SCARD_PROTOCOL_T0 }, SELECT_HELLO))).recvBuffer,
      SW_OK,
    );
  });

  it('check 7: a DIRECT handle with no negotiated protocol → PROTO_MISMATCH', async () => {
    const r = rig();
    const card = helloWorldCardT1();
    const { names } = await r.addSim({ profile: 'gempc-twin', cards: [card] });
    const { client, ctx } = await r.client();
    const { hCard } = await ok(client.SCardConnect(ctx, first(names), SCARD_SHARE_DIRECT, 0));
    await fails(client.SCardTransmit(hCard, PCI_T1, HELLO), SCARD_E_PROTO_MISMATCH);
  });

  it('check 8: reader unplugged under the exchange (IFD_NO_SUCH_DEVICE) → SCARD_E_READER_UNAVAILABLE', async () => {
    const { client, hCard, slot } = await fakeHandle();
    slot.transmitFailure = IFD.NO_SUCH_DEVICE;
    await fails(client.SCardTransmit(hCard, PCI_T1, HELLO), SCARD_E_READER_UNAVAILABLE);
  });

  it('§2 rule "in S, a handle found in no reader\'s list → E_INVALID_VALUE": after the reader is removed, Transmit and BeginTransaction get INVALID_VALUE, Disconnect SUCCESS', async () => {
    const { r, fake, client, hCard } = await fakeHandle();
    await ok(r.daemon.removeReader(fake));
    await fails(client.SCardTransmit(hCard, PCI_T1, HELLO), SCARD_E_INVALID_VALUE, 'Transmit');
    await fails(client.SCardBeginTransaction(hCard), SCARD_E_INVALID_VALUE, 'BeginTransaction');
    await ok(client.SCardDisconnect(hCard, SCARD_LEAVE_CARD), 'Disconnect');
  });

  it('check 9: card gone under the exchange (IFD_ICC_NOT_PRESENT) → SCARD_E_NO_SMARTCARD', async () => {
    const { client, hCard, slot } = await fakeHandle();
    slot.transmitFailure = IFD.ICC_NOT_PRESENT;
    await fails(client.SCardTransmit(hCard, PCI_T1, HELLO), SCARD_E_NO_SMARTCARD);
  });

  it('check 10: other driver failure → SCARD_E_NOT_TRANSACTED (communication error, timeout)', async () => {
    const { client, hCard, slot } = await fakeHandle();
    slot.transmitFailure = IFD.COMMUNICATION_ERROR;
    await fails(client.SCardTransmit(hCard, PCI_T1, HELLO), SCARD_E_NOT_TRANSACTED, 'communication error');
    slot.transmitFailure = IFD.RESPONSE_TIMEOUT;
    await fails(client.SCardTransmit(hCard, PCI_T1, HELLO), SCARD_E_NOT_TRANSACTED, 'response timeout');
  });

  it('check 11: response larger than recvLength → INSUFFICIENT_BUFFER with the size and no data, after the APDU ran ✔ (the selection changed)', async () => {
    const { a, ha, card } = await twoHandles();
    await ok(a.client.SCardTransmit(ha, PCI_T1, SELECT_HELLO));
    const e = await fails(
      a.client.SCardTransmit(ha, PCI_T1, SELECT_MF_FCI, { recvLength: 5 }),
      SCARD_E_INSUFFICIENT_BUFFER,
    );
    expect(e.needed).toBe(11); // FCI 6F 07 83 02 3F 00 82 01 38 + 90 00
    expect(card.applications.selected).toBe('mf');
    expectBytes(
      (await ok(a.client.SCardTransmit(ha, PCI_T1, HELLO))).recvBuffer,
      SW_INS_NOT_SUPPORTED,
      'hello applet no longer selected',
    );
    await ok(a.client.SCardTransmit(ha, PCI_T1, SELECT_HELLO));
    const e0 = await fails(
      a.client.SCardTransmit(ha, PCI_T1, HELLO, { recvLength: 13 }),
      SCARD_E_INSUFFICIENT_BUFFER,
      'hello in 13 bytes',
    );
    expect(e0.needed).toBe(14);
    expectBytes(
      (await ok(a.client.SCardTransmit(ha, PCI_T1, HELLO, { recvLength: 14 }))).recvBuffer,
      HELLO_RESPONSE,
      'exact size',
    );
  });

  it('check 11 also below 2 bytes: the server always has a full buffer, so recvLength 1 runs the APDU and asks for 2', async () => {
    const { a, ha, card } = await twoHandles();
    const e = await fails(
      a.client.SCardTransmit(ha, PCI_T1, SELECT_HELLO, { recvLength: 1 }),
      SCARD_E_INSUFFICIENT_BUFFER,
    );
    expect(e.needed).toBe(2);
    expect(card.applications.selected).toBe('hello');
    const e0 = await fails(
      a.client.SCardTransmit(ha, PCI_T1, HELLO, { recvLength: 0 }),
      SCARD_E_INSUFFICIENT_BUFFER,
      'recvLength 0',
    );
    expect(e0.needed).toBe(14);
  });

  it('check 11: the PIN try counter proves it: a wrong VERIFY answered into a 1-byte buffer still cost a try (never a silent truncation)', async () => {
    const { a, ha, card } = await twoHandles(pinCard());
    await ok(a.client.SCardTransmit(ha, PCI_T1, SELECT_PIN));
    expect(card.applications.pinTriesLeft).toBe(3);
    const e = await fails(
      a.client.SCardTransmit(ha, PCI_T1, verifyPin('0000'), { recvLength: 1 }),
      SCARD_E_INSUFFICIENT_BUFFER,
    );
    expect(e.needed).toBe(2);
    expect(card.applications.pinTriesLeft).toBe(2);
    expectBytes((await ok(a.client.SCardTransmit(ha, PCI_T1, verifyPin('1234')))).recvBuffer, SW_OK, 'right PIN');
    expect(card.applications.pinTriesLeft).toBe(3);
  });

  it('BufferOverflow_SCardTransmit.c: GET CHALLENGE 32 into 30 → INSUFFICIENT_BUFFER, needed 34; 34 succeeds; 65549 is no overflow', async () => {
    const { a, ha } = await twoHandles();
    const e = await fails(
      a.client.SCardTransmit(ha, PCI_T1, getChallenge(0x20), { recvLength: 30 }),
      SCARD_E_INSUFFICIENT_BUFFER,
    );
    expect(e.needed).toBe(34);
    const second = await ok(a.client.SCardTransmit(ha, PCI_T1, getChallenge(0x20), { recvLength: e.needed ?? 0 }));
    expect(second.recvBuffer).toHaveLength(34);
    expectBytes(second.recvBuffer.subarray(32), SW_OK, 'SW');
    const third = await ok(
      a.client.SCardTransmit(ha, PCI_T1, getChallenge(0x20), { recvLength: MAX_BUFFER_SIZE_EXTENDED + 1 }),
    );
    expect(third.recvBuffer).toHaveLength(34);
  });

  it('RAW PCI skips the card and protocol checks and reaches the driver', async () => {
    const { client, hCard, slot } = await fakeHandle();
    slot.transmitHandler = () => Uint8Array.of(0x90, 0x00);
    const before = slot.calls.filter((c) => c.startsWith('transmit')).length;
    await settle(client.SCardTransmit(hCard, { dwProtocol: SCARD_PROTOCOL_RAW }, HELLO));
    expect(slot.calls.filter((c) => c.startsWith('transmit')).length).toBe(before + 1);
  });
});
