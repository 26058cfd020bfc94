/**
 * pcsc-lite reference §3 "Client death" (winscard_svc.c MSGCleanupClient / MSGRemoveContext; ReleaseContext does the
 * same) and §3 "Limits" (200 contexts, 200 handles per context → NO_MEMORY, 200 per reader → F_INTERNAL_ERROR).
 */
import { describe, expect, it } from 'vitest';
import {
  SCARD_E_INVALID_HANDLE,
  SCARD_E_NO_MEMORY,
  SCARD_F_INTERNAL_ERROR,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_RESET_CARD,
  SCARD_SHARE_DIRECT,
  SCARD_SHARE_SHARED,
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
  expectSettlesWith,
  expectState,
  FakeReader,
  fakeRig,
  letRun,
  ok,
  rejection,
  rig,
  track,
  tx,
  closeRigsAfterEach,
  type Client,
  waitFor,
} from './fixture.js';

const useRig = closeRigsAfterEach();

const T1 = { dwProtocol: SCARD_PROTOCOL_T1 };

type Ending = 'close' | 'release';
const end = (c: Client, how: Ending): Promise<void> =>
  how === 'close' ? c.api.close() : c.api.SCardReleaseContext(c.ctx);

for (const how of ['close', 'release'] as const) {
  const who = how === 'close' ? 'client death' : 'ReleaseContext';
  describe(`§3 Client death (${who})`, () => {
    it(`${who}: its handles are disconnected with LEAVE — the card is not reset, the reader is free`, async () => {
      const r = await useRig(rig());
      const [a, b] = r.clients as [Client, Client];
      const hB = await connectShared(b, r.name);
      expect(await tx(b, hB, SELECT_HELLO)).toEqual(SW_OK);
      await connectShared(a, r.name);
      await connectShared(a, r.name);
      await ok(end(a, how), who);
      expect(await tx(b, hB, HELLO)).toEqual(HELLO_RESPONSE); // no W_RESET_CARD, applet still selected
      await ok(b.api.SCardDisconnect(hB, SCARD_LEAVE_CARD));
      expectState((await r.state()).dwEventState, 0x0000_0022, 'no handle left: not INUSE');
    });

    it(`${who}: the lock holder's handle releases the lock and is Disconnect(RESET) — others get W_RESET_CARD ✔`, async () => {
      const r = await useRig(rig());
      const [a, b] = r.clients as [Client, Client];
      const hA = await connectShared(a, r.name);
      const hB = await connectShared(b, r.name);
      await ok(a.api.SCardBeginTransaction(hA));
      expect(await tx(a, hA, SELECT_HELLO)).toEqual(SW_OK);
      const w = track(b.api.SCardTransmit(hB, T1, HELLO));
      await expectPending(w, "B's Transmit while A holds the lock");
      await ok(end(a, how), who);
      await expectSettlesWith(w, SCARD_W_RESET_CARD, "B's waiting Transmit");
      await ok(b.api.SCardReconnect(hB, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD));
      expect(await tx(b, hB, HELLO)).not.toEqual(HELLO_RESPONSE); // the card was reset: applet deselected
      await ok(b.api.SCardBeginTransaction(hB), 'the lock is free');
    });

    it(`${who}: a lock holder whose card was already reset is only Disconnect(LEAVE) — no second reset (fake slot's power log)`, async () => {
      const reader = new FakeReader('Power Log Reader');
      const f = await useRig(fakeRig([reader]));
      const [a, b] = f.clients as [Client, Client];
      const slot = reader.slots[0]!;
      const hA = await connectShared(a, f.names[0]!);
      await connectShared(b, f.names[0]!);
      await ok(a.api.SCardBeginTransaction(hA));
      await ok(a.api.SCardBeginTransaction(hA));
      await ok(a.api.SCardEndTransaction(hA, SCARD_RESET_CARD)); // count 1: A still holds the lock, every handle flagged
      const resets = slot.powerLog.filter((p) => p !== 'up').length;
      expect(resets).toBeGreaterThan(0);
      await ok(end(a, how), who);
      await letRun(50);
      expect(slot.powerLog.filter((p) => p !== 'up').length).toBe(resets);
    });

    it(`${who}: a lock holder whose card was not reset gets Disconnect(RESET) (fake slot's power log)`, async () => {
      const reader = new FakeReader('Power Log Reader');
      const f = await useRig(fakeRig([reader]));
      const [a, b] = f.clients as [Client, Client];
      const slot = reader.slots[0]!;
      const hA = await connectShared(a, f.names[0]!);
      await connectShared(b, f.names[0]!);
      await ok(a.api.SCardBeginTransaction(hA));
      const before = slot.powerLog.length;
      await ok(end(a, how), who);
      await waitFor(() => slot.powerLog.length > before, 'the reset of the lock holder');
      expect(slot.powerLog.slice(before)).toEqual(['reset']);
    });

    it(`${who}: its context is gone (INVALID_HANDLE)`, async () => {
      const r = await useRig(rig());
      const a = r.clients[0]!;
      const h = await connectShared(a, r.name);
      await ok(end(a, how));
      if (how === 'release') {
        await expectCode(a.api.SCardIsValidContext(a.ctx), SCARD_E_INVALID_HANDLE);
        await expectCode(a.api.SCardStatus(h), SCARD_E_INVALID_HANDLE);
      } else {
        await rejection(a.api.SCardIsValidContext(a.ctx), 'a call of a dead client');
      }
    });
  });
}

