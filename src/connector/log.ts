/**
 * The connector's log: a bounded ring buffer of entries (time, level, source, message) that the connector's window shows
 * and exports, and the redaction helpers that turn bytes into log text (src/util/redact.ts, re-exported here).
 *
 * Privacy rule: bytes a client sends to or receives from a card (APDUs, SCardControl buffers, attributes) reach the log
 * only through those helpers. By default they show as a length ("APDU (15 bytes)"); with the user's "Log APDUs"
 * switch on, command and response APDUs show in hex, except the data field of PIN commands (VERIFY, CHANGE REFERENCE
 * DATA, RESET RETRY COUNTER, ENABLE/DISABLE VERIFICATION REQUIREMENT), ENVELOPE and PUT DATA of secret data objects,
 * which stays redacted, as do SCardControl and SCardSetAttrib inputs (PIN structures,
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

  constructor(
    capacity = DEFAULT_LOG_CAPACITY,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('LogBuffer: capacity must be a positive integer');
    this.capacity = capacity;
  }

  add(level: LogLevel, source: string, message: string): LogEntry {
    const text =
      message.length > MAX_LOG_MESSAGE
        ? `${message.slice(0, MAX_LOG_MESSAGE)}… (${message.length} characters)`
        : message;
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
export function exportText(
  entries: readonly LogEntry[],
  header: { version: string; apdus: boolean; dropped?: number },
): string {
  const lines = [
    `Smart Card Connector ${header.version} log, exported ${new Date().toISOString()}`,
    `APDU logging: ${header.apdus ? 'on (command and response bytes included; PIN data and SCardControl inputs still redacted)' : 'off (bytes shown as lengths only)'}`,
    ...(header.dropped
      ? [`(${header.dropped} older entries were dropped from the ${DEFAULT_LOG_CAPACITY}-entry buffer)`]
      : []),
    '',
    ...entries.map(formatEntry),
  ];
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------------------
// Redaction: the rules live in src/util/redact.ts, shared with the Node host.

export {
  ENVELOPE_INSTRUCTIONS,
  PIN_INSTRUCTIONS,
  SECRET_DATA_OBJECTS,
  secretKind,
  describeCommandApdu,
  describeControlInput,
  describeResponse,
  describeResponseTo,
  isPinCommand,
  lengthOnly,
  redactText,
  type Redaction,
} from '../util/redact.js';
