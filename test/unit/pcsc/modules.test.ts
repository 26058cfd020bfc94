import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HandleAllocator } from '../../../src/pcsc/handles.js';
import { chooseProtocol, decodeAtrProtocols } from '../../../src/pcsc/protocol.js';
import { PcscError, isPcscError } from '../../../src/pcsc/errors.js';
import { Notifier, SerialQueue } from '../../../src/pcsc/notifier.js';
import { IFD } from '../../../src/ifd/errors.js';
import { SCARD_E_INSUFFICIENT_BUFFER, SCARD_W_REMOVED_CARD } from '../../../src/pcsc/constants.js';

const hex = (s: string): Uint8Array =>
  Uint8Array.from(
    s
      .split(/\s+/)
      .filter(Boolean)
      .map((b) => parseInt(b, 16)),
  );

describe('HandleAllocator', () => {
  it('gives unique non-zero 31-bit values, even from a constant random source', () => {
    const a = new HandleAllocator(() => 0.5);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const h = a.allocate();
      expect(h).toBeGreaterThan(0);
      expect(h).toBeLessThanOrEqual(0x7fffffff);
      expect(seen.has(h)).toBe(false);
      seen.add(h);
    }
    const z = new HandleAllocator(() => 0);
    expect(z.allocate()).not.toBe(0);
  });

  it('frees released values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 0.999999, noNaN: true }), { minLength: 1, maxLength: 50 }),
        (xs) => {
          let i = 0;
          const a = new HandleAllocator(() => xs[i++ % xs.length]!);
          const hs = xs.map(() => a.allocate());
          expect(new Set(hs).size).toBe(hs.length);
          for (const h of hs) a.release(h);
          expect(a.size).toBe(0);
        },
      ),
    );
  });
});

describe('ATRDecodeAtr / PHSetProtocol', () => {
  it('decodes T=0 only, T=1, dual and specific-mode ATRs', () => {
    expect(decodeAtrProtocols(hex('3B 02 14 50'))).toEqual({ available: 1, defaultProtocol: 1 });
    expect(decodeAtrProtocols(hex('3B 80 01 81'))).toEqual({ available: 2, defaultProtocol: 2 });
    expect(decodeAtrProtocols(hex('3B 80 80 01 01'))).toEqual({ available: 3, defaultProtocol: 1 });
    // TA2 = 0x01: specific mode T=1 although TD1 says T=0
    expect(decodeAtrProtocols(hex('3B 90 11 90 01 01'))).toEqual({ available: 2, defaultProtocol: 2 });
    expect(decodeAtrProtocols(hex('3C 00'))).toEqual({ available: 0, defaultProtocol: 0 });
  });

  it('prefers T=1, falls back to the default on "protocol not supported", fails PPS otherwise', async () => {
    const dual = { available: 3, defaultProtocol: 1 };
    expect(await chooseProtocol(3, dual, async () => 'ok', IFD)).toBe(2);
    expect(await chooseProtocol(3, dual, async () => IFD.PROTOCOL_NOT_SUPPORTED, IFD)).toBe(1);
    expect(
      await chooseProtocol(2, { available: 2, defaultProtocol: 2 }, async () => IFD.PROTOCOL_NOT_SUPPORTED, IFD),
    ).toBe('pps-failed');
    expect(await chooseProtocol(3, dual, async () => IFD.COMMUNICATION_ERROR, IFD)).toBe('pps-failed');
    expect(await chooseProtocol(2, { available: 1, defaultProtocol: 1 }, async () => 'ok', IFD)).toBe('wrong-argument');
  });
});

describe('PcscError', () => {
  it('carries the unsigned code, the pcsc-lite text and the needed length', () => {
    const e = new PcscError(SCARD_E_INSUFFICIENT_BUFFER | 0, 'the buffer is 2 bytes', { needed: 14 });
    expect(e.code).toBe(0x80100008);
    expect(e.needed).toBe(14);
    expect(e.message).toContain('Insufficient buffer.');
    expect(e.message).toContain('the buffer is 2 bytes');
    expect(isPcscError(e, SCARD_E_INSUFFICIENT_BUFFER)).toBe(true);
    expect(isPcscError(e, SCARD_W_REMOVED_CARD)).toBe(false);
  });
});

describe('Notifier and SerialQueue', () => {
  it('never misses a notification that happened after the generation was read', async () => {
    const n = new Notifier();
    const g = n.generation;
    n.notify();
    await n.wait(g).promise; // resolves at once
  });

  it('runs one task at a time, in order', async () => {
    const q = new SerialQueue();
    const log: string[] = [];
    const a = q.run(async () => {
      log.push('a1');
      await new Promise((r) => setTimeout(r, 2));
      log.push('a2');
    });
    const b = q.run(async () => {
      log.push('b');
    });
    await Promise.all([a, b]);
    expect(log).toEqual(['a1', 'a2', 'b']);
  });
});
