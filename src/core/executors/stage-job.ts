import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pipeline } from '../config.js';
import { ConfigError } from '../errors.js';
import { syncOuts } from '../outs.js';
import { Project } from '../project.js';
import type { Reporter } from '../progress.js';
import type { RemoteConfig } from '../remote/backend.js';
import { openRemote } from '../remote/sync.js';
import { run, type StageResult } from '../runner.js';

/** How often a running job sends its newest training checkpoint to the remote. */
const CHECKPOINT_PUSH_MS = 1000;

/**
 * One stage on a compute node (`pipe job STAGE`, what each sbatch job runs): a
 * node-local cache, upstream results pulled from the remote (never LMDB over
 * NFS), the stage's result pushed there, checkpoints pushed as training saves
 * them so a requeued job resumes. A job whose result is already on the remote
 * pulls it and is done at once.
 */
export async function runStageJob(base: Pipeline, stage: string, config: RemoteConfig, reporter: Reporter, signal: AbortSignal, force = false): Promise<StageResult[]> {
  const job = process.env.SLURM_JOB_ID ? `${process.env.SLURM_JOB_ID}-${process.env.SLURM_RESTART_COUNT ?? 0}` : String(process.pid);
  const scratch = join(process.env.SLURM_TMPDIR ?? process.env.TMPDIR ?? tmpdir(), `pipe-job-${job}`);
  const pipeline: Pipeline = { ...base, cacheDir: join(scratch, 'cache'), artifactsDir: join(scratch, 'artifacts') };
  const project = await Project.open(pipeline, undefined, { lockReadOnly: true });
  let pushing: NodeJS.Timeout | undefined;
  try {
    project.dag.names([stage], 'pipe job');
    const remote = await openRemote(project, config);
    const ancestors = project.dag.order.filter((s) => s !== stage && project.dag.ancestors([stage]).has(s));
    for (const up of ancestors) {
      const fp = project.state(up).fingerprint;
      if (!fp || !(project.store.getRun(fp) ?? (await remote.pullRecord(fp)))) {
        throw new ConfigError(`upstream stage '${up}' is not on the remote ${remote.backend.url}${fp ? ` (fingerprint ${fp.slice(0, 12)})` : ''}: its job must finish first`);
      }
      project.forgetStates();
    }
    // A command reads its upstream commands' outs from the workspace: put back the ones of this job's variant (a sweep's tasks take turns there).
    if (project.pipeline.stages.get(stage)!.command) {
      for (const up of ancestors.filter((s) => project.pipeline.stages.get(s)!.command)) syncOuts(project.store, project.pipeline.dir, up, project.record(up)!.outputs, (p) => project.hasher.hashFile(p));
    }
    const fp = project.state(stage).fingerprint!;
    let pushed = -1;
    let busy = false;
    pushing = setInterval(async () => {
      const c = busy ? undefined : project.store.storedCheckpoint(fp);
      if (!c || c.step <= pushed) return;
      busy = true;
      try {
        await remote.push([], [[fp, c]]);
        pushed = c.step;
      } catch (e) {
        reporter.warn(`checkpoint at step ${c.step} not pushed: ${(e as Error).message}`);
      } finally {
        busy = false;
      }
    }, CHECKPOINT_PUSH_MS);
    // The stage runs in a process of its own, so this one stays free to push checkpoints while it trains.
    return await run(project, { only: [stage], reporter, signal, remote: { remote, pull: !force, push: true }, worker: true, force });
  } finally {
    clearInterval(pushing);
    await project.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}
