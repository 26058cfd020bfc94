/**
 * Deterministic misbehaviour of the simulated card, for the reliability tests. A test sets these fields (at creation
 * or on `card.faults` at any time); counters count down as the faults are spent.
 */
export interface CardFaults {
  /** The card never answers: no ATR (activate and warmReset return null), nothing to any exchange. */
  mute: boolean;
  /**
   * The card answers this many more exchanges (PPS requests, T=0 transmissions, T=1 blocks), then goes mute until its
   * next cold or warm reset — a crash that a reset cures. Spent when it fires; undefined when unarmed.
   */
  muteAfterExchanges: number | undefined;
  /** The next k T=1 blocks the card sends carry a wrong EDC. */
  garbleT1Edc: number;
  /** Before answering each of the next k T=1 commands, the card asks for a waiting time extension S(WTX request). */
  wtxRequests: number;
  /** The multiplier those S(WTX request)s carry, 1..255. */
  wtxMultiplier: number;
  /** NULL procedure bytes (0x60) the card sends before every T=0 answer. */
  t0NullBytes: number;
}

export function defaultFaults(overrides: Partial<CardFaults> = {}): CardFaults {
  return {
    mute: false,
    muteAfterExchanges: undefined,
    garbleT1Edc: 0,
    wtxRequests: 0,
    wtxMultiplier: 1,
    t0NullBytes: 0,
    ...overrides,
  };
}
