import { pathToFileURL } from 'node:url';
import type { Pipeline } from './config.js';
import { Dag } from './dag.js';
import { FileHasher } from './filehash.js';
import { stageState, type StageState } from './fingerprint.js';
import { ConfigError } from './errors.js';
import { hashJson } from './hash.js';
import type { FactsFunction } from './stage.js';
import { readLock, writeLock, type LockFile } from './lockfile.js';
import { outHashOf, Store, type RunRecord } from './store.js';

const factsMemo = new Map<string, Record<string, string>>();

/** A loaded pipeline with its cache open: what every command works on. */
export class Project {
  readonly dag: Dag;
  readonly store: Store;
  readonly hasher: FileHasher;
  lock: LockFile;
  private readonly states = new Map<string, StageState>();

  /** A sweep variant: shares the store, keeps its lock in memory, has its own artifacts folder. */
  private readonly variant: boolean;

  private constructor(
    readonly pipeline: Pipeline,
    private readonly facts: Map<string, Record<string, string>>,
    shared?: { store: Store; hasher: FileHasher },
  ) {
    this.dag = new Dag(pipeline);
    this.store = shared?.store ?? new Store(pipeline.cacheDir);
    this.hasher = shared?.hasher ?? new FileHasher(this.store, pipeline.dir);
    this.variant = !!shared;
    this.lock = readLock(pipeline.dir);
  }

  /**
   * Opens the pipeline's cache (or shares another project's, for a sweep
   * variant) after computing each stage's machine facts with its kind's
   * facts module: they are part of the key, so they are known before any
   * fingerprint is.
   */
  static async open(pipeline: Pipeline, shared?: { store: Store; hasher: FileHasher }, opts: { lockReadOnly?: boolean } = {}): Promise<Project> {
    const facts = new Map<string, Record<string, string>>();
    for (const spec of pipeline.stages.values()) {
      const module = spec.kind.decl.facts;
      if (!module) continue;
      const key = `${module}\0${hashJson(spec.params)}`;
      let f = factsMemo.get(key);
      if (!f) {
        const fn = ((await import(pathToFileURL(module).href)) as { default?: FactsFunction }).default;
        if (typeof fn !== 'function') throw new ConfigError(`${module}: a facts module must export a function as its default (kind '${spec.kind.kind}')`);
        factsMemo.set(key, (f = await fn(spec.params)));
      }
      facts.set(spec.name, f);
    }
    const project = new Project(pipeline, facts, shared);
    project.lockReadOnly = !!opts.lockReadOnly;
    return project;
  }

  /** pipe.lock is read but not written: by a cluster job (the coordinator is the lock's only writer), and by a run with overrides (the lock describes pipeline.yaml). */
  private lockReadOnly = false;

  /** Writes pipe.lock (not for sweep variants: a sweep never changes the workspace's lock). */
  saveLock(): void {
    if (!this.variant && !this.lockReadOnly) writeLock(this.pipeline.dir, this.lock);
  }

  /**
   * The stage's current state. An upstream stage's output hash comes from the
   * run-cache under its current fingerprint or, when the cache lacks it (a
   * fresh clone), from pipe.lock if the lock was made with that fingerprint.
   */
  state(name: string): StageState {
    let s = this.states.get(name);
    if (!s) {
      s = stageState(this.pipeline, this.pipeline.stages.get(name)!, this.hasher, this.facts.get(name) ?? {}, (up) => this.record(up)?.outHash ?? this.lockedOutHash(up));
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

  /** How artifacts of a stage are checked and rewritten from this project's cache. */
  artifactIo(stage: string): { hashFile(path: string): string; blob(hash: string, key: string): Uint8Array } {
    return { hashFile: (p) => this.hasher.hashFile(p), blob: (h, key) => this.store.getBlob(h, `artifact '${key}' of stage '${stage}'`) };
  }

  /** Forgets computed states from this stage on, after it ran and produced new outputs. */
  invalidate(name: string): void {
    for (const n of this.dag.descendants([name])) this.states.delete(n);
  }

  /** Forgets every computed state (the cache changed under them: a damaged entry was dropped). */
  forgetStates(): void {
    this.states.clear();
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
