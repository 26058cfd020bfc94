/**
 * pcsc-lite reference §3 "Power" (eventhandler.c power states, winscard.c Connect/Disconnect) and §3 "Protocol
 * selection" (atrhandler.c ATRDecodeAtr, prothandler.c PHSetProtocol, winscard.c Connect/Reconnect).
 */
import { describe, expect, it } from 'vitest';
import {
  SCARD_E_PROTO_MISMATCH,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_ANY,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_PROTOCOL_UNDEFINED,
  SCARD_RESET_CARD,
  SCARD_SHARE_DIRECT,
  SCARD_SHARE_EXCLUSIVE,
  SCARD_SHARE_SHARED,
  SCARD_UNPOWER_CARD,
  SCARD_W_UNPOWERED_CARD,
} from '../../../src/pcsc/index.js';
import {
  dualProtocolCard,
  helloWorldCardT0,
  helloWorldCardT1,
  specificModeCard,
  type SimCard,
  type SimulatedCard,
} from '../../../src/sim/index.js';
import {
  FakeReader,
  SELECT_HELLO,
  SW_OK,
  connectShared,
  expectCode,
  fakeRig,
  letRun,
  ok,
  rig,
  tx,
  waitFor,
  closeRigsAfterEach,
  type Client,
  type Rig,
} from './fixture.js';

const useRig = closeRigsAfterEach();

const card0 = (r: Rig): SimCard => {
  const c = r.sims[0]!.cardIn();
  if (c === null) throw new Error('no card in the simulated reader');
  return c;
};

describe('§3 Power', () => {
  it('the card is powered at insertion, before any Connect (the ATR is in the reader state)', async () => {
    const r = await useRig(rig({ sims: [{ cards: [] }], graceMs: 60_000 }));
    const card = helloWorldCardT1();
    const s = await r.insert(card);
    expect(card.powered).toBe(true);
    expect(Array.from(s.rgbAtr)).toEqual(Array.from(card.atr));
  });

  it('a card present at reader start is powered too', async () => {
    const r = await useRig(rig({ graceMs: 60_000 }));
    expect(card0(r).powered).toBe(true);
  });

  it('unused, the card is powered off after the grace period', async () => {
    const r = await useRig(rig({ sims: [{ cards: [] }] }));
    const card = helloWorldCardT1();
    await r.insert(card);
    await waitFor(() => !card.powered, 'the auto power-off');
  });

  it('a SHARED handle keeps it powered; after the last Disconnect(LEAVE) it goes off', async () => {
    const r = await useRig(rig());
    const a = r.clients[0]!;
    const h = await connectShared(a, r.name);
    await letRun(10 * 20); // ten grace periods
    expect(card0(r).powered).toBe(true);
    expect(await tx(a, h, SELECT_HELLO)).toEqual(SW_OK);
    await ok(a.api.SCardDisconnect(h, SCARD_LEAVE_CARD));
    await waitFor(() => !card0(r).powered, 'the power-off after the last handle');
  });

  it('an EXCLUSIVE handle keeps it powered too', async () => {
    const r = await useRig(rig());
    const a = r.clients[0]!;
    const { hCard } = await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1));
    await letRun(10 * 20);
    expect(card0(r).powered).toBe(true);
    expect(await tx(a, hCard, SELECT_HELLO)).toEqual(SW_OK);
  });

  it('a DIRECT handle does not keep it powered', async () => {
    const r = await useRig(rig());
    const a = r.clients[0]!;
    await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_DIRECT, 0));
    await waitFor(() => !card0(r).powered, 'the power-off with only a DIRECT handle');
  });

  it('a non-DIRECT Connect powers an auto-powered-off card up again, refreshes the ATR and negotiates again', async () => {
    const r = await useRig(rig());
    await waitFor(() => !card0(r).powered, 'the auto power-off');
    const a = r.clients[0]!;
    const { hCard, dwActiveProtocol } = await ok(
      a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_ANY),
    );
    expect(card0(r).powered).toBe(true);
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
    expect(await tx(a, hCard, SELECT_HELLO)).toEqual(SW_OK);
    const st = await ok(a.api.SCardStatus(hCard));
    expect(Array.from(st.atr)).toEqual(Array.from((card0(r) as SimulatedCard).atr));
    expect(st.dwProtocol).toBe(SCARD_PROTOCOL_T1);
  });

  it('Disconnect(UNPOWER) leaves the card off (no re-power by the daemon)', async () => {
    const r = await useRig(rig({ graceMs: 60_000 }));
    const a = r.clients[0]!;
    const h = await connectShared(a, r.name);
    await ok(a.api.SCardDisconnect(h, SCARD_UNPOWER_CARD));
    expect(card0(r).powered).toBe(false);
    await letRun(100);
    expect(card0(r).powered).toBe(false);
  });

  it('a card that cannot be powered: Connect → W_UNPOWERED_CARD (fake reader, power-up fails)', async () => {
    const reader = new FakeReader('Mute Reader', { present: false });
    const f = await useRig(fakeRig([reader]));
    reader.slots[0]!.mute = true;
    reader.slots[0]!.insert();
    const o = f.observer;
    await waitFor(() => reader.slots[0]!.powerLog.length > 0, 'the power-up attempt at insertion');
    // Wait for the daemon to publish the insertion.
    await ok(o.api.SCardGetStatusChange(o.ctx, 3000, [{ szReader: f.names[0]!, dwCurrentState: 0x10 }]));
    const c = f.clients[0]!;
    await expectCode(
      c.api.SCardConnect(c.ctx, f.names[0]!, SCARD_SHARE_SHARED, SCARD_PROTOCOL_ANY),
      SCARD_W_UNPOWERED_CARD,
    );
    // DIRECT does not need a powered card.
    await ok(c.api.SCardConnect(c.ctx, f.names[0]!, SCARD_SHARE_DIRECT, 0), 'DIRECT');
  });
});

