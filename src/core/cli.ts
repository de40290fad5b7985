import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { cac } from 'cac';
import { loadPipeline, parseOverride, type Pipeline } from './config.js';
import { CacheCorrupt, CheckFailed, ConfigError, EXIT, PipeError } from './errors.js';
import { makeReporter, type Reporter } from './progress.js';
import { Project } from './project.js';
import { holdCache, run } from './api.js';
import { explain, type StageStatus } from './status.js';

interface CommonOpts {
  file: string;
  set?: string | string[];
  json?: boolean;
  /** false with --no-progress. */
  progress?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

/** The reporter the global flags ask for: --json, -q, --no-progress, else plain lines or a live terminal. */
const reporterFor = (opts: CommonOpts) => makeReporter(opts.json ? 'json' : 'auto', { progress: opts.progress, quiet: opts.quiet, verbose: opts.verbose });

const list = (v: unknown): string[] =>
  ([] as unknown[])
    .concat(v ?? [])
    .flatMap((x) => String(x).split(','))
    .map((s) => s.trim())
    .filter(Boolean);

function load(opts: CommonOpts): Pipeline {
  return loadPipeline(opts.file, list(opts.set).length ? ([] as unknown[]).concat(opts.set).map((s) => parseOverride(String(s))) : []);
}

function open(opts: CommonOpts): Promise<Project> {
  return Project.open(load(opts));
}

/** Holds the cache's run lock, queueing behind another run (and saying so) unless wait is false. */
// Each command loads the modules only it needs, so `pipe run` does not pay for sweep, verify or gc.

/**
 * The signal long commands stop on: the first Ctrl-C (or SIGTERM) asks the
 * running stages to give up, a second one quits at once.
 */
function interruptSignal(reporter: Reporter): AbortSignal {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.INTERRUPTED);
    reporter.warn('interrupted: stopping after the running stage gives up (Ctrl-C again to quit now; the cache stays consistent either way)');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}

/** A flag that must be a whole number >= min. */
function wholeNumber(value: unknown, flag: string, min = 1): number {
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new ConfigError(`${flag}: expected a whole number >= ${min}, got '${String(value)}'`);
  return n;
}

function parseFraction(text: string): number {
  const v = text.endsWith('%') ? Number(text.slice(0, -1)) / 100 : Number(text);
  if (!(v > 0 && v <= 1)) throw new ConfigError(`--sample: expected a share such as 30% or 0.3, got '${text}'`);
  return v;
}

const cli = cac('pipe');
cli.option('-f, --file <path>', 'Pipeline file', { default: 'pipeline.yaml' });
cli.option('-S, --set <stage.param=value>', 'Override a param (repeatable)', { type: [String] });
cli.option('--json', 'Machine-readable output (one JSON object per line)');
cli.option('-q, --quiet', 'Print only warnings and errors');
cli.option('--verbose', 'Also print what will run and why before it starts');
cli.option('--no-progress', 'Plain lines on a terminal too: no bars, no redrawn lines (NO_COLOR=1 keeps bars but drops colour)');

