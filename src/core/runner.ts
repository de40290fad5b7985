import pLimit from 'p-limit';
import { syncArtifactFiles } from './artifacts.js';
import { syncOuts } from './outs.js';
import { CacheCorrupt, ConfigError, Interrupted, StageFailed, type PipeError } from './errors.js';
import type { StageState } from './fingerprint.js';
import type { LockEntry } from './lockfile.js';
import type { Project } from './project.js';
import type { Reporter, StageOutcome } from './progress.js';
import { explain } from './status.js';
import type { SlurmExecutor } from './executors/slurm.js';
import type { Remote } from './remote/remote.js';
import type { RunRecord } from './store.js';

export interface RunOptions {
  only?: string[];
  until?: string[];
  from?: string[];
  downstream?: boolean;
  force?: boolean;
  dryRun?: boolean;
  jobs?: number;
  reporter: Reporter;
  signal?: AbortSignal;
  /** A shared cache: pull looks missing stages up there before running them, push sends results after. */
  remote?: { remote: Remote; pull: boolean; push: boolean };
  /** Run each stage in a process of its own even when only one runs (a cluster job, which pushes checkpoints meanwhile). */
  worker?: boolean;
  /** Stages submitted to a cluster: the runner waits for their jobs and takes their results from the remote. */
  executor?: SlurmExecutor;
}

export interface StageResult {
  stage: string;
  outcome: StageOutcome;
  fingerprint?: string;
  seconds: number;
  reason?: string;
}

export interface PlanStep {
  stage: string;
  action: 'run' | 'cached' | 'restore';
  reasons: string[];
}

/** Upstream stages outside the selection must already be in the cache. */
function checkOutsideUpstream(project: Project, selected: string[]): void {
  const sel = new Set(selected);
  const missing = new Set<string>();
  for (const name of selected) {
    for (const up of project.dag.parents(name)) {
      if (!sel.has(up) && !project.record(up)) missing.add(up);
    }
  }
  if (missing.size > 0) {
    const list = [...missing];
    const why = list.map((m) => `'${m}' (${explain(project, m).reasons.join('; ')})`).join(', ');
    throw new ConfigError(
      `cannot run ${selected.join(', ')}: upstream ${why} ${list.length > 1 ? 'have' : 'has'} no cached outputs; run 'pipe run --until ${list.join(',')}' first, or use --until ${selected.join(',')}`,
    );
  }
}

export function plan(project: Project, opts: RunOptions): PlanStep[] {
  const selected = project.dag.select(opts);
  checkOutsideUpstream(project, selected);
  return selected.map((stage) => {
    const st = explain(project, stage);
    const action = opts.force || !st.upToDate ? (st.cached && !opts.force ? 'restore' : 'run') : 'cached';
    return { stage, action, reasons: opts.force ? ['--force', ...st.reasons] : st.reasons };
  });
}

export function lockEntry(state: StageState, record: RunRecord): LockEntry {
  const up: Record<string, string> = {};
  for (const [k, v] of Object.entries(state.upstream)) up[k] = v!;
  const outs: Record<string, string> = {};
  for (const [k, v] of Object.entries(record.outputs)) outs[k] = v.hash;
  const files: Record<string, string> = {};
  for (const [k, v] of Object.entries(record.files)) files[k] = v.hash;
  return {
    kind: state.kind,
    fingerprint: record.fingerprint,
    params: state.params,
    code: state.code,
    deps: state.deps,
    inputs: state.inputs,
    upstream: up,
    ...(state.upstreamParams ? { upstreamParams: state.upstreamParams } : {}),
    facts: state.facts,
    outs,
    files,
  };
}

/** Makes artifacts/ match a run record: rewrites missing or changed files, removes the previous run's that the stage no longer makes. */
export function syncArtifacts(project: Project, stage: string, record: RunRecord, previous: LockEntry | undefined): boolean {
  return syncArtifactFiles(project.pipeline.artifactsDir, stage, record.files, Object.keys(previous?.files ?? {}), project.artifactIo(stage));
}

/**
 * Runs the stale stages. When a stage finds a damaged blob in the cache (the
 * store drops it and the records that used it), the run is planned and run
 * once more, so the stages that made it rebuild it.
 */
