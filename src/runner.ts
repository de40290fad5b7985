import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import pLimit from 'p-limit';
import { artifactPath, removeArtifact, writeArtifact } from './artifacts.js';
import { inputsFrom, makeContext, type Collected } from './context.js';
import { EXIT, PipeError, StageError } from './errors.js';
import { listingBytes } from './filehash.js';
import type { StageState } from './fingerprint.js';
import { hashJson } from './hash.js';
import { writeLock, type LockEntry } from './lockfile.js';
import type { Project } from './project.js';
import type { Reporter, StageOutcome } from './progress.js';
import type { StageInputs, StageModule } from './stage.js';
import { explain } from './status.js';
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
    throw new PipeError(
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

function lockEntry(project: Project, state: StageState, record: RunRecord): LockEntry {
  const up: Record<string, string> = {};
  for (const [k, v] of Object.entries(state.upstream)) up[k] = v!;
  const outs: Record<string, string> = {};
  for (const [k, v] of Object.entries(record.outputs)) outs[k] = v.hash;
  const files: Record<string, string> = {};
  for (const [k, v] of Object.entries(record.files)) files[k] = v.hash;
  return {
    kind: project.pipeline.stages.get(state.name)!.kind.kind,
    fingerprint: record.fingerprint,
    params: state.params,
    code: state.code,
    deps: state.deps,
    upstream: up,
    outs,
    files,
  };
}

/** Makes artifacts/ match a run record: rewrites missing or changed files, removes ones the stage no longer makes. */
function syncArtifacts(project: Project, stage: string, record: RunRecord, previous: LockEntry | undefined): boolean {
  const dir = project.pipeline.artifactsDir;
  let touched = false;
  for (const [key, ref] of Object.entries(record.files)) {
    const path = artifactPath(dir, stage, key);
    if (existsSync(path) && project.hasher.hashFile(path) === ref.hash) continue;
    writeArtifact(path, project.store.getBlob(ref.hash));
    touched = true;
  }
  for (const key of Object.keys(previous?.files ?? {})) {
    if (!(key in record.files)) {
      removeArtifact(artifactPath(dir, stage, key));
      touched = true;
    }
  }
  return touched;
}

async function loadModule(path: string): Promise<StageModule> {
  const mod = (await import(pathToFileURL(path).href)) as { default?: StageModule };
  const stage = mod.default;
  if (!stage || typeof stage.run !== 'function') {
    throw new PipeError(`${path}: a stage module must have a default export with a run(ctx) function`);
  }
  return stage;
}

export async function run(project: Project, opts: RunOptions): Promise<StageResult[]> {
  const steps = plan(project, opts);
  const { reporter } = opts;
  const results: StageResult[] = [];
  if (opts.dryRun) {
    for (const s of steps) reporter.info(`${s.action.padEnd(7)} ${s.stage}${s.reasons.length ? `: ${s.reasons.join('; ')}` : ''}`);
    return [];
  }
  const limit = pLimit(Math.max(1, opts.jobs ?? 1));
  const signal = opts.signal ?? new AbortController().signal;
  const selected = new Set(steps.map((s) => s.stage));
  const done = new Map<string, Promise<boolean>>();
  let failed: StageError | PipeError | undefined;
  const saveLock = () => writeLock(project.pipeline.dir, project.lock);

  const execute = async (step: PlanStep): Promise<boolean> => {
    const { stage } = step;
    const spec = project.pipeline.stages.get(stage)!;
    const state = project.state(stage);
    const previous = project.lock.stages[stage];
    const t0 = performance.now();
    const cachedRecord = spec.cache && !opts.force && state.fingerprint ? project.store.getRun(state.fingerprint) : undefined;
    if (cachedRecord) {
      const rewrote = syncArtifacts(project, stage, cachedRecord, previous);
      const same = previous?.fingerprint === state.fingerprint;
      project.lock.stages[stage] = lockEntry(project, state, cachedRecord);
      if (!same) saveLock();
      const outcome: StageOutcome = same && !rewrote ? 'cached' : 'restored';
      reporter.stageEnd(stage, outcome, 0, outcome === 'restored' && same ? 'artifacts rewritten from the cache' : undefined);
      results.push({ stage, outcome, fingerprint: state.fingerprint, seconds: 0 });
      return true;
    }
    if (!state.fingerprint) throw new Error(`internal: '${stage}' has no fingerprint though its upstream finished`);
    // Reasons as of now: upstream stages have finished, so "upstream is stale" no longer applies.
    const reason = (opts.force ? ['--force'] : explain(project, stage).reasons).join('; ') || 'stale';
    reporter.stageStart(stage, reason);
    const collected: Collected = { outputs: {}, files: {}, metrics: {}, items: new Set() };
    // A new run replaces what the stage made before; the old version stays restorable from the cache.
    for (const key of Object.keys(previous?.files ?? {})) removeArtifact(artifactPath(project.pipeline.artifactsDir, stage, key));
    try {
      const module = await loadModule(spec.kind.module);
      const inputs: Record<string, StageInputs> = {};
      for (const up of spec.after) inputs[up] = inputsFrom(project.store, project.record(up)!);
      const files = spec.paths.flatMap((p) => project.hasher.expand(p));
      const codeHash = hashJson(state.code);
      const ctx = makeContext({
        spec,
        fingerprint: state.fingerprint,
        codeHash,
        store: project.store,
        inputs,
        files,
        fileHash: (path) => project.hasher.hashFile(path),
        projectDir: project.pipeline.dir,
        artifactsDir: project.pipeline.artifactsDir,
        reporter,
        signal,
        collected,
      });
      await module.run(ctx);
      signal.throwIfAborted();
      const missing = spec.outs.filter((o) => !(o in collected.outputs) && !(o in collected.files));
      if (missing.length) throw new Error(`declared outs not produced: ${missing.join(', ')} (it produced: ${[...Object.keys(collected.outputs), ...Object.keys(collected.files)].join(', ') || 'nothing'})`);
    } catch (e) {
      project.store.discardPending([...Object.values(collected.outputs), ...Object.values(collected.files)].map((o) => o.hash));
      const seconds = (performance.now() - t0) / 1000;
      if (signal.aborted) {
        reporter.stageEnd(stage, 'failed', seconds, 'interrupted');
        throw new PipeError(`interrupted while running '${stage}'; nothing of it was recorded`, EXIT.INTERRUPTED);
      }
      reporter.stageEnd(stage, 'failed', seconds, e instanceof Error ? e.message : String(e));
      results.push({ stage, outcome: 'failed', seconds, reason });
      throw new StageError(stage, e);
    }
    const seconds = (performance.now() - t0) / 1000;
    const all = { ...collected.outputs, ...collected.files };
    const outHash = hashJson(Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.hash])));
    const record: RunRecord = {
      fingerprint: state.fingerprint,
      stage,
      kind: spec.kind.kind,
      outHash,
      outputs: collected.outputs,
      files: collected.files,
      metrics: collected.metrics,
      items: [...collected.items],
      seconds,
      finishedAt: new Date().toISOString(),
    };
    const listingHashes = Object.values(state.listings).map((l) => project.store.stageBlob(listingBytes(l)));
    project.store.commitRun(record, [...Object.values(all).map((o) => o.hash), ...listingHashes]);
    project.store.removeCheckpoint(state.fingerprint);
    project.lock.stages[stage] = lockEntry(project, state, record);
    saveLock();
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
  project.store.recordHistory(Object.values(project.lock.stages).map((e) => e.fingerprint));
  if (failed) throw failed;
  return results;
}
