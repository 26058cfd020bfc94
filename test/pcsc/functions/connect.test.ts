/**
 * Reference §2 row Connect, check by check in the cell's order (client checks of winscard_clnt.c first, then
 * winscard.c SCardConnect), plus §3 protocol selection where the row names it.
 */
import { describe, expect, it } from 'vitest';
import { IFD } from '../../../src/ifd/errors.js';
import {
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_VALUE,
  SCARD_E_NO_MEMORY,
  SCARD_E_NO_SMARTCARD,
  SCARD_E_PROTO_MISMATCH,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_E_SHARING_VIOLATION,
  SCARD_E_UNKNOWN_READER,
  SCARD_F_INTERNAL_ERROR,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_ANY,
  SCARD_PROTOCOL_ANY_OLD,
  SCARD_PROTOCOL_RAW,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_PROTOCOL_T15,
  SCARD_PROTOCOL_UNDEFINED,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_DIRECT,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_MUTE,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNAVAILABLE,
  SCARD_W_UNPOWERED_CARD,
  SCARD_W_UNRESPONSIVE_CARD,
  PNP_NOTIFICATION_READER_NAME,
  type PcscClient,
} from '../../../src/pcsc/index.js';
import { dualProtocolCard, helloWorldCardT0, helloWorldCardT1 } from '../../../src/sim/index.js';
import {
  DUAL_ATR,
  FakeReader,
  expectBytes,
  fails,
  first,
  ok,
  rig,
  stillPending,
  until,
  waitState,
  watch,
} from './fixture.js';

const T1 = SCARD_PROTOCOL_T1;

async function oneSimCard(card = helloWorldCardT1()) {
  const r = rig();
  const sim = await r.addSim({ profile: 'gempc-twin', cards: [card] });
  const a = await r.client('A');
  const b = await r.client('B');
  return { r, sim: sim.sim, ccid: sim.reader, reader: first(sim.names), card, a, b };
}

describe('SCardConnect: client-side checks (winscard_clnt.c)', () => {
  it('check 1: missing reader name → SCARD_E_UNKNOWN_READER, even with an unknown context', async () => {
    const { client, ctx } = await rig().client();
    const none = null as unknown as string;
    await fails(client.SCardConnect(ctx, none, SCARD_SHARE_SHARED, T1), SCARD_E_UNKNOWN_READER);
    await fails(
      client.SCardConnect(0x1234, none, SCARD_SHARE_SHARED, T1),
      SCARD_E_UNKNOWN_READER,
      'unknown context too',
    );
  });

  it('check 2: name longer than 128 (MAX_READERNAME) → SCARD_E_INVALID_VALUE, even with an unknown context; 128 is not too long', async () => {
    const { client, ctx } = await rig().client();
    await fails(client.SCardConnect(ctx, 'R'.repeat(129), SCARD_SHARE_SHARED, T1), SCARD_E_INVALID_VALUE);
    await fails(
      client.SCardConnect(0x1234, 'R'.repeat(129), SCARD_SHARE_SHARED, T1),
      SCARD_E_INVALID_VALUE,
      'unknown context',
    );
    await fails(
      client.SCardConnect(ctx, 'R'.repeat(128), SCARD_SHARE_SHARED, T1),
      SCARD_E_UNKNOWN_READER,
      '128 characters',
    );
  });

  it('check 3: unknown context → SCARD_E_INVALID_HANDLE, before the protocol and share-mode checks of the server', async () => {
    const r = rig();
    const { names } = await r.addFake();
    const { client, ctx } = await r.client();
    await fails(client.SCardConnect(0x1234, first(names), SCARD_SHARE_SHARED, T1), SCARD_E_INVALID_HANDLE);
    await fails(client.SCardConnect(0x1234, first(names), 9, 0), SCARD_E_INVALID_HANDLE, 'bad share mode, no protocol');
    await ok(client.SCardReleaseContext(ctx));
    await fails(
      client.SCardConnect(ctx, first(names), SCARD_SHARE_SHARED, T1),
      SCARD_E_INVALID_HANDLE,
      'released context',
    );
  });
});

