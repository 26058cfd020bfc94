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
import { escapeUnsafe } from '../util/sanitize.js';

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

/**
 * A message, or a function making it: the call log's lines (router.ts) are kept unbuilt, as what they need, and built
 * (at most once) when something reads them: the window watching the log, the export. A busy app's calls then cost no
 * text that nobody reads.
 */
export type LogText = string | (() => string);

export const DEFAULT_LOG_CAPACITY = 2000;
/**
 * Entries of these sources are kept in a ring of their own (DECISIONS_CAPACITY), so a flood of other entries (a hostile
 * extension's malformed messages) cannot push the record of who was allowed or blocked out of the log.
 */
export const KEPT_SOURCES: ReadonlySet<string> = new Set(['permissions']);
export const DECISIONS_CAPACITY = 500;
/** Longest message kept (a longer one is cut); guards the buffer against a flood of huge texts. */
export const MAX_LOG_MESSAGE = 2000;

export class LogBuffer {
  readonly capacity: number;
  readonly #entries: LogEntry[] = [];
  /** Entries of KEPT_SOURCES: evicted only by their own kind. */
  readonly #kept: LogEntry[] = [];
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

  add(level: LogLevel, source: string, message: LogText): LogEntry {
    const seq = this.#next++;
    const time = this.now();
    const from = escapeUnsafe(source);
    const entry: LogEntry =
      typeof message === 'string'
        ? { seq, time, level, source: from, message: entryText(message) }
        : new LateEntry(seq, time, level, from, message);
    const ring = KEPT_SOURCES.has(source) ? this.#kept : this.#entries;
    ring.push(entry);
    if (ring.length > (ring === this.#kept ? DECISIONS_CAPACITY : this.capacity)) {
      ring.shift();
      this.#dropped++;
    }
    if (this.#listeners.size === 0) return entry;
    for (const l of [...this.#listeners]) {
      try {
        l(entry);
      } catch {
        /* a viewer must not break logging */
      }
    }
    return entry;
  }

  /** Oldest first (both rings, merged by sequence number), each a plain object (`plainEntry`). */
  entries(): LogEntry[] {
    if (this.#kept.length === 0) return this.#entries.map(plainEntry);
    const out: LogEntry[] = [];
    let i = 0;
    let j = 0;
    while (i < this.#entries.length || j < this.#kept.length) {
      const a = this.#entries[i];
      const b = this.#kept[j];
      if (b === undefined || (a !== undefined && a.seq < b.seq)) {
        out.push(plainEntry(a!));
        i++;
      } else {
        out.push(plainEntry(b));
        j++;
      }
    }
    return out;
  }

  /** Entries after `seq` (oldest first). */
  since(seq: number): LogEntry[] {
    return this.entries().filter((e) => e.seq > seq);
  }

  /** Entries pushed out by newer ones since the start. */
  get dropped(): number {
    return this.#dropped;
  }

  clear(): void {
    this.#dropped += this.#entries.length + this.#kept.length;
    this.#entries.length = 0;
    this.#kept.length = 0;
  }

  onEntry(listener: (entry: LogEntry) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/**
 * An entry whose message is made on first read, then kept. A class, not an object literal with a `get message()`:
 * such a literal gets an accessor pair and a closure of its own per entry, about 13× the cost of this (1.2 against
 * 0.09 µs per entry in Node), on every call a client makes. The message is on the prototype, so what leaves the buffer
 * goes through `plainEntry` (`toJSON`): the same five fields as a plain entry.
 */
class LateEntry implements LogEntry {
  #text: string | undefined;
  #make: (() => string) | undefined;
  constructor(
    readonly seq: number,
    readonly time: number,
    readonly level: LogLevel,
    readonly source: string,
    make: () => string,
  ) {
    this.#make = make;
  }

  get message(): string {
    if (this.#text === undefined) {
      this.#text = entryText(built(this.#make!));
      this.#make = undefined;
    }
    return this.#text;
  }

  toJSON(): LogEntry {
    return { seq: this.seq, time: this.time, level: this.level, source: this.source, message: this.message };
  }
}

/**
 * An entry as a plain object of its five fields, its message made if it was late: what may leave the buffer's owner
 * (a port's serialisation, a test's evaluate) copies own properties only, and a `LateEntry`'s message is not one.
 */
export function plainEntry(e: LogEntry): LogEntry {
  return e instanceof LateEntry ? e.toJSON() : e;
}

/** A message as an entry keeps it: cut to MAX_LOG_MESSAGE, unsafe characters escaped. */
function entryText(message: string): string {
  const cut =
    message.length > MAX_LOG_MESSAGE ? `${message.slice(0, MAX_LOG_MESSAGE)}… (${message.length} characters)` : message;
  // One entry is one line: a line break (or a bidirectional override) inside a message, from whatever untrusted text
  // it quotes, is written as an escape, so it cannot forge a line of its own in the window or the export.
  return escapeUnsafe(cut);
}

/** A message built late must not throw at its reader (the window, the export): a failure is said in its place. */
function built(make: () => string): string {
  try {
    return String(make());
  } catch (e) {
    let why = 'unknown error';
    try {
      why = String(e);
    } catch {
      /* keep the generic text */
    }
    return `(this log line could not be written: ${why})`;
  }
}

/** What a viewer keeps of a growing list of entries: as the buffer does, the kept sources in their own bound. */
export function boundEntries(entries: readonly LogEntry[], capacity = DEFAULT_LOG_CAPACITY): LogEntry[] {
  let kept = 0;
  let other = 0;
  const out: LogEntry[] = [];
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!;
    if (KEPT_SOURCES.has(e.source) ? kept++ < DECISIONS_CAPACITY : other++ < capacity) out.push(e);
  }
  return out.reverse();
}

/**
 * How many log entries one sender (an extension id) may write: a token bucket per sender, `burst` entries at once and
 * `perSecond` more each second. What goes over is counted, and said once the sender is under its limit again, so one
 * extension's flood of malformed messages or connections cannot push every other entry out of the buffer.
 *
 * The count is said at most once per `reportMs`: a sender that keeps calling at its limit gets a token now and then,
 * and saying the count at each one (then "too many" again at its next entry) wrote two lines of quota notices around
 * every entry it was allowed, twice its own rate, in the buffer and as warnings on the console. Entries allowed
 * meanwhile are written; the count goes on until it is said.
 */
export class LogQuota {
  readonly #buckets = new Map<string, { tokens: number; at: number; held: number; saidAt: number }>();
  constructor(
    readonly burst: number,
    readonly perSecond: number,
    private readonly now: () => number = Date.now,
    readonly reportMs = 1000,
  ) {}

  /**
   * May `key` write one more entry? `ok`: yes, and `held` entries were held back before it (say so);
   * not ok: `first` is true for the first entry held back since the last one written.
   */
  take(key: string): { ok: true; held: number } | { ok: false; first: boolean } {
    const t = this.now();
    let b = this.#buckets.get(key);
    if (!b) {
      if (this.#buckets.size >= 10_000) this.#prune(t);
      b = { tokens: this.burst, at: t, held: 0, saidAt: t };
      this.#buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
    b.at = t;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      if (b.held > 0 && t - b.saidAt < this.reportMs) return { ok: true, held: 0 };
      const held = b.held;
      b.held = 0;
      return { ok: true, held };
    }
    b.held++;
    // From the first entry held back, the count waits `reportMs` before it is said.
    if (b.held === 1) b.saidAt = t;
    return { ok: false, first: b.held === 1 };
  }

  /** Forgets senders whose bucket has refilled (nothing held): bounds the map. */
  #prune(t: number): void {
    for (const [k, b] of this.#buckets)
      if (b.held === 0 && b.tokens + ((t - b.at) / 1000) * this.perSecond >= this.burst) this.#buckets.delete(k);
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

export { cleanName, escapeUnsafe, quoteUntrusted } from '../util/sanitize.js';

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
