/**
 * PC/SC constants with pcsc-lite 1.9.9's exact names and values.
 *
 * Sources (read for facts): pcsc-lite 1.9.9 `src/PCSC/pcsclite.h.in` (errors, scopes, protocols, share modes,
 * dispositions, card states, reader states, sizes), `src/PCSC/reader.h` (attributes, control codes, part 10 features
 * and properties), `src/winscard.c` (SCARD_PROTOCOL_ANY_OLD), `src/pcscd.h.in` (poll rates, limits), `src/error.c`
 * (`pcsc_stringify_error` text).
 *
 * Error codes are unsigned 32-bit numbers here (0x80100001), as pcsc-lite prints them and as the pcscd socket carries
 * them. Google's connector hands them to JavaScript as signed int32 (-2146435071): convert with `toSigned32` /
 * `toUnsigned32`.
 */

/** 'A B C' as the tuple type ['A', 'B', 'C'] (tail-recursive, so the 61 error names are within TypeScript's limits). */
type Words<S extends string, Acc extends string[] = []> = S extends `${infer H} ${infer T}`
  ? Words<T, [...Acc, H]>
  : [...Acc, S];

/** The words of every string of a tuple, in order. */
type Names<L extends readonly string[], Acc extends string[] = []> = L extends readonly [
  infer H extends string,
  ...infer T extends readonly string[],
]
  ? Names<T, [...Acc, ...Words<H>]>
  : Acc;

/** `{ readonly [prefix + name]: value }`, name i of `N` having value i of `V`. */
export type ConstantGroup<P extends string, N extends readonly string[], V extends readonly number[]> = {
  readonly [I in keyof N & `${number}` as `${P}${N[I] & string}`]: I extends keyof V ? V[I] : never;
};

/**
 * A group object such as `SCARD_SCOPES`, `{ SCARD_SCOPE_USER: 0, … }`, from the constants' values and their names
 * without the shared prefix, space-separated (in as many strings as lines need), in the same order. The bundle carries
 * each exported name in its export list anyway; written as an object literal, each group repeated every name in full
 * (issue 14: ≈ 2 KB of the client library, whose goal is 25 KB). The keys come out in the order given, as the
 * literal's did; test/unit/client-lib/exports.json pins every group key by key, value by value.
 */
/* @__NO_SIDE_EFFECTS__ */
function group<const P extends string, const V extends readonly number[], const L extends readonly string[]>(
  prefix: P,
  values: V,
  ...names: L
): ConstantGroup<P, Names<L>, V> {
  const keys = names.join(' ').split(' ');
  return Object.fromEntries(keys.map((name, i) => [prefix + name, values[i]])) as ConstantGroup<P, Names<L>, V>;
}

// ---------------------------------------------------------------------------------------------------------------------
// Error codes (`pcsclite.h`)

export const SCARD_S_SUCCESS = 0x00000000;
export const SCARD_F_INTERNAL_ERROR = 0x80100001;
export const SCARD_E_CANCELLED = 0x80100002;
export const SCARD_E_INVALID_HANDLE = 0x80100003;
export const SCARD_E_INVALID_PARAMETER = 0x80100004;
export const SCARD_E_INVALID_TARGET = 0x80100005;
export const SCARD_E_NO_MEMORY = 0x80100006;
export const SCARD_F_WAITED_TOO_LONG = 0x80100007;
export const SCARD_E_INSUFFICIENT_BUFFER = 0x80100008;
export const SCARD_E_UNKNOWN_READER = 0x80100009;
export const SCARD_E_TIMEOUT = 0x8010000a;
export const SCARD_E_SHARING_VIOLATION = 0x8010000b;
export const SCARD_E_NO_SMARTCARD = 0x8010000c;
export const SCARD_E_UNKNOWN_CARD = 0x8010000d;
export const SCARD_E_CANT_DISPOSE = 0x8010000e;
export const SCARD_E_PROTO_MISMATCH = 0x8010000f;
export const SCARD_E_NOT_READY = 0x80100010;
export const SCARD_E_INVALID_VALUE = 0x80100011;
export const SCARD_E_SYSTEM_CANCELLED = 0x80100012;
export const SCARD_F_COMM_ERROR = 0x80100013;
export const SCARD_F_UNKNOWN_ERROR = 0x80100014;
export const SCARD_E_INVALID_ATR = 0x80100015;
export const SCARD_E_NOT_TRANSACTED = 0x80100016;
export const SCARD_E_READER_UNAVAILABLE = 0x80100017;
export const SCARD_P_SHUTDOWN = 0x80100018;
export const SCARD_E_PCI_TOO_SMALL = 0x80100019;
export const SCARD_E_READER_UNSUPPORTED = 0x8010001a;
export const SCARD_E_DUPLICATE_READER = 0x8010001b;
export const SCARD_E_CARD_UNSUPPORTED = 0x8010001c;
export const SCARD_E_NO_SERVICE = 0x8010001d;
export const SCARD_E_SERVICE_STOPPED = 0x8010001e;
/** pcsc-lite gives SCARD_E_UNEXPECTED and SCARD_E_UNSUPPORTED_FEATURE the same value (Windows uses 0x80100022). */
export const SCARD_E_UNEXPECTED = 0x8010001f;
export const SCARD_E_UNSUPPORTED_FEATURE = 0x8010001f;
export const SCARD_E_ICC_INSTALLATION = 0x80100020;
export const SCARD_E_ICC_CREATEORDER = 0x80100021;
export const SCARD_E_DIR_NOT_FOUND = 0x80100023;
export const SCARD_E_FILE_NOT_FOUND = 0x80100024;
export const SCARD_E_NO_DIR = 0x80100025;
export const SCARD_E_NO_FILE = 0x80100026;
export const SCARD_E_NO_ACCESS = 0x80100027;
export const SCARD_E_WRITE_TOO_MANY = 0x80100028;
export const SCARD_E_BAD_SEEK = 0x80100029;
export const SCARD_E_INVALID_CHV = 0x8010002a;
export const SCARD_E_UNKNOWN_RES_MNG = 0x8010002b;
export const SCARD_E_NO_SUCH_CERTIFICATE = 0x8010002c;
export const SCARD_E_CERTIFICATE_UNAVAILABLE = 0x8010002d;
export const SCARD_E_NO_READERS_AVAILABLE = 0x8010002e;
export const SCARD_E_COMM_DATA_LOST = 0x8010002f;
export const SCARD_E_NO_KEY_CONTAINER = 0x80100030;
export const SCARD_E_SERVER_TOO_BUSY = 0x80100031;
export const SCARD_W_UNSUPPORTED_CARD = 0x80100065;
export const SCARD_W_UNRESPONSIVE_CARD = 0x80100066;
export const SCARD_W_UNPOWERED_CARD = 0x80100067;
export const SCARD_W_RESET_CARD = 0x80100068;
export const SCARD_W_REMOVED_CARD = 0x80100069;
export const SCARD_W_SECURITY_VIOLATION = 0x8010006a;
export const SCARD_W_WRONG_CHV = 0x8010006b;
export const SCARD_W_CHV_BLOCKED = 0x8010006c;
export const SCARD_W_EOF = 0x8010006d;
export const SCARD_W_CANCELLED_BY_USER = 0x8010006e;
export const SCARD_W_CARD_NOT_AUTHENTICATED = 0x8010006f;

