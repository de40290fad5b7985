/** What run events go through (the Reporter), and its simplest form: plain lines, for pipes, files and --no-progress. */
export type StageOutcome = 'ran' | 'cached' | 'restored' | 'failed' | 'skipped';

/** A stage a run is about to run, with how long its last run took when the cache knows. */
export interface PlannedStage {
  stage: string;
  /** Why it runs (what `pipe status` would say). */
  reasons: string[];
  estimate?: number;
}

/** Where run events go: a TTY gets bars, a pipe gets plain lines, --json gets one JSON object per line. */
export interface Reporter {
  /** The stages this run will run, before the first starts (for `stage k of N` and the time left). */
  plan(stages: PlannedStage[]): void;
  info(msg: string): void;
  warn(msg: string): void;
  stageStart(stage: string, reason: string): void;
  stageEnd(stage: string, outcome: StageOutcome, seconds: number, detail?: string): void;
  log(stage: string, level: 'info' | 'warn', msg: string): void;
  progress(stage: string, label: string, done: number, total: number, info?: string): void;
  progressEnd(stage: string, label: string): void;
  /** A training step's scalars (ctx.scalars). */
  scalars(stage: string, step: number, values: Record<string, number>): void;
  /** A file a stage wrote under artifacts/ while it runs (a progress frame, a sample grid): its path there. */
  artifact(stage: string, path: string): void;
  close(): void;
}

const OUTCOME_WORD: Record<StageOutcome, string> = {
  ran: 'done',
  cached: 'up to date',
  restored: 'restored from run-cache',
  failed: 'FAILED',
  skipped: 'skipped',
};

/** ` 38s left` from the rate so far; nothing before the first step or after the last. */
export function timeLeft(elapsedSeconds: number, done: number, total: number): string {
  return done > 0 && done < total ? ` ${fmtSeconds((elapsedSeconds * (total - done)) / done)} left` : '';
}

export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 9.95) return `${s.toFixed(1)}s`;
  // Rounded once, before it is split: 539.6 s is 9m00s, not 8m60s.
  const r = Math.round(s);
  return r < 60 ? `${r}s` : `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s`;
}

export class TextReporter implements Reporter {
  constructor(
    protected readonly out: NodeJS.WriteStream | NodeJS.WritableStream,
    private readonly verbose = false,
  ) {}
  protected line(text: string): void {
    this.out.write(`${text}\n`);
  }
  /** --verbose: what will run, why, and how long it took last time, before anything starts. */
  plan(stages: PlannedStage[]) {
    if (!this.verbose) return;
    this.line(`${stages.length} stage${stages.length === 1 ? '' : 's'} to run${stages.length ? ':' : ''}`);
    for (const p of stages) this.line(`  ${p.stage}: ${p.reasons.join('; ') || 'stale'}${p.estimate !== undefined ? ` (last run took ${fmtSeconds(p.estimate)})` : ''}`);
  }
  info(msg: string) {
    this.line(msg);
  }
  warn(msg: string) {
    this.line(`warning: ${msg}`);
  }
  stageStart(stage: string, reason: string) {
    this.line(`[${stage}] running (${reason})`);
  }
  protected endText(stage: string, outcome: StageOutcome, seconds: number, detail?: string): string {
    const time = outcome === 'ran' || outcome === 'failed' ? ` in ${fmtSeconds(seconds)}` : '';
    return `[${stage}] ${OUTCOME_WORD[outcome]}${time}${detail ? `: ${detail}` : ''}`;
  }
  stageEnd(stage: string, outcome: StageOutcome, seconds: number, detail?: string) {
    this.line(this.endText(stage, outcome, seconds, detail));
  }
  log(stage: string, level: 'info' | 'warn', msg: string) {
    this.line(`[${stage}] ${level === 'warn' ? 'warning: ' : ''}${msg}`);
  }
  private readonly started = new Map<string, { t0: number; lastPct: number }>();
  progress(stage: string, label: string, done: number, total: number, info?: string) {
    const key = `${stage}/${label}`;
    let s = this.started.get(key);
    if (!s) this.started.set(key, (s = { t0: Date.now(), lastPct: -1 }));
    const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
    // Plain output: a line every 10% (and at the end) so logs stay readable.
    if (Math.floor(pct / 10) === Math.floor(s.lastPct / 10) && done < total) return;
    s.lastPct = pct;
    const elapsed = (Date.now() - s.t0) / 1000;
    const left = timeLeft(elapsed, done, total);
    this.line(`[${stage}] ${label} ${done}/${total} (${pct}%)${left}${info ? ` ${info}` : ''}`);
  }
  progressEnd(stage: string, label: string) {
    this.started.delete(`${stage}/${label}`);
  }
  /** People read the losses on the progress line; the rows go to --json and the cache. */
  scalars() {}
  /** Files are where the stage said; --json and pipe ui follow them. */
  artifact() {}
  close() {}
}
