/**
 * The public protocol between client extensions and the connector, version 1: message shapes and limits. The SCard*
 * functions are in functions.ts, encoding and validation in codec.ts; docs/protocol.md is the prose description.
 *
 * Every message is a JSON object `{v: 1, kind, ...}`. Chrome JSON-serialises port messages, so nothing but JSON values
 * ever crosses: bytes travel as lowercase hex strings ("00a40400"; decoders accept either case), absent optional values
 * as `null` (an `undefined` field would vanish, an `undefined` array element would become `null` anyway), numbers as
 * plain JSON numbers (every PC/SC number here is an unsigned 32-bit integer: handles, flags, codes, lengths).
 */
import type { FunctionName, WireArgs } from './functions.js';
import { MAX_ATR_SIZE, MAX_BUFFER_SIZE_EXTENDED } from '../ifd/limits.js';

/** The protocol version every message carries in `v`. A peer speaking another version is refused message by message. */
export const PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------------------------------------------
// Limits (a message beyond one of these is malformed; they guard the connector, the daemon applies PC/SC's own rules)

/** Largest byte string in any message: pcsc-lite's MAX_BUFFER_SIZE_EXTENDED (4 + 3 + 65536 + 3 + 2). */
export const MAX_WIRE_BYTES = MAX_BUFFER_SIZE_EXTENDED;
/** Largest ATR (MAX_ATR_SIZE). */
export const MAX_WIRE_ATR_BYTES = MAX_ATR_SIZE;
/** Longest string (reader names, groups): far above MAX_READERNAME (128), which the daemon enforces itself. */
export const MAX_WIRE_STRING = 1024;
/** Longest error or diagnostic text; longer texts are cut by the sender. */
export const MAX_WIRE_MESSAGE = 4096;
/** Most reader states in one SCardGetStatusChange: above pcsc-lite's 16 (the daemon answers INVALID_PARAMETER), bounded. */
export const MAX_WIRE_READER_STATES = 64;
/** Most readers in a list (SCardListReaders result, readers event). */
export const MAX_WIRE_READERS = 256;
/** Request ids are non-negative safe integers. */
export const MAX_REQUEST_ID = Number.MAX_SAFE_INTEGER;

// ---------------------------------------------------------------------------------------------------------------------
// Wire shapes of arguments and results (JSON only)

/** A byte string as hex, two digits per byte. */
export type Hex = string;

export interface WireIoRequest {
  dwProtocol: number;
}
/** SCARD_READERSTATE input on the wire: pvUserData never leaves the client. */
export interface WireReaderStateIn {
  szReader: string;
  dwCurrentState: number;
}
export interface WireReaderStateOut {
  szReader: string;
  dwCurrentState: number;
  dwEventState: number;
  rgbAtr: Hex;
}

// ---------------------------------------------------------------------------------------------------------------------
// Envelopes

/** Client → connector: run one SCard* function. */
export interface CallMessage<F extends FunctionName = FunctionName> {
  v: 1;
  kind: 'call';
  id: number;
  fn: F;
  args: WireArgs[F];
}
/** Client → connector: liveness check (answered by `pong`, even before or without authorization). */
export interface PingMessage {
  v: 1;
  kind: 'ping';
  id: number;
}
/** Client → connector: start or stop receiving `readers` events (answered by a `result` with value null). */
export interface SubscribeMessage {
  v: 1;
  kind: 'subscribe' | 'unsubscribe';
  id: number;
}
export type ClientMessage = CallMessage | PingMessage | SubscribeMessage;
export type ClientMessageKind = ClientMessage['kind'];
export const CLIENT_MESSAGE_KINDS: readonly ClientMessageKind[] = ['call', 'ping', 'subscribe', 'unsubscribe'];

/** Connector → client: the outcome of a call or (un)subscribe. */
export interface OkResultMessage {
  v: 1;
  kind: 'result';
  id: number;
  ok: true;
  value: unknown;
}
/** The wire form of a PcscError. `code` is unsigned (0x80100069 = 2148532329), `name` its SCARD_* name. */
export interface WireError {
  code: number;
  name: string;
  message: string;
  /** SCARD_E_INSUFFICIENT_BUFFER: the length needed. */
  needed?: number;
  /** SCardGetStatusChange E_TIMEOUT / E_CANCELLED: the states as last evaluated. */
  readerStates?: WireReaderStateOut[];
}
export interface ErrResultMessage extends WireError {
  v: 1;
  kind: 'result';
  id: number;
  ok: false;
}
export type ResultMessage = OkResultMessage | ErrResultMessage;

/** Connector → client: answer to a ping. `instance` is random per connector start; a change means a restart. */
export interface PongMessage {
  v: 1;
  kind: 'pong';
  id: number;
  instance: string;
  version: string;
}

/** One reader as the `readers` event shows it. */
export interface WireReaderInfo {
  name: string;
  /** SCARD_STATE_* flags as in dwEventState (EMPTY, PRESENT, INUSE, EXCLUSIVE, MUTE, UNAVAILABLE…), event counter in the high 16 bits. */
  state: number;
  /** The card's ATR, hex ("" when no card). */
  atr: Hex;
}
export interface ReadersEvent {
  type: 'readers';
  readers: WireReaderInfo[];
}
/** Connector → client: pushed to subscribed clients whenever the reader list or a reader's state changes. */
export interface EventMessage {
  v: 1;
  kind: 'event';
  event: ReadersEvent;
}

/** Connector → client: a message could not be understood. `id` is present when one could be read from the message. */
export interface ErrorMessage {
  v: 1;
  kind: 'error';
  id?: number;
  message: string;
}

export type ConnectorMessage = ResultMessage | PongMessage | EventMessage | ErrorMessage;
export type ConnectorMessageKind = ConnectorMessage['kind'];
export const CONNECTOR_MESSAGE_KINDS: readonly ConnectorMessageKind[] = ['result', 'pong', 'event', 'error'];