describe('SCardConnect: server checks (winscard.c)', () => {
  it('check 4: non-DIRECT with none of T0/T1/RAW → SCARD_E_PROTO_MISMATCH (0, T15); before the share-mode and reader-name checks', async () => {
    const r = rig();
    const { names } = await r.addFake();
    const { client, ctx } = await r.client();
    const reader = first(names);
    await fails(client.SCardConnect(ctx, reader, SCARD_SHARE_SHARED, 0), SCARD_E_PROTO_MISMATCH, 'SHARED, 0');
    await fails(
      client.SCardConnect(ctx, reader, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T15),
      SCARD_E_PROTO_MISMATCH,
      'EXCLUSIVE, T15',
    );
    await fails(client.SCardConnect(ctx, reader, 7, 0), SCARD_E_PROTO_MISMATCH, 'bad share mode, 0');
    await fails(
      client.SCardConnect(ctx, 'No Such Reader 00 00', SCARD_SHARE_SHARED, 0),
      SCARD_E_PROTO_MISMATCH,
      'unknown name, 0',
    );
  });

  it('check 4 does not apply to DIRECT: DIRECT with no protocol connects', async () => {
    const r = rig();
    const { names } = await r.addFake();
    const { client, ctx } = await r.client();
    await ok(client.SCardConnect(ctx, first(names), SCARD_SHARE_DIRECT, 0));
  });

  it('legacy SCARD_PROTOCOL_ANY_OLD (0x1000) is accepted and means T0|T1', async () => {
    const { a, reader } = await oneSimCard();
    const { dwActiveProtocol } = await ok(
      a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_ANY_OLD),
    );
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
  });

  it('check 5: bad share mode (0, 4, 0xFFFFFFFF) → SCARD_E_INVALID_VALUE, before the reader-name lookup', async () => {
    const r = rig();
    const { names } = await r.addFake();
    const { client, ctx } = await r.client();
    for (const mode of [0, 4, 0xffffffff]) {
      await fails(client.SCardConnect(ctx, first(names), mode, T1), SCARD_E_INVALID_VALUE, `share mode ${mode}`);
      await fails(
        client.SCardConnect(ctx, 'No Such Reader 00 00', mode, T1),
        SCARD_E_INVALID_VALUE,
        `share mode ${mode}, unknown name`,
      );
    }
  });

  it('check 6: unknown name → SCARD_E_UNKNOWN_READER (exact match: other case, prefix, PnP name all unknown)', async () => {
    const r = rig();
    const { names } = await r.addFake();
    const { client, ctx } = await r.client();
    const reader = first(names);
    for (const name of [
      'No Such Reader 00 00',
      reader.toLowerCase(),
      reader.slice(0, -1),
      `${reader} `,
      PNP_NOTIFICATION_READER_NAME,
      '',
    ]) {
      await fails(client.SCardConnect(ctx, name, SCARD_SHARE_SHARED, T1), SCARD_E_UNKNOWN_READER, JSON.stringify(name));
    }
  });

  it('check 7: reader in error (card presence unreadable) → SCARD_E_READER_UNAVAILABLE (SHARED and DIRECT)', async () => {
    const r = rig();
    const fake = new FakeReader();
    fake.slot0.broken = true;
    const { names } = await r.addFake(fake);
    const { client, ctx } = await r.client();
    const name = first(names);
    await waitState(client, ctx, name, SCARD_STATE_UNAVAILABLE);
    await fails(client.SCardConnect(ctx, name, SCARD_SHARE_SHARED, T1), SCARD_E_READER_UNAVAILABLE, 'SHARED');
    await fails(client.SCardConnect(ctx, name, SCARD_SHARE_DIRECT, 0), SCARD_E_READER_UNAVAILABLE, 'DIRECT');
  });

  it('check 7 comes before the exclusive check: a reader falling into error while held exclusively → READER_UNAVAILABLE', async () => {
    const r = rig();
    const { reader, names } = await r.addFake();
    const a = await r.client('A');
    const b = await r.client('B');
    const name = first(names);
    await ok(a.client.SCardConnect(a.ctx, name, SCARD_SHARE_EXCLUSIVE, T1));
    reader.slot0.breakDown();
    await waitState(b.client, b.ctx, name, SCARD_STATE_UNAVAILABLE);
    await fails(b.client.SCardConnect(b.ctx, name, SCARD_SHARE_SHARED, T1), SCARD_E_READER_UNAVAILABLE, 'SHARED');
    await fails(b.client.SCardConnect(b.ctx, name, SCARD_SHARE_DIRECT, 0), SCARD_E_READER_UNAVAILABLE, 'DIRECT');
  });

  it('check 8: reader held exclusively → SCARD_E_SHARING_VIOLATION at once ✔ (also for DIRECT, also the same context)', async () => {
    const { a, b, reader } = await oneSimCard();
    await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_EXCLUSIVE, T1));
    await fails(
      b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_SHARED, T1),
      SCARD_E_SHARING_VIOLATION,
      'other client, SHARED',
    );
    await fails(
      b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_DIRECT, 0),
      SCARD_E_SHARING_VIOLATION,
      'other client, DIRECT',
    );
    await fails(
      b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_EXCLUSIVE, T1),
      SCARD_E_SHARING_VIOLATION,
      'other client, EXCLUSIVE',
    );
    await fails(
      a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, T1),
      SCARD_E_SHARING_VIOLATION,
      'same context, SHARED',
    );
    await fails(
      a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_DIRECT, 0),
      SCARD_E_SHARING_VIOLATION,
      'same context, DIRECT',
    );
  });

  it('check 8 comes before the card check: exclusive handle, card removed → another Connect gets SHARING_VIOLATION, not NO_SMARTCARD', async () => {
    const { a, b, reader, sim } = await oneSimCard();
    await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_EXCLUSIVE, T1));
    sim.removeCard();
    await waitState(b.client, b.ctx, reader, SCARD_STATE_EMPTY);
    await fails(b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_SHARED, T1), SCARD_E_SHARING_VIOLATION);
  });

  it("check 9: another handle's transaction → Connect waits ✔ until the transaction ends", async () => {
    const { a, b, reader } = await oneSimCard();
    const { hCard } = await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, T1));
    await ok(a.client.SCardBeginTransaction(hCard));
    const waiting = watch(b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_SHARED, T1));
    await stillPending(waiting, 'Connect during the transaction', 150);
    await ok(a.client.SCardEndTransaction(hCard, SCARD_LEAVE_CARD));
    const { dwActiveProtocol } = await ok(waiting.promise, 'Connect after EndTransaction');
    expect(dwActiveProtocol).toBe(T1);
  });

  it('check 10: non-DIRECT with no card → SCARD_E_NO_SMARTCARD (SHARED, EXCLUSIVE); DIRECT connects with protocol 0', async () => {
    const r = rig();
    const { names } = await r.addSim({ profile: 'gempc-twin' });
    const { client, ctx } = await r.client();
    const reader = first(names);
    await fails(client.SCardConnect(ctx, reader, SCARD_SHARE_SHARED, T1), SCARD_E_NO_SMARTCARD, 'SHARED');
    await fails(
      client.SCardConnect(ctx, reader, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_ANY),
      SCARD_E_NO_SMARTCARD,
      'EXCLUSIVE',
    );
    const { dwActiveProtocol } = await ok(client.SCardConnect(ctx, reader, SCARD_SHARE_DIRECT, T1), 'DIRECT');
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_UNDEFINED);
  });

  it('check 11: a card powered off after the grace period is powered up by a non-DIRECT Connect, and its ATR refreshed', async () => {
    const { a, reader, card } = await oneSimCard();
    await until(() => !card.powered, 'auto power-off after powerOffGraceMs');
    await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_DIRECT, 0));
    expect(card.powered, 'DIRECT does not power the card').toBe(false);
    const { hCard, dwActiveProtocol } = await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, T1));
    expect(card.powered).toBe(true);
    expect(dwActiveProtocol).toBe(T1);
    expectBytes((await ok(a.client.SCardStatus(hCard))).atr, card.atr, 'ATR');
  });

  it('check 12: card that cannot be powered → SCARD_W_UNPOWERED_CARD after a new power-up attempt; DIRECT still connects', async () => {
    const r = rig();
    const fake = new FakeReader();
    fake.slot0.powerFailure = IFD.ERROR_POWER_ACTION;
    const { names } = await r.addFake(fake);
    const { client, ctx } = await r.client();
    const reader = first(names);
    await waitState(client, ctx, reader, SCARD_STATE_PRESENT | SCARD_STATE_MUTE);
    const attempts = fake.slot0.calls.filter((c) => c === 'power up').length;
    await fails(client.SCardConnect(ctx, reader, SCARD_SHARE_SHARED, T1), SCARD_W_UNPOWERED_CARD);
    expect(
      fake.slot0.calls.filter((c) => c === 'power up').length,
      'Connect tried to power the card again',
    ).toBeGreaterThan(attempts);
    await ok(client.SCardConnect(ctx, reader, SCARD_SHARE_DIRECT, 0), 'DIRECT');
  });

  it('check 13: protocol not offered by the card → SCARD_E_PROTO_MISMATCH (T=1 asked of a T=0-only card, T=0 of a T=1-only card)', async () => {
    const t0 = await oneSimCard(helloWorldCardT0());
    await fails(
      t0.a.client.SCardConnect(t0.a.ctx, t0.reader, SCARD_SHARE_SHARED, T1),
      SCARD_E_PROTO_MISMATCH,
      'T=1 of T=0 card',
    );
    expect(
      (await ok(t0.a.client.SCardConnect(t0.a.ctx, t0.reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_ANY)))
        .dwActiveProtocol,
    ).toBe(SCARD_PROTOCOL_T0);
    const t1 = await oneSimCard(helloWorldCardT1());
    await fails(
      t1.a.client.SCardConnect(t1.a.ctx, t1.reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0),
      SCARD_E_PROTO_MISMATCH,
      'T=0 of T=1 card',
    );
  });

  it('check 13: T=1 is preferred when both are asked and offered; the negotiated protocol then belongs to the reader ✔', async () => {
    const { a, b, reader } = await oneSimCard(dualProtocolCard());
    expect(
      (await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_ANY))).dwActiveProtocol,
    ).toBe(T1);
    await fails(
      b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0),
      SCARD_E_PROTO_MISMATCH,
      'T=0 after T=1',
    );
    expect((await ok(b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_SHARED, T1))).dwActiveProtocol).toBe(T1);
    expect(
      (await ok(b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_DIRECT, SCARD_PROTOCOL_T0))).dwActiveProtocol,
      'DIRECT: current',
    ).toBe(T1);
  });

  it('check 13: RAW asked → active protocol RAW, no negotiation', async () => {
    const { a, reader } = await oneSimCard();
    expect(
      (await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_RAW))).dwActiveProtocol,
    ).toBe(SCARD_PROTOCOL_RAW);
  });

  it('check 13: PPS failure → SCARD_W_UNRESPONSIVE_CARD', async () => {
    const r = rig();
    const fake = new FakeReader('Fake', [{ atr: DUAL_ATR }]);
    fake.slot0.protocolFailure = IFD.ERROR_PTS_FAILURE;
    const { names } = await r.addFake(fake);
    const { client, ctx } = await r.client();
    await fails(
      client.SCardConnect(ctx, first(names), SCARD_SHARE_SHARED, SCARD_PROTOCOL_ANY),
      SCARD_W_UNRESPONSIVE_CARD,
    );
  });

  it('check 13: "protocol not supported" falls back to the ATR default protocol (T=1 asked, T=0 default → T=0)', async () => {
    const r = rig();
    const fake = new FakeReader('Fake', [{ atr: DUAL_ATR }]);
    fake.slot0.protocolFailure = IFD.PROTOCOL_NOT_SUPPORTED;
    const { names } = await r.addFake(fake);
    const { client, ctx } = await r.client();
    const { dwActiveProtocol } = await ok(client.SCardConnect(ctx, first(names), SCARD_SHARE_SHARED, T1));
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T0);
  });

  it('check 13: "protocol not supported" for the default protocol itself → SCARD_W_UNRESPONSIVE_CARD (nothing to fall back to)', async () => {
    const r = rig();
    const fake = new FakeReader('Fake', [{ atr: DUAL_ATR }]);
    fake.slot0.protocolFailure = IFD.PROTOCOL_NOT_SUPPORTED;
    const { names } = await r.addFake(fake);
    const { client, ctx } = await r.client();
    await fails(
      client.SCardConnect(ctx, first(names), SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0),
      SCARD_W_UNRESPONSIVE_CARD,
    );
  });

  it('check 14: EXCLUSIVE while other handles exist → SCARD_E_SHARING_VIOLATION ✔ (a SHARED one, the same context, a DIRECT one)', async () => {
    const { a, b, reader } = await oneSimCard();
    const { hCard } = await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, T1));
    await fails(
      b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_EXCLUSIVE, T1),
      SCARD_E_SHARING_VIOLATION,
      'other client',
    );
    await fails(
      a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_EXCLUSIVE, T1),
      SCARD_E_SHARING_VIOLATION,
      'same context',
    );
    await ok(a.client.SCardDisconnect(hCard, SCARD_LEAVE_CARD));
    await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_DIRECT, 0));
    await fails(
      b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_EXCLUSIVE, T1),
      SCARD_E_SHARING_VIOLATION,
      'a DIRECT handle exists',
    );
  });

  it('check 13 comes before check 14: EXCLUSIVE with the wrong protocol while others exist → PROTO_MISMATCH', async () => {
    const { a, b, reader } = await oneSimCard();
    await ok(a.client.SCardConnect(a.ctx, reader, SCARD_SHARE_SHARED, T1));
    await fails(b.client.SCardConnect(b.ctx, reader, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T0), SCARD_E_PROTO_MISMATCH);
  });

  it('check 15: per-reader handle limit (200) → SCARD_F_INTERNAL_ERROR; a freed handle makes room again', async () => {
    const r = rig();
    const { names } = await r.addFake();
    const reader = first(names);
    const { client } = await r.client();
    const contexts: number[] = [];
    for (let i = 0; i < 3; i++) contexts.push((await ok(client.SCardEstablishContext(SCARD_SCOPE_SYSTEM))).hContext);
    const [c1, c2, c3] = contexts as [number, number, number];
    const handles: number[] = [];
    for (let i = 0; i < 100; i++)
      handles.push((await ok(client.SCardConnect(c1, reader, SCARD_SHARE_SHARED, T1), `c1 #${i}`)).hCard);
    for (let i = 0; i < 100; i++) await ok(client.SCardConnect(c2, reader, SCARD_SHARE_SHARED, T1), `c2 #${i}`);
    await fails(
      client.SCardConnect(c3, reader, SCARD_SHARE_SHARED, T1),
      SCARD_F_INTERNAL_ERROR,
      'handle 201 on the reader',
    );
    await fails(client.SCardConnect(c3, reader, SCARD_SHARE_DIRECT, 0), SCARD_F_INTERNAL_ERROR, 'DIRECT too');
    await ok(client.SCardDisconnect(handles[0] ?? 0, SCARD_LEAVE_CARD));
    await ok(client.SCardConnect(c3, reader, SCARD_SHARE_SHARED, T1), 'after one disconnect');
  });

  it('check 16: per-context handle limit (200) → SCARD_E_NO_MEMORY, and the refused handle is not left on the reader', async () => {
    const r = rig();
    const one = await r.addFake(new FakeReader('One'));
    const two = await r.addFake(new FakeReader('Two'));
    const { client, ctx } = await r.client();
    const r1 = first(one.names);
    const r2 = first(two.names);
    for (let i = 0; i < 100; i++) await ok(client.SCardConnect(ctx, r1, SCARD_SHARE_SHARED, T1), `r1 #${i}`);
    for (let i = 0; i < 100; i++) await ok(client.SCardConnect(ctx, r2, SCARD_SHARE_SHARED, T1), `r2 #${i}`);
    await fails(client.SCardConnect(ctx, r1, SCARD_SHARE_SHARED, T1), SCARD_E_NO_MEMORY, 'handle 201 of the context');
    // reader One still has exactly 100 handles: another context gets 100 more, the next is the per-reader limit
    const other: PcscClient = client;
    const { hContext } = await ok(other.SCardEstablishContext(SCARD_SCOPE_SYSTEM));
    for (let i = 0; i < 100; i++) await ok(other.SCardConnect(hContext, r1, SCARD_SHARE_SHARED, T1), `other #${i}`);
    await fails(other.SCardConnect(hContext, r1, SCARD_SHARE_SHARED, T1), SCARD_F_INTERNAL_ERROR, 'reader One full');
  });
});
