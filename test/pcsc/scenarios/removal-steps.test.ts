/**
 * Card removal and reader removal at every step of a connect → transaction → transmit → end → disconnect sequence.
 * The step after the removal must fail with the code the reference gives, and the client must be able to clean up.
 *
 * Card removal (§3 Reset and removal): handles flagged W_REMOVED_CARD (checked by Begin/EndTransaction, Transmit);
 * Connect with no card → NO_SMARTCARD; Disconnect ignores the flag.
 * Reader removal: the name is gone → Connect UNKNOWN_READER (§2 Connect); Status → READER_UNAVAILABLE (§2 Status,
 * "reader gone"; the client library no longer finds the reader); the other handle calls reach pcscd, where the handle
 * is in no reader's list any more → E_INVALID_VALUE (§2 preamble; readerfactory.c removeReader empties the handle
 * list); Disconnect → SUCCESS (§2 Disconnect, "reader gone"), a second Disconnect → INVALID_HANDLE.
 */
import { describe, expect, it } from 'vitest';
import {
  SCARD_E_INVALID_HANDLE,
  SCARD_E_INVALID_VALUE,
  SCARD_E_NO_SMARTCARD,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_E_UNKNOWN_READER,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T1,
  SCARD_SHARE_SHARED,
  SCARD_W_REMOVED_CARD,
} from '../../../src/pcsc/index.js';
import {
  HELLO,
  HELLO_RESPONSE,
  SELECT_HELLO,
  SW_OK,
  expectCode,
  FakeReader,
  fakeRig,
  ok,
  rig,
  waitFor,
  closeRigsAfterEach,
  type Client,
} from '../semantics/fixture.js';

const useRig = closeRigsAfterEach();

const T1 = { dwProtocol: SCARD_PROTOCOL_T1 };

interface Session {
  c: Client;
  name: string;
  hCard?: number;
}

type Step = [name: string, run: (s: Session) => Promise<unknown>, check?: (result: unknown) => void];

const steps: Step[] = [
  [
    'Connect',
    async (s) => {
      const { hCard, dwActiveProtocol } = await s.c.api.SCardConnect(
        s.c.ctx,
        s.name,
        SCARD_SHARE_SHARED,
        SCARD_PROTOCOL_T1,
      );
      s.hCard = hCard;
      return dwActiveProtocol;
    },
    (p) => expect(p).toBe(SCARD_PROTOCOL_T1),
  ],
  ['BeginTransaction', (s) => s.c.api.SCardBeginTransaction(s.hCard!)],
  [
    'Transmit SELECT',
    async (s) => (await s.c.api.SCardTransmit(s.hCard!, T1, SELECT_HELLO)).recvBuffer,
    (b) => expect(b).toEqual(SW_OK),
  ],
  [
    'Transmit HELLO',
    async (s) => (await s.c.api.SCardTransmit(s.hCard!, T1, HELLO)).recvBuffer,
    (b) => expect(b).toEqual(HELLO_RESPONSE),
  ],
  ['Status', (s) => s.c.api.SCardStatus(s.hCard!)],
  ['EndTransaction', (s) => s.c.api.SCardEndTransaction(s.hCard!, SCARD_LEAVE_CARD)],
  ['Disconnect', (s) => s.c.api.SCardDisconnect(s.hCard!, SCARD_LEAVE_CARD)],
];

const afterCardRemoval: Record<string, number | 'ok'> = {
  Connect: SCARD_E_NO_SMARTCARD,
  BeginTransaction: SCARD_W_REMOVED_CARD,
  'Transmit SELECT': SCARD_W_REMOVED_CARD,
  'Transmit HELLO': SCARD_W_REMOVED_CARD,
  Status: SCARD_W_REMOVED_CARD,
  EndTransaction: SCARD_W_REMOVED_CARD,
  Disconnect: 'ok',
};

