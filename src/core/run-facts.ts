import { join } from 'node:path';
import { writeArtifact } from './artifacts.js';
import { gitState, type GitState } from './git-state.js';
import type { StageResult } from './runner.js';
import type { Store } from './store.js';

/**
 * What a report shows of the run that put the artifacts in place: facts
 * outside every stage's key (a cached report.html must not change with the
 * date), so they are written beside the outputs, not into them.
 */
export interface RunFacts {
  pipeline: string;
  /** The experiment a run with -S recorded. */
  experiment?: string;
  git?: GitState;
  started: string;
  finished: string;
  /** What each stage did in this run, and how long computing its result took when it ran (now or in an earlier run). */
  stages: Record<string, { outcome: string; seconds: number; computed?: { seconds: number; at: string } }>;
}

const RUN_FACTS_FILE = 'run.js';

/** `order`: the DAG's, which the stages keep (results come in the order they finished). */
export function runFacts(store: Store, opts: { pipeline: string; dir: string; experiment?: string; started: Date; results: StageResult[]; order: string[] }): RunFacts {
  const stages: RunFacts['stages'] = {};
  const rank = new Map(opts.order.map((s, i) => [s, i]));
  for (const r of [...opts.results].sort((a, b) => rank.get(a.stage)! - rank.get(b.stage)!)) {
    const record = r.fingerprint ? store.getRun(r.fingerprint) : undefined;
    stages[r.stage] = { outcome: r.outcome, seconds: r.seconds, ...(record ? { computed: { seconds: record.seconds, at: record.finishedAt } } : {}) };
  }
  return { pipeline: opts.pipeline, ...(opts.experiment ? { experiment: opts.experiment } : {}), git: gitState(opts.dir), started: opts.started.toISOString(), finished: new Date().toISOString(), stages };
}

/** artifacts/run.js: a script, because a report opened from disk (file://) may load scripts beside it but not fetch JSON. */
export function writeRunFacts(artifactsDir: string, facts: RunFacts): void {
  writeArtifact(join(artifactsDir, RUN_FACTS_FILE), `// Written by pipe run: the run that put these artifacts here.\nwindow.pipeRun = ${JSON.stringify(facts, null, 1)};\n`);
}
