/** Untrusted names and strings on their way to a person (src/util/sanitize.ts). */
import { describe, expect, it } from 'vitest';
import {
  cleanName,
  escapeUnsafe,
  hasUnsafeCharacters,
  mixedScripts,
  nameView,
  quoteUntrusted,
  scriptsOf,
} from '../../../src/util/sanitize.js';

const RLO = '\u202e';
const LRI = '\u2066';
const PDI = '\u2069';
const ZWSP = '\u200b';

describe('cleanName', () => {
  it('drops bidirectional overrides and isolates, zero-width, control and separator characters', () => {
    expect(cleanName(`Good${RLO}deifirev ton${PDI} app`)).toBe('Gooddeifirev ton app');
    expect(cleanName(`a${LRI}b${ZWSP}c\u200e\u200f\u061c`)).toBe('abc');
    expect(cleanName('line one\nline two\r\n\t\u0000x\u2028y\u2029z')).toBe('line one line two x y z');
    expect(cleanName('\ue000private\udfff')).toBe('private'); // private use, lone surrogate
    expect(hasUnsafeCharacters(`x${RLO}`)).toBe(true);
    expect(hasUnsafeCharacters('Smart card hello world')).toBe(false);
  });

  it('collapses white space, trims and cuts at 128 code points', () => {
    expect(cleanName('  a   b  ')).toBe('a b');
    const long = cleanName('W'.repeat(500));
    expect([...long]).toHaveLength(128);
    expect(long.endsWith('…')).toBe(true);
    expect([...cleanName('😀'.repeat(200))]).toHaveLength(128); // never cut inside a surrogate pair
    expect(cleanName(42)).toBe('');
  });

  it('keeps ordinary names in any script as they are', () => {
    for (const n of ['Smart card hello world', 'Карта', 'スマートカード', 'בדיקה', 'Café № 5', 'Ελληνικά'])
      expect(cleanName(n)).toBe(n);
  });
});

describe('mixedScripts', () => {
  it('flags Latin mixed with Cyrillic or Greek look-alikes', () => {
    expect(mixedScripts('Gооgle')).toBe(true); // two Cyrillic o
    expect(mixedScripts('Smart Cаrd')).toBe(true); // Cyrillic a
    expect(mixedScripts('pαypal')).toBe(true); // Greek alpha
    expect([...scriptsOf('Gооgle')].sort()).toEqual(['Cyrillic', 'Latin']);
  });

  it('accepts one script, and the mixes UTS #39 calls highly restrictive', () => {
    expect(mixedScripts('Smart card hello world 2')).toBe(false);
    expect(mixedScripts('Смарт-карта')).toBe(false);
    expect(mixedScripts('スマートカード reader 漢字')).toBe(false); // Latin + Han + Katakana
    expect(mixedScripts('한국 카드 Han 漢')).toBe(false); // Latin + Han + Hangul
  });

  it('reports what it found for the prompt', () => {
    expect(nameView(`Gооgle${RLO}`)).toEqual({ text: 'Gооgle', removed: true, mixed: ['Latin', 'Cyrillic'] });
    expect(nameView('Plain')).toEqual({ text: 'Plain', removed: false, mixed: null });
  });
});

describe('quoteUntrusted and escapeUnsafe (log text)', () => {
  it('quotes, and writes line breaks and bidirectional controls as escapes', () => {
    const forged = 'x\n2026-12-03T10:00:00.000Z info  permissions: the user allowed evil';
    const q = quoteUntrusted(forged);
    expect(q).not.toContain('\n');
    expect(q).toBe('"x\\n2026-12-03T10:00:00.000Z info  permissions: the user allowed evil"');
    expect(quoteUntrusted(`a"b\\c${RLO}`)).toBe('"a\\"b\\\\c\\u202e"');
    expect(quoteUntrusted('\u2028')).toBe('"\\u2028"');
    expect(quoteUntrusted('y'.repeat(300), 10)).toBe(`"${'y'.repeat(9)}…"`);
    expect(escapeUnsafe('a\rb\u0007')).toBe('a\\rb\\u0007');
  });

  it('leaves plain text alone: printable ASCII, "→" and "…" are never unsafe (its fast path)', () => {
    const plain = [...Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)), '→', '…'];
    for (const c of plain) expect(hasUnsafeCharacters(c)).toBe(false);
    const line = `client "x" (abc): SCardTransmit → SCARD_S_SUCCESS (${plain.join('')})`;
    expect(escapeUnsafe(line)).toBe(line);
    // One unsafe character anywhere still gets the whole line escaped.
    expect(escapeUnsafe(`${line}\u0000`)).toBe(`${line}\\u0000`);
    expect(escapeUnsafe(`→${RLO}…\n`)).toBe('→\\u202e…\\n');
  });
});
