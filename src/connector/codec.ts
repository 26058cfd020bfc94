/**
 * Encoding and validation of protocol v1 messages (protocol.ts), for both ends.
 *
 * Decoders take whatever arrived (any JSON value, or anything at all over an in-process link) and either return a
 * fully checked message or throw a `ProtocolError` naming the first problem precisely ("args[2]: expected hex, got …").
 * They never throw anything else. Encoders check the caller's values the same way (a client passing a string where a
 * handle goes gets a ProtocolError before anything is sent).
 *
 * Arguments and results are converted between the in-process API (src/pcsc/api.ts: Uint8Array, option objects,
 * pvUserData) and the wire (hex strings, `null` for absent options, no pvUserData), position by position.
 */
import type { ReaderStateIn, ReaderStateOut, ScardIoRequest } from '../pcsc/api.js';
import { PcscError } from '../pcsc/errors.js';
import {
  PCSC_ERROR_CODES,
  SCARD_E_UNSUPPORTED_FEATURE,
  SCARD_F_INTERNAL_ERROR,
  pcscStringifyError,
} from '../pcsc/constants.js';
import {
  CLIENT_MESSAGE_KINDS,
  CONNECTOR_MESSAGE_KINDS,
  FUNCTIONS,
  MAX_REQUEST_ID,
  MAX_WIRE_ATR_BYTES,
  MAX_WIRE_BYTES,
  MAX_WIRE_MESSAGE,
  MAX_WIRE_READERS,
  MAX_WIRE_READER_STATES,
  MAX_WIRE_STRING,
  PROTOCOL_VERSION,
  isFunctionName,
  type CallMessage,
  type ErrorMessage,
  type EventMessage,
  type FunctionName,
  type Hex,
  type PingMessage,
  type PongMessage,
  type ResultMessage,
  type SubscribeMessage,
  type WireError,
  type WireReaderInfo,
  type WireReaderStateOut,
} from './protocol.js';

// ---------------------------------------------------------------------------------------------------------------------
// Errors

/** A message (or a value to encode) that does not follow the protocol. `id`: the request id, when one was readable. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly id?: number;
  constructor(message: string, id?: number) {
    super(message);
    if (id !== undefined) this.id = id;
  }
}

class Invalid extends Error {}

function fail(path: string, expected: string, got: unknown): never {
  throw new Invalid(`${path}: expected ${expected}, got ${describe(got)}`);
}

/** A short, bounded description of any value for error messages (never echoes a huge string or walks a huge object). */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  switch (typeof v) {
    case 'string':
      return v.length > 24 ? `a string of ${v.length} characters` : `the string ${JSON.stringify(v)}`;
    case 'number':
      return Number.isNaN(v) ? 'NaN' : `the number ${String(v)}`;
    case 'boolean':
      return String(v);
    case 'object':
      return v instanceof Uint8Array ? `a Uint8Array of ${v.length}` : 'an object';
    default:
      return `a ${typeof v}`;
  }
}

/** A value for a message: strings quoted (and cut), anything else described. */
function quote(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : describe(v);
}

/** Cuts a text to the wire limit. */
export function clip(text: string, max = MAX_WIRE_MESSAGE): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

// ---------------------------------------------------------------------------------------------------------------------
// Primitive checks

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Checks an object with exactly the given keys (optional ones may be missing). */
function checkObject(v: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
  if (!isPlainObject(v)) fail(path, 'an object', v);
  for (const k of required) {
    if (!Object.prototype.hasOwnProperty.call(v, k)) throw new Invalid(`${path}: missing field "${k}"`);
  }
  for (const k in v) {
    if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
    if (!required.includes(k) && !optional.includes(k)) {
      throw new Invalid(`${path}: unexpected field ${JSON.stringify(k.length > 40 ? `${k.slice(0, 40)}…` : k)}`);
    }
  }
  return v;
}

function at(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function u32(v: unknown, path: string): number {
  if (typeof v !== 'number') fail(path, 'an unsigned 32-bit integer', v);
  if (!Number.isFinite(v)) fail(path, 'an unsigned 32-bit integer', v);
  if (!Number.isInteger(v)) fail(path, 'an integer', v);
  if (v < 0) fail(path, 'a non-negative integer (unsigned 32-bit)', v);
  if (v > 0xffffffff) fail(path, 'an integer ≤ 0xFFFFFFFF', v);
  return v;
}

function str(v: unknown, path: string, max = MAX_WIRE_STRING): string {
  if (typeof v !== 'string') fail(path, 'a string', v);
  if (v.length > max) throw new Invalid(`${path}: string of ${v.length} characters exceeds the limit of ${max}`);
  return v;
}

function array(v: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(v)) fail(path, 'an array', v);
  if (v.length > max) throw new Invalid(`${path}: ${v.length} entries exceed the limit of ${max}`);
  return v;
}

