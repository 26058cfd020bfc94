/**
 * SlotWatch (slot-watch.ts) on its own, with a stub host: interrupt notifications, hardware errors, falling back to
 * GetSlotStatus polling, and a vanished device. (Through the transport it is covered by transport.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { PC_to_RDR_GetSlotStatus, RDR_to_PC_SlotStatus } from '../../../src/ccid/constants.js';
import { findCcidInterfaces, parseConfigurationDescriptor } from '../../../src/ccid/descriptor.js';
import type { CcidResponse } from '../../../src/ccid/messages.js';
import { SlotWatch, type HardwareErrorEvent } from '../../../src/ccid/slot-watch.js';
import type { CcidInterfaceInfo } from '../../../src/ccid/types.js';
import { classifyUsbError } from '../../../src/ccid/usb-failure.js';
import { FakeUsbDevice, ManualTimers, flush, okIn } from './fake-usb-device.js';
import { GEMPC_TWIN } from './reader-descriptors.js';

function setup(options: { interrupt?: boolean; present?: boolean } = {}) {
  const found = findCcidInterfaces(parseConfigurationDescriptor(GEMPC_TWIN.configuration))[0]!;
  const info: CcidInterfaceInfo = { ...found };
  if (options.interrupt === false) delete info.interruptIn;
  const fake = new FakeUsbDevice();
  const timers = new ManualTimers();
  const commands: number[] = [];
  let open = true;
  let gone: unknown;
  const watch = new SlotWatch({
    device: fake.usb,
    info,
    timers,
    log: () => {},
    usbErrors: classifyUsbError,
    pollIntervalMs: 400,
    isOpen: () => open,
    command: async (slot, build) => {
      const msg = build(7);
      commands.push(msg[0]!);
      const icc = options.present === false ? 2 : 0;
      return { type: RDR_to_PC_SlotStatus, slot, seq: 7, iccStatus: icc } as unknown as CcidResponse;
    },
    deviceGone: (cause) => {
      gone = cause;
      open = false;
    },
  });
  return { fake, timers, watch, info, commands, gone: () => gone, close: () => (open = false) };
}

describe('SlotWatch', () => {
  it('reports NotifySlotChange and hardware errors from the interrupt endpoint', async () => {
    const h = setup();
    const events: [number, boolean][] = [];
    const hw: HardwareErrorEvent[] = [];
    h.watch.onSlotChange((s, p) => events.push([s, p]));
    h.watch.onHardwareError((e) => hw.push(e));
    h.watch.start();
    await flush();
    const ep = h.info.interruptIn!;
    h.fake.queueIn(ep, okIn([0x50, 0b11])); // inserted
    await flush();
    h.fake.queueIn(ep, okIn([0x50, 0b10])); // removed
    await flush();
    h.fake.queueIn(ep, okIn([0x51, 0, 5, 0x01])); // overcurrent
    await flush();
    expect(events).toEqual([
      [0, true],
      [0, false],
    ]);
    expect(h.watch.slotPresence(0)).toBe(false);
    expect(hw).toEqual([{ slot: 0, seq: 5, code: 0x01 }]);
    h.close();
  });

  it('polls GetSlotStatus without an interrupt endpoint, only while someone listens', async () => {
    const h = setup({ interrupt: false, present: true });
    const events: [number, boolean][] = [];
    expect(h.timers.pendingCount).toBe(0);
    const stop = h.watch.onSlotChange((s, p) => events.push([s, p]));
    expect(h.timers.pendingCount).toBe(1);
    await h.timers.advance(400);
    await flush();
    expect(h.commands).toEqual([PC_to_RDR_GetSlotStatus]);
    expect(events).toEqual([[0, true]]);
    stop();
    expect(h.timers.pendingCount).toBe(0);
  });

  it('records a presence learnt elsewhere without an event', () => {
    const h = setup();
    const events: unknown[] = [];
    h.watch.onSlotChange((s, p) => events.push([s, p]));
    h.watch.recordPresence(0, true);
    expect(h.watch.slotPresence(0)).toBe(true);
    expect(events).toEqual([]);
    h.close();
  });

  it('tells the host when the interrupt read finds the device gone', async () => {
    const h = setup();
    h.watch.start();
    await flush();
    h.fake.disconnect();
    await flush();
    expect((h.gone() as Error).name).toBe('NotFoundError');
  });

  it('falls back to polling when the interrupt endpoint fails', async () => {
    const h = setup();
    h.watch.onSlotChange(() => {});
    h.watch.start();
    await flush();
    expect(h.timers.pendingCount).toBe(0);
    h.fake.queueIn(h.info.interruptIn!, new Error('LIBUSB_ERROR_IO'));
    await flush();
    expect(h.timers.pendingCount).toBe(1);
    h.watch.stop();
    expect(h.timers.pendingCount).toBe(0);
    h.close();
  });
});
