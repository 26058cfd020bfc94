/**
 * CcidSlot (slot.ts), the IFD handler of one card slot, against the simulated GemPC Twin: presence, power, protocol,
 * exchanges, and the end of the reader. The driver's slots are CcidReaderSlot, a CcidSlot with control/attributes.
 */
import { describe, expect, it } from 'vitest';
import { CcidReader } from '../../../src/ccid/reader.js';
import { CcidSlot } from '../../../src/ccid/slot.js';
import { DriverError, IFD, readerRemoved } from '../../../src/ifd/errors.js';
import { createSimulatedReader, helloWorldCardT0, helloWorldCardT1 } from '../../../src/sim/index.js';
import { toHex } from '../../../src/util/hex.js';
import { SELECT_HELLO } from '../../support/hello.js';

const HELLO = Uint8Array.of(0, 0, 0, 0);

async function rig(card: 'T=1' | 'T=0' | 'none' = 'T=1') {
  const sim = createSimulatedReader('gempc-twin');
  const simCard = card === 'none' ? undefined : card === 'T=1' ? helloWorldCardT1() : helloWorldCardT0();
  if (simCard) sim.insertCard(simCard);
  const reader = await CcidReader.open(sim, { timeoutScale: 0.01, pollIntervalMs: 5 });
  const slot: CcidSlot = reader.slots[0]!;
  return { sim, simCard, reader, slot };
}

describe('CcidSlot', () => {
  it('is a CcidSlot per reader slot', async () => {
    const { reader, slot } = await rig();
    expect(slot).toBeInstanceOf(CcidSlot);
    expect(slot.slot).toBe(0);
    await reader.close();
  });

  it('reports presence from GetSlotStatus', async () => {
    const { sim, reader, slot } = await rig('none');
    expect(await slot.iccPresence()).toBe(false);
    sim.insertCard(helloWorldCardT1());
    expect(await slot.iccPresence()).toBe(true);
    await reader.close();
  });

  it('powers up (the ATR), sets T=1 and exchanges APDUs', async () => {
    const { simCard, reader, slot } = await rig('T=1');
    expect(slot.powered).toBe(false);
    const atr = await slot.power('up');
    expect(toHex(atr)).toBe(toHex(simCard!.atr));
    expect(toHex(slot.atr!)).toBe(toHex(atr));
    expect(slot.powered).toBe(true);
    await slot.setProtocol(2);
    expect(slot.protocol).toBe(1);
    expect(toHex(await slot.transmit(SELECT_HELLO))).toBe('90 00');
    const answer = await slot.transmit(HELLO);
    expect(new TextDecoder().decode(answer.subarray(0, -2))).toBe('Hello world!');
    await reader.close();
  });

  it('T=0: the answer waits for GET RESPONSE (61 xx)', async () => {
    const { reader, slot } = await rig('T=0');
    await slot.power('up');
    await slot.setProtocol(1);
    expect(slot.protocol).toBe(0);
    expect(toHex(await slot.transmit(SELECT_HELLO))).toMatch(/^(90 00|61 ..)$/);
    await reader.close();
  });

  it('forgets the card on power down, and an exchange then fails with a driver error', async () => {
    const { reader, slot } = await rig('T=1');
    await slot.power('up');
    await slot.setProtocol(2);
    await slot.power('down');
    expect(slot.powered).toBe(false);
    const e = await slot.transmit(HELLO).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DriverError);
    await reader.close();
  });

  it('a removed card is forgotten: the next look says absent', async () => {
    const { sim, reader, slot } = await rig('T=1');
    await slot.power('up');
    sim.removeCard(0);
    expect(await slot.iccPresence()).toBe(false);
    expect(slot.atr).toBeUndefined();
    expect(slot.protocol).toBeUndefined();
    await reader.close();
  });

  it('powering an empty slot fails with a driver error, not a crash', async () => {
    const { reader, slot } = await rig('none');
    const e = await slot.power('up').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DriverError);
    await reader.close();
  });

  it('after readerGone every call rejects with that error', async () => {
    const { reader, slot } = await rig('T=1');
    await slot.power('up');
    const gone = readerRemoved('test: the reader went');
    slot.readerGone(gone);
    await expect(slot.iccPresence()).rejects.toBe(gone);
    await expect(slot.power('up')).rejects.toBe(gone);
    await expect(slot.transmit(HELLO)).rejects.toBe(gone);
    expect(slot.atr).toBeUndefined();
    await reader.close();
  });

  it('a closed reader answers IFD_NO_SUCH_DEVICE', async () => {
    const { reader, slot } = await rig('T=1');
    await reader.close();
    await expect(slot.iccPresence()).rejects.toMatchObject({ code: IFD.NO_SUCH_DEVICE });
  });
});
