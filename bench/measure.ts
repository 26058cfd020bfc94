/** Shared by the benchmark modules: a figure, the median of several runs, the benchmark card's APDUs. */
import { performance } from 'node:perf_hooks';

export type Unit = 'us' | 'ms' | 'bytes';

export interface Figure {
  /** Stable key (used in latest.json and to pair figures with the native anchor). */
  id: string;
  name: string;
  unit: Unit;
  /** null when the figure could not be measured; `note` says why. */
  median: number | null;
  min?: number;
  max?: number;
  /** How many runs the median is taken over. */
  runs?: number;
  /** Exchanges (or rounds) per run. */
  perRun?: number;
  /** Figure id of the native anchor this one is compared with: ratio = ours / native. */
  nativeId?: string;
  ratio?: number | null;
  /**
   * Figure id of the floor this one is held to besides native (the host link: bare browser hops + native pcscd):
   * boundRatio = ours / floor.
   */
  boundId?: string;
  boundRatio?: number | null;
  note?: string;
}

export const RUNS = Number(process.env.BENCH_RUNS ?? 7);

export function summarise(samples: number[]): { median: number; min: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

/** Times `perRun` sequential calls of `op`, RUNS times after a warm-up; the figure is µs per call. */
export async function measure(
  id: string,
  name: string,
  perRun: number,
  op: () => Promise<void>,
  extra: Partial<Figure> = {},
): Promise<Figure> {
  for (let i = 0; i < Math.max(10, perRun / 5); i++) await op();
  const samples: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < perRun; i++) await op();
    samples.push(((performance.now() - t0) * 1000) / perRun);
  }
  return { id, name, unit: 'us', ...summarise(samples), runs: RUNS, perRun, ...extra };
}

export const GET_CHALLENGE_8 = Uint8Array.of(0x00, 0x84, 0x00, 0x00, 0x08);

/** Extended ECHO `80 EE 00 00 00 Lc1 Lc2 data 00 00` (Le 00 00 = up to 65536). */
export function echoApdu(length: number): Uint8Array {
  const apdu = new Uint8Array(7 + length + 2);
  apdu.set([0x80, 0xee, 0x00, 0x00, 0x00, length >> 8, length & 0xff]);
  for (let i = 0; i < length; i++) apdu[7 + i] = (i * 7) & 0xff;
  return apdu;
}

/** True when `answer` is the ECHO of `apdu`'s data followed by 90 00. */
/**
 * Inside timed loops: the length, the status word and the first and last data bytes — what the native anchor's client
 * checks is less still (only the return code). Every figure also checks one answer in full with `isEchoOf` before it
 * is timed, so a wrong answer cannot hide.
 */
export function looksLikeEchoOf(answer: Uint8Array, apdu: Uint8Array): boolean {
  const n = apdu.length - 9;
  return (
    answer.length === n + 2 &&
    answer[n] === 0x90 &&
    answer[n + 1] === 0x00 &&
    answer[0] === apdu[7] &&
    answer[n - 1] === apdu[7 + n - 1]
  );
}

export function isEchoOf(answer: Uint8Array, apdu: Uint8Array): boolean {
  const n = apdu.length - 9;
  if (answer.length !== n + 2 || answer[n] !== 0x90 || answer[n + 1] !== 0x00) return false;
  for (let i = 0; i < n; i++) if (answer[i] !== apdu[7 + i]) return false;
  return true;
}
