import { describe, expect, it } from 'vitest';
import { appendEdc } from '../../../src/ccid/edc.js';
import {
  decodeBlock,
  decodeBlockInPlace,
  describeBlock,
  encodeBlock,
  type T1Block,
} from '../../../src/ccid/t1-block.js';

const h = (s: string): Uint8Array =>
  Uint8Array.from(
    s
      .trim()
      .split(/\s+/)
      .map((x) => parseInt(x, 16)),
  );
const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).toUpperCase().padStart(2, '0')).join(' ');
/** A body with a correct LRC appended, so only the property under test is wrong. */
const lrcBlock = (body: string): Uint8Array => appendEdc(h(body), 'lrc');

describe('encodeBlock', () => {
  it.each<[string, T1Block, string]>([
    ['I(0) unchained', { type: 'I', ns: 0, more: false, inf: h('90 00') }, '00 00 02 90 00 92'],
    ['I(1) unchained', { type: 'I', ns: 1, more: false, inf: h('90 00') }, '00 40 02 90 00 D2'],
    [
      'I(0) chained',
      { type: 'I', ns: 0, more: true, inf: h('00 A4 04 00 16 75 36 41 70 70') },
      '00 20 0A 00 A4 04 00 16 75 36 41 70 70 9E',
    ],
    ['R(1) acknowledging', { type: 'R', nr: 1, error: 'none' }, '00 90 00 90'],
    ['R(0) EDC error', { type: 'R', nr: 0, error: 'edc' }, '00 81 00 81'],
    ['R(0) other error', { type: 'R', nr: 0, error: 'other' }, '00 82 00 82'],
    ['S(IFS request)', { type: 'S', kind: 'ifs', response: false, value: 10 }, '00 C1 01 0A CA'],
    ['S(IFS response)', { type: 'S', kind: 'ifs', response: true, value: 16 }, '00 E1 01 10 F0'],
    ['S(WTX response)', { type: 'S', kind: 'wtx', response: true, value: 9 }, '00 E3 01 09 EB'],
    ['S(RESYNCH request)', { type: 'S', kind: 'resynch', response: false }, '00 C0 00 C0'],
    ['S(ABORT response)', { type: 'S', kind: 'abort', response: true }, '00 E2 00 E2'],
  ])('encodes %s as the Annex A / libccid bytes', (_name, block, bytes) => {
    expect(hex(encodeBlock(block, { edc: 'lrc' }))).toBe(bytes);
  });

  it('encodes with CRC exactly as libccid sent S(IFS request, 254) to a real card', () => {
    expect(hex(encodeBlock({ type: 'S', kind: 'ifs', response: false, value: 254 }, { edc: 'crc' }))).toBe(
      '00 C1 01 FE 54 4E',
    );
  });

  it('puts the NAD first', () => {
    expect(hex(encodeBlock({ type: 'R', nr: 0, error: 'none' }, { nad: 0x21, edc: 'lrc' }))).toBe('21 80 00 A1');
  });

  it('refuses blocks that cannot exist, with a RangeError naming the problem', () => {
    expect(() => encodeBlock({ type: 'I', ns: 0, more: false, inf: new Uint8Array(255) }, { edc: 'lrc' })).toThrow(
      /255 bytes exceeds/,
    );
    expect(() => encodeBlock({ type: 'S', kind: 'ifs', response: false, value: 0 }, { edc: 'lrc' })).toThrow(
      /reserved/,
    );
    expect(() => encodeBlock({ type: 'S', kind: 'wtx', response: false }, { edc: 'lrc' })).toThrow(RangeError);
    expect(() => encodeBlock({ type: 'I', ns: 2 as 0, more: false, inf: h('00') }, { edc: 'lrc' })).toThrow(/N\(S\)/);
    expect(() => encodeBlock({ type: 'R', nr: 0, error: 'none' }, { nad: 256, edc: 'lrc' })).toThrow(/NAD/);
  });
});

