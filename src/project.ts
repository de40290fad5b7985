import { existsSync, mkdirSync } from 'node:fs';
import type { Pipeline } from './config.js';
import { Dag } from './dag.js';
import { FileHasher } from './filehash.js';
import { stageState, type StageState } from './fingerprint.js';
import { readLock, type LockFile } from './lockfile.js';
import { Store, type RunRecord } from './store.js';

/** A loaded pipeline with its cache open: what every command works on. */
export class Project {
  readonly dag: Dag;
  readonly store: Store;
  readonly hasher: FileHasher;
  lock: LockFile;
  private readonly states = new Map<string, StageState>();

  constructor(readonly pipeline: Pipeline) {
    this.dag = new Dag(pipeline);
    if (!existsSync(pipeline.cacheDir)) mkdirSync(pipeline.cacheDir, { recursive: true });
    this.store = new Store(pipeline.cacheDir);
    this.hasher = new FileHasher(this.store, pipeline.dir);
    this.lock = readLock(pipeline.dir);
  }

  /** The stage's current state; upstream outputs come from the run-cache under their own current fingerprints. */
  state(name: string): StageState {
    let s = this.states.get(name);
    if (!s) {
      s = stageState(this.pipeline, this.pipeline.stages.get(name)!, this.hasher, (up) => this.record(up)?.outHash);
      this.states.set(name, s);
    }
    return s;
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
    this.hasher.flush();
    await this.store.close();
  }
}