cli
  .command('run [...targets]', 'Run the stale stages of the pipeline (or of the targets and what they need, as --until does)')
  .option('--only <stages>', 'Run just these stages (comma-separated); their upstream must be cached')
  .option('--until <stages>', 'Run these stages and everything upstream of them')
  .option('--to <stages>', 'Same as --until')
  .option('--from <stages>', 'Run these stages and everything downstream of them')
  .option('--downstream', 'Extend the selection with everything downstream')
  .option('--force', 'Ignore the cache for the selected stages')
  .option('--dry-run', 'Show what would run, and why, without running')
  .option('-j, --jobs <n>', 'Independent stages to run at once, each in its own process', { default: availableParallelism() })
  .option('--no-wait', 'Fail instead of waiting when another run holds the cache')
  .option('--pull', "Look each stage that would run up on the remote first, and take its result from there")
  .option('--push', 'Push the results of the stages that ran or were reused to the remote')
  .option('--remote <url>', "The remote to use instead of pipeline.yaml's (s3://bucket/prefix, file:///path)")
  .option('--executor <name>', "local, or slurm: each stage that must run becomes an sbatch job (needs a remote; default: pipeline.yaml's executor)")
  .option('--name <name>', 'With -S: the name the experiment is recorded under (default: made from its params)')
  .example('pipe run evaluate -S train-gan.epochs=30')
  .example('pipe run --pull --push --remote s3://team-cache/signatures')
  .example('pipe run --executor slurm --remote file:///shared/pipe-cache')
  .action(async (targets: string[], opts: CommonOpts & Record<string, unknown>) => {
    const reporter = await reporterFor(opts);
    const pipeline = load(opts);
    const jobs = wholeNumber(opts.jobs, '--jobs');
    const signal = interruptSignal(reporter);
    try {
      const t0 = performance.now();
      const results = await run(pipeline, {
        only: list(opts.only),
        until: [...targets, ...list(opts.until), ...list(opts.to)],
        from: list(opts.from),
        downstream: Boolean(opts.downstream),
        force: Boolean(opts.force),
        dryRun: Boolean(opts.dryRun),
        jobs,
        reporter,
        signal,
        wait: opts.wait !== false,
        remoteUrl: opts.remote === undefined ? undefined : String(opts.remote),
        executor: executorOf(opts.executor),
        pull: opts.pull === undefined ? undefined : Boolean(opts.pull),
        push: opts.push === undefined ? undefined : Boolean(opts.push),
        name: opts.name === undefined ? undefined : String(opts.name),
      });
      if (!opts.dryRun && !opts.json) {
        const ran = results.filter((r) => r.outcome === 'ran').length;
        const reused = results.length - ran;
        reporter.info(`${ran} ran, ${reused} from cache in ${((performance.now() - t0) / 1000).toFixed(2)}s`);
      }
    } finally {
      reporter.close();
    }
  });

function executorOf(v: unknown): 'local' | 'slurm' | undefined {
  if (v === undefined) return undefined;
  if (v === 'local' || v === 'slurm') return v;
  throw new ConfigError(`--executor: expected local or slurm, got '${String(v)}'`);
}

cli
  .command('job <stage>', 'Run one stage as a cluster job does (what pipe run --executor slurm submits): node-local cache, upstream pulled from the remote, result and checkpoints pushed there')
  .example('pipe job train-gan --remote file:///shared/pipe-cache')
  .option('--remote <url>', "The remote to use instead of pipeline.yaml's")
  .option('--force', 'Run even if the remote has the result')
  .action(async (stage: string, opts: CommonOpts & { remote?: string; force?: boolean }) => {
    const reporter = await reporterFor(opts);
    const pipeline = load(opts);
    const signal = interruptSignal(reporter);
    try {
      const { requireRemote } = await import('./remote/sync.js');
      const { runStageJob } = await import('./executors/stage-job.js');
      const results = await runStageJob(pipeline, stage, requireRemote(pipeline, opts.remote), reporter, signal, Boolean(opts.force));
      const r = results.find((x) => x.stage === stage);
      reporter.info(`${stage}: ${r?.outcome === 'ran' ? 'ran and pushed' : 'already on the remote'}`);
    } finally {
      reporter.close();
    }
  });

for (const verb of ['push', 'pull'] as const) {
  cli
    .command(`${verb} [...stages]`, verb === 'push' ? "Send the results pipe.lock references (or the named stages') to the remote" : "Fetch the results pipe.lock references (or the named stages') from the remote into the local cache; 'pipe run' then restores them without running")
    .option('--remote <url>', "The remote to use instead of pipeline.yaml's (s3://bucket/prefix, file:///path)")
    .example(`pipe ${verb}${verb === 'push' ? ' --remote file:///mnt/shared/pipe-cache' : ' train-vae'}`)
    .action(async (stages: string[], opts: CommonOpts & { remote?: string }) => {
      const reporter = await reporterFor(opts);
      const pipeline = load(opts);
      const release = await holdCache(pipeline, verb, reporter);
      try {
        const project = await Project.open(pipeline);
        try {
          const sync = await import('./remote/sync.js');
          const remote = await sync.openRemote(project, sync.requireRemote(project.pipeline, opts.remote));
          const t = await (verb === 'push' ? sync.pushStages : sync.pullStages)(project, remote, stages, reporter);
          if (opts.json) console.log(JSON.stringify({ event: verb, remote: remote.backend.url, ...t }));
          else reporter.info(sync.describeTransfer(verb, remote, t));
        } finally {
          await project.close();
        }
      } finally {
        reporter.close();
        await release();
      }
    });
}

