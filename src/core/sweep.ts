import { join } from 'node:path';
import pLimit from 'p-limit';
import { loadPipeline, overrideKey, parseOverride, setArgs, type Override } from './config.js';
import { artifactPath, writeArtifact } from './artifacts.js';
import { ConfigError, StageFailed } from './errors.js';
import { executeInWorker, stageFailure } from './execute.js';
import { experimentEntry, overrideParams, paramsName } from './experiments.js';
import { hashJson } from './hash.js';
import { Project } from './project.js';
import type { Reporter } from './progress.js';
import { lockEntry, syncArtifacts } from './runner.js';
import { syncOuts } from './outs.js';
import { markdownTable, csv } from './comparison.js';
import type { RunRecord, SweepEntry } from './store.js';

/** One axis of a sweep: `stage.param` and the raw values it takes. */
export interface Axis {
  key: string;
  values: string[];
}

/** Values one range() axis may expand to: beyond this it is a typo, not a sweep. */
const MAX_RANGE = 100_000;

/** Splits `a,b,[1,2]` on top-level commas; `range(a,b,step)` expands like Python's (b excluded). */
export function parseAxis(text: string): Axis {
  const o = parseOverride(text);
  const key = overrideKey(o);
  const range = /^range\(\s*([-\d.e+]+)\s*,\s*([-\d.e+]+)\s*(?:,\s*([-\d.e+]+)\s*)?\)$/i.exec(o.raw.trim());
  if (range) {
    const [a, b, step] = [Number(range[1]), Number(range[2]), Number(range[3] ?? 1)];
    if (!(step > 0) || !(b > a)) throw new ConfigError(`--set ${key}=${o.raw}: range(a,b,step) needs a < b and step > 0`);
    if ((b - a) / step > MAX_RANGE) throw new ConfigError(`--set ${key}=${o.raw}: range(a,b,step) would give ${Math.ceil((b - a) / step).toLocaleString('en')} values; at most ${MAX_RANGE.toLocaleString('en')} per axis`);
    const values: string[] = [];
    // Rounded to the step's precision so 0.1 steps do not print as 0.30000000000000004.
    const digits = Math.max(0, -Math.floor(Math.log10(step)) + 2);
    for (let k = 0; a + k * step < b - step * 1e-9; k++) values.push(String(Number((a + k * step).toFixed(digits))));
    return { key, values };
  }
  const values: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of o.raw) {
    if (ch === '[' || ch === '{') depth++;
    if (ch === ']' || ch === '}') depth--;
    if (ch === ',' && depth === 0) {
      values.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  values.push(cur.trim());
  const kept = values.filter((v) => v !== '');
  if (kept.length === 0) throw new ConfigError(`--set ${key}=${o.raw}: no values after '=' (give one or more, comma-separated, or range(a,b,step))`);
  return { key, values: kept };
}

/** How many variants a grid has, computed before any is made. */
export function gridSize(axes: Axis[]): number {
  return axes.reduce((n, a) => n * a.values.length, 1);
}

export interface Variant {
  name: string;
  /** The varied params, `stage.param` -> raw value. */
  params: Record<string, string>;
}

/** The grid: every combination of the axes' values. */
export function expand(axes: Axis[]): Variant[] {
  let combos: Array<Record<string, string>> = [{}];
  for (const ax of axes) combos = combos.flatMap((c) => ax.values.map((v) => ({ ...c, [ax.key]: v })));
  return combos.map((params) => ({ name: paramsName(params), params }));
}

export type SweepRecord = SweepEntry;

/**
 * Runs every variant, stage by stage across all of them: stages whose
 * fingerprint is the same in several variants (shared upstream) run once,
 * different ones run side by side in worker processes (--jobs). Each
 * variant's artifacts go to artifacts/sweeps/<name>/<variant>/; pipe.lock
 * and the workspace's artifacts are not touched.
 */
export async function sweep(opts: {
  file: string;
  base: Override[];
  axes: Axis[];
  name?: string;
  jobs: number;
  reporter: Reporter;
  signal: AbortSignal;
  /** Where stages run (default: pipeline.yaml's executor). */
  executor?: 'local' | 'slurm';
  /** The remote's URL, in place of pipeline.yaml's (a sweep on SLURM exchanges results through it). */
  remoteUrl?: string;
}): Promise<SweepRecord> {
  const variants = expand(opts.axes);
  const started = new Date();
  /** Results this sweep made (the rest came from the cache or the remote). */
  const ran = new Set<string>();
  const name = opts.name ?? `sweep-${hashJson({ base: opts.base, axes: opts.axes }).slice(0, 8)}`;
  const main = await Project.open(loadPipeline(opts.file, opts.base));
  const shared = { store: main.store, hasher: main.hasher };
  const projects = new Map<string, Project>();
  for (const v of variants) {
    const overrides = [...opts.base, ...Object.entries(v.params).map(([k, raw]) => parseOverride(`${k}=${raw}`))];
    const pipeline = loadPipeline(opts.file, overrides);
    projects.set(v.name, await Project.open({ ...pipeline, artifactsDir: join(pipeline.artifactsDir, 'sweeps', name, v.name) }, shared));
  }
  const limit = pLimit(Math.max(1, opts.jobs));
  // A command stage's outs live in the one workspace: command stages of different variants take turns,
  // each after the outs of its own variant's upstream command stages are put back in place.
  const workspace = pLimit(1);
  const hashFile = (path: string) => main.hasher.hashFile(path);
  const commandsUpstream = (p: Project, stage: string) =>
    [...main.dag.ancestors([stage])].filter((up) => up !== stage && p.pipeline.stages.get(up)!.command).forEach((up) => syncOuts(p.store, p.pipeline.dir, up, p.record(up)!.outputs, hashFile));
  opts.reporter.info(`sweep ${name}: ${variants.length} variants (${variants.map((v) => v.name).join('; ')})`);
  /** A stage's results, one per distinct fingerprint, become each variant's: artifacts written, the variant's lock entry set. */
  const settle = (stage: string, recordOf: (fingerprint: string) => RunRecord | undefined) => {
    for (const p of projects.values()) {
      const state = p.state(stage);
      const rec = recordOf(state.fingerprint!)!;
      syncArtifacts(p, stage, rec, undefined);
      p.lock.stages[stage] = lockEntry(state, rec);
      p.invalidate(stage);
      p.setState(stage, state);
    }
  };
  // A stage starts once its upstream stages are done in every variant; then each distinct
  // fingerprint among the variants runs once, under the shared --jobs limit.
  const done = new Map<string, Promise<void>>();
  const runStage = async (stage: string): Promise<void> => {
    await Promise.all(main.dag.parents(stage).map((up) => done.get(up)!));
    const groups = new Map<string, string[]>();
    for (const [vn, p] of projects) {
      const fp = p.state(stage).fingerprint!;
      groups.set(fp, [...(groups.get(fp) ?? []), vn]);
    }
    const records = new Map<string, RunRecord>();
    await Promise.all(
      [...groups].map(([fp, names]) =>
        limit(async () => {
          opts.signal.throwIfAborted();
          const p = projects.get(names[0]!)!;
          const spec = p.pipeline.stages.get(stage)!;
          let rec = spec.cache ? p.store.getRun(fp) : undefined;
          const label = `${stage} [${names.length === variants.length ? 'all variants' : names.join('; ')}]`;
          if (rec) {
            opts.reporter.stageEnd(label, 'cached', 0);
          } else {
            const t0 = performance.now();
            opts.reporter.stageStart(label, 'sweep');
            try {
              rec = spec.command
                ? await workspace(() => {
                    commandsUpstream(p, stage);
                    return executeInWorker(p, stage, fp, opts.reporter, opts.signal);
                  })
                : await executeInWorker(p, stage, fp, opts.reporter, opts.signal);
            } catch (e) {
              opts.reporter.stageEnd(label, 'failed', (performance.now() - t0) / 1000, (e as Error).message);
              throw stageFailure(stage, e, opts.signal);
            }
            opts.reporter.stageEnd(label, 'ran', (performance.now() - t0) / 1000);
            ran.add(fp);
          }
          records.set(fp, rec);
        }),
      ),
    );
    settle(stage, (fp) => records.get(fp));
  };
  const slurm = (opts.executor ?? main.pipeline.executor) === 'slurm';
  if (slurm) {
    // Loaded only for a sweep on a cluster.
    const { openRemote, requireRemote } = await import('./remote/sync.js');
    const { runSweepJobs } = await import('./executors/sweep-jobs.js');
    const remote = await openRemote(main, requireRemote(main.pipeline, opts.remoteUrl));
    const sets = (v: Variant) => [...setArgs(opts.base), ...Object.entries(v.params).flatMap(([k, raw]) => ['-S', `${k}=${raw}`])];
    const submitted = await runSweepJobs(main, variants.map((v) => ({ name: v.name, project: projects.get(v.name)!, sets: sets(v) })), remote, opts.reporter, opts.signal);
    for (const stage of main.dag.order) {
      const records = new Map<string, RunRecord>();
      for (const [vn, p] of projects) {
        const fp = p.state(stage).fingerprint!;
        const local = p.store.getRun(fp);
        const rec = local ?? (await remote.pullRecord(fp));
        // Pulled after the jobs ran: the cluster made it (or it was on the remote, and no task ran for it).
        if (!local && submitted.has(stage)) ran.add(fp);
        if (!rec) throw new StageFailed(stage, new Error(`its SLURM job for ${vn} completed but ${remote.backend.url} has no run record for fingerprint ${fp.slice(0, 12)}`));
        records.set(fp, rec);
      }
      settle(stage, (fp) => records.get(fp));
    }
  } else {
    for (const stage of main.dag.order) done.set(stage, runStage(stage));
    await Promise.all(done.values());
  }
  // The workspace's command outs go back to what pipe.lock describes (a sweep never changes the workspace).
  for (const [stage, entry] of Object.entries(main.lock.stages)) {
    const rec = main.pipeline.stages.get(stage)?.command && main.store.getRun(entry.fingerprint);
    if (rec) syncOuts(main.store, main.pipeline.dir, stage, rec.outputs, hashFile);
  }
  // Each variant is an experiment too (`sweep/variant`): its git state, times, and what each stage did.
  const baseParams = overrideParams(opts.base);
  for (const v of variants) {
    const p = projects.get(v.name)!;
    const stageInfo = Object.fromEntries(main.dag.order.map((stage) => {
      const fp = p.lock.stages[stage]!.fingerprint;
      return [stage, { outcome: ran.has(fp) ? 'ran' : 'cached', seconds: main.store.getRun(fp)?.seconds ?? 0 }];
    }));
    const fingerprints = Object.fromEntries(Object.entries(p.lock.stages).map(([s, e]) => [s, e.fingerprint]));
    main.store.putExperiment(experimentEntry({ name: `${name}/${v.name}`, file: main.pipeline.file, dir: main.pipeline.dir, params: { ...baseParams, ...v.params }, started, stages: stageInfo, fingerprints }));
  }
  const record: SweepRecord = {
    name,
    created: new Date().toISOString(),
    file: main.pipeline.file,
    base: opts.base.map((o) => `${overrideKey(o)}=${o.raw}`),
    variants: variants.map((v) => ({ ...v, fingerprints: Object.fromEntries(Object.entries(projects.get(v.name)!.lock.stages).map(([s, e]) => [s, e.fingerprint])) })),
  };
  main.store.putSweep(record);
  await main.close();
  return record;
}

export function writeSummary(artifactsDir: string, name: string, table: { header: string[]; cells: string[][] }): string {
  const dir = artifactPath(artifactsDir, 'sweeps', name);
  writeArtifact(join(dir, 'summary.md'), `# Sweep ${name}\n\n${markdownTable(table.header, table.cells)}\n\n\`*\` marks the best value of a metric.\n`);
  writeArtifact(join(dir, 'summary.csv'), csv(table.header, table.cells));
  return dir;
}
