/** describeOpenFailure: every kind of open/claim/daemon error becomes a state and a reason a person can act on. */
import { describe, expect, it } from 'vitest';
import { DriverError, IFD } from '../../../src/ifd/errors.js';
import { ProtectedInterfaceClassError } from '../../../src/ccid/usb-failure.js';
import { SCARD_E_NO_MEMORY, SCARD_E_NO_SERVICE } from '../../../src/pcsc/constants.js';
import { PcscError } from '../../../src/pcsc/errors.js';
import {
  BUSY_EXPLANATION,
  PROTECTED_CLASS_EXPLANATION,
  TOO_MANY_READERS_EXPLANATION,
  describeOpenFailure,
} from '../../../src/usb/errors.js';

const dom = (name: string, message = 'x') => new DOMException(message, name);

describe('describeOpenFailure', () => {
  it('the protected class refusal, from the driver or raw, is blocked with the explanation', () => {
    const raw = dom('SecurityError', 'The requested interface implements a protected class.');
    expect(describeOpenFailure(new ProtectedInterfaceClassError(0, 0x0b, raw))).toEqual({
      state: 'blocked',
      reason: PROTECTED_CLASS_EXPLANATION,
    });
    expect(describeOpenFailure(raw)).toEqual({ state: 'blocked', reason: PROTECTED_CLASS_EXPLANATION });
  });

  it('a refusal on another protected class names that class', () => {
    const raw = dom('SecurityError', 'The requested interface implements a protected class.');
    const f = describeOpenFailure(new ProtectedInterfaceClassError(1, 0x03, raw));
    expect(f.state).toBe('blocked');
    expect(f.reason).toMatch(/class 0x03/);
    expect(describeOpenFailure(raw, { interfaceClass: 0x08 }).reason).toMatch(/class 0x08/);
  });

  it('the device going away is "gone"', () => {
    expect(describeOpenFailure(dom('NotFoundError', 'The device was disconnected.')).state).toBe('gone');
    expect(describeOpenFailure(new DriverError(IFD.NO_SUCH_DEVICE, 'the reader was removed')).state).toBe('gone');
    const wrapped = new DriverError(IFD.COMMUNICATION_ERROR, 'x', { cause: dom('NotFoundError') });
    expect(describeOpenFailure(wrapped).state).toBe('gone');
  });

  it('busy or reset (NetworkError, InvalidStateError), raw or inside a driver error, is failed with the busy reason', () => {
    for (const name of ['NetworkError', 'InvalidStateError']) {
      expect(describeOpenFailure(dom(name))).toEqual({ state: 'failed', reason: BUSY_EXPLANATION });
      const wrapped = new DriverError(IFD.COMMUNICATION_ERROR, 'could not claim interface 0', { cause: dom(name) });
      expect(describeOpenFailure(wrapped)).toEqual({ state: 'failed', reason: BUSY_EXPLANATION });
    }
    expect(BUSY_EXPLANATION).toMatch(/unplug the reader and plug it in again/);
  });

  it('a reader the driver cannot drive is unsupported, with the driver reason as a sentence', () => {
    const f = describeOpenFailure(
      new DriverError(
        IFD.NOT_SUPPORTED,
        'this USB device has no usable CCID interface (interface 0: the interface speaks ICCD version A)',
      ),
    );
    expect(f.state).toBe('unsupported');
    expect(f.reason).toBe(
      'This reader is not supported: This USB device has no usable CCID interface (interface 0: the interface speaks ICCD version A).',
    );
  });

  it('firmware the driver refuses is unsupported, without the advice to retry', () => {
    const e = new DriverError(
      IFD.COMMUNICATION_ERROR,
      'SCM Microsystems Inc. SPR 532 firmware 5.00 is known to be buggy (5.10 or later works): upgrade the reader firmware',
    );
    const f = describeOpenFailure(e, { firmwareRefused: true });
    expect(f.state).toBe('unsupported');
    expect(f.reason).toBe(
      'This reader is not supported: SCM Microsystems Inc. SPR 532 firmware 5.00 is known to be buggy (5.10 or later works): upgrade the reader firmware.',
    );
  });

  it("the daemon's reader limit is failed with the limit explained; other daemon errors keep their text", () => {
    expect(describeOpenFailure(new PcscError(SCARD_E_NO_MEMORY))).toEqual({
      state: 'failed',
      reason: TOO_MANY_READERS_EXPLANATION,
    });
    expect(TOO_MANY_READERS_EXPLANATION).toMatch(/16/);
    const other = describeOpenFailure(new PcscError(SCARD_E_NO_SERVICE, 'shutting down'));
    expect(other.state).toBe('failed');
    expect(other.reason).toMatch(/^The smart card service could not add the reader: .*shutting down\.$/);
  });

  it('anything else is failed with its message and the way to retry', () => {
    const f = describeOpenFailure(new DriverError(IFD.COMMUNICATION_ERROR, 'the reader did not answer'));
    expect(f).toEqual({
      state: 'failed',
      reason: 'The reader did not answer. Unplug the reader and plug it in again to retry.',
    });
    expect(describeOpenFailure(new Error('boom')).reason).toBe(
      'The reader could not be opened: Boom. Unplug it and plug it in again to retry.',
    );
    expect(describeOpenFailure('weird').state).toBe('failed');
    expect(describeOpenFailure(undefined).state).toBe('failed');
    expect(describeOpenFailure(null).state).toBe('failed');
  });
});
