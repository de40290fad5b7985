import { execFile } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Interrupted, PipeError, StageFailed } from '../errors.js';
import { replay, type Reporter } from '../progress.js';

const run = promisify(execFile);

/** What a stage asks of the cluster (stages.<name>.resources in pipeline.yaml). */
export interface Resources {
  cpus?: number;
  memory?: string;
  time?: string;
  gpus?: number;
  partition?: string;
  /** Any further sbatch arguments, as given. */
  sbatch?: string[];
}

export function sbatchArgs(r: Resources | undefined): string[] {
  if (!r) return [];
  return [
    ...(r.cpus ? [`--cpus-per-task=${r.cpus}`] : []),
    ...(r.memory ? [`--mem=${r.memory}`] : []),
    ...(r.time ? [`--time=${r.time}`] : []),
    ...(r.gpus ? [`--gres=gpu:${r.gpus}`] : []),
    ...(r.partition ? [`--partition=${r.partition}`] : []),
    ...(r.sbatch ?? []),
  ];
}

export interface JobSpec {
  /** Names the job: its stage, whose log lines it speaks for, and what later jobs' `after` refer to. */
  stage: string;
  /** The command the job runs on its node (pipe job STAGE ...). */
  command: string[];
  /** Jobs (by their `stage`) that must finish first (afterok). */
  after: string[];
  resources?: Resources;
  /**
   * A job array (a sweep's variants of one stage): task i runs the command
   * with tasks[i].args added, and is waited on by its label.
   */
  tasks?: Array<{ label: string; args: string[] }>;
  /** The array's tasks run one at a time (command stages of a sweep share the workspace). */
  oneAtATime?: boolean;
}

interface Job {
  id: string;
  stage: string;
  label: string;
  log: string;
  offset: number;
  partial: string;
  tail: string[];
  done: Promise<{ node: string }>;
  settle: { resolve: (v: { node: string }) => void; reject: (e: unknown) => void };
  node: string;
  settled: boolean;
}

const TAIL = 15;
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs stages as sbatch jobs, as Snakemake's cluster executor does: all at
 * once, ordered by SLURM through --dependency=afterok, watched by polling
 * squeue and scontrol (no slurmdbd needed), their logs streamed as they grow.
 */
