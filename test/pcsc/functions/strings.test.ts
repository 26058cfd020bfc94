/**
 * Reference §1 "Error codes and pcsc_stringify_error text ✔": the codes and strings clients see.
 */
import { describe, expect, it } from 'vitest';
import * as C from '../../../src/pcsc/index.js';
import { PcscError, pcscStringifyError } from '../../../src/pcsc/index.js';
import { fails, rig } from './fixture.js';

/** §1 table, both halves, exactly as pcsc-lite 1.9.9 prints them. */
const TABLE: ReadonlyArray<[number, string, string]> = [
  [0x00000000, 'SCARD_S_SUCCESS', 'Command successful.'],
  [0x80100001, 'SCARD_F_INTERNAL_ERROR', 'Internal error.'],
  [0x80100002, 'SCARD_E_CANCELLED', 'Command cancelled.'],
  [0x80100003, 'SCARD_E_INVALID_HANDLE', 'Invalid handle.'],
  [0x80100004, 'SCARD_E_INVALID_PARAMETER', 'Invalid parameter given.'],
  [0x80100005, 'SCARD_E_INVALID_TARGET', 'Invalid target given.'],
  [0x80100006, 'SCARD_E_NO_MEMORY', 'Not enough memory.'],
  [0x80100007, 'SCARD_F_WAITED_TOO_LONG', 'Waited too long.'],
  [0x80100008, 'SCARD_E_INSUFFICIENT_BUFFER', 'Insufficient buffer.'],
  [0x80100009, 'SCARD_E_UNKNOWN_READER', 'Unknown reader specified.'],
  [0x8010000a, 'SCARD_E_TIMEOUT', 'Command timeout.'],
  [0x8010000b, 'SCARD_E_SHARING_VIOLATION', 'Sharing violation.'],
  [0x8010000c, 'SCARD_E_NO_SMARTCARD', 'No smart card inserted.'],
  [0x8010000d, 'SCARD_E_UNKNOWN_CARD', 'Unknown card.'],
  [0x8010000e, 'SCARD_E_CANT_DISPOSE', 'Cannot dispose handle.'],
  [0x8010000f, 'SCARD_E_PROTO_MISMATCH', 'Card protocol mismatch.'],
  [0x80100010, 'SCARD_E_NOT_READY', 'Subsystem not ready.'],
  [0x80100011, 'SCARD_E_INVALID_VALUE', 'Invalid value given.'],
  [0x80100012, 'SCARD_E_SYSTEM_CANCELLED', 'System cancelled.'],
  [0x80100013, 'SCARD_F_COMM_ERROR', 'RPC transport error.'],
  [0x80100014, 'SCARD_F_UNKNOWN_ERROR', 'Unknown error.'],
  [0x80100015, 'SCARD_E_INVALID_ATR', 'Invalid ATR.'],
  [0x80100016, 'SCARD_E_NOT_TRANSACTED', 'Transaction failed.'],
  [0x80100017, 'SCARD_E_READER_UNAVAILABLE', 'Reader is unavailable.'],
  [0x80100019, 'SCARD_E_PCI_TOO_SMALL', 'PCI struct too small.'],
  [0x8010001a, 'SCARD_E_READER_UNSUPPORTED', 'Reader is unsupported.'],
  [0x8010001b, 'SCARD_E_DUPLICATE_READER', 'Reader already exists.'],
  [0x8010001c, 'SCARD_E_CARD_UNSUPPORTED', 'Card is unsupported.'],
  [0x8010001d, 'SCARD_E_NO_SERVICE', 'Service not available.'],
  [0x8010001e, 'SCARD_E_SERVICE_STOPPED', 'Service was stopped.'],
  [0x8010001f, 'SCARD_E_UNSUPPORTED_FEATURE', 'Feature not supported.'],
  [0x8010002e, 'SCARD_E_NO_READERS_AVAILABLE', 'Cannot find a smart card reader.'],
  [0x80100065, 'SCARD_W_UNSUPPORTED_CARD', 'Card is not supported.'],
  [0x80100066, 'SCARD_W_UNRESPONSIVE_CARD', 'Card is unresponsive.'],
  [0x80100067, 'SCARD_W_UNPOWERED_CARD', 'Card is unpowered.'],
  [0x80100068, 'SCARD_W_RESET_CARD', 'Card was reset.'],
  [0x80100069, 'SCARD_W_REMOVED_CARD', 'Card was removed.'],
  [0x8010006a, 'SCARD_W_SECURITY_VIOLATION', 'Access denied.'],
];

