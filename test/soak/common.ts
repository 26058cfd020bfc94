/**
 * Shared by the reliability campaign (test/soak): the seeded PRNG, totals and violations, process-level crash
 * counters, and the settle-within-a-deadline race.
 */

/** mulberry32: small, fast, seedable; the campaign's only source of randomness outside fast-check. */
export class Prng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }
}

export interface Totals {
  faultsInjected: number;
  calls: number;
  clientsChurned: number;
  fuzzCases: number;
  /** Faults per kind (and churn cycles per kind). */
  byKind: Record<string, number>;
  /** How the reader came back after each fault: at once, after SCardReconnect, after a new SCardConnect, after re-plug. */
  recovery: Record<string, number>;
  violations: string[];
  /** Checks that fail on a known bug outside this campaign's files: reported, kept in the long soak only. */
  known: string[];
}

export function newTotals(): Totals {
  return {
    faultsInjected: 0,
    calls: 0,
    clientsChurned: 0,
    fuzzCases: 0,
    byKind: {},
    recovery: {},
    violations: [],
    known: [],
  };
}

export function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

export function violation(t: Totals, text: string): void {
  // Keep the report readable: the first 50 in full, then only the count.
  if (t.violations.length < 50) console.error(`[soak] VIOLATION: ${text}`);
  t.violations.push(text);
}

/** Counts unhandled rejections and uncaught exceptions for the whole campaign. */
export function crashCounter(): { readonly count: number; readonly first: string[]; dispose(): void } {
  const first: string[] = [];
  let count = 0;
  const onRejection = (reason: unknown) => {
    count += 1;
    if (first.length < 5)
      first.push(`unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
  };
  const onException = (e: Error) => {
    count += 1;
    if (first.length < 5) first.push(`uncaught exception: ${e.stack ?? e.message}`);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    get count() {
      return count;
    },
    first,
    dispose() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown } | { ok: 'hang' };

/** How `p` settled, or 'hang' when it did not within `ms`. */
export async function settle<T>(p: Promise<T>, ms: number): Promise<Outcome<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<{ ok: 'hang' }>((resolve) => {
    timer = setTimeout(() => resolve({ ok: 'hang' }), ms);
  });
  try {
    return await Promise.race([
      p.then(
        (value): Outcome<T> => ({ ok: true, value }),
        (error: unknown): Outcome<T> => ({ ok: false, error }),
      ),
      hang,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The seed: SOAK_SEED when given (replay), else a fresh one. */
export function campaignSeed(): number {
  const env = process.env.SOAK_SEED;
  return env !== undefined && env !== '' ? Number(env) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
}

export function summary(t: Totals, crashes: number): string {
  const kinds = Object.entries(t.byKind)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const rec = Object.entries(t.recovery)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return [
    `faults injected: ${t.faultsInjected}`,
    `PC/SC calls made: ${t.calls}`,
    `clients churned: ${t.clientsChurned}`,
    `fuzz cases: ${t.fuzzCases}`,
    `unhandled rejections / uncaught exceptions: ${crashes}`,
    `violations: ${t.violations.length + crashes}`,
    `known failures (reported bugs, long soak only): ${t.known.length}`,
    `by kind: ${kinds}`,
    `recovery: ${rec}`,
  ].join('\n');
}
