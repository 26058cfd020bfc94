/**
 * pcsc-lite reference §3 "Event counter": one per reader, +1 on each card insertion and removal, wraps 0xFFFF → 0 ✔;
 * not changed by reset or power changes; a card already present at reader start does not count; visible in the high
 * 16 bits of dwEventState and of SCardStatus' state ✔ (eventhandler.c EHStatusHandlerThread).
 */
import { describe, expect, it } from 'vitest';
import {
  INFINITE,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_RESET_CARD,
  SCARD_SHARE_SHARED,
  SCARD_UNPOWER_CARD,
} from '../../../src/pcsc/index.js';
import { helloWorldCardT1 } from '../../../src/sim/index.js';
import {
  FakeReader,
  connectShared,
  expectState,
  fakeRig,
  hi,
  ok,
  rig,
  waitFor,
  closeRigsAfterEach,
} from './fixture.js';

const useRig = closeRigsAfterEach();

describe('§3 Event counter', () => {
  it('a card present at reader start does not count: counter 0 (GetStatusChange high word and Status high word)', async () => {
    const r = await useRig(rig());
    expectState((await r.state()).dwEventState, 0x0000_0022, 'idle card present at start');
    const c = r.clients[0]!;
    const h = await connectShared(c, r.name);
    const st = await ok(c.api.SCardStatus(h));
    expect(hi(st.dwState)).toBe(0);
  });

  it('+1 on each insertion and each removal: 0 → 1 → 2 → 3 (EMPTY 0x0000_0012, PRESENT 0x0001_0022, 0x0002_0012, 0x0003_0022)', async () => {
    const r = await useRig(rig({ sims: [{ cards: [] }] }));
    expectState((await r.state()).dwEventState, 0x0000_0012, 'empty at start');
    expectState((await r.insert()).dwEventState, 0x0001_0022, 'after insertion');
    expectState((await r.remove()).dwEventState, 0x0002_0012, 'after removal');
    expectState((await r.insert()).dwEventState, 0x0003_0022, 'after the second insertion');
  });

  it('SCardStatus state = eventCounter << 16 | readerState (0x10034 ✔ after one insertion)', async () => {
    const r = await useRig(rig({ sims: [{ cards: [] }] }));
    await r.insert();
    const c = r.clients[0]!;
    const h = await connectShared(c, r.name);
    const st = await ok(c.api.SCardStatus(h));
    expect(st.dwState.toString(16)).toBe((0x10034).toString(16));
  });

  it('not changed by reset, unpower, reconnect or the auto power-off', async () => {
    const r = await useRig(rig({ sims: [{ cards: [] }] }));
    await r.insert();
    const c = r.clients[0]!;
    const h = await connectShared(c, r.name);
    await ok(c.api.SCardReconnect(h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_RESET_CARD));
    await ok(c.api.SCardReconnect(h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_UNPOWER_CARD));
    await ok(c.api.SCardReconnect(h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD));
    expect(hi((await ok(c.api.SCardStatus(h))).dwState)).toBe(1);
    await ok(c.api.SCardDisconnect(h, SCARD_UNPOWER_CARD));
    const card = r.sims[0]!.cardIn();
    expect(card?.powered).toBe(false);
    const h2 = await connectShared(c, r.name); // powers up again
    await ok(c.api.SCardDisconnect(h2, SCARD_LEAVE_CARD));
    await waitFor(() => card?.powered === false, 'the auto power-off after the grace period');
    expectState((await r.state()).dwEventState, 0x0001_0022, 'still counter 1');
  });

  it('wraps 0xFFFF → 0 ✔ (65536 insertions/removals through a fake slot)', async () => {
    const reader = new FakeReader('Counter Reader', { present: false });
    const f = await useRig(fakeRig([reader], { clients: 0 }));
    const slot = reader.slots[0]!;
    const name = f.names[0]!;
    const o = f.observer;
    let current = 0x0000_0010;
    for (let i = 1; i <= 0x10000; i++) {
      if (i % 2 === 1) slot.insert();
      else slot.remove();
      // Waits for the counter to move (the high word of the current state differs from the counter → CHANGED).
      const { readerStates } = await o.api.SCardGetStatusChange(o.ctx, INFINITE, [
        { szReader: name, dwCurrentState: current },
      ]);
      const s = readerStates[0]!.dwEventState;
      if (hi(s) !== (i & 0xffff))
        expectState(s, ((i & 0xffff) << 16) | (i % 2 === 1 ? 0x22 : 0x12), `after event ${i}`);
      current = s & ~0x2;
    }
    expectState(current | 0x2, 0x0000_0012, 'after 65536 events the counter is 0 again');
    // And the next insertion is 1.
    slot.insert();
    const { readerStates } = await o.api.SCardGetStatusChange(o.ctx, INFINITE, [
      { szReader: name, dwCurrentState: current },
    ]);
    expectState(readerStates[0]!.dwEventState, 0x0001_0022, 'after event 65537');
  });

  it('each reader has its own counter', async () => {
    const r = await useRig(rig({ sims: [{ cards: [] }, {}] }));
    await r.insert(helloWorldCardT1(), 0);
    await r.remove(0);
    expectState((await r.state(r.names[0])).dwEventState, 0x0002_0012, 'first reader');
    expectState((await r.state(r.names[1])).dwEventState, 0x0000_0022, 'second reader (card present at start)');
  });
});
