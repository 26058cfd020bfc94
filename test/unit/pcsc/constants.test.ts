import { describe, expect, it } from 'vitest';
import * as C from '../../../src/pcsc/constants.js';

describe('pcsc-lite error codes', () => {
  it('carries pcsc-lite 1.9.9 values as unsigned 32-bit numbers', () => {
    expect(C.SCARD_S_SUCCESS).toBe(0);
    expect(C.SCARD_F_INTERNAL_ERROR).toBe(0x80100001);
    expect(C.SCARD_E_TIMEOUT).toBe(0x8010000a);
    expect(C.SCARD_E_NO_SMARTCARD).toBe(0x8010000c);
    expect(C.SCARD_E_NO_READERS_AVAILABLE).toBe(0x8010002e);
    expect(C.SCARD_W_REMOVED_CARD).toBe(0x80100069);
    expect(C.SCARD_W_CARD_NOT_AUTHENTICATED).toBe(0x8010006f);
  });

  it('gives SCARD_E_UNEXPECTED and SCARD_E_UNSUPPORTED_FEATURE the same value, not Windows 0x80100022', () => {
    expect(C.SCARD_E_UNEXPECTED).toBe(0x8010001f);
    expect(C.SCARD_E_UNSUPPORTED_FEATURE).toBe(0x8010001f);
    expect(Object.values(C.PCSC_ERROR_CODES)).not.toContain(0x80100022);
  });

  it('lists every code under its exact pcsc-lite name', () => {
    for (const [name, value] of Object.entries(C.PCSC_ERROR_CODES)) {
      expect(name).toMatch(/^SCARD_[SFEWP]_[A-Z_]+$/);
      expect((C as Record<string, unknown>)[name]).toBe(value);
    }
    expect(Object.keys(C.PCSC_ERROR_CODES)).toHaveLength(61);
  });
});

describe('pcscStringifyError', () => {
  it('returns pcsc-lite 1.9.9 text for listed codes', () => {
    expect(C.pcscStringifyError(C.SCARD_S_SUCCESS)).toBe('Command successful.');
    expect(C.pcscStringifyError(C.SCARD_E_NO_SMARTCARD)).toBe('No smart card inserted.');
    expect(C.pcscStringifyError(C.SCARD_F_COMM_ERROR)).toBe('RPC transport error.');
    expect(C.pcscStringifyError(C.SCARD_E_UNSUPPORTED_FEATURE)).toBe('Feature not supported.');
    expect(C.pcscStringifyError(C.SCARD_E_NO_READERS_AVAILABLE)).toBe('Cannot find a smart card reader.');
    expect(C.pcscStringifyError(C.SCARD_W_SECURITY_VIOLATION)).toBe('Access denied.');
  });

  it('prints defined-but-unlisted codes as Unknown error with 8 uppercase hex digits', () => {
    expect(C.pcscStringifyError(C.SCARD_P_SHUTDOWN)).toBe('Unknown error: 0x80100018');
    expect(C.pcscStringifyError(C.SCARD_E_INVALID_CHV)).toBe('Unknown error: 0x8010002A');
    expect(C.pcscStringifyError(C.SCARD_W_WRONG_CHV)).toBe('Unknown error: 0x8010006B');
    expect(C.pcscStringifyError(C.SCARD_E_SERVER_TOO_BUSY)).toBe('Unknown error: 0x80100031');
  });

  it('pads small unknown codes to 8 digits', () => {
    expect(C.pcscStringifyError(0xabc)).toBe('Unknown error: 0x00000ABC');
  });

  it('reads a signed int32 code as the same DWORD', () => {
    expect(C.pcscStringifyError(-2146435060)).toBe('No smart card inserted.');
    expect(C.pcscStringifyError(-1)).toBe('Unknown error: 0xFFFFFFFF');
  });

  it('never names an error for values that are not 32-bit integers', () => {
    expect(C.pcscStringifyError(1.5)).toBe('Unknown error: 1.5');
    expect(C.pcscStringifyError(Number.NaN)).toBe('Unknown error: NaN');
    expect(C.pcscStringifyError(0x1_0000_0000)).toBe('Unknown error: 4294967296');
  });
});

describe('toSigned32 / toUnsigned32', () => {
  it('converts between the connector view and the pcsc-lite view', () => {
    expect(C.toSigned32(0x80100001)).toBe(-2146435071);
    expect(C.toUnsigned32(-2146435071)).toBe(0x80100001);
    expect(C.toSigned32(0)).toBe(0);
    expect(C.toUnsigned32(0x7fffffff)).toBe(0x7fffffff);
    expect(C.toSigned32(0xffffffff)).toBe(-1);
  });

  it('round-trips every error code', () => {
    for (const code of Object.values(C.PCSC_ERROR_CODES)) {
      expect(C.toUnsigned32(C.toSigned32(code))).toBe(code);
    }
  });

  it('rejects values no 32-bit register holds', () => {
    expect(() => C.toUnsigned32(0x1_0000_0000)).toThrow(RangeError);
    expect(() => C.toSigned32(-0x80000001)).toThrow(RangeError);
    expect(() => C.toSigned32(0.5)).toThrow(RangeError);
  });
});