cli
  .command('status', 'Show which stages are up to date, and why the others are stale')
  .example('pipe status --check')
  .example('pipe status --cloud --json')
  .option('--check', 'Exit non-zero when pipe.lock does not match the code, params and data')
  .option('-c, --cloud', 'Also ask the remote which stale stages it has (they pull instead of running)')
  .option('--remote <url>', "The remote to ask instead of pipeline.yaml's")
  .action(async (opts: CommonOpts & { check?: boolean; cloud?: boolean; remote?: string }) => {
    const project = await open(opts);
    try {
      const all = project.dag.order.map((name) => explain(project, name));
      let onRemote = new Set<string>();
      if (opts.cloud) {
        const sync = await import('./remote/sync.js');
        onRemote = await (await sync.openRemote(project, sync.requireRemote(project.pipeline, opts.remote))).remoteRecords();
      }
      // Where upstream results are not local yet, pipe.lock's fingerprint stands in when the lock matches this code, params and data.
      const fingerprintOf = (s: StageStatus) => project.state(s.stage).fingerprint ?? (s.lockMatches ? project.lock.stages[s.stage]?.fingerprint : undefined);
      const remoteHas = (s: StageStatus) => !s.upToDate && onRemote.has(fingerprintOf(s) ?? '');
      if (opts.json) {
        for (const s of all) console.log(JSON.stringify(opts.cloud ? { ...s, onRemote: remoteHas(s) } : s));
      } else {
        for (const s of all) {
          const word = s.upToDate ? 'up to date' : s.cached ? 'stale (in run-cache: restores without running)' : remoteHas(s) ? 'stale (available on the remote: pipe run --pull takes it from there)' : 'stale';
          console.log(`${s.stage}: ${word}`);
          for (const r of s.reasons) console.log(`    ${r}`);
        }
      }
      // --check asks whether the lock describes this code, params and data; a missing cache is no failure.
      const outdated = all.filter((s) => !s.lockMatches);
      if (opts.check && outdated.length > 0) {
        throw new CheckFailed(`pipe.lock is out of date for: ${outdated.map((s) => s.stage).join(', ')} (run 'pipe run' and commit pipe.lock)`);
      }
    } finally {
      await project.close();
    }
  });

cli
  .command('verify', 'Re-execute stages bypassing the cache and compare their outputs with pipe.lock')
  .example('pipe verify --sample 30%')
  .option('--only <stages>', 'Verify just these stages')
  .option('--sample <fraction>', 'Verify a random share of the stages, e.g. 30% or 0.3')
  .option('--seed <seed>', 'Seed of the --sample draw (default: today, so CI covers every stage over time)')
  .action(async (opts: CommonOpts & { only?: string; sample?: string; seed?: string }) => {
    const { verify } = await import('./verify.js');
    const reporter = await reporterFor(opts);
    const pipeline = load(opts);
    const release = await holdCache(pipeline, 'verify', reporter);
    const project = await Project.open(pipeline);
    const signal = interruptSignal(reporter);
    try {
      const seed = opts.seed ?? new Date().toISOString().slice(0, 10);
      const sample = opts.sample === undefined ? undefined : parseFraction(String(opts.sample));
      const results = await verify(project, { only: list(opts.only), sample, seed, reporter, signal });
      reporter.close();
      if (opts.json) for (const r of results) console.log(JSON.stringify({ event: 'verify', ...r }));
      else {
        if (sample !== undefined) console.log(`sample of ${Math.round(sample * 100)}% drawn with seed '${seed}'`);
        for (const r of results) console.log(`${r.stage}: ${r.outcome}${r.details.length ? `\n    ${r.details.join('\n    ')}` : ''}`);
      }
      const bad = results.filter((r) => r.outcome === 'differs' || r.outcome === 'lock out of date');
      if (bad.length) throw new CheckFailed(`verify failed for: ${bad.map((r) => `${r.stage} (${r.outcome})`).join(', ')}`);
    } finally {
      await project.close();
      await release();
    }
  });

