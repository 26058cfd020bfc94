/**
 * The shared redaction rules (src/util/redact.ts): the connector's log re-exports the very same functions, and the
 * Node host's --log-apdus uses them, so PIN data stays out of both. The full rule set is exercised through the
 * connector's log in test/unit/connector/log.test.ts.
 */
import { describe, expect, it } from 'vitest';
import * as log from '../../../src/connector/log.js';
import * as redact from '../../../src/util/redact.js';

const bytes = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));

describe('redact', () => {
  it('is what the connector log exports, function for function', () => {
    for (const name of [
      'describeCommandApdu',
      'describeControlInput',
      'describeResponse',
      'describeResponseTo',
      'isPinCommand',
      'lengthOnly',
      'redactText',
      'PIN_INSTRUCTIONS',
    ] as const) {
      expect(log[name]).toBe(redact[name]);
    }
  });

  it('never shows a PIN, even with APDU logging on', () => {
    const verify = bytes('0020008108313233343536ffff');
    const line = redact.describeCommandApdu(verify, { apdus: true });
    expect(line).toBe('APDU (13 bytes): 00 20 00 81 [PIN data redacted: 9 bytes]');
    expect(redact.describeResponseTo(verify, bytes('31329000'), { apdus: true })).toBe(
      'response (4 bytes): [data redacted: 2 bytes] 90 00',
    );
    expect(redact.describeControlInput(verify)).toBe('input (13 bytes)');
  });
});
