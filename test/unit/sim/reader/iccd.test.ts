/**
 * The simulated ICCD tokens (src/sim/reader/iccd.ts), at the level of ISO/IEC 7816-12's class requests: version A
 * (e-gate, readers/e-gate.txt) and version B (Rutoken Magistra, readers/Aktiv_Rutoken_Magistra.txt).
 */
import { describe, expect, it } from 'vitest';
import {
  ICCD_A_EGATE,
  ICCD_B_RUTOKEN_MAGISTRA,
  createSimulatedReader,
  helloWorldCardT0,
  helloWorldCardT1,
} from '../../../../src/sim/index.js';
import { bytes, hex } from './ccid-helpers.js';

/** Bytes on a fresh ArrayBuffer, as WebUSB's BufferSource takes them. */
const b = (h: string) => Uint8Array.from(bytes(h));

const setup = (request: number, value = 0) =>
  ({ requestType: 'class', recipient: 'interface', request, value, index: 0 }) as const;

async function opened(profile: typeof ICCD_A_EGATE) {
  const token = createSimulatedReader(profile);
  await token.open();
  await token.claimInterface(0);
  return token;
}

async function controlIn(token: USBDevice, request: number, length: number): Promise<string | null> {
  const r = await token.controlTransferIn(setup(request), length);
  if (r.status !== 'ok') return null;
  return hex(new Uint8Array(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength));
}

describe('ICCD version A (ISO/IEC 7816-12 §7)', () => {
  it('has no endpoint and a vendor-class interface with protocol 1', async () => {
    const token = await opened(ICCD_A_EGATE);
    const alt = token.configuration!.interfaces[0]!.alternate;
    expect([alt.interfaceClass, alt.interfaceProtocol, alt.endpoints.length]).toEqual([0xff, 1, 0]);
  });

  it('status 0x80 without a card; ICC_POWER_ON gives the ATR; a case 3 then a case 2 command', async () => {
    const token = await opened(ICCD_A_EGATE);
    expect(await controlIn(token, 0xa0, 1)).toBe('80');
    const card = helloWorldCardT0();
    token.insertCard(card);
    expect(await controlIn(token, 0x62, 33)).toBe(hex(card.atr));
    expect(await controlIn(token, 0xa0, 1)).toBe('00');
    // SELECT: header, then "data expected" (0x10), the data, then "status bytes available" (0x20).
    const select = b('00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01');
    await token.controlTransferOut(setup(0x65), select.slice(0, 5));
    expect(await controlIn(token, 0xa0, 1)).toBe('10');
    await token.controlTransferOut(setup(0x65), select.slice(5));
    expect(await controlIn(token, 0xa0, 1)).toBe('20');
    expect(await controlIn(token, 0x6f, 2)).toBe('90 00');
    expect(await controlIn(token, 0xa0, 1)).toBe('00');
    // GET RESPONSE after the hello command's 61 0C: header, 0x10, DATA_BLOCK with the data, 0x20, SW1 SW2.
    await token.controlTransferOut(setup(0x65), b('00 00 00 00 00'));
    await controlIn(token, 0x6f, 256);
    await controlIn(token, 0x6f, 2);
    await token.controlTransferOut(setup(0x65), b('00 C0 00 00 0C'));
    expect(await controlIn(token, 0xa0, 1)).toBe('10');
    expect(await controlIn(token, 0x6f, 12)).toBe(hex(new TextEncoder().encode('Hello world!')));
    expect(await controlIn(token, 0xa0, 1)).toBe('20');
    expect(await controlIn(token, 0x6f, 2)).toBe('90 00');
  });

  it('stalls a DATA_BLOCK nothing is waiting for', async () => {
    const token = await opened(ICCD_A_EGATE);
    token.insertCard(helloWorldCardT0());
    expect(await controlIn(token, 0x6f, 2)).toBeNull();
  });
});

describe('ICCD version B (ISO/IEC 7816-12 §8)', () => {
  it('power on then DATA_BLOCK: bResponseType 0x00 and the ATR; SLOT_STATUS: 0x40, bStatus, bError', async () => {
    const token = await opened(ICCD_B_RUTOKEN_MAGISTRA);
    expect(await controlIn(token, 0x81, 3)).toBe('40 02 00');
    const card = helloWorldCardT1();
    token.insertCard(card);
    expect(await controlIn(token, 0x81, 3)).toBe('40 01 00');
    await token.controlTransferOut(setup(0x62, 1));
    expect(await controlIn(token, 0x6f, 64)).toBe(hex(Uint8Array.from([0x00, ...card.atr])));
    expect(await controlIn(token, 0x81, 3)).toBe('40 00 00');
    await token.controlTransferOut(setup(0x65), b('00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01'));
    expect(await controlIn(token, 0x6f, 64)).toBe('00 90 00');
  });

  it('a long answer comes in pieces: bResponseType 0x01 first, then 0x10-level requests for the rest', async () => {
    const token = await opened(ICCD_B_RUTOKEN_MAGISTRA);
    token.insertCard(helloWorldCardT1());
    await token.controlTransferOut(setup(0x62, 1));
    await controlIn(token, 0x6f, 64);
    await token.controlTransferOut(setup(0x65), b('00 84 00 00 00')); // GET CHALLENGE 256
    const first = await token.controlTransferIn(setup(0x6f), 0x1000);
    const firstBytes = new Uint8Array(first.data!.buffer, first.data!.byteOffset, first.data!.byteLength);
    expect(firstBytes[0]).toBe(0x01);
    let total = firstBytes.length - 1;
    let kind = 0x01;
    while (kind === 0x01 || kind === 0x03) {
      await token.controlTransferOut(setup(0x65, 0x10 << 8));
      const next = await token.controlTransferIn(setup(0x6f), 0x1000);
      kind = next.data!.getUint8(0);
      total += next.data!.byteLength - 1;
    }
    expect(kind).toBe(0x02);
    expect(total).toBe(258);
  });
});
