/**
 * Chrome's native messaging framing: 4-byte length in the machine's byte order + UTF-8 JSON. The decoder must take
 * stdin as it comes (split anywhere, several frames per chunk) and refuse, with a FramingError naming the problem and
 * never echoing the data, a length beyond the limit, bytes that are not UTF-8 and text that is not JSON.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FrameDecoder,
  FrameTooLargeError,
  FramingError,
  NATIVE_LITTLE_ENDIAN,
  encodeFrame,
} from '../../../../src/host/native/framing.js';
import { MAX_NATIVE_MESSAGE_TO_BROWSER, MAX_NATIVE_MESSAGE_TO_HOST } from '../../../../src/protocol/native.js';

function frame(body: Uint8Array, length = body.length): Buffer {
  const head = Buffer.alloc(4);
  if (NATIVE_LITTLE_ENDIAN) head.writeUInt32LE(length);
  else head.writeUInt32BE(length);
  return Buffer.concat([head, body]);
}

/** Splits `bytes` at the given cut points (sorted, deduplicated, within range). */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out;
}

const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);

describe('encodeFrame', () => {
  it('writes the UTF-8 length in the machine byte order, then the JSON', () => {
    const f = encodeFrame('{"a":"é"}');
    expect(f.length).toBe(4 + 10);
    expect(NATIVE_LITTLE_ENDIAN ? f.readUInt32LE(0) : f.readUInt32BE(0)).toBe(10);
    expect(f.subarray(4).toString('utf8')).toBe('{"a":"é"}');
  });

  it("refuses a message beyond Chrome's 1 MiB limit from host to browser, and takes one at the limit", () => {
    const at = `"${'x'.repeat(MAX_NATIVE_MESSAGE_TO_BROWSER - 2)}"`;
    expect(encodeFrame(at).length).toBe(4 + MAX_NATIVE_MESSAGE_TO_BROWSER);
    const over = `"${'x'.repeat(MAX_NATIVE_MESSAGE_TO_BROWSER - 1)}"`;
    expect(() => encodeFrame(over)).toThrow(FrameTooLargeError);
    expect(() => encodeFrame(over)).toThrow(/1048577 bytes exceeds the native messaging limit of 1048576/);
  });
});

describe('FrameDecoder', () => {
  it('decodes frames split anywhere and merged in any way (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(json, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (values, cuts) => {
        const stream = Buffer.concat(values.map((v) => encodeFrame(JSON.stringify(v))));
        const d = new FrameDecoder();
        const got: unknown[] = [];
        for (const chunk of split(stream, cuts)) got.push(...d.push(chunk));
        expect(got).toEqual(values);
        expect(d.pending).toBe(0);
        d.end();
      }),
      { numRuns: 300 },
    );
  });

  it('decodes one byte at a time', () => {
    const values = [{ v: 1, kind: 'ping', id: 1 }, 'ß', [1, 2, 3], null];
    const stream = Buffer.concat(values.map((v) => encodeFrame(JSON.stringify(v))));
    const d = new FrameDecoder();
    const got: unknown[] = [];
    for (const b of stream) got.push(...d.push(Uint8Array.of(b)));
    expect(got).toEqual(values);
  });

  it('does not keep a reference to the caller buffer', () => {
    const f = encodeFrame('{"a":1}');
    const d = new FrameDecoder();
    const chunk = Buffer.from(f.subarray(0, 6));
    expect(d.push(chunk)).toEqual([]);
    chunk.fill(0);
    expect(d.push(f.subarray(6))).toEqual([{ a: 1 }]);
    // A whole message read in place, then the start of the next one held as a copy.
    const g = encodeFrame('{"b":2}');
    const both = Buffer.concat([f, g.subarray(0, 5)]);
    expect(d.push(both)).toEqual([{ a: 1 }]);
    both.fill(0);
    expect(d.push(g.subarray(5))).toEqual([{ b: 2 }]);
  });

  it('refuses a hostile length at once, before its bytes arrive, and stays failed (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1025, max: 0xffffffff }), (length) => {
        const d = new FrameDecoder(1024);
        expect(() => d.push(frame(new Uint8Array(0), length))).toThrow(FramingError);
        expect(() => d.push(encodeFrame('1'))).toThrow(/already failed/);
      }),
    );
    const d = new FrameDecoder();
    expect(() => d.push(frame(new Uint8Array(0), MAX_NATIVE_MESSAGE_TO_HOST + 1))).toThrow(
      /announces 67108865 bytes, beyond the limit of 67108864 bytes/,
    );
  });

  it('takes a length of exactly the limit', () => {
    const d = new FrameDecoder(8);
    expect(d.push(frame(Buffer.from('"123456"')))).toEqual(['123456']);
  });

  it('refuses bytes that are not UTF-8, without echoing them', () => {
    const d = new FrameDecoder();
    let err: unknown;
    try {
      d.push(frame(Uint8Array.of(0x22, 0xff, 0xfe, 0x22)));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FramingError);
    expect((err as Error).message).toBe('a frame of 4 bytes is not valid UTF-8');
  });

  it('refuses text that is not JSON, naming its length only', () => {
    const d = new FrameDecoder();
    expect(() => d.push(frame(Buffer.from('{"secret": 3F00')))).toThrow('a frame of 15 bytes is not valid JSON');
  });

  it('refuses random garbage with a FramingError or decodes it, never anything else (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const d = new FrameDecoder(4096);
        try {
          d.push(bytes);
          d.end();
        } catch (e) {
          expect(e).toBeInstanceOf(FramingError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('reports a stream that ends inside a frame', () => {
    const d = new FrameDecoder();
    d.push(encodeFrame('{"a":1}').subarray(0, 5));
    expect(() => d.end()).toThrow(/ended inside a frame \(5 bytes/);
    const e = new FrameDecoder();
    e.push(encodeFrame('1'));
    expect(() => e.end()).not.toThrow();
  });

  it('reads the length in the byte order it is given', () => {
    const be = Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from('42')]);
    expect(new FrameDecoder(1024, false).push(be)).toEqual([42]);
    expect(() => new FrameDecoder(1024, true).push(be)).toThrow(FramingError);
  });
});