/** Every error code pcsc-lite defines, by name (SCARD_E_UNEXPECTED and SCARD_E_UNSUPPORTED_FEATURE share a value). */
export const PCSC_ERROR_CODES = /* @__PURE__ */ group(
  'SCARD_',
  [
    SCARD_S_SUCCESS,
    SCARD_F_INTERNAL_ERROR,
    SCARD_E_CANCELLED,
    SCARD_E_INVALID_HANDLE,
    SCARD_E_INVALID_PARAMETER,
    SCARD_E_INVALID_TARGET,
    SCARD_E_NO_MEMORY,
    SCARD_F_WAITED_TOO_LONG,
    SCARD_E_INSUFFICIENT_BUFFER,
    SCARD_E_UNKNOWN_READER,
    SCARD_E_TIMEOUT,
    SCARD_E_SHARING_VIOLATION,
    SCARD_E_NO_SMARTCARD,
    SCARD_E_UNKNOWN_CARD,
    SCARD_E_CANT_DISPOSE,
    SCARD_E_PROTO_MISMATCH,
    SCARD_E_NOT_READY,
    SCARD_E_INVALID_VALUE,
    SCARD_E_SYSTEM_CANCELLED,
    SCARD_F_COMM_ERROR,
    SCARD_F_UNKNOWN_ERROR,
    SCARD_E_INVALID_ATR,
    SCARD_E_NOT_TRANSACTED,
    SCARD_E_READER_UNAVAILABLE,
    SCARD_P_SHUTDOWN,
    SCARD_E_PCI_TOO_SMALL,
    SCARD_E_READER_UNSUPPORTED,
    SCARD_E_DUPLICATE_READER,
    SCARD_E_CARD_UNSUPPORTED,
    SCARD_E_NO_SERVICE,
    SCARD_E_SERVICE_STOPPED,
    SCARD_E_UNEXPECTED,
    SCARD_E_UNSUPPORTED_FEATURE,
    SCARD_E_ICC_INSTALLATION,
    SCARD_E_ICC_CREATEORDER,
    SCARD_E_DIR_NOT_FOUND,
    SCARD_E_FILE_NOT_FOUND,
    SCARD_E_NO_DIR,
    SCARD_E_NO_FILE,
    SCARD_E_NO_ACCESS,
    SCARD_E_WRITE_TOO_MANY,
    SCARD_E_BAD_SEEK,
    SCARD_E_INVALID_CHV,
    SCARD_E_UNKNOWN_RES_MNG,
    SCARD_E_NO_SUCH_CERTIFICATE,
    SCARD_E_CERTIFICATE_UNAVAILABLE,
    SCARD_E_NO_READERS_AVAILABLE,
    SCARD_E_COMM_DATA_LOST,
    SCARD_E_NO_KEY_CONTAINER,
    SCARD_E_SERVER_TOO_BUSY,
    SCARD_W_UNSUPPORTED_CARD,
    SCARD_W_UNRESPONSIVE_CARD,
    SCARD_W_UNPOWERED_CARD,
    SCARD_W_RESET_CARD,
    SCARD_W_REMOVED_CARD,
    SCARD_W_SECURITY_VIOLATION,
    SCARD_W_WRONG_CHV,
    SCARD_W_CHV_BLOCKED,
    SCARD_W_EOF,
    SCARD_W_CANCELLED_BY_USER,
    SCARD_W_CARD_NOT_AUTHENTICATED,
  ],
  'S_SUCCESS F_INTERNAL_ERROR E_CANCELLED E_INVALID_HANDLE E_INVALID_PARAMETER E_INVALID_TARGET',
  'E_NO_MEMORY F_WAITED_TOO_LONG E_INSUFFICIENT_BUFFER E_UNKNOWN_READER E_TIMEOUT E_SHARING_VIOLATION',
  'E_NO_SMARTCARD E_UNKNOWN_CARD E_CANT_DISPOSE E_PROTO_MISMATCH E_NOT_READY E_INVALID_VALUE',
  'E_SYSTEM_CANCELLED F_COMM_ERROR F_UNKNOWN_ERROR E_INVALID_ATR E_NOT_TRANSACTED E_READER_UNAVAILABLE',
  'P_SHUTDOWN E_PCI_TOO_SMALL E_READER_UNSUPPORTED E_DUPLICATE_READER E_CARD_UNSUPPORTED E_NO_SERVICE',
  'E_SERVICE_STOPPED E_UNEXPECTED E_UNSUPPORTED_FEATURE E_ICC_INSTALLATION E_ICC_CREATEORDER',
  'E_DIR_NOT_FOUND E_FILE_NOT_FOUND E_NO_DIR E_NO_FILE E_NO_ACCESS E_WRITE_TOO_MANY E_BAD_SEEK',
  'E_INVALID_CHV E_UNKNOWN_RES_MNG E_NO_SUCH_CERTIFICATE E_CERTIFICATE_UNAVAILABLE',
  'E_NO_READERS_AVAILABLE E_COMM_DATA_LOST E_NO_KEY_CONTAINER E_SERVER_TOO_BUSY W_UNSUPPORTED_CARD',
  'W_UNRESPONSIVE_CARD W_UNPOWERED_CARD W_RESET_CARD W_REMOVED_CARD W_SECURITY_VIOLATION W_WRONG_CHV',
  'W_CHV_BLOCKED W_EOF W_CANCELLED_BY_USER W_CARD_NOT_AUTHENTICATED',
);

