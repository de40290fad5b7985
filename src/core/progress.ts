import { TextReporter, type PlannedStage, type Reporter, type StageOutcome } from './reporter.js';

export type { PlannedStage, Reporter, StageOutcome } from './reporter.js';

/** -q: warnings and failures only (errors go to stderr as always). */
class QuietReporter extends TextReporter {
  override info() {}
  override stageStart() {}
  override stageEnd(stage: string, outcome: StageOutcome, seconds: number, detail?: string) {
    if (outcome === 'failed') super.stageEnd(stage, outcome, seconds, detail);
  }
  override log(stage: string, level: 'info' | 'warn', msg: string) {
    if (level === 'warn') super.log(stage, level, msg);
  }
  override progress() {}
}

export class JsonReporter implements Reporter {
  constructor(private readonly out: { write(text: string): unknown }) {}
  private emit(event: Record<string, unknown>) {
    this.out.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
  }
  plan(stages: PlannedStage[]) {
    this.emit({ event: 'plan', stages });
  }
  info(msg: string) {
    this.emit({ event: 'info', msg });
  }
  warn(msg: string) {
    this.emit({ event: 'warning', msg });
  }
  stageStart(stage: string, reason: string) {
    this.emit({ event: 'stage-start', stage, reason });
  }
  stageEnd(stage: string, outcome: StageOutcome, seconds: number, detail?: string) {
    this.emit({ event: 'stage-end', stage, outcome, seconds, detail });
  }
  log(stage: string, level: 'info' | 'warn', msg: string) {
    this.emit({ event: 'log', stage, level, msg });
  }
  progress(stage: string, label: string, done: number, total: number, info?: string) {
    this.emit({ event: 'progress', stage, label, done, total, info });
  }
  progressEnd(stage: string, label: string) {
    this.emit({ event: 'progress-end', stage, label });
  }
  scalars(stage: string, step: number, values: Record<string, number>) {
    this.emit({ event: 'metric', stage, step, values });
  }
  artifact(stage: string, path: string) {
    this.emit({ event: 'artifact', stage, path });
  }
  close() {}
}

/** Replays a JSON reporter's events (from a worker process) on another reporter. */
export function replay(reporter: Reporter, e: Record<string, unknown>): void {
  const s = String(e.stage ?? '');
  switch (e.event) {
    case 'log':
      return reporter.log(s, e.level === 'warn' ? 'warn' : 'info', String(e.msg));
    case 'progress':
      return reporter.progress(s, String(e.label), Number(e.done), Number(e.total), e.info === undefined ? undefined : String(e.info));
    case 'progress-end':
      return reporter.progressEnd(s, String(e.label));
    case 'warning':
      return reporter.warn(String(e.msg));
    case 'info':
      return reporter.info(String(e.msg));
    case 'metric':
      return reporter.scalars(s, Number(e.step), e.values as Record<string, number>);
    case 'artifact':
      return reporter.artifact(s, String(e.path));
  }
}

/** Says nothing: the default when pipe runs as a library. */
const SILENT: Reporter = { plan() {}, info() {}, warn() {}, stageStart() {}, stageEnd() {}, log() {}, progress() {}, progressEnd() {}, scalars() {}, artifact() {}, close() {} };

export interface ReporterOptions {
  /** false (--no-progress): plain lines on a terminal too. */
  progress?: boolean;
  /** -q: warnings and failures only. */
  quiet?: boolean;
  /** --verbose: also what will run and why, before it starts. */
  verbose?: boolean;
}

/**
 * The reporter for a command's output: JSON lines, nothing, or for people
 * plain lines (a pipe, a file, --no-progress) or a live terminal (a TTY:
 * bars and a pipeline line, coloured where the terminal's stream has colours).
 */
export async function makeReporter(mode: 'json' | 'auto' | 'silent', opts: ReporterOptions = {}, out: NodeJS.WriteStream = process.stdout): Promise<Reporter> {
  if (mode === 'silent') return SILENT;
  if (mode === 'json') return new JsonReporter(process.stdout);
  if (opts.quiet) return new QuietReporter(out);
  const dumb = process.env.TERM === 'dumb';
  if (!out.isTTY || opts.progress === false || dumb) return new TextReporter(out, opts.verbose);
  // The terminal renderer (and log-update) loads only for a terminal.
  const { LiveTerminal } = await import('./terminal.js');
  return new LiveTerminal(out, opts.verbose);
}
