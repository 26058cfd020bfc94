import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appendEdc, type EdcKind } from '../../src/ccid/edc.js';
import { DriverError } from '../../src/ifd/errors.js';
import { T1Protocol, T1ReceiveError, type T1Link } from '../../src/ccid/t1.js';
import { decodeBlock, encodeBlock, type T1Block } from '../../src/ccid/t1-block.js';

const edcArb = fc.constantFrom<EdcKind>('lrc', 'crc');

const blockArb: fc.Arbitrary<T1Block> = fc.oneof(
  fc.record({
    type: fc.constant('I' as const),
    ns: fc.constantFrom<0 | 1>(0, 1),
    more: fc.boolean(),
    inf: fc.uint8Array({ maxLength: 254 }),
  }),
  fc.record({
    type: fc.constant('R' as const),
    nr: fc.constantFrom<0 | 1>(0, 1),
    error: fc.constantFrom('none' as const, 'edc' as const, 'other' as const),
  }),
  fc.record({
    type: fc.constant('S' as const),
    kind: fc.constantFrom('resynch' as const, 'abort' as const),
    response: fc.boolean(),
  }),
  fc.record({
    type: fc.constant('S' as const),
    kind: fc.constant('ifs' as const),
    response: fc.boolean(),
    value: fc.integer({ min: 1, max: 254 }),
  }),
  fc.record({
    type: fc.constant('S' as const),
    kind: fc.constant('wtx' as const),
    response: fc.boolean(),
    value: fc.integer({ min: 0, max: 255 }),
  }),
);

function expectWellFormed(r: ReturnType<typeof decodeBlock>): void {
  if (r.ok) {
    expect(['I', 'R', 'S']).toContain(r.block.type);
    expect(r.nad).toBeGreaterThanOrEqual(0);
    expect(r.nad).toBeLessThanOrEqual(255);
  } else {
    expect(typeof r.reason).toBe('string');
    expect(r.reason.length).toBeGreaterThan(0);
    expect(typeof r.edcError).toBe('boolean');
  }
}