/** §1: defined but printed as "Unknown error: 0x…" by 1.9.9 (P_SHUTDOWN too). */
const PRINTED_UNKNOWN: ReadonlyArray<[number, string]> = [
  [0x80100018, 'SCARD_P_SHUTDOWN'],
  [0x80100020, 'SCARD_E_ICC_INSTALLATION'],
  [0x80100021, 'SCARD_E_ICC_CREATEORDER'],
  [0x80100023, 'SCARD_E_DIR_NOT_FOUND'],
  [0x80100024, 'SCARD_E_FILE_NOT_FOUND'],
  [0x80100025, 'SCARD_E_NO_DIR'],
  [0x80100026, 'SCARD_E_NO_FILE'],
  [0x80100027, 'SCARD_E_NO_ACCESS'],
  [0x80100028, 'SCARD_E_WRITE_TOO_MANY'],
  [0x80100029, 'SCARD_E_BAD_SEEK'],
  [0x8010002a, 'SCARD_E_INVALID_CHV'],
  [0x8010002b, 'SCARD_E_UNKNOWN_RES_MNG'],
  [0x8010002c, 'SCARD_E_NO_SUCH_CERTIFICATE'],
  [0x8010002d, 'SCARD_E_CERTIFICATE_UNAVAILABLE'],
  [0x8010002f, 'SCARD_E_COMM_DATA_LOST'],
  [0x80100030, 'SCARD_E_NO_KEY_CONTAINER'],
  [0x80100031, 'SCARD_E_SERVER_TOO_BUSY'],
  [0x8010006b, 'SCARD_W_WRONG_CHV'],
  [0x8010006c, 'SCARD_W_CHV_BLOCKED'],
  [0x8010006d, 'SCARD_W_EOF'],
  [0x8010006e, 'SCARD_W_CANCELLED_BY_USER'],
  [0x8010006f, 'SCARD_W_CARD_NOT_AUTHENTICATED'],
];

const constants = C as unknown as Record<string, unknown>;

describe('§1 error codes and pcsc_stringify_error ✔', () => {
  it.each(TABLE.map(([code, name, text]) => ({ code, name, text })))(
    '$name: pcsc-lite value and exact text "$text"',
    ({ code, name, text }) => {
      expect(constants[name], name).toBe(code);
      expect(pcscStringifyError(code)).toBe(text);
    },
  );

  it('E_UNEXPECTED and E_UNSUPPORTED_FEATURE share 0x8010001F ("Feature not supported."), not Windows 0x80100022', () => {
    expect(C.SCARD_E_UNEXPECTED).toBe(0x8010001f);
    expect(C.SCARD_E_UNSUPPORTED_FEATURE).toBe(0x8010001f);
    expect(pcscStringifyError(0x80100022)).toBe('Unknown error: 0x80100022');
  });

  it.each(PRINTED_UNKNOWN.map(([code, name]) => ({ code, name })))(
    '$name is defined but prints "Unknown error: 0x…" in 1.9.9',
    ({ code, name }) => {
      expect(constants[name], name).toBe(code);
      expect(pcscStringifyError(code)).toBe(`Unknown error: 0x${code.toString(16).toUpperCase().padStart(8, '0')}`);
    },
  );

  it('unlisted codes print as "Unknown error: 0x%08lX" (8 uppercase hex digits)', () => {
    expect(pcscStringifyError(0x1)).toBe('Unknown error: 0x00000001');
    expect(pcscStringifyError(0x8010abcd)).toBe('Unknown error: 0x8010ABCD');
    expect(pcscStringifyError(0xffffffff)).toBe('Unknown error: 0xFFFFFFFF');
  });

  it('a signed (int32) code prints like its unsigned form', () => {
    expect(pcscStringifyError(0x80100069 | 0)).toBe('Card was removed.');
  });
});

describe('§1 codes as the daemon hands them to clients', () => {
  it('a failing call rejects with a PcscError whose code is the unsigned pcsc-lite value and whose message carries the text', async () => {
    const { client } = await rig().client();
    const e = await fails(client.SCardIsValidContext(0x1234), C.SCARD_E_INVALID_HANDLE);
    expect(e).toBeInstanceOf(PcscError);
    expect(e.code).toBe(0x80100003);
    expect(e.message).toContain('Invalid handle.');
  });
});

