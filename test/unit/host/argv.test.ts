import { describe, expect, it } from 'vitest';
import { walkArgs, type ArgOption } from '../../../src/host/argv.js';

class Usage extends Error {}
const usage = (m: string) => new Usage(m);

/** Walks argv, handing each option to `take`, and records what each step saw. */
function walk(argv: string[], take: (o: ArgOption) => unknown = () => undefined): unknown[] {
  const seen: unknown[] = [];
  walkArgs(argv, usage, (o) => seen.push([o.name, o.inline, take(o)]));
  return seen;
}

describe('walkArgs', () => {
  it('splits --name=value and takes the next argument as a value only when asked', () => {
    expect(walk(['--a=1', '--b', '2', 'x'], (o) => (o.name === '--b' ? o.value() : null))).toEqual([
      ['--a', '1', null],
      ['--b', undefined, '2'],
      ['x', undefined, null],
    ]);
  });

  it('keeps everything after the first = in the value, and an empty one', () => {
    expect(walk(['--a=b=c', '--e='], (o) => o.value())).toEqual([
      ['--a', 'b=c', 'b=c'],
      ['--e', '', ''],
    ]);
  });

  it('refuses a missing value and one that looks like an option, but takes a lone dash', () => {
    expect(() => walk(['--s'], (o) => o.value())).toThrow(new Usage('--s needs a value'));
    expect(() => walk(['--s', '--t'], (o) => (o.name === '--s' ? o.value() : null))).toThrow('--s needs a value');
    expect(walk(['--s', '-'], (o) => o.value())).toEqual([['--s', undefined, '-']]);
  });

  it('refuses a value given to a flag', () => {
    expect(() => walk(['--demo=yes'], (o) => o.flag())).toThrow(new Usage('--demo takes no value'));
    expect(walk(['--demo'], (o) => o.flag())).toEqual([['--demo', undefined, true]]);
  });

  it('takes an optional value only when it is accepted', () => {
    const port = (o: ArgOption) => (o.name === '--vpcd' ? (o.optional((n) => /^\d+$/.test(n)) ?? 'default') : null);
    expect(walk(['--vpcd', '35963', '--demo'], port)).toEqual([
      ['--vpcd', undefined, '35963'],
      ['--demo', undefined, null],
    ]);
    expect(walk(['--vpcd', '--demo'], port)).toEqual([
      ['--vpcd', undefined, 'default'],
      ['--demo', undefined, null],
    ]);
    expect(walk(['--vpcd'], port)).toEqual([['--vpcd', undefined, 'default']]);
  });
});