cli
  .command('sweep', 'Run a grid of param variants (-S stage.param=a,b or range(a,b,step)) and compare their metrics')
  .example("pipe sweep -S train-gan.lr=1e-4,2e-4 -S 'train-vae.latent=range(8,33,8)'")
  .example('pipe sweep -S train-vae.latent=16,32 --executor slurm')
  .option('--name <name>', 'Sweep name (default: from its params, so a rerun reuses it)')
  .option('--max-variants <n>', 'Refuse grids with more variants than this', { default: 1000 })
  .option('-j, --jobs <n>', 'Stages to run at once across variants, each in its own process', { default: availableParallelism() })
  .option('--executor <name>', "Where stages run: local, or slurm (one job array per stage; default: pipeline.yaml's executor)")
  .option('--remote <url>', "The remote a sweep on SLURM exchanges results through, instead of pipeline.yaml's")
  .action(async (opts: CommonOpts & { name?: string; jobs: number; maxVariants: unknown; executor?: unknown; remote?: string }) => {
    const { gridSize, parseAxis, sweep, writeSummary } = await import('./sweep.js');
    const { comparison, markdownTable, variantMetrics } = await import('./comparison.js');
    const { Store } = await import('./store.js');
    const parsed = ([] as unknown[]).concat(opts.set ?? []).map((s) => parseAxis(String(s)));
    const axes = parsed.filter((a) => a.values.length > 1);
    const base = parsed.filter((a) => a.values.length === 1).map((a) => parseOverride(`${a.key}=${a.values[0]}`));
    if (axes.length === 0) throw new ConfigError('pipe sweep needs at least one -S stage.param=a,b (or range(a,b,step)) with two or more values');
    const max = wholeNumber(opts.maxVariants, '--max-variants');
    const jobs = wholeNumber(opts.jobs, '--jobs');
    const size = gridSize(axes);
    if (size > max) {
      throw new ConfigError(`the grid has ${size.toLocaleString('en')} variants (${axes.map((a) => `${a.values.length} ${a.key}`).join(' × ')}), more than --max-variants ${max}; narrow it, or raise --max-variants`);
    }
    const reporter = await reporterFor(opts);
    const pipeline = loadPipeline(opts.file, base);
    const release = await holdCache(pipeline, 'sweep', reporter);
    const signal = interruptSignal(reporter);
    try {
      const record = await sweep({ file: opts.file, base, axes, name: opts.name, jobs, reporter, signal, executor: executorOf(opts.executor), remoteUrl: opts.remote });
      reporter.close();
      const store = new Store(pipeline.cacheDir);
      const rows = record.variants.map((v) => ({ name: v.name, params: v.params, metrics: variantMetrics(store, v.fingerprints) }));
      await store.close();
      const table = comparison(rows);
      const dir = writeSummary(pipeline.artifactsDir, record.name, table);
      if (opts.json) console.log(JSON.stringify({ event: 'sweep', ...record, rows }));
      else console.log(`\n${markdownTable(table.header, table.cells)}\n\n* marks the best value of a metric; written to ${dir}/summary.md and summary.csv`);
    } finally {
      await release();
    }
  });