describe('§1 other constants', () => {
  it('scopes, protocols, share modes, dispositions have pcsc-lite values', () => {
    expect([C.SCARD_SCOPE_USER, C.SCARD_SCOPE_TERMINAL, C.SCARD_SCOPE_SYSTEM, C.SCARD_SCOPE_GLOBAL]).toEqual([
      0, 1, 2, 3,
    ]);
    expect([
      C.SCARD_PROTOCOL_UNDEFINED,
      C.SCARD_PROTOCOL_T0,
      C.SCARD_PROTOCOL_T1,
      C.SCARD_PROTOCOL_RAW,
      C.SCARD_PROTOCOL_T15,
    ]).toEqual([0, 1, 2, 4, 8]);
    expect(C.SCARD_PROTOCOL_ANY).toBe(3);
    expect(C.SCARD_PROTOCOL_ANY_OLD).toBe(0x1000);
    expect([C.SCARD_SHARE_EXCLUSIVE, C.SCARD_SHARE_SHARED, C.SCARD_SHARE_DIRECT]).toEqual([1, 2, 3]);
    expect([C.SCARD_LEAVE_CARD, C.SCARD_RESET_CARD, C.SCARD_UNPOWER_CARD, C.SCARD_EJECT_CARD]).toEqual([0, 1, 2, 3]);
  });

  it('card states (SCardStatus) and SCARD_STATE_* flags have pcsc-lite values', () => {
    expect([
      C.SCARD_UNKNOWN,
      C.SCARD_ABSENT,
      C.SCARD_PRESENT,
      C.SCARD_SWALLOWED,
      C.SCARD_POWERED,
      C.SCARD_NEGOTIABLE,
      C.SCARD_SPECIFIC,
    ]).toEqual([1, 2, 4, 8, 0x10, 0x20, 0x40]);
    expect([
      C.SCARD_STATE_UNAWARE,
      C.SCARD_STATE_IGNORE,
      C.SCARD_STATE_CHANGED,
      C.SCARD_STATE_UNKNOWN,
      C.SCARD_STATE_UNAVAILABLE,
      C.SCARD_STATE_EMPTY,
      C.SCARD_STATE_PRESENT,
      C.SCARD_STATE_ATRMATCH,
      C.SCARD_STATE_EXCLUSIVE,
      C.SCARD_STATE_INUSE,
      C.SCARD_STATE_MUTE,
      C.SCARD_STATE_UNPOWERED,
    ]).toEqual([0, 1, 2, 4, 8, 0x10, 0x20, 0x40, 0x80, 0x100, 0x200, 0x400]);
  });

  it('sizes and names', () => {
    expect(C.INFINITE).toBe(0xffffffff);
    expect(C.MAX_ATR_SIZE).toBe(33);
    expect(C.MAX_READERNAME).toBe(128);
    expect(C.MAX_BUFFER_SIZE).toBe(264);
    expect(C.MAX_BUFFER_SIZE_EXTENDED).toBe(65548);
    expect(C.PCSCLITE_MAX_READERS_CONTEXTS).toBe(16);
    expect(C.PNP_NOTIFICATION_READER_NAME).toBe('\\\\?PnP?\\Notification');
    expect(C.SCARD_DEFAULT_READERS).toBe('SCard$DefaultReaders');
  });

  it('attributes: SCARD_ATTR_VALUE(class, tag) = class << 16 | tag, names as reader.h', () => {
    expect(C.SCARD_ATTR_ATR_STRING).toBe(0x00090303);
    expect(C.SCARD_ATTR_VENDOR_NAME).toBe(0x00010100);
    expect(C.SCARD_ATTR_CHANNEL_ID).toBe(0x00020110);
    expect(C.SCARD_ATTR_MAXINPUT).toBe(0x0007a007);
    expect(C.SCARD_ATTR_DEVICE_FRIENDLY_NAME).toBe(0x7fff0003);
    expect(C.SCARD_ATTR_DEVICE_SYSTEM_NAME).toBe(0x7fff0004);
    expect(C.SCARD_ATTR_DEVICE_FRIENDLY_NAME_W).toBe(0x7fff0005);
    expect(C.CM_IOCTL_GET_FEATURE_REQUEST).toBe(0x42000d48);
    expect(C.SCARD_CTL_CODE(3400)).toBe(0x42000d48);
  });
});
