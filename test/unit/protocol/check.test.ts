/**
 * Error texts never echo what was received (src/protocol/check.ts): they name the field, its type and its length. A
 * malformed message may carry a PIN where a handle or a name was expected, and those texts reach the connector's log and
 * the console whatever the "Log APDUs" switch says.
 */
import { describe as group, expect, it } from 'vitest';
import { describe, fieldName } from '../../../src/protocol/check.js';
import { ProtocolError, decodeClientMessage } from '../../../src/protocol/codec.js';

const PIN_HEX = '002000810431323334';

function errorOf(raw: unknown): string {
  try {
    decodeClientMessage(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return (e as Error).message;
  }
  throw new Error('decoded');
}

group('error texts', () => {
  it('describe values by type and size only', () => {
    expect(describe('1234')).toBe('a string of 4 characters');
    expect(describe(PIN_HEX)).toBe('a string of 18 characters');
    expect(describe(1234)).toBe('an integer');
    expect(describe(-5)).toBe('a negative integer');
    expect(describe(2 ** 40)).toBe('an integer above 2^32-1');
    expect(describe(1.5)).toBe('a number with a fraction');
    expect(describe(true)).toBe('a boolean');
    expect(describe([1, 2])).toBe('an array of 2');
  });

  it('never quote a received string, wherever it is put', () => {
    const messages: unknown[] = [
      { v: 1, kind: 'call', id: 1, fn: 'SCardTransmit', args: [PIN_HEX, null, '00', null] },
      { v: 1, kind: 'call', id: 1, fn: PIN_HEX, args: [] },
      { v: 1, kind: PIN_HEX, id: 1 },
      { v: PIN_HEX, kind: 'ping', id: 1 },
      { v: 1, kind: 'ping', id: 1, [PIN_HEX]: 1 },
      { v: 1, kind: 'call', id: 1, fn: 'SCardEstablishContext', args: ['1234'] },
      { v: 1, kind: 'call', id: 1, fn: 'SCardConnect', args: [1, 1234, 2, 3] },
    ];
    for (const m of messages) {
      const text = errorOf(m);
      expect(text).not.toContain(PIN_HEX);
      expect(text).not.toContain('1234');
      expect(text).not.toContain('31323334');
    }
  });

  it('name a field that looks like an identifier, and only describe one that does not', () => {
    expect(fieldName('pvUserData')).toBe('"pvUserData"');
    expect(fieldName(PIN_HEX)).toBe('named by a string of 18 characters');
    expect(fieldName('deadbeef')).toBe('named by a string of 8 characters');
    expect(fieldName('a b\n')).toBe('named by a string of 4 characters');
  });
});
