import type { RowKind, RowScores, SpaceValues } from '../metrics/scores.js';

/** Which value of a column is best: the lowest, the highest, the nearest the real-vs-real row's, the nearest 1. */
type Best = 'lower' | 'higher' | 'near-real' | 'near-one';

interface Column {
  title: string;
  value: (r: RowScores) => number;
  /** The standard deviation of the value over the draws it is the mean of, if it is one. */
  sd?: (r: RowScores) => number | undefined;
  best: Best;
}

export interface MetricsTable {
  header: string[];
  rows: Array<{ kind: RowKind; cells: string[]; best: boolean[] }>;
  /** Columns left out because every set has the same value there (they tell nothing for this run). */
  dropped: string[];
}

export function fmt(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '—';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : Number(v.toPrecision(4)).toString();
}

function columns(spaces: string[]): Column[] {
  const metric = (s: string, m: keyof SpaceValues, title: string, best: Best): Column => ({ title: `${s} ${title}`, value: (r) => r.spaces[s]![m], sd: (r) => r.spaces[s]!.sd?.[m], best });
  const perSpace = (s: string): Column[] => [
    metric(s, 'fd', 'FD', 'lower'),
    metric(s, 'kid', 'KID', 'lower'),
    ...(['precision', 'recall', 'density', 'coverage'] as const).map((m) => metric(s, m, m, 'higher')),
  ];
  return [
    ...spaces.flatMap(perSpace),
    { title: 'pixel MMD²', value: (r) => r.pixelMmd, best: 'lower' },
    { title: 'MS-SSIM', value: (r) => r.msssim, sd: (r) => r.msssimSd, best: 'near-real' },
    { title: 'nearest-train ratio', value: (r) => r.memorisation.ratio, best: 'near-one' },
    { title: 'copy rate', value: (r) => r.memorisation.copyRate, best: 'lower' },
  ];
}

/**
 * The metrics table: a row per set, a column per score; the best model
 * value of each column is marked (where the models differ), and
 * columns with one value for every set are dropped and named.
 */
export function metricsTable(scores: RowScores[], spaces: string[]): MetricsTable {
  const real = scores.find((r) => r.kind === 'real');
  const models = scores.filter((r) => r.kind === 'model');
  const kept: Column[] = [];
  const dropped: Column[] = [];
  for (const c of columns(spaces)) (new Set(scores.map((r) => fmt(Number(c.value(r).toPrecision(3))))).size > 1 ? kept : dropped).push(c);
  const score = (c: Column, r: RowScores): number => {
    const v = c.value(r);
    if (c.best === 'lower') return v;
    if (c.best === 'higher') return -v;
    return Math.abs(v - (c.best === 'near-one' ? 1 : real ? c.value(real) : v));
  };
  // A column marks its best model only where the models differ there.
  const bestOf = kept.map((c) => {
    const v = models.map((m) => score(c, m));
    return new Set(v).size > 1 ? Math.min(...v) : undefined;
  });
  return {
    header: ['set', ...kept.map((c) => c.title)],
    rows: scores.map((r) => ({
      kind: r.kind,
      cells: [r.name, ...kept.map((c) => cell(c.value(r), c.sd?.(r)))],
      best: [false, ...kept.map((c, i) => r.kind === 'model' && bestOf[i] !== undefined && score(c, r) === bestOf[i])],
    })),
    dropped: dropped.map((c) => c.title),
  };
}

/** A value, and ± its standard deviation over draws where it is a mean (two significant digits: it is a spread). */
function cell(v: number, sd: number | undefined): string {
  return sd === undefined ? fmt(v) : `${fmt(v)} ± ${fmt(Number(sd.toPrecision(2)))}`;
}

/** The table as GitHub markdown, best values in bold. */
export function tableMarkdown(t: MetricsTable): string {
  return [
    `| ${t.header.join(' | ')} |`,
    `|${t.header.map(() => '---').join('|')}|`,
    ...t.rows.map((r) => `| ${r.cells.map((c, i) => (r.best[i] ? `**${c}**` : c)).join(' | ')} |`),
  ].join('\n');
}
