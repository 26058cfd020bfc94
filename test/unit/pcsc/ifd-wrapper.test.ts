/**
 * The daemon's gate to a driver (ifdwrapper.c): each call's DriverError → PC/SC translation, code by code, with the
 * exact details winscard.ts passes on; the per-slot serialisation (rContext->mMutex); reader close and removal.
 */
import { describe, expect, it } from 'vitest';
import { DriverError, IFD, type IfdCode } from '../../../src/ifd/index.js';
import {
  SCARD_E_INSUFFICIENT_BUFFER,
  SCARD_E_NOT_TRANSACTED,
  SCARD_E_NO_SMARTCARD,
  SCARD_E_READER_UNAVAILABLE,
  SCARD_E_UNSUPPORTED_FEATURE,
  SCARD_W_REMOVED_CARD,
} from '../../../src/pcsc/constants.js';
import {
  IfdWrapper,
  closeReader,
  describeDriverFailure,
  ifdCodeOf,
  onReaderRemoved,
  type IfdResult,
} from '../../../src/pcsc/ifd-wrapper.js';
import { FakeReader, FakeSlot, T1_ATR, flush } from './fake-ifd.js';

const NAME = 'Fake Reader 00 00';

function setup(): { slot: FakeSlot; ifd: IfdWrapper; logs: string[] } {
  const slot = new FakeSlot();
  const logs: string[] = [];
  const ifd = new IfdWrapper(slot, NAME, (level, message) => logs.push(`${level} ${message}`));
  return { slot, ifd, logs };
}

function failure<T>(r: IfdResult<T>): { code: number; detail: string } {
  if (r.ok) throw new Error(`expected a failure, got ${String(r.value)}`);
  return { code: r.code, detail: r.detail };
}

/** Every IFD code besides the ones a call maps specially: all become SCARD_E_NOT_TRANSACTED. */
const OTHER_CODES: IfdCode[] = [
  IFD.ERROR_TAG,
  IFD.ERROR_SET_FAILURE,
  IFD.ERROR_VALUE_READ_ONLY,
  IFD.ERROR_PTS_FAILURE,
  IFD.ERROR_NOT_SUPPORTED,
  IFD.PROTOCOL_NOT_SUPPORTED,
  IFD.ERROR_POWER_ACTION,
  IFD.COMMUNICATION_ERROR,
  IFD.RESPONSE_TIMEOUT,
  IFD.NOT_SUPPORTED,
  IFD.ICC_NOT_PRESENT,
  IFD.ERROR_INSUFFICIENT_BUFFER,
];

describe('driver failure helpers', () => {
  it('reads the IFD code of a DriverError; anything else is IFD_COMMUNICATION_ERROR', () => {
    const e = new DriverError(IFD.RESPONSE_TIMEOUT, 'the card did not answer in 3000 ms');
    expect(ifdCodeOf(e)).toBe(IFD.RESPONSE_TIMEOUT);
    expect(describeDriverFailure(e)).toBe('IFD_RESPONSE_TIMEOUT: the card did not answer in 3000 ms');
    expect(ifdCodeOf(new Error('boom'))).toBe(IFD.COMMUNICATION_ERROR);
    expect(ifdCodeOf('boom')).toBe(IFD.COMMUNICATION_ERROR);
    expect(describeDriverFailure(new TypeError('bad'))).toBe('bad');
    expect(describeDriverFailure(42)).toBe('42');
  });
});

describe('IFDStatusICC', () => {
  it('answers the presence', async () => {
    const { slot, ifd } = setup();
    expect(await ifd.statusIcc()).toEqual({ ok: true, value: true });
    slot.present = false;
    expect(await ifd.statusIcc()).toEqual({ ok: true, value: false });
  });

  it('IFD_NO_SUCH_DEVICE → SCARD_E_READER_UNAVAILABLE, anything else → SCARD_E_NOT_TRANSACTED', async () => {
    const { slot, ifd } = setup();
    slot.fail.presence = IFD.NO_SUCH_DEVICE;
    expect(failure(await ifd.statusIcc())).toEqual({
      code: SCARD_E_READER_UNAVAILABLE,
      detail: 'IFD_NO_SUCH_DEVICE: fake: presence',
    });
    slot.fail.presence = IFD.COMMUNICATION_ERROR;
    expect(failure(await ifd.statusIcc())).toEqual({
      code: SCARD_E_NOT_TRANSACTED,
      detail: 'IFD_COMMUNICATION_ERROR: fake: presence',
    });
    slot.fail.presence = { raw: new Error('the driver crashed') };
    expect(failure(await ifd.statusIcc())).toEqual({ code: SCARD_E_NOT_TRANSACTED, detail: 'the driver crashed' });
  });
});

