/**
 * The vpcd reader with the real card emulator: Debian's `vicc` (python3-virtualsmartcard, python3-pycryptodome)
 * connecting to our vpcd server, used through the daemon's SCard* API. Insertion when vicc connects, SELECT of the
 * master file, GET CHALLENGE, removal when vicc stops, insertion again when it comes back.
 *
 * Debian installs vicc's module one level too deep and ships pycryptodome as `Cryptodome` where vicc imports `Crypto`:
 * PYTHONPATH gets the module's parent and a folder holding a `Crypto` symlink (see host-platform notes).
 *
 * Debian's vicc (0.8) dies on any SELECT that asks for FCI/FCP, with or without Le: with P2 = 00 it builds the FCI and
 * crashes in TLVutils.bertlv_pack (`TypeError: sequence item 0: expected a bytes-like object, int found`). So the
 * SELECT of the master file here uses P2 = 0C (ISO 7816-4 §11.1.1: no response data), which vicc answers 90 00.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
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

const VICC = '/usr/bin/vicc';
const VICC_MODULE_PARENT = '/usr/lib/python3/site-packages/virtualsmartcard';
const CRYPTODOME = '/usr/lib/python3/dist-packages/Cryptodome';
const missing = [VICC, VICC_MODULE_PARENT, CRYPTODOME].filter((p) => !existsSync(p));
const skip = missing.length > 0 && !process.env.CI;
if (skip) {
  console.warn(
    `vicc.test.ts skipped: ${missing.join(', ')} not found ` +
      '(apt-get install python3-virtualsmartcard python3-pycryptodome); ' +
      'in CI (CI set) this test runs and fails instead',
  );
}

const ISO7816_ATR = Uint8Array.of(0x3b, 0x95, 0x13, 0x81, 0x01, 0x80, 0x73, 0xff, 0x01, 0x00, 0x0b);

const shim = skip ? '' : mkdtempSync(join(tmpdir(), 'vicc-crypto-'));
if (!skip) symlinkSync(CRYPTODOME, join(shim, 'Crypto'));
afterAll(() => {
  if (shim !== '') rmSync(shim, { recursive: true, force: true });
});

const children: ChildProcess[] = [];
let pcsc: Pcsc | undefined;
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await pcsc?.close();
  pcsc = undefined;
});

function startVicc(port: number): ChildProcess {
  const child = spawn('/usr/bin/python3', [VICC, '-t', 'iso7816', '-H', '127.0.0.1', '-P', String(port)], {
    env: { ...process.env, PYTHONPATH: `${VICC_MODULE_PARENT}:${shim}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) console.error(`vicc exited with ${code}: ${stderr}`);
  });
  children.push(child);
  return child;
}

async function stopVicc(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
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

      let vicc = startVicc(port);
      const inserted = await waitFor(SCARD_STATE_EMPTY, SCARD_STATE_PRESENT);
      expect(inserted.rgbAtr).toEqual(ISO7816_ATR);

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

      await stopVicc(vicc);
      await waitFor(inserted.dwEventState, SCARD_STATE_EMPTY);

      vicc = startVicc(port);
      const back = await waitFor(SCARD_STATE_EMPTY, SCARD_STATE_PRESENT);
      expect(back.rgbAtr).toEqual(ISO7816_ATR);
      await stopVicc(vicc);
    },
  );
});
