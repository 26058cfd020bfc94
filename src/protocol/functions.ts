/**
 * The SCard* functions of protocol v1, written out once. For each function: its arguments in order and its result, each
 * value with its codec (the in-process API's form ↔ the wire's JSON form, checked both ways) and what it is — a handle
 * (of a context or a card), card bytes (a command APDU, its response, other card or reader output), bytes that may hold
 * a PIN. Everything else follows from this table: the call encoder and decoder (codec.ts), the wire types
 * (`WireArgs`), the router's dispatch and its call log, the client library's methods, and the test that holds
 * docs/protocol.md to it. Adding a function means one entry here (and its implementation in the daemon).
 *
 * The table is checked against the in-process API (`PcscApi`, src/pcsc/api.ts) when compiling: a function missing on
 * either side, or an argument or result whose type differs, names the function in a type error below the table.
 */
import type { PcscApi, ReaderStateIn, ReaderStateOut, ScardIoRequest } from '../pcsc/api.js';
import { array, at, bytesIn, bytesToHex, checkObject, fail, hexIn, str, u32 } from './check.js';
import {
  MAX_WIRE_ATR_BYTES,
  MAX_WIRE_BYTES,
  MAX_WIRE_READERS,
  MAX_WIRE_READER_STATES,
  type Hex,
  type WireIoRequest,
  type WireReaderStateIn,
  type WireReaderStateOut,
} from './messages.js';

// ---------------------------------------------------------------------------------------------------------------------
// Values

/**
 * The wire type of a value, as docs/protocol.md names it: `u32` (an unsigned 32-bit integer), `handle` (a u32 naming a
 * context or a card), `string`, `string|null`, `u32|null` (an option of the API, `null` when absent), `hex` (bytes),
 * `object` (exactly `fields`), `list` (of `item`), `null` (a result without outputs).
 */
export type ValueKind = 'u32' | 'handle' | 'string' | 'string|null' | 'u32|null' | 'hex' | 'object' | 'list' | 'null';

/**
 * What bytes a value carries, which decides how the call log may show them (src/connector/log.ts):
 * - `apdu`: a command APDU: its length; with APDU logging on, its bytes, a PIN command's data field never;
 * - `response`: the response to the call's `apdu`: its length; with APDU logging on its bytes (after a PIN command only
 *   the status word);
 * - `card`: other card or reader output: its length; with APDU logging on, its bytes;
 * - `secret`: input that may hold a PIN or a key (SCardControl's PIN structures, reader escapes, attributes): only ever
 *   its length.
 */
export type Carries = 'apdu' | 'response' | 'card' | 'secret';

/** One value of a call or result: its codec and what it is. `Api` and `Wire` are its two forms' types. */
export interface Value<Api = unknown, Wire = unknown> {
  readonly kind: ValueKind;
  /** Handles: what the number names. Handles are checked u32 numbers from the wire on; the daemon owns their meaning. */
  readonly handle?: 'context' | 'card';
  /** Bytes: what they carry (for log redaction). */
  readonly carries?: Carries;
  /** Shown in the call log, under this label (a string value is shown quoted, a number in hex, bytes by `carries`). */
  readonly log?: string;
  /** Reader states whose pvUserData stays with the caller and is put back on the outputs by index. */
  readonly userData?: true;
  /** `object`: its fields in wire order. */
  readonly fields?: Readonly<Record<string, Value>>;
  /** `list`: its entries. */
  readonly item?: Value;
  /** The API form (any caller value, checked) to the wire form. */
  encode(api: unknown, path: string): Wire;
  /** The wire form (any received value, checked) to the API form. */
  decode(wire: unknown, path: string): Api;
}

/** An argument: a value with its pcsc-lite parameter name. */
export interface Arg<Api = unknown, Wire = unknown> extends Value<Api, Wire> {
  readonly name: string;
}

const U32: Value<number, number> = { kind: 'u32', encode: u32, decode: u32 };

