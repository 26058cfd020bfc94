/**
 * The checks every protocol value goes through, for both ends: primitive values (u32, strings, byte strings as hex,
 * lists), exact objects, and the error they raise. A failed check throws `Invalid` with a message naming the value's
 * path, what was expected and what came (described by type and length, never echoed); `guard` turns it into the
 * `ProtocolError` callers see, and anything else thrown on the way into one too.
 */
import { hexDigitsToBytes, toHex } from '../util/hex.js';
import { MAX_REQUEST_ID, MAX_WIRE_BYTES, MAX_WIRE_MESSAGE, MAX_WIRE_STRING, type Hex } from './messages.js';

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

export class Invalid extends Error {}

export function fail(path: string, expected: string, got: unknown): never {
  throw new Invalid(`${path}: expected ${expected}, got ${describe(got)}`);
}

/**
 * A description of any value for error messages: its type and size, never its content (a malformed message may carry
 * a PIN where a field was expected, and error texts reach the log and the console whatever the "Log APDUs" switch).
 */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  switch (typeof v) {
    case 'string':
      return `a string of ${v.length} character${v.length === 1 ? '' : 's'}`;
    case 'number':
      if (Number.isNaN(v)) return 'NaN';
      if (!Number.isFinite(v)) return 'an infinite number';
      if (!Number.isInteger(v)) return 'a number with a fraction';
      return v < 0 ? 'a negative integer' : v > 0xffffffff ? 'an integer above 2^32-1' : 'an integer';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return v instanceof Uint8Array ? `a Uint8Array of ${v.length}` : 'an object';
    default:
      return `a ${typeof v}`;
  }
}

/** A value for a message: described (type and size), never quoted; kept as a name for the callers' readability. */
export function quote(v: unknown): string {
  return describe(v);
}

/**
 * A field name for a message: shown when it is a short identifier (what a programmer typed: "pvUserData"), else
 * described like a value, since a hostile sender may put anything in a key.
 */
export function fieldName(k: string): string {
  return /^[A-Za-z_$][A-Za-z_$0-9]{0,39}$/.test(k) && !/^[0-9A-Fa-f]+$/.test(k) ? `"${k}"` : `named by ${describe(k)}`;
}

/** Cuts a text to the wire limit. */
export function clip(text: string, max = MAX_WIRE_MESSAGE): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

// ---------------------------------------------------------------------------------------------------------------------
// Primitive checks

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Checks an object with exactly the given keys (optional ones may be missing). */
export function checkObject(
  v: unknown,
  path: string,
  required: readonly string[],
  optional: readonly string[] = [],
): Record<string, unknown> {
  if (!isPlainObject(v)) fail(path, 'an object', v);
  for (const k of required) {
    if (!Object.prototype.hasOwnProperty.call(v, k)) throw new Invalid(`${path}: missing field "${k}"`);
  }
  for (const k in v) {
    if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
    if (!required.includes(k) && !optional.includes(k)) {
      throw new Invalid(`${path}: unexpected field ${fieldName(k)}`);
    }
  }
  return v;
}

/**
 * True when `v` has exactly `fields`, as `checkObject` wants them (each an own field, no other own enumerable key): the
 * same test without an error to build, for the decoders' quick paths (a false sends them to the checked path).
 */
export function hasExactly(v: Record<string, unknown>, fields: readonly string[]): boolean {
  for (const k of fields) if (!Object.prototype.hasOwnProperty.call(v, k)) return false;
  for (const k in v) if (Object.prototype.hasOwnProperty.call(v, k) && !fields.includes(k)) return false;
  return true;
}

export function at(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

export function u32(v: unknown, path: string): number {
  if (typeof v !== 'number') fail(path, 'an unsigned 32-bit integer', v);
  if (!Number.isFinite(v)) fail(path, 'an unsigned 32-bit integer', v);
  if (!Number.isInteger(v)) fail(path, 'an integer', v);
  if (v < 0) fail(path, 'a non-negative integer (unsigned 32-bit)', v);
  if (v > 0xffffffff) fail(path, 'an integer ≤ 0xFFFFFFFF', v);
  return v;
}

export function str(v: unknown, path: string, max = MAX_WIRE_STRING): string {
  if (typeof v !== 'string') fail(path, 'a string', v);
  if (v.length > max) throw new Invalid(`${path}: string of ${v.length} characters exceeds the limit of ${max}`);
  return v;
}

export function array(v: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(v)) fail(path, 'an array', v);
  if (v.length > max) throw new Invalid(`${path}: ${v.length} entries exceed the limit of ${max}`);
  return v;
}

export function isRequestId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_REQUEST_ID;
}

export function requestId(v: unknown, path: string): number {
  if (!isRequestId(v)) fail(path, 'a request id (an integer 0 … 2^53−1)', v);
  return v;
}

// ---------------------------------------------------------------------------------------------------------------------
// Bytes as hex

/** Bytes as wire hex: lower case, no separator (src/util/hex.ts formats all hex). */
export function bytesToHex(bytes: Uint8Array): Hex {
  return toHex(bytes, '', 'lower');
}

const HEX_RE = /^[0-9a-fA-F]*$/;

/** Decodes wire hex (even length, 0-9a-fA-F only, at most `maxBytes` bytes). Throws only ProtocolError. */
export function hexToBytes(v: unknown, path = 'hex', maxBytes: number = MAX_WIRE_BYTES): Uint8Array {
  return guard(undefined, () => hexIn(v, path, maxBytes));
}

export function hexIn(v: unknown, path: string, maxBytes: number = MAX_WIRE_BYTES): Uint8Array {
  if (typeof v !== 'string') fail(path, 'a hex string', v);
  if (v.length > maxBytes * 2)
    throw new Invalid(`${path}: ${Math.ceil(v.length / 2)} bytes exceed the limit of ${maxBytes}`);
  if (v.length % 2 !== 0) throw new Invalid(`${path}: hex string of odd length ${v.length}`);
  if (!HEX_RE.test(v)) throw new Invalid(`${path}: not a hex string (only 0-9, a-f, A-F; no spaces or prefix)`);
  return hexDigitsToBytes(v);
}

/** Accepts what a caller may reasonably hand in as bytes: Uint8Array, any ArrayBufferView, ArrayBuffer. */
export function bytesIn(v: unknown, path: string, maxBytes: number): Uint8Array {
  let bytes: Uint8Array;
  if (v instanceof Uint8Array) bytes = v;
  else if (ArrayBuffer.isView(v)) bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  else if (v instanceof ArrayBuffer) bytes = new Uint8Array(v);
  else fail(path, 'a Uint8Array', v);
  if (bytes.length > maxBytes) throw new Invalid(`${path}: ${bytes.length} bytes exceed the limit of ${maxBytes}`);
  return bytes;
}

/** Runs a check, turning any failure into a ProtocolError (with the request id when known). */
export function guard<T>(id: number | undefined, run: () => T): T {
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

export function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}