export type PcscErrorName = keyof typeof PCSC_ERROR_CODES;
export type PcscErrorCode = (typeof PCSC_ERROR_CODES)[PcscErrorName];

/**
 * `pcsc_stringify_error` text (pcsc-lite 1.9.9 `src/error.c`). Codes missing here are defined but print as
 * "Unknown error: 0x…" in 1.9.9 (SCARD_P_SHUTDOWN, E_ICC_*, E_DIR_NOT_FOUND … E_SERVER_TOO_BUSY, W_WRONG_CHV …).
 */
const ERROR_TEXT: ReadonlyMap<number, string> = new Map([
  [SCARD_S_SUCCESS, 'Command successful.'],
  [SCARD_F_INTERNAL_ERROR, 'Internal error.'],
  [SCARD_E_CANCELLED, 'Command cancelled.'],
  [SCARD_E_INVALID_HANDLE, 'Invalid handle.'],
  [SCARD_E_INVALID_PARAMETER, 'Invalid parameter given.'],
  [SCARD_E_INVALID_TARGET, 'Invalid target given.'],
  [SCARD_E_NO_MEMORY, 'Not enough memory.'],
  [SCARD_F_WAITED_TOO_LONG, 'Waited too long.'],
  [SCARD_E_INSUFFICIENT_BUFFER, 'Insufficient buffer.'],
  [SCARD_E_UNKNOWN_READER, 'Unknown reader specified.'],
  [SCARD_E_TIMEOUT, 'Command timeout.'],
  [SCARD_E_SHARING_VIOLATION, 'Sharing violation.'],
  [SCARD_E_NO_SMARTCARD, 'No smart card inserted.'],
  [SCARD_E_UNKNOWN_CARD, 'Unknown card.'],
  [SCARD_E_CANT_DISPOSE, 'Cannot dispose handle.'],
  [SCARD_E_PROTO_MISMATCH, 'Card protocol mismatch.'],
  [SCARD_E_NOT_READY, 'Subsystem not ready.'],
  [SCARD_E_INVALID_VALUE, 'Invalid value given.'],
  [SCARD_E_SYSTEM_CANCELLED, 'System cancelled.'],
  [SCARD_F_COMM_ERROR, 'RPC transport error.'],
  [SCARD_F_UNKNOWN_ERROR, 'Unknown error.'],
  [SCARD_E_INVALID_ATR, 'Invalid ATR.'],
  [SCARD_E_NOT_TRANSACTED, 'Transaction failed.'],
  [SCARD_E_READER_UNAVAILABLE, 'Reader is unavailable.'],
  [SCARD_E_PCI_TOO_SMALL, 'PCI struct too small.'],
  [SCARD_E_READER_UNSUPPORTED, 'Reader is unsupported.'],
  [SCARD_E_DUPLICATE_READER, 'Reader already exists.'],
  [SCARD_E_CARD_UNSUPPORTED, 'Card is unsupported.'],
  [SCARD_E_NO_SERVICE, 'Service not available.'],
  [SCARD_E_SERVICE_STOPPED, 'Service was stopped.'],
  [SCARD_E_NO_READERS_AVAILABLE, 'Cannot find a smart card reader.'],
  [SCARD_W_UNSUPPORTED_CARD, 'Card is not supported.'],
  [SCARD_W_UNRESPONSIVE_CARD, 'Card is unresponsive.'],
  [SCARD_W_UNPOWERED_CARD, 'Card is unpowered.'],
  [SCARD_W_RESET_CARD, 'Card was reset.'],
  [SCARD_W_REMOVED_CARD, 'Card was removed.'],
  [SCARD_W_SECURITY_VIOLATION, 'Access denied.'],
  [SCARD_E_UNSUPPORTED_FEATURE, 'Feature not supported.'],
]);

