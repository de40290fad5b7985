import { join } from 'node:path';
import { Interrupted } from '../errors.js';
import { hashJson } from '../hash.js';
import { PKG_ROOT } from '../paths.js';
import type { Project } from '../project.js';
import type { Reporter } from '../progress.js';
import type { Remote } from '../remote/remote.js';
import { SlurmExecutor, type JobSpec, type Resources } from './slurm.js';

/** A sweep variant as the cluster sees it: its project and the -S arguments that make it. */
export interface VariantJob {
  name: string;
  project: Project;
  sets: string[];
}

/**
 * The stages of a sweep that neither the local cache nor the remote has, as
 * SLURM job arrays: one array per stage, one task per distinct result among
 * the variants (variants that share a stage's key share its task), each
 * array after the arrays of its upstream stages. Results on the remote are
 * pulled instead. Command stages share the workspace, so their tasks take
 * turns, across arrays too, as they do in a local sweep. Resolves when every
 * task has finished and pushed its result, with the stages that had tasks;
 * the caller pulls the results.
 */
export async function runSweepJobs(main: Project, variants: VariantJob[], remote: Remote, reporter: Reporter, signal: AbortSignal): Promise<Set<string>> {
  const onRemote = await remote.remoteRecords();
  // A stage's key in each variant: its fingerprint, or, downstream of a task not run yet, its own inputs and its upstream's keys.
  const keys = new Map<string, Map<string, string>>(variants.map((v) => [v.name, new Map()]));
  const specs: JobSpec[] = [];
  let lastCommand: string | undefined;
  for (const stage of main.dag.order) {
    const groups = new Map<string, VariantJob[]>();
    for (const v of variants) {
      const p = v.project;
      const own = keys.get(v.name)!;
      const st = p.state(stage);
      const fp = st.fingerprint;
      if (fp && (p.store.getRun(fp) || (onRemote.has(fp) && (await remote.pullRecord(fp))))) {
        p.invalidate(stage);
        own.set(stage, fp);
        continue;
      }
      const k = fp ?? hashJson({ pending: stage, kind: st.kind, code: st.code, params: st.params, deps: st.deps, inputs: st.inputs, facts: st.facts, upstream: Object.fromEntries(main.dag.parents(stage).map((up) => [up, own.get(up)])) });
      own.set(stage, k);
      groups.set(k, [...(groups.get(k) ?? []), v]);
    }
    if (!groups.size) continue;
    const spec = main.pipeline.stages.get(stage)!;
    const after = main.dag.parents(stage).filter((up) => specs.some((s) => s.stage === up));
    if (spec.command && lastCommand) after.push(lastCommand);
    specs.push({
      stage,
      command: [process.execPath, join(PKG_ROOT, 'bin', 'pipe.js'), 'job', stage, '-f', main.pipeline.file, '--remote', remote.backend.url, '--json'],
      after: [...new Set(after)],
      resources: spec.resources as Resources | undefined,
      tasks: [...groups.values()].map((vs) => ({ label: `${stage} [${vs.length === variants.length ? 'all variants' : vs.map((v) => v.name).join('; ')}]`, args: vs[0]!.sets })),
      oneAtATime: !!spec.command,
    });
    if (spec.command) lastCommand = stage;
  }
  const submitted = new Set(specs.map((s) => s.stage));
  if (!specs.length) return submitted;
  const executor = new SlurmExecutor(join(main.pipeline.cacheDir, 'jobs'), reporter, signal);
  try {
    await executor.submit(specs, main.pipeline.dir);
    const started = performance.now();
    const labels = specs.flatMap((s) => s.tasks!.map((t) => t.label));
    for (const label of labels) reporter.stageStart(label, `SLURM job ${executor.jobId(label)}`);
    const outcomes = await Promise.allSettled(
      labels.map(async (label) => {
        try {
          const { node } = await executor.wait(label);
          reporter.stageEnd(label, 'ran', (performance.now() - started) / 1000, `ran on ${node || 'the cluster'} (SLURM job ${executor.jobId(label)})`);
        } catch (e) {
          // The first failure cancels the rest, which then end as interrupted.
          void executor.cancel();
          reporter.stageEnd(label, 'failed', (performance.now() - started) / 1000, e instanceof Interrupted ? 'interrupted' : (e as Error).message);
          throw e;
        }
      }),
    );
    const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
    if (failures.length) throw failures.find((e) => !(e instanceof Interrupted)) ?? failures[0];
    return submitted;
  } catch (e) {
    await executor.cancel();
    throw e;
  } finally {
    executor.stop();
  }
}
