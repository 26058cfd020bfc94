#!/usr/bin/env node
/**
 * Where a bundle's bytes go (issue 14): attributes every byte of a minified file to the source module its source map
 * names for it, and prints the modules by bytes, largest first.
 *
 *   node scripts/bundle-composition.mjs dist/connector/background.js [more files…] [--top N] [--json]
 *
 * A mapping segment covers the bytes from its generated column to the next segment's on the same line (or to the
 * end of the line); bytes before a line's first segment, newlines and segments without a source count as
 * "(unmapped)" — the bundler's own glue. The mappings are decoded here (Source Map v3 base64 VLQ, a few lines), so
 * this needs no dependency.
 */
import { readFileSync } from 'node:fs';
import { relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_VALUE[B64.charCodeAt(i)] = i;

/**
 * Decodes a Source Map v3 `mappings` string into, per generated line, its segments as [column, sourceIndex | -1]
 * (the only fields needed to attribute bytes to sources; names and original positions are decoded and dropped).
 */
export function decodeMappings(mappings) {
  const lines = [[]];
  let source = 0;
  let i = 0;
  let column = 0;
  const fields = [];
  while (i < mappings.length) {
    const c = mappings[i];
    if (c === ';') {
      lines.push([]);
      column = 0;
      i++;
      continue;
    }
    if (c === ',') {
      i++;
      continue;
    }
    fields.length = 0;
    while (i < mappings.length && mappings[i] !== ',' && mappings[i] !== ';') {
      // One base64 VLQ: 5 value bits per digit, continuation in bit 5, the sign in the lowest bit of the first digit.
      let value = 0;
      let shift = 0;
      let digit;
      do {
        digit = B64_VALUE[mappings.charCodeAt(i++)];
        if (digit === undefined || digit < 0) throw new Error(`bad base64 digit at offset ${i - 1} of mappings`);
        value += (digit & 31) * 2 ** shift;
        shift += 5;
      } while (digit & 32);
      fields.push(value % 2 === 1 ? -(value - 1) / 2 : value / 2);
    }
    column += fields[0];
    if (fields.length >= 4) {
      source += fields[1];
      lines[lines.length - 1].push([column, source]);
    } else {
      lines[lines.length - 1].push([column, -1]);
    }
  }
  return lines;
}

/** Bytes (UTF-8) per source path (relative to `root`) of `file`, from `file.map` beside it, largest first. */
export function composition(file, root = process.cwd()) {
  const code = readFileSync(file);
  const map = JSON.parse(readFileSync(`${file}.map`, 'utf8'));
  const base = resolve(dirname(file), map.sourceRoot ?? '');
  const names = map.sources.map((s) => relative(root, resolve(base, s)));
  const decoded = decodeMappings(map.mappings);
  const bytes = new Map();
  const add = (key, n) => bytes.set(key, (bytes.get(key) ?? 0) + n);
  const text = code.toString('utf8');
  const lines = text.split('\n');
  lines.forEach((line, n) => {
    // Columns in source maps count UTF-16 code units; byte sizes count UTF-8, so measure each slice in UTF-8.
    const segments = decoded[n] ?? [];
    const size = (from, to) => Buffer.byteLength(line.slice(from, to), 'utf8');
    if (segments.length === 0) add('(unmapped)', size(0));
    else add('(unmapped)', size(0, segments[0][0]));
    segments.forEach(([column, source], k) => {
      const end = k + 1 < segments.length ? segments[k + 1][0] : line.length;
      add(source >= 0 ? names[source] : '(unmapped)', size(column, end));
    });
    if (n + 1 < lines.length) add('(unmapped)', 1);
  });
  return { total: code.length, bytes: [...bytes].sort((a, b) => b[1] - a[1]) };
}

function main(argv) {
  let top = 25;
  let json = false;
  const files = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--top') top = Number(argv[++i]);
    else if (argv[i] === '--json') json = true;
    else files.push(argv[i]);
  }
  if (files.length === 0) {
    console.error('usage: node scripts/bundle-composition.mjs FILE.js [FILE.js…] [--top N] [--json]');
    process.exit(2);
  }
  const out = {};
  for (const file of files) {
    const { total, bytes } = composition(file);
    out[file] = { total, bytes: Object.fromEntries(bytes) };
    if (json) continue;
    const sum = bytes.reduce((s, [, n]) => s + n, 0);
    console.log(`${file}: ${total.toLocaleString('en')} B (attributed ${sum.toLocaleString('en')} B)`);
    for (const [name, n] of bytes.slice(0, top)) {
      console.log(`  ${n.toString().padStart(8)}  ${((100 * n) / total).toFixed(1).padStart(5)} %  ${name}`);
    }
    if (bytes.length > top) {
      const rest = bytes.slice(top).reduce((s, [, n]) => s + n, 0);
      console.log(
        `  ${rest.toString().padStart(8)}  ${((100 * rest) / total).toFixed(1).padStart(5)} %  ` +
          `(${bytes.length - top} more)`,
      );
    }
  }
  if (json) console.log(JSON.stringify(out, null, 2));
}

// Run as a script (not when bundled into dist/node/bench.js, whose import.meta.url is the bundle's).
const self = fileURLToPath(import.meta.url);
if (self.endsWith('bundle-composition.mjs') && process.argv[1] && self === resolve(process.argv[1])) {
  main(process.argv.slice(2));
}
