/**
 * pcscd's client/server protocol 4.4 (pcsc-lite 1.9.9, winscard_msg.h): message header, command ids, the request /
 * response structs and the READER_STATE array (eventhandler.h), as a pure codec.
 *
 * Byte order: pcscd and libpcsclite exchange their C structs as they lie in memory, in the host's byte order, with
 * every field 32 bits wide (so natural alignment adds no padding except after cardAtr). This codec writes and reads
 * little-endian, which is the host order of every platform the host runs on (x86_64 and arm64 Linux); the server
 * refuses to start on a big-endian host rather than speak a byte order its clients do not.
 */

export const PROTOCOL_VERSION_MAJOR = 4;
export const PROTOCOL_VERSION_MINOR = 4;

/** enum pcsc_msg_commands. 0x03, 0x0C and 0x0E exist in the enum but no 1.9.9 client sends them (pcscd closes). */
export const CMD = {
  ESTABLISH_CONTEXT: 0x01,
  RELEASE_CONTEXT: 0x02,
  CONNECT: 0x04,
  RECONNECT: 0x05,
  DISCONNECT: 0x06,
  BEGIN_TRANSACTION: 0x07,
  END_TRANSACTION: 0x08,
  TRANSMIT: 0x09,
  CONTROL: 0x0a,
  STATUS: 0x0b,
  CANCEL: 0x0d,
  GET_ATTRIB: 0x0f,
  SET_ATTRIB: 0x10,
  VERSION: 0x11,
  GET_READERS_STATE: 0x12,
  WAIT_READER_STATE_CHANGE: 0x13,
  STOP_WAITING_READER_STATE_CHANGE: 0x14,
} as const;
export type Command = (typeof CMD)[keyof typeof CMD];

const NAMES = new Map<number, string>(Object.entries(CMD).map(([k, v]) => [v, k]));

/** The command's name for logs, or "unknown command 0x…". */
export function commandName(command: number): string {
  return NAMES.get(command) ?? `unknown command 0x${(command >>> 0).toString(16).toUpperCase()}`;
}

export function isCommand(command: number): command is Command {
  return NAMES.has(command);
}

/** struct rxHeader: {u32 size; u32 command}; size counts the struct that follows, not the TRANSMIT/CONTROL data. */
export const HEADER_SIZE = 8;
export const MAX_READERNAME = 128;
export const MAX_BUFFER_SIZE = 264;
import { MAX_ATR_SIZE, MAX_BUFFER_SIZE_EXTENDED } from '../../ifd/limits.js';
export { MAX_ATR_SIZE, MAX_BUFFER_SIZE_EXTENDED };
export const PCSCLITE_MAX_READERS_CONTEXTS = 16;

// ---------------------------------------------------------------------------------------------------------------------
// Struct layouts

type Field = readonly [name: string, kind: 'u32' | 'i32'] | readonly [name: string, kind: 'bytes', length: number];
type Layout = readonly Field[];
type FieldValue<F extends Field> = F[1] extends 'bytes' ? Uint8Array : number;
/** The decoded struct: one property per field, numbers for u32/i32, bytes for arrays. */
export type StructOf<L extends Layout> = { [F in L[number] as F[0]]: FieldValue<F> };