describe('§3 Limits', () => {
  it('200 handles per context → the 201st Connect is NO_MEMORY (handles spread over two readers, 100 each)', async () => {
    const r = await useRig(rig({ sims: [{}, {}] }));
    const a = r.clients[0]!;
    for (let i = 0; i < 200; i++)
      await ok(a.api.SCardConnect(a.ctx, r.names[i % 2]!, SCARD_SHARE_DIRECT, 0), `Connect #${i + 1}`);
    await expectCode(a.api.SCardConnect(a.ctx, r.names[0]!, SCARD_SHARE_DIRECT, 0), SCARD_E_NO_MEMORY, 'Connect #201');
    // The refused handle was disconnected again: another context still gets the reader's 101st handle.
    const b = r.clients[1]!;
    await ok(b.api.SCardConnect(b.ctx, r.names[0]!, SCARD_SHARE_DIRECT, 0), 'another context');
  });

  it('200 handles per reader → the 201st Connect is F_INTERNAL_ERROR (from two contexts)', async () => {
    const r = await useRig(rig());
    const [a, b] = r.clients as [Client, Client];
    for (let i = 0; i < 200; i++) {
      const c = i % 2 ? b : a;
      await ok(c.api.SCardConnect(c.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1), `Connect #${i + 1}`);
    }
    const c = await r.newClient('C');
    await expectCode(
      c.api.SCardConnect(c.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1),
      SCARD_F_INTERNAL_ERROR,
      'Connect #201',
    );
  });

  it('200 contexts in all: the 201st EstablishContext fails; after one is released there is room again', async () => {
    const r = await useRig(rig({ sims: [{}] }));
    // The rig holds 3 contexts (A, B, observer).
    const a = r.clients[0]!;
    const extra: number[] = [];
    for (let i = 3; i < 200; i++) extra.push((await ok(a.api.SCardEstablishContext(0), `context #${i + 1}`)).hContext);
    const e = await rejection(a.api.SCardEstablishContext(0), 'context #201');
    // pcscd refuses the 201st client connection (CreateContextThread) and closes it: the C client reads
    // SCARD_F_COMM_ERROR; CreateContextThread's own code is SCARD_E_NO_MEMORY. The reference fixes only the limit.
    expect([0x80100013, SCARD_E_NO_MEMORY]).toContain(e.code);
    await ok(a.api.SCardReleaseContext(extra[0]!));
    await ok(a.api.SCardEstablishContext(0), 'a context after one was released');
  });
});
