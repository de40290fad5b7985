import { outlineFont, textPath, type Font } from '../fonts/outline.js';

export interface Series {
  name: string;
  values: number[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function niceTicks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function label(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return Number(v.toPrecision(4)).toString();
}

/**
 * A line chart (one line per series, x = epoch) as SVG, with text drawn as
 * paths from a bundled font: the same bytes on every machine.
 */
let labelFont: Promise<Font> | undefined;

export async function lineChart(opts: { title: string; xLabel: string; series: Series[]; width?: number; height?: number }): Promise<string> {
  const font = await (labelFont ??= outlineFont('dejavu-sans'));
  const W = opts.width ?? 640;
  const H = opts.height ?? 360;
  const m = { l: 64, r: 16, t: 56, b: 48 };
  const all = opts.series.flatMap((s) => s.values).filter(Number.isFinite);
  const n = Math.max(1, ...opts.series.map((s) => s.values.length));
  let lo = all.length ? Math.min(...all) : 0;
  let hi = all.length ? Math.max(...all) : 1;
  if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
  const yt = niceTicks(lo, hi);
  lo = Math.min(lo, yt[0]!);
  hi = Math.max(hi, yt[yt.length - 1]!);
  const X = (i: number) => m.l + ((W - m.l - m.r) * (n === 1 ? 0.5 : i / (n - 1)));
  const Y = (v: number) => H - m.b - ((H - m.t - m.b) * (v - lo)) / (hi - lo);
  const text = (t: string, x: number, y: number, size: number, anchor: 'start' | 'middle' | 'end' = 'start', fill = '#222') => {
    const w = textPath(font, t, 0, 0, size).width;
    const x0 = anchor === 'start' ? x : anchor === 'middle' ? x - w / 2 : x - w;
    return `<path d="${textPath(font, t, x0, y, size).d}" fill="${fill}"/>`;
  };
  const parts: string[] = [`<rect width="${W}" height="${H}" fill="#fff"/>`];
  for (const t of yt) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${Y(t).toFixed(1)}" y2="${Y(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(text(label(t), m.l - 6, Y(t) + 4, 11, 'end', '#555'));
  }
  for (const t of niceTicks(1, n, Math.min(8, n)).filter((v) => Number.isInteger(v) && v >= 1 && v <= n)) {
    parts.push(text(String(t), X(t - 1), H - m.b + 16, 11, 'middle', '#555'));
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#999"/>`);
  opts.series.forEach((s, k) => {
    const pts = s.values.map((v, i) => (Number.isFinite(v) ? `${X(i).toFixed(1)},${Y(v).toFixed(1)}` : '')).filter(Boolean);
    const color = COLORS[k % COLORS.length]!;
    if (pts.length > 1) parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    else if (pts.length === 1) parts.push(`<circle cx="${pts[0]!.split(',')[0]}" cy="${pts[0]!.split(',')[1]}" r="3" fill="${color}"/>`);
    const lx = m.l + k * 150;
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${m.t - 14}" y2="${m.t - 14}" stroke="${color}" stroke-width="3"/>`);
    parts.push(text(s.name, lx + 24, m.t - 10, 12));
  });
  parts.push(text(opts.title, m.l, 20, 14, 'start', '#000'));
  parts.push(text(opts.xLabel, (m.l + W - m.r) / 2, H - 12, 12, 'middle', '#333'));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${parts.join('')}</svg>`;
}

/**
 * Charts stacked one above the other, each with its own y axis, so quantities
 * of different scale (KL and reconstruction, accuracy and loss) each stay readable.
 */
export async function panelChart(opts: { title: string; xLabel: string; panels: Series[][]; width?: number }): Promise<string> {
  const W = opts.width ?? 640;
  const H = opts.panels.length === 1 ? 360 : 220;
  const last = opts.panels.length - 1;
  const charts = await Promise.all(opts.panels.map((series, i) => lineChart({ title: i === 0 ? opts.title : '', xLabel: i === last ? opts.xLabel : '', series, width: W, height: H })));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H * charts.length}" viewBox="0 0 ${W} ${H * charts.length}">${charts.map((c, i) => c.replace('<svg ', `<svg y="${i * H}" `)).join('')}</svg>`;
}

export async function svgToPng(svg: string): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  return sharp(Buffer.from(svg), { density: 72 }).png({ compressionLevel: 9 }).toBuffer();
}