const LAYOUTS = {
  version: [
    ['major', 'i32'],
    ['minor', 'i32'],
    ['rv', 'u32'],
  ],
  establish: [
    ['dwScope', 'u32'],
    ['hContext', 'u32'],
    ['rv', 'u32'],
  ],
  release: [
    ['hContext', 'u32'],
    ['rv', 'u32'],
  ],
  connect: [
    ['hContext', 'u32'],
    ['szReader', 'bytes', MAX_READERNAME],
    ['dwShareMode', 'u32'],
    ['dwPreferredProtocols', 'u32'],
    ['hCard', 'i32'],
    ['dwActiveProtocol', 'u32'],
    ['rv', 'u32'],
  ],
  reconnect: [
    ['hCard', 'i32'],
    ['dwShareMode', 'u32'],
    ['dwPreferredProtocols', 'u32'],
    ['dwInitialization', 'u32'],
    ['dwActiveProtocol', 'u32'],
    ['rv', 'u32'],
  ],
  disconnect: [
    ['hCard', 'i32'],
    ['dwDisposition', 'u32'],
    ['rv', 'u32'],
  ],
  begin: [
    ['hCard', 'i32'],
    ['rv', 'u32'],
  ],
  end: [
    ['hCard', 'i32'],
    ['dwDisposition', 'u32'],
    ['rv', 'u32'],
  ],
  cancel: [
    ['hContext', 'i32'],
    ['rv', 'u32'],
  ],
  status: [
    ['hCard', 'i32'],
    ['rv', 'u32'],
  ],
  transmit: [
    ['hCard', 'i32'],
    ['ioSendPciProtocol', 'u32'],
    ['ioSendPciLength', 'u32'],
    ['cbSendLength', 'u32'],
    ['ioRecvPciProtocol', 'u32'],
    ['ioRecvPciLength', 'u32'],
    ['pcbRecvLength', 'u32'],
    ['rv', 'u32'],
  ],
  control: [
    ['hCard', 'i32'],
    ['dwControlCode', 'u32'],
    ['cbSendLength', 'u32'],
    ['cbRecvLength', 'u32'],
    ['dwBytesReturned', 'u32'],
    ['rv', 'u32'],
  ],
  getset: [
    ['hCard', 'i32'],
    ['dwAttrId', 'u32'],
    ['pbAttr', 'bytes', MAX_BUFFER_SIZE],
    ['cbAttrLen', 'u32'],
    ['rv', 'u32'],
  ],
  waitReaderStateChange: [
    ['timeOut', 'u32'],
    ['rv', 'u32'],
  ],
} as const satisfies Record<string, Layout>;

export type StructName = keyof typeof LAYOUTS;
export type Struct<N extends StructName> = StructOf<(typeof LAYOUTS)[N]>;

function fieldSize(f: Field): number {
  return f[1] === 'bytes' ? f[2] : 4;
}

/** Each struct's size, summed once (structSize runs for every message, twice for most). */
const SIZES = Object.fromEntries(
  Object.entries(LAYOUTS).map(([name, layout]) => [name, (layout as Layout).reduce((n, f) => n + fieldSize(f), 0)]),
) as Record<StructName, number>;

/** sizeof(struct): every field is 4 bytes or a byte array whose length keeps the next field 4-aligned. */
export function structSize(name: StructName): number {
  return SIZES[name];
}

// Little-endian 32-bit reads and writes on the bytes themselves: a DataView per message cost more than the message.
const getI32 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
function setU32(b: Uint8Array, o: number, x: number): void {
  b[o] = x;
  b[o + 1] = x >>> 8;
  b[o + 2] = x >>> 16;
  b[o + 3] = x >>> 24;
}

/** The struct each command's request carries (and its response echoes), or null for the size-0 requests. */
export const REQUEST_STRUCT: Readonly<Record<Command, StructName | null>> = {
  [CMD.ESTABLISH_CONTEXT]: 'establish',
  [CMD.RELEASE_CONTEXT]: 'release',
  [CMD.CONNECT]: 'connect',
  [CMD.RECONNECT]: 'reconnect',
  [CMD.DISCONNECT]: 'disconnect',
  [CMD.BEGIN_TRANSACTION]: 'begin',
  [CMD.END_TRANSACTION]: 'end',
  [CMD.TRANSMIT]: 'transmit',
  [CMD.CONTROL]: 'control',
  [CMD.STATUS]: 'status',
  [CMD.CANCEL]: 'cancel',
  [CMD.GET_ATTRIB]: 'getset',
  [CMD.SET_ATTRIB]: 'getset',
  [CMD.VERSION]: 'version',
  [CMD.GET_READERS_STATE]: null,
  [CMD.WAIT_READER_STATE_CHANGE]: null,
  [CMD.STOP_WAITING_READER_STATE_CHANGE]: null,
};

/** The exact `size` a request of this command must state (pcscd's READ_BODY closes the connection otherwise). */
export function requestSize(command: Command): number {
  const s = REQUEST_STRUCT[command];
  return s === null ? 0 : structSize(s);
}

/** Decode a struct from exactly structSize(name) bytes; a wrong length is a thrown WireError. */
export function decodeStruct<N extends StructName>(name: N, bytes: Uint8Array): Struct<N> {
  const layout = LAYOUTS[name] as Layout;
  const size = structSize(name);
  if (bytes.length !== size) throw new WireError(`struct ${name} is ${size} bytes; ${bytes.length} were given`);
  if (name === 'transmit') return decodeTransmit(bytes) as Struct<N>;
  const out: Record<string, number | Uint8Array> = {};
  let off = 0;
  for (const f of layout) {
    if (f[1] === 'bytes') out[f[0]] = bytes.slice(off, off + f[2]);
    else out[f[0]] = f[1] === 'u32' ? getI32(bytes, off) >>> 0 : getI32(bytes, off);
    off += fieldSize(f);
  }
  return out as Struct<N>;
}

