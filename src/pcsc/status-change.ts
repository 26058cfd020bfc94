/**
 * SCardGetStatusChange's evaluation (winscard_clnt.c SCardGetStatusChange, the loop over rgReaderStates), as a pure
 * function of the daemon's published reader states (pcscd's READER_STATE array) and one entry.
 *
 * As in pcsc-lite, an entry's event state is set to 0 once per call and then *accumulates* over the passes of that call
 * (bits are or-ed in and masked out, CHANGED is never cleared), so `evaluateEntry` takes the previous event state.
 */
import {
  PNP_NOTIFICATION_READER_NAME,
  SCARD_ABSENT,
  SCARD_PRESENT,
  SCARD_STATE_ATRMATCH,
  SCARD_STATE_CHANGED,
  SCARD_STATE_EMPTY,
  SCARD_STATE_EXCLUSIVE,
  SCARD_STATE_IGNORE,
  SCARD_STATE_INUSE,
  SCARD_STATE_MUTE,
  SCARD_STATE_PRESENT,
  SCARD_STATE_UNAVAILABLE,
  SCARD_STATE_UNAWARE,
  SCARD_STATE_UNKNOWN,
  SCARD_SWALLOWED,
  SCARD_UNKNOWN,
} from './constants.js';

/** pcscd's readerSharing: -1 exclusive, 0 free, n = shared/direct handles (PCSCLITE_SHARING_*). */
export const SHARING_EXCLUSIVE = -1;
export const SHARING_NONE = 0;
export const SHARING_LAST = 1;

/** One published reader state (READER_STATE of pcscd's shared array). */
export interface ReaderSnapshot {
  readonly name: string;
  readonly eventCounter: number;
  /** SCARD_UNKNOWN / SCARD_ABSENT / SCARD_PRESENT | SCARD_POWERED | SCARD_NEGOTIABLE / | SCARD_SWALLOWED. */
  readonly readerState: number;
  readonly readerSharing: number;
  readonly atr: Uint8Array;
}

export interface EntryInput {
  readonly szReader: string;
  readonly dwCurrentState: number;
}

export interface EntryResult {
  dwEventState: number;
  /** The ATR the entry now holds: the card's when present, else empty (cbAtr = 0). */
  rgbAtr: Uint8Array;
  /** This pass found a change for this entry (dwBreakFlag). */
  changed: boolean;
}

/** strcasecmp with the PnP name. */
export function isPnpName(name: string): boolean {
  return name.toLowerCase() === PNP_NOTIFICATION_READER_NAME.toLowerCase();
}

/** The published reader with exactly this name (strcmp), if any. */
export function findReader(readers: readonly ReaderSnapshot[], name: string): ReaderSnapshot | undefined {
  return readers.find((r) => r.name === name);
}

/**
 * One entry, one pass. `readerCountAtStart` is the PnP reference count (number of readers when the call started,
 * updated when the PnP entry fires: see `evaluatePass`). IGNORE entries are left as they are.
 */
