import { describe, expect, it } from 'vitest';
import { MARGIN, lineChart, tickLabel } from '../../../bench/chart.js';

/** Tags balanced, attributes quoted, no stray '<' or unescaped '&': enough XML well-formedness for our writer. */
function checkWellFormed(svg: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(svg); m !== null; m = tag.exec(svg)) {
    const between = svg.slice(last, m.index);
    expect(between).not.toMatch(/[<>]/);
    expect(between).not.toMatch(/&(?!(amp|lt|gt|quot);)/);
    last = tag.lastIndex;
    const [, closing, name, , selfClosing] = m;
    if (closing) expect(stack.pop()).toBe(name);
    else if (!selfClosing) stack.push(name!);
  }
  expect(svg.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
}

function circles(svg: string): { cx: number; cy: number; x: number; y: number }[] {
  return [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"[^>]*data-x="([^"]+)" data-y="([^"]+)"/g)].map((m) => ({
    cx: Number(m[1]),
    cy: Number(m[2]),
    x: Number(m[3]),
    y: Number(m[4]),
  }));
}

describe('lineChart', () => {
  it('writes a well-formed SVG with a title, axis titles, a legend entry per series and escaped text', () => {
    const svg = lineChart(
      [
        {
          name: 'A & <B>',
          points: [
            { x: 1, y: 2 },
            { x: 2, y: 4 },
          ],
        },
        { name: 'C', points: [{ x: 1, y: 3 }] },
      ],
      { title: 'per-APDU "time"', xLabel: 'clients', yLabel: 'µs' },
    );
    checkWellFormed(svg);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('per-APDU &quot;time&quot;');
    expect(svg).toContain('A &amp; &lt;B&gt;');
    expect(svg.match(/<g class="series"/g)).toHaveLength(2);
    expect(svg.match(/<polyline/g)).toHaveLength(1); // one point draws no line
  });

  it('places points on linear axes: the extremes of whole ticks at the plot corners, the rest proportionally', () => {
    const width = 600;
    const height = 300;
    const svg = lineChart(
      [
        {
          name: 's',
          points: [
            { x: 0, y: 0 },
            { x: 10, y: 100 },
            { x: 5, y: 50 },
          ],
        },
      ],
      {
        title: 't',
        xLabel: 'x',
        yLabel: 'y',
        width,
        height,
      },
    );
    const right = width - MARGIN.right;
    const bottom = height - MARGIN.bottom;
    const [p0, p1, p2] = circles(svg);
    expect(p0).toMatchObject({ cx: MARGIN.left, cy: bottom });
    expect(p1).toMatchObject({ cx: right, cy: MARGIN.top });
    expect(p2!.cx).toBeCloseTo((MARGIN.left + right) / 2, 0);
    expect(p2!.cy).toBeCloseTo((MARGIN.top + bottom) / 2, 0);
  });

  it('places points on log axes by decade, with ticks at the powers of ten', () => {
    const svg = lineChart(
      [
        {
          name: 's',
          points: [
            { x: 10, y: 1 },
            { x: 100, y: 10 },
            { x: 10000, y: 1000 },
          ],
        },
      ],
      {
        title: 't',
        xLabel: 'waiters',
        yLabel: 'µs',
        xLog: true,
        yLog: true,
        width: 600,
        height: 300,
      },
    );
    checkWellFormed(svg);
    const [a, b, c] = circles(svg);
    // x spans decades 10 … 10,000 (3 decades), y 1 … 1,000 (3 decades): equal steps per decade.
    expect(b!.cx - a!.cx).toBeCloseTo((c!.cx - a!.cx) / 3, 0);
    expect(a!.cy - b!.cy).toBeCloseTo((a!.cy - c!.cy) / 3, 0);
    for (const label of ['10', '100', '1k', '10k']) expect(svg).toContain(`>${label}</text>`);
    expect(svg).toContain('(log scale)');
  });

  it('leaves out points a log axis cannot show, and draws an empty chart without failing', () => {
    const svg = lineChart(
      [
        {
          name: 's',
          points: [
            { x: 0, y: 5 },
            { x: 10, y: 5 },
            { x: 100, y: Number.NaN },
          ],
        },
      ],
      {
        title: 't',
        xLabel: 'x',
        yLabel: 'y',
        xLog: true,
      },
    );
    expect(circles(svg).map((p) => p.x)).toEqual([10]);
    checkWellFormed(lineChart([], { title: 'empty', xLabel: 'x', yLabel: 'y', yLog: true }));
  });
});

describe('tickLabel', () => {
  it('shortens thousands and millions', () => {
    expect(tickLabel(8)).toBe('8');
    expect(tickLabel(1000)).toBe('1k');
    expect(tickLabel(65536)).toBe('65.5k');
    expect(tickLabel(2_000_000)).toBe('2M');
    expect(tickLabel(0.5)).toBe('0.5');
  });
});
