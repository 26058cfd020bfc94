/**
 * The vpcd reader with the real card emulator: Debian's `vicc` (python3-virtualsmartcard, python3-pycryptodome)
 * connecting to our vpcd server, used through the daemon's SCard* API. Insertion when vicc connects, SELECT of the
 * master file, GET CHALLENGE, removal when vicc stops, insertion again when it comes back.
 *
 * Where Debian puts vicc, how it is started and its SELECT quirk: test/host/support/vicc.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  openPcsc,
  SCARD_LEAVE_CARD,
  SCARD_PROTOCOL_T0,
  SCARD_PROTOCOL_T1,
  SCARD_SCOPE_SYSTEM,
  SCARD_SHARE_SHARED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_PRESENT,
  type Pcsc,
} from '../../../src/host/index.js';
import { startVicc, VICC_ISO7816_ATR, VICC_PACKAGES, viccMissing, type Vicc } from '../support/vicc.js';

const missing = viccMissing();
const skip = missing.length > 0 && !process.env.CI;
if (skip) {
  console.warn(
    `vicc.test.ts skipped: ${missing.join(', ')} not found (apt-get install ${VICC_PACKAGES}); ` +
      'in CI (CI set) this test runs and fails instead',
  );
}

const cards: Vicc[] = [];
let pcsc: Pcsc | undefined;
afterEach(async () => {
  for (const c of cards.splice(0)) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  await pcsc?.close();
  pcsc = undefined;
});

function card(port: number): Vicc {
  const vicc = startVicc(port);
  cards.push(vicc);
  return vicc;
}

describe.skipIf(skip)('vpcd reader with the real vicc', () => {
  it(
    'sees vicc as a card through the daemon: SELECT MF, GET CHALLENGE, removal and insertion',
    { timeout: 30_000 },
    async () => {
      pcsc = await openPcsc({ usb: false, vpcd: 0 });
      const port = pcsc.readers.vpcd!.port;
      const { hContext } = await pcsc.SCardEstablishContext(SCARD_SCOPE_SYSTEM);
      const { readers } = await pcsc.SCardListReaders(hContext, null);
      expect(readers).toEqual(['Virtual PCD 00 00']);
      const reader = readers[0]!;
      const waitFor = async (current: number, want: number) => {
        const { readerStates } = await pcsc!.SCardGetStatusChange(hContext, 15_000, [
          { szReader: reader, dwCurrentState: current },
        ]);
        expect(readerStates[0]!.dwEventState & want).toBe(want);
        return readerStates[0]!;
      };

      let vicc = card(port);
      const inserted = await waitFor(SCARD_STATE_EMPTY, SCARD_STATE_PRESENT);
      expect(inserted.rgbAtr).toEqual(VICC_ISO7816_ATR);

      const { hCard, dwActiveProtocol } = await pcsc.SCardConnect(
        hContext,
        reader,
        SCARD_SHARE_SHARED,
        SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
      );
      expect(dwActiveProtocol).toBe(SCARD_PROTOCOL_T1);
      const pci = { dwProtocol: dwActiveProtocol };
      const select = await pcsc.SCardTransmit(hCard, pci, Uint8Array.of(0x00, 0xa4, 0x00, 0x0c, 0x02, 0x3f, 0x00));
      expect(select.recvBuffer).toEqual(Uint8Array.of(0x90, 0x00));
      const challenge = await pcsc.SCardTransmit(hCard, pci, Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x08));
      expect(challenge.recvBuffer).toHaveLength(10);
      expect([...challenge.recvBuffer.subarray(8)]).toEqual([0x90, 0x00]);
      const again = await pcsc.SCardTransmit(hCard, pci, Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x08));
      expect(again.recvBuffer.subarray(0, 8)).not.toEqual(challenge.recvBuffer.subarray(0, 8));
      await pcsc.SCardDisconnect(hCard, SCARD_LEAVE_CARD);

      await vicc.stop();
      await waitFor(inserted.dwEventState, SCARD_STATE_EMPTY);

      vicc = card(port);
      const back = await waitFor(SCARD_STATE_EMPTY, SCARD_STATE_PRESENT);
      expect(back.rgbAtr).toEqual(VICC_ISO7816_ATR);
      await vicc.stop();
    },
  );
});
