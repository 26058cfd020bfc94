/**
 * Redaction: every byte string on its way to a log goes through here — the connector's log window and export, and the
 * Node host's `--log-apdus`. Pure (no platform API), so both edges share one set of rules.
 *
 * Bytes a client sends to or receives from a card (APDUs, SCardControl buffers, attributes) show as a length by default
 * ("APDU (15 bytes)"); with APDU logging on, command and response APDUs show in hex, except the data field of PIN
 * commands (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, ENABLE/DISABLE VERIFICATION REQUIREMENT), which stays
 * redacted, as do SCardControl and SCardSetAttrib inputs (PIN structures, escape commands) always. Free text that might
 * quote a client's bytes goes through `redactText`.
 */
import { toHex } from './hex.js';

export interface Redaction {
  /** The user's "Log APDUs" switch. */
  apdus: boolean;
}

const hex = (bytes: Uint8Array): string => toHex(bytes);
const plural = (n: number) => `${n} byte${n === 1 ? '' : 's'}`;

/**
 * ISO 7816-4 instructions whose data field is a PIN or other reference data: VERIFY (20, 21), CHANGE REFERENCE DATA (24),
 * RESET RETRY COUNTER (2C), ENABLE/DISABLE VERIFICATION REQUIREMENT (28, 26).
 */
export const PIN_INSTRUCTIONS: ReadonlySet<number> = new Set([0x20, 0x21, 0x24, 0x26, 0x28, 0x2c]);

/** True when the command APDU carries a PIN (or other reference data) in its data field. */
export function isPinCommand(apdu: Uint8Array): boolean {
  return apdu.length > 4 && PIN_INSTRUCTIONS.has(apdu[1]!);
}

/** Bytes whose content is never logged: "label (N bytes)". */
export function lengthOnly(label: string, bytes: Uint8Array | number): string {
  const n = typeof bytes === 'number' ? bytes : bytes.length;
  return `${label} (${plural(n)})`;
}

/** A command APDU: its length; with APDU logging on, its bytes, a PIN command's data field replaced by its length. */
export function describeCommandApdu(apdu: Uint8Array, r: Redaction): string {
  if (!r.apdus) return lengthOnly('APDU', apdu);
  if (isPinCommand(apdu)) {
    // The header (CLA INS P1 P2) is kept, everything after it (Lc, the PIN, Le) is not.
    return `APDU (${plural(apdu.length)}): ${hex(apdu.subarray(0, 4))} [PIN data redacted: ${plural(apdu.length - 4)}]`;
  }
  return `APDU (${plural(apdu.length)}): ${hex(apdu)}`;
}

/** A response APDU (or any card output): its length; with APDU logging on, its bytes. */
export function describeResponse(bytes: Uint8Array, r: Redaction, label = 'response'): string {
  return r.apdus ? `${label} (${plural(bytes.length)}): ${hex(bytes)}` : lengthOnly(label, bytes);
}

/** The response to `command`: after a PIN command only its status word is shown (its data could echo the PIN). */
export function describeResponseTo(command: Uint8Array, response: Uint8Array, r: Redaction): string {
  if (r.apdus && isPinCommand(command) && response.length > 2) {
    return `response (${plural(response.length)}): [data redacted: ${plural(response.length - 2)}] ${hex(response.subarray(-2))}`;
  }
  return describeResponse(response, r);
}

/** SCardControl input: never its bytes (PIN verification structures, escape commands to the reader). */
export function describeControlInput(bytes: Uint8Array): string {
  return lengthOnly('input', bytes);
}

/**
 * Free text that may quote a client's bytes (a malformed message's description, an error from deep down): with APDU
 * logging off, every run of 8 or more hex digits (with or without spaces between bytes) becomes "[N hex digits]".
 */
export function redactText(text: string, r: Redaction): string {
  if (r.apdus) return text;
  return text.replace(
    /\b[0-9A-Fa-f]{2}(?:[ :]?[0-9A-Fa-f]{2}){3,}\b/g,
    (m) => `[${m.replace(/[ :]/g, '').length} hex digits]`,
  );
}
