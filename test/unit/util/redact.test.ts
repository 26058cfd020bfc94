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

  describe('every PIN-bearing command form, with APDU logging on', () => {
    const ON = { apdus: true };
    const pin = '313233343536'; // "123456"
    const forms: Array<[string, string, string]> = [
      ['VERIFY', `00200081 06${pin}`, 'PIN data'],
      ['VERIFY (odd INS)', `00210081 06${pin}`, 'PIN data'],
      ['CHANGE REFERENCE DATA', `00240081 0c${pin}${pin}`, 'PIN data'],
      ['RESET RETRY COUNTER', `002c0081 0c${pin}${pin}`, 'PIN data'],
      ['ENABLE VERIFICATION REQUIREMENT', `00280081 06${pin}`, 'PIN data'],
      ['DISABLE VERIFICATION REQUIREMENT', `00260081 06${pin}`, 'PIN data'],
      ['VERIFY in a proprietary class, chained', `90200081 06${pin}`, 'PIN data'],
      ['ENVELOPE carrying a VERIFY', `00c20000 0b00200081 06${pin}`, 'data'],
      ['ENVELOPE (odd INS, BER-TLV) carrying a VERIFY', `00c30000 0d530b00200081 06${pin}`, 'data'],
      ['PUT DATA of the OpenPGP resetting code (D3)', `00da00d3 06${pin}`, 'data'],
      ['PUT DATA of a secure-messaging key (D1)', `00da00d1 10${pin}${pin}31323334`, 'data'],
      ['PUT DATA (odd INS) importing a private key (3FFF)', `00db3fff 06${pin}`, 'data'],
    ];
    for (const [name, hexApdu, kind] of forms) {
      it(`keeps the data of ${name} out`, () => {
        const apdu = bytes(hexApdu.replace(/ /g, ''));
        expect(redact.isPinCommand(apdu)).toBe(true);
        expect(redact.secretKind(apdu)).toBe(kind);
        const line = redact.describeCommandApdu(apdu, ON);
        const header = hexApdu
          .slice(0, 8)
          .toUpperCase()
          .replace(/(..)(?!$)/g, '$1 ');
        expect(line).toBe(`APDU (${apdu.length} bytes): ${header} [${kind} redacted: ${apdu.length - 4} bytes]`);
        expect(line).not.toMatch(/31 32|32 33|33 34/);
        expect(redact.describeResponseTo(apdu, bytes(`${pin}9000`), ON)).toBe(
          'response (8 bytes): [data redacted: 6 bytes] 90 00',
        );
      });
    }

    it('shows other commands and PUT DATA of public data objects in full', () => {
      const name = bytes('00da005b 05 4a6f686e73'.replace(/ /g, '')); // OpenPGP name DO 5B
      expect(redact.isPinCommand(name)).toBe(false);
      expect(redact.describeCommandApdu(name, ON)).toBe('APDU (10 bytes): 00 DA 00 5B 05 4A 6F 68 6E 73');
      expect(redact.isPinCommand(bytes('00c20000'))).toBe(false); // no data: nothing to hide
    });

    it('never shows SCardControl input (CCID PIN verify and modify structures, FEATURE_VERIFY_PIN_DIRECT)', () => {
      // PIN_VERIFY_STRUCTURE (PC/SC part 10 §2.5.2) with a VERIFY APDU template carrying a PIN.
      const verifyStructure = bytes(`1e1e8947040c0402010904000000000d000000 00200081 06${pin}`.replace(/ /g, ''));
      expect(redact.describeControlInput(verifyStructure)).toBe(`input (${verifyStructure.length} bytes)`);
    });
  });
});
