/**
 * pipe as a library: what the CLI does for `pipe run` and `pipe status`, as
 * functions a program calls (`import { run, status } from 'pipe'`).
 */
import { relative } from 'node:path';
import { loadPipeline, parseOverride, type Pipeline } from './config.js';
import { ConfigError } from './errors.js';
import { journaled } from './journal.js';
import { remoteConfig } from './remote/backend.js';
import { cleanTempFiles } from './lockfile.js';
import { acquireRunLock } from './mutex.js';
import { makeReporter, type Reporter } from './progress.js';
import { Project } from './project.js';
import { run as runStages, type RunOptions, type StageResult } from './runner.js';
import { explain, type StageStatus } from './status.js';

export type { Pipeline } from './config.js';
export type { Reporter } from './progress.js';
export type { RunOptions, StageResult } from './runner.js';
export type { StageStatus } from './status.js';

/** A pipeline file's path (with `set`: --set overrides such as `train-gan.lr=1e-4`), or one already loaded. */
export type PipelineRef = string | Pipeline;

function pipelineOf(ref: PipelineRef, set: string[] = []): Pipeline {
  return typeof ref === 'string' ? loadPipeline(ref, set.map(parseOverride)) : ref;
}

/**
 * Takes the cache's lock for a command that writes (queueing behind another
 * one, and saying so, unless wait is false), then removes the temp files a
 * killed run left in artifacts/ and beside pipe.lock. Returns the release.
 */
export async function holdCache(pipeline: Pipeline, command: string, reporter: Reporter, wait = true): Promise<() => Promise<void>> {
  const release = await acquireRunLock(pipeline.cacheDir, { wait, command, onWait: (h) => reporter.info(`another pipe run (pid ${h.pid}) is using this cache; waiting for it to finish...`) });
  const removed = cleanTempFiles([pipeline.artifactsDir], [pipeline.dir]);
  if (removed) reporter.info(`removed ${removed} temp file${removed === 1 ? '' : 's'} left by an interrupted run`);
  return release;
}

export interface RunPipelineOptions extends Partial<Omit<RunOptions, 'reporter' | 'executor' | 'remote' | 'worker'>> {
  /** --set overrides, when the pipeline is given by its file. */
  set?: string[];
  /** Where progress goes (default: nowhere). */
  reporter?: Reporter;
  /** false: fail with CacheBusy instead of waiting for another run on the same cache. */
  wait?: boolean;
  /** The remote's URL, in place of pipeline.yaml's. */
  remoteUrl?: string;
  /** Where stages that must run are run (default: pipeline.yaml's executor, else local). */
  executor?: 'local' | 'slurm';
  /** Look missing stages up on the remote / push results there (default: pipeline.yaml's remote settings). */
  pull?: boolean;
  push?: boolean;
  /** The name of the experiment a run with overrides records (default: made from its params). */
  name?: string;
}

/** Runs the stale stages of a pipeline, as `pipe run` does; resolves with what happened to each selected stage. */
export async function run(ref: PipelineRef, opts: RunPipelineOptions = {}): Promise<StageResult[]> {
  const pipeline = pipelineOf(ref, opts.set);
  const own = opts.reporter ?? (await makeReporter('silent'));
  const release = opts.dryRun ? async () => {} : await holdCache(pipeline, 'run', own, opts.wait !== false);
  // What pipe ui shows of a run: its events, journaled in the cache while it runs.
  const journal = opts.dryRun ? undefined : journaled(own, pipeline.cacheDir);
  const reporter = journal?.reporter ?? own;
  try {
    // A run with overrides is an experiment: recorded, and pipe.lock keeps describing pipeline.yaml.
    const experiment = pipeline.overrides.length > 0 && !opts.dryRun;
    const started = new Date();
    // Opened only once the lock is held, so it reads the pipe.lock the previous run left.
    const project = await Project.open(pipeline, undefined, { lockReadOnly: experiment });
    try {
      if (experiment && opts.name) (await import('./experiments.js')).checkName(project.store, opts.name, pipeline.overrides);
      const config = remoteConfig(pipeline, opts.remoteUrl);
      const slurm = (opts.executor ?? pipeline.executor) === 'slurm';
      // On a cluster, results come back through the remote: stages found there are pulled, not submitted.
      const pull = slurm || (opts.pull ?? config?.pull ?? false);
      const push = opts.push ?? config?.push ?? false;
      if (!config && (slurm || pull || push)) {
        throw new ConfigError(`${slurm ? '--executor slurm' : pull ? '--pull' : '--push'} needs a remote: add remote: to ${pipeline.file}, or pass --remote`);
      }
      // The remote's modules (and an S3 SDK) load only when a run uses one.
      const remote = config && (pull || push) && !opts.dryRun ? { remote: await (await import('./remote/sync.js')).openRemote(project, config), pull, push } : undefined;
      const signal = opts.signal ?? new AbortController().signal;
      const executor = slurm && remote ? await (await import('./executors/submit.js')).submitStages(project, remote.remote, { ...opts, reporter }, reporter, signal) : undefined;
      try {
        const results = await runStages(project, { ...opts, reporter, remote, executor, signal });
        const file = relative(pipeline.dir, pipeline.file) || pipeline.file;
        let name: string | undefined;
        if (experiment) {
          const { recordExperiment } = await import('./experiments.js');
          const fingerprints = Object.fromEntries(results.flatMap((r) => (r.fingerprint ? [[r.stage, r.fingerprint]] : [])));
          name = recordExperiment(project.store, { file: pipeline.file, dir: pipeline.dir, overrides: pipeline.overrides, name: opts.name, started, results, fingerprints }).name;
          reporter.info(`experiment '${name}' recorded (pipe exp show; pipe exp apply ${name} makes it the workspace's); pipe.lock still describes ${file}`);
        }
        // A run that changed no artifact leaves the facts of the run that put them there.
        if (!opts.dryRun && results.some((r) => r.outcome === 'ran' || r.outcome === 'restored')) {
          const { runFacts, writeRunFacts } = await import('./run-facts.js');
          writeRunFacts(pipeline.artifactsDir, runFacts(project.store, { pipeline: file, dir: pipeline.dir, experiment: name, started, results, order: project.dag.order }));
        }
        return results;
      } catch (e) {
        await executor?.cancel();
        throw e;
      } finally {
        executor?.stop();
      }
    } finally {
      await project.close();
    }
  } finally {
    journal?.end();
    await release();
  }
}

/** Each stage's state, as `pipe status` says it: up to date or not, and why. */
export async function status(ref: PipelineRef, opts: { set?: string[] } = {}): Promise<StageStatus[]> {
  const project = await Project.open(pipelineOf(ref, opts.set));
  try {
    return project.dag.order.map((name) => explain(project, name));
  } finally {
    await project.close();
  }
}
