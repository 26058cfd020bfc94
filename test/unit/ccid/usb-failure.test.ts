import { describe, expect, it } from 'vitest';
import {
  ProtectedInterfaceClassError,
  classifyUsbError,
  describeUsbError,
  isProtectedClassError,
  removedError,
} from '../../../src/ccid/usb-failure.js';
import { DriverError, IFD } from '../../../src/ifd/errors.js';

const dom = (name: string, message = '') => new DOMException(message, name);

describe('classifyUsbError', () => {
  it('recognises the WebUSB DOMException names Chrome and the simulator raise', () => {
    expect(classifyUsbError(dom('NotFoundError', 'The device was disconnected.'))).toBe('gone');
    expect(classifyUsbError(dom('SecurityError', 'The requested interface implements a protected class.'))).toBe(
      'refused',
    );
    expect(classifyUsbError(dom('NetworkError', 'Unable to claim interface.'))).toBe('failed');
    expect(classifyUsbError(dom('AbortError', 'The transfer was cancelled.'))).toBe('failed');
  });

  it("recognises node-usb's libusb codes", () => {
    expect(classifyUsbError(new Error('transferIn error: Error: LIBUSB_TRANSFER_TIMED_OUT'))).toBe('timed-out');
    expect(classifyUsbError(new Error('LIBUSB_ERROR_NO_DEVICE'))).toBe('gone');
    expect(classifyUsbError(new Error('transferIn error: LIBUSB_TRANSFER_NO_DEVICE'))).toBe('gone');
    expect(classifyUsbError(new Error('LIBUSB_ERROR_IO'))).toBe('failed');
  });

  it('takes anything thrown without crashing', () => {
    for (const e of [undefined, null, 42, 'NotFoundError', {}, { name: 7 }]) expect(classifyUsbError(e)).toBe('failed');
  });
});

describe('driver errors of USB failures', () => {
  it('removedError is IFD_NO_SUCH_DEVICE and keeps the cause', () => {
    const cause = dom('NotFoundError');
    const e = removedError('while opening it', cause);
    expect(e).toBeInstanceOf(DriverError);
    expect(e.code).toBe(IFD.NO_SUCH_DEVICE);
    expect(e.message).toMatch(/removed \(while opening it\).*plug it in again/);
    expect(e.cause).toBe(cause);
    expect(removedError().cause).toBeUndefined();
  });

  it('ProtectedInterfaceClassError names the class in upper-case hex', () => {
    const e = new ProtectedInterfaceClassError(2, 0x0e, dom('SecurityError', 'protected'));
    expect(e.code).toBe(IFD.NOT_SUPPORTED);
    expect(e.message).toMatch(/interface 2 \(class 0x0E\).*SecurityError: protected/);
    expect(isProtectedClassError(e)).toBe(true);
    expect(isProtectedClassError(new DriverError(IFD.NOT_SUPPORTED, 'x'))).toBe(false);
  });

  it('describeUsbError gives name and message', () => {
    expect(describeUsbError(dom('NotFoundError', 'gone'))).toBe('NotFoundError: gone');
    expect(describeUsbError('text')).toBe('text');
  });
});
