import { directionMark, formatMetric, metricChanges, variantMetrics, type Row } from './comparison.js';
import { ConfigError } from './errors.js';
import type { Project } from './project.js';
import type { ExperimentEntry } from './store.js';

export interface ExperimentRow extends Row {
  /** The stage fingerprints of its results. */
  fingerprints: Record<string, string>;
  /** What the row is: the workspace (pipe.lock), a `pipe run -S` experiment, or a sweep variant. */
  source: 'workspace' | 'experiment' | 'sweep';
  experiment?: ExperimentEntry;
}

export const WORKSPACE = 'workspace';

/** Every result `pipe exp` knows for this pipeline file: the workspace, then experiments and sweep variants, oldest first. */
export function experimentRows(project: Project): ExperimentRow[] {
  const { store, pipeline } = project;
  const row = (name: string, params: Record<string, string>, fingerprints: Record<string, string>, source: ExperimentRow['source'], experiment?: ExperimentEntry): ExperimentRow => ({ name, params, fingerprints, source, experiment, metrics: variantMetrics(store, fingerprints) });
  const rows = [row(WORKSPACE, {}, Object.fromEntries(Object.entries(project.lock.stages).map(([s, e]) => [s, e.fingerprint])), 'workspace')];
  const sweeps = store.allSweeps().filter((x) => x.file === pipeline.file);
  const variants = new Set(sweeps.flatMap((sw) => sw.variants.map((v) => `${sw.name}/${v.name}`)));
  const experiments = store.allExperiments().filter((x) => x.file === pipeline.file);
  for (const e of experiments) rows.push(row(e.name, e.params, e.fingerprints, variants.has(e.name) ? 'sweep' : 'experiment', e));
  // Sweeps recorded before their variants were experiments too.
  const known = new Set(experiments.map((e) => e.name));
  for (const sw of sweeps) for (const v of sw.variants) if (!known.has(`${sw.name}/${v.name}`)) rows.push(row(`${sw.name}/${v.name}`, v.params, v.fingerprints, 'sweep'));
  return rows;
}

/** A row as `pipe exp show --json` and pipe ui give it: its metrics and their directions, and for an experiment its git state, times and stages. */
export function rowJson(r: ExperimentRow) {
  const e = r.experiment;
  return { name: r.name, source: r.source, params: r.params, metrics: r.metrics.values, better: r.metrics.better, fingerprints: r.fingerprints, ...(e ? { git: e.git, started: e.started, finished: e.finished, stages: e.stages } : {}) };
}

export function findRow(rows: ExperimentRow[], name: string): ExperimentRow {
  const r = rows.find((x) => x.name === name);
  if (!r) throw new ConfigError(`no experiment '${name}'; there are: ${rows.map((x) => x.name).join(', ')}`);
  return r;
}

/** `pipe exp diff A B`: the params either one set and every metric either has, with the change and which is better. */
export function diffRows(a: ExperimentRow, b: ExperimentRow): { header: string[]; cells: string[][] } {
  const cells: string[][] = [];
  for (const k of [...new Set([...Object.keys(a.params), ...Object.keys(b.params)])].sort()) cells.push([k, a.params[k] ?? '(pipeline.yaml)', b.params[k] ?? '(pipeline.yaml)', '']);
  for (const c of metricChanges(a.metrics, b.metrics)) {
    const winner = c.improved === undefined ? '' : ` (${c.improved ? b.name : a.name} better)`;
    const change = c.delta === undefined ? '' : `${c.delta > 0 ? '+' : ''}${formatMetric(c.delta)}${winner}`;
    cells.push([`${c.metric}${directionMark(c.better)}`, formatMetric(c.old), formatMetric(c.new), change]);
  }
  return { header: ['', a.name, b.name, 'change'], cells };
}
