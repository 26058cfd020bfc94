import { describe, expect, it } from 'vitest';
import { createSimulatedReader } from '../../../../src/sim/reader/device.js';
import { TestCard } from './test-card.js';
import { BULK_IN, BULK_OUT, INTERRUPT_IN, exchange, msg, openReader, parse, settled } from './ccid-helpers.js';

async function rejectsWith(p: Promise<unknown>, name: string): Promise<void> {
  await expect(p).rejects.toSatisfy((e: unknown) => e instanceof DOMException && e.name === name);
}

describe('WebUSB device life cycle', () => {
  it('refuses to claim an interface before open, and on a device without configuration', async () => {
    const reader = createSimulatedReader('gempc-twin', { configured: false });
    await rejectsWith(reader.claimInterface(0), 'InvalidStateError');
    await reader.open();
    expect(reader.opened).toBe(true);
    expect(reader.configuration).toBeNull();
    await rejectsWith(reader.claimInterface(0), 'InvalidStateError');
    await reader.selectConfiguration(1);
    await reader.claimInterface(0);
    expect(reader.configuration!.interfaces[0]!.claimed).toBe(true);
  });

  it('answers NotFoundError for an interface, configuration or alternate setting it does not have', async () => {
    const reader = await openReader('gempc-twin');
    await rejectsWith(reader.claimInterface(1), 'NotFoundError');
    await rejectsWith(reader.selectConfiguration(2), 'NotFoundError');
    await rejectsWith(reader.selectAlternateInterface(0, 1), 'NotFoundError');
    await reader.selectAlternateInterface(0, 0);
  });

  it('rejects transfers on endpoints that are not in the claimed interface', async () => {
    const reader = await openReader('no-interrupt');
    await rejectsWith(reader.transferIn(INTERRUPT_IN, 8), 'NotFoundError');
    await rejectsWith(reader.transferOut(BULK_IN, new Uint8Array(10)), 'NotFoundError');
    await rejectsWith(reader.transferIn(BULK_OUT, 10), 'NotFoundError');
    await reader.releaseInterface(0);
    await rejectsWith(reader.transferIn(BULK_IN, 10), 'NotFoundError');
  });

  it('rejects transfers before open with InvalidStateError and isochronous transfers with NotSupportedError', async () => {
    const reader = createSimulatedReader('gempc-twin');
    await rejectsWith(reader.transferIn(BULK_IN, 10), 'InvalidStateError');
    await reader.open();
    await rejectsWith(reader.isochronousTransferIn(1, [8]), 'NotSupportedError');
    await rejectsWith(reader.isochronousTransferOut(1, new Uint8Array(8), [8]), 'NotSupportedError');
  });

  it('close cancels a pending transferIn with AbortError', async () => {
    const reader = await openReader('gempc-twin');
    const pending = reader.transferIn(BULK_IN, 64);
    await reader.close();
    await rejectsWith(pending, 'AbortError');
    expect(reader.opened).toBe(false);
  });

  it('a transferIn waits for the response instead of timing out', async () => {
    const reader = await openReader('gempc-twin');
    const pending = reader.transferIn(BULK_IN, 64);
    expect(await settled(pending)).toBe(false);
    await reader.transferOut(BULK_OUT, msg(0x65, 0, 9));
    const r = parse(await pending);
    expect(r.type).toBe(0x81);
    expect(r.seq).toBe(9);
  });

  it('reports babble when the host buffer is smaller than the response', async () => {
    const reader = await openReader('gempc-twin');
    await reader.transferOut(BULK_OUT, msg(0x65, 0, 1));
    const r = await reader.transferIn(BULK_IN, 4);
    expect(r.status).toBe('babble');
    expect(r.data!.byteLength).toBe(4);
  });
});