describe('IFDPowerICC', () => {
  it('checks the card first: absent → SCARD_W_REMOVED_CARD without powering', async () => {
    const { slot, ifd } = setup();
    slot.present = false;
    expect(failure(await ifd.power('up'))).toEqual({ code: SCARD_W_REMOVED_CARD, detail: 'no card in the reader' });
    expect(slot.calls).toEqual(['iccPresence']);
  });

  it('returns the ATR of power up and reset', async () => {
    const { slot, ifd } = setup();
    expect(await ifd.power('up')).toEqual({ ok: true, value: T1_ATR });
    expect(await ifd.power('reset')).toEqual({ ok: true, value: T1_ATR });
    expect(await ifd.power('down')).toEqual({ ok: true, value: new Uint8Array(0) });
    expect(slot.calls).toEqual(['iccPresence', 'power up', 'iccPresence', 'power reset', 'iccPresence', 'power down']);
  });

  it('IFD_NO_SUCH_DEVICE → SCARD_E_READER_UNAVAILABLE, every other code → SCARD_E_NOT_TRANSACTED', async () => {
    const { slot, ifd } = setup();
    slot.fail.power = IFD.NO_SUCH_DEVICE;
    expect(failure(await ifd.power('reset'))).toEqual({
      code: SCARD_E_READER_UNAVAILABLE,
      detail: 'power reset failed: IFD_NO_SUCH_DEVICE: fake: power reset',
    });
    for (const code of OTHER_CODES) {
      slot.fail.power = code;
      expect(failure(await ifd.power('up')).code).toBe(SCARD_E_NOT_TRANSACTED);
    }
    slot.fail.power = IFD.ERROR_POWER_ACTION;
    expect(failure(await ifd.power('up')).detail).toBe('power up failed: IFD_ERROR_POWER_ACTION: fake: power up');
  });

  it('a failing presence check is the power call failing', async () => {
    const { slot, ifd } = setup();
    slot.fail.presence = IFD.NO_SUCH_DEVICE;
    expect(failure(await ifd.power('up'))).toEqual({
      code: SCARD_E_READER_UNAVAILABLE,
      detail: 'power up failed: IFD_NO_SUCH_DEVICE: fake: presence',
    });
    expect(slot.calls).toEqual(['iccPresence']);
  });
});

describe('IFDSetPTS', () => {
  it("answers 'ok' or the driver's IFD code as is, and logs the failure", async () => {
    const { slot, ifd, logs } = setup();
    expect(await ifd.setProtocol(2)).toBe('ok');
    expect(logs).toEqual([]);
    slot.fail.setProtocol = IFD.PROTOCOL_NOT_SUPPORTED;
    expect(await ifd.setProtocol(1)).toBe(IFD.PROTOCOL_NOT_SUPPORTED);
    slot.fail.setProtocol = IFD.ERROR_PTS_FAILURE;
    expect(await ifd.setProtocol(2)).toBe(IFD.ERROR_PTS_FAILURE);
    slot.fail.setProtocol = { raw: new Error('odd') };
    expect(await ifd.setProtocol(2)).toBe(IFD.COMMUNICATION_ERROR);
    expect(logs).toEqual([
      `warn ${NAME}: setting T=0 failed: IFD_PROTOCOL_NOT_SUPPORTED: fake: PPS`,
      `warn ${NAME}: setting T=1 failed: IFD_ERROR_PTS_FAILURE: fake: PPS`,
      `warn ${NAME}: setting T=1 failed: odd`,
    ]);
    expect(slot.calls).toEqual(['setProtocol 2', 'setProtocol 1', 'setProtocol 2', 'setProtocol 2']);
  });
});

