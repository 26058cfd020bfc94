/**
 * Built sizes: every file under dist/connector and dist/hello-world-app, raw and gzip-compressed (level 9, per file),
 * and issue 14's size goals as figures with their limits (raw bytes, no source maps; 1 KB = 1,000 bytes):
 * the connector's background.js ≤ 200 KB, the client library (dist/client-lib/index.js) ≤ 25 KB, the hello-world app
 * (every file of dist/hello-world-app but the maps) ≤ 30 KB.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Figure } from './measure.js';
import { composition } from '../scripts/bundle-composition.mjs';

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
      ...(id === 'hello-world-app' ? { goal: { max: 30_000, of: 'limit' as const } } : {}),
    });
    out.push({ id: `size-${id}-gzip`, name: `built size of ${dir}, gzip -9 per file`, unit: 'bytes', median: gz });
  }
  for (const [id, file, max] of [
    ['size-connector-background', 'dist/connector/background.js', 200_000],
    ['size-client-lib', 'dist/client-lib/index.js', 25_000],
  ] as const) {
    const abs = resolve(root, file);
    const built = existsSync(abs);
    out.push({
      id,
      name: `built size of ${file} (minified; its source map beside it is not counted)`,
      unit: 'bytes',
      median: built ? statSync(abs).size : null,
      goal: { max, of: 'limit' },
      ...(built ? {} : { note: 'not built (npm run build)' }),
    });
  }
  return out;
}

/**
 * Where the bytes of the two bundles with a size goal go (scripts/bundle-composition.mjs, from their source maps): the
 * `top` largest source modules of each, as lines to print beside the table. A bundle not built gives no lines.
 */
export function compositionLines(root: string, top = 10): string[] {
  const lines: string[] = [];
  for (const file of ['dist/connector/background.js', 'dist/client-lib/index.js']) {
    const abs = resolve(root, file);
    if (!existsSync(abs) || !existsSync(`${abs}.map`)) continue;
    const { total, bytes } = composition(abs, root);
    lines.push(`${file}: ${total.toLocaleString('en')} B; largest sources:`);
    for (const [name, n] of bytes.slice(0, top)) {
      lines.push(`  ${n.toLocaleString('en').padStart(7)} B  ${((100 * n) / total).toFixed(1).padStart(4)} %  ${name}`);
    }
  }
  return lines;
}
