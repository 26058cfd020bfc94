import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * The client library's public API, pinned: every export name and every value (the group objects key by key, in
 * order; functions and classes only as such). exports.json was taken from the built library before the size work of
 * issue 14, so a change that makes the bundle smaller cannot rename, drop, add or renumber anything unnoticed.
 * exports.test.ts holds the sources to it, package.test.ts the built dist/client-lib/index.js.
 */

/** exports.json as one line of JSON (JSON.parse keeps the key order). */
export function pinnedExports(): string {
  return JSON.stringify(JSON.parse(readFileSync(resolve(import.meta.dirname, 'exports.json'), 'utf8')));
}

/** An export as JSON: functions and classes as `{ function: true }`, objects key by key in their own order. */
function serialiseExport(value: unknown): unknown {
  if (typeof value === 'function') return { function: true };
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    return Object.fromEntries(Object.keys(record).map((k) => [k, serialiseExport(record[k])]));
  }
  return value;
}

/** Every export of a module namespace, sorted by name, as one line of JSON (key order included). */
export function serialiseExports(ns: object): string {
  const record = ns as Record<string, unknown>;
  const sorted = Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((k) => [k, serialiseExport(record[k])]),
  );
  return JSON.stringify(sorted);
}
