/**
 * A small line-chart writer for the benchmark's growth series (issue 14: "draw each as a chart"): SVG text with axes,
 * ticks, optional log scales, one polyline and its points per series, and a legend. No dependency, no DOM: the SVG is
 * built as a string, so `npm run bench` writes it under bench/results/ and the README shows it as an image.
 */

export interface Point {
  x: number;
  y: number;
}

export interface Series {
  name: string;
  points: readonly Point[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  width?: number;
  height?: number;
}

/**
 * Plot area margins (px) within `width` × `height`: room for tick labels and axis titles on the left and bottom. The
 * legend goes below, one line per series, making the SVG taller than `height` by LEGEND_LINE per series.
 */
export const MARGIN = { left: 72, right: 24, top: 36, bottom: 52 } as const;
export const LEGEND_LINE = 18;

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A short tick label: 1,000 → "1k", 65,536 → "65.5k", 2,000,000 → "2M", 0.5 → "0.5". */
export function tickLabel(v: number): string {
  const a = Math.abs(v);
  const trim = (n: number) => String(Number(n.toPrecision(3)));
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e3) return `${trim(v / 1e3)}k`;
  return trim(v);
}

interface Axis {
  min: number;
  max: number;
  log: boolean;
  ticks: number[];
}

/** Linear ticks at 1, 2 or 5 × 10^k, about five of them, the domain widened to whole ticks (and to 0 when near). */
function linearAxis(lo: number, hi: number): Axis {
  if (lo > 0 && lo < hi / 2) lo = 0;
  if (lo === hi) {
    lo = lo === 0 ? 0 : lo - Math.abs(lo) / 2;
    hi = hi === 0 ? 1 : hi + Math.abs(hi) / 2;
  }
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const min = Math.floor(lo / step) * step;
  const max = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let t = min; t <= max + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { min, max, log: false, ticks };
}

/** Log ticks at the powers of ten, the domain widened to whole decades. */
function logAxis(lo: number, hi: number): Axis {
  if (!(lo > 0)) throw new RangeError('a log axis needs positive values');
  let a = Math.floor(Math.log10(lo));
  let b = Math.ceil(Math.log10(hi));
  if (a === b) {
    a -= 1;
    b += 1;
  }
  const ticks: number[] = [];
  for (let e = a; e <= b; e++) ticks.push(10 ** e);
  return { min: 10 ** a, max: 10 ** b, log: true, ticks };
}

function axisOf(values: number[], log: boolean): Axis {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  if (finite.length === 0) return log ? logAxis(1, 10) : linearAxis(0, 1);
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return log ? logAxis(lo, hi) : linearAxis(lo, hi);
}

/** Where `v` falls on the axis, 0 (min) … 1 (max). */
function fraction(axis: Axis, v: number): number {
  if (axis.log) return (Math.log10(v) - Math.log10(axis.min)) / (Math.log10(axis.max) - Math.log10(axis.min));
  return (v - axis.min) / (axis.max - axis.min);
}

const fmt = (n: number) => String(Math.round(n * 10) / 10);

/**
 * The chart as an SVG document. Points that cannot be drawn (not finite, or ≤ 0 on a log axis) are left out of their
 * series. Each point is a `<circle>` carrying its data in `data-x` / `data-y`, so a reader (or a test) can find it.
 */
export function lineChart(series: readonly Series[], options: ChartOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  const drawable = (p: Point) =>
    Number.isFinite(p.x) && Number.isFinite(p.y) && (!options.xLog || p.x > 0) && (!options.yLog || p.y > 0);
  const all = series.flatMap((s) => s.points.filter(drawable));
  const xAxis = axisOf(
    all.map((p) => p.x),
    options.xLog ?? false,
  );
  const yAxis = axisOf(
    all.map((p) => p.y),
    options.yLog ?? false,
  );
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const px = (x: number) => MARGIN.left + fraction(xAxis, x) * plotW;
  const py = (y: number) => MARGIN.top + (1 - fraction(yAxis, y)) * plotH;

  const out: string[] = [];
  const fullHeight = height + LEGEND_LINE * series.length + (series.length > 0 ? 6 : 0);
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${fullHeight}" viewBox="0 0 ${width} ${fullHeight}"` +
      ` font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect x="0" y="0" width="${width}" height="${fullHeight}" fill="#ffffff"/>`);
  out.push(
    `<text x="${fmt(MARGIN.left + plotW / 2)}" y="20" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`,
  );
  // Grid lines and tick labels.
  for (const t of xAxis.ticks) {
    const x = fmt(px(t));
    out.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${x}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${tickLabel(t)}</text>`);
  }
  for (const t of yAxis.ticks) {
    const y = fmt(py(t));
    out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#e0e0e0"/>`);
    out.push(
      `<text x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${tickLabel(t)}</text>`,
    );
  }
  // Axes and their titles.
  out.push(
    `<path d="M${MARGIN.left},${MARGIN.top} V${MARGIN.top + plotH} H${MARGIN.left + plotW}" fill="none" stroke="#000000"/>`,
  );
  const xTitle = `${options.xLabel}${options.xLog ? ' (log scale)' : ''}`;
  const yTitle = `${options.yLabel}${options.yLog ? ' (log scale)' : ''}`;
  out.push(
    `<text x="${fmt(MARGIN.left + plotW / 2)}" y="${height - 10}" text-anchor="middle">${escapeXml(xTitle)}</text>`,
  );
  const yMid = fmt(MARGIN.top + plotH / 2);
  out.push(
    `<text x="16" y="${yMid}" text-anchor="middle" transform="rotate(-90 16 ${yMid})">${escapeXml(yTitle)}</text>`,
  );
  // Series and legend.
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.filter(drawable);
    const coords = pts.map((p) => `${fmt(px(p.x))},${fmt(py(p.y))}`);
    out.push(`<g class="series" data-name="${escapeXml(s.name)}">`);
    if (coords.length > 1)
      out.push(`<polyline points="${coords.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of pts) {
      out.push(
        `<circle cx="${fmt(px(p.x))}" cy="${fmt(py(p.y))}" r="3" fill="${color}" data-x="${p.x}" data-y="${p.y}"/>`,
      );
    }
    out.push('</g>');
    const ly = height + 6 + i * LEGEND_LINE;
    const lx = MARGIN.left;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 18}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${lx + 24}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