describe('T=1 block codec properties', () => {
  it('decodeBlock on arbitrary bytes returns a result and never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), edcArb, (bytes, edc) => {
        expectWellFormed(decodeBlock(bytes, edc));
      }),
      { numRuns: 500 },
    );
  });

  it('a decoded block re-encodes to exactly the bytes it came from (bodies with a correct EDC)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 3, maxLength: 12 }),
        fc.uint8Array({ maxLength: 40 }),
        edcArb,
        (head, tail, edc) => {
          // Make LEN right half of the time so that semantic checks, not just the length check, are exercised.
          const body = Uint8Array.from([...head, ...tail]);
          if (tail.length % 2 === 0) body[2] = body.length - 3;
          const bytes = appendEdc(body, edc);
          const r = decodeBlock(bytes, edc);
          expectWellFormed(r);
          if (r.ok) expect(encodeBlock(r.block, { nad: r.nad, edc })).toEqual(bytes);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('encode then decode gives back the block and its NAD', () => {
    fc.assert(
      fc.property(blockArb, fc.integer({ min: 0, max: 255 }), edcArb, (block, nad, edc) => {
        expect(decodeBlock(encodeBlock(block, { nad, edc }), edc)).toEqual({ ok: true, nad, block });
      }),
      { numRuns: 300 },
    );
  });

  it('a single flipped bit anywhere in a valid block is never accepted as the same block', () => {
    fc.assert(
      fc.property(blockArb, edcArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (block, edc, at, bit) => {
        const bytes = encodeBlock(block, { edc });
        const damaged = bytes.slice();
        const i = at % damaged.length;
        damaged[i] = (damaged[i] ?? 0) ^ (1 << bit);
        const r = decodeBlock(damaged, edc);
        expect(r.ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// A correct card on the other side of a faulty line.

/** Small deterministic PRNG (mulberry32) so that a failing seed replays exactly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the fake card answers to a command: depends on every byte, long enough to need chaining. */
function expectedResponse(cmd: Uint8Array): Uint8Array {
  const len = ((cmd[0] ?? 0) * 7 + cmd.length * 13) % 600;
  const out = new Uint8Array(len + 2);
  for (let i = 0; i < len; i++) out[i] = (cmd[cmd.length - 1 - (i % cmd.length)] ?? 0) ^ (i & 0xff);
  out[len] = 0x90;
  out[len + 1] = 0x00;
  return out;
}

/** The card side of ISO 7816-3 §11, written independently of T1Protocol and kept minimal but correct. */
class FakeT1Card {
  private ns: 0 | 1 = 0;
  private nr: 0 | 1 = 0;
  private ifsd = 32;
  private command: number[] = [];
  private response: Uint8Array | undefined;
  private offset = 0;
  private chunk = 0;
  private more = false;
  private awaitingAck = false;
  private lastI: Uint8Array | undefined;
  private last: Uint8Array | undefined;
  private pending: Uint8Array | undefined;

  constructor(
    private readonly edc: EdcKind,
    private readonly ifsc: number,
    private readonly rng: () => number,
    private readonly wtxRate: number,
  ) {}

  reset(): void {
    this.ns = 0;
    this.nr = 0;
    this.ifsd = 32;
    this.command = [];
    this.response = undefined;
    this.awaitingAck = false;
    this.lastI = undefined;
    this.last = undefined;
    this.pending = undefined;
  }

  private keep(block: T1Block): Uint8Array {
    this.last = encodeBlock(block, { edc: this.edc });
    return this.last;
  }

  /** An error R-block is not remembered: a later repeat request gets the last meaningful block. */
  private complain(error: 'edc' | 'other'): Uint8Array {
    return encodeBlock({ type: 'R', nr: this.nr, error }, { edc: this.edc });
  }

  private resendLast(): Uint8Array {
    return this.last ?? this.complain('other');
  }

  private responseBlock(): Uint8Array {
    const r = this.response ?? new Uint8Array(0);
    this.chunk = Math.min(this.ifsd, r.length - this.offset);
    this.more = this.offset + this.chunk < r.length;
    this.lastI = encodeBlock(
      { type: 'I', ns: this.ns, more: this.more, inf: r.subarray(this.offset, this.offset + this.chunk) },
      { edc: this.edc },
    );
    this.last = this.lastI;
    return this.lastI;
  }

  receive(bytes: Uint8Array): Uint8Array {
    const d = decodeBlock(bytes, this.edc);
    if (!d.ok) return this.complain(d.edcError ? 'edc' : 'other');
    const b = d.block;
    if (b.type === 'S') {
      if (b.response) {
        if (b.kind === 'wtx' && this.pending) {
          this.last = this.pending;
          this.pending = undefined;
          return this.last;
        }
        return this.resendLast();
      }
      if (b.kind === 'resynch') {
        this.reset();
        return this.keep({ type: 'S', kind: 'resynch', response: true });
      }
      if (b.kind === 'ifs') {
        this.ifsd = b.value ?? 32;
        return this.keep({ type: 'S', kind: 'ifs', response: true, value: this.ifsd });
      }
      return this.complain('other');
    }
    if (b.type === 'R') {
      if (this.pending) return this.resendLast(); // our S(WTX request) was lost
      if (this.awaitingAck && b.nr !== this.ns && this.more) {
        this.ns = this.ns ? 0 : 1;
        this.offset += this.chunk;
        return this.responseBlock();
      }
      if (this.awaitingAck && b.nr === this.ns && this.lastI) {
        this.last = this.lastI;
        return this.lastI;
      }
      return this.resendLast();
    }
    // I-block
    if (b.ns !== this.nr) return this.resendLast();
    if (this.awaitingAck) {
      if (this.more) return this.complain('other');
      this.ns = this.ns ? 0 : 1; // the interface device's next I-block acknowledges our last one
      this.awaitingAck = false;
      this.response = undefined;
    }
    if (b.inf.length > this.ifsc) return this.complain('other');
    this.command.push(...b.inf);
    this.nr = this.nr ? 0 : 1;
    if (b.more) return this.keep({ type: 'R', nr: this.nr, error: 'none' });
    this.response = expectedResponse(Uint8Array.from(this.command));
    this.command = [];
    this.offset = 0;
    this.awaitingAck = true;
    const block = this.responseBlock();
    if (this.rng() < this.wtxRate) {
      this.pending = block;
      return this.keep({ type: 'S', kind: 'wtx', response: false, value: 1 + Math.floor(this.rng() * 3) });
    }
    return block;
  }
}

/** The line between reader and card: loses and damages blocks in either direction at `rate`. */
function faultyLink(card: FakeT1Card, rng: () => number, rate: number): T1Link {
  const flip = (b: Uint8Array): Uint8Array => {
    const out = b.slice();
    const i = Math.floor(rng() * out.length);
    out[i] = (out[i] ?? 0) ^ (1 << Math.floor(rng() * 8));
    return out;
  };
  return {
    async exchange(block: Uint8Array, wtx: number): Promise<Uint8Array> {
      expect(wtx).toBeGreaterThanOrEqual(1);
      if (rng() >= rate) return card.receive(block);
      switch (Math.floor(rng() * 6)) {
        case 0:
          throw new T1ReceiveError('timeout', 'block lost on the way to the card');
        case 1:
          return card.receive(flip(block));
        case 2:
          card.receive(block);
          throw new T1ReceiveError('timeout', "the card's answer was lost");
        case 3:
          card.receive(block);
          throw new T1ReceiveError('parity', 'parity error on the answer');
        case 4:
          return flip(card.receive(block));
        default: {
          const reply = card.receive(block);
          return reply.subarray(0, Math.max(0, reply.length - 1 - Math.floor(rng() * 3)));
        }
      }
    },
  };
}

describe('T1Protocol over a faulty line', () => {
  const scenario = fc.record({
    seed: fc.integer(),
    edc: edcArb,
    ifsc: fc.integer({ min: 1, max: 254 }),
    ifsd: fc.integer({ min: 1, max: 254 }),
    negotiate: fc.boolean(),
    wtxRate: fc.constantFrom(0, 0.2),
    commands: fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 4 }),
  });

  it('on a clean line every command gets exactly its response', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const rng = prng(s.seed);
        const card = new FakeT1Card(s.edc, s.ifsc, rng, s.wtxRate);
        const t1 = new T1Protocol(faultyLink(card, rng, 0), { ifsc: s.ifsc, ifsd: s.ifsd, edc: s.edc });
        if (s.negotiate) await t1.sendIfsRequest();
        for (const cmd of s.commands) expect(await t1.transceive(cmd)).toEqual(expectedResponse(cmd));
        expect(t1.stats).toMatchObject({ retransmissions: 0, resynchs: 0 });
      }),
      { numRuns: 60 },
    );
  });

  it('with random losses, damage and parity errors, returns the right response or a DriverError, never wrong data', async () => {
    let successes = 0;
    let recoveries = 0;
    await fc.assert(
      fc.asyncProperty(scenario, fc.constantFrom(0.05, 0.15, 0.3), async (s, rate) => {
        const rng = prng(s.seed);
        const card = new FakeT1Card(s.edc, s.ifsc, rng, s.wtxRate);
        const t1 = new T1Protocol(faultyLink(card, rng, rate), { ifsc: s.ifsc, ifsd: s.ifsd, edc: s.edc });
        const attempt = async <T>(work: () => Promise<T>): Promise<T | DriverError> => {
          try {
            return await work();
          } catch (e) {
            expect(e).toBeInstanceOf(DriverError);
            if (t1.state === 'dead') {
              // What the driver does next: reset the card, then the protocol.
              card.reset();
              t1.reset();
            }
            return e as DriverError;
          }
        };
        if (s.negotiate) await attempt(() => t1.sendIfsRequest());
        for (const cmd of s.commands) {
          const r = await attempt(() => t1.transceive(cmd));
          if (r instanceof DriverError) continue;
          expect(r).toEqual(expectedResponse(cmd));
          successes++;
        }
        if (t1.stats.retransmissions > 0) recoveries++;
      }),
      { numRuns: 120 },
    );
    // The property is only meaningful if faults were recovered from and commands still went through.
    expect(successes).toBeGreaterThan(0);
    expect(recoveries).toBeGreaterThan(0);
  });
});
