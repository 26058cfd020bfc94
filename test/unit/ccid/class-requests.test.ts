import { describe, expect, it } from 'vitest';
import {
  classRequestIn,
  getClockFrequencies,
  getDataRates,
  sendAbortRequest,
  type ClassRequestChannel,
} from '../../../src/ccid/class-requests.js';
import { CLASS_REQUEST, PC_to_RDR_GetSlotStatus, RDR_to_PC_SlotStatus } from '../../../src/ccid/constants.js';
import { findCcidInterfaces, parseConfigurationDescriptor } from '../../../src/ccid/descriptor.js';
import { CcidTransport } from '../../../src/ccid/transport.js';
import type { CcidInterfaceInfo } from '../../../src/ccid/types.js';
import { DriverError, IFD } from '../../../src/ifd/errors.js';
import { FakeUsbDevice, ManualTimers, okIn } from './fake-usb-device.js';
import { GEMPC_TWIN } from './reader-descriptors.js';

function infoOf(patch: Partial<CcidInterfaceInfo['descriptor']> = {}): CcidInterfaceInfo {
  const info = findCcidInterfaces(parseConfigurationDescriptor(GEMPC_TWIN.configuration))[0]!;
  return { ...info, descriptor: { ...info.descriptor, ...patch } };
}

/** A channel that answers every request with `answer` and records what was asked. */
function channel(patch: Partial<CcidInterfaceInfo['descriptor']>, answer: USBInTransferResult) {
  const asked: [number, number][] = [];
  const ch: ClassRequestChannel = {
    info: infoOf(patch),
    controlIn: async (request, length) => {
      asked.push([request, length]);
      return answer;
    },
  };
  return { ch, asked };
}

async function openTransport(patch: Partial<CcidInterfaceInfo['descriptor']> = {}) {
  const fake = new FakeUsbDevice();
  fake.onBulkOut = (msg) => {
    if (msg[0] === PC_to_RDR_GetSlotStatus) {
      fake.reply([RDR_to_PC_SlotStatus, 0, 0, 0, 0, msg[5]!, msg[6]!, 0, 0, 0]);
    }
  };
  const transport = await CcidTransport.open(fake.usb, infoOf(patch), { timers: new ManualTimers() });
  return { fake, transport };
}

describe('GET_CLOCK_FREQUENCIES and GET_DATA_RATES (CCID 1.1 §5.3.2, §5.3.3)', () => {
  it('reads clock frequencies and data rates when the descriptor announces them', async () => {
    const { fake, transport } = await openTransport({ bNumClockSupported: 2, bNumDataRatesSupported: 0 });
    fake.onControlIn = (setup, length) => {
      expect([setup.requestType, setup.recipient, setup.index, setup.value]).toEqual(['class', 'interface', 0, 0]);
      expect(setup.request).toBe(CLASS_REQUEST.GET_CLOCK_FREQUENCIES);
      expect(length).toBe(8);
      return okIn([0xa0, 0x0f, 0, 0, 0x40, 0x1f, 0, 0]);
    };
    expect(await getClockFrequencies(transport)).toEqual([4000, 8000]);
    expect(await getDataRates(transport)).toEqual([]);
  });

  it('asks for bNumDataRatesSupported DWORDs and ignores a trailing partial one', async () => {
    const { ch, asked } = channel({ bNumDataRatesSupported: 2 }, okIn([0x80, 0x25, 0, 0, 0x00, 0x4b, 0, 0, 0xff]));
    expect(await getDataRates(ch)).toEqual([9600, 19200]);
    expect(asked).toEqual([[CLASS_REQUEST.GET_DATA_RATES, 8]]);
  });

  it('does not ask when the descriptor announces no values', async () => {
    const { ch, asked } = channel({ bNumClockSupported: 0, bNumDataRatesSupported: 0 }, okIn([1, 2, 3, 4]));
    expect(await getClockFrequencies(ch)).toEqual([]);
    expect(await getDataRates(ch)).toEqual([]);
    expect(asked).toEqual([]);
  });

  it('a stalled class request is IFD_NOT_SUPPORTED', async () => {
    const { transport } = await openTransport();
    await expect(classRequestIn(transport, 3, 16)).rejects.toMatchObject({ code: IFD.NOT_SUPPORTED });
  });

  it('a babbling class request is IFD_COMMUNICATION_ERROR naming the request', async () => {
    const { ch } = channel({}, { status: 'babble' });
    const err = await classRequestIn(ch, 3, 16).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect(err).toMatchObject({ code: IFD.COMMUNICATION_ERROR, message: expect.stringMatching(/0x3.*babble/) });
  });

  it('a data-less answer is an empty table', async () => {
    const { ch } = channel({ bNumDataRatesSupported: 1 }, { status: 'ok' });
    expect(await getDataRates(ch)).toEqual([]);
  });

  it('a reader unplugged during the request fails with IFD_NO_SUCH_DEVICE and ends the transport', async () => {
    const { fake, transport } = await openTransport({ bNumDataRatesSupported: 1 });
    fake.disconnected = true;
    await expect(getDataRates(transport)).rejects.toMatchObject({ code: IFD.NO_SUCH_DEVICE });
    expect(transport.state).toBe('removed');
  });
});

describe('ABORT (CCID 1.1 §5.3.1)', () => {
  it('sends wValue = bSeq << 8 | bSlot to the interface', async () => {
    const fake = new FakeUsbDevice(2, undefined, 1);
    const r = await sendAbortRequest(fake.usb, 1, 1, 0xa5);
    expect(r.status).toBe('ok');
    expect(fake.controlOut.map((c) => c.setup)).toEqual([
      { requestType: 'class', recipient: 'interface', request: CLASS_REQUEST.ABORT, value: 0xa501, index: 1 },
    ]);
  });
});