/** True for an integer a 32-bit register can hold, read either as signed or as unsigned. */
function isInt32Range(n: number): boolean {
  return Number.isInteger(n) && n >= -0x80000000 && n <= 0xffffffff;
}

/**
 * A 32-bit code as pcsc-lite's DWORD/unsigned view: -2146435071 → 0x80100001. Throws RangeError for values no 32-bit
 * register holds (non-integers, < -2^31, ≥ 2^32), since wrapping them would silently name a different error.
 */
export function toUnsigned32(code: number): number {
  if (!isInt32Range(code)) throw new RangeError(`not a 32-bit code: ${code}`);
  return code >>> 0;
}

/** A 32-bit code as a signed int32, as Google's connector reports it: 0x80100001 → -2146435071. RangeError as above. */
export function toSigned32(code: number): number {
  if (!isInt32Range(code)) throw new RangeError(`not a 32-bit code: ${code}`);
  return code | 0;
}

/**
 * pcsc-lite 1.9.9 `pcsc_stringify_error`: the fixed text of a known code, else `"Unknown error: 0x%08lX"` (8 uppercase
 * hex digits). Signed and unsigned forms of a code give the same text (the code is read as a 32-bit DWORD; on 64-bit
 * Linux, pcsc-lite would print a negative LONG with 16 digits, which no real caller relies on). A value that is not a
 * 32-bit integer never names an error: it prints as "Unknown error: <value>".
 */
export function pcscStringifyError(code: number): string {
  if (!isInt32Range(code)) return `Unknown error: ${String(code)}`;
  const unsigned = code >>> 0;
  return ERROR_TEXT.get(unsigned) ?? `Unknown error: 0x${unsigned.toString(16).toUpperCase().padStart(8, '0')}`;
}

// ---------------------------------------------------------------------------------------------------------------------
// Scopes, protocols, share modes, dispositions

export const SCARD_SCOPE_USER = 0x0000;
export const SCARD_SCOPE_TERMINAL = 0x0001;
export const SCARD_SCOPE_SYSTEM = 0x0002;
export const SCARD_SCOPE_GLOBAL = 0x0003;
export const SCARD_SCOPES = /* @__PURE__ */ group(
  'SCARD_SCOPE_',
  [SCARD_SCOPE_USER, SCARD_SCOPE_TERMINAL, SCARD_SCOPE_SYSTEM, SCARD_SCOPE_GLOBAL],
  'USER TERMINAL SYSTEM GLOBAL',
);
export type ScardScope = (typeof SCARD_SCOPES)[keyof typeof SCARD_SCOPES];

export const SCARD_PROTOCOL_UNDEFINED = 0x0000;
/** Backward-compatible alias of SCARD_PROTOCOL_UNDEFINED. */
export const SCARD_PROTOCOL_UNSET = SCARD_PROTOCOL_UNDEFINED;
export const SCARD_PROTOCOL_T0 = 0x0001;
export const SCARD_PROTOCOL_T1 = 0x0002;
export const SCARD_PROTOCOL_RAW = 0x0004;
export const SCARD_PROTOCOL_T15 = 0x0008;
/** T0 | T1: the IFD chooses. */
export const SCARD_PROTOCOL_ANY = 0x0003;
/** Legacy "any protocol" bit still accepted by pcscd 1.9.9 (`winscard.c`), never returned. */
export const SCARD_PROTOCOL_ANY_OLD = 0x1000;
export const SCARD_PROTOCOLS = /* @__PURE__ */ group(
  'SCARD_PROTOCOL_',
  [
    SCARD_PROTOCOL_UNDEFINED,
    SCARD_PROTOCOL_T0,
    SCARD_PROTOCOL_T1,
    SCARD_PROTOCOL_RAW,
    SCARD_PROTOCOL_T15,
    SCARD_PROTOCOL_ANY,
    SCARD_PROTOCOL_ANY_OLD,
  ],
  'UNDEFINED T0 T1 RAW T15 ANY ANY_OLD',
);
export type ScardProtocol = (typeof SCARD_PROTOCOLS)[keyof typeof SCARD_PROTOCOLS];

export const SCARD_SHARE_EXCLUSIVE = 0x0001;
export const SCARD_SHARE_SHARED = 0x0002;
export const SCARD_SHARE_DIRECT = 0x0003;
export const SCARD_SHARE_MODES = /* @__PURE__ */ group(
  'SCARD_SHARE_',
  [SCARD_SHARE_EXCLUSIVE, SCARD_SHARE_SHARED, SCARD_SHARE_DIRECT],
  'EXCLUSIVE SHARED DIRECT',
);
export type ScardShareMode = (typeof SCARD_SHARE_MODES)[keyof typeof SCARD_SHARE_MODES];

export const SCARD_LEAVE_CARD = 0x0000;
export const SCARD_RESET_CARD = 0x0001;
export const SCARD_UNPOWER_CARD = 0x0002;
export const SCARD_EJECT_CARD = 0x0003;
export const SCARD_DISPOSITIONS = /* @__PURE__ */ group(
  'SCARD_',
  [SCARD_LEAVE_CARD, SCARD_RESET_CARD, SCARD_UNPOWER_CARD, SCARD_EJECT_CARD],
  'LEAVE_CARD RESET_CARD UNPOWER_CARD EJECT_CARD',
);
export type ScardDisposition = (typeof SCARD_DISPOSITIONS)[keyof typeof SCARD_DISPOSITIONS];

