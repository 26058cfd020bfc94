/**
 * Encoding and validation of protocol v1 messages (messages.ts), for both ends.
 *
 * Decoders take whatever arrived (any JSON value, or anything at all over an in-process link) and either return a
 * fully checked message or throw a `ProtocolError` naming the first problem precisely ("args[2]: expected hex, got …").
 * They never throw anything else. Encoders check the caller's values the same way (a client passing a string where a
 * handle goes gets a ProtocolError before anything is sent).
 *
 * Arguments and results are converted between the in-process API (src/pcsc/api.ts: Uint8Array, option objects,
 * pvUserData) and the wire (hex strings, `null` for absent options, no pvUserData) by the codecs of the function table
 * (functions.ts), position by position.
 */
import type { ReaderStateOut } from '../pcsc/api.js';
import { PcscError } from '../pcsc/errors.js';
import {
  PCSC_ERROR_CODES,
  SCARD_E_UNSUPPORTED_FEATURE,
  SCARD_F_INTERNAL_ERROR,
  pcscStringifyError,
} from '../pcsc/constants.js';
import {
  Invalid,
  ProtocolError,
  array,
  at,
  bytesIn,
  bytesToHex,
  checkObject,
  clip,
  describe,
  fail,
  guard,
  hasExactly,
  hexIn,
  hexToBytes,
  isPlainObject,
  isRequestId,
  isU32,
  quote,
  requestId,
  str,
  u32,
} from './check.js';
import { FUNCTIONS, READER_STATES_OUT, isFunctionName, specOf, type FunctionName } from './functions.js';
import {
  CLIENT_MESSAGE_KINDS,
  CONNECTOR_MESSAGE_KINDS,
  MAX_WIRE_ATR_BYTES,
  MAX_WIRE_MESSAGE,
  MAX_WIRE_READERS,
  MAX_WIRE_STRING,
  PROTOCOL_VERSION,
  type CallMessage,
  type ErrorMessage,
  type EventMessage,
  type PingMessage,
  type PongMessage,
  type ResultMessage,
  type SubscribeMessage,
  type WireError,
  type WireReaderInfo,
} from './messages.js';

export { ProtocolError, bytesToHex, clip, describe, hexToBytes, isRequestId };

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
function envelope(
  raw: unknown,
  kinds: readonly string[],
): { o: Record<string, unknown>; kind: string; id: number | undefined } {
  if (!isPlainObject(raw)) throw new Invalid(`message: expected an object, got ${describe(raw)}`);
  const id = isRequestId(raw.id) ? raw.id : undefined;
  if (!Object.prototype.hasOwnProperty.call(raw, 'v'))
    throw new ProtocolError('message: missing protocol version "v"', id);
  if (raw.v !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      `message: unsupported protocol version (got ${describe(raw.v)}; this end speaks v${PROTOCOL_VERSION})`,
      id,
    );
  }
  const kind = raw.kind;
  if (typeof kind !== 'string' || !kinds.includes(kind)) {
    throw new ProtocolError(`message: unknown kind ${quote(kind)} (expected one of ${kinds.join(', ')})`, id);
  }
  return { o: raw, kind, id };
}

const CALL_FIELDS = ['v', 'kind', 'id', 'fn', 'args'];

/**
 * A well-formed call, nearly every message a client sends, decoded without what only a bad one needs (closures for the
 * error's request id, a field path for each argument): `undefined`, or a throw, for anything else, which the checked
 * decoder then takes apart to name the first problem. It accepts only what the checked decoder accepts and gives the
 * same call (test/property/protocol.property.test.ts holds the two together).
 */
function quickCall(raw: unknown): DecodedCall | undefined {
  if (!isPlainObject(raw) || raw.v !== PROTOCOL_VERSION || raw.kind !== 'call' || !hasExactly(raw, CALL_FIELDS))
    return undefined;
  const { id, fn, args } = raw;
  if (!isRequestId(id) || !isFunctionName(fn) || !Array.isArray(args)) return undefined;
  const spec = specOf(fn).args;
  if (args.length !== spec.length) return undefined;
  const out: unknown[] = [];
  for (let i = 0; i < spec.length; i++) out.push(spec[i]!.decode(args[i], ''));
  return { kind: 'call', id, fn, args: out };
}

/** Decodes and checks a message from a client. Throws only ProtocolError. */
export function decodeClientMessage(raw: unknown): DecodedClientMessage {
  let call: DecodedCall | undefined;
  try {
    call = quickCall(raw);
  } catch {
    call = undefined;
  }
  return call ?? checkedClientMessage(raw);
}

