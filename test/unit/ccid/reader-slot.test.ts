/**
 * CcidReaderSlot (reader-slot.ts): the slot as the daemon sees it — card events, IFDHGetCapabilities /
 * IFDHSetCapabilities and IFDHControl — against the simulated GemPC Twin.
 */
import { describe, expect, it } from 'vitest';
import { CcidReader } from '../../../src/ccid/reader.js';
import { IFD } from '../../../src/ifd/errors.js';
import { CM_IOCTL_GET_FEATURE_REQUEST, SCARD_ATTR_ATR_STRING } from '../../../src/pcsc/constants.js';
import { createSimulatedReader, helloWorldCardT1 } from '../../../src/sim/index.js';
import { toHex } from '../../../src/util/hex.js';

async function rig(options: { allowEscape?: boolean } = {}) {
  const sim = createSimulatedReader('gempc-twin');
  const card = helloWorldCardT1();
  sim.insertCard(card);
  const reader = await CcidReader.open(sim, { timeoutScale: 0.01, pollIntervalMs: 5, ...options });
  return { sim, card, reader, slot: reader.slots[0]! };
}

describe('card events', () => {
  it('delivers insertions and removals once each, and a quick re-insertion as removal then insertion', async () => {
    const { reader, slot } = await rig();
    const events: boolean[] = [];
    const stop = slot.onCardEvent((p) => events.push(p));
    slot.cardEvent(true);
    slot.cardEvent(true); // present again after present: it was swapped in between
    slot.cardEvent(false);
    slot.cardEvent(false); // no change
    expect(events).toEqual([true, false, true, false]);
    stop();
    slot.cardEvent(true);
    expect(events).toHaveLength(4);
    await reader.close();
  });

  it('a removal event forgets the powered card', async () => {
    const { reader, slot } = await rig();
    await slot.power('up');
    slot.cardEvent(false);
    expect(slot.atr).toBeUndefined();
    expect(slot.powered).toBe(false);
    await reader.close();
  });
});

describe('attributes', () => {
  it('answers SCARD_ATTR_ATR_STRING with the ATR once the card is powered', async () => {
    const { card, reader, slot } = await rig();
    expect(slot.getAttribute(SCARD_ATTR_ATR_STRING)?.length ?? 0).toBe(0); // no ATR before power-up
    await slot.power('up');
    expect(toHex(slot.getAttribute(SCARD_ATTR_ATR_STRING)!)).toBe(toHex(card.atr));
    await reader.close();
  });

  it('has no settable attribute (IFD_ERROR_NOT_SUPPORTED)', async () => {
    const { reader, slot } = await rig();
    await expect(slot.setAttribute(SCARD_ATTR_ATR_STRING, new Uint8Array(1))).rejects.toMatchObject({
      code: IFD.ERROR_NOT_SUPPORTED,
    });
    await reader.close();
  });
});

describe('control', () => {
  it('answers the feature request with 6-byte TLVs, the escape one only when allowed', async () => {
    for (const allowEscape of [false, true]) {
      const { reader, slot } = await rig({ allowEscape });
      const tlvs = await slot.control(CM_IOCTL_GET_FEATURE_REQUEST, new Uint8Array(0));
      expect(tlvs.length % 6).toBe(0);
      const tags = [];
      for (let i = 0; i < tlvs.length; i += 6) tags.push(tlvs[i]);
      expect(tags.includes(0x13)).toBe(allowEscape); // FEATURE_CCID_ESC_COMMAND
      expect(tags).toContain(0x12); // FEATURE_GET_TLV_PROPERTIES, always
      await reader.close();
    }
  });

  it('refuses an unknown control code with IFD_ERROR_NOT_SUPPORTED', async () => {
    const { reader, slot } = await rig();
    await expect(slot.control(0x42001234, new Uint8Array(0))).rejects.toMatchObject({ code: IFD.ERROR_NOT_SUPPORTED });
    await reader.close();
  });

  it('answers IFD_NO_SUCH_DEVICE once the reader is closed', async () => {
    const { reader, slot } = await rig();
    await reader.close();
    await expect(slot.control(CM_IOCTL_GET_FEATURE_REQUEST, new Uint8Array(0))).rejects.toMatchObject({
      code: IFD.NO_SUCH_DEVICE,
    });
  });
});
