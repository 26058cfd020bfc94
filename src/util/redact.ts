/**
 * Redaction: every byte string on its way to a log goes through here — the connector's log window and export, and the
 * Node host's `--log-apdus`. Pure (no platform API), so both edges share one set of rules.
 *
 * Bytes a client sends to or receives from a card (APDUs, SCardControl buffers, attributes) show as a length by default
 * ("APDU (15 bytes)"); with APDU logging on, command and response APDUs show in hex, except the data field of PIN
 * commands (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, ENABLE/DISABLE VERIFICATION REQUIREMENT), of ENVELOPE
 * (which may wrap any of them) and of PUT DATA of a PIN or key data object (OpenPGP's resetting code), which stays
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

/**
 * ENVELOPE (ISO 7816-4 §11.7.2, INS C2 and C3): its data field is (a piece of) another command APDU, possibly split over
 * several ENVELOPEs, so whether it carries a VERIFY cannot be told from one of them: its data is always redacted.
 */
export const ENVELOPE_INSTRUCTIONS: ReadonlySet<number> = new Set([0xc2, 0xc3]);

/**
 * PUT DATA (ISO 7816-4 §11.4.6, INS DA and DB) of data objects that are secrets (P1-P2 = the tag), as the OpenPGP card
 * 3.4 defines them (§7.2.8): D3 the resetting code (a PIN that unblocks PW1), D1 and D2 the secure-messaging keys,
 * D5 the AES key, and 3FFF the extended header list that imports a private key (DB). Their data is redacted like a PIN.
 */
export const SECRET_DATA_OBJECTS: ReadonlySet<number> = new Set([0x00d1, 0x00d2, 0x00d3, 0x00d5, 0x3fff]);

/** Why a command's data is never logged: a PIN (or other reference data), or a secret it may wrap; null otherwise. */
export function secretKind(apdu: Uint8Array): 'PIN data' | 'data' | null {
  if (apdu.length <= 4) return null;
  const ins = apdu[1]!;
  if (PIN_INSTRUCTIONS.has(ins)) return 'PIN data';
  if (ENVELOPE_INSTRUCTIONS.has(ins)) return 'data';
  if ((ins === 0xda || ins === 0xdb) && SECRET_DATA_OBJECTS.has((apdu[2]! << 8) | apdu[3]!)) return 'data';
  return null;
}

/**
 * True when the command APDU carries a PIN, other reference data or another secret in its data field (a PIN command,
 * an ENVELOPE, a PUT DATA of a secret data object): its data and its response's data are never logged.
 */
export function isPinCommand(apdu: Uint8Array): boolean {
  return secretKind(apdu) !== null;
}

/** Bytes whose content is never logged: "label (N bytes)". */
export function lengthOnly(label: string, bytes: Uint8Array | number): string {
  const n = typeof bytes === 'number' ? bytes : bytes.length;
  return `${label} (${plural(n)})`;
}

/** A command APDU: its length; with APDU logging on, its bytes, a PIN command's data field replaced by its length. */
export function describeCommandApdu(apdu: Uint8Array, r: Redaction): string {
  if (!r.apdus) return lengthOnly('APDU', apdu);
  const kind = secretKind(apdu);
  if (kind) {
    // The header (CLA INS P1 P2) is kept, everything after it (Lc, the PIN, Le) is not.
    return `APDU (${plural(apdu.length)}): ${hex(apdu.subarray(0, 4))} [${kind} redacted: ${plural(apdu.length - 4)}]`;
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
