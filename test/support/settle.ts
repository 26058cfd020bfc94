/** How a call ended, without throwing: its value or its error. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** The default hang guard of the suites (real timeouts in tests are a few ms; this is far above them). */
export const SETTLE_MS = 3000;

/**
 * Races `p` against a timer: fails the test (throws) if it has not settled within `ms` — a hang is a bug, not a slow
 * answer — else returns how it settled.
 */
export async function settle<T>(p: Promise<T>, ms = SETTLE_MS, what = 'the call'): Promise<Outcome<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<'hang'>((resolve) => {
    timer = setTimeout(() => resolve('hang'), ms);
  });
  try {
    const r = await Promise.race([
      p.then(
        (value): Outcome<T> => ({ ok: true, value }),
        (error: unknown): Outcome<T> => ({ ok: false, error }),
      ),
      hang,
    ]);
    if (r === 'hang') throw new Error(`${what} did not settle within ${ms} ms (hang)`);
    return r;
  } finally {
    clearTimeout(timer);
  }
}