// ---------------------------------------------------------------------------------------------------------------------
// Card states (SCardStatus) and reader states (SCardGetStatusChange)

export const SCARD_UNKNOWN = 0x0001;
export const SCARD_ABSENT = 0x0002;
export const SCARD_PRESENT = 0x0004;
export const SCARD_SWALLOWED = 0x0008;
export const SCARD_POWERED = 0x0010;
export const SCARD_NEGOTIABLE = 0x0020;
/** Defined but never set by pcscd 1.9.9. */
export const SCARD_SPECIFIC = 0x0040;
export const SCARD_CARD_STATES = /* @__PURE__ */ group(
  'SCARD_',
  [SCARD_UNKNOWN, SCARD_ABSENT, SCARD_PRESENT, SCARD_SWALLOWED, SCARD_POWERED, SCARD_NEGOTIABLE, SCARD_SPECIFIC],
  'UNKNOWN ABSENT PRESENT SWALLOWED POWERED NEGOTIABLE SPECIFIC',
);
export type ScardCardState = (typeof SCARD_CARD_STATES)[keyof typeof SCARD_CARD_STATES];

export const SCARD_STATE_UNAWARE = 0x0000;
export const SCARD_STATE_IGNORE = 0x0001;
export const SCARD_STATE_CHANGED = 0x0002;
export const SCARD_STATE_UNKNOWN = 0x0004;
export const SCARD_STATE_UNAVAILABLE = 0x0008;
export const SCARD_STATE_EMPTY = 0x0010;
export const SCARD_STATE_PRESENT = 0x0020;
/** Defined but never set by pcscd 1.9.9. */
export const SCARD_STATE_ATRMATCH = 0x0040;
export const SCARD_STATE_EXCLUSIVE = 0x0080;
export const SCARD_STATE_INUSE = 0x0100;
export const SCARD_STATE_MUTE = 0x0200;
/** Defined but never set by pcscd 1.9.9. */
export const SCARD_STATE_UNPOWERED = 0x0400;
export const SCARD_STATE_FLAGS = /* @__PURE__ */ group(
  'SCARD_STATE_',
  [
    SCARD_STATE_UNAWARE,
    SCARD_STATE_IGNORE,
    SCARD_STATE_CHANGED,
    SCARD_STATE_UNKNOWN,
    SCARD_STATE_UNAVAILABLE,
    SCARD_STATE_EMPTY,
    SCARD_STATE_PRESENT,
    SCARD_STATE_ATRMATCH,
    SCARD_STATE_EXCLUSIVE,
    SCARD_STATE_INUSE,
    SCARD_STATE_MUTE,
    SCARD_STATE_UNPOWERED,
  ],
  'UNAWARE IGNORE CHANGED UNKNOWN UNAVAILABLE EMPTY PRESENT ATRMATCH EXCLUSIVE INUSE MUTE UNPOWERED',
);
export type ScardStateFlag = (typeof SCARD_STATE_FLAGS)[keyof typeof SCARD_STATE_FLAGS];

// ---------------------------------------------------------------------------------------------------------------------
// Sizes, limits, names, timing

export { MAX_ATR_SIZE, MAX_BUFFER_SIZE_EXTENDED } from '../ifd/limits.js';
import { MAX_ATR_SIZE } from '../ifd/limits.js';
export const SCARD_ATR_LENGTH = MAX_ATR_SIZE;
/** Reader name buffer, NUL included (pcscd cuts names to 128 − sizeof(" 00 00") = 121 characters before " XX YY"). */
export const MAX_READERNAME = 128;
/** Short APDU buffer. */
export const MAX_BUFFER_SIZE = 264;
/** Reader slots pcscd manages (each slot of a multi-slot reader counts). */
export const PCSCLITE_MAX_READERS_CONTEXTS = 16;
/** `(DWORD)(-1)`: ask the library to allocate the output buffer. */
export const SCARD_AUTOALLOCATE = 0xffffffff;
/** Wait forever (SCardGetStatusChange timeout). */
export const INFINITE = 0xffffffff;
/** The pcsc-lite version whose behaviour this port mirrors. */
export const PCSCLITE_VERSION_NUMBER = '1.9.9';

/** Special reader name that waits for readers to come and go (compared case-insensitively by the client library). */
export const PNP_NOTIFICATION_READER_NAME = '\\\\?PnP?\\Notification';
/** The only reader group pcsc-lite reports (`SCardListReaderGroups`). */
export const SCARD_DEFAULT_READERS = 'SCard$DefaultReaders';

/** `pcscd.h.in`: PCSCLITE_LOCK_POLL_RATE (100 000 µs) and PCSCLITE_STATUS_POLL_RATE (400 000 µs), in ms. */
export const PCSCLITE_LOCK_POLL_RATE_MS = 100;
export const PCSCLITE_STATUS_POLL_RATE_MS = 400;
/** `pcscd.h.in`: PCSCLITE_POWER_OFF_GRACE_PERIOD, ms before an unused card is powered off. */
export const PCSCLITE_POWER_OFF_GRACE_PERIOD_MS = 5000;
/** `pcscd.h.in`: contexts in all, handles per context, handles per reader. */
export const PCSC_MAX_CONTEXT_THREADS = 200;
export const PCSC_MAX_CONTEXT_CARD_HANDLES = 200;
export const PCSC_MAX_READER_HANDLES = 200;