describe('IFDTransmit', () => {
  it('returns the response', async () => {
    const { slot, ifd } = setup();
    slot.transmitHandler = (apdu) => Uint8Array.of(apdu.length, 0x90, 0x00);
    expect(await ifd.transmit(Uint8Array.of(0, 0xa4, 4, 0))).toEqual({ ok: true, value: Uint8Array.of(4, 0x90, 0) });
  });

  it('NO_SUCH_DEVICE → READER_UNAVAILABLE, ICC_NOT_PRESENT → NO_SMARTCARD, others → NOT_TRANSACTED', async () => {
    const { slot, ifd } = setup();
    slot.fail.transmit = IFD.NO_SUCH_DEVICE;
    expect(failure(await ifd.transmit(new Uint8Array(4)))).toEqual({
      code: SCARD_E_READER_UNAVAILABLE,
      detail: `reader "${NAME}" went away: IFD_NO_SUCH_DEVICE: fake: transmit`,
    });
    slot.fail.transmit = IFD.ICC_NOT_PRESENT;
    expect(failure(await ifd.transmit(new Uint8Array(4)))).toEqual({
      code: SCARD_E_NO_SMARTCARD,
      detail: `the card left "${NAME}" during the exchange`,
    });
    for (const code of OTHER_CODES.filter((c) => c !== IFD.ICC_NOT_PRESENT)) {
      slot.fail.transmit = code;
      expect(failure(await ifd.transmit(new Uint8Array(4))).code).toBe(SCARD_E_NOT_TRANSACTED);
    }
    slot.fail.transmit = IFD.RESPONSE_TIMEOUT;
    expect(failure(await ifd.transmit(new Uint8Array(4))).detail).toBe(
      `the exchange with the card in "${NAME}" failed: IFD_RESPONSE_TIMEOUT: fake: transmit`,
    );
    slot.fail.transmit = { raw: new RangeError('offset out of bounds') };
    expect(failure(await ifd.transmit(new Uint8Array(4)))).toEqual({
      code: SCARD_E_NOT_TRANSACTED,
      detail: `the exchange with the card in "${NAME}" failed: offset out of bounds`,
    });
  });
});

describe('IFDControl', () => {
  it('passes the control code unsigned and returns the output', async () => {
    const { slot, ifd } = setup();
    let seen = -1;
    slot.controlHandler = (code) => {
      seen = code;
      return Uint8Array.of(1, 2);
    };
    const r = await ifd.control(0x42000d48 | 0x80000000, new Uint8Array(0));
    expect(r).toEqual({ ok: true, value: Uint8Array.of(1, 2) });
    expect(seen).toBe(0xc2000d48);
  });

  it('maps NO_SUCH_DEVICE, (ERROR_)NOT_SUPPORTED, ERROR_INSUFFICIENT_BUFFER; others → NOT_TRANSACTED', async () => {
    const { slot, ifd } = setup();
    const code = 0x42000d48;
    const expected: Array<[IfdCode, number, string]> = [
      [IFD.NO_SUCH_DEVICE, SCARD_E_READER_UNAVAILABLE, `reader "${NAME}" went away: IFD_NO_SUCH_DEVICE: fake: control`],
      [IFD.ERROR_NOT_SUPPORTED, SCARD_E_UNSUPPORTED_FEATURE, `"${NAME}" does not support control code 0x42000D48`],
      [IFD.NOT_SUPPORTED, SCARD_E_UNSUPPORTED_FEATURE, `"${NAME}" does not support control code 0x42000D48`],
      [IFD.ERROR_INSUFFICIENT_BUFFER, SCARD_E_INSUFFICIENT_BUFFER, "the reader's answer to 0x42000D48 does not fit"],
      [
        IFD.COMMUNICATION_ERROR,
        SCARD_E_NOT_TRANSACTED,
        `control 0x42000D48 on "${NAME}" failed: IFD_COMMUNICATION_ERROR: fake: control`,
      ],
    ];
    for (const [ifdCode, pcscCode, detail] of expected) {
      slot.fail.control = ifdCode;
      expect(failure(await ifd.control(code, Uint8Array.of(1)))).toEqual({ code: pcscCode, detail });
    }
    for (const c of [IFD.ERROR_TAG, IFD.ICC_NOT_PRESENT, IFD.RESPONSE_TIMEOUT, IFD.PROTOCOL_NOT_SUPPORTED]) {
      slot.fail.control = c;
      expect(failure(await ifd.control(code, Uint8Array.of(1))).code).toBe(SCARD_E_NOT_TRANSACTED);
    }
  });
});