/**
 * Encode a struct. Numbers are written modulo 2^32 (u32 and i32 share their bit pattern); a byte array shorter than
 * its field is zero-padded, a longer one is a WireError (never silently cut).
 */
export function encodeStruct<N extends StructName>(name: N, value: Struct<N>): Uint8Array {
  if (name === 'transmit') return encodeTransmit(value as Struct<'transmit'>);
  const layout = LAYOUTS[name] as Layout;
  const out = new Uint8Array(structSize(name));
  const v = value as Record<string, number | Uint8Array>;
  let off = 0;
  for (const f of layout) {
    const x = v[f[0]];
    if (f[1] === 'bytes') {
      if (!(x instanceof Uint8Array)) throw new WireError(`field ${name}.${f[0]} must be bytes`);
      if (x.length > f[2]) throw new WireError(`field ${name}.${f[0]} holds ${f[2]} bytes; ${x.length} were given`);
      out.set(x, off);
    } else {
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new WireError(`field ${name}.${f[0]} must be a number`);
      setU32(out, off, x >>> 0);
    }
    off += fieldSize(f);
  }
  return out;
}

export class WireError extends Error {
  override name = 'WireError';
}

/*
 * The transmit struct, which every APDU carries both ways, field by field: the loops above find each field by its
 * name at run time, which cost about 2 µs per APDU for this struct alone (V8 cannot specialise a property access
 * whose name varies), more than the rest of the codec's work on a short APDU (bench/README.md). Same layout as
 * LAYOUTS.transmit (the wire tests check them byte for byte), same values, same errors in the same field order.
 */
function decodeTransmit(b: Uint8Array): Struct<'transmit'> {
  return {
    hCard: getI32(b, 0),
    ioSendPciProtocol: getI32(b, 4) >>> 0,
    ioSendPciLength: getI32(b, 8) >>> 0,
    cbSendLength: getI32(b, 12) >>> 0,
    ioRecvPciProtocol: getI32(b, 16) >>> 0,
    ioRecvPciLength: getI32(b, 20) >>> 0,
    pcbRecvLength: getI32(b, 24) >>> 0,
    rv: getI32(b, 28) >>> 0,
  };
}

function transmitField(field: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new WireError(`field transmit.${field} must be a number`);
  return x >>> 0;
}

function encodeTransmit(s: Struct<'transmit'>): Uint8Array {
  const out = new Uint8Array(32);
  setU32(out, 0, transmitField('hCard', s.hCard));
  setU32(out, 4, transmitField('ioSendPciProtocol', s.ioSendPciProtocol));
  setU32(out, 8, transmitField('ioSendPciLength', s.ioSendPciLength));
  setU32(out, 12, transmitField('cbSendLength', s.cbSendLength));
  setU32(out, 16, transmitField('ioRecvPciProtocol', s.ioRecvPciProtocol));
  setU32(out, 20, transmitField('ioRecvPciLength', s.ioRecvPciLength));
  setU32(out, 24, transmitField('pcbRecvLength', s.pcbRecvLength));
  setU32(out, 28, transmitField('rv', s.rv));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// Header

export interface Header {
  size: number;
  command: number;
}

export function decodeHeader(bytes: Uint8Array): Header {
  if (bytes.length < HEADER_SIZE) throw new WireError(`a header is ${HEADER_SIZE} bytes; ${bytes.length} were given`);
  return { size: getI32(bytes, 0) >>> 0, command: getI32(bytes, 4) >>> 0 };
}

export function encodeHeader(h: Header): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE);
  const view = new DataView(out.buffer);
  view.setUint32(0, h.size >>> 0, true);
  view.setUint32(4, h.command >>> 0, true);
  return out;
}

/** A whole request as libpcsclite sends it: header, struct, then (TRANSMIT, CONTROL) the data bytes. */
export function encodeRequest(command: number, body: Uint8Array, data?: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + body.length + (data?.length ?? 0));
  out.set(encodeHeader({ size: body.length, command }), 0);
  out.set(body, HEADER_SIZE);
  if (data !== undefined) out.set(data, HEADER_SIZE + body.length);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// Strings