describe('other constants', () => {
  it('has pcsc-lite scopes, protocols, share modes and dispositions', () => {
    expect([C.SCARD_SCOPE_USER, C.SCARD_SCOPE_TERMINAL, C.SCARD_SCOPE_SYSTEM, C.SCARD_SCOPE_GLOBAL]).toEqual([
      0, 1, 2, 3,
    ]);
    expect(C.SCARD_PROTOCOL_ANY).toBe(C.SCARD_PROTOCOL_T0 | C.SCARD_PROTOCOL_T1);
    expect(C.SCARD_PROTOCOL_ANY_OLD).toBe(0x1000);
    expect(C.SCARD_PROTOCOL_RAW).toBe(4);
    expect(C.SCARD_PROTOCOL_T15).toBe(8);
    expect([C.SCARD_SHARE_EXCLUSIVE, C.SCARD_SHARE_SHARED, C.SCARD_SHARE_DIRECT]).toEqual([1, 2, 3]);
    expect([C.SCARD_LEAVE_CARD, C.SCARD_RESET_CARD, C.SCARD_UNPOWER_CARD, C.SCARD_EJECT_CARD]).toEqual([0, 1, 2, 3]);
  });

  it('has card and reader state bits', () => {
    expect(C.SCARD_POWERED | C.SCARD_NEGOTIABLE | C.SCARD_PRESENT).toBe(0x34);
    expect(C.SCARD_STATE_PRESENT | C.SCARD_STATE_CHANGED).toBe(0x22);
    expect(C.SCARD_STATE_MUTE).toBe(0x200);
    expect(C.SCARD_STATE_UNPOWERED).toBe(0x400);
  });

  it('has pcsc-lite sizes', () => {
    expect(C.MAX_ATR_SIZE).toBe(33);
    expect(C.MAX_READERNAME).toBe(128);
    expect(C.MAX_BUFFER_SIZE).toBe(264);
    expect(C.MAX_BUFFER_SIZE_EXTENDED).toBe(65548);
    expect(C.PCSCLITE_MAX_READERS_CONTEXTS).toBe(16);
    expect(C.INFINITE).toBe(0xffffffff);
    expect(C.SCARD_AUTOALLOCATE).toBe(0xffffffff);
  });

  it('spells the PnP reader and the default group as pcsc-lite does', () => {
    expect(C.PNP_NOTIFICATION_READER_NAME).toBe(String.raw`\\?PnP?\Notification`);
    expect(C.SCARD_DEFAULT_READERS).toBe('SCard$DefaultReaders');
  });

  it('builds attribute tags as class << 16 | tag', () => {
    expect(C.SCARD_ATTR_VALUE(C.SCARD_CLASS_ICC_STATE, 0x0303)).toBe(C.SCARD_ATTR_ATR_STRING);
    expect(C.SCARD_ATTR_VALUE(C.SCARD_CLASS_VENDOR_INFO, 0x0100)).toBe(0x00010100);
    expect(C.SCARD_ATTR_VALUE(C.SCARD_CLASS_SYSTEM, 0x0003)).toBe(C.SCARD_ATTR_DEVICE_FRIENDLY_NAME);
    expect(C.SCARD_ATTR_VALUE(C.SCARD_CLASS_VENDOR_DEFINED, 0xa007)).toBe(C.SCARD_ATTR_MAXINPUT);
    expect(C.SCARD_ATTR_CHANNEL_ID).toBe(0x00020110);
    expect(C.SCARD_ATTR_CURRENT_CWT).toBe(0x0008020a);
  });

  it('builds control codes as 0x42000000 + code', () => {
    expect(C.SCARD_CTL_CODE(3400)).toBe(C.CM_IOCTL_GET_FEATURE_REQUEST);
    expect(C.CM_IOCTL_GET_FEATURE_REQUEST).toBe(0x42000d48);
    expect(C.SCARD_CTL_CODE(1)).toBe(0x42000001);
    expect(C.SCARD_CTL_CODE(0x330000 + C.FEATURE_VERIFY_PIN_DIRECT)).toBe(0x42330006);
  });

  it('numbers features and part 10 properties as reader.h', () => {
    expect(C.FEATURE_IFD_PIN_PROPERTIES).toBe(0x0a);
    expect(C.FEATURE_GET_TLV_PROPERTIES).toBe(0x12);
    expect(C.FEATURE_CCID_ESC_COMMAND).toBe(0x13);
    expect(C.FEATURE_EXECUTE_PACE).toBe(0x20);
    expect(Object.values(C.PCSCv2_PART10_PROPERTIES)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(C.PCSCv2_PART10_PROPERTY_dwMaxAPDUDataSize).toBe(10);
  });
});
