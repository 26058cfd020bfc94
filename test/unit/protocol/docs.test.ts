import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUNCTION_NAMES, specOf, type Value } from '../../../src/protocol/functions.js';
import {
  MAX_WIRE_ATR_BYTES,
  MAX_WIRE_BYTES,
  MAX_WIRE_MESSAGE,
  MAX_WIRE_READERS,
  MAX_WIRE_READER_STATES,
  MAX_WIRE_STRING,
} from '../../../src/protocol/messages.js';

/**
 * docs/protocol.md is what client authors read; the function table (src/protocol/functions.ts) is what both ends run.
 * These tests hold the one to the other: every function documented with exactly its arguments and result, nothing extra,
 * and the limits as the codec applies them.
 */
const doc = readFileSync(resolve(import.meta.dirname, '../../../docs/protocol.md'), 'utf8');

/** The section under a `## title` heading, up to the next one. */
function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`docs/protocol.md has no section "${title}"`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

/** The body rows of the first Markdown table in `text`, cells trimmed, `\|` read as `|`, code quotes removed. */
function tableRows(text: string): string[][] {
  const lines = text.split('\n').filter((l) => l.startsWith('|'));
  return lines.slice(2).map((line) =>
    line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) =>
        c
          .trim()
          .replace(/\\\|/g, '|')
          .replace(/^`(.*)`$/, '$1'),
      ),
  );
}

/** Plain values (u32, handles, strings) are shown by name only; the others as `name: type`. */
const PLAIN = new Set(['u32', 'handle', 'string']);

function typeOf(v: Value): string {
  switch (v.kind) {
    case 'object':
      return `{${Object.entries(v.fields ?? {})
        .map(([k, f]) => named(k, f))
        .join(', ')}}`;
    case 'list':
      return v.item!.kind === 'object' ? `[${typeOf(v.item!)}…]` : `${v.item!.kind}[]`;
    default:
      return v.kind;
  }
}

function named(name: string, v: Value): string {
  return PLAIN.has(v.kind) ? name : `${name}: ${typeOf(v)}`;
}

describe('docs/protocol.md against the function table', () => {
  const rows = tableRows(section('Functions'));

  it('documents every function once and nothing else', () => {
    const documented = rows.map((r) => r[0]);
    expect([...documented].sort()).toEqual([...FUNCTION_NAMES].sort());
    expect(new Set(documented).size).toBe(documented.length);
  });

  it.each(FUNCTION_NAMES)('%s: its arguments and its result as the table has them', (fn) => {
    const row = rows.find((r) => r[0] === fn);
    expect(row, `${fn} is not documented`).toBeDefined();
    const spec = specOf(fn);
    expect(row![1]).toBe(`[${spec.args.map((a) => named(a.name, a)).join(', ')}]`);
    expect(row![2]).toBe(spec.result.kind === 'null' ? 'null' : typeOf(spec.result));
    expect(row).toHaveLength(3);
  });

  it('names the string values and the handles it leaves untyped', () => {
    const note =
      section('Functions')
        .split('\n\n')
        .find((p) => p.startsWith('A value without a type')) ?? '';
    const strings = new Set<string>();
    const handles = new Set<string>();
    const visit = (name: string, v: Value) => {
      if (v.kind === 'string') strings.add(name);
      if (v.kind === 'handle') handles.add(name);
      for (const [k, f] of Object.entries(v.fields ?? {})) visit(k, f);
      if (v.item) visit(name, v.item);
    };
    for (const fn of FUNCTION_NAMES) {
      const spec = specOf(fn);
      for (const a of spec.args) visit(a.name, a);
      visit('', spec.result);
    }
    for (const name of strings) expect(note).toContain(`\`${name}\``);
    expect(note).toContain('`hContext` is a context handle');
    expect(note).toContain('`hCard` a card handle');
    expect([...handles].sort()).toEqual(['hCard', 'hContext']);
  });

  it('states the limits the codec applies', () => {
    const rows = tableRows(section('Validation and limits'));
    /** The number a row's value starts with ("65 548 (MAX_BUFFER_SIZE_EXTENDED)" → 65548). */
    const number = (label: string) =>
      Number(
        rows
          .find((r) => r[0] === label)?.[1]
          ?.replace(/\s/g, '')
          .match(/^\d+/)?.[0],
      );
    expect(number('bytes in one field')).toBe(MAX_WIRE_BYTES);
    expect(number('ATR')).toBe(MAX_WIRE_ATR_BYTES);
    expect(number('strings')).toBe(MAX_WIRE_STRING);
    expect(number('reader states in one call')).toBe(MAX_WIRE_READER_STATES);
    expect(number('readers in a list or event')).toBe(MAX_WIRE_READERS);
    expect(number('error texts')).toBe(MAX_WIRE_MESSAGE);
  });
});