cli
  .command('exp <action> [...names]', 'Experiments (runs with -S, sweep variants). Actions: show, diff A B, remove NAME…, apply NAME')
  .option('--sort-by <metric>', 'show: best first by this metric (its name, or the end of it)')
  .option('--only-changed', 'show: only the metrics that differ between rows')
  .option('--columns <names>', 'show: only params and metrics whose names contain one of these (comma-separated)')
  .option('--csv', 'show: as CSV')
  .option('--md', 'show, diff: as a Markdown table (the default)')
  .example('pipe exp show --sort-by train-gan/own/fd --only-changed')
  .example('pipe exp diff workspace lr=1e-4')
  .example('pipe exp apply lr=1e-4')
  .action(async (action: string, names: string[], opts: CommonOpts & { sortBy?: string; onlyChanged?: boolean; columns?: string; csv?: boolean }) => {
    const { comparison, csv, markdownTable } = await import('./comparison.js');
    const { diffRows, experimentRows, findRow, rowJson, WORKSPACE } = await import('./experiment-rows.js');
    const project = await open(opts);
    // apply runs the pipeline, which opens the cache itself: it starts once this command's hold on it is closed.
    let toApply: { name: string; params: Record<string, string> } | undefined;
    try {
      const rows = experimentRows(project);
      if (action === 'show') {
        const t = comparison(rows, { onlyChanged: !!opts.onlyChanged, columns: list(opts.columns), sortBy: opts.sortBy });
        const order = t.cells.map((c) => c[0]!);
        if (opts.json) {
          for (const name of order) console.log(JSON.stringify(rowJson(findRow(rows, name))));
        } else console.log(opts.csv ? csv(t.header, t.cells).trimEnd() : markdownTable(t.header, t.cells));
      } else if (action === 'diff') {
        if (names.length !== 2) throw new ConfigError(`pipe exp diff needs two names (e.g. pipe exp diff ${WORKSPACE} ${rows[1]?.name ?? 'NAME'}), got ${names.length}`);
        const [a, b] = [findRow(rows, names[0]!), findRow(rows, names[1]!)];
        const d = diffRows(a, b);
        if (opts.json) console.log(JSON.stringify({ a: a.name, b: b.name, rows: d.cells.map(([key, x, y, change]) => ({ key, a: x, b: y, change })) }));
        else console.log(markdownTable(d.header, d.cells));
      } else if (action === 'remove') {
        if (!names.length) throw new ConfigError('pipe exp remove needs the names of the experiments to forget');
        const unknown = project.store.removeExperiments(names);
        if (unknown.length) throw new ConfigError(`no experiment ${unknown.map((n) => `'${n}'`).join(', ')}; there are: ${rows.filter((r) => r.source === 'experiment').map((r) => r.name).join(', ') || 'none'} (sweeps go with pipe gc --drop-sweeps)`);
        console.log(`removed ${names.length} experiment${names.length === 1 ? '' : 's'}; pipe gc frees what only they kept`);
      } else if (action === 'apply') {
        if (names.length !== 1) throw new ConfigError('pipe exp apply needs one experiment name');
        const r = findRow(rows, names[0]!);
        if (r.source === 'workspace') throw new ConfigError('the workspace is what pipe.lock already describes');
        toApply = r;
      } else throw new ConfigError(`unknown exp action '${action}'; actions: show, diff, remove, apply`);
    } finally {
      await project.close();
    }
    if (toApply) {
      const { applyParams, typedParams } = await import('./experiments.js');
      applyParams(project.pipeline.file, toApply.params, typedParams(opts.file, toApply.params));
      // The experiment's results are in the cache: this run takes them from there and writes pipe.lock.
      const results = await run(loadPipeline(opts.file), { reporter: await reporterFor({ ...opts, quiet: !opts.json }) });
      const ran = results.filter((x) => x.outcome === 'ran').length;
      console.log(`applied '${toApply.name}': ${Object.entries(toApply.params).map(([k, v]) => `${k}=${v}`).join(', ')} written to ${opts.file}; pipe.lock updated (${results.length - ran} from cache${ran ? `, ${ran} ran: their results had been collected` : ''})`);
    }
  });

cli
  .command('scalars <stage>', "The per-step scalars a training stage logged (loss terms, lr, throughput), as CSV or --json lines: pipe.lock's run, or an experiment's")
  .option('--experiment <name>', 'The run of this experiment (see pipe exp show) instead of pipe.lock\'s (or, with -S, the run of those params)')
  .example('pipe scalars train-gan > gan-steps.csv')
  .example('pipe scalars train-vae --experiment lr=1e-4 --json')
  .action(async (stage: string, opts: CommonOpts & { experiment?: string }) => {
    const { csv } = await import('./comparison.js');
    const project = await open(opts);
    try {
      project.dag.names([stage], 'pipe scalars');
      const rows = project.store.scalarsOf(await scalarsRun(project, stage, opts));
      if (opts.json) for (const r of rows) console.log(JSON.stringify({ step: r.step, ...r.values }));
      else {
        const keys = [...new Set(rows.flatMap((r) => Object.keys(r.values)))];
        process.stdout.write(csv(['step', ...keys], rows.map((r) => [String(r.step), ...keys.map((k) => (r.values[k] === undefined || r.values[k] === null ? '' : String(r.values[k])))])));
      }
      if (!rows.length) process.stderr.write(`stage '${stage}' logged no scalars in that run (only training stages do)\n`);
    } finally {
      await project.close();
    }
  });

