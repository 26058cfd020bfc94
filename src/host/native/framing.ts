/**
 * Chrome's native messaging framing (docs/protocol.md, "Native messaging"): each message is a 32-bit length in the
 * machine's byte order, then that many bytes of UTF-8 JSON. Chrome sends at most MAX_NATIVE_MESSAGE_TO_HOST bytes per
 * message; the host may send at most MAX_NATIVE_MESSAGE_TO_BROWSER (one byte more and Chrome drops the port).
 *
 * The decoder takes stdin as it comes: a chunk may hold part of a length, several messages, or a message's end and the
 * next one's start. Anything that cannot be a message from Chrome (a length beyond the limit, bytes that are not UTF-8,
 * text that is not JSON) is a FramingError: the stream cannot be resynchronised after it, so the host logs it and
 * exits.
 */
import { endianness } from 'node:os';
import { MAX_NATIVE_MESSAGE_TO_BROWSER, MAX_NATIVE_MESSAGE_TO_HOST } from '../../protocol/native.js';

/** The length prefix's byte order: the machine's own, as Chrome writes and reads it. */
export const NATIVE_LITTLE_ENDIAN = endianness() === 'LE';

export class FramingError extends Error {
  override name = 'FramingError';
}

/** A message whose JSON is longer than the receiving side accepts. */
export class FrameTooLargeError extends Error {
  override name = 'FrameTooLargeError';
  constructor(
    readonly length: number,
    readonly limit: number,
  ) {
    super(`a message of ${length} bytes exceeds the native messaging limit of ${limit} bytes`);
  }
}

function readLength(buf: Buffer, offset: number, littleEndian: boolean): number {
  return littleEndian ? buf.readUInt32LE(offset) : buf.readUInt32BE(offset);
}

/** One frame: the length prefix and the JSON's UTF-8 bytes. Throws FrameTooLargeError beyond `limit` bytes. */
export function encodeFrame(
  json: string,
  limit: number = MAX_NATIVE_MESSAGE_TO_BROWSER,
  littleEndian: boolean = NATIVE_LITTLE_ENDIAN,
): Buffer {
  // The JSON is written straight after the length: one buffer, no intermediate copy of the body.
  const length = Buffer.byteLength(json, 'utf8');
  if (length > limit) throw new FrameTooLargeError(length, limit);
  const frame = Buffer.allocUnsafe(4 + length);
  if (littleEndian) frame.writeUInt32LE(length, 0);
  else frame.writeUInt32BE(length, 0);
  frame.write(json, 4, 'utf8');
  return frame;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Splits a byte stream into messages (parsed JSON values). */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #failed = false;

  constructor(
    private readonly limit: number = MAX_NATIVE_MESSAGE_TO_HOST,
    private readonly littleEndian: boolean = NATIVE_LITTLE_ENDIAN,
  ) {}

  /** Bytes held that do not yet make a whole message. */
  get pending(): number {
    return this.#buffered;
  }

  /**
   * Adds a chunk; returns the messages it completes, in order. Throws FramingError at the first bad frame (and on
   * every call after it: the stream has no way back to a frame boundary).
   */
  push(chunk: Uint8Array): unknown[] {
    if (this.#failed) throw new FramingError('the stream already failed: no frame boundary to resume at');
    // The usual case, one or more whole messages in a chunk and nothing held: read them where they are, keeping a copy
    // of an unfinished tail only (Chrome writes each message whole; Node reads the pipe 64 KiB at a time).
    if (this.#buffered === 0 && chunk.length >= 4) return this.#pushWhole(chunk);
    if (chunk.length > 0) {
      // A copy: the caller may reuse its buffer.
      this.#chunks.push(Buffer.from(chunk));
      this.#buffered += chunk.length;
    }
    const out: unknown[] = [];
    for (;;) {
      if (this.#buffered < 4) break;
      const head = this.#head(4);
      const length = readLength(head, 0, this.littleEndian);
      if (length > this.limit) this.#tooLarge(length);
      if (this.#buffered < 4 + length) break;
      const whole = this.#head(4 + length);
      this.#consume(4 + length);
      out.push(this.#parse(whole.subarray(4)));
    }
    return out;
  }

  /** push() with nothing held: frames parsed from `chunk` in place; a partial frame at its end is copied and held. */
  #pushWhole(chunk: Uint8Array): unknown[] {
    const out: unknown[] = [];
    const view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    let at = 0;
    while (chunk.length - at >= 4) {
      const length = readLength(view, at, this.littleEndian);
      if (length > this.limit) this.#tooLarge(length);
      if (chunk.length - at < 4 + length) break;
      out.push(this.#parse(view.subarray(at + 4, at + 4 + length)));
      at += 4 + length;
    }
    if (at < chunk.length) {
      // A copy: the caller may reuse its buffer.
      this.#chunks.push(Buffer.from(view.subarray(at)));
      this.#buffered = chunk.length - at;
    }
    return out;
  }

  #tooLarge(length: number): never {
    this.#failed = true;
    throw new FramingError(
      `a frame announces ${length} bytes, beyond the limit of ${this.limit} bytes ` +
        '(not a native messaging stream, or a length in another byte order than this machine uses)',
    );
  }

  /** Whether the stream ended between frames (bytes left over mean a message was cut short). */
  end(): void {
    if (this.#buffered > 0 && !this.#failed) {
      this.#failed = true;
      throw new FramingError(`the stream ended inside a frame (${this.#buffered} bytes of an unfinished message)`);
    }
  }

  #parse(body: Buffer): unknown {
    let text: string;
    try {
      text = UTF8.decode(body);
    } catch {
      this.#failed = true;
      throw new FramingError(`a frame of ${body.length} bytes is not valid UTF-8`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      this.#failed = true;
      // The text itself is not echoed: it came from outside (docs: error texts name the field, its type, its length).
      throw new FramingError(`a frame of ${body.length} bytes is not valid JSON`);
    }
  }

  /** The first `n` buffered bytes as one Buffer (merging chunks only when a frame spans them). */
  #head(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const merged = Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = [merged];
    return merged.subarray(0, n);
  }

  #consume(n: number): void {
    const first = this.#chunks[0]!;
    // #head(n) ran first, so the first chunk holds at least n bytes.
    if (first.length === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#buffered -= n;
  }
}
