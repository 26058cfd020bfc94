/** requestDevice filters and the quick "is this a smart card reader" check. */
import { describe, expect, it } from 'vitest';
import { createSimulatedReader, PROFILES, type ProfileId } from '../../../src/sim/index.js';
import {
  REQUEST_DEVICE_FILTERS,
  hasSmartCardInterface,
  interfaceClasses,
  looksLikeSmartCardReader,
} from '../../../src/usb/filters.js';
import { GadgetDevice } from './helpers.js';

describe('REQUEST_DEVICE_FILTERS', () => {
  it('asks for smart card and vendor-class interfaces', () => {
    expect(REQUEST_DEVICE_FILTERS).toEqual([{ classCode: 0x0b }, { classCode: 0xff }]);
    expect(Object.isFrozen(REQUEST_DEVICE_FILTERS)).toBe(true);
  });
});

describe('looksLikeSmartCardReader', () => {
  it('accepts every simulated reader profile (class 0x0B and vendor-class 0xFF)', () => {
    for (const id of Object.keys(PROFILES) as ProfileId[]) {
      const device = createSimulatedReader(id);
      expect(looksLikeSmartCardReader(device), id).toBe(true);
      expect(hasSmartCardInterface(device), id).toBe(PROFILES[id].interfaceClass === 0x0b);
    }
  });

  it('rejects HID, mass storage and audio devices; accepts any vendor-class device (the driver decides)', () => {
    for (const cls of [0x01, 0x03, 0x08, 0x0e, 0xe0])
      expect(looksLikeSmartCardReader(new GadgetDevice(cls).asDevice())).toBe(false);
    expect(looksLikeSmartCardReader(new GadgetDevice(0xff).asDevice())).toBe(true);
    expect(hasSmartCardInterface(new GadgetDevice(0xff).asDevice())).toBe(false);
  });

  it('looks at every alternate setting and configuration, and at a device-level class 0x0B', () => {
    const alt = (interfaceClass: number) => ({ interfaceClass }) as USBAlternateInterface;
    const device = {
      deviceClass: 0,
      configuration: null,
      configurations: [
        { interfaces: [{ alternate: alt(0x03), alternates: [alt(0x03)] }] },
        { interfaces: [{ alternate: alt(0x03), alternates: [alt(0x03), alt(0x0b)] }] },
      ],
    } as unknown as USBDevice;
    expect([...interfaceClasses(device)].sort((a, b) => a - b)).toEqual([0x03, 0x0b]);
    expect(looksLikeSmartCardReader(device)).toBe(true);
    expect(looksLikeSmartCardReader({ deviceClass: 0x0b, configuration: null, configurations: [] })).toBe(true);
    expect(looksLikeSmartCardReader({ deviceClass: 0, configuration: null, configurations: [] })).toBe(false);
  });
});
