/**
 * The Gemalto IDBridge K30 (08E6:3438, firmware 2.00) sends zero-length bulk-IN packets before some responses. The
 * driver skips them whether or not `enableZlp` is set; the ZLP quirk (libccid --enable-zlp) is applied only when
 * enabled, and only to the firmware the known-readers table names.
 */
import { describe, expect, it } from 'vitest';
import { readerQuirks } from '../../src/ccid/known-readers.js';
import { helloWorldCardT0, helloWorldCardT1, PROFILES } from '../../src/sim/index.js';
import {
  concat,
  echoExtended,
  echoShort,
  expectBytes,
  GET_RESPONSE_HELLO,
  HELLO,
  HELLO_RESPONSE,
  hex,
  must,
  openRig,
  pattern,
  SELECT_HELLO,
  SW_OK,
} from './helpers.js';

describe.each([true, false])('K30 with enableZlp: %s', (enableZlp) => {
  it('applies the ZLP quirk only when enabled', async () => {
    const { reader } = await openRig('k30', { enableZlp });
    expect(reader.quirks.zlp).toBe(enableZlp);
    await reader.close();
  });

  it.each([
    ['T=1', 2 as const],
    ['T=0', 1 as const],
  ])('exchanges work with a %s card, the ZLPs skipped', async (_name, protocol) => {
    const { sim, reader, traffic } = await openRig('k30', { enableZlp });
    const card = protocol === 2 ? helloWorldCardT1() : helloWorldCardT0();
    sim.insertCard(card);
    const slot = reader.slots[0]!;
    expect(await must(slot.power('up'))).toEqual(card.atr);
    await must(slot.setProtocol(protocol));
    expect(await must(slot.transmit(SELECT_HELLO))).toEqual(SW_OK);
    if (protocol === 2) {
      expect(await must(slot.transmit(HELLO))).toEqual(HELLO_RESPONSE);
      const big = pattern(5000, 2);
      expectBytes(await must(slot.transmit(echoExtended(big))), concat(big, SW_OK));
    } else {
      expect(await must(slot.transmit(HELLO))).toEqual(hex('61 0C'));
      expect(await must(slot.transmit(GET_RESPONSE_HELLO))).toEqual(HELLO_RESPONSE);
      expect(await must(slot.transmit(echoShort(pattern(255))))).toEqual(hex('61 FF'));
    }
    // The reader did send zero-length packets, one before each IccPowerOn and XfrBlock response.
    const zlps = traffic.inRaw.filter((p) => p.length === 0).length;
    const answeredWithZlp = traffic.out.filter((f) => f.type === 0x62 || f.type === 0x6f).length;
    expect(zlps).toBe(answeredWithZlp);
    expect(zlps).toBeGreaterThan(3);
    await reader.close();
  });
});

describe('the known-readers table', () => {
  it('enables the ZLP drain for 08E6:3438 firmware 2.00 only when asked', () => {
    const k30 = PROFILES.k30;
    expect(k30.bcdDevice).toBe(0x0200);
    expect(readerQuirks(k30.vendorId, k30.productId, { enableZlp: true, bcdDevice: 0x0200 }).zlp).toBe(true);
    expect(readerQuirks(k30.vendorId, k30.productId, { enableZlp: false, bcdDevice: 0x0200 }).zlp).toBe(false);
    expect(readerQuirks(k30.vendorId, k30.productId, { bcdDevice: 0x0200 }).zlp).toBe(false);
  });

  it('does not enable it for readers or firmwares the table does not name', async () => {
    // GemPC Twin firmware 1.00: same family, not the buggy firmware.
    const { reader } = await openRig('gempc-twin', { enableZlp: true });
    expect(reader.quirks.zlp).toBe(false);
    await reader.close();
    const other = await openRig('extended-apdu', { enableZlp: true });
    expect(other.reader.quirks.zlp).toBe(false);
    await other.reader.close();
  });
});
