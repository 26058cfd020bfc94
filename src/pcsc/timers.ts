/**
 * The timer functions the daemon uses (the power-off grace, GetStatusChange's timeout), injectable so tests run on a
 * manual clock. The same shape as the CCID transport's `Timers` (`setTimeout` / `clearTimeout`), so one fake clock
 * serves both; `clock` is optional and defaults to `Date.now` (not named `now`: test clocks already use that name for
 * their current time as a number).
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** The clock GetStatusChange measures its timeout on (default `Date.now`). */
  clock?(): number;
}

/** The real timers. */
export const REAL_TIMERS: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
  clock: () => Date.now(),
};
