/**
 * What the reader reads from an ATR to set up the slot (ISO/IEC 7816-3 §8.2–§8.3): TA1 (Fi/Di), TC1 (extra guard
 * time), TA2 (specific mode), TC2 (T=0 WI), and the first TA/TB/TC after a TD announcing T=1 (IFSC, BWI/CWI, EDC).
 * A malformed ATR yields the defaults for the fields it could not reach, never an exception.
 */
export interface AtrFacts {
  /** Protocols offered, in order of the TDi bytes (T=0 when no TD1, §8.2.3). */
  protocols: number[];
  ta1: number | null;
  tc1: number;
  /** TA2 present: the card is in specific mode and takes no PPS (§6.3.1). */
  specificMode: boolean;
  /** T=0 work waiting integer (TC2, default 10). */
  wi: number;
  /** T=1 IFSC (default 32). */
  ifsc: number;
  /** T=1 BWI (default 4) and CWI (default 13). */
  bwi: number;
  cwi: number;
  /** T=1 block check (first TC for T=1, bit 1). */
  crc: boolean;
  /** Direct (0x3B) or inverse (0x3F) convention. */
  inverse: boolean;
}

export function readAtrFacts(atr: Uint8Array): AtrFacts {
  const facts: AtrFacts = {
    protocols: [],
    ta1: null,
    tc1: 0,
    specificMode: false,
    wi: 10,
    ifsc: 32,
    bwi: 4,
    cwi: 13,
    crc: false,
    inverse: atr[0] === 0x3f,
  };
  if (atr.length < 2) {
    facts.protocols.push(0);
    return facts;
  }
  let y = atr[1]! >> 4;
  let i = 2;
  let level = 1;
  let protocol = 0; // protocol the current group of interface bytes belongs to
  let t1Seen = false;
  while (i < atr.length) {
    const ta = y & 1 ? atr[i++] : undefined;
    const tb = y & 2 ? atr[i++] : undefined;
    const tc = y & 4 ? atr[i++] : undefined;
    const td = y & 8 ? atr[i++] : undefined;
    if (level === 1) {
      if (ta !== undefined) facts.ta1 = ta;
      if (tc !== undefined) facts.tc1 = tc;
    } else if (level === 2) {
      if (ta !== undefined) facts.specificMode = true;
      if (tc !== undefined && tc !== 0) facts.wi = tc; // TC2: WI of T=0 (§10.2)
    }
    if (level >= 3 && protocol === 1 && !t1Seen) {
      // T=1 specific bytes: the first TAi/TBi/TCi with i ≥ 3 after a TD naming T=1 (§11.4).
      t1Seen = true;
      if (ta !== undefined && ta >= 1 && ta <= 254) facts.ifsc = ta;
      if (tb !== undefined) {
        facts.bwi = tb >> 4;
        facts.cwi = tb & 0x0f;
      }
      if (tc !== undefined) facts.crc = (tc & 1) === 1;
    }
    if (td === undefined) break;
    protocol = td & 0x0f;
    if (!facts.protocols.includes(protocol) && protocol !== 15) facts.protocols.push(protocol);
    y = td >> 4;
    level++;
  }
  if (facts.protocols.length === 0) facts.protocols.push(0);
  return facts;
}