function handle(of: 'context' | 'card'): Value<number, number> {
  return { kind: 'handle', handle: of, encode: u32, decode: u32 };
}
const CONTEXT = handle('context');
const CARD = handle('card');

const STRING: Value<string, string> = { kind: 'string', encode: (v, p) => str(v, p), decode: (v, p) => str(v, p) };

const STRING_OR_NULL: Value<string | null | undefined, string | null> = {
  kind: 'string|null',
  encode: (v, p) => (v === undefined || v === null ? null : str(v, p)),
  decode: (v, p) => (v === null ? null : str(v, p)),
};

function bytes(carries: Carries, log?: string, max = MAX_WIRE_BYTES): Value<Uint8Array, Hex> {
  const value: Value<Uint8Array, Hex> = {
    kind: 'hex',
    carries,
    encode: (v, p) => bytesToHex(bytesIn(v, p, max)),
    decode: (v, p) => hexIn(v, p, max),
  };
  return log === undefined ? value : { ...value, log };
}
const ATR = bytes('card', undefined, MAX_WIRE_ATR_BYTES);

/** A result with no outputs: `undefined` in the API, `null` on the wire. */
const NONE: Value<void, null> = {
  kind: 'null',
  encode: () => null,
  decode(v, p) {
    if (v !== null) fail(p, 'null (this function has no outputs)', v);
  },
};

type ApiOf<V> = V extends Value<infer A, unknown> ? A : never;
type WireOf<V> = V extends Value<unknown, infer W> ? W : never;

/** An object: the same keys on both sides, each with its own codec; exactly these keys on the wire. */
function object<const T extends Record<string, Value>>(
  fields: T,
  what?: string,
): Value<{ [K in keyof T]: ApiOf<T[K]> }, { [K in keyof T]: WireOf<T[K]> }> {
  const keys = Object.keys(fields);
  return {
    kind: 'object',
    fields,
    encode(v, p) {
      if (typeof v !== 'object' || v === null) fail(p, what ?? `an object {${keys.join(', ')}}`, v);
      const out: Record<string, unknown> = {};
      for (const k of keys) out[k] = fields[k]!.encode((v as Record<string, unknown>)[k], at(p, k));
      return out as { [K in keyof T]: WireOf<T[K]> };
    },
    decode(v, p) {
      const o = checkObject(v, p, keys);
      const out: Record<string, unknown> = {};
      for (const k of keys) out[k] = fields[k]!.decode(o[k], at(p, k));
      return out as { [K in keyof T]: ApiOf<T[K]> };
    },
  };
}

const PCI: Value<ScardIoRequest, WireIoRequest> = object({ dwProtocol: U32 }, 'an SCARD_IO_REQUEST {dwProtocol}');

/** A list of at most `max` entries. */
function list<A, W>(item: Value<A, W>, max: number, extra: Partial<Value> = {}): Value<A[], W[]> {
  return {
    ...extra,
    kind: 'list',
    item,
    encode: (v, p) => array(v, p, max).map((s, i) => item.encode(s, `${p}[${i}]`)),
    decode: (v, p) => array(v, p, max).map((s, i) => item.decode(s, `${p}[${i}]`)),
  };
}

const STRINGS = list(STRING, MAX_WIRE_READERS);

/** SCARD_READERSTATE in: pvUserData never leaves the client, which puts it back on the outputs by index. */
const READER_STATES_IN: Value<ReaderStateIn[], WireReaderStateIn[]> = list(
  object({ szReader: STRING, dwCurrentState: U32 }, 'a reader state {szReader, dwCurrentState}'),
  MAX_WIRE_READER_STATES,
  { userData: true },
);

/** An ATR in a reader state: absent (no card) is empty. */
const RGB_ATR: Value<Uint8Array, Hex> = { ...ATR, encode: (v, p) => ATR.encode(v ?? new Uint8Array(0), p) };

