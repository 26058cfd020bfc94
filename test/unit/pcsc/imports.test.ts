/**
 * The daemon's layering, as pcsc-lite's: pcscd owns the driver interface (src/ifd) and reaches a driver only through
 * it, so src/pcsc imports nothing but itself and src/ifd: no driver (src/ccid), no simulator, no edge, no platform.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const pcscDir = join(root, 'src/pcsc');

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^;]*?from\s+'([^']+)'/g)].map((m) => m[1] ?? '');
}

describe('src/pcsc imports', () => {
  const files = readdirSync(pcscDir).filter((f) => f.endsWith('.ts'));

  it('finds the daemon sources and their imports', () => {
    expect(files).toContain('winscard.ts');
    expect(importsOf(join(pcscDir, 'winscard.ts'))).toEqual(
      expect.arrayContaining(['../ifd/errors.js', './constants.js']),
    );
  });

  it.each(files)('%s imports only src/pcsc, src/ifd and src/util', (file) => {
    for (const spec of importsOf(join(pcscDir, file))) {
      expect(spec.startsWith('.'), `${file} imports the package "${spec}"`).toBe(true);
      const target = relative(root, resolve(pcscDir, spec));
      expect(
        target.startsWith('src/pcsc/') || target.startsWith('src/ifd/') || target.startsWith('src/util/'),
        `${file} imports ${target}`,
      ).toBe(true);
    }
  });
});
