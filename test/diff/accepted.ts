/**
 * Differences between pcscd 1.9.9 (with test/diff/ifd-memcard.c) and smart-card-host --memcard that the differential
 * suite accepts, each with its reason. A transcript line that differs and is not listed here fails the suite; an entry
 * here that no longer matches any difference fails it too, so the list stays true.
 *
 * Not compared at all, by the client's design (test/diff/pcsc-diff.c): context and card handle values (random 31-bit
 * numbers on both sides, so never equal), times (pcscd polls every 100 or 400 ms where ours wakes on the event: the
 * results are the same, the delays are not). Reader names are compared as given, not normalised: both daemons name
 * the one in-memory reader "Memory Card Reader 00 00", and a difference there would be a real one.
 *
 * Departures of ours that this suite cannot see: README's "a second call on a context waiting forever" is about the
 * client library (libpcsclite's global mutex), and this client uses libpcsclite against both daemons; our own API
 * has its test in test/unit/pcsc/daemon.test.ts.
 *
 * Empty today: every scenario gives the same transcript on both daemons (the one difference the suite found,
 * SCardEndTransaction(SCARD_EJECT_CARD), was fixed in src/pcsc/winscard.ts).
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
