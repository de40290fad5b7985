import { createRequire } from 'node:module';
import type { MultiBar, SingleBar } from 'cli-progress';

export type StageOutcome = 'ran' | 'cached' | 'restored' | 'failed' | 'skipped';

/** Where run events go: a TTY gets bars, a pipe gets plain lines, --json gets one JSON object per line. */
export interface Reporter {
  info(msg: string): void;
  warn(msg: string): void;
  stageStart(stage: string, reason: string): void;
  stageEnd(stage: string, outcome: StageOutcome, seconds: number, detail?: string): void;
  log(stage: string, level: 'info' | 'warn', msg: string): void;
  progress(stage: string, label: string, done: number, total: number, info?: string): void;
  progressEnd(stage: string, label: string): void;
  close(): void;
}

const OUTCOME_WORD: Record<StageOutcome, string> = {
  ran: 'done',
  cached: 'up to date',
  restored: 'restored from run-cache',
  failed: 'FAILED',
  skipped: 'skipped',
};

function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  return s < 60 ? `${s.toFixed(s < 10 ? 1 : 0)}s` : `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

class TextReporter implements Reporter {
  constructor(protected readonly out: NodeJS.WriteStream | NodeJS.WritableStream) {}
  protected line(text: string): void {
    this.out.write(`${text}\n`);
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
  stageEnd(stage: string, outcome: StageOutcome, seconds: number, detail?: string) {
    const time = outcome === 'ran' || outcome === 'failed' ? ` in ${fmtSeconds(seconds)}` : '';
    this.line(`[${stage}] ${OUTCOME_WORD[outcome]}${time}${detail ? `: ${detail}` : ''}`);
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
    const eta = done > 0 ? (elapsed * (total - done)) / done : NaN;
    this.line(`[${stage}] ${label} ${done}/${total} (${pct}%) eta ${fmtSeconds(eta)}${info ? ` ${info}` : ''}`);
  }
  progressEnd(stage: string, label: string) {
    this.started.delete(`${stage}/${label}`);
  }
  close() {}
}

class TtyReporter extends TextReporter {
  // cli-progress is loaded only for a terminal: piped and --json output never needs it.
  private readonly cliProgress = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
  private readonly multi: MultiBar = new this.cliProgress.MultiBar(
    {
      format: '{stage} {label} [{bar}] {value}/{total} {percentage}% eta {eta_formatted} {info}',
      hideCursor: true,
      clearOnComplete: true,
      stopOnComplete: false,
      etaBuffer: 20,
    },
    this.cliProgress.Presets.shades_classic,
  );
  private readonly bars = new Map<string, SingleBar>();

  protected override line(text: string): void {
    if (this.bars.size > 0) this.multi.log(`${text}\n`);
    else this.out.write(`${text}\n`);
  }
  override progress(stage: string, label: string, done: number, total: number, info?: string) {
    const key = `${stage}/${label}`;
    let bar = this.bars.get(key);
    if (!bar) {
      bar = this.multi.create(total, done, { stage: `[${stage}]`, label, info: info ?? '' });
      this.bars.set(key, bar);
    }
    bar.setTotal(total);
    bar.update(done, { info: info ?? '' });
  }
  override progressEnd(stage: string, label: string) {
    const key = `${stage}/${label}`;
    const bar = this.bars.get(key);
    if (bar) {
      this.multi.remove(bar);
      this.bars.delete(key);
    }
  }
  override close() {
    this.multi.stop();
  }
}

class JsonReporter implements Reporter {
  constructor(private readonly out: NodeJS.WritableStream) {}
  private emit(event: Record<string, unknown>) {
    this.out.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
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
  }
}

/** Says nothing: the default when pipe runs as a library. */
const SILENT: Reporter = { info() {}, warn() {}, stageStart() {}, stageEnd() {}, log() {}, progress() {}, progressEnd() {}, close() {} };

export function makeReporter(mode: 'json' | 'auto' | 'silent', out: NodeJS.WriteStream = process.stdout): Reporter {
  if (mode === 'silent') return SILENT;
  if (mode === 'json') return new JsonReporter(process.stdout);
  return out.isTTY ? new TtyReporter(out) : new TextReporter(out);
}
