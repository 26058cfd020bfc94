/**
 * The card's source of GET CHALLENGE bytes: a small seeded generator (splitmix32 mixing of a Weyl sequence), so that
 * a test replays the same challenges from the same seed. Not for cryptography: the simulated card protects nothing.
 */
export class ChallengeSource {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Fills `out` with the next pseudo-random bytes. */
  fill(out: Uint8Array): Uint8Array {
    let word = 0;
    for (let i = 0; i < out.length; i++) {
      if ((i & 3) === 0) word = this.nextWord();
      out[i] = word & 0xff;
      word >>>= 8;
    }
    return out;
  }

  private nextWord(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }
}