describe('IFDGetCapabilities / IFDSetCapabilities', () => {
  it('getCapabilities answers the value, or undefined for a tag the driver does not know', () => {
    const { slot, ifd } = setup();
    slot.attributes.set(0x90303, Uint8Array.of(0x3b));
    expect(ifd.getCapabilities(0x90303)).toEqual({ ok: true, value: Uint8Array.of(0x3b) });
    expect(ifd.getCapabilities(0x10100)).toEqual({ ok: true, value: undefined });
  });

  it('get: ERROR_INSUFFICIENT_BUFFER → INSUFFICIENT_BUFFER, any other (ERROR_TAG too) → NOT_TRANSACTED', () => {
    const { slot, ifd } = setup();
    slot.fail.getAttribute = IFD.ERROR_INSUFFICIENT_BUFFER;
    expect(failure(ifd.getCapabilities(0x90303))).toEqual({
      code: SCARD_E_INSUFFICIENT_BUFFER,
      detail: 'attribute 0x90303 does not fit',
    });
    slot.fail.getAttribute = IFD.ERROR_TAG;
    expect(failure(ifd.getCapabilities(0x90303))).toEqual({
      code: SCARD_E_NOT_TRANSACTED,
      detail: `reading attribute 0x90303 of "${NAME}" failed: IFD_ERROR_TAG: fake: get attribute`,
    });
    slot.fail.getAttribute = IFD.NO_SUCH_DEVICE;
    expect(failure(ifd.getCapabilities(0x90303)).code).toBe(SCARD_E_NOT_TRANSACTED);
  });

  it('setCapabilities: IFD_ERROR_TAG → SCARD_E_UNSUPPORTED_FEATURE, others → NOT_TRANSACTED', async () => {
    const { slot, ifd } = setup();
    expect(await ifd.setCapabilities(0x7a007, Uint8Array.of(1))).toEqual({ ok: true, value: undefined });
    expect(slot.attributes.get(0x7a007)).toEqual(Uint8Array.of(1));
    slot.fail.setAttribute = IFD.ERROR_TAG;
    expect(failure(await ifd.setCapabilities(0x7a007, Uint8Array.of(1)))).toEqual({
      code: SCARD_E_UNSUPPORTED_FEATURE,
      detail: `"${NAME}" does not accept attribute 0x7A007`,
    });
    slot.fail.setAttribute = IFD.ERROR_VALUE_READ_ONLY;
    expect(failure(await ifd.setCapabilities(0x7a007, Uint8Array.of(1)))).toEqual({
      code: SCARD_E_NOT_TRANSACTED,
      detail: `setting attribute 0x7A007 of "${NAME}" failed: IFD_ERROR_VALUE_READ_ONLY: fake: set attribute`,
    });
  });
});

describe('serialisation (rContext->mMutex)', () => {
  it('runs one driver call at a time, in call order', async () => {
    const { slot, ifd } = setup();
    let release: () => void = () => undefined;
    slot.transmitHandler = () =>
      new Promise<Uint8Array>((resolve) => {
        release = () => resolve(Uint8Array.of(0x90, 0x00));
      });
    const first = ifd.transmit(Uint8Array.of(1));
    const power = ifd.power('reset');
    const control = ifd.control(1, new Uint8Array(0));
    await flush();
    expect(slot.calls).toEqual(['transmit 1']);
    release();
    expect((await first).ok).toBe(true);
    expect((await power).ok).toBe(true);
    expect((await control).ok).toBe(true);
    expect(slot.calls).toEqual(['transmit 1', 'iccPresence', 'power reset', 'control 1']);
  });

  it('a failed call releases the lock', async () => {
    const { slot, ifd } = setup();
    slot.fail.transmit = IFD.COMMUNICATION_ERROR;
    const a = ifd.transmit(Uint8Array.of(1));
    const b = ifd.statusIcc();
    expect((await a).ok).toBe(false);
    expect(await b).toEqual({ ok: true, value: true });
  });
});

describe('the reader', () => {
  it('forwards card events and their unsubscription', () => {
    const { slot, ifd } = setup();
    const seen: boolean[] = [];
    const off = ifd.onCardEvent((p) => seen.push(p));
    slot.setCard(false);
    slot.setCard(true);
    off();
    slot.setCard(false);
    expect(seen).toEqual([false, true]);
    expect(slot.listenerCount).toBe(0);
  });

  it('closeReader closes, and reports a failing close with the driver message', async () => {
    const reader = new FakeReader();
    expect(await closeReader(reader)).toEqual({ ok: true, value: undefined });
    expect(reader.closed).toBe(true);
    const bad = new FakeReader();
    bad.closeFailure = new Error('USB transfer stalled');
    expect(failure(await closeReader(bad))).toEqual({ code: SCARD_E_NOT_TRANSACTED, detail: 'USB transfer stalled' });
    bad.closeFailure = 'gone';
    expect(failure(await closeReader(bad)).detail).toBe('gone');
  });

  it('onReaderRemoved subscribes to the driver removal notice', () => {
    const reader = new FakeReader();
    let removed = 0;
    const off = onReaderRemoved(reader, () => removed++);
    reader.unplug();
    off();
    reader.unplug();
    expect(removed).toBe(1);
  });
});
