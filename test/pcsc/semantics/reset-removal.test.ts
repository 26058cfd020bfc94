/**
 * pcsc-lite reference §3 "Reset and removal" (readerfactory.c RFSetReaderEventState / RFCheckReaderEventState /
 * RFClearReaderEventState, winscard.c): who gets W_RESET_CARD / W_REMOVED_CARD, which calls check the flags, what
 * clears them.
 */
import { describe, expect, it } from 'vitest';
import {
  CM_IOCTL_GET_FEATURE_REQUEST,
  SCARD_ATTR_ATR_STRING,
  SCARD_ATTR_VENDOR_NAME,
  SCARD_E_NO_SMARTCARD,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_RESET_CARD,
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
  ok,
  rig,
  tx,
  closeRigsAfterEach,
  twoSharedHandles,
  type Client,
} from './fixture.js';

const useRig = closeRigsAfterEach();

const T1 = { dwProtocol: SCARD_PROTOCOL_T1 };

const twoHandles = async () => twoSharedHandles(await useRig(rig()));

// The calls that check the pending-event flag (Transmit, Status, Begin/EndTransaction, Get/SetAttrib).
const checking: [string, (c: Client, h: number) => Promise<unknown>][] = [
  ['Transmit', (c, h) => c.api.SCardTransmit(h, T1, SELECT_HELLO)],
  ['Status', (c, h) => c.api.SCardStatus(h)],
  ['BeginTransaction', (c, h) => c.api.SCardBeginTransaction(h)],
  ['EndTransaction', (c, h) => c.api.SCardEndTransaction(h, SCARD_LEAVE_CARD)],
  ['GetAttrib', (c, h) => c.api.SCardGetAttrib(h, SCARD_ATTR_ATR_STRING)],
  ['SetAttrib', (c, h) => c.api.SCardSetAttrib(h, SCARD_ATTR_VENDOR_NAME, Uint8Array.of(0x41))],
];

describe('§3 Reset flags', () => {
  const resets: [string, (a: Client, hA: number) => Promise<unknown>][] = [
    ['Reconnect(RESET)', (a, hA) => a.api.SCardReconnect(hA, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_RESET_CARD)],
    [
      'Reconnect(UNPOWER)',
      (a, hA) => a.api.SCardReconnect(hA, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_UNPOWER_CARD),
    ],
    ['Disconnect(RESET)', (a, hA) => a.api.SCardDisconnect(hA, SCARD_RESET_CARD)],
    ['Disconnect(UNPOWER)', (a, hA) => a.api.SCardDisconnect(hA, SCARD_UNPOWER_CARD)],
    [
      'EndTransaction(RESET)',
      async (a, hA) => {
        await a.api.SCardBeginTransaction(hA);
        return a.api.SCardEndTransaction(hA, SCARD_RESET_CARD);
      },
    ],
    [
      'EndTransaction(UNPOWER)',
      async (a, hA) => {
        await a.api.SCardBeginTransaction(hA);
        return a.api.SCardEndTransaction(hA, SCARD_UNPOWER_CARD);
      },
    ],
  ];
  for (const [what, reset] of resets) {
    it(`${what} flags every other handle of the reader with W_RESET_CARD`, async () => {
      const { a, b, hA, hB } = await twoHandles();
      const c = await connectShared(b, (await b.api.SCardStatus(hB)).szReaderName);
      await ok(reset(a, hA) as Promise<unknown>, what);
      await expectCode(b.api.SCardTransmit(hB, T1, SELECT_HELLO), SCARD_W_RESET_CARD, "B's Transmit");
      await expectCode(b.api.SCardStatus(c), SCARD_W_RESET_CARD, "B's second handle's Status");
    });
  }

  it('Reconnect(RESET) clears only the caller’s own flag: its Transmit works, the other handle’s fails', async () => {
    const { a, b, hA, hB } = await twoHandles();
    await ok(a.api.SCardReconnect(hA, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_RESET_CARD));
    expect(await tx(a, hA, SELECT_HELLO)).toEqual(SW_OK);
    await expectCode(b.api.SCardTransmit(hB, T1, SELECT_HELLO), SCARD_W_RESET_CARD);
  });

  it('EndTransaction(RESET) does not clear the caller’s flag: its next Transmit → W_RESET_CARD ✔', async () => {
    const { a, hA } = await twoHandles();
    await ok(a.api.SCardBeginTransaction(hA));
    await ok(a.api.SCardEndTransaction(hA, SCARD_RESET_CARD));
    await expectCode(a.api.SCardTransmit(hA, T1, SELECT_HELLO), SCARD_W_RESET_CARD);
  });

  it('the flag stays until Reconnect: every checking call keeps returning W_RESET_CARD; Reconnect(LEAVE) clears it', async () => {
    const { a, b, hA, hB } = await twoHandles();
    await ok(a.api.SCardReconnect(hA, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_RESET_CARD));
    for (const [what, call] of checking) await expectCode(call(b, hB), SCARD_W_RESET_CARD, `B's ${what}`);
    await expectCode(b.api.SCardTransmit(hB, T1, SELECT_HELLO), SCARD_W_RESET_CARD, "B's Transmit again");
    const { dwActiveProtocol } = await ok(
      b.api.SCardReconnect(hB, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD),
      'Reconnect never returns W_*',
    );
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
    expect(await tx(b, hB, SELECT_HELLO)).toEqual(SW_OK);
  });

  it('Control, Disconnect and Reconnect do not check the flag', async () => {
    const { r, a, b, hA, hB } = await twoHandles();
    await ok(a.api.SCardReconnect(hA, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_RESET_CARD));
    const { output } = await ok(
      b.api.SCardControl(hB, CM_IOCTL_GET_FEATURE_REQUEST, Uint8Array.of(0)),
      'Control with a reset flag',
    );
    expect(output.length % 6).toBe(0);
    const hB2 = await connectShared(b, r.name);
    await ok(a.api.SCardReconnect(hA, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_RESET_CARD));
    await ok(b.api.SCardDisconnect(hB2, SCARD_LEAVE_CARD), 'Disconnect with a reset flag');
    await ok(
      b.api.SCardReconnect(hB, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD),
      'Reconnect with a reset flag',
    );
  });

  it('the card is really reset: the selected applet is gone after Reconnect(RESET)', async () => {
    const { a, hA } = await twoHandles();
    expect(await tx(a, hA, SELECT_HELLO)).toEqual(SW_OK);
    expect(await tx(a, hA, HELLO)).toEqual(HELLO_RESPONSE);
    await ok(a.api.SCardReconnect(hA, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_RESET_CARD));
    expect(await tx(a, hA, HELLO)).not.toEqual(HELLO_RESPONSE);
  });
});