/** The run whose scalars `pipe scalars` prints: with -S, the run of those params; else the experiment's, or pipe.lock's. */
async function scalarsRun(project: Project, stage: string, opts: CommonOpts & { experiment?: string }): Promise<string> {
  const set = [opts.set ?? []].flat();
  if (set.length) {
    if (opts.experiment) throw new ConfigError('pipe scalars takes -S or --experiment, not both: each names a run');
    const fp = project.state(stage).fingerprint;
    if (!fp || !project.store.getRun(fp)) throw new ConfigError(`stage '${stage}' has no run with ${set.join(' ')} in this cache (run 'pipe run ${set.map((x) => `-S ${x}`).join(' ')}' first)`);
    return fp;
  }
  const { experimentRows, findRow, WORKSPACE } = await import('./experiment-rows.js');
  const row = findRow(experimentRows(project), opts.experiment ?? WORKSPACE);
  const fp = row.fingerprints[stage];
  if (!fp) throw new ConfigError(`${row.name} has no result for stage '${stage}'${row.source === 'workspace' ? " (run 'pipe run' first)" : ''}`);
  return fp;
}

cli
  .command('ui', 'A local web app for this pipeline: the DAG with live stage states, per-step curves, progress frames, experiments compared')
  .option('--port <n>', 'Port (0: any free one)', { default: 8750 })
  .option('--host <host>', 'Address to listen on', { default: '127.0.0.1' })
  .option('--allow-remote', 'Allow a non-loopback --host (the app has no login)')
  .example('pipe ui --port 9000')
  .action(async (opts: CommonOpts & { port: unknown; host: string; allowRemote?: boolean }) => {
    const { UiServer } = await import('./ui/server.js');
    const server = new UiServer(load(opts));
    const url = await server.listen(String(opts.host), wholeNumber(opts.port, '--port', 0), !!opts.allowRemote);
    console.log(`pipe ui on ${url} (Ctrl-C stops it)`);
    await new Promise<void>((done) => {
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void server.close().then(done));
    });
  });

for (const what of ['params', 'metrics'] as const) {
  const command = cli.command(`${what} <action> [rev]`, what === 'params' ? "Actions: diff [REV]: the params pipeline.yaml sets now against pipe.lock's (or those of pipe.lock at a git revision)" : "Actions: diff [REV]: the metrics of pipe.lock's results against those of pipe.lock at a git revision (default HEAD)");
  if (what === 'metrics') command.option('--all', 'Also the metrics that did not change');
  command
    .example(what === 'params' ? 'pipe params diff HEAD~1' : 'pipe metrics diff main')
    .action(async (action: string, rev: string | undefined, opts: CommonOpts & { all?: boolean }) => {
      if (action !== 'diff') throw new ConfigError(`unknown ${what} action '${action}'; try 'pipe ${what} diff'`);
      const { lockAt, metricsDiff, paramsDiff } = await import('./lock-diff.js');
      const { markdownTable } = await import('./comparison.js');
      const project = await open(opts);
      try {
        const ref = rev ?? (what === 'metrics' ? 'HEAD' : undefined);
        const old = ref ? lockAt(project.pipeline.dir, ref) : project.lock;
        const rows = what === 'params' ? paramsDiff(project, old) : metricsDiff(project, old, !!opts.all);
        const then = ref ?? 'pipe.lock';
        if (opts.json) for (const r of rows) console.log(JSON.stringify(r));
        else if (!rows.length) console.log(`no ${what} differ from ${then}'s`);
        else console.log(markdownTable([what === 'params' ? 'param' : 'metric', then, what === 'params' ? 'pipeline.yaml' : 'workspace', ...(what === 'metrics' ? ['change'] : [])], rows.map((r) => [r.key, r.old, r.new, ...(what === 'metrics' ? [r.change ?? ''] : [])])));
      } finally {
        await project.close();
      }
    });
}

cli
  .command('dag', 'Print the stage graph')
  .example('pipe dag --mermaid > dag.mmd')
  .option('--mermaid', 'As a Mermaid flowchart')
  .option('--dot', 'As Graphviz dot')
  .action(async (opts: CommonOpts & { mermaid?: boolean; dot?: boolean }) => {
    const project = await open(opts);
    try {
      if (opts.json) for (const s of project.dag.json()) console.log(JSON.stringify(s));
      else console.log(opts.mermaid ? project.dag.mermaid() : opts.dot ? project.dag.dot() : project.dag.text());
    } finally {
      await project.close();
    }
  });

