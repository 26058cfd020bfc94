/**
 * Reference §2 row Status (winscard_clnt.c SCardStatus reads the reader states; winscard.c SCardStatus checks sharing,
 * then the handle's event, then the reader).
 */
import { describe, expect, it } from 'vitest';
import {
  SCARD_ABSENT,
  SCARD_E_INVALID_HANDLE,
  SCARD_E_NO_READERS_AVAILABLE,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_LEAVE_CARD,
  SCARD_NEGOTIABLE,
  SCARD_POWERED,
  SCARD_PRESENT,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_PROTOCOL_UNDEFINED,
  SCARD_RESET_CARD,
  SCARD_SHARE_DIRECT,
  SCARD_SHARE_SHARED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_PRESENT,
  SCARD_W_REMOVED_CARD,
  SCARD_W_RESET_CARD,
} from '../../../src/pcsc/index.js';
import { helloWorldCardT0, helloWorldCardT1 } from '../../../src/sim/index.js';
import { expectBytes, fails, first, ok, rig, stillPending, until, waitState, watch } from './fixture.js';

const T1 = SCARD_PROTOCOL_T1;

describe('SCardStatus', () => {
  it('check 1: unknown handle → SCARD_E_INVALID_HANDLE', async () => {
    const r = rig();
    const { names } = await r.addSim({ profile: 'gempc-twin', cards: [helloWorldCardT1()] });
    const { client, ctx } = await r.client();
    await fails(client.SCardStatus(0x1001), SCARD_E_INVALID_HANDLE);
    const { hCard } = await ok(client.SCardConnect(ctx, first(names), SCARD_SHARE_SHARED, T1));
    await ok(client.SCardDisconnect(hCard, SCARD_LEAVE_CARD));
    await fails(client.SCardStatus(hCard), SCARD_E_INVALID_HANDLE, 'disconnected');
  });

  it('check 2: reader gone → SCARD_E_READER_UNAVAILABLE', async () => {
    const r = rig();
    const { names, sim, reader } = await r.addSim({ profile: 'gempc-twin', cards: [helloWorldCardT1()] });
    const { client, ctx } = await r.client();
    const { hCard } = await ok(client.SCardConnect(ctx, first(names), SCARD_SHARE_SHARED, T1));
    sim.unplug();
    reader.markRemoved();
    await until(async () => {
      try {
        await client.SCardListReaders(ctx);
        return false;
      } catch (e) {
        return (e as { code?: number }).code === SCARD_E_NO_READERS_AVAILABLE;
      }
    }, 'the reader to be gone');
    await fails(client.SCardStatus(hCard), SCARD_E_READER_UNAVAILABLE);
  });

  it("check 3: another handle's transaction → Status waits ✔ until EndTransaction", async () => {
    const r = rig();
    const { names } = await r.addSim({ profile: 'gempc-twin', cards: [helloWorldCardT1()] });
    const a = await r.client('A');
    const b = await r.client('B');
    const ha = (await ok(a.client.SCardConnect(a.ctx, first(names), SCARD_SHARE_SHARED, T1))).hCard;
    const hb = (await ok(b.client.SCardConnect(b.ctx, first(names), SCARD_SHARE_SHARED, T1))).hCard;
    await ok(a.client.SCardBeginTransaction(ha));
    await ok(a.client.SCardStatus(ha), 'the holder itself');
    const waiting = watch(b.client.SCardStatus(hb));
    await stillPending(waiting, 'Status during the transaction', 150);
    await ok(a.client.SCardEndTransaction(ha, SCARD_LEAVE_CARD));
    expect((await ok(waiting.promise)).szReaderName).toBe(first(names));
  });

  it('check 4: pending event → SCARD_W_RESET_CARD / SCARD_W_REMOVED_CARD', async () => {
    const r = rig();
    const { names, sim } = await r.addSim({ profile: 'gempc-twin', cards: [helloWorldCardT1()] });
    const reader = first(names);
    const a = await r.client('A');
    const b = await r.client('B');
    const ha = (await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, T1))).hCard;
    const hb = (await ok(b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_SHARED, T1))).hCard;
    await ok(a.client.SCardReconnect(ha, SCARD_SHARE_SHARED, T1, SCARD_RESET_CARD));
    await fails(b.client.SCardStatus(hb), SCARD_W_RESET_CARD);
    await fails(b.client.SCardStatus(hb), SCARD_W_RESET_CARD, 'Status does not clear the flag');
    sim.removeCard();
    await waitState(a.client, a.ctx, reader, SCARD_STATE_EMPTY);
    await fails(a.client.SCardStatus(ha), SCARD_W_REMOVED_CARD);
  });

  it('check 5: returns the reader name given to Connect, state = eventCounter << 16 | readerState (0x10034 ✔), protocol and ATR', async () => {
    const r = rig();
    const { names, sim } = await r.addSim({ profile: 'gempc-twin' });
    const reader = first(names);
    const { client, ctx } = await r.client();
    const card = helloWorldCardT1();
    sim.insertCard(card);
    await waitState(client, ctx, reader, SCARD_STATE_PRESENT);
    const { hCard } = await ok(client.SCardConnect(ctx, reader, SCARD_SHARE_SHARED, T1));
    const s = await ok(client.SCardStatus(hCard));
    expect(s.szReaderName).toBe(reader);
    expect(s.dwState.toString(16)).toBe((0x10000 | SCARD_PRESENT | SCARD_POWERED | SCARD_NEGOTIABLE).toString(16));
    expect(s.dwState).toBe(0x10034);
    expect(s.dwProtocol).toBe(T1);
    expectBytes(s.atr, card.atr, 'ATR');
  });

  it('check 5: a card present at reader start does not count (0x00034); remove + insert count two events (0x20034 after Reconnect)', async () => {
    const r = rig();
    const { names, sim } = await r.addSim({ profile: 'gempc-twin', cards: [helloWorldCardT0()] });
    const reader = first(names);
    const { client, ctx } = await r.client();
    const { hCard } = await ok(client.SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0));
    const s = await ok(client.SCardStatus(hCard));
    expect(s.dwState).toBe(0x00034);
    expect(s.dwProtocol).toBe(SCARD_PROTOCOL_T0);
    sim.removeCard();
    await waitState(client, ctx, reader, SCARD_STATE_EMPTY);
    sim.insertCard(helloWorldCardT0());
    await waitState(client, ctx, reader, SCARD_STATE_PRESENT);
    await ok(client.SCardReconnect(hCard, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0, SCARD_LEAVE_CARD));
    expect((await ok(client.SCardStatus(hCard))).dwState).toBe(0x20034);
  });

  it('check 5: DIRECT handle on an empty slot: state SCARD_ABSENT, protocol 0, empty ATR', async () => {
    const r = rig();
    const { names } = await r.addSim({ profile: 'gempc-twin' });
    const { client, ctx } = await r.client();
    const { hCard } = await ok(client.SCardConnect(ctx, first(names), SCARD_SHARE_DIRECT, 0));
    const s = await ok(client.SCardStatus(hCard));
    expect(s.szReaderName).toBe(first(names));
    expect(s.dwState).toBe(SCARD_ABSENT);
    expect(s.dwProtocol).toBe(SCARD_PROTOCOL_UNDEFINED);
    expect(s.atr).toHaveLength(0);
  });
});
