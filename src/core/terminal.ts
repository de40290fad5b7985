import { styleText } from 'node:util';
import { createLogUpdate } from 'log-update';
import { fmtSeconds, TextReporter, timeLeft, type PlannedStage, type StageOutcome } from './reporter.js';

interface Bar {
  stage: string;
  label: string;
  done: number;
  total: number;
  info: string;
  t0: number;
}

type Style = Parameters<typeof styleText>[0];

const REDRAW_MS = 80;

/**
 * The reporter for a terminal. Finished lines (logs, stage ends, warnings)
 * scroll up as plain lines; under them log-update redraws one live region in
 * place: a bar per running progress and a pipeline line (stage k of N,
 * elapsed, time left when earlier runs of every remaining stage say how long
 * it takes). A line is printed by clearing the region, writing the line and
 * drawing the region again, so nothing overwrites anything; a bar that
 * finishes leaves one line saying so; close() clears the region, so the last
 * line on screen is the run's own summary.
 */
export class LiveTerminal extends TextReporter {
  private readonly live: ReturnType<typeof createLogUpdate>;
  private readonly bars = new Map<string, Bar>();
  private readonly running = new Map<string, number>();
  private planned: PlannedStage[] = [];
  private readonly finished = new Set<string>();
  private readonly t0 = Date.now();
  private timer: NodeJS.Timeout | undefined;

  /** Colour by Node's rules for this stream: off under NO_COLOR, NODE_DISABLE_COLORS, TERM=dumb or CI, on with FORCE_COLOR. */
  private readonly color: boolean;

  constructor(
    private readonly tty: NodeJS.WriteStream,
    verbose = false,
  ) {
    super(tty, verbose);
    this.color = tty.hasColors();
    this.live = createLogUpdate(tty, { showCursor: true });
  }

  private paint(style: Style, text: string): string {
    return this.color ? styleText(style, text, { validateStream: false }) : text;
  }

  protected override line(text: string): void {
    this.live.clear();
    this.tty.write(`${text}\n`);
    this.draw();
  }

  override warn(msg: string) {
    this.line(this.paint('yellow', `warning: ${msg}`));
  }

  override plan(stages: PlannedStage[]) {
    super.plan(stages);
    this.planned = stages;
    this.finished.clear();
  }

  override stageStart(stage: string, reason: string) {
    this.running.set(stage, Date.now());
    super.stageStart(stage, reason);
  }

  override stageEnd(stage: string, outcome: StageOutcome, seconds: number, detail?: string) {
    this.running.delete(stage);
    this.finished.add(stage);
    const text = this.endText(stage, outcome, seconds, detail);
    this.line(outcome === 'failed' ? this.paint('red', text) : outcome === 'ran' ? this.paint('green', text) : text);
  }

  override progress(stage: string, label: string, done: number, total: number, info?: string) {
    const key = `${stage}/${label}`;
    const bar = this.bars.get(key) ?? { stage, label, done, total, info: '', t0: Date.now() };
    Object.assign(bar, { done, total, info: info ?? '' });
    this.bars.set(key, bar);
    this.schedule();
  }

  override progressEnd(stage: string, label: string) {
    const key = `${stage}/${label}`;
    const bar = this.bars.get(key);
    if (!bar) return;
    this.bars.delete(key);
    this.line(`[${stage}] ${label} ${bar.done}/${bar.total} in ${fmtSeconds((Date.now() - bar.t0) / 1000)}${bar.info ? ` ${bar.info}` : ''}`);
  }

  override close() {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.live.clear();
  }

  /** Redraws soon (at most every REDRAW_MS), and keeps the elapsed clock moving while something is live. */
  private schedule(): void {
    this.timer ??= setInterval(() => {
      if (!this.bars.size && !this.running.size) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
      this.draw();
    }, REDRAW_MS);
    this.timer.unref();
  }

  private draw(): void {
    const width = Math.max(40, (this.tty.columns || 80) - 1);
    const lines = [...this.bars.values()].map((b) => this.barLine(b, width));
    const summary = this.pipelineLine();
    if (summary) lines.push(this.paint('dim', summary.slice(0, width)));
    if (lines.length) this.live(lines.join('\n'));
    else this.live.clear();
    if (this.running.size && !this.timer) this.schedule();
  }

  private barLine(b: Bar, width: number): string {
    const pct = b.total > 0 ? Math.min(100, Math.floor((100 * b.done) / b.total)) : 0;
    const elapsed = (Date.now() - b.t0) / 1000;
    const left = timeLeft(elapsed, b.done, b.total);
    const head = `[${b.stage}] ${b.label} `;
    const tail = ` ${b.done}/${b.total} ${pct}%${left}${b.info ? ` ${b.info}` : ''}`;
    const size = Math.max(10, Math.min(30, width - head.length - tail.length));
    const full = Math.round((size * pct) / 100);
    const text = `${head}${'█'.repeat(full)}${'░'.repeat(size - full)}${tail}`;
    return text.slice(0, width);
  }

  /** `stage 3 of 8 (train-vae) · 12.3s · ~40s left`: while a run with planned stages is under way. */
  private pipelineLine(): string | undefined {
    if (!this.planned.length || !this.running.size) return undefined;
    const now = Date.now();
    const estimate = new Map(this.planned.map((p) => [p.stage, p.estimate]));
    const names = [...this.running.keys()];
    const done = this.planned.filter((p) => this.finished.has(p.stage)).length;
    const queued = this.planned.filter((p) => !this.finished.has(p.stage) && !this.running.has(p.stage));
    const n = this.planned.length;
    const k = Math.min(n, done + 1);
    let left = '';
    if ([...names, ...queued.map((p) => p.stage)].every((s) => estimate.get(s) !== undefined)) {
      const rest = names.reduce((sum, s) => sum + Math.max(0, estimate.get(s)! - (now - this.running.get(s)!) / 1000), 0) + queued.reduce((sum, p) => sum + p.estimate!, 0);
      left = ` · ~${fmtSeconds(rest)} left`;
    }
    const range = names.length > 1 ? `${k}–${Math.min(n, done + names.length)}` : String(k);
    return `stage ${range} of ${n} (${names.join(', ')}) · ${fmtSeconds((now - this.t0) / 1000)}${left}`;
  }
}
