/**
 * Differences between pcscd 1.9.9 (with test/diff/ifd-memcard.c) and smart-card-host --memcard that the differential
 * suite accepts, each with its reason. A transcript line that differs and is not listed here fails the suite; an entry
 * here that no longer matches any difference fails it too, so the list stays true.
 *
 * Not compared at all, by the client's design (test/diff/pcsc-diff.c): context and card handle values (random 31-bit
 * numbers on both sides), times.
 */
export interface AcceptedDifference {
  /** The scenario's name (scenarios.ts). */
  scenario: string;
  /** The command as the script gives it (with the "A: "/"B: " prefix in two-process scenarios). */
  command: string;
  /** What follows "=>" from pcscd, and from ours. */
  pcscd: string;
  ours: string;
  reason: string;
}

export const ACCEPTED: AcceptedDifference[] = [];
