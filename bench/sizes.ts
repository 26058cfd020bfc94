/** Built sizes: every file under dist/connector and dist/hello-world-app, raw and gzip-compressed (level 9, per file). */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Figure } from './measure.js';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

export function sizeFigures(root: string): Figure[] {
  const out: Figure[] = [];
  for (const [id, dir] of [
    ['connector', 'dist/connector'],
    ['hello-world-app', 'dist/hello-world-app'],
  ] as const) {
    const abs = resolve(root, dir);
    let list: string[];
    try {
      list = files(abs);
    } catch {
      out.push({
        id: `size-${id}`,
        name: `built size of ${dir}`,
        unit: 'bytes',
        median: null,
        note: 'not built (npm run build)',
      });
      continue;
    }
    let raw = 0;
    let gz = 0;
    for (const f of list) {
      if (f.endsWith('.map')) continue;
      const b = readFileSync(f);
      raw += b.length;
      gz += gzipSync(b, { level: 9 }).length;
    }
    out.push({
      id: `size-${id}`,
      name: `built size of ${dir} (${list.filter((f) => !f.endsWith('.map')).length} files, no source maps)`,
      unit: 'bytes',
      median: raw,
    });
    out.push({ id: `size-${id}-gzip`, name: `built size of ${dir}, gzip -9 per file`, unit: 'bytes', median: gz });
  }
  return out;
}
