/**
 * The contacts between a simulated reader and a simulated card (ISO/IEC 7816-3 §5–§11).
 *
 * The reader simulator (`src/sim/reader/`) plays the interface device; the card simulator (`src/sim/card/`) plays the
 * card. They meet only here, at the level of what crosses the card's I/O contact: activation and ATR, PPS, T=0
 * characters and T=1 blocks. Neither side imports the driver (`src/ccid`): the simulator is written from the
 * specifications so that it can catch the driver's misreadings instead of sharing them.
 *
 * Every method is synchronous and deterministic for a given card state, which keeps fault injection replayable.
 */

/** Operating conditions of ISO/IEC 7816-3 §5.1.3: class A = 5 V, B = 3 V, C = 1.8 V. */
export type VoltageClass = 'A' | 'B' | 'C';

/** Transmission protocol in use after the ATR (and PPS, if any). */
export type CardProtocol = 0 | 1;

export interface SimCard {
  /** True while the card sits in the reader's slot (the reader sees the card-presence switch). */
  readonly inserted: boolean;

  /**
   * Cold reset at the given class (ISO/IEC 7816-3 §6.2.2). Returns the ATR bytes, or null when the card stays mute
   * (wrong class, or a mute card). After a successful activation the card is in its negotiable or specific mode as its
   * ATR says, with the protocol state (T=1 N(S)/N(R), IFSD = 32) reset.
   */
  activate(voltage: VoltageClass): Uint8Array | null;

  /** Warm reset (§6.2.3): same contract as activate, at the current class. Null if the card is not powered. */
  warmReset(): Uint8Array | null;

  /** Deactivation (§6.4). */
  deactivate(): void;

  /** True between a successful activate/warmReset and deactivate. */
  readonly powered: boolean;

  /**
   * PPS exchange (§9): the interface device's request (PPSS, PPS0, [PPS1], [PPS2], [PPS3], PCK). Returns the card's
   * response (an echo on success, §9.3), or null when the card does not answer (the reader must then deactivate).
   * Only valid as the first exchange after the ATR, in negotiable mode.
   */
  pps(request: Uint8Array): Uint8Array | null;

  /** The protocol the card will speak now (from the ATR's first offered protocol, or the one PPS selected). */
  readonly protocol: CardProtocol;

  /** The card's answer-to-reset parameters that the reader needs to time and frame exchanges. */
  readonly parameters: {
    /** Fi/Di index byte in use (TA1 value after PPS, or 0x11 by default). */
    fidi: number;
    /** T=1: the card's IFSC (§11.4.2), T=1 block check: 'lrc' | 'crc' (§11.4.4). */
    ifsc: number;
    edc: 'lrc' | 'crc';
  };

  /**
   * T=0 (§10): the interface device sends `bytes` (a 5-byte header first, then data bytes when the card asked for
   * them); the card answers with every character it sends before it waits for more input or ends the command: procedure
   * bytes (NULL 0x60, INS or INS^0xFF, SW1 SW2) and, for outgoing data, the data characters after an INS procedure byte.
   * An empty answer means the card is mute (the reader's work waiting time runs out).
   */
  t0Transmit(bytes: Uint8Array): Uint8Array;

  /**
   * T=1 (§11): the card receives one whole block (NAD PCB LEN INF EDC) and answers one block, or null when it does not
   * answer at all (mute, or the block was ignored as §11.6.3 allows). Blocks with a bad EDC or LEN are answered with
   * an R-block signalling an error, as §11.6.3 rule 7 requires.
   */
  t1Block(block: Uint8Array): Uint8Array | null;
}