// ---------------------------------------------------------------------------------------------------------------------
// Attributes (`reader.h`)

/** `SCARD_ATTR_VALUE(Class, Tag) = Class << 16 | Tag`, as an unsigned 32-bit value. */
export function SCARD_ATTR_VALUE(cls: number, tag: number): number {
  return ((cls << 16) | tag) >>> 0;
}

export const SCARD_CLASS_VENDOR_INFO = 1;
export const SCARD_CLASS_COMMUNICATIONS = 2;
export const SCARD_CLASS_PROTOCOL = 3;
export const SCARD_CLASS_POWER_MGMT = 4;
export const SCARD_CLASS_SECURITY = 5;
export const SCARD_CLASS_MECHANICAL = 6;
export const SCARD_CLASS_VENDOR_DEFINED = 7;
export const SCARD_CLASS_IFD_PROTOCOL = 8;
export const SCARD_CLASS_ICC_STATE = 9;
export const SCARD_CLASS_SYSTEM = 0x7fff;

export const SCARD_ATTR_VENDOR_NAME = 0x00010100;
export const SCARD_ATTR_VENDOR_IFD_TYPE = 0x00010101;
export const SCARD_ATTR_VENDOR_IFD_VERSION = 0x00010102;
export const SCARD_ATTR_VENDOR_IFD_SERIAL_NO = 0x00010103;
export const SCARD_ATTR_CHANNEL_ID = 0x00020110;
export const SCARD_ATTR_ASYNC_PROTOCOL_TYPES = 0x00030120;
export const SCARD_ATTR_DEFAULT_CLK = 0x00030121;
export const SCARD_ATTR_MAX_CLK = 0x00030122;
export const SCARD_ATTR_DEFAULT_DATA_RATE = 0x00030123;
export const SCARD_ATTR_MAX_DATA_RATE = 0x00030124;
export const SCARD_ATTR_MAX_IFSD = 0x00030125;
export const SCARD_ATTR_SYNC_PROTOCOL_TYPES = 0x00030126;
export const SCARD_ATTR_POWER_MGMT_SUPPORT = 0x00040131;
export const SCARD_ATTR_USER_TO_CARD_AUTH_DEVICE = 0x00050140;
export const SCARD_ATTR_USER_AUTH_INPUT_DEVICE = 0x00050142;
export const SCARD_ATTR_CHARACTERISTICS = 0x00060150;
export const SCARD_ATTR_CURRENT_PROTOCOL_TYPE = 0x00080201;
export const SCARD_ATTR_CURRENT_CLK = 0x00080202;
export const SCARD_ATTR_CURRENT_F = 0x00080203;
export const SCARD_ATTR_CURRENT_D = 0x00080204;
export const SCARD_ATTR_CURRENT_N = 0x00080205;
export const SCARD_ATTR_CURRENT_W = 0x00080206;
export const SCARD_ATTR_CURRENT_IFSC = 0x00080207;
export const SCARD_ATTR_CURRENT_IFSD = 0x00080208;
export const SCARD_ATTR_CURRENT_BWT = 0x00080209;
export const SCARD_ATTR_CURRENT_CWT = 0x0008020a;
export const SCARD_ATTR_CURRENT_EBC_ENCODING = 0x0008020b;
export const SCARD_ATTR_EXTENDED_BWT = 0x0008020c;
export const SCARD_ATTR_ICC_PRESENCE = 0x00090300;
export const SCARD_ATTR_ICC_INTERFACE_STATUS = 0x00090301;
export const SCARD_ATTR_CURRENT_IO_STATE = 0x00090302;
export const SCARD_ATTR_ATR_STRING = 0x00090303;
export const SCARD_ATTR_ICC_TYPE_PER_ATR = 0x00090304;
export const SCARD_ATTR_ESC_RESET = 0x0007a000;
export const SCARD_ATTR_ESC_CANCEL = 0x0007a003;
export const SCARD_ATTR_ESC_AUTHREQUEST = 0x0007a005;
export const SCARD_ATTR_MAXINPUT = 0x0007a007;
export const SCARD_ATTR_DEVICE_UNIT = 0x7fff0001;
export const SCARD_ATTR_DEVICE_IN_USE = 0x7fff0002;
export const SCARD_ATTR_DEVICE_FRIENDLY_NAME_A = 0x7fff0003;
export const SCARD_ATTR_DEVICE_SYSTEM_NAME_A = 0x7fff0004;
export const SCARD_ATTR_DEVICE_FRIENDLY_NAME_W = 0x7fff0005;
export const SCARD_ATTR_DEVICE_SYSTEM_NAME_W = 0x7fff0006;
/** Spelled as in `reader.h`. */
export const SCARD_ATTR_SUPRESS_T1_IFS_REQUEST = 0x7fff0007;
/** Without UNICODE, `reader.h` maps these to the _A variants. */
export const SCARD_ATTR_DEVICE_FRIENDLY_NAME = SCARD_ATTR_DEVICE_FRIENDLY_NAME_A;
export const SCARD_ATTR_DEVICE_SYSTEM_NAME = SCARD_ATTR_DEVICE_SYSTEM_NAME_A;