describe('§3 Protocol selection', () => {
  async function with1(card: SimCard, graceMs = 60_000): Promise<{ r: Rig; a: Client; b: Client }> {
    const r = await useRig(rig({ sims: [{ cards: [card] }], graceMs }));
    const [a, b] = r.clients as [Client, Client];
    return { r, a, b };
  }

  it('T=1 is chosen when both are requested and available (T=0 is the card default)', async () => {
    const { r, a } = await with1(dualProtocolCard());
    const { dwActiveProtocol } = await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_ANY));
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
  });

  it('T=0 when only T=0 is requested from a dual-protocol card', async () => {
    const { r, a } = await with1(dualProtocolCard());
    const { dwActiveProtocol } = await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0));
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T0);
  });

  it('no TD1 means T=0: ANY → T0; asking only T=1 → PROTO_MISMATCH', async () => {
    const { r, a } = await with1(helloWorldCardT0());
    await expectCode(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1), SCARD_E_PROTO_MISMATCH);
    const { dwActiveProtocol } = await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_ANY));
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T0);
  });

  it('specific mode (TA2) forces its single protocol: T=0 asked of a T=1 specific card → PROTO_MISMATCH', async () => {
    const { r, a } = await with1(specificModeCard({ protocol: 1 }));
    await expectCode(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0), SCARD_E_PROTO_MISMATCH);
    const { dwActiveProtocol } = await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_ANY));
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
  });

  it('the negotiated protocol belongs to the reader: a later Connect asking another → PROTO_MISMATCH ✔; one including it gets it', async () => {
    const { r, a, b } = await with1(dualProtocolCard());
    await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1));
    await expectCode(b.api.SCardConnect(b.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0), SCARD_E_PROTO_MISMATCH);
    const { dwActiveProtocol } = await ok(b.api.SCardConnect(b.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_ANY));
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
  });

  it('the protocol stays after the last Disconnect(LEAVE) while the card stays powered', async () => {
    const { r, a, b } = await with1(dualProtocolCard());
    const { hCard } = await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1));
    await ok(a.api.SCardDisconnect(hCard, SCARD_LEAVE_CARD));
    await expectCode(b.api.SCardConnect(b.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0), SCARD_E_PROTO_MISMATCH);
  });

  it('Reconnect(LEAVE) asking another protocol → PROTO_MISMATCH ✔; Reconnect(RESET) renegotiates', async () => {
    const { r, a } = await with1(dualProtocolCard());
    const { hCard } = await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1));
    await expectCode(
      a.api.SCardReconnect(hCard, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0, SCARD_LEAVE_CARD),
      SCARD_E_PROTO_MISMATCH,
    );
    const { dwActiveProtocol } = await ok(
      a.api.SCardReconnect(hCard, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0, SCARD_RESET_CARD),
    );
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T0);
    expect((await ok(a.api.SCardStatus(hCard))).dwProtocol).toBe(SCARD_PROTOCOL_T0);
  });

  it('after Disconnect(UNPOWER) the protocol is free again', async () => {
    const { r, a, b } = await with1(dualProtocolCard());
    const { hCard } = await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1));
    await ok(a.api.SCardDisconnect(hCard, SCARD_UNPOWER_CARD));
    const { dwActiveProtocol } = await ok(b.api.SCardConnect(b.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0));
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T0);
  });

  it('after the auto power-off the protocol is free again', async () => {
    const { r, a, b } = await with1(dualProtocolCard(), 20);
    const { hCard } = await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1));
    await ok(a.api.SCardDisconnect(hCard, SCARD_LEAVE_CARD));
    await waitFor(() => r.sims[0]!.cardIn()?.powered === false, 'the auto power-off');
    const { dwActiveProtocol } = await ok(b.api.SCardConnect(b.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0));
    expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T0);
  });

  it('concurrent Connects negotiate once (pcscd holds the reader mutex over the check and PPS): all get T=1', async () => {
    const reader = new FakeReader('Slow PPS Reader');
    const f = await useRig(fakeRig([reader], { clients: 5 }));
    reader.slots[0]!.ppsDelayMs = 5;
    const results = await Promise.all(
      f.clients.map((c) =>
        ok(c.api.SCardConnect(c.ctx, f.names[0]!, SCARD_SHARE_SHARED, SCARD_PROTOCOL_ANY), 'a concurrent Connect'),
      ),
    );
    expect(results.map((x) => x.dwActiveProtocol)).toEqual(Array(5).fill(SCARD_PROTOCOL_T1));
  });

  it('DIRECT returns whatever protocol is current: UNDEFINED before any negotiation, T=1 after', async () => {
    const { r, a, b } = await with1(helloWorldCardT1());
    const d1 = await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_DIRECT, SCARD_PROTOCOL_ANY));
    expect(d1.dwActiveProtocol).toBe(SCARD_PROTOCOL_UNDEFINED);
    await ok(b.api.SCardConnect(b.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1));
    const d2 = await ok(a.api.SCardConnect(a.ctx, r.name, SCARD_SHARE_DIRECT, SCARD_PROTOCOL_T0));
    expect(d2.dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
  });
});
