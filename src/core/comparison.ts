import { ConfigError } from './errors.js';
import type { Better } from './stage.js';
import type { RunRecord } from './store.js';

/** A variant's numeric result metrics as `stage.metric`, with the direction each stage declared for them. */
export interface VariantMetrics {
  values: Record<string, number>;
  better: Record<string, Better>;
}

/** Numeric metrics of every stage in a variant (timings left out: they are not results). */
export function variantMetrics(store: { getRun(fp: string): RunRecord | undefined }, fingerprints: Record<string, string>): VariantMetrics {
  const out: VariantMetrics = { values: {}, better: {} };
  for (const [stage, fp] of Object.entries(fingerprints)) {
    const rec = store.getRun(fp);
    const info = rec?.metricInfo ?? {};
    for (const [k, v] of Object.entries(rec?.metrics ?? {})) {
      if (typeof v !== 'number' || info.timing?.includes(k)) continue;
      out.values[`${stage}.${k}`] = v;
      const better = info.better?.[k];
      if (better) out.better[`${stage}.${k}`] = better;
    }
  }
  return out;
}

/** A metric value as tables show it: 4 significant digits (or `digits`), `—` when there is none. */
export const formatMetric = (v: number | undefined, digits = 4) => (v === undefined ? '—' : Number(v.toPrecision(digits)).toString());

/** The header mark of a metric's declared direction: ` ↓` lower is better, ` ↑` higher is. */
export const directionMark = (better: Better | undefined) => (better === 'lower' ? ' ↓' : better === 'higher' ? ' ↑' : '');

export interface MetricChange {
  metric: string;
  better: Better | undefined;
  old: number | undefined;
  new: number | undefined;
  /** new − old, when both sides have it and it changed. */
  delta?: number;
  /** Whether the change went the declared good way (undefined: no direction, or no change). */
  improved?: boolean;
}

/** Every metric either side has, in name order, with its change from `old` to `new`. */
export function metricChanges(old: VariantMetrics, now: VariantMetrics): MetricChange[] {
  return [...new Set([...Object.keys(old.values), ...Object.keys(now.values)])].sort().map((metric) => {
    const [x, y] = [old.values[metric], now.values[metric]];
    const better = now.better[metric] ?? old.better[metric];
    if (x === undefined || y === undefined || x === y) return { metric, better, old: x, new: y };
    const delta = y - x;
    return { metric, better, old: x, new: y, delta, improved: better ? (better === 'lower') === delta < 0 : undefined };
  });
}

export interface Row {
  name: string;
  params: Record<string, string>;
  metrics: VariantMetrics;
}

export interface ComparisonOptions {
  /** Only the metrics whose values differ between rows (default true: a sweep's summary). */
  onlyChanged?: boolean;
  /** Only the params and metrics whose names contain one of these. */
  columns?: string[];
  /** Rows best first by this metric (its declared direction; else highest first), rows without it last. */
  sortBy?: string;
}

/** A comparison table: the params set, then the metrics; the best of each marked by its declared direction. */
export function comparison(input: Row[], opts: ComparisonOptions = {}): { header: string[]; cells: string[][]; best: Record<string, string> } {
  const keep = (k: string) => !opts.columns?.length || opts.columns.some((c) => k.includes(c));
  const paramKeys = [...new Set(input.flatMap((r) => Object.keys(r.params)))].filter(keep);
  const allMetrics = [...new Set(input.flatMap((r) => Object.keys(r.metrics.values)))];
  const metricKeys = allMetrics.filter((k) => keep(k) && (opts.onlyChanged === false || input.length === 1 || new Set(input.map((r) => r.metrics.values[k])).size > 1)).sort();
  const rows = opts.sortBy ? sortRows(input, metricNamed(opts.sortBy, allMetrics)) : input;
  const better: Record<string, Better> = Object.assign({}, ...rows.map((r) => r.metrics.better));
  const best: Record<string, string> = {};
  for (const k of metricKeys) {
    const dir = better[k] === 'lower' ? -1 : better[k] === 'higher' ? 1 : 0;
    if (!dir) continue;
    const scored = rows.filter((r) => Number.isFinite(r.metrics.values[k]));
    if (scored.length < 2) continue;
    best[k] = scored.reduce((a, b) => (dir * (b.metrics.values[k]! - a.metrics.values[k]!) > 0 ? b : a)).name;
  }
  const header = ['variant', ...paramKeys, ...metricKeys.map((k) => `${k}${directionMark(better[k])}`)];
  const cells = rows.map((r) => [r.name, ...paramKeys.map((k) => r.params[k] ?? '—'), ...metricKeys.map((k) => `${formatMetric(r.metrics.values[k])}${best[k] === r.name ? ' *' : ''}`)]);
  return { header, cells, best };
}

export function markdownTable(header: string[], cells: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...cells.map((c) => `| ${c.join(' | ')} |`)].join('\n');
}

export function csv(header: string[], cells: string[][]): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  // Plain values: no best marks, no direction arrows.
  return [header.map((h) => h.replace(/ [↑↓]$/, '')), ...cells.map((c) => c.map((x) => x.replace(/ \*$/, '')))].map((r) => r.map(q).join(',')).join('\n') + '\n';
}

/** The metric a name means: itself, or the one metric it ends (`fd` is ambiguous, `train-gan/own/fd` is not). */
function metricNamed(name: string, metrics: string[]): string {
  if (metrics.includes(name)) return name;
  const matches = metrics.filter((m) => m.endsWith(name));
  if (matches.length === 1) return matches[0]!;
  throw new ConfigError(matches.length ? `--sort-by ${name}: could be ${matches.join(', ')}; give more of the name` : `--sort-by ${name}: no such metric; there are ${metrics.join(', ')}`);
}

function sortRows(rows: Row[], metric: string): Row[] {
  const better = rows.map((r) => r.metrics.better[metric]).find(Boolean);
  const sign = better === 'lower' ? 1 : -1;
  const value = (r: Row) => r.metrics.values[metric];
  return [...rows].sort((a, b) => (value(a) === undefined ? 1 : value(b) === undefined ? -1 : sign * (value(a)! - value(b)!)));
}