/** @internal decodeClientMessage without its quick path (the property test compares them). */
export function checkedClientMessage(raw: unknown): DecodedClientMessage {
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
      const spec = specOf(fn);
      if (!Array.isArray(o.args)) fail('args', 'an array', o.args);
      if (o.args.length !== spec.args.length) {
        throw new Invalid(
          `args: ${fn} takes ${spec.args.length} arguments (${FUNCTIONS[fn].join(', ')}), got ${o.args.length}`,
        );
      }
      const args = spec.args.map((c, i) => c.decode((o.args as unknown[])[i], `args[${i}] (${FUNCTIONS[fn][i]})`));
      return { kind: 'call', id: reqId, fn, args };
    });
  });
}

/** Builds a call message from API-form arguments (as given to PcscApi). Throws ProtocolError for a bad argument. */
export function encodeCall(id: number, fn: FunctionName, args: readonly unknown[]): CallMessage {
  // The quick path, as in decodeClientMessage: no field paths for errors; a throw goes the checked way to be named.
  try {
    const spec = specOf(fn).args;
    if (args.length <= spec.length) {
      const wire: unknown[] = [];
      for (let i = 0; i < spec.length; i++) wire.push(spec[i]!.encode(args[i], ''));
      return { v: 1, kind: 'call', id, fn, args: wire } as CallMessage;
    }
  } catch {
    /* named below */
  }
  return guard(id, () => {
    const spec = specOf(fn);
    if (args.length > spec.args.length) {
      throw new Invalid(
        `${fn} takes at most ${spec.args.length} arguments (${FUNCTIONS[fn].join(', ')}), got ${args.length}`,
      );
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
        out.readerStates = READER_STATES_OUT.encode(e.readerStates, 'readerStates');
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

/** A successful result; the value (API form) is checked and converted. Throws ProtocolError if it does not fit. */
export function encodeOkResult(id: number, fn: FunctionName, value: unknown): ResultMessage {
  try {
    return { v: 1, kind: 'result', id, ok: true, value: specOf(fn).result.encode(value, '') };
  } catch {
    /* the checked encoder below names the problem */
  }
  return guard(id, () => ({
    v: 1,
    kind: 'result',
    id,
    ok: true,
    value: specOf(fn).result.encode(value, `${fn} result`),
  }));
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
        return {
          name: str(x.name, at(p, 'name')),
          state: u32(x.state, at(p, 'state')),
          atr: bytesToHex(bytesIn(x.atr ?? new Uint8Array(0), at(p, 'atr'), MAX_WIRE_ATR_BYTES)),
        };
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

const OK_RESULT_FIELDS = ['v', 'kind', 'id', 'ok', 'value'];

/** Decodes and checks a message from the connector. Throws only ProtocolError. */
export function decodeConnectorMessage(raw: unknown): DecodedConnectorMessage {
  // The quick path for a successful result (nearly every message), as quickCall: anything else is checked below.
  try {
    if (isPlainObject(raw) && raw.v === PROTOCOL_VERSION && raw.kind === 'result' && raw.ok === true) {
      const id = raw.id;
      if (isRequestId(id) && hasExactly(raw, OK_RESULT_FIELDS))
        return { kind: 'result', id, ok: true, value: raw.value };
    }
  } catch {
    /* a value read threw (an in-process hostile object): the checked path says so */
  }
  return checkedConnectorMessage(raw);
}

/** @internal decodeConnectorMessage without its quick path (the property test compares them). */
export function checkedConnectorMessage(raw: unknown): DecodedConnectorMessage {
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
            return {
              name: str(x.name, at(p, 'name')),
              state: u32(x.state, at(p, 'state')),
              atr: hexIn(x.atr, at(p, 'atr'), MAX_WIRE_ATR_BYTES),
            };
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
  if (o.readerStates !== undefined) options.readerStates = READER_STATES_OUT.decode(o.readerStates, 'readerStates');
  // The wire message is PcscError's own "<text> (0x…): detail"; keep only the detail so it is not repeated.
  const prefix = `${pcscStringifyError(code)} (0x${code.toString(16).toUpperCase().padStart(8, '0')})`;
  const detail = message.startsWith(prefix) ? message.slice(prefix.length).replace(/^: /, '') : message;
  return new PcscError(code, detail || undefined, options);
}

/** Converts a successful result's wire value into the API form for `fn`. Throws only ProtocolError. */
export function decodeResultValue(fn: FunctionName, value: unknown, id?: number): unknown {
  try {
    return specOf(fn).result.decode(value, '');
  } catch {
    /* the checked decode below names the problem */
  }
  return guard(id, () => specOf(fn).result.decode(value, 'value'));
}
