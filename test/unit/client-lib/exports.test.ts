import { describe, expect, it } from 'vitest';
import * as lib from '../../../client-lib/src/index.js';
import { pinnedExports, serialiseExports } from './pinned-exports.js';

describe('the client library API', () => {
  it('exports exactly the pinned names and values, the group objects in their key order', () => {
    const pinned = JSON.parse(pinnedExports()) as Record<string, unknown>;
    expect(Object.keys(JSON.parse(serialiseExports(lib)) as object)).toEqual(Object.keys(pinned));
    expect(serialiseExports(lib)).toBe(pinnedExports());
  });

  it('would notice a renumbered constant or a reordered group', () => {
    const changed = { ...lib, SCARD_SCOPES: { SCARD_SCOPE_TERMINAL: 1, SCARD_SCOPE_USER: 0 } };
    expect(serialiseExports(changed)).not.toBe(pinnedExports());
    expect(serialiseExports({ ...lib, SCARD_E_TIMEOUT: 0x8010000b })).not.toBe(pinnedExports());
  });
});
