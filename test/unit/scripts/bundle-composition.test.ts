import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { composition, decodeMappings } from '../../../scripts/bundle-composition.mjs';

describe('decodeMappings (Source Map v3 base64 VLQ)', () => {
  it('decodes columns relative within a line, reset per line, and source indexes relative across lines', () => {
    // AAAA: col 0, source 0. GCAA: col +3, source +1. Next line: AAAA col 0, source still 1; DDAA: col 1, source 0.
    // F: col +2 with no source (a 1-field segment). gBCAA: col +16 (two digits: continuation bit), source +1.
    expect(decodeMappings('AAAA,GCAA;AAAA,CDAA,E,gBCAA')).toEqual([
      [
        [0, 0],
        [3, 1],
      ],
      [
        [0, 1],
        [1, 0],
        [3, -1],
        [19, 1],
      ],
    ]);
  });

  it('reads negative values and empty lines', () => {
    expect(decodeMappings(';;KAAA,FCAA')).toEqual([
      [],
      [],
      [
        [5, 0],
        [3, 1],
      ],
    ]);
    expect(() => decodeMappings('A*AA')).toThrow(/bad base64 digit/);
  });
});

describe('composition', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bundle-composition-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("gives every byte of the file to the source its segment names, the rest to '(unmapped)'", () => {
    const file = join(dir, 'out.js');
    // Line 1: "ab" unmapped, "cde" from a.ts, "é!" (3 bytes in UTF-8) from b.ts, the newline unmapped.
    // Line 2: "xy" from a.ts.
    writeFileSync(file, 'abcdeé!\nxy');
    writeFileSync(
      `${file}.map`,
      JSON.stringify({ version: 3, sources: ['src/a.ts', 'src/b.ts'], names: [], mappings: 'EAAA,GCAA;ADAA' }),
    );
    const { total, bytes } = composition(file, dir);
    expect(total).toBe(11);
    expect(Object.fromEntries(bytes)).toEqual({ 'src/a.ts': 5, 'src/b.ts': 3, '(unmapped)': 3 });
    expect(bytes.reduce((s, [, n]) => s + n, 0)).toBe(total);
  });
});
