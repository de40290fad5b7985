import { execFileSync } from 'node:child_process';
import { directionMark, formatMetric, metricChanges, variantMetrics } from './comparison.js';
import { ConfigError } from './errors.js';
import { LOCK_NAME, parseLock, type LockFile } from './lockfile.js';
import type { Project } from './project.js';

/** pipe.lock as a git revision has it (`git show REV:./pipe.lock`, from the pipeline's folder). */
export function lockAt(dir: string, rev: string): LockFile {
  let text: string;
  try {
    text = execFileSync('git', ['show', `${rev}:./${LOCK_NAME}`], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  } catch (e) {
    const why = String((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split('\n')[0];
    throw new ConfigError(`cannot read ${LOCK_NAME} at git revision '${rev}': ${why}`);
  }
  return parseLock(text, `${rev}:${LOCK_NAME}`);
}

/** `stage.param` (nested keys dotted) -> the value, as JSON text, for every stage. */
function flatParams(stages: Record<string, { params: Record<string, unknown> }>): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (prefix: string, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) walk(`${prefix}.${k}`, x);
    else out.set(prefix, JSON.stringify(v));
  };
  for (const [stage, { params }] of Object.entries(stages)) for (const [k, v] of Object.entries(params)) walk(`${stage}.${k}`, v);
  return out;
}

export interface DiffRow {
  key: string;
  old: string;
  new: string;
  change?: string;
}

/** The params that differ between pipeline.yaml now and a lock (the working one, or a revision's). */
export function paramsDiff(project: Project, old: LockFile): DiffRow[] {
  const now = flatParams(Object.fromEntries([...project.pipeline.stages].map(([name, s]) => [name, { params: s.params }])));
  const then = flatParams(old.stages);
  const keys = [...new Set([...now.keys(), ...then.keys()])].sort();
  return keys.filter((k) => now.get(k) !== then.get(k)).map((k) => ({ key: k, old: then.get(k) ?? '—', new: now.get(k) ?? '—' }));
}

/** The metrics of the working pipe.lock's results against an older lock's (from the cache: results it no longer has show as —). */
export function metricsDiff(project: Project, old: LockFile, all: boolean): DiffRow[] {
  const fps = (l: LockFile) => Object.fromEntries(Object.entries(l.stages).map(([s, e]) => [s, e.fingerprint]));
  const fmt = (v: number | undefined) => formatMetric(v, 6);
  return metricChanges(variantMetrics(project.store, fps(old)), variantMetrics(project.store, fps(project.lock)))
    .filter((c) => all || c.old !== c.new)
    .map((c) => ({
      key: `${c.metric}${directionMark(c.better)}`,
      old: fmt(c.old),
      new: fmt(c.new),
      change: c.delta === undefined ? '' : `${c.delta > 0 ? '+' : ''}${fmt(c.delta)}${c.improved === undefined ? '' : c.improved ? ' (better)' : ' (worse)'}`,
    }));
}
