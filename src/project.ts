import { existsSync, mkdirSync } from 'node:fs';
import type { Pipeline } from './config.js';
import { Dag } from './dag.js';
import { FileHasher } from './filehash.js';
import { stageState, type StageState } from './fingerprint.js';
import { readLock, writeLock, type LockFile } from './lockfile.js';
import { outHashOf, Store, type RunRecord } from './store.js';

/** A loaded pipeline with its cache open: what every command works on. */
export class Project {
  readonly dag: Dag;
  readonly store: Store;
  readonly hasher: FileHasher;
  lock: LockFile;
  private readonly states = new Map<string, StageState>();

  /** A sweep variant: shares the store, keeps its lock in memory, has its own artifacts folder. */
  private readonly variant: boolean;

  constructor(
    readonly pipeline: Pipeline,
    shared?: { store: Store; hasher: FileHasher },
  ) {
    this.dag = new Dag(pipeline);
    if (!existsSync(pipeline.cacheDir)) mkdirSync(pipeline.cacheDir, { recursive: true });
    this.store = shared?.store ?? new Store(pipeline.cacheDir);
    this.hasher = shared?.hasher ?? new FileHasher(this.store, pipeline.dir);
    this.variant = !!shared;
    this.lock = readLock(pipeline.dir);
  }

  /** Writes pipe.lock (not for sweep variants: a sweep never changes the workspace's lock). */
  saveLock(): void {
    if (!this.variant) writeLock(this.pipeline.dir, this.lock);
  }

  /**
   * The stage's current state. An upstream stage's output hash comes from the
   * run-cache under its current fingerprint or, when the cache lacks it (a
   * fresh clone), from pipe.lock if the lock was made with that fingerprint.
   */
  state(name: string): StageState {
    let s = this.states.get(name);
    if (!s) {
      s = stageState(this.pipeline, this.pipeline.stages.get(name)!, this.hasher, (up) => this.record(up)?.outHash ?? this.lockedOutHash(up));
      this.states.set(name, s);
    }
    return s;
  }

  private lockedOutHash(name: string): string | undefined {
    const entry = this.lock.stages[name];
    return entry && entry.fingerprint === this.state(name).fingerprint ? outHashOf({ ...entry.outs, ...entry.files }) : undefined;
  }

  record(name: string): RunRecord | undefined {
    const fp = this.state(name).fingerprint;
    return fp ? this.store.getRun(fp) : undefined;
  }

  /** Forgets computed states from this stage on, after it ran and produced new outputs. */
  invalidate(name: string): void {
    for (const n of this.dag.descendants([name])) this.states.delete(n);
  }

  /** Sets a stage's state directly (the runner knows it after a run). */
  setState(name: string, state: StageState): void {
    this.states.set(name, state);
  }

  async close(): Promise<void> {
    if (this.variant) return;
    this.hasher.flush();
    await this.store.close();
  }
}