/** SCARD_READERSTATE out, as SCardGetStatusChange returns them (also in its E_TIMEOUT / E_CANCELLED errors). */
export const READER_STATES_OUT: Value<ReaderStateOut[], WireReaderStateOut[]> = list(
  object({ szReader: STRING, dwCurrentState: U32, dwEventState: U32, rgbAtr: RGB_ATR }, 'a reader state'),
  MAX_WIRE_READER_STATES,
  { userData: true },
);

function arg<A, W>(name: string, value: Value<A, W>, log?: string): Arg<A, W> {
  return log === undefined ? { ...value, name } : { ...value, name, log };
}

/** An API options object `{[name]: u32}` (a caller's buffer size), `u32 | null` on the wire. */
function option<const K extends string>(name: K): Arg<{ [P in K]?: number } | undefined, number | null> {
  return {
    kind: 'u32|null',
    name,
    encode(v, p) {
      if (v === undefined || v === null) return null;
      if (typeof v !== 'object') fail(p, `an options object {${name}}`, v);
      const x = (v as Record<string, unknown>)[name];
      return x === undefined || x === null ? null : u32(x, at(p, name));
    },
    decode(v, p) {
      return v === null ? undefined : ({ [name]: u32(v, p) } as { [P in K]?: number });
    },
  };
}

export interface FunctionSpec<A extends readonly Arg[] = readonly Arg[], R extends Value = Value> {
  readonly args: A;
  readonly result: R;
}

function fn<const A extends readonly Arg[], R extends Value>(args: A, result: R): FunctionSpec<A, R> {
  return { args, result };
}

// ---------------------------------------------------------------------------------------------------------------------
// The table

/**
 * Every function a client may call, with its wire arguments in order. Optional C-side inputs are always present on the
 * wire, as `null` when absent, so every call has a fixed arity. Names are pcsc-lite's (winscard.h).
 */
export const TABLE = {
  SCardEstablishContext: fn([arg('dwScope', U32)], object({ hContext: CONTEXT })),
  SCardReleaseContext: fn([arg('hContext', CONTEXT)], NONE),
  SCardIsValidContext: fn([arg('hContext', CONTEXT)], NONE),
  SCardListReaders: fn(
    [arg('hContext', CONTEXT), arg('groups', STRING_OR_NULL), option('bufferLength')],
    object({ readers: STRINGS }),
  ),
  SCardListReaderGroups: fn([arg('hContext', CONTEXT), option('bufferLength')], object({ groups: STRINGS })),
  SCardConnect: fn(
    [arg('hContext', CONTEXT), arg('szReader', STRING, ''), arg('dwShareMode', U32), arg('dwPreferredProtocols', U32)],
    object({ hCard: CARD, dwActiveProtocol: U32 }),
  ),
  SCardReconnect: fn(
    [arg('hCard', CARD), arg('dwShareMode', U32), arg('dwPreferredProtocols', U32), arg('dwInitialization', U32)],
    object({ dwActiveProtocol: U32 }),
  ),
  SCardDisconnect: fn([arg('hCard', CARD), arg('dwDisposition', U32)], NONE),
  SCardBeginTransaction: fn([arg('hCard', CARD)], NONE),
  SCardEndTransaction: fn([arg('hCard', CARD), arg('dwDisposition', U32)], NONE),
  SCardStatus: fn([arg('hCard', CARD)], object({ szReaderName: STRING, dwState: U32, dwProtocol: U32, atr: ATR })),
  SCardGetStatusChange: fn(
    [arg('hContext', CONTEXT), arg('dwTimeout', U32), arg('readerStates', READER_STATES_IN)],
    object({ readerStates: READER_STATES_OUT }),
  ),
  SCardControl: fn(
    [
      arg('hCard', CARD),
      arg('dwControlCode', U32, 'code'),
      arg('input', bytes('secret', 'input')),
      option('recvLength'),
    ],
    object({ output: bytes('card', 'output') }),
  ),
  SCardGetAttrib: fn(
    [arg('hCard', CARD), arg('dwAttrId', U32, 'attribute'), option('bufferLength')],
    object({ attr: bytes('card', 'value') }),
  ),
  SCardSetAttrib: fn(
    [arg('hCard', CARD), arg('dwAttrId', U32, 'attribute'), arg('attr', bytes('secret', 'value'))],
    NONE,
  ),
  SCardTransmit: fn(
    [arg('hCard', CARD), arg('ioSendPci', PCI), arg('sendBuffer', bytes('apdu', 'APDU')), option('recvLength')],
    object({ recvPci: PCI, recvBuffer: bytes('response', 'response') }),
  ),
  SCardCancel: fn([arg('hContext', CONTEXT)], NONE),
};

