/**
 * The reader pulled out at any point: every pending and later call rejects with IFD_NO_SUCH_DEVICE (617), nothing
 * hangs, and onRemoved listeners fire when the device manager calls markRemoved().
 */
import { describe, expect, it } from 'vitest';
import { IFD } from '../../src/ifd/errors.js';
import { CcidReader } from '../../src/ccid/reader.js';
import {
  createSimulatedReader,
  helloWorldCardT0,
  helloWorldCardT1,
  pinCard,
  type ProfileId,
} from '../../src/sim/index.js';
import {
  echoExtended,
  expectIfd,
  FAST,
  HELLO,
  must,
  openRig,
  pattern,
  powerAndSet,
  SELECT_HELLO,
  SELECT_PIN,
  settle,
  Traffic,
  until,
  type Rig,
} from './helpers.js';

/** Every call a client can make on a slot after the reader is gone: all must reject with 617. */
async function expectAllGone(rig: Rig): Promise<void> {
  for (const slot of rig.reader.slots) {
    await expectIfd(slot.iccPresence(), IFD.NO_SUCH_DEVICE, 'iccPresence');
    await expectIfd(slot.power('up'), IFD.NO_SUCH_DEVICE, 'power up');
    await expectIfd(slot.power('reset'), IFD.NO_SUCH_DEVICE, 'power reset');
    await expectIfd(slot.power('down'), IFD.NO_SUCH_DEVICE, 'power down');
    await expectIfd(slot.transmit(SELECT_HELLO), IFD.NO_SUCH_DEVICE, 'transmit');
    await expectIfd(slot.setProtocol(2), IFD.NO_SUCH_DEVICE, 'setProtocol');
    await expectIfd(slot.control(0x42330006, Uint8Array.of(1)), IFD.NO_SUCH_DEVICE, 'control');
  }
}

/** markRemoved fires onRemoved once, after which the reader says it is removed. */
/**
 * The failing transfers already told the reader it is gone (the transport reports removals it discovers), so the
 * reader is removed and a later markRemoved() — the USB `disconnect` event arriving late — reports nothing twice.
 */
function expectRemovedListener(rig: Rig): void {
  expect(rig.reader.removed).toBe(true);
  let fired = 0;
  rig.reader.onRemoved(() => fired++);
  rig.reader.markRemoved();
  rig.reader.markRemoved();
  expect(fired).toBe(0);
}

describe('unplug before open completes', () => {
  it.each([0, 1, 2, 3, 5, 8, 13, 21, 40])(
    'after %i microtask turns: open rejects with 617, or every call does',
    async (turns) => {
      const sim = createSimulatedReader('gempc-twin');
      sim.insertCard(helloWorldCardT1());
      const opening = settle(CcidReader.open(sim, FAST), 'open');
      for (let i = 0; i < turns; i++) await Promise.resolve();
      sim.unplug();
      const r = await opening;
      if (!r.ok) {
        expect((r.error as { code?: number }).code).toBe(IFD.NO_SUCH_DEVICE);
        return;
      }
      const rig: Rig = { sim, reader: r.value, traffic: new Traffic(sim) };
      await expectAllGone(rig);
      expectRemovedListener(rig);
    },
  );

  it('an unplugged device cannot be opened', async () => {
    const sim = createSimulatedReader('short-apdu');
    sim.unplug();
    await expectIfd(CcidReader.open(sim, FAST), IFD.NO_SUCH_DEVICE, 'open');
  });
});