cli
  .command('gc', 'Drop cached blobs and runs not referenced by pipe.lock, the last N runs or a recorded sweep')
  .example('pipe gc --keep 5')
  .option('--keep <n>', 'Recent runs to keep', { default: 5 })
  .option('--drop-sweeps', 'Also forget recorded sweeps (pipe exp show stops listing them) and free what only they kept')
  .action(async (opts: CommonOpts & { keep: number; dropSweeps?: boolean }) => {
    const { collectGarbage } = await import('./gc.js');
    const pipeline = load(opts);
    const keep = wholeNumber(opts.keep, '--keep', 0);
    const release = await holdCache(pipeline, 'gc', await reporterFor(opts), false);
    const project = await Project.open(pipeline);
    try {
      const r = collectGarbage(project, keep, Boolean(opts.dropSweeps));
      const msg = `freed ${(r.bytes / 1048576).toFixed(2)} MiB (${r.bytes} bytes): ${r.blobs} blobs, ${r.runs} run records`;
      console.log(opts.json ? JSON.stringify(r) : msg);
    } finally {
      await project.close();
      await release();
    }
  });

cli
  .command('export <stage> <output> <file>', 'Write a cached output of a stage to a file: a tensor as .npy (numpy.load, torch), anything else as its bytes')
  .example('pipe export augment train train.npy')
  .action(async (stage: string, output: string, file: string, opts: CommonOpts) => {
    const project = await open(opts);
    try {
      project.dag.names([stage], 'pipe export');
      const record = project.record(stage) ?? (project.lock.stages[stage] && project.store.getRun(project.lock.stages[stage]!.fingerprint));
      if (!record) throw new ConfigError(`stage '${stage}' has no outputs in this cache (run 'pipe run --until ${stage}' first)`);
      const ref = record.outputs[output] ?? record.files[output];
      if (!ref) throw new ConfigError(`stage '${stage}' has no output '${output}' (it has: ${[...Object.keys(record.outputs), ...Object.keys(record.files)].join(', ') || 'none'})`);
      const what = `output '${output}' of stage '${stage}'`;
      if (ref.type === 'folder') throw new ConfigError(`${what} is a folder; 'pipe run' restores it in the workspace`);
      const { encodeNpy } = await import('./npy.js');
      const { writeFileAtomic } = await import('./lockfile.js');
      const bytes = ref.type === 'tensor' ? encodeNpy(project.store.getTensor(ref.hash, what)) : project.store.getBlob(ref.hash, what);
      writeFileAtomic(resolve(file), bytes);
      console.log(`wrote ${what} to ${file}${ref.type === 'tensor' ? ` (.npy, ${ref.dtype} [${ref.shape?.join(', ')}])` : ''}`);
    } finally {
      await project.close();
    }
  });

cli
  .command('cache <action>', 'The cache itself. Actions: check [--repair] (reads every blob and run record and reports what is damaged)')
  .option('--repair', 'Drop damaged blobs and the records that use them (the stages that made them run again on the next pipe run)')
  .example('pipe cache check')
  .action(async (action: string, opts: CommonOpts & { repair?: boolean }) => {
    const { Store } = await import('./store.js');
    if (action !== 'check') throw new ConfigError(`unknown cache action '${action}'; try 'pipe cache check'`);
    const pipeline = load(opts);
    const release = await holdCache(pipeline, 'cache check', await reporterFor(opts));
    const store = new Store(pipeline.cacheDir);
    try {
      const r = store.check(Boolean(opts.repair));
      const problems = [...r.corrupt.map((h) => `blob ${h.slice(0, 12)} does not match its hash`), ...r.dangling];
      if (opts.json) console.log(JSON.stringify({ ...r, repaired: Boolean(opts.repair) && problems.length > 0 }));
      else {
        console.log(`checked ${r.blobs} blobs (${(r.bytes / 1048576).toFixed(1)} MiB) and ${r.runs} run records: ${problems.length ? `${problems.length} problems` : 'all intact'}`);
        for (const p of problems) console.log(`    ${p}`);
      }
      if (problems.length && opts.repair) console.log(`dropped them; 'pipe run' rebuilds what pipe.lock needs`);
      else if (problems.length) throw new CacheCorrupt(`the cache at ${pipeline.cacheDir} has ${problems.length} damaged entries; 'pipe cache check --repair' drops them`);
    } finally {
      await store.close();
      await release();
    }
  });

