/** SimulatedUsb, the navigator.usb of tests and test builds. */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createSimulatedReader } from '../../../src/sim/index.js';
import type { UsbLike } from '../../../src/usb/device-manager.js';
import { REQUEST_DEVICE_FILTERS } from '../../../src/usb/filters.js';
import { matchesFilter, SimulatedUsb } from '../../../src/usb/simulated-usb.js';
import { GadgetDevice } from './helpers.js';

describe('SimulatedUsb', () => {
  it('navigator.usb and SimulatedUsb both fit UsbLike', () => {
    expectTypeOf<USB>().toMatchTypeOf<UsbLike>();
    expectTypeOf<SimulatedUsb>().toMatchTypeOf<UsbLike>();
  });

  it('fires connect/disconnect for granted devices only; getDevices lists granted devices', async () => {
    const usb = new SimulatedUsb();
    const events: string[] = [];
    const listener = (e: { device: USBDevice }) => events.push(`connect ${e.device.productName}`);
    usb.addEventListener('connect', listener);
    usb.addEventListener('disconnect', { handleEvent: (e) => events.push(`disconnect ${e.device.productName}`) });
    usb.ondisconnect = (e) => events.push(`ondisconnect ${e.type}`);
    const granted = createSimulatedReader('gempc-twin');
    const hidden = createSimulatedReader('vendor-class');
    usb.plug(granted);
    usb.plug(granted); // already in: nothing
    usb.plug(hidden, { granted: false });
    expect(await usb.getDevices()).toEqual([granted]);
    expect(usb.devices).toEqual([granted, hidden]);
    granted.unplug(); // the reader's own unplug fires the event
    usb.unplug(hidden);
    expect(events).toEqual([
      'connect USB SmartCard Reader',
      'disconnect USB SmartCard Reader',
      'ondisconnect disconnect',
    ]);
    expect(() => usb.plug(granted)).toThrow(/unplugged/);
    usb.removeEventListener('connect', listener);
    usb.plug(createSimulatedReader('gempc-twin'));
    expect(events).toHaveLength(3);
  });

  it('requestDevice grants the first device matching a filter, or rejects with NotFoundError', async () => {
    const usb = new SimulatedUsb();
    const gadget = new GadgetDevice(0x03).asDevice();
    const twin = createSimulatedReader('gempc-twin');
    usb.plug(gadget, { granted: false });
    usb.plug(twin, { granted: false });
    expect(await usb.getDevices()).toEqual([]);
    expect(await usb.requestDevice({ filters: [...REQUEST_DEVICE_FILTERS] })).toBe(twin);
    expect(await usb.getDevices()).toEqual([twin]);
    await expect(usb.requestDevice({ filters: [{ vendorId: 0xffff }] })).rejects.toMatchObject({
      name: 'NotFoundError',
    });
    usb.grant(gadget);
    expect(await usb.getDevices()).toEqual([gadget, twin]);
  });

  it('matchesFilter follows WebUSB: ids, serial, class/subclass/protocol on the device or any interface', () => {
    const twin = createSimulatedReader('gempc-twin', { serialNumber: 'S1' });
    expect(matchesFilter(twin, { vendorId: 0x08e6, productId: 0x3437 })).toBe(true);
    expect(matchesFilter(twin, { vendorId: 0x08e6, productId: 0x0001 })).toBe(false);
    expect(matchesFilter(twin, { serialNumber: 'S1' })).toBe(true);
    expect(matchesFilter(twin, { serialNumber: 'S2' })).toBe(false);
    expect(matchesFilter(twin, { classCode: 0x0b, subclassCode: 0, protocolCode: 0 })).toBe(true);
    expect(matchesFilter(twin, { classCode: 0x0b, subclassCode: 1 })).toBe(false);
    expect(matchesFilter(twin, { classCode: 0xff })).toBe(false);
    expect(matchesFilter(createSimulatedReader('vendor-class'), { classCode: 0xff })).toBe(true);
  });
});
