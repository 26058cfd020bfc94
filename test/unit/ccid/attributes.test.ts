import { describe, expect, it } from 'vitest';
import {
  TAG_IFD_ATR,
  channelIdFor,
  maxInputFor,
  readerAttribute,
  webUsbChannelId,
  type ReaderAttributeState,
} from '../../../src/ccid/attributes.js';
import {
  SCARD_ATTR_ATR_STRING,
  SCARD_ATTR_CHANNEL_ID,
  SCARD_ATTR_CURRENT_PROTOCOL_TYPE,
  SCARD_ATTR_DEVICE_FRIENDLY_NAME,
  SCARD_ATTR_ICC_INTERFACE_STATUS,
  SCARD_ATTR_ICC_PRESENCE,
  SCARD_ATTR_MAXINPUT,
  SCARD_ATTR_VENDOR_IFD_SERIAL_NO,
  SCARD_ATTR_VENDOR_IFD_VERSION,
  SCARD_ATTR_VENDOR_NAME,
} from '../../../src/pcsc/constants.js';

const ATR = Uint8Array.of(0x3b, 0x02, 0x14, 0x50);

function state(over: Partial<ReaderAttributeState> = {}): ReaderAttributeState {
  return {
    atr: ATR,
    present: true,
    powered: true,
    vendorName: 'Gemalto',
    bcdDevice: 0x0201,
    serial: '12345',
    maxInput: 261,
    channelId: 0x00200305,
    ...over,
  };
}

const bytes = (u: Uint8Array | undefined) => (u === undefined ? undefined : [...u]);

describe('readerAttribute', () => {
  it('returns the ATR for ATR_STRING and TAG_IFD_ATR, empty when no card is powered', () => {
    expect(bytes(readerAttribute(SCARD_ATTR_ATR_STRING, state()))).toEqual([0x3b, 0x02, 0x14, 0x50]);
    expect(bytes(readerAttribute(TAG_IFD_ATR, state()))).toEqual([0x3b, 0x02, 0x14, 0x50]);
    expect(bytes(readerAttribute(SCARD_ATTR_ATR_STRING, state({ atr: undefined })))).toEqual([]);
  });

  it("returns a copy of the ATR, not the slot's buffer", () => {
    const atr = Uint8Array.of(0x3b, 0x00);
    const value = readerAttribute(SCARD_ATTR_ATR_STRING, state({ atr }));
    value?.fill(0);
    expect([...atr]).toEqual([0x3b, 0x00]);
  });

  it('reports ICC_PRESENCE as 2 for a present card and 0 otherwise', () => {
    expect(bytes(readerAttribute(SCARD_ATTR_ICC_PRESENCE, state()))).toEqual([2]);
    expect(bytes(readerAttribute(SCARD_ATTR_ICC_PRESENCE, state({ present: false, powered: false })))).toEqual([0]);
  });

  it('reports ICC_INTERFACE_STATUS from presence, as libccid does, even for an unpowered card', () => {
    expect(bytes(readerAttribute(SCARD_ATTR_ICC_INTERFACE_STATUS, state({ powered: false })))).toEqual([1]);
    expect(bytes(readerAttribute(SCARD_ATTR_ICC_INTERFACE_STATUS, state({ present: false, powered: false })))).toEqual([
      0,
    ]);
  });

  it('returns the vendor name and serial NUL-terminated, empty when the device has none', () => {
    expect(bytes(readerAttribute(SCARD_ATTR_VENDOR_NAME, state()))).toEqual([
      0x47, 0x65, 0x6d, 0x61, 0x6c, 0x74, 0x6f, 0,
    ]);
    expect(bytes(readerAttribute(SCARD_ATTR_VENDOR_IFD_SERIAL_NO, state()))).toEqual([0x31, 0x32, 0x33, 0x34, 0x35, 0]);
    expect(bytes(readerAttribute(SCARD_ATTR_VENDOR_NAME, state({ vendorName: undefined })))).toEqual([]);
    expect(bytes(readerAttribute(SCARD_ATTR_VENDOR_IFD_SERIAL_NO, state({ serial: '' })))).toEqual([]);
  });

  it('encodes USB strings as libusb_get_string_descriptor_ascii does', () => {
    // é (U+00E9) stays one Latin-1 byte; € (U+20AC) becomes '?'.
    expect(bytes(readerAttribute(SCARD_ATTR_VENDOR_NAME, state({ vendorName: 'é€' })))).toEqual([0xe9, 0x3f, 0]);
    const long = readerAttribute(SCARD_ATTR_VENDOR_NAME, state({ vendorName: 'x'.repeat(200) }));
    expect(long?.length).toBe(128);
    expect(long?.[127]).toBe(0);
  });

  it('encodes VENDOR_IFD_VERSION as bcdDevice << 16, little-endian', () => {
    expect(bytes(readerAttribute(SCARD_ATTR_VENDOR_IFD_VERSION, state({ bcdDevice: 0x0201 })))).toEqual([
      0, 0, 0x01, 0x02,
    ]);
    expect(bytes(readerAttribute(SCARD_ATTR_VENDOR_IFD_VERSION, state({ bcdDevice: 0xffff })))).toEqual([
      0, 0, 0xff, 0xff,
    ]);
  });

  it('encodes MAXINPUT and CHANNEL_ID as u32 little-endian', () => {
    expect(bytes(readerAttribute(SCARD_ATTR_MAXINPUT, state({ maxInput: 261 })))).toEqual([0x05, 0x01, 0, 0]);
    expect(bytes(readerAttribute(SCARD_ATTR_CHANNEL_ID, state()))).toEqual([0x05, 0x03, 0x20, 0x00]);
  });

  it('does not know tags libccid does not answer', () => {
    expect(readerAttribute(SCARD_ATTR_DEVICE_FRIENDLY_NAME, state())).toBeUndefined();
    expect(readerAttribute(SCARD_ATTR_CURRENT_PROTOCOL_TYPE, state({ protocol: 1 }))).toBeUndefined();
    expect(readerAttribute(0xdeadbeef, state())).toBeUndefined();
  });

  it('rejects state values no USB device has', () => {
    expect(() => readerAttribute(SCARD_ATTR_VENDOR_IFD_VERSION, state({ bcdDevice: 0x10000 }))).toThrow(RangeError);
    expect(() => readerAttribute(SCARD_ATTR_MAXINPUT, state({ maxInput: -1 }))).toThrow(RangeError);
  });
});

describe('maxInputFor', () => {
  it('subtracts the 10-byte CCID header', () => {
    expect(maxInputFor(271)).toBe(261);
    expect(maxInputFor(65546)).toBe(65536);
  });

  it('gives 0 for descriptors shorter than a header instead of wrapping', () => {
    expect(maxInputFor(9)).toBe(0);
    expect(maxInputFor(Number.NaN)).toBe(0);
  });
});

describe('channelIdFor', () => {
  it('builds 0x0020 << 16 | bus << 8 | address', () => {
    expect(channelIdFor({ bus: 3, address: 5 })).toBe(0x00200305);
    expect(channelIdFor({ bus: 255, address: 255 })).toBe(0x0020ffff);
  });

  it('uses bus 0 and reader index + 1 over WebUSB', () => {
    expect(webUsbChannelId(0)).toBe(0x00200001);
    expect(webUsbChannelId(15)).toBe(0x00200010);
  });

  it('rejects bus or address values that do not fit a byte', () => {
    expect(() => channelIdFor({ bus: 256, address: 1 })).toThrow(RangeError);
    expect(() => channelIdFor({ bus: 0, address: -1 })).toThrow(RangeError);
  });
});
