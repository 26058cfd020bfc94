import { describe, expect, it } from 'vitest';
import { classifyApdu } from '../../../src/ccid/apdu.js';
import { DriverError } from '../../../src/ifd/errors.js';
import { apduToT0Tpdu } from '../../../src/ccid/t0.js';

const hex = (s: string) =>
  Uint8Array.from(
    s
      .split(' ')
      .filter(Boolean)
      .map((b) => parseInt(b, 16)),
  );

describe('APDU cases (ISO 7816-4 §5.1)', () => {
  it.each([
    ['00 00 00 00', '1', 0, 0],
    ['00 84 00 00 08', '2S', 0, 8],
    ['00 84 00 00 00', '2S', 0, 256],
    ['00 A4 04 00 02 3F 00', '3S', 2, 0],
    ['00 A4 04 00 02 3F 00 00', '4S', 2, 256],
    ['80 EE 00 00 00 01 00', '2E', 0, 256],
    ['80 EE 00 00 00 00 00', '2E', 0, 65536],
    ['80 EE 00 00 00 00 01 AA', '3E', 1, 0],
    ['80 EE 00 00 00 00 01 AA 00 00', '4E', 1, 65536],
  ])('%s is case %s (Nc %d, Ne %d)', (apdu, kind, nc, ne) => {
    const shape = classifyApdu(hex(apdu));
    expect(shape).toMatchObject({ case: kind, nc, ne });
  });

  it.each(['00 A4', '00 A4 04 00 03 3F 00', '80 EE 00 00 00 00 00 00', '80 EE 00 00 00 00 02 AA'])(
    'a length that fits no case (%s) is not classified',
    (apdu) => expect(classifyApdu(hex(apdu))).toBeUndefined(),
  );
});

describe('APDU to T=0 TPDU (ISO 7816-3 §12.2)', () => {
  it('case 1 gets P3 = 00', () => expect(apduToT0Tpdu(hex('00 00 00 00'))).toEqual(hex('00 00 00 00 00')));
  it('case 2S and 3S go as they are', () => {
    expect(apduToT0Tpdu(hex('00 84 00 00 08'))).toEqual(hex('00 84 00 00 08'));
    expect(apduToT0Tpdu(hex('00 A4 04 00 02 3F 00'))).toEqual(hex('00 A4 04 00 02 3F 00'));
  });
  it('case 4S goes as case 3S, without Le', () =>
    expect(apduToT0Tpdu(hex('00 A4 04 00 02 3F 00 00'))).toEqual(hex('00 A4 04 00 02 3F 00')));
  it('extended cases are refused with an explanation', () => {
    expect(() => apduToT0Tpdu(hex('80 EE 00 00 00 00 01 AA'))).toThrow(DriverError);
    expect(() => apduToT0Tpdu(hex('80 EE 00 00 00 00 01 AA'))).toThrow(/extended-length APDU/);
  });
  it('fewer than 4 bytes is an error, not a guess', () =>
    expect(() => apduToT0Tpdu(hex('00 A4'))).toThrow(/at least 4 bytes/));
});
