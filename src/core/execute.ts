import { spawn } from 'node:child_process';
import { register } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inputsFrom, makeContext, type Collected } from './context.js';
import { CacheCorrupt, ConfigError, Interrupted, PipeError, StageFailed } from './errors.js';
import { syncArtifactFiles } from './artifacts.js';
import { listingBytes } from './filehash.js';
import type { Override } from './config.js';
import type { StageState } from './fingerprint.js';
import { hashJson } from './hash.js';
import type { Project } from './project.js';
import { replay, type Reporter } from './progress.js';
import type { StageInputs, StageModule } from './stage.js';
import { outHashOf, recordBlobs, type RunRecord } from './store.js';

/** An import that failed because a package is not installed, said as what to do about it. */
function missingPackage(kind: string, e: unknown): Error | undefined {
  const pkg = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' ? /Cannot find package '([^']+)'/.exec((e as Error).message)?.[1] : undefined;
  return pkg ? new Error(`kind '${kind}' needs the npm package ${pkg}, which is not installed (npm install ${pkg})`) : undefined;
}

let typescript = false;

/** TypeScript stage kinds: the loader hooks (ts-hooks.ts) are registered once per process, on first use. */
function loadTypeScript(cacheDir: string): void {
  if (typescript) return;
  register(new URL('./ts-hooks.js', import.meta.url), { data: { cacheDir } });
  typescript = true;
}

async function loadModule(path: string, cacheDir: string): Promise<StageModule> {
  if (/\.m?ts$/.test(path)) loadTypeScript(cacheDir);
  let mod: { default?: StageModule };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: StageModule };
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') throw e;
    if ((e as { code?: string }).code === 'ERR_PIPE_TS_SYNTAX') throw new ConfigError((e as Error).message);
    throw new Error(`stage module ${path} failed to load: ${e instanceof Error ? e.message : String(e)}`);
  }
  const stage = mod.default;
  if (!stage || typeof stage.run !== 'function') {
    throw new ConfigError(`${path}: a stage module must have a default export with a run(ctx) function`);
  }
  return stage;
}

export interface ExecuteOptions {
  /** false: compute the record but keep it and its blobs out of the cache (pipe verify). */
  commit?: boolean;
  /** Where artifacts go instead of the pipeline's artifacts folder. */
  artifactsDir?: string;
  /** Start from scratch: a checkpoint of an earlier run is not resumed (verify, --force). */
  fresh?: boolean;
}

/**
 * Runs one stage's code and commits what it produced, blobs and run record
 * together, in one transaction. Throws on failure with nothing committed.
 */
export async function executeStage(
  project: Project,
  stage: string,
  state: StageState,
  reporter: Reporter,
  signal: AbortSignal,
  opts: ExecuteOptions = {},
): Promise<RunRecord> {
  const spec = project.pipeline.stages.get(stage)!;
  const fingerprint = state.fingerprint!;
  const t0 = performance.now();
  const collected: Collected = { outputs: {}, files: {}, metrics: {}, metricInfo: { better: {}, timing: [] }, items: new Set(), blobs: new Set(), log: undefined };
  try {
    if (spec.command) {
      const { runCommand } = await import('./command.js');
      const depFiles = spec.paths.flatMap((p) => project.hasher.expand(p));
      const upstream = Object.fromEntries(spec.after.map((up) => [up, project.record(up)!]));
      await runCommand({ spec, projectDir: project.pipeline.dir, depFiles, upstream, store: project.store, collected, reporter, signal });
    } else await runModule();
    signal.throwIfAborted();
    const missing = spec.outs.filter((o) => !(o in collected.outputs) && !(o in collected.files));
    if (missing.length) {
      throw new Error(`declared outs not produced: ${missing.join(', ')} (it produced: ${[...Object.keys(collected.outputs), ...Object.keys(collected.files)].join(', ') || 'nothing'})`);
    }
  } catch (e) {
    project.store.discardPending(recordBlobs(collected));
    if (!opts.artifactsDir) restorePrevious(project, stage);
    throw missingPackage(spec.kind.kind, e) ?? e;
  }
  async function runModule(): Promise<void> {
    const module = await loadModule(spec.kind.module, project.pipeline.cacheDir);
    const upstream: Record<string, StageInputs> = {};
    // Params only of the stages whose params are in this stage's key.
    for (const up of spec.after) upstream[up] = inputsFrom(project.store, up, project.record(up)!, state.upstreamParams?.[up]);
    const ctx = makeContext({
      spec,
      fingerprint,
      codeHash: hashJson(state.code),
      store: project.store,
      upstream,
      facts: state.facts,
      files: spec.paths.flatMap((p) => project.hasher.expand(p)),
      fileHash: (path) => project.hasher.hashFile(path),
      projectDir: project.pipeline.dir,
      artifactsDir: opts.artifactsDir ?? project.pipeline.artifactsDir,
      reporter,
      signal,
      collected,
      fresh: !!opts.fresh,
    });
    await module.run(ctx);
  }
  const all = { ...collected.outputs, ...collected.files };
  const record: RunRecord = {
    fingerprint,
    stage,
    kind: spec.kind.kind,
    outHash: outHashOf(Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.hash]))),
    outputs: collected.outputs,
    files: collected.files,
    metrics: collected.metrics,
    metricInfo: collected.metricInfo,
    log: collected.log,
    blobs: collected.blobs.size ? [...collected.blobs] : undefined,
    items: [...collected.items],
    seconds: (performance.now() - t0) / 1000,
    finishedAt: new Date().toISOString(),
  };
  if (opts.commit === false) return record;
  commitRecord(project, state, record);
  return record;
}