/** The NUL-terminated string of a fixed char array (szReader: pcscd forces its last byte to NUL). */
export function decodeCString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/** A string into a char[length] field, NUL-terminated; one that does not fit with its NUL is a WireError. */
export function encodeCString(s: string, length: number): Uint8Array {
  const b = new TextEncoder().encode(s);
  if (b.length >= length)
    throw new WireError(`a string of ${b.length} bytes does not fit a ${length}-byte field with its NUL`);
  const out = new Uint8Array(length);
  out.set(b);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// READER_STATE (eventhandler.h), the array libpcsclite reads for ListReaders, Status and GetStatusChange

/** One published reader (pcscd's READER_STATE). */
export interface ReaderStateRecord {
  name: string;
  eventCounter: number;
  /** SCARD_UNKNOWN / ABSENT / PRESENT | POWERED | NEGOTIABLE / | SWALLOWED. */
  readerState: number;
  /** −1 exclusive, 0 free, n shared/direct handles. */
  readerSharing: number;
  atr: Uint8Array;
  cardProtocol: number;
}

export const READER_STATE_SIZE = 184;
export const READER_STATES_SIZE = READER_STATE_SIZE * PCSCLITE_MAX_READERS_CONTEXTS;
/** READER_NOT_INITIALIZED (MAX_ATR_SIZE + 1): the cardAtrLength of an unused entry. */
export const READER_NOT_INITIALIZED = MAX_ATR_SIZE + 1;

const RS = {
  name: 0,
  eventCounter: 128,
  readerState: 132,
  readerSharing: 136,
  atr: 140,
  atrLength: 176,
  protocol: 180,
} as const;

/**
 * The 16-entry array, readers first in order, the rest unused (empty name, cardAtrLength 34). More than 16 readers or
 * an ATR over 33 bytes is a WireError.
 */
export function encodeReaderStates(readers: readonly ReaderStateRecord[]): Uint8Array {
  if (readers.length > PCSCLITE_MAX_READERS_CONTEXTS) {
    throw new WireError(`${readers.length} readers; the array holds ${PCSCLITE_MAX_READERS_CONTEXTS}`);
  }
  const out = new Uint8Array(READER_STATES_SIZE);
  const view = new DataView(out.buffer);
  for (let i = 0; i < PCSCLITE_MAX_READERS_CONTEXTS; i++) {
    const base = i * READER_STATE_SIZE;
    const r = readers[i];
    if (r === undefined) {
      view.setUint32(base + RS.atrLength, READER_NOT_INITIALIZED, true);
      continue;
    }
    if (r.atr.length > MAX_ATR_SIZE) throw new WireError(`an ATR of ${r.atr.length} bytes; at most ${MAX_ATR_SIZE}`);
    out.set(encodeCString(r.name, MAX_READERNAME), base + RS.name);
    view.setUint32(base + RS.eventCounter, r.eventCounter >>> 0, true);
    view.setUint32(base + RS.readerState, r.readerState >>> 0, true);
    view.setInt32(base + RS.readerSharing, r.readerSharing | 0, true);
    out.set(r.atr, base + RS.atr);
    view.setUint32(base + RS.atrLength, r.atr.length, true);
    view.setUint32(base + RS.protocol, r.cardProtocol >>> 0, true);
  }
  return out;
}

/** The used entries of a 2944-byte array (what libpcsclite lists: non-empty names), for tests and tools. */
export function decodeReaderStates(bytes: Uint8Array): ReaderStateRecord[] {
  if (bytes.length !== READER_STATES_SIZE)
    throw new WireError(`the reader states are ${READER_STATES_SIZE} bytes; ${bytes.length} were given`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: ReaderStateRecord[] = [];
  for (let i = 0; i < PCSCLITE_MAX_READERS_CONTEXTS; i++) {
    const base = i * READER_STATE_SIZE;
    const name = decodeCString(bytes.subarray(base, base + MAX_READERNAME));
    if (name === '') continue;
    const atrLength = Math.min(view.getUint32(base + RS.atrLength, true), MAX_ATR_SIZE);
    out.push({
      name,
      eventCounter: view.getUint32(base + RS.eventCounter, true),
      readerState: view.getUint32(base + RS.readerState, true),
      readerSharing: view.getInt32(base + RS.readerSharing, true),
      atr: bytes.slice(base + RS.atr, base + RS.atr + atrLength),
      cardProtocol: view.getUint32(base + RS.protocol, true),
    });
  }
  return out;
}

/** struct wait_reader_state_change {timeOut = 0, rv}: the asynchronous event / cancel message and STOP's answer. */
export function encodeWaitMessage(rv: number): Uint8Array {
  return encodeStruct('waitReaderStateChange', { timeOut: 0, rv });
}
