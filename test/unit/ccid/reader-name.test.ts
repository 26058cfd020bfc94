import { describe, expect, it } from 'vitest';
import { friendlyName } from '../../../src/ccid/reader-name.js';

describe('friendlyName', () => {
  it('joins iManufacturer and iProduct with a space', () => {
    expect(friendlyName({ manufacturer: 'Gemalto', product: 'GemPC Twin' })).toBe('Gemalto GemPC Twin');
  });

  it('prefers the known-readers name, as pcscd shows libccid names', () => {
    expect(
      friendlyName({ manufacturer: 'Gemalto', product: 'USB SmartCard Reader', knownName: 'Gemalto PC Twin Reader' }),
    ).toBe('Gemalto PC Twin Reader');
  });

  it('uses whichever USB string exists, trimmed, and stops at a NUL', () => {
    expect(friendlyName({ product: '  Reader X  ' })).toBe('Reader X');
    expect(friendlyName({ manufacturer: 'ACME', product: '   ' })).toBe('ACME');
    expect(friendlyName({ manufacturer: 'ACME\0junk', product: 'Pad' })).toBe('ACME Pad');
  });

  it('never returns an empty name', () => {
    expect(friendlyName({ vendorId: 0x1a2b, productId: 0x3c })).toBe('CCID reader 1A2B:003C');
    expect(friendlyName({})).toBe('CCID reader');
    expect(friendlyName({ knownName: '' })).toBe('CCID reader');
  });
});
