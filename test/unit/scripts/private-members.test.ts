import { describe, expect, it } from 'vitest';
import {
  findPrivateMembers,
  privateMemberNames,
  privateMembersPlugin,
  readPrivateMembers,
} from '../../../scripts/private-members.mjs';

describe('scripts/private-members.json', () => {
  it('is what the sources give (run node scripts/private-members.mjs after changing a private member)', async () => {
    expect(await findPrivateMembers()).toEqual(readPrivateMembers());
  }, 300_000);

  it('lists internal members only: none of the wire, chrome or client library names', () => {
    const names = new Set(readPrivateMembers());
    expect(names.size).toBeGreaterThan(0);
    for (const boundary of ['kind', 'id', 'fn', 'args', 'value', 'code', 'name', 'message', 'readers', 'state']) {
      expect(names.has(boundary)).toBe(false);
    }
    for (const api of ['SCardConnect', 'SCardTransmit', 'connect', 'reconnect', 'onMessage', 'postMessage']) {
      expect(names.has(api)).toBe(false);
    }
  });
});

describe('privateMemberNames', () => {
  it('gives every name its own short `$` name', () => {
    const names = Array.from({ length: 200 }, (_, i) => `member${i}`);
    const renamed = Object.values(privateMemberNames(names));
    expect(new Set(renamed).size).toBe(names.length);
    for (const name of renamed) expect(name).toMatch(/^\$[A-Za-z_$]{1,2}$/);
  });
});

describe('privateMembersPlugin', () => {
  it('renames the listed members in a chunk and nothing else, with a source map', async () => {
    const [listed] = readPrivateMembers();
    const renamed = privateMemberNames()[listed!]!;
    const code = `export class A { ${listed} = 1; kind = 'call'; get(o) { return this.${listed} + o.kind + o['${listed}']; } }\n`;
    const hook = privateMembersPlugin().renderChunk as unknown as (
      code: string,
      chunk: { fileName: string },
    ) => Promise<{ code: string; map: unknown }>;
    const out = await hook(code, { fileName: 'a.js' });
    expect(out.code).toContain(`${renamed} = 1`);
    expect(out.code).toContain(`this.${renamed}`);
    expect(out.code).not.toContain(`this.${listed}`);
    // Quoted names and other members stay: a string names a field the code cannot see through.
    expect(out.code).toContain(`o["${listed}"]`);
    expect(out.code).toContain('o.kind');
    expect(out.map).toBeTruthy();
  });
});