export const SCARD_ATTRIBUTES = /* @__PURE__ */ group(
  'SCARD_ATTR_',
  [
    SCARD_ATTR_VENDOR_NAME,
    SCARD_ATTR_VENDOR_IFD_TYPE,
    SCARD_ATTR_VENDOR_IFD_VERSION,
    SCARD_ATTR_VENDOR_IFD_SERIAL_NO,
    SCARD_ATTR_CHANNEL_ID,
    SCARD_ATTR_ASYNC_PROTOCOL_TYPES,
    SCARD_ATTR_DEFAULT_CLK,
    SCARD_ATTR_MAX_CLK,
    SCARD_ATTR_DEFAULT_DATA_RATE,
    SCARD_ATTR_MAX_DATA_RATE,
    SCARD_ATTR_MAX_IFSD,
    SCARD_ATTR_SYNC_PROTOCOL_TYPES,
    SCARD_ATTR_POWER_MGMT_SUPPORT,
    SCARD_ATTR_USER_TO_CARD_AUTH_DEVICE,
    SCARD_ATTR_USER_AUTH_INPUT_DEVICE,
    SCARD_ATTR_CHARACTERISTICS,
    SCARD_ATTR_CURRENT_PROTOCOL_TYPE,
    SCARD_ATTR_CURRENT_CLK,
    SCARD_ATTR_CURRENT_F,
    SCARD_ATTR_CURRENT_D,
    SCARD_ATTR_CURRENT_N,
    SCARD_ATTR_CURRENT_W,
    SCARD_ATTR_CURRENT_IFSC,
    SCARD_ATTR_CURRENT_IFSD,
    SCARD_ATTR_CURRENT_BWT,
    SCARD_ATTR_CURRENT_CWT,
    SCARD_ATTR_CURRENT_EBC_ENCODING,
    SCARD_ATTR_EXTENDED_BWT,
    SCARD_ATTR_ICC_PRESENCE,
    SCARD_ATTR_ICC_INTERFACE_STATUS,
    SCARD_ATTR_CURRENT_IO_STATE,
    SCARD_ATTR_ATR_STRING,
    SCARD_ATTR_ICC_TYPE_PER_ATR,
    SCARD_ATTR_ESC_RESET,
    SCARD_ATTR_ESC_CANCEL,
    SCARD_ATTR_ESC_AUTHREQUEST,
    SCARD_ATTR_MAXINPUT,
    SCARD_ATTR_DEVICE_UNIT,
    SCARD_ATTR_DEVICE_IN_USE,
    SCARD_ATTR_DEVICE_FRIENDLY_NAME_A,
    SCARD_ATTR_DEVICE_SYSTEM_NAME_A,
    SCARD_ATTR_DEVICE_FRIENDLY_NAME_W,
    SCARD_ATTR_DEVICE_SYSTEM_NAME_W,
    SCARD_ATTR_SUPRESS_T1_IFS_REQUEST,
  ],
  'VENDOR_NAME VENDOR_IFD_TYPE VENDOR_IFD_VERSION VENDOR_IFD_SERIAL_NO CHANNEL_ID ASYNC_PROTOCOL_TYPES',
  'DEFAULT_CLK MAX_CLK DEFAULT_DATA_RATE MAX_DATA_RATE MAX_IFSD SYNC_PROTOCOL_TYPES POWER_MGMT_SUPPORT',
  'USER_TO_CARD_AUTH_DEVICE USER_AUTH_INPUT_DEVICE CHARACTERISTICS CURRENT_PROTOCOL_TYPE CURRENT_CLK',
  'CURRENT_F CURRENT_D CURRENT_N CURRENT_W CURRENT_IFSC CURRENT_IFSD CURRENT_BWT CURRENT_CWT',
  'CURRENT_EBC_ENCODING EXTENDED_BWT ICC_PRESENCE ICC_INTERFACE_STATUS CURRENT_IO_STATE ATR_STRING',
  'ICC_TYPE_PER_ATR ESC_RESET ESC_CANCEL ESC_AUTHREQUEST MAXINPUT DEVICE_UNIT DEVICE_IN_USE',
  'DEVICE_FRIENDLY_NAME_A DEVICE_SYSTEM_NAME_A DEVICE_FRIENDLY_NAME_W DEVICE_SYSTEM_NAME_W',
  'SUPRESS_T1_IFS_REQUEST',
);
export type ScardAttribute = (typeof SCARD_ATTRIBUTES)[keyof typeof SCARD_ATTRIBUTES];

// ---------------------------------------------------------------------------------------------------------------------
// Control codes and PC/SC v2 part 10 (`reader.h`)

/** `SCARD_CTL_CODE(code) = 0x42000000 + code` (pcsc-lite's portable control-code space). */
export function SCARD_CTL_CODE(code: number): number {
  return (0x42000000 + code) >>> 0;
}

/** SCARD_CTL_CODE(3400) = 0x42000D48: asks the driver for its part 10 feature list. */
export const CM_IOCTL_GET_FEATURE_REQUEST = 0x42000d48;

