/**
 * The connector's log: a bounded ring buffer of entries (time, level, source, message) that the connector's window shows
 * and exports, and the one place where bytes are turned into log text.
 *
 * Privacy rule: bytes a client sends to or receives from a card (APDUs, SCardControl buffers, attributes) reach the log
 * only through the helpers below. By default they show as a length ("APDU (15 bytes)"); with the user's "Log APDUs"
 * switch on, command and response APDUs show in hex, except the data field of PIN commands (VERIFY, CHANGE REFERENCE
 * DATA, RESET RETRY COUNTER), which stays redacted, as do SCardControl and SCardSetAttrib inputs (PIN structures,
 * escape commands) always. Free text that might quote a client's bytes (a malformed message's description) goes
 * through `redactText`. Pure: no chrome.*; unit-tested in Node.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface LogEntry {
  /** Increasing per buffer; lets a viewer ask for what it has not seen. */
  seq: number;
  /** ms since the epoch. */
  time: number;
  level: LogLevel;
  /** Which part wrote it: "router", "daemon", "usb", "service", "permissions". */
  source: string;
  message: string;
}

export const DEFAULT_LOG_CAPACITY = 2000;
/** Longest message kept (a longer one is cut); guards the buffer against a flood of huge texts. */
export const MAX_LOG_MESSAGE = 2000;

export class LogBuffer {
  readonly capacity: number;
  readonly #entries: LogEntry[] = [];
  readonly #listeners = new Set<(entry: LogEntry) => void>();
  #next = 1;
  #dropped = 0;

  constructor(capacity = DEFAULT_LOG_CAPACITY, private readonly now: () => number = Date.now) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('LogBuffer: capacity must be a positive integer');
    this.capacity = capacity;
  }

  add(level: LogLevel, source: string, message: string): LogEntry {
    const text = message.length > MAX_LOG_MESSAGE ? `${message.slice(0, MAX_LOG_MESSAGE)}… (${message.length} characters)` : message;
    const entry: LogEntry = { seq: this.#next++, time: this.now(), level, source, message: text };
    this.#entries.push(entry);
    if (this.#entries.length > this.capacity) {
      this.#entries.shift();
      this.#dropped++;
    }
    for (const l of [...this.#listeners]) {
      try {
        l(entry);
      } catch {
        /* a viewer must not break logging */
      }
    }
    return entry;
  }

  /** Oldest first. */
  entries(): LogEntry[] {
    return [...this.#entries];
  }

  /** Entries after `seq` (oldest first). */
  since(seq: number): LogEntry[] {
    return this.#entries.filter((e) => e.seq > seq);
  }

  /** Entries pushed out by newer ones since the start. */
  get dropped(): number {
    return this.#dropped;
  }

  clear(): void {
    this.#dropped += this.#entries.length;
    this.#entries.length = 0;
  }

  onEntry(listener: (entry: LogEntry) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** "2026-11-24T10:00:00.000Z info  router: …" */
export function formatEntry(e: LogEntry): string {
  return `${new Date(e.time).toISOString()} ${e.level.padEnd(5)} ${e.source}: ${e.message}`;
}

/** The text file "Export" downloads: a header, then one line per entry. */
export function exportText(entries: readonly LogEntry[], header: { version: string; apdus: boolean; dropped?: number }): string {
  const lines = [
    `Smart Card Connector ${header.version} log, exported ${new Date().toISOString()}`,
    `APDU logging: ${header.apdus ? 'on (command and response bytes included; PIN data and SCardControl inputs still redacted)' : 'off (bytes shown as lengths only)'}`,
    ...(header.dropped ? [`(${header.dropped} older entries were dropped from the ${DEFAULT_LOG_CAPACITY}-entry buffer)`] : []),
    '',
    ...entries.map(formatEntry),
  ];
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------------------
// Redaction: every byte string on its way to the log goes through here

export interface Redaction {
  /** The user's "Log APDUs" switch. */
  apdus: boolean;
}

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');
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
  return text.replace(/\b[0-9A-Fa-f]{2}(?:[ :]?[0-9A-Fa-f]{2}){3,}\b/g, (m) => `[${m.replace(/[ :]/g, '').length} hex digits]`);
}