export class SlurmExecutor {
  /** By label: a stage, or an array task's label. */
  private readonly jobs = new Map<string, Job>();
  /** sbatch's job id of each submitted spec, by its `stage` (an array's id for its tasks). */
  private readonly ids = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly logDir: string,
    private readonly reporter: Reporter,
    private readonly signal: AbortSignal,
    private readonly pollMs = 250,
  ) {
    mkdirSync(logDir, { recursive: true });
  }

  jobId(label: string): string | undefined {
    return this.jobs.get(label)?.id;
  }

  /** Submits the jobs in order, each depending on the jobs named in its `after`. */
  async submit(specs: JobSpec[], cwd: string): Promise<void> {
    for (const spec of specs) {
      const deps = spec.after.map((s) => this.ids.get(s)).filter((x): x is string => !!x);
      const tasks = spec.tasks;
      const log = join(this.logDir, tasks ? `${spec.stage}.%A_%a.log` : `${spec.stage}.%j.log`);
      const command = spec.command.map(quote).join(' ');
      // One script for the whole array: each task picks its own arguments.
      const wrap = tasks
        ? `case "$SLURM_ARRAY_TASK_ID" in ${tasks.map((t, i) => `${i}) exec ${command} ${t.args.map(quote).join(' ')};;`).join(' ')} esac; echo "pipe: no task $SLURM_ARRAY_TASK_ID in this array" >&2; exit 2`
        : `exec ${command}`;
      const args = [
        '--parsable',
        `--job-name=pipe:${spec.stage}`,
        `--output=${log}`,
        `--chdir=${cwd}`,
        '--requeue',
        // A requeued job appends to its log instead of starting it again, so the coordinator's read offset stays right.
        '--open-mode=append',
        '--kill-on-invalid-dep=yes',
        ...(tasks ? [`--array=0-${tasks.length - 1}${spec.oneAtATime ? '%1' : ''}`] : []),
        ...(deps.length ? [`--dependency=afterok:${deps.join(':')}`] : []),
        ...sbatchArgs(spec.resources),
        `--wrap=${wrap}`,
      ];
      let out: string;
      try {
        out = (await run('sbatch', args, { cwd })).stdout;
      } catch (e) {
        await this.cancel();
        const err = e as { stderr?: string; message: string };
        throw new PipeError(`sbatch refused stage '${spec.stage}': ${(err.stderr || err.message).trim()}`, 1);
      }
      const id = out.trim().split(';')[0]!;
      this.ids.set(spec.stage, id);
      const units = tasks ? tasks.map((t, i) => ({ label: t.label, id: `${id}_${i}`, log: log.replace('%A', id).replace('%a', String(i)) })) : [{ label: spec.stage, id, log: log.replace('%j', id) }];
      for (const u of units) {
        let settle!: Job['settle'];
        const done = new Promise<{ node: string }>((resolve, reject) => (settle = { resolve, reject }));
        done.catch(() => {});
        this.jobs.set(u.label, { ...u, stage: spec.stage, offset: 0, partial: '', tail: [], done, settle, node: '', settled: false });
      }
      const after = deps.length ? ` (after ${deps.join(', ')})` : '';
      this.reporter.log(spec.stage, 'info', tasks ? `submitted as SLURM job array ${id} (${tasks.length} task${tasks.length === 1 ? '' : 's'}${spec.oneAtATime ? ', one at a time' : ''})${after}` : `submitted as SLURM job ${id}${after}`);
    }
    this.signal.addEventListener('abort', () => void this.cancel(), { once: true });
    this.timer ??= setInterval(() => void this.poll(), this.pollMs);
  }

  /** Resolves when the job (a stage, or an array task by its label) has completed, with the node it ran on; rejects with the job's exit code and log tail. */
  wait(label: string): Promise<{ node: string }> {
    return this.jobs.get(label)!.done;
  }

  /** scancel every job still queued or running (Ctrl-C, a failure upstream). */
  async cancel(): Promise<void> {
    const ids = [...this.ids.values()];
    if (ids.length) await run('scancel', ids).catch(() => {});
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** New lines of a job's log: JSON events from `pipe job`, replayed on this reporter. */
  private readLog(job: Job): void {
    if (!existsSync(job.log)) return;
    const size = statSync(job.log).size;
    if (size <= job.offset) return;
    const buf = Buffer.alloc(size - job.offset);
    const fd = openSync(job.log, 'r');
    try {
      readSync(fd, buf, 0, buf.length, job.offset);
    } finally {
      closeSync(fd);
    }
    job.offset = size;
    const lines = (job.partial + buf.toString()).split('\n');
    job.partial = lines.pop()!;
    for (const line of lines) {
      if (!line) continue;
      let event: Record<string, unknown> | undefined;
      try {
        event = JSON.parse(line) as Record<string, unknown>;
      } catch {
        event = undefined;
      }
      const text = event ? String(event.msg ?? event.detail ?? '') : line;
      if (text) job.tail = [...job.tail, text].slice(-TAIL);
      if (!event) this.reporter.log(job.label, 'info', line);
      // The job's own stage speaks; its chatter about pulling and pushing (info, the remote's bars) does not.
      else if (event.stage === job.stage || event.event === 'warning') replay(this.reporter, { ...event, stage: job.label });
    }
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const open = [...this.jobs.values()].filter((j) => !j.settled);
      if (!open.length) return this.stop();
      // -r: one line per array task, pending ones too.
      const { stdout } = await run('squeue', ['-h', '-r', '-o', '%i|%T|%N', '-j', [...new Set(open.map((j) => j.id.split('_')[0]))].join(',')]).catch(() => ({ stdout: '' }));
      const queued = new Map(stdout.trim().split('\n').filter(Boolean).map((l) => l.split('|') as [string, string, string]).map(([id, st, node]) => [id, { st, node }]));
      for (const job of open) {
        this.readLog(job);
        const q = queued.get(job.id);
        if (q?.node) job.node = q.node;
        if (q && !['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE'].includes(q.st)) continue;
        const info = await this.jobInfo(job.id);
        if (!info || ['PENDING', 'RUNNING', 'REQUEUED', 'CONFIGURING', 'COMPLETING', 'SUSPENDED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING'].includes(info.state)) continue;
        this.readLog(job);
        job.settled = true;
        job.node ||= info.node;
        if (info.state === 'COMPLETED') job.settle.resolve({ node: job.node });
        else if (this.signal.aborted || info.state === 'CANCELLED') job.settle.reject(new Interrupted(`SLURM job ${job.id} of '${job.label}' was cancelled`));
        else {
          const tail = job.tail.map((l) => `    ${l}`).join('\n');
          job.settle.reject(new StageFailed(job.stage, new Error(`SLURM job ${job.id}${job.label === job.stage ? '' : ` (${job.label})`} ${info.state.toLowerCase()} with exit code ${info.exit}${job.node ? ` on ${job.node}` : ''}; log: ${job.log}${tail ? `\n  last lines:\n${tail}` : ''}`)));
        }
      }
    } finally {
      this.polling = false;
    }
  }

  private async jobInfo(id: string): Promise<{ state: string; exit: string; node: string } | undefined> {
    const { stdout } = await run('scontrol', ['show', 'job', '-o', id]).catch(() => ({ stdout: '' }));
    const field = (k: string) => new RegExp(`\\b${k}=(\\S*)`).exec(stdout)?.[1];
    const state = field('JobState');
    return state ? { state, exit: field('ExitCode') ?? '?', node: field('NodeList') === '(null)' ? '' : (field('NodeList') ?? '') } : undefined;
  }
}
