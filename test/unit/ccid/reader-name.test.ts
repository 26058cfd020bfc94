import { describe, expect, it } from 'vitest';
import { friendlyName, libccidReaderName } from '../../../src/ccid/reader-name.js';
import { LIBCCID_READER_NAMES } from '../../../src/ccid/reader-names.js';

describe('friendlyName', () => {
  it('joins iManufacturer and iProduct with a space', () => {
    expect(friendlyName({ manufacturer: 'Gemalto', product: 'GemPC Twin' })).toBe('Gemalto GemPC Twin');
  });

  it("prefers libccid's name for a listed VID:PID, as pcscd shows it through libccid's Info.plist", () => {
    // 072F:90CC says "CCID USB Reader" in its USB strings; pcscd with libccid shows "ACS ACR 38U-CCID".
    expect(friendlyName({ manufacturer: 'ACS', product: 'CCID USB Reader', vendorId: 0x072f, productId: 0x90cc })).toBe(
      'ACS ACR 38U-CCID',
    );
    expect(libccidReaderName(0x08e6, 0x34d2)).toBe('SafeNet eToken Fusion');
    expect(libccidReaderName(0x08e6, 0x4433)).toBe('Gemalto Gemplus USB SmartCard Reader 433-Swap');
    expect(libccidReaderName(0x046a, 0x0005)).toBe('Cherry GmbH SmartBoard XX33');
    // Unsupported-section readers are in Info.plist too; disabled and duplicate entries are not.
    expect(libccidReaderName(0x072f, 0x2200)).toBe('ACS ACR122U PICC Interface');
    expect(libccidReaderName(0x1db2, 0x0600)).toBeUndefined();
    expect(libccidReaderName(0x1234, 0x5678)).toBeUndefined();
    expect(libccidReaderName(-1, 0x5678)).toBeUndefined();
    expect(libccidReaderName(0x10000, 0)).toBeUndefined();
  });

  it('holds every reader libccid lists, each with a name a C string can carry', () => {
    expect(LIBCCID_READER_NAMES.size).toBeGreaterThan(600);
    for (const [key, name] of LIBCCID_READER_NAMES) {
      expect(key >>> 0).toBe(key);
      expect(name).toMatch(/^[\x20-\x7e]+$/);
      expect(name.length).toBeLessThan(121);
    }
  });

  it('uses whichever USB string exists, trimmed, and stops at a NUL', () => {
    expect(friendlyName({ product: '  Reader X  ' })).toBe('Reader X');
    expect(friendlyName({ manufacturer: 'ACME', product: '   ' })).toBe('ACME');
    expect(friendlyName({ manufacturer: 'ACME\0junk', product: 'Pad' })).toBe('ACME Pad');
  });

  it('never returns an empty name', () => {
    expect(friendlyName({ vendorId: 0x1a2b, productId: 0x3c })).toBe('CCID reader 1A2B:003C');
    expect(friendlyName({ vendorId: 0x1a2b, productId: 0x3c, manufacturer: ' ', product: '\0' })).toBe(
      'CCID reader 1A2B:003C',
    );
    expect(friendlyName({})).toBe('CCID reader');
  });
});