cli
  .command('help [...command]', 'Show the help of a command (pipe help run), or of pipe')
  .action((command: string[]) => {
    const name = command.join(' ');
    const found = cli.commands.find((c) => c.name === name || c.name.split(' ')[0] === name);
    if (name && !found) throw new ConfigError(`unknown command '${name}'; commands: ${commandNames().join(', ')}`);
    if (found) found.outputHelp();
    else cli.outputHelp();
  });

cli
  .command('completion <shell>', 'Print a completion script for bash, zsh or fish (commands, their flags, stage names)')
  .example('pipe completion bash > /etc/bash_completion.d/pipe')
  .example('pipe completion zsh > "${fpath[1]}/_pipe"')
  .example('pipe completion fish > ~/.config/fish/completions/pipe.fish')
  .action(async (shell: string) => {
    const { completionScript } = await import('./completion.js');
    // As written (--no-wait, not cac's inner name 'wait'): every -x / --name token before the value placeholder.
    const flagsOf = (c: { options: Array<{ rawName: string }> }) => c.options.flatMap((o) => o.rawName.split(/[\s,]+/).filter((t) => t.startsWith('-')));
    const commands = cli.commands.filter((c) => c.name && c.name !== 'job').map((c) => ({ name: c.name.split(' ')[0]!, description: c.description, flags: flagsOf(c) }));
    const global = flagsOf(cli.globalCommand);
    process.stdout.write(completionScript(shell, commands, global));
  });

const commandNames = () => [...new Set(cli.commands.map((c) => c.name.split(' ')[0]!).filter(Boolean))];

// A command's own help says what it does (cac prints the description only in the command list).
cli.help((sections) => {
  const usage = sections.find((x) => x.title === 'Usage');
  const raw = usage?.body.trim().replace(/^\$ pipe /, '');
  const command = cli.commands.find((c) => c.rawName === raw);
  if (usage && command?.description) sections.splice(sections.indexOf(usage) + 1, 0, { body: `  ${command.description}` });
  return sections;
});
cli.version('0.1.0');

async function main(): Promise<void> {
  // A reader that went away (`pipe status | head -1`): stop as a tool killed by SIGPIPE does, without a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      process.exit(EXIT.BROKEN_PIPE);
    });
  }
  try {
    cli.parse(process.argv, { run: false });
    if (!cli.matchedCommand) {
      if (cli.args.length) throw new ConfigError(`unknown command '${cli.args[0]}'; commands: ${commandNames().join(', ')} (see pipe help)`);
      if (!cli.options.help && !cli.options.version) cli.outputHelp();
      return;
    }
    await cli.runMatchedCommand();
  } catch (e) {
    const lmdb = e instanceof Error && /MDB_[A-Z_]+/.exec(e.message)?.[0];
    if (e instanceof PipeError) {
      process.stderr.write(`error: ${e.message}\n`);
      process.exitCode = e.exitCode;
    } else if (lmdb && lmdb !== 'MDB_MAP_FULL') {
      // LMDB found its own pages damaged (MDB_CORRUPTED, MDB_PAGE_NOTFOUND, ...).
      process.stderr.write(`error: the cache is damaged (LMDB: ${lmdb}); move it aside (mv cache cache.damaged) and run 'pipe run' to rebuild it, or pull it again from a remote\n`);
      process.exitCode = EXIT.CORRUPT;
    } else if ((e as NodeJS.ErrnoException).code === 'ENOSPC') {
      process.stderr.write(`error: no space left on the device (${(e as Error).message}); nothing half-written was kept\n`);
      process.exitCode = EXIT.STAGE_FAILED;
    } else if (e instanceof Error && e.name === 'CACError') {
      process.stderr.write(`error: ${e.message}\n`);
      process.exitCode = EXIT.CONFIG;
    } else {
      process.stderr.write(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = EXIT.STAGE_FAILED;
    }
  }
}

await main();
