import { describe, expect, it } from 'vitest';
import {
  chromiumConcurrencyCharts,
  layoutText,
  planClients,
  pointOf,
  runFigures,
  type ChromiumConcurrencyResults,
} from '../../../bench/chromium-concurrency-series.js';

const A = 'extension-a';
const B = 'extension-b';

describe('planClients', () => {
  const count = (plan: { extension: string; clients: number }[], ext: string) =>
    plan.filter((p) => p.extension === ext).reduce((n, p) => n + p.clients, 0);

  it('gives each client its own page when pages allow, the extensions taking turns', () => {
    expect(planClients(1, { maxPages: 100, extensions: [A, B], perExtension: 50 })).toEqual([
      { extension: A, clients: 1 },
    ]);
    const ten = planClients(10, { maxPages: 100, extensions: [A, B], perExtension: 50 });
    expect(ten).toHaveLength(10);
    expect(ten.every((p) => p.clients === 1)).toBe(true);
    expect([count(ten, A), count(ten, B)]).toEqual([5, 5]);
    const hundred = planClients(100, { maxPages: 100, extensions: [A, B], perExtension: 50 });
    expect(hundred).toHaveLength(100);
    expect([count(hundred, A), count(hundred, B)]).toEqual([50, 50]);
  });

  it('spreads clients evenly over fewer pages, within each extension share', () => {
    const plan = planClients(100, { maxPages: 10, extensions: [A, B], perExtension: 50 });
    expect(plan.map((p) => p.clients)).toEqual(Array(10).fill(10));
    expect([count(plan, A), count(plan, B)]).toEqual([50, 50]);
    const uneven = planClients(23, { maxPages: 4, extensions: [A, B], perExtension: 50 });
    expect(uneven.map((p) => p.clients)).toEqual([6, 6, 6, 5]);
  });

  it('moves a page to the next extension when its own share is full', () => {
    // Pages of 2, 1 and 1 with shares of 2: the third page's turn is A's, which is full, so B takes it.
    expect(planClients(4, { maxPages: 3, extensions: [A, B], perExtension: 2 })).toEqual([
      { extension: A, clients: 2 },
      { extension: B, clients: 1 },
      { extension: B, clients: 1 },
    ]);
  });

  it('refuses more clients than the shares hold, or nonsense counts', () => {
    expect(() => planClients(101, { maxPages: 100, extensions: [A, B], perExtension: 50 })).toThrow(/fair shares/);
    // 100 clients on 3 pages (34, 33, 33) cannot fit shares of 50.
    expect(() => planClients(100, { maxPages: 3, extensions: [A, B], perExtension: 50 })).toThrow(/cannot place/);
    expect(() => planClients(0, { maxPages: 1, extensions: [A], perExtension: 50 })).toThrow(RangeError);
    expect(() => planClients(1, { maxPages: 0, extensions: [A], perExtension: 50 })).toThrow(RangeError);
    expect(() => planClients(1, { maxPages: 1, extensions: [], perExtension: 50 })).toThrow(/no client extension/);
  });
});

describe('runFigures and pointOf', () => {
  it('takes the median client wait per APDU and all APDUs over the whole span', () => {
    const f = runFigures(
      [
        { startMs: 1000, endMs: 1100, clientMs: [90, 100] },
        { startMs: 1010, endMs: 1200, clientMs: [180] },
      ],
      10,
    );
    // Median client: 100 ms over 10 APDUs = 10,000 µs; 30 APDUs in 200 ms = 150 per second.
    expect(f.perApduUs).toBeCloseTo(10_000);
    expect(f.apdusPerSecond).toBeCloseTo(150);
  });

  it('refuses a run with no client or no time', () => {
    expect(() => runFigures([{ startMs: 0, endMs: 1, clientMs: [] }], 5)).toThrow(RangeError);
    expect(() => runFigures([{ startMs: 5, endMs: 5, clientMs: [1] }], 5)).toThrow(/no time/);
    expect(() => runFigures([{ startMs: 0, endMs: 1, clientMs: [1] }], 0)).toThrow(RangeError);
  });

  it('takes each figure median over runs on its own', () => {
    const p = pointOf([
      { perApduUs: 3, apdusPerSecond: 100 },
      { perApduUs: 1, apdusPerSecond: 300 },
      { perApduUs: 2, apdusPerSecond: 200 },
    ]);
    expect(p).toEqual({ perApduUs: 2, apdusPerSecond: 200 });
    expect(() => pointOf([])).toThrow(RangeError);
  });
});

describe('layoutText and the charts', () => {
  it('says what a client was', () => {
    expect(
      layoutText([
        { clients: 1, pages: 1 },
        { clients: 100, pages: 100 },
      ]),
    ).toBe('a client page each');
    expect(
      layoutText([
        { clients: 10, pages: 10 },
        { clients: 100, pages: 10 },
        { clients: 23, pages: 4 },
      ]),
    ).toBe('a client page each, but 100 = 10 pages × 10, 23 = 4 pages × 5–6');
  });

  it('draws ours and the floor at every client count', () => {
    const results: ChromiumConcurrencyResults = {
      total: 1000,
      runs: 3,
      maxPages: 10,
      points: [
        { clients: 1, pages: 1, perApduUs: 500, apdusPerSecond: 2000, floorPerApduUs: 300, floorApdusPerSecond: 3300 },
        {
          clients: 100,
          pages: 10,
          perApduUs: 50_000,
          apdusPerSecond: 2100,
          floorPerApduUs: 30_000,
          floorApdusPerSecond: 3400,
        },
      ],
    };
    const charts = chromiumConcurrencyCharts(results);
    expect(Object.keys(charts).sort()).toEqual([
      'chromium-concurrency-latency.svg',
      'chromium-concurrency-throughput.svg',
    ]);
    const latency = charts['chromium-concurrency-latency.svg']!;
    expect(latency).toContain('a client page each, but 100 = 10 pages × 10');
    for (const y of [500, 50000, 300, 30000]) expect(latency).toContain(`data-y="${y}"`);
    const throughput = charts['chromium-concurrency-throughput.svg']!;
    for (const y of [2000, 2100, 3300, 3400]) expect(throughput).toContain(`data-y="${y}"`);
    expect(throughput.match(/<g class="series"/g)).toHaveLength(2);
  });
});