export const FEATURE_VERIFY_PIN_START = 0x01;
export const FEATURE_VERIFY_PIN_FINISH = 0x02;
export const FEATURE_MODIFY_PIN_START = 0x03;
export const FEATURE_MODIFY_PIN_FINISH = 0x04;
export const FEATURE_GET_KEY_PRESSED = 0x05;
export const FEATURE_VERIFY_PIN_DIRECT = 0x06;
export const FEATURE_MODIFY_PIN_DIRECT = 0x07;
export const FEATURE_MCT_READER_DIRECT = 0x08;
export const FEATURE_MCT_UNIVERSAL = 0x09;
export const FEATURE_IFD_PIN_PROPERTIES = 0x0a;
export const FEATURE_ABORT = 0x0b;
export const FEATURE_SET_SPE_MESSAGE = 0x0c;
export const FEATURE_VERIFY_PIN_DIRECT_APP_ID = 0x0d;
export const FEATURE_MODIFY_PIN_DIRECT_APP_ID = 0x0e;
export const FEATURE_WRITE_DISPLAY = 0x0f;
export const FEATURE_GET_KEY = 0x10;
export const FEATURE_IFD_DISPLAY_PROPERTIES = 0x11;
export const FEATURE_GET_TLV_PROPERTIES = 0x12;
export const FEATURE_CCID_ESC_COMMAND = 0x13;
export const FEATURE_EXECUTE_PACE = 0x20;

export const FEATURE_TAGS = /* @__PURE__ */ group(
  'FEATURE_',
  [
    FEATURE_VERIFY_PIN_START,
    FEATURE_VERIFY_PIN_FINISH,
    FEATURE_MODIFY_PIN_START,
    FEATURE_MODIFY_PIN_FINISH,
    FEATURE_GET_KEY_PRESSED,
    FEATURE_VERIFY_PIN_DIRECT,
    FEATURE_MODIFY_PIN_DIRECT,
    FEATURE_MCT_READER_DIRECT,
    FEATURE_MCT_UNIVERSAL,
    FEATURE_IFD_PIN_PROPERTIES,
    FEATURE_ABORT,
    FEATURE_SET_SPE_MESSAGE,
    FEATURE_VERIFY_PIN_DIRECT_APP_ID,
    FEATURE_MODIFY_PIN_DIRECT_APP_ID,
    FEATURE_WRITE_DISPLAY,
    FEATURE_GET_KEY,
    FEATURE_IFD_DISPLAY_PROPERTIES,
    FEATURE_GET_TLV_PROPERTIES,
    FEATURE_CCID_ESC_COMMAND,
    FEATURE_EXECUTE_PACE,
  ],
  'VERIFY_PIN_START VERIFY_PIN_FINISH MODIFY_PIN_START MODIFY_PIN_FINISH GET_KEY_PRESSED',
  'VERIFY_PIN_DIRECT MODIFY_PIN_DIRECT MCT_READER_DIRECT MCT_UNIVERSAL IFD_PIN_PROPERTIES ABORT',
  'SET_SPE_MESSAGE VERIFY_PIN_DIRECT_APP_ID MODIFY_PIN_DIRECT_APP_ID WRITE_DISPLAY GET_KEY',
  'IFD_DISPLAY_PROPERTIES GET_TLV_PROPERTIES CCID_ESC_COMMAND EXECUTE_PACE',
);
export type FeatureTag = (typeof FEATURE_TAGS)[keyof typeof FEATURE_TAGS];

/** Properties returned by FEATURE_GET_TLV_PROPERTIES (names as `reader.h`). */
export const PCSCv2_PART10_PROPERTY_wLcdLayout = 1;
export const PCSCv2_PART10_PROPERTY_bEntryValidationCondition = 2;
export const PCSCv2_PART10_PROPERTY_bTimeOut2 = 3;
export const PCSCv2_PART10_PROPERTY_wLcdMaxCharacters = 4;
export const PCSCv2_PART10_PROPERTY_wLcdMaxLines = 5;
export const PCSCv2_PART10_PROPERTY_bMinPINSize = 6;
export const PCSCv2_PART10_PROPERTY_bMaxPINSize = 7;
export const PCSCv2_PART10_PROPERTY_sFirmwareID = 8;
export const PCSCv2_PART10_PROPERTY_bPPDUSupport = 9;
export const PCSCv2_PART10_PROPERTY_dwMaxAPDUDataSize = 10;
export const PCSCv2_PART10_PROPERTY_wIdVendor = 11;
export const PCSCv2_PART10_PROPERTY_wIdProduct = 12;

export const PCSCv2_PART10_PROPERTIES = /* @__PURE__ */ group(
  'PCSCv2_PART10_PROPERTY_',
  [
    PCSCv2_PART10_PROPERTY_wLcdLayout,
    PCSCv2_PART10_PROPERTY_bEntryValidationCondition,
    PCSCv2_PART10_PROPERTY_bTimeOut2,
    PCSCv2_PART10_PROPERTY_wLcdMaxCharacters,
    PCSCv2_PART10_PROPERTY_wLcdMaxLines,
    PCSCv2_PART10_PROPERTY_bMinPINSize,
    PCSCv2_PART10_PROPERTY_bMaxPINSize,
    PCSCv2_PART10_PROPERTY_sFirmwareID,
    PCSCv2_PART10_PROPERTY_bPPDUSupport,
    PCSCv2_PART10_PROPERTY_dwMaxAPDUDataSize,
    PCSCv2_PART10_PROPERTY_wIdVendor,
    PCSCv2_PART10_PROPERTY_wIdProduct,
  ],
  'wLcdLayout bEntryValidationCondition bTimeOut2 wLcdMaxCharacters wLcdMaxLines bMinPINSize',
  'bMaxPINSize sFirmwareID bPPDUSupport dwMaxAPDUDataSize wIdVendor wIdProduct',
);
export type Part10Property = (typeof PCSCv2_PART10_PROPERTIES)[keyof typeof PCSCv2_PART10_PROPERTIES];