describe('unplug', () => {
  it('rejects a pending transferIn and every later transfer with NotFoundError "The device was disconnected."', async () => {
    const reader = await openReader('gempc-twin');
    let unplugEvents = 0;
    reader.onunplug = () => unplugEvents++;
    const pending = reader.transferIn(BULK_IN, 64);
    const pendingInterrupt = reader.transferIn(INTERRUPT_IN, 8);
    reader.unplug();
    await expect(pending).rejects.toMatchObject({ name: 'NotFoundError', message: 'The device was disconnected.' });
    await rejectsWith(pendingInterrupt, 'NotFoundError');
    expect(reader.opened).toBe(false);
    await rejectsWith(reader.transferOut(BULK_OUT, msg(0x65, 0, 1)), 'NotFoundError');
    await rejectsWith(reader.open(), 'NotFoundError');
    await rejectsWith(
      reader.controlTransferIn(
        { requestType: 'standard', recipient: 'device', request: 6, value: 0x100, index: 0 },
        18,
      ),
      'NotFoundError',
    );
    expect(unplugEvents).toBe(1);
  });
});

describe('card insertion and removal on interrupt-IN (CCID 1.1 §6.3.1)', () => {
  it('sends NotifySlotChange with present+changed on insertion and changed only on removal', async () => {
    const reader = await openReader('gempc-twin');
    reader.insertCard(new TestCard());
    const inserted = await reader.transferIn(INTERRUPT_IN, 8);
    expect(
      Array.from(new Uint8Array(inserted.data!.buffer, inserted.data!.byteOffset, inserted.data!.byteLength)),
    ).toEqual([0x50, 0x03]);
    const pending = reader.transferIn(INTERRUPT_IN, 8);
    expect(await settled(pending)).toBe(false);
    reader.removeCard();
    const removed = await pending;
    expect(removed.data!.getUint8(1)).toBe(0x02);
  });

  it('merges unread notifications so that a quick remove and re-insert still reads as changed', async () => {
    const reader = await openReader('gempc-twin');
    reader.insertCard(new TestCard());
    reader.removeCard();
    reader.insertCard(new TestCard());
    const r = await reader.transferIn(INTERRUPT_IN, 8);
    expect(r.data!.byteLength).toBe(2);
    expect(r.data!.getUint8(1)).toBe(0x03);
    expect(await settled(reader.transferIn(INTERRUPT_IN, 8))).toBe(false);
  });

  it('reports each slot in its own two bits on a two-slot reader', async () => {
    const reader = await openReader('two-slot');
    reader.insertCard(new TestCard(), 1);
    const r = await reader.transferIn(INTERRUPT_IN, 8);
    expect(r.data!.getUint8(1)).toBe(0b1100);
  });

  it('refuses a second card in an occupied slot and a slot that does not exist', async () => {
    const reader = await openReader('gempc-twin');
    reader.insertCard(new TestCard());
    expect(() => reader.insertCard(new TestCard())).toThrow(/already holds a card/);
    expect(() => reader.insertCard(new TestCard(), 1)).toThrow(RangeError);
  });

  it('slot status follows insertion, power-on and removal', async () => {
    const reader = await openReader('gempc-twin');
    expect((await exchange(reader, msg(0x65, 0, 1))).status).toBe(0x02);
    reader.insertCard(new TestCard());
    expect((await exchange(reader, msg(0x65, 0, 2))).status).toBe(0x01);
    expect((await exchange(reader, msg(0x62, 0, 3, [], 1))).status).toBe(0x00);
    expect((await exchange(reader, msg(0x65, 0, 4))).status).toBe(0x00);
    reader.removeCard();
    expect((await exchange(reader, msg(0x65, 0, 5))).status).toBe(0x02);
  });
});

describe('USB reset', () => {
  it('drops queued responses and leaves the card inserted but unpowered', async () => {
    const reader = await openReader('gempc-twin');
    reader.insertCard(new TestCard());
    await exchange(reader, msg(0x62, 0, 1));
    await reader.transferOut(BULK_OUT, msg(0x65, 0, 2));
    await reader.reset();
    const r = await exchange(reader, msg(0x65, 0, 3));
    expect(r.seq).toBe(3);
    expect(r.status).toBe(0x01);
  });
});