export type FunctionName = keyof typeof TABLE;
export const FUNCTION_NAMES = Object.keys(TABLE) as FunctionName[];

export function isFunctionName(s: unknown): s is FunctionName {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(TABLE, s);
}

/** The table's entries, untyped per function (for code that handles every function alike). */
export function specOf(fn: FunctionName): FunctionSpec {
  return TABLE[fn];
}

/** How an argument is named in error messages: `sendBuffer(hex)`, `groups|null`. */
export function argLabel(a: Arg): string {
  return a.kind === 'hex' ? `${a.name}(hex)` : a.kind.endsWith('|null') ? `${a.name}|null` : a.name;
}

/** Each function's argument labels in order (`SCardTransmit: ['hCard', 'ioSendPci', 'sendBuffer(hex)', …]`). */
export const FUNCTIONS = Object.fromEntries(
  FUNCTION_NAMES.map((f) => [f, specOf(f).args.map(argLabel)]),
) as unknown as Readonly<Record<FunctionName, readonly string[]>>;

/** Runs a checked call on an in-process API object (the router's dispatch). */
export function invoke(api: PcscApi, fn: FunctionName, args: readonly unknown[]): Promise<unknown> {
  // The method is applied to `api` itself on the next line.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const method = api[fn] as (...a: unknown[]) => Promise<unknown>;
  return method.apply(api, [...args]);
}

// ---------------------------------------------------------------------------------------------------------------------
// Types derived from the table

type ArgsOf<F extends FunctionName> = (typeof TABLE)[F]['args'];
type ApiTuple<T extends readonly unknown[]> = { -readonly [I in keyof T]: ApiOf<T[I]> };
type WireTuple<T extends readonly unknown[]> = { -readonly [I in keyof T]: WireOf<T[I]> };

/** The `args` array of each function, as sent. */
export type WireArgs = { [F in FunctionName]: WireTuple<ArgsOf<F>> };
/** The `value` of a successful result, as sent (`null` for functions with no outputs). */
export type WireResult<F extends FunctionName> = WireOf<(typeof TABLE)[F]['result']>;
/** The arguments of each function in the in-process API's form. */
export type ApiArgs = { [F in FunctionName]: ApiTuple<ArgsOf<F>> };

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Agrees<F extends FunctionName> =
  Same<(...args: ApiArgs[F]) => Promise<ApiOf<(typeof TABLE)[F]['result']>>, PcscApi[F]> extends true
    ? Same<ApiArgs[F]['length'], Required<Parameters<PcscApi[F]>>['length']>
    : false;
type Disagreeing =
  | Exclude<keyof PcscApi, FunctionName>
  | Exclude<FunctionName, keyof PcscApi>
  | { [F in FunctionName & keyof PcscApi]: Agrees<F> extends true ? never : F }[FunctionName & keyof PcscApi];
/** Compile-time proof that the table and PcscApi agree; otherwise the error names the functions that do not. */
export const TABLE_MATCHES_API: [Disagreeing] extends [never] ? true : Disagreeing = true;
