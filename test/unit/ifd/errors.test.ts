import { describe, expect, it } from 'vitest';
import { DriverError, IFD, ifdCodeName, isDriverError, readerRemoved } from '../../../src/ifd/errors.js';

describe('driver errors', () => {
  it('carry pcsc-lite IFD codes with their exact values', () => {
    expect(IFD.COMMUNICATION_ERROR).toBe(612);
    expect(IFD.ICC_NOT_PRESENT).toBe(616);
    expect(IFD.NO_SUCH_DEVICE).toBe(617);
    expect(ifdCodeName(613)).toBe('IFD_RESPONSE_TIMEOUT');
    expect(ifdCodeName(1)).toBe('IFD code 1');
  });

  it('a removed reader is IFD_NO_SUCH_DEVICE with a readable message', () => {
    const e = readerRemoved();
    expect(e).toBeInstanceOf(DriverError);
    expect(isDriverError(e, IFD.NO_SUCH_DEVICE)).toBe(true);
    expect(isDriverError(e, IFD.COMMUNICATION_ERROR)).toBe(false);
    expect(e.message).toMatch(/removed/);
  });
});