export function isRequestId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_REQUEST_ID;
}

function requestId(v: unknown, path: string): number {
  if (!isRequestId(v)) fail(path, 'a request id (an integer 0 … 2^53−1)', v);
  return v;
}

// ---------------------------------------------------------------------------------------------------------------------
// Bytes as hex

const HEX_DIGITS = '0123456789abcdef';

export function bytesToHex(bytes: Uint8Array): Hex {
  let out = '';
  for (const b of bytes) out += HEX_DIGITS[b >> 4]! + HEX_DIGITS[b & 15]!;
  return out;
}

const HEX_RE = /^[0-9a-fA-F]*$/;

/** Decodes wire hex (even length, 0-9a-fA-F only, at most `maxBytes` bytes). Throws only ProtocolError. */
export function hexToBytes(v: unknown, path = 'hex', maxBytes: number = MAX_WIRE_BYTES): Uint8Array {
  return guard(undefined, () => hexIn(v, path, maxBytes));
}

function hexIn(v: unknown, path: string, maxBytes: number = MAX_WIRE_BYTES): Uint8Array {
  if (typeof v !== 'string') fail(path, 'a hex string', v);
  if (v.length > maxBytes * 2) throw new Invalid(`${path}: ${Math.ceil(v.length / 2)} bytes exceed the limit of ${maxBytes}`);
  if (v.length % 2 !== 0) throw new Invalid(`${path}: hex string of odd length ${v.length}`);
  if (!HEX_RE.test(v)) throw new Invalid(`${path}: not a hex string (only 0-9, a-f, A-F; no spaces or prefix)`);
  const out = new Uint8Array(v.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(v.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Accepts what a caller may reasonably hand in as bytes: Uint8Array, any ArrayBufferView, ArrayBuffer. */
function bytesIn(v: unknown, path: string, maxBytes: number): Uint8Array {
  let bytes: Uint8Array;
  if (v instanceof Uint8Array) bytes = v;
  else if (ArrayBuffer.isView(v)) bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  else if (v instanceof ArrayBuffer) bytes = new Uint8Array(v);
  else fail(path, 'a Uint8Array', v);
  if (bytes.length > maxBytes) throw new Invalid(`${path}: ${bytes.length} bytes exceed the limit of ${maxBytes}`);
  return bytes;
}

// ---------------------------------------------------------------------------------------------------------------------
// Argument and result codecs, position by position

/** One value's two forms: `encode` takes the API form (any caller value, checked), `decode` the wire form (checked). */
interface Codec {
  encode(api: unknown, path: string): unknown;
  decode(wire: unknown, path: string): unknown;
}

const U32: Codec = { encode: u32, decode: u32 };
const STRING: Codec = { encode: (v, p) => str(v, p), decode: (v, p) => str(v, p) };
const STRING_OR_NULL: Codec = {
  encode: (v, p) => (v === undefined || v === null ? null : str(v, p)),
  decode: (v, p) => (v === null ? null : str(v, p)),
};
const HEX: Codec = { encode: (v, p) => bytesToHex(bytesIn(v, p, MAX_WIRE_BYTES)), decode: (v, p) => hexIn(v, p) };
const PCI: Codec = {
  encode(v, p) {
    if (typeof v !== 'object' || v === null) fail(p, 'an SCARD_IO_REQUEST {dwProtocol}', v);
    return { dwProtocol: u32((v as { dwProtocol?: unknown }).dwProtocol, at(p, 'dwProtocol')) };
  },
  decode(v, p): ScardIoRequest {
    const o = checkObject(v, p, ['dwProtocol']);
    return { dwProtocol: u32(o.dwProtocol, at(p, 'dwProtocol')) };
  },
};

/** An options object `{[key]: u32}` on the API side, `u32 | null` on the wire. */
function option(key: string): Codec {
  return {
    encode(v, p) {
      if (v === undefined || v === null) return null;
      if (typeof v !== 'object') fail(p, `an options object {${key}}`, v);
      const x = (v as Record<string, unknown>)[key];
      return x === undefined || x === null ? null : u32(x, at(p, key));
    },
    decode(v, p) {
      return v === null ? undefined : { [key]: u32(v, p) };
    },
  };
}

const READER_STATES_IN: Codec = {
  encode(v, p) {
    const list = array(v, p, MAX_WIRE_READER_STATES);
    return list.map((s, i) => {
      const q = `${p}[${i}]`;
      if (typeof s !== 'object' || s === null) fail(q, 'a reader state {szReader, dwCurrentState}', s);
      const r = s as Partial<ReaderStateIn>;
      return { szReader: str(r.szReader, at(q, 'szReader')), dwCurrentState: u32(r.dwCurrentState, at(q, 'dwCurrentState')) };
    });
  },
  decode(v, p): ReaderStateIn[] {
    const list = array(v, p, MAX_WIRE_READER_STATES);
    return list.map((s, i) => {
      const q = `${p}[${i}]`;
      const o = checkObject(s, q, ['szReader', 'dwCurrentState']);
      return { szReader: str(o.szReader, at(q, 'szReader')), dwCurrentState: u32(o.dwCurrentState, at(q, 'dwCurrentState')) };
    });
  },
};

function encodeReaderStatesOut(v: unknown, p: string): WireReaderStateOut[] {
  const list = array(v, p, MAX_WIRE_READER_STATES);
  return list.map((s, i) => {
    const q = `${p}[${i}]`;
    if (typeof s !== 'object' || s === null) fail(q, 'a reader state', s);
    const r = s as Partial<ReaderStateOut>;
    return {
      szReader: str(r.szReader, at(q, 'szReader')),
      dwCurrentState: u32(r.dwCurrentState, at(q, 'dwCurrentState')),
      dwEventState: u32(r.dwEventState, at(q, 'dwEventState')),
      rgbAtr: bytesToHex(bytesIn(r.rgbAtr ?? new Uint8Array(0), at(q, 'rgbAtr'), MAX_WIRE_ATR_BYTES)),
    };
  });
}

function decodeReaderStatesOut(v: unknown, p: string): ReaderStateOut[] {
  const list = array(v, p, MAX_WIRE_READER_STATES);
  return list.map((s, i) => {
    const q = `${p}[${i}]`;
    const o = checkObject(s, q, ['szReader', 'dwCurrentState', 'dwEventState', 'rgbAtr']);
    return {
      szReader: str(o.szReader, at(q, 'szReader')),
      dwCurrentState: u32(o.dwCurrentState, at(q, 'dwCurrentState')),
      dwEventState: u32(o.dwEventState, at(q, 'dwEventState')),
      rgbAtr: hexIn(o.rgbAtr, at(q, 'rgbAtr'), MAX_WIRE_ATR_BYTES),
    };
  });
}

const STRING_LIST: Codec = {
  encode: (v, p) => array(v, p, MAX_WIRE_READERS).map((s, i) => str(s, `${p}[${i}]`)),
  decode: (v, p) => array(v, p, MAX_WIRE_READERS).map((s, i) => str(s, `${p}[${i}]`)),
};

/** A result with no outputs: `undefined` in the API, `null` on the wire. */
const VOID: Codec = {
  encode: () => null,
  decode(v, p) {
    if (v !== null) fail(p, 'null (this function has no outputs)', v);
    return undefined;
  },
};

/** A result object: the same keys on both sides, each with its own codec. */
function record(fields: Record<string, Codec>): Codec {
  const keys = Object.keys(fields);
  return {
    encode(v, p) {
      if (typeof v !== 'object' || v === null) fail(p, `an object {${keys.join(', ')}}`, v);
      const out: Record<string, unknown> = {};
      for (const k of keys) out[k] = fields[k]!.encode((v as Record<string, unknown>)[k], at(p, k));
      return out;
    },
    decode(v, p) {
      const o = checkObject(v, p, keys);
      const out: Record<string, unknown> = {};
      for (const k of keys) out[k] = fields[k]!.decode(o[k], at(p, k));
      return out;
    },
  };
}

const ATR: Codec = {
  encode: (v, p) => bytesToHex(bytesIn(v, p, MAX_WIRE_ATR_BYTES)),
  decode: (v, p) => hexIn(v, p, MAX_WIRE_ATR_BYTES),
};
const READER_STATES_OUT: Codec = { encode: encodeReaderStatesOut, decode: decodeReaderStatesOut };

interface FnSpec {
  args: readonly Codec[];
  result: Codec;
}

const SPECS: Record<FunctionName, FnSpec> = {
  SCardEstablishContext: { args: [U32], result: record({ hContext: U32 }) },
  SCardReleaseContext: { args: [U32], result: VOID },
  SCardIsValidContext: { args: [U32], result: VOID },
  SCardListReaders: { args: [U32, STRING_OR_NULL, option('bufferLength')], result: record({ readers: STRING_LIST }) },
  SCardListReaderGroups: { args: [U32, option('bufferLength')], result: record({ groups: STRING_LIST }) },
  SCardConnect: { args: [U32, STRING, U32, U32], result: record({ hCard: U32, dwActiveProtocol: U32 }) },
  SCardReconnect: { args: [U32, U32, U32, U32], result: record({ dwActiveProtocol: U32 }) },
  SCardDisconnect: { args: [U32, U32], result: VOID },
  SCardBeginTransaction: { args: [U32], result: VOID },
  SCardEndTransaction: { args: [U32, U32], result: VOID },
  SCardStatus: { args: [U32], result: record({ szReaderName: STRING, dwState: U32, dwProtocol: U32, atr: ATR }) },
  SCardGetStatusChange: { args: [U32, U32, READER_STATES_IN], result: record({ readerStates: READER_STATES_OUT }) },
  SCardControl: { args: [U32, U32, HEX, option('recvLength')], result: record({ output: HEX }) },
  SCardGetAttrib: { args: [U32, U32, option('bufferLength')], result: record({ attr: HEX }) },
  SCardSetAttrib: { args: [U32, U32, HEX], result: VOID },
  SCardTransmit: { args: [U32, PCI, HEX, option('recvLength')], result: record({ recvPci: PCI, recvBuffer: HEX }) },
  SCardCancel: { args: [U32], result: VOID },
};

/** Runs a check, turning any failure into a ProtocolError (with the request id when known). */
function guard<T>(id: number | undefined, run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    if (e instanceof Invalid) throw new ProtocolError(e.message, id);
    // Anything else (a hostile getter or proxy over an in-process link, a stack overflow…) is still only a ProtocolError.
    let detail = 'unreadable value';
    try {
      detail = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    } catch {
      /* keep the generic text */
    }
    throw new ProtocolError(clip(`malformed message (${detail})`, 300), id);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Client → connector

/** A checked call, its arguments already in the in-process API's form, ready for `api[fn](...args)`. */
export interface DecodedCall {
  kind: 'call';
  id: number;
  fn: FunctionName;
  args: unknown[];
}
export type DecodedClientMessage = DecodedCall | { kind: 'ping' | 'subscribe' | 'unsubscribe'; id: number };

/** Reads `v` and `kind`, common to both directions. */
function envelope(raw: unknown, kinds: readonly string[]): { o: Record<string, unknown>; kind: string; id: number | undefined } {
  if (!isPlainObject(raw)) throw new Invalid(`message: expected an object, got ${describe(raw)}`);
  const id = isRequestId(raw.id) ? raw.id : undefined;
  if (!Object.prototype.hasOwnProperty.call(raw, 'v')) throw new ProtocolError('message: missing protocol version "v"', id);
  if (raw.v !== PROTOCOL_VERSION) {
    throw new ProtocolError(`message: unsupported protocol version ${describe(raw.v)} (this end speaks v${PROTOCOL_VERSION})`, id);
  }
  const kind = raw.kind;
  if (typeof kind !== 'string' || !kinds.includes(kind)) {
    throw new ProtocolError(`message: unknown kind ${quote(kind)} (expected one of ${kinds.join(', ')})`, id);
  }
  return { o: raw, kind, id };
}

/** Decodes and checks a message from a client. Throws only ProtocolError. */
export function decodeClientMessage(raw: unknown): DecodedClientMessage {
  return guard(undefined, () => {
    const env = envelope(raw, CLIENT_MESSAGE_KINDS);
    return guard(env.id, () => {
      const { o, kind } = env;
      if (kind !== 'call') {
        checkObject(o, 'message', ['v', 'kind', 'id']);
        return { kind: kind as 'ping' | 'subscribe' | 'unsubscribe', id: requestId(o.id, 'id') };
      }
      checkObject(o, 'message', ['v', 'kind', 'id', 'fn', 'args']);
      const reqId = requestId(o.id, 'id');
      if (!isFunctionName(o.fn)) throw new Invalid(`fn: unknown function ${quote(o.fn)}`);
      const fn = o.fn;
      const spec = SPECS[fn];
      if (!Array.isArray(o.args)) fail('args', 'an array', o.args);
      if (o.args.length !== spec.args.length) {
        throw new Invalid(`args: ${fn} takes ${spec.args.length} arguments (${FUNCTIONS[fn].join(', ')}), got ${o.args.length}`);
      }
      const args = spec.args.map((c, i) => c.decode((o.args as unknown[])[i], `args[${i}] (${FUNCTIONS[fn][i]})`));
      return { kind: 'call', id: reqId, fn, args };
    });
  });
}

/** Builds a call message from API-form arguments (as given to PcscApi). Throws ProtocolError for a bad argument. */
export function encodeCall(id: number, fn: FunctionName, args: readonly unknown[]): CallMessage {
  return guard(id, () => {
    const spec = SPECS[fn];
    if (args.length > spec.args.length) {
      throw new Invalid(`${fn} takes at most ${spec.args.length} arguments (${FUNCTIONS[fn].join(', ')}), got ${args.length}`);
    }
    const wire = spec.args.map((c, i) => c.encode(args[i], `${fn} argument ${i + 1} (${FUNCTIONS[fn][i]})`));
    return { v: 1, kind: 'call', id, fn, args: wire } as CallMessage;
  });
}

export function encodePing(id: number): PingMessage {
  return { v: 1, kind: 'ping', id };
}

export function encodeSubscribe(id: number, subscribe: boolean): SubscribeMessage {
  return { v: 1, kind: subscribe ? 'subscribe' : 'unsubscribe', id };
}

// ---------------------------------------------------------------------------------------------------------------------
// Connector → client

/** The SCARD_* name of a code ("SCARD_E_UNSUPPORTED_FEATURE" for the shared 0x8010001F; "UNKNOWN" if none). */
export function errorName(code: number): string {
  if (code === SCARD_E_UNSUPPORTED_FEATURE) return 'SCARD_E_UNSUPPORTED_FEATURE';
  for (const [name, value] of Object.entries(PCSC_ERROR_CODES)) if (value === code) return name;
  return 'UNKNOWN';
}

/** Any failure of a daemon call as the wire error: a PcscError keeps code, needed, readerStates; anything else is F_INTERNAL_ERROR. */
export function errorToWire(e: unknown): WireError {
  if (e instanceof PcscError) {
    const out: WireError = { code: e.code, name: errorName(e.code), message: clip(e.message) };
    if (e.needed !== undefined && isU32(e.needed)) out.needed = e.needed;
    if (e.readerStates !== undefined) {
      try {
        out.readerStates = encodeReaderStatesOut(e.readerStates, 'readerStates');
      } catch {
        /* states the daemon could not describe are left out rather than failing the answer */
      }
    }
    return out;
  }
  let detail = 'unexpected failure';
  try {
    detail = e instanceof Error ? e.message : String(e);
  } catch {
    /* keep the generic text */
  }
  const err = new PcscError(SCARD_F_INTERNAL_ERROR, clip(detail, 1000));
  return { code: err.code, name: errorName(err.code), message: err.message };
}

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/** A successful result; the value (API form) is checked and converted. Throws ProtocolError if it does not fit. */
export function encodeOkResult(id: number, fn: FunctionName, value: unknown): ResultMessage {
  return guard(id, () => ({ v: 1, kind: 'result', id, ok: true, value: SPECS[fn].result.encode(value, `${fn} result`) }));
}

export function encodeErrResult(id: number, error: unknown): ResultMessage {
  return { v: 1, kind: 'result', id, ok: false, ...errorToWire(error) };
}

export function encodePong(id: number, instance: string, version: string): PongMessage {
  return { v: 1, kind: 'pong', id, instance: clip(instance, MAX_WIRE_STRING), version: clip(version, MAX_WIRE_STRING) };
}

/** One reader as the connector knows it, API form (ATR as bytes). */
export interface ReaderInfo {
  name: string;
  state: number;
  atr: Uint8Array;
}

export function encodeReadersEvent(readers: readonly ReaderInfo[]): EventMessage {
  return guard(undefined, () => ({
    v: 1,
    kind: 'event',
    event: {
      type: 'readers',
      readers: array(readers, 'readers', MAX_WIRE_READERS).map((r, i): WireReaderInfo => {
        const p = `readers[${i}]`;
        if (typeof r !== 'object' || r === null) fail(p, 'a reader {name, state, atr}', r);
        const x = r as Partial<ReaderInfo>;
        return { name: str(x.name, at(p, 'name')), state: u32(x.state, at(p, 'state')), atr: ATR.encode(x.atr ?? new Uint8Array(0), at(p, 'atr')) as Hex };
      }),
    },
  }));
}

export function encodeErrorMessage(message: string, id?: number): ErrorMessage {
  const out: ErrorMessage = { v: 1, kind: 'error', message: clip(message) };
  if (id !== undefined) out.id = id;
  return out;
}

/** A checked message from the connector. Result values stay in wire form until `decodeResultValue` (it needs `fn`). */
export type DecodedConnectorMessage =
  | { kind: 'result'; id: number; ok: true; value: unknown }
  | { kind: 'result'; id: number; ok: false; error: PcscError }
  | { kind: 'pong'; id: number; instance: string; version: string }
  | { kind: 'event'; event: { type: 'readers'; readers: ReaderInfo[] } }
  | { kind: 'error'; id?: number; message: string };

/** Decodes and checks a message from the connector. Throws only ProtocolError. */
export function decodeConnectorMessage(raw: unknown): DecodedConnectorMessage {
  return guard(undefined, () => {
    const env = envelope(raw, CONNECTOR_MESSAGE_KINDS);
    return guard(env.id, (): DecodedConnectorMessage => {
      const { o, kind } = env;
      switch (kind) {
        case 'result': {
          if (o.ok === true) {
            checkObject(o, 'message', ['v', 'kind', 'id', 'ok', 'value']);
            return { kind: 'result', id: requestId(o.id, 'id'), ok: true, value: o.value };
          }
          if (o.ok !== false) fail('ok', 'true or false', o.ok);
          checkObject(o, 'message', ['v', 'kind', 'id', 'ok', 'code', 'name', 'message'], ['needed', 'readerStates']);
          return { kind: 'result', id: requestId(o.id, 'id'), ok: false, error: wireToError(o) };
        }
        case 'pong':
          checkObject(o, 'message', ['v', 'kind', 'id', 'instance', 'version']);
          return {
            kind: 'pong',
            id: requestId(o.id, 'id'),
            instance: str(o.instance, 'instance'),
            version: str(o.version, 'version'),
          };
        case 'event': {
          checkObject(o, 'message', ['v', 'kind', 'event']);
          const ev = checkObject(o.event, 'event', ['type', 'readers']);
          if (ev.type !== 'readers') throw new Invalid(`event.type: unknown event ${quote(ev.type)}`);
          const readers = array(ev.readers, 'event.readers', MAX_WIRE_READERS).map((r, i) => {
            const p = `event.readers[${i}]`;
            const x = checkObject(r, p, ['name', 'state', 'atr']);
            return { name: str(x.name, at(p, 'name')), state: u32(x.state, at(p, 'state')), atr: hexIn(x.atr, at(p, 'atr'), MAX_WIRE_ATR_BYTES) };
          });
          return { kind: 'event', event: { type: 'readers', readers } };
        }
        default: {
          checkObject(o, 'message', ['v', 'kind', 'message'], ['id']);
          const out: DecodedConnectorMessage = { kind: 'error', message: str(o.message, 'message', MAX_WIRE_MESSAGE) };
          if (o.id !== undefined) out.id = requestId(o.id, 'id');
          return out;
        }
      }
    });
  });
}

function wireToError(o: Record<string, unknown>): PcscError {
  const code = u32(o.code, 'code');
  if (code === 0) throw new Invalid('code: an error result cannot carry SCARD_S_SUCCESS');
  str(o.name, 'name');
  const message = str(o.message, 'message', MAX_WIRE_MESSAGE);
  const options: { needed?: number; readerStates?: ReaderStateOut[] } = {};
  if (o.needed !== undefined) options.needed = u32(o.needed, 'needed');
  if (o.readerStates !== undefined) options.readerStates = decodeReaderStatesOut(o.readerStates, 'readerStates');
  // The wire message is PcscError's own "<text> (0x…): detail"; keep only the detail so it is not repeated.
  const prefix = `${pcscStringifyError(code)} (0x${code.toString(16).toUpperCase().padStart(8, '0')})`;
  const detail = message.startsWith(prefix) ? message.slice(prefix.length).replace(/^: /, '') : message;
  return new PcscError(code, detail || undefined, options);
}

/** Converts a successful result's wire value into the API form for `fn`. Throws only ProtocolError. */
export function decodeResultValue(fn: FunctionName, value: unknown, id?: number): unknown {
  return guard(id, () => SPECS[fn].result.decode(value, 'value'));
}