export async function run(project: Project, opts: RunOptions): Promise<StageResult[]> {
  try {
    return await runOnce(project, opts);
  } catch (e) {
    if (!(e instanceof CacheCorrupt) || opts.signal?.aborted) throw e;
    opts.reporter.warn(`${e.message}; running again to rebuild it`);
    project.forgetStates();
    return runOnce(project, opts);
  }
}

async function runOnce(project: Project, opts: RunOptions): Promise<StageResult[]> {
  const steps = plan(project, opts);
  const { reporter } = opts;
  const results: StageResult[] = [];
  if (opts.dryRun) {
    for (const s of steps) reporter.info(`${s.action.padEnd(7)} ${s.stage}${s.reasons.length ? `: ${s.reasons.join('; ')}` : ''}`);
    return [];
  }
  // The last run of each stage (pipe.lock's) says how long it takes, for the time left.
  reporter.plan(steps.filter((s) => s.action === 'run').map((s) => ({ stage: s.stage, reasons: s.reasons, estimate: project.store.getRun(project.lock.stages[s.stage]?.fingerprint ?? '')?.seconds })));
  const jobs = Math.max(1, opts.jobs ?? 1);
  const limit = pLimit(jobs);
  // With more than one job, each stage runs in its own process: tfjs/wasm work is synchronous, so
  // stages sharing one process would take turns on one core instead of running side by side.
  const inWorker = !!opts.worker || (jobs > 1 && steps.filter((s) => s.action === 'run').length > 1);
  const signal = opts.signal ?? new AbortController().signal;
  const selected = new Set(steps.map((s) => s.stage));
  const done = new Map<string, Promise<boolean>>();
  let failed: PipeError | undefined;

  /** Takes a record made elsewhere (the run-cache, the remote, a cluster job) as this stage's result: artifacts and outs put in place, pipe.lock updated. */
  const adopt = (stage: string, record: RunRecord, detail: string | undefined, ran?: 'ran', seconds = 0) => {
    const spec = project.pipeline.stages.get(stage)!;
    const state = project.state(stage);
    const previous = project.lock.stages[stage];
    const rewroteArtifacts = syncArtifacts(project, stage, record, previous);
    // A command stage's outs live in the workspace: put them back as recorded (a `dvc checkout`).
    const rewroteOuts = spec.command ? syncOuts(project.store, project.pipeline.dir, stage, record.outputs, (p) => project.hasher.hashFile(p)) : false;
    const same = previous?.fingerprint === state.fingerprint;
    const entry = lockEntry(state, record);
    project.lock.stages[stage] = entry;
    // Also when only the entry's text differs (hand-edited hashes, an older lock format): the lock says what the cache holds.
    // (pipe.lock keeps the key order lockEntry writes, so plain JSON compares them; a reordered hand edit only costs a rewrite.)
    if (!previous || JSON.stringify(previous) !== JSON.stringify(entry)) project.saveLock();
    if (detail) {
      // The record was not in the cache when downstream keys were computed: they are computed again from it.
      project.invalidate(stage);
      project.setState(stage, state);
    }
    const outcome: StageOutcome = ran ?? (same && !rewroteArtifacts && !rewroteOuts && !detail ? 'cached' : 'restored');
    reporter.stageEnd(stage, outcome, seconds, detail ?? (outcome === 'restored' && same ? `${rewroteOuts ? 'outs' : 'artifacts'} rewritten from the cache` : undefined));
    results.push({ stage, outcome, fingerprint: state.fingerprint, seconds });
  };

  const execute = async (step: PlanStep): Promise<boolean> => {
    const { stage } = step;
    const spec = project.pipeline.stages.get(stage)!;
    const state = project.state(stage);
    const previous = project.lock.stages[stage];
    const t0 = performance.now();
    const reusable = spec.cache && !opts.force && state.fingerprint;
    const local = reusable ? project.store.getRun(state.fingerprint!) : undefined;
    if (local) {
      adopt(stage, local, undefined);
      return true;
    }
    if (!state.fingerprint) throw new Error(`internal: '${stage}' has no fingerprint though its upstream finished`);
    // Reasons as of now: upstream stages have finished, so "upstream is stale" no longer applies.
    const reason = (opts.force ? ['--force'] : explain(project, stage).reasons).join('; ') || 'stale';
    const job = opts.executor?.jobId(stage);
    if (job) {
      reporter.stageStart(stage, `${reason}; SLURM job ${job}`);
      let node: string;
      try {
        ({ node } = await opts.executor!.wait(stage));
      } catch (e) {
        reporter.stageEnd(stage, 'failed', (performance.now() - t0) / 1000, e instanceof Interrupted ? 'interrupted' : (e as Error).message);
        throw e;
      }
      const record = await opts.remote!.remote.pullRecord(state.fingerprint);
      if (!record) throw new StageFailed(stage, new Error(`SLURM job ${job} completed but ${opts.remote!.remote.backend.url} has no run record for fingerprint ${state.fingerprint.slice(0, 12)}`));
      adopt(stage, record, `ran on ${node || 'the cluster'} (SLURM job ${job})`, 'ran', (performance.now() - t0) / 1000);
      return true;
    }
    const pulled = reusable && opts.remote?.pull ? await opts.remote.remote.pullRecord(state.fingerprint) : undefined;
    if (pulled) {
      adopt(stage, pulled, `pulled from ${opts.remote!.remote.backend.url}`);
      return true;
    }
    reporter.stageStart(stage, reason);
    // A run killed elsewhere (a preempted cluster job) may have left a checkpoint on the remote: resume from it.
    const resumed = opts.remote?.pull && !opts.force ? await opts.remote.remote.pullCheckpoint(state.fingerprint) : undefined;
    if (resumed !== undefined) reporter.log(stage, 'info', `checkpoint at step ${resumed} from ${opts.remote!.remote.backend.url}`);
    // Loaded only when a stage runs: a no-op run needs none of it.
    const { executeInWorker, executeStage, stageFailure } = await import('./execute.js');
    let record: RunRecord;
    try {
      const fresh = !!opts.force;
      record = inWorker ? await executeInWorker(project, stage, state.fingerprint, reporter, signal, fresh) : await executeStage(project, stage, state, reporter, signal, { fresh });
    } catch (e) {
      const seconds = (performance.now() - t0) / 1000;
      const failure = stageFailure(stage, e, signal);
      reporter.stageEnd(stage, 'failed', seconds, failure instanceof Interrupted ? 'interrupted' : e instanceof Error ? e.message : String(e));
      if (!(failure instanceof Interrupted)) results.push({ stage, outcome: 'failed', seconds, reason });
      throw failure;
    }
    const seconds = (performance.now() - t0) / 1000;
    // The new run's artifacts are in place; what only the previous run made goes.
    syncArtifacts(project, stage, record, previous);
    project.lock.stages[stage] = lockEntry(state, record);
    project.saveLock();
    project.invalidate(stage);
    project.setState(stage, state);
    reporter.stageEnd(stage, 'ran', seconds);
    results.push({ stage, outcome: 'ran', fingerprint: state.fingerprint, seconds });
    return true;
  };

  const schedule = (name: string): Promise<boolean> => {
    let p = done.get(name);
    if (p) return p;
    const step = steps.find((s) => s.stage === name)!;
    p = (async () => {
      const ups = await Promise.all(project.dag.parents(name).filter((u) => selected.has(u)).map(schedule));
      if (ups.some((ok) => !ok) || failed || signal.aborted) {
        results.push({ stage: name, outcome: 'skipped', seconds: 0 });
        return false;
      }
      return limit(async () => {
        if (failed || signal.aborted) return false;
        try {
          return await execute(step);
        } catch (e) {
          failed ??= e as PipeError;
          return false;
        }
      });
    })();
    done.set(name, p);
    return p;
  };

  await Promise.all(steps.map((s) => schedule(s.stage)));
  if (opts.remote?.push && !signal.aborted) await pushResults(project, opts.remote.remote, results, reporter);
  project.store.recordHistory(Object.values(project.lock.stages).map((e) => e.fingerprint));
  if (failed) throw failed;
  return results;
}

/** --push: the records of every stage that ran or was reused, in one batch (what the remote has already costs nothing). */
async function pushResults(project: Project, remote: Remote, results: StageResult[], reporter: Reporter): Promise<void> {
  const records = results.flatMap((r) => (r.fingerprint && r.outcome !== 'failed' ? [project.store.getRun(r.fingerprint)].filter((x): x is RunRecord => !!x) : []));
  const { describeTransfer, pushRecords } = await import('./remote/sync.js');
  reporter.info(describeTransfer('push', remote, await pushRecords(remote, records, reporter)));
}
