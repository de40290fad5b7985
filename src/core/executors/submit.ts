import { join } from 'node:path';
import { setArgs } from '../config.js';
import { PKG_ROOT } from '../paths.js';
import type { Project } from '../project.js';
import type { Reporter } from '../progress.js';
import type { Remote } from '../remote/remote.js';
import { plan, type RunOptions } from '../runner.js';
import { SlurmExecutor, type Resources } from './slurm.js';

/**
 * The coordinator's half of `pipe run --executor slurm`: which stages become
 * jobs, and the job each runs. A stage whose result is on the remote is
 * pulled, not submitted; one downstream of a submitted stage is always
 * submitted (its key depends on a result not made yet).
 */
export async function submitStages(project: Project, remote: Remote, opts: Omit<RunOptions, 'executor'>, reporter: Reporter, signal: AbortSignal): Promise<SlurmExecutor> {
  const steps = plan(project, opts).filter((s) => s.action === 'run');
  const onRemote = await remote.remoteRecords();
  const submitted = new Set<string>();
  for (const { stage } of steps) {
    const fp = project.state(stage).fingerprint;
    const upstreamSubmitted = project.dag.parents(stage).some((p) => submitted.has(p));
    if (upstreamSubmitted || opts.force || !fp || !onRemote.has(fp)) submitted.add(stage);
  }
  const { pipeline } = project;
  const executor = new SlurmExecutor(join(pipeline.cacheDir, 'jobs'), reporter, signal);
  const sets = setArgs(pipeline.overrides);
  await executor.submit(
    [...submitted].map((stage) => ({
      stage,
      command: [process.execPath, join(PKG_ROOT, 'bin', 'pipe.js'), 'job', stage, '-f', pipeline.file, '--remote', remote.backend.url, '--json', ...(opts.force ? ['--force'] : []), ...sets],
      after: project.dag.parents(stage).filter((p) => submitted.has(p)),
      resources: pipeline.stages.get(stage)!.resources as Resources | undefined,
    })),
    pipeline.dir,
  );
  return executor;
}
