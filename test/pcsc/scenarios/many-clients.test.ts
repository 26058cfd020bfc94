/**
 * Many clients at once: waiters woken together by one event, transactions that never interleave, a client vanishing
 * in the middle of its transaction (reference §3 "Sharing and transactions", "Client death").
 */
import { describe, expect, it } from 'vitest';
import {
  INFINITE,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_SHARE_SHARED,
  SCARD_W_RESET_CARD,
} from '../../../src/pcsc/index.js';
import { helloWorldCardT1 } from '../../../src/sim/index.js';
import {
  HELLO,
  HELLO_RESPONSE,
  SELECT_HELLO,
  SW_OK,
  connectShared,
  expectPending,
  expectResolves,
  expectSettlesWith,
  expectState,
  hex,
  ok,
  rig,
  track,
  tx,
  closeRigsAfterEach,
  type Client,
} from '../semantics/fixture.js';

const useRig = closeRigsAfterEach();

const SELECT_MF = hex('00 A4 00 00 02 3F 00');
const INS_NOT_SUPPORTED = hex('6D 00');

describe('many clients', () => {
  it('100 contexts (10 clients × 10) each waiting in GetStatusChange are all resolved by one insertion', async () => {
    const r = await useRig(rig({ sims: [{ cards: [] }], clients: 0 }));
    const waiters = [];
    for (let i = 0; i < 10; i++) {
      const api = r.daemon.connect({ name: `client ${i}` });
      for (let j = 0; j < 10; j++) {
        const { hContext } = await ok(api.SCardEstablishContext(0));
        waiters.push(
          track(
            api.SCardGetStatusChange(hContext, INFINITE, [{ szReader: r.name, dwCurrentState: 0x0000_0010 }]),
            `waiter ${i}.${j}`,
          ),
        );
      }
    }
    await expectPending(waiters[99]!, 'the last waiter before the insertion');
    expect(waiters.filter((w) => w.settled)).toHaveLength(0);
    r.sims[0]!.insertCard(helloWorldCardT1());
    for (const w of waiters) {
      const { readerStates } = await expectResolves(w, 'a waiter after the insertion');
      expectState(readerStates[0]!.dwEventState, 0x0001_0022);
    }
  });

  it('10 clients running transactions on one reader: each transaction’s APDUs never interleave with another’s', async () => {
    const r = await useRig(rig({ clients: 10 }));
    const log: string[] = [];
    const run = async (c: Client, id: number): Promise<void> => {
      const h = await connectShared(c, r.name);
      for (let round = 0; round < 3; round++) {
        await ok(c.api.SCardBeginTransaction(h), `Begin ${id}.${round}`);
        // Card state as the witness: SELECT hello, HELLO answers; SELECT MF deselects it, HELLO → 6D 00. Another
        // client's APDU in between would break one of the four expectations.
        expect(await tx(c, h, SELECT_HELLO)).toEqual(SW_OK);
        log.push(`${id}`);
        expect(await tx(c, h, HELLO), `client ${id} round ${round}: HELLO after its SELECT`).toEqual(HELLO_RESPONSE);
        log.push(`${id}`);
        expect(await tx(c, h, SELECT_MF)).toEqual(SW_OK);
        log.push(`${id}`);
        expect(await tx(c, h, HELLO), `client ${id} round ${round}: HELLO after its SELECT MF`).toEqual(
          INS_NOT_SUPPORTED,
        );
        log.push(`${id}`);
        await ok(c.api.SCardEndTransaction(h, SCARD_LEAVE_CARD), `End ${id}.${round}`);
      }
    };
    await Promise.all(r.clients.map((c, i) => run(c, i)));
    expect(log).toHaveLength(10 * 3 * 4);
    for (let i = 0; i < log.length; i += 4)
      expect(new Set(log.slice(i, i + 4)).size, `APDUs ${i}..${i + 3}: ${log.slice(i, i + 4).join(',')}`).toBe(1);
  });

  it('a client vanishing mid-transaction unblocks the waiters at once: a waiting Connect gets a handle that locks; a waiting Begin of an older handle sees the holder’s reset', async () => {
    const r = await useRig(rig({ clients: 3 }));
    const [a, b, c] = r.clients as [Client, Client, Client];
    const hA = await connectShared(a, r.name);
    const hB = await connectShared(b, r.name);
    await ok(a.api.SCardBeginTransaction(hA));
    expect(await tx(a, hA, SELECT_HELLO)).toEqual(SW_OK);
    const beginB = track(b.api.SCardBeginTransaction(hB), "B's Begin");
    const connectC = track(c.api.SCardConnect(c.ctx, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1), "C's Connect");
    await expectPending(beginB, "B's Begin while A holds the lock");
    expect(connectC.settled).toBe(false);
    await ok(a.api.close(), 'A vanishes');
    // §3 Client death: A's handle held the lock → released and Disconnect(RESET): B's handle is flagged.
    await expectSettlesWith(beginB, SCARD_W_RESET_CARD, "B's Begin");
    const { hCard: hC } = await expectResolves(connectC, "C's Connect");
    await ok(c.api.SCardBeginTransaction(hC), "C's Begin: the lock is free");
    expect(await tx(c, hC, SELECT_HELLO)).toEqual(SW_OK);
    expect(await tx(c, hC, HELLO)).toEqual(HELLO_RESPONSE);
    await ok(c.api.SCardEndTransaction(hC, SCARD_LEAVE_CARD));
  });

  it('many contexts on one client run in parallel: a blocked GetStatusChange on one does not hold up another', async () => {
    const r = await useRig(rig({ clients: 1 }));
    const a = r.clients[0]!;
    const w = track(a.api.SCardGetStatusChange(a.ctx, INFINITE, [{ szReader: r.name, dwCurrentState: 0x0000_0020 }]));
    const { hContext } = await ok(a.api.SCardEstablishContext(0));
    const { hCard } = await ok(a.api.SCardConnect(hContext, r.name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1));
    expect(await tx(a, hCard, SELECT_HELLO)).toEqual(SW_OK);
    expect(w.settled).toBe(false);
    await ok(a.api.SCardCancel(a.ctx));
    await w.done();
  });
});