export function evaluateEntry(
  entry: EntryInput,
  previousEventState: number,
  previousAtr: Uint8Array,
  readers: readonly ReaderSnapshot[],
  readerCountAtStart: number,
): EntryResult {
  const current = entry.dwCurrentState >>> 0;
  let event = previousEventState >>> 0;
  let changed = false;
  if (current & SCARD_STATE_IGNORE) return { dwEventState: event, rgbAtr: previousAtr, changed };

  const reader = findReader(readers, entry.szReader);
  if (reader === undefined) {
    if (isPnpName(entry.szReader)) {
      if (readers.length !== readerCountAtStart) {
        event |= SCARD_STATE_CHANGED;
        changed = true;
      }
      return { dwEventState: event >>> 0, rgbAtr: previousAtr, changed };
    }
    // A named reader that disappeared.
    event = SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE;
    if (!(current & SCARD_STATE_UNKNOWN)) {
      event |= SCARD_STATE_CHANGED;
      changed = true;
    }
    return { dwEventState: event >>> 0, rgbAtr: previousAtr, changed };
  }

  if (current & SCARD_STATE_UNKNOWN) {
    event |= SCARD_STATE_CHANGED;
    event &= ~SCARD_STATE_UNKNOWN;
    changed = true;
  }
  const state = reader.readerState;
  if (current & 0xffff0000) {
    if (((current >>> 16) & 0xffff) !== reader.eventCounter) {
      event |= SCARD_STATE_CHANGED;
      changed = true;
    }
  }
  event = (event & 0xffff) | (reader.eventCounter << 16);

  if (state & SCARD_UNKNOWN) {
    event = SCARD_STATE_UNAVAILABLE;
    if (!(current & SCARD_STATE_UNAVAILABLE)) {
      event |= SCARD_STATE_CHANGED;
      changed = true;
    }
  } else if (current & SCARD_STATE_UNAVAILABLE) {
    event &= ~SCARD_STATE_UNAVAILABLE;
    event |= SCARD_STATE_CHANGED;
    changed = true;
  }

  const rgbAtr = state & SCARD_PRESENT ? reader.atr.slice() : new Uint8Array(0);

  if (state & SCARD_ABSENT) {
    event |= SCARD_STATE_EMPTY;
    event &= ~(
      SCARD_STATE_PRESENT |
      SCARD_STATE_UNAWARE |
      SCARD_STATE_IGNORE |
      SCARD_STATE_UNKNOWN |
      SCARD_STATE_UNAVAILABLE |
      SCARD_STATE_ATRMATCH |
      SCARD_STATE_MUTE |
      SCARD_STATE_INUSE
    );
    if (current & SCARD_STATE_PRESENT) {
      event |= SCARD_STATE_CHANGED;
      changed = true;
    }
  } else if (state & SCARD_PRESENT) {
    event |= SCARD_STATE_PRESENT;
    event &= ~(
      SCARD_STATE_EMPTY |
      SCARD_STATE_UNAWARE |
      SCARD_STATE_IGNORE |
      SCARD_STATE_UNKNOWN |
      SCARD_STATE_UNAVAILABLE |
      SCARD_STATE_MUTE
    );
    if (current & SCARD_STATE_EMPTY) {
      event |= SCARD_STATE_CHANGED;
      changed = true;
    }
    if (state & SCARD_SWALLOWED) {
      event |= SCARD_STATE_MUTE;
      if (!(current & SCARD_STATE_MUTE)) {
        event |= SCARD_STATE_CHANGED;
        changed = true;
      }
    } else if (current & SCARD_STATE_MUTE) {
      event |= SCARD_STATE_CHANGED;
      changed = true;
    }
  }

  if (reader.readerSharing === SHARING_EXCLUSIVE) {
    event |= SCARD_STATE_EXCLUSIVE;
    event &= ~SCARD_STATE_INUSE;
    if (current & SCARD_STATE_INUSE) {
      event |= SCARD_STATE_CHANGED;
      changed = true;
    }
  } else if (reader.readerSharing >= SHARING_LAST) {
    if (state & SCARD_PRESENT) {
      event |= SCARD_STATE_INUSE;
      event &= ~SCARD_STATE_EXCLUSIVE;
      if (current & SCARD_STATE_EXCLUSIVE) {
        event |= SCARD_STATE_CHANGED;
        changed = true;
      }
    }
  } else if (reader.readerSharing === SHARING_NONE) {
    event &= ~(SCARD_STATE_INUSE | SCARD_STATE_EXCLUSIVE);
    if (current & (SCARD_STATE_INUSE | SCARD_STATE_EXCLUSIVE)) {
      event |= SCARD_STATE_CHANGED;
      changed = true;
    }
  }

  if (current === SCARD_STATE_UNAWARE) {
    event |= SCARD_STATE_CHANGED;
    changed = true;
  }
  return { dwEventState: event >>> 0, rgbAtr, changed };
}

export interface PassEntry extends EntryInput {
  dwEventState: number;
  rgbAtr: Uint8Array;
}

/**
 * One pass over every entry, in order. Returns whether any entry changed (the call then returns) and the PnP
 * reference count for the next pass (pcscd updates it when the PnP entry fires).
 */
export function evaluatePass(
  entries: readonly PassEntry[],
  readers: readonly ReaderSnapshot[],
  readerCount: number,
): { entries: PassEntry[]; changed: boolean; readerCount: number } {
  let changed = false;
  let count = readerCount;
  const out = entries.map((e) => {
    const r = evaluateEntry(e, e.dwEventState, e.rgbAtr, readers, count);
    if (r.changed) {
      changed = true;
      if (isPnpName(e.szReader) && findReader(readers, e.szReader) === undefined) count = readers.length;
    }
    return { ...e, dwEventState: r.dwEventState, rgbAtr: r.rgbAtr };
  });
  return { entries: out, changed, readerCount: count };
}