describe.each(['gempc-twin', 'extended-apdu', 'no-interrupt', 'two-slot'] as ProfileId[])('unplug on %s', (id) => {
  it('with an interrupt pump (or polling) pending and no command: later calls reject with 617; onRemoved fires', async () => {
    const rig = await openRig(id);
    const events: boolean[] = [];
    rig.reader.slots[0]!.onCardEvent((p) => events.push(p));
    rig.sim.insertCard(helloWorldCardT1());
    await until(() => events.length === 1, 'the insertion event');
    rig.sim.unplug();
    await expectAllGone(rig);
    expectRemovedListener(rig);
    await expectAllGone(rig);
  });

  it('during power-on', async () => {
    const rig = await openRig(id);
    rig.sim.insertCard(helloWorldCardT1());
    const p = rig.reader.slots[0]!.power('up');
    rig.sim.unplug();
    await expectIfd(p, IFD.NO_SUCH_DEVICE, 'power up in progress');
    await expectAllGone(rig);
    expectRemovedListener(rig);
  });

  it('mid-transmit, with more commands queued behind it', async () => {
    const rig = await openRig(id);
    rig.sim.insertCard(helloWorldCardT0());
    await powerAndSet(rig.reader, 1);
    const slot = rig.reader.slots[0]!;
    const calls = [slot.transmit(SELECT_HELLO), slot.transmit(HELLO), slot.iccPresence(), slot.power('reset')];
    rig.sim.unplug();
    for (const c of calls) await expectIfd(c, IFD.NO_SUCH_DEVICE, 'a pending call');
    await expectAllGone(rig);
    expectRemovedListener(rig);
  });

  it('discovered by a failing transfer alone, without markRemoved(): the reader reports its removal once', async () => {
    const rig = await openRig(id);
    rig.sim.insertCard(helloWorldCardT1());
    await powerAndSet(rig.reader, 2);
    let fired = 0;
    rig.reader.onRemoved(() => fired++);
    const pending = rig.reader.slots[0]!.transmit(SELECT_HELLO);
    rig.sim.unplug();
    await settle(pending, 'pending transmit');
    await expectIfd(rig.reader.slots[0]!.transmit(SELECT_HELLO), IFD.NO_SUCH_DEVICE);
    expect(rig.reader.removed).toBe(true);
    expect(fired).toBe(1);
    rig.reader.markRemoved();
    expect(fired).toBe(1);
  });

  it('reported by markRemoved() before any transfer fails', async () => {
    const rig = await openRig(id);
    rig.sim.insertCard(helloWorldCardT1());
    await powerAndSet(rig.reader, 2);
    let fired = 0;
    rig.reader.onRemoved(() => fired++);
    const pending = rig.reader.slots[0]!.transmit(SELECT_HELLO);
    rig.reader.markRemoved();
    expect(fired).toBe(1);
    const r = await settle(pending, 'pending transmit');
    // The command may have been answered before markRemoved; if not, it failed with 617.
    if (!r.ok) expect((r.error as { code?: number }).code).toBe(IFD.NO_SUCH_DEVICE);
    await expectIfd(rig.reader.slots[0]!.transmit(SELECT_HELLO), IFD.NO_SUCH_DEVICE);
    await expectIfd(rig.reader.slots[0]!.iccPresence(), IFD.NO_SUCH_DEVICE);
    rig.sim.unplug();
  });
});

describe('unplug mid-chain', () => {
  it.each([
    ['gempc-twin', 'T=1 chain'],
    ['extended-apdu', 'CCID chain'],
  ] as [ProfileId, string][])('%s, %s: the 64 KiB ECHO rejects with 617 wherever the unplug lands', async (id) => {
    for (const after of [3, 60, 200, 400]) {
      const rig = await openRig(id);
      rig.sim.insertCard(helloWorldCardT1());
      await powerAndSet(rig.reader, 2);
      rig.traffic.clear();
      rig.traffic.beforeOut = (n) => {
        if (n === after) rig.sim.unplug();
      };
      const p = rig.reader.slots[0]!.transmit(echoExtended(pattern(65000)));
      await expectIfd(p, IFD.NO_SUCH_DEVICE, `ECHO unplugged after ${after} commands`);
      await expectAllGone(rig);
      expectRemovedListener(rig);
    }
  });

  it('during a PIN entry on the pinpad: the Secure command rejects with 617', async () => {
    const rig = await openRig('pinpad');
    rig.sim.insertCard(pinCard());
    await powerAndSet(rig.reader, 2);
    expect(await must(rig.reader.slots[0]!.transmit(SELECT_PIN))).toEqual(Uint8Array.of(0x90, 0));
    const structure = Uint8Array.of(30, 0, 0x82, 0, 0, 8, 4, 2, 1, 9, 4, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0x20, 0, 0x80, 0);
    const p = rig.reader.slots[0]!.control(0x42330006, structure);
    await until(() => rig.sim.keypad.waiting, 'the keypad wait');
    rig.sim.unplug();
    await expectIfd(p, IFD.NO_SUCH_DEVICE, 'PIN verification');
    expectRemovedListener(rig);
  });
});

describe('close', () => {
  it('fires onRemoved once and later calls reject with 617', async () => {
    const rig = await openRig('gempc-twin');
    let fired = 0;
    rig.reader.onRemoved(() => fired++);
    await must(rig.reader.close());
    await must(rig.reader.close());
    expect(fired).toBe(1);
    await expectIfd(rig.reader.slots[0]!.iccPresence(), IFD.NO_SUCH_DEVICE);
    await expectIfd(rig.reader.slots[0]!.power('up'), IFD.NO_SUCH_DEVICE);
  });
});