describe('§3 Removal flags', () => {
  for (const [what, call] of checking) {
    it(`card removal flags every handle: ${what} → W_REMOVED_CARD`, async () => {
      const { r, a, b, hA, hB } = await twoHandles();
      await r.remove();
      await expectCode(call(a, hA), SCARD_W_REMOVED_CARD, `A's ${what}`);
      await expectCode(call(b, hB), SCARD_W_REMOVED_CARD, `B's ${what}`);
    });
  }

  it('the removal flag survives reinsertion until Reconnect ✔; Reconnect(LEAVE) with no card → NO_SMARTCARD', async () => {
    const { r, a, b, hA, hB } = await twoHandles();
    await r.remove();
    await expectCode(
      a.api.SCardReconnect(hA, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD),
      SCARD_E_NO_SMARTCARD,
      'Reconnect(LEAVE) with no card',
    );
    await r.insert();
    await expectCode(a.api.SCardTransmit(hA, T1, SELECT_HELLO), SCARD_W_REMOVED_CARD, 'after reinsertion');
    await expectCode(b.api.SCardStatus(hB), SCARD_W_REMOVED_CARD, 'after reinsertion');
    await ok(a.api.SCardReconnect(hA, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD));
    expect(await tx(a, hA, SELECT_HELLO)).toEqual(SW_OK);
    await expectCode(b.api.SCardStatus(hB), SCARD_W_REMOVED_CARD, "B's flag is its own");
  });

  it('a reset flag is replaced by the removal flag', async () => {
    const { r, a, b, hA, hB } = await twoHandles();
    await ok(a.api.SCardReconnect(hA, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_RESET_CARD));
    await r.remove();
    await expectCode(b.api.SCardStatus(hB), SCARD_W_REMOVED_CARD);
  });

  it('removal clears the lock: a handle connected after reinsertion locks at once', async () => {
    const { r, a, hA } = await twoHandles();
    await ok(a.api.SCardBeginTransaction(hA));
    await r.remove();
    await r.insert();
    const c = await r.newClient('C');
    const hC = await connectShared(c, r.name);
    await ok(c.api.SCardBeginTransaction(hC), 'lock free after the removal');
    expect(await tx(c, hC, SELECT_HELLO)).toEqual(SW_OK);
  });

  it('Disconnect ignores pending events: SUCCESS after removal', async () => {
    const { r, a, hA } = await twoHandles();
    await r.remove();
    await ok(a.api.SCardDisconnect(hA, SCARD_LEAVE_CARD));
  });

  it('Control does not check the removal flag (the reader answers GET_FEATURE_REQUEST)', async () => {
    const { r, a, hA } = await twoHandles();
    await r.remove();
    const { output } = await ok(a.api.SCardControl(hA, CM_IOCTL_GET_FEATURE_REQUEST, Uint8Array.of(0)));
    expect(output.length % 6).toBe(0);
  });
});
