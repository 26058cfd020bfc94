import { describe, expect, it } from 'vitest';
import {
  discoverCcidInterfaces,
  readConfigurationDescriptor,
  readStringDescriptor,
} from '../../../src/ccid/descriptor-io.js';
import { IFD } from '../../../src/ifd/errors.js';
import { FakeUsbDevice, okIn } from './fake-usb-device.js';
import { ACTIVCARD_V2_ICCD, GEMPC_TWIN } from './reader-descriptors.js';

describe('reading descriptors over WebUSB', () => {
  function deviceServing(config: Uint8Array, strings: Record<number, string> = {}, langs = [0x0409]) {
    const fake = new FakeUsbDevice();
    const requests: [number, number, number][] = [];
    fake.onControlIn = (setup, length) => {
      requests.push([setup.value, setup.index, length]);
      const type = setup.value >> 8;
      const index = setup.value & 0xff;
      if (type === 2) return okIn(config.slice(0, length));
      if (type === 3 && index === 0) {
        const b = [2 + 2 * langs.length, 3];
        for (const l of langs) b.push(l & 0xff, l >> 8);
        return okIn(b);
      }
      if (type === 3 && strings[index] !== undefined) {
        const s = strings[index]!;
        const b = [2 + 2 * s.length, 3];
        for (const ch of s) b.push(ch.charCodeAt(0) & 0xff, ch.charCodeAt(0) >> 8);
        return okIn(b.slice(0, length));
      }
      return { status: 'stall' };
    };
    return { fake, requests };
  }

  it('reads 9 bytes then wTotalLength', async () => {
    const { fake, requests } = deviceServing(GEMPC_TWIN.configuration);
    const bytes = await readConfigurationDescriptor(fake.usb);
    expect(bytes).toEqual(GEMPC_TWIN.configuration);
    expect(requests).toEqual([
      [0x0200, 0, 9],
      [0x0200, 0, GEMPC_TWIN.configuration.length],
    ]);
  });

  it('fails clearly when the device returns fewer bytes than wTotalLength', async () => {
    const { fake } = deviceServing(GEMPC_TWIN.configuration);
    const inner = fake.onControlIn;
    fake.onControlIn = (setup, length) => inner(setup, length === 9 ? 9 : length - 1);
    await expect(readConfigurationDescriptor(fake.usb)).rejects.toThrow(
      /bytes of configuration descriptor but wTotalLength/,
    );
  });

  it('fails with IFD_COMMUNICATION_ERROR on a stalled request and IFD_NO_SUCH_DEVICE when unplugged', async () => {
    const fake = new FakeUsbDevice();
    await expect(readConfigurationDescriptor(fake.usb)).rejects.toMatchObject({ code: IFD.COMMUNICATION_ERROR });
    fake.disconnect();
    await expect(readConfigurationDescriptor(fake.usb)).rejects.toMatchObject({ code: IFD.NO_SUCH_DEVICE });
  });

  it('reads a string in the first listed language', async () => {
    const { fake, requests } = deviceServing(GEMPC_TWIN.configuration, { 2: 'GemPC Twin' }, [0x0407, 0x0409]);
    expect(await readStringDescriptor(fake.usb, 2)).toBe('GemPC Twin');
    expect(requests.map(([v, i]) => [v, i])).toEqual([
      [0x0300, 0],
      [0x0302, 0x0407],
    ]);
  });

  it('uses a given language without asking for the list, and returns "" for index 0', async () => {
    const { fake, requests } = deviceServing(GEMPC_TWIN.configuration, { 4: 'SCR331' });
    expect(await readStringDescriptor(fake.usb, 4, 0x0409)).toBe('SCR331');
    expect(await readStringDescriptor(fake.usb, 0)).toBe('');
    expect(requests).toHaveLength(1);
  });

  it('rejects a string descriptor whose bLength exceeds what arrived', async () => {
    const fake = new FakeUsbDevice();
    fake.onControlIn = () => okIn([10, 3, 0x41, 0]);
    await expect(readStringDescriptor(fake.usb, 1, 0x0409)).rejects.toThrow(/bLength 10 but 4 bytes/);
  });
});

describe('discoverCcidInterfaces', () => {
  const serving = (config: Uint8Array) => {
    const fake = new FakeUsbDevice();
    fake.onControlIn = (setup, length) =>
      setup.value >> 8 === 2 ? okIn(config.slice(0, length)) : { status: 'stall' };
    return fake;
  };

  it('reads configuration 0 and finds the CCID interface', async () => {
    const scan = await discoverCcidInterfaces(serving(GEMPC_TWIN.configuration).usb);
    expect(scan.readers.map((r) => r.interfaceNumber)).toEqual([0]);
    expect(scan.rejected).toEqual([]);
  });

  it('finds an ICCD interface as an ICCD version A token', async () => {
    const scan = await discoverCcidInterfaces(serving(ACTIVCARD_V2_ICCD.configuration).usb);
    expect(scan.rejected).toEqual([]);
    expect(scan.readers[0]?.iccd).toBe('A');
  });

  it('uses the classifier it is given to recognise a vanished device', async () => {
    const fake = new FakeUsbDevice();
    fake.onControlIn = () => {
      throw new Error('a dialect only this host speaks');
    };
    await expect(discoverCcidInterfaces(fake.usb)).rejects.toMatchObject({ code: IFD.COMMUNICATION_ERROR });
    await expect(discoverCcidInterfaces(fake.usb, () => 'gone')).rejects.toMatchObject({ code: IFD.NO_SUCH_DEVICE });
  });
});