/**
 * After a failed run: the artifacts go back to the last successful run's
 * (pipe.lock's), and what only the failed run wrote is removed.
 */
function restorePrevious(project: Project, stage: string): void {
  const previous = project.lock.stages[stage];
  const record = previous && project.store.getRun(previous.fingerprint);
  if (!record) return;
  try {
    syncArtifactFiles(project.pipeline.artifactsDir, stage, record.files, [], project.artifactIo(stage));
  } catch (e) {
    // The failure being reported matters more; a damaged blob here is found again on the next run.
    if (!(e instanceof CacheCorrupt)) throw e;
  }
}

/** Blobs, folder listings and the run record in one transaction; the stage's checkpoint is no longer needed. */
export function commitRecord(project: Project, state: StageState, record: RunRecord): void {
  const listingHashes = Object.values(state.listings).map((l) => project.store.stageBlob(listingBytes(l)));
  project.store.commitRun(record, [...recordBlobs(record), ...listingHashes]);
  project.store.removeCheckpoint(record.fingerprint);
}

/** How every command reports a stage that did not finish: interrupted, or failed with its error. */
export function stageFailure(stage: string, e: unknown, signal: AbortSignal): PipeError {
  if (e instanceof Interrupted || signal.aborted) return new Interrupted(`interrupted while running '${stage}'; nothing of it was recorded`);
  // pipe's own errors keep their kind (a TypeScript syntax error in a stage module stays a ConfigError, exit 2).
  if (e instanceof PipeError) return e;
  return new StageFailed(stage, e);
}

/** What the parent tells a stage process (worker.ts): which stage, under which fingerprint, with which --set overrides. */
export interface WorkerArgs {
  file: string;
  overrides: Override[];
  stage: string;
  fingerprint: string;
  artifactsDir: string;
  cacheDir: string;
  fresh: boolean;
}

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

/** executeStage in a child process (see worker.ts); resolves with the record it committed. */
export function executeInWorker(project: Project, stage: string, fingerprint: string, reporter: Reporter, signal: AbortSignal, fresh = false): Promise<RunRecord> {
  const args: WorkerArgs = { file: project.pipeline.file, overrides: project.pipeline.overrides, stage, fingerprint, artifactsDir: project.pipeline.artifactsDir, cacheDir: project.pipeline.cacheDir, fresh };
  // The IPC channel is only a lifeline: the worker quits when it closes, so a killed parent leaves no orphan.
  const child = spawn(process.execPath, [WORKER, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const onAbort = () => child.kill('SIGTERM');
  signal.addEventListener('abort', onAbort);
  let failure: { message: string; interrupted: boolean; corrupt: boolean } | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return reporter.log(stage, 'info', line);
    }
    if (e.event === 'worker-failed') failure = { message: String(e.message), interrupted: Boolean(e.interrupted), corrupt: Boolean(e.corrupt) };
    else replay(reporter, e);
  });
  return new Promise((resolve, reject) => {
    child.on('close', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      if (code === 0) {
        // The child committed in its own transaction; start a fresh read to see it.
        project.store.root.resetReadTxn();
        const record = project.store.getRun(fingerprint);
        return record ? resolve(record) : reject(new Error('stage process finished but left no run record'));
      }
      if (failure?.interrupted || signal.aborted) return reject(new Interrupted(`'${stage}' interrupted`));
      if (failure?.corrupt) return reject(new CacheCorrupt(failure.message));
      reject(new Error(failure?.message ?? `stage process exited with ${sig ?? `code ${code}`}`));
    });
  });
}
