import { describe, expect, it } from 'vitest';
import {
  ACR1252_DUAL,
  createSimulatedReader,
  isUnpluggable,
  SimulatedCompositeDevice,
} from '../../../../src/sim/index.js';

describe('isUnpluggable', () => {
  it("recognises the simulator's readers and composite devices, and nothing else shaped like a USBDevice", () => {
    const reader = createSimulatedReader('gempc-twin');
    const composite = new SimulatedCompositeDevice(ACR1252_DUAL);
    expect(isUnpluggable(reader)).toBe(true);
    expect(isUnpluggable(composite)).toBe(true);
    // Every reader inside a composite device is one too (each can be unplugged through it).
    for (const r of composite.readers) expect(isUnpluggable(r)).toBe(true);
    const lookalike = { vendorId: 0x08e6, productId: 0x3437, unplugged: false, onunplug: null, unplug() {} };
    expect(isUnpluggable(lookalike as unknown as USBDevice)).toBe(false);
  });
});