const afterReaderRemoval: Record<string, number | 'ok'> = {
  Connect: SCARD_E_UNKNOWN_READER,
  BeginTransaction: SCARD_E_INVALID_VALUE,
  'Transmit SELECT': SCARD_E_INVALID_VALUE,
  'Transmit HELLO': SCARD_E_INVALID_VALUE,
  Status: SCARD_E_READER_UNAVAILABLE,
  EndTransaction: SCARD_E_INVALID_VALUE,
  Disconnect: 'ok',
};

async function runUpTo(s: Session, k: number): Promise<void> {
  for (const [what, run, check] of steps.slice(0, k)) {
    const v = await ok(run(s), what);
    check?.(v);
  }
}

describe('card removal at every step', () => {
  steps.forEach(([what, run], k) => {
    const expected = afterCardRemoval[what]!;
    it(`card removed before ${what} → ${expected === 'ok' ? 'SUCCESS' : `0x${expected.toString(16)}`}; the client cleans up; a new card works`, async () => {
      const r = await useRig(rig());
      const s: Session = { c: r.clients[0]!, name: r.name };
      await runUpTo(s, k);
      await r.remove();
      if (expected === 'ok') await ok(run(s), what);
      else await expectCode(run(s), expected, what);
      if (s.hCard !== undefined && what !== 'Disconnect')
        await ok(s.c.api.SCardDisconnect(s.hCard, SCARD_LEAVE_CARD), 'cleanup Disconnect');
      // A new card, a fresh session, the whole sequence.
      await r.insert();
      const fresh: Session = { c: r.clients[1]!, name: r.name };
      await runUpTo(fresh, steps.length);
    });
  });
});

describe('reader removal at every step', () => {
  steps.forEach(([what, run], k) => {
    const expected = afterReaderRemoval[what]!;
    it(`reader unplugged before ${what} → ${expected === 'ok' ? 'SUCCESS' : `0x${expected.toString(16)}`}; Disconnect → SUCCESS then INVALID_HANDLE`, async () => {
      const r = await useRig(rig());
      const s: Session = { c: r.clients[0]!, name: r.name };
      await runUpTo(s, k);
      r.sims[0]!.unplug();
      r.readers[0]!.markRemoved();
      await waitFor(() => r.daemon.readerNames.length === 0, 'the daemon to drop the unplugged reader');
      if (expected === 'ok') await ok(run(s), what);
      else await expectCode(run(s), expected, what);
      if (s.hCard !== undefined) {
        if (what !== 'Disconnect')
          await ok(s.c.api.SCardDisconnect(s.hCard, SCARD_LEAVE_CARD), 'Disconnect after the reader went');
        await expectCode(
          s.c.api.SCardDisconnect(s.hCard, SCARD_LEAVE_CARD),
          SCARD_E_INVALID_HANDLE,
          'second Disconnect',
        );
      }
      // A new reader of the same model takes the name again; the whole sequence works there.
      const { names } = await r.addSim();
      expect(names).toEqual([r.name]);
      await runUpTo({ c: r.clients[1]!, name: names[0]! }, steps.length);
      await ok(s.c.api.SCardReleaseContext(s.c.ctx));
    });
  });

  it('a Transmit in flight when the reader is unplugged → READER_UNAVAILABLE (§2 Transmit "reader unplugged"; IFD_NO_SUCH_DEVICE)', async () => {
    const reader = new FakeReader('Unplug Reader');
    const f = await useRig(fakeRig([reader]));
    const c = f.clients[0]!;
    const { hCard } = await ok(c.api.SCardConnect(c.ctx, f.names[0]!, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1));
    reader.slots[0]!.holdTransmit = true;
    const p = c.api.SCardTransmit(hCard, T1, SELECT_HELLO);
    await waitFor(() => reader.slots[0]!.held.length > 0, 'the APDU to reach the driver');
    reader.unplug();
    await expectCode(p, SCARD_E_READER_UNAVAILABLE, 'the Transmit in flight');
  });
});
