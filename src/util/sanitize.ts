/**
 * Untrusted text on its way to a person: the name an app gives itself, USB strings, reader names. Pure (no platform
 * API), shared by the connector's log and window and the USB edge.
 *
 * Two uses, two tools:
 *  - `cleanName` for display: drops control, format (bidirectional overrides and isolates, zero-width characters),
 *    line and paragraph separators, private-use and unassigned code points, collapses white space and cuts the length.
 *    What is left cannot reorder the text around it or break a line.
 *  - `quoteUntrusted` for log text: the string in double quotes with every such character written as an escape, so a
 *    name holding "\n2026-01-01T00:00:00.000Z info permissions: the user allowed …" stays on its own line, visibly
 *    quoted, and cannot pass for a line of its own in the window or the export.
 * `mixedScripts` flags names whose letters come from scripts that are not normally written together (Latin with
 * Cyrillic or Greek look-alikes), following the "highly restrictive" level of Unicode TS #39 §5.2.
 */

/** Characters that never belong in a name or a log line (Unicode categories Cc, Cf, Zl, Zp, Co, Cn, lone surrogates). */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\p{Cs}]/gu;

/** The longest name kept for display (as the grants store it). */
export const MAX_NAME = 128;

/** A name for display: unsafe characters removed, white space collapsed and trimmed, at most `max` code points. */
export function cleanName(text: unknown, max = MAX_NAME): string {
  if (typeof text !== 'string') return '';
  // Line and paragraph breaks and tabs separate words: they become spaces; every other unsafe character goes.
  const clean = text
    .replace(/[\t\n\v\f\r\u0085\u2028\u2029]/g, ' ')
    .replace(UNSAFE, '')
    .replace(/\s+/gu, ' ')
    .trim();
  const points = [...clean];
  return points.length <= max ? clean : `${points.slice(0, max - 1).join('')}…`;
}

/** True when the text holds a character `cleanName` would remove. */
export function hasUnsafeCharacters(text: string): boolean {
  UNSAFE.lastIndex = 0;
  const found = UNSAFE.test(text);
  UNSAFE.lastIndex = 0;
  return found;
}

function escapeChar(c: string): string {
  switch (c) {
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    default: {
      const cp = c.codePointAt(0)!;
      return cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\u{${cp.toString(16)}}`;
    }
  }
}

/**
 * Printable ASCII and the two characters the connector's own log lines use ("→", "…"): none of them is in UNSAFE (a
 * unit test checks it). Most log text is made of these only, and this test is much cheaper than UNSAFE's Unicode
 * property classes, which cost microseconds per line on the call log.
 */
const PLAIN = /^[\x20-\x7e\u2026\u2192]*$/;

/** Text for a log line: every unsafe character written as an escape ("\n", "\u202e"); nothing else changes. */
export function escapeUnsafe(text: string): string {
  return PLAIN.test(text) ? text : text.replace(UNSAFE, escapeChar);
}

/**
 * An untrusted string inside log text: in double quotes (inner quotes and backslashes escaped), unsafe characters as
 * escapes, cut to `max` code points.
 */
export function quoteUntrusted(text: unknown, max = MAX_NAME): string {
  const s = typeof text === 'string' ? text : String(text);
  const points = [...s];
  const cut = points.length <= max ? s : `${points.slice(0, max - 1).join('')}…`;
  return `"${escapeUnsafe(cut.replace(/[\\"]/g, (c) => `\\${c}`))}"`;
}

/** Scripts a letter may belong to; Common and Inherited (digits, punctuation, combining marks) are not counted. */
const SCRIPTS = [
  'Latin',
  'Greek',
  'Cyrillic',
  'Armenian',
  'Georgian',
  'Hebrew',
  'Arabic',
  'Devanagari',
  'Bengali',
  'Thai',
  'Han',
  'Hiragana',
  'Katakana',
  'Hangul',
  'Bopomofo',
  'Cherokee',
] as const;
/**
 * One Unicode-property pattern per script, made on the first name checked: sixteen `\p{Script=…}` classes cost about a
 * millisecond to build, which the connector's worker would otherwise pay at every start (issue 14) for a check that
 * only names in the window and the prompt need.
 */
let scriptRes: ReadonlyArray<readonly [string, RegExp]> | undefined;
function scriptPatterns(): ReadonlyArray<readonly [string, RegExp]> {
  scriptRes ??= SCRIPTS.map((name) => [name, new RegExp(`\\p{Script=${name}}`, 'u')] as const);
  return scriptRes;
}

/** UTS #39 §5.2 "highly restrictive": the sets of scripts that may be mixed in one name. */
const ALLOWED_MIXES: ReadonlyArray<ReadonlySet<string>> = [
  new Set(['Latin', 'Han', 'Hiragana', 'Katakana']),
  new Set(['Latin', 'Han', 'Bopomofo']),
  new Set(['Latin', 'Han', 'Hangul']),
];

/** The scripts of the letters in `text` (letters of other scripts count as "Other"). */
export function scriptsOf(text: string): Set<string> {
  const out = new Set<string>();
  for (const c of text) {
    if (!/\p{L}/u.test(c) || /[\p{Script=Common}\p{Script=Inherited}]/u.test(c)) continue;
    const hit = scriptPatterns().find(([, re]) => re.test(c));
    out.add(hit ? hit[0] : 'Other');
  }
  return out;
}

/** True when the letters of `text` mix scripts not normally written together (a look-alike spelling). */
export function mixedScripts(text: string): boolean {
  const scripts = scriptsOf(text);
  if (scripts.size <= 1) return false;
  return !ALLOWED_MIXES.some((allowed) => [...scripts].every((s) => allowed.has(s)));
}

/** A name as the prompt and the window show it: cleaned, and what a person should know about the original. */
export interface NameView {
  /** The cleaned name ('' when nothing is left). */
  text: string;
  /** Characters were removed (controls, bidirectional overrides, zero-width characters…). */
  removed: boolean;
  /** The scripts mixed in it, when they are not normally written together (look-alike letters); else null. */
  mixed: string[] | null;
}

export function nameView(raw: unknown): NameView {
  const s = typeof raw === 'string' ? raw : '';
  const text = cleanName(s);
  return {
    text,
    removed: hasUnsafeCharacters(s),
    mixed: mixedScripts(text) ? [...scriptsOf(text)] : null,
  };
}