describe('decodeBlock', () => {
  it('reads an I-block: N(S), M and the INF field', () => {
    expect(decodeBlock(h('00 60 07 00 02 8A 01 AA 90 00 A6 33'), 'crc')).toEqual({
      ok: true,
      nad: 0,
      block: { type: 'I', ns: 1, more: true, inf: h('00 02 8A 01 AA 90 00') },
    });
  });

  it('reads an empty final I-block (a real card ended its chain with one)', () => {
    expect(decodeBlock(h('00 00 00 39 33'), 'crc')).toEqual({
      ok: true,
      nad: 0,
      block: { type: 'I', ns: 0, more: false, inf: new Uint8Array(0) },
    });
  });

  it('reads R-blocks with their N(R) and error indication', () => {
    expect(decodeBlock(h('00 90 00 90'), 'lrc')).toMatchObject({
      ok: true,
      block: { type: 'R', nr: 1, error: 'none' },
    });
    expect(decodeBlock(h('00 81 00 81'), 'lrc')).toMatchObject({ ok: true, block: { type: 'R', nr: 0, error: 'edc' } });
    expect(decodeBlock(h('00 92 00 92'), 'lrc')).toMatchObject({
      ok: true,
      block: { type: 'R', nr: 1, error: 'other' },
    });
  });

  it('reads S-blocks and their value', () => {
    expect(decodeBlock(h('00 C3 01 09 CB'), 'lrc')).toMatchObject({
      ok: true,
      block: { type: 'S', kind: 'wtx', response: false, value: 9 },
    });
    expect(decodeBlock(h('00 E1 01 FE 57 75'), 'crc')).toMatchObject({
      ok: true,
      block: { type: 'S', kind: 'ifs', response: true, value: 254 },
    });
    expect(decodeBlock(h('00 E0 00 E0'), 'lrc')).toEqual({
      ok: true,
      nad: 0,
      block: { type: 'S', kind: 'resynch', response: true },
    });
    expect(decodeBlock(h('00 C2 00 C2'), 'lrc')).toMatchObject({ ok: true, block: { kind: 'abort', response: false } });
  });

  it('returns the NAD as received', () => {
    expect(decodeBlock(lrcBlock('12 00 00'), 'lrc')).toMatchObject({ ok: true, nad: 0x12 });
  });

  it('flags a wrong EDC as an EDC error (answered with R-block 0x81)', () => {
    const r = decodeBlock(h('00 00 07 75 74 77 74 75 90 00 1F'), 'lrc');
    expect(r).toEqual({ ok: false, reason: 'LRC mismatch', edcError: true });
    expect(decodeBlock(h('00 C1 01 FE 4E 54'), 'crc')).toMatchObject({ ok: false, edcError: true });
  });

  it.each<[string, Uint8Array, RegExp]>([
    ['empty input', new Uint8Array(0), /shorter/],
    ['a prologue without EDC', h('00 00 00'), /shorter/],
    ['LEN 0xFF', h('00 00 FF FF'), /0xFF is reserved/],
    ['LEN larger than the bytes', lrcBlock('00 00 05 01 02'), /LEN says 5/],
    ['LEN smaller than the bytes', lrcBlock('00 00 01 01 02'), /LEN says 1/],
    ['I-block with reserved PCB bits', lrcBlock('00 01 00'), /reserved bits/],
    ['R-block with b6 set', lrcBlock('00 A0 00'), /b6/],
    ['R-block with a reserved error coding', lrcBlock('00 83 00'), /reserved error/],
    ['R-block with INF', lrcBlock('00 80 01 00'), /must have none/],
    ['S-block with a reserved coding (former VPP error)', lrcBlock('00 E4 00'), /reserved coding/],
    ['S(WTX) without INF', lrcBlock('00 C3 00'), /exactly 1/],
    ['S(IFS) with two INF bytes', lrcBlock('00 C1 02 20 00'), /exactly 1/],
    ['S(IFS) with the reserved value 0', lrcBlock('00 C1 01 00'), /reserved/],
    ['S(IFS) with the reserved value 0xFF', lrcBlock('00 E1 01 FF'), /reserved/],
    ['S(RESYNCH) with INF', lrcBlock('00 C0 01 00'), /must have none/],
    ['S(ABORT) with INF', lrcBlock('00 E2 01 00'), /must have none/],
  ])('rejects %s as an invalid block that is not an EDC error', (_name, bytes, reason) => {
    const r = decodeBlock(bytes, 'lrc');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.edcError).toBe(false);
      expect(r.reason).toMatch(reason);
    }
  });

  it('does not share memory with the input buffer', () => {
    const bytes = lrcBlock('00 00 02 90 00');
    const r = decodeBlock(bytes, 'lrc');
    bytes[3] = 0;
    expect(r.ok && r.block.type === 'I' && Array.from(r.block.inf)).toEqual([0x90, 0x00]);
  });

  it('in place: the same verdicts, an I-block INF a view into the input', () => {
    const bytes = lrcBlock('00 40 02 90 00');
    expect(decodeBlockInPlace(bytes, 'lrc')).toEqual(decodeBlock(bytes, 'lrc'));
    const r = decodeBlockInPlace(bytes, 'lrc');
    bytes[3] = 0x61;
    expect(r.ok && r.block.type === 'I' && Array.from(r.block.inf)).toEqual([0x61, 0x00]);
    const bad = lrcBlock('00 00 02 90 00');
    bad[5] = bad[5]! ^ 1;
    expect(decodeBlockInPlace(bad, 'lrc')).toEqual(decodeBlock(bad, 'lrc'));
    expect(decodeBlockInPlace(bad, 'lrc').ok).toBe(false);
  });
});

describe('describeBlock', () => {
  it('names blocks the way the standard writes them', () => {
    expect(describeBlock({ type: 'I', ns: 1, more: true, inf: h('01 02') })).toBe('I(1, M=1, 2 bytes)');
    expect(describeBlock({ type: 'R', nr: 0, error: 'edc' })).toBe('R(0, EDC error)');
    expect(describeBlock({ type: 'S', kind: 'wtx', response: false, value: 2 })).toBe('S(WTX request, 2)');
  });
});

describe('encodeBlock with headroom', () => {
  it('puts the same block after that many zero bytes (LRC and CRC, short and long, every alignment)', () => {
    const blocks: T1Block[] = [
      { type: 'I', ns: 1, more: true, inf: Uint8Array.from({ length: 254 }, (_, i) => (i * 13 + 1) & 0xff) },
      { type: 'I', ns: 0, more: false, inf: Uint8Array.of(0x90, 0x00) },
      { type: 'R', nr: 1, error: 'none' },
      { type: 'S', kind: 'ifs', response: false, value: 254 },
    ];
    for (const edc of ['lrc', 'crc'] as const) {
      for (const block of blocks) {
        const plain = encodeBlock(block, { edc, nad: 0 });
        for (let headroom = 0; headroom <= 13; headroom++) {
          const roomy = encodeBlock(block, { edc, nad: 0, headroom });
          expect(roomy.length).toBe(headroom + plain.length);
          expect(Array.from(roomy.subarray(0, headroom))).toEqual(new Array(headroom).fill(0));
          expect(Array.from(roomy.subarray(headroom))).toEqual(Array.from(plain));
        }
      }
    }
  });

  it('rejects a headroom that is not 0..64 bytes', () => {
    for (const headroom of [-1, 2.5, 65]) {
      expect(() => encodeBlock({ type: 'R', nr: 0, error: 'none' }, { edc: 'lrc', headroom })).toThrow(RangeError);
    }
  });
});
