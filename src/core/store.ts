import { open, type Database, type RootDatabase } from 'lmdb';
import { CacheCorrupt } from './errors.js';
import type { GitState } from './git-state.js';
import { checksum, hashJson, sha256 } from './hash.js';
import { checkEnvironment, ensureCacheFolder } from './lmdb-preflight.js';
import type { Checkpoint, MetricInfo } from './stage.js';
import { decodeTensor, encodeTensor, type Tensor } from './tensor.js';

/** What a finished stage produced, as recorded under its fingerprint. */
export interface OutputRef {
  /** folder: a command stage's folder out, as a manifest blob naming its files' blobs. */
  type: 'tensor' | 'json' | 'file' | 'folder';
  hash: string;
  bytes: number;
  dtype?: string;
  shape?: number[];
}

export interface RunRecord {
  fingerprint: string;
  stage: string;
  kind: string;
  /** Hash over all output hashes: what downstream fingerprints depend on. */
  outHash: string;
  outputs: Record<string, OutputRef>;
  /** Files under artifacts/<stage>/, by path relative to that folder. */
  files: Record<string, OutputRef>;
  metrics: Record<string, unknown>;
  /** Which way each metric improves, as the stage declared it (absent in records made before pipe said). */
  metricInfo?: MetricInfo;
  /** Blobs the record needs beyond its outputs (the files inside folder outs). */
  blobs?: string[];
  /** A command stage's stdout and stderr, as one blob. */
  log?: string;
  /** Per-item memo keys the stage used, kept alive by gc along with the record. */
  items: string[];
  seconds: number;
  finishedAt: string;
}

/** Every blob a run record (or a run still being collected) refers to: outputs, artifacts, files inside folder outs, the log. */
export function recordBlobs(r: { outputs: Record<string, OutputRef>; files: Record<string, OutputRef>; blobs?: Iterable<string>; log?: string }): string[] {
  return [...Object.values(r.outputs), ...Object.values(r.files)].map((o) => o.hash).concat([...(r.blobs ?? [])], r.log ? [r.log] : []);
}

/** Every blob a stored checkpoint refers to: its tensors and what the stage had recorded. */
export function checkpointBlobs(c: StoredCheckpoint): string[] {
  return [...Object.values(c.tensors), ...[...Object.values(c.files ?? {}), ...Object.values(c.outputs ?? {})].map((o) => o.hash)];
}

/** The hash downstream fingerprints depend on: over every output's and artifact's content hash, by name. */
export function outHashOf(hashes: Record<string, string>): string {
  return hashJson(hashes);
}

export interface StatEntry {
  size: number;
  mtimeMs: number;
  ino: number;
  hash: string;
}

/** A checkpoint as stored: its tensors by blob hash, and what the stage had recorded when it was taken. */
export interface StoredCheckpoint {
  step: number;
  tensors: Record<string, string>;
  state: unknown;
  /** Artifacts and outputs written before the checkpoint, so a resumed run records them as an uninterrupted one does. */
  files?: Record<string, OutputRef>;
  outputs?: Record<string, OutputRef>;
}

/** A loaded checkpoint with the artifacts and outputs recorded before it. */
export interface ResumePoint {
  checkpoint: Checkpoint;
  files: Record<string, OutputRef>;
  outputs: Record<string, OutputRef>;
}

/** A sweep as `pipe exp show` lists it: its variants and the fingerprints each one's stages had. */
export interface SweepEntry {
  name: string;
  created: string;
  file: string;
  base: string[];
  variants: Array<{ name: string; params: Record<string, string>; fingerprints: Record<string, string> }>;
}

/** A `pipe run` with overrides, as `pipe exp show` lists it: what was set, where the code was, what each stage did. */
export interface ExperimentEntry {
  name: string;
  file: string;
  /** The overrides, `stage.param` (or `params.x`, `defaults.p`) -> the raw value given. */
  params: Record<string, string>;
  /** The commit the run started from and whether the tree had changes (absent outside git). */
  git?: GitState;
  started: string;
  finished: string;
  stages: Record<string, { outcome: string; seconds: number }>;
  fingerprints: Record<string, string>;
}

/** Zero-padded steps keep a run's rows in step order under its fingerprint. */
const scalarKey = (fingerprint: string, step: number) => `${fingerprint}:${String(step).padStart(12, '0')}`;
/** Every key of one run's rows (';' sorts right after ':'). */
const scalarRange = (fingerprint: string) => ({ start: `${fingerprint}:`, end: `${fingerprint};` });

export interface HistoryEntry {
  at: string;
  fingerprints: string[];
}

/** What a cache scan (`pipe cache check`) found. */
export interface CheckReport {
  blobs: number;
  bytes: number;
  runs: number;
  /** Blobs whose bytes do not match their hash. */
  corrupt: string[];
  /** Run records, checkpoints and memos that point at a blob the cache does not have. */
  dangling: string[];
}

/**
 * One LMDB environment holding everything the runner caches. Blobs are
 * content-addressed; run records map a fingerprint to its outputs. Writes of a
 * stage's results go through commitRun(), one transaction, so a kill leaves
 * either the whole record or nothing. Every blob read is checked against a
 * fast checksum (xxh3, written with the blob) or, for blobs without one, its
 * sha256: a mismatch drops the blob and every record that used it, and
 * throws CacheCorrupt.
 */
export class Store {
  readonly root: RootDatabase;
  private readonly blobs: Database<Uint8Array, string>;
  private readonly runs: Database<RunRecord, string>;
  private readonly stats: Database<StatEntry, string>;
  private readonly items: Database<string, string>;
  private readonly ckpts: Database<StoredCheckpoint, string>;
  private readonly history: Database<HistoryEntry, number>;
  private readonly sweeps: Database<SweepEntry, string>;
  private readonly experiments: Database<ExperimentEntry, string>;
  private readonly scalarRows: Database<Record<string, number>, string>;
  private readonly sums: Database<string, string>;
  private pending = new Map<string, Uint8Array>();

  constructor(readonly path: string) {
    ensureCacheFolder(path);
    checkEnvironment(path);
    this.root = open({ path, compression: false });
    this.blobs = this.root.openDB({ name: 'blobs', encoding: 'binary' });
    this.runs = this.root.openDB({ name: 'runs' });
    this.stats = this.root.openDB({ name: 'stat' });
    this.items = this.root.openDB({ name: 'items', encoding: 'string' });
    this.ckpts = this.root.openDB({ name: 'checkpoints' });
    this.history = this.root.openDB({ name: 'history' });
    this.sweeps = this.root.openDB({ name: 'sweeps' });
    this.experiments = this.root.openDB({ name: 'experiments' });
    this.scalarRows = this.root.openDB({ name: 'scalars' });
    this.sums = this.root.openDB({ name: 'sums', encoding: 'string' });
  }

  close(): Promise<void> {
    return this.root.close();
  }

  /** Stages blob bytes for the next commit (unless the cache already has them intact); returns the content hash. */
  stageBlob(bytes: Uint8Array): string {
    const hash = sha256(bytes);
    if (!this.pending.has(hash) && !this.intact(hash)) this.pending.set(hash, bytes);
    return hash;
  }

  /** Whether the cache holds these bytes under this hash, checked (so a damaged copy gets rewritten, not reused). */
  private intact(hash: string): boolean {
    const b = this.blobs.getBinary(hash);
    return !!b && this.verified(hash, b);
  }

  private verified(hash: string, bytes: Uint8Array): boolean {
    const sum = this.sums.get(hash);
    if (sum !== undefined && checksum(bytes) === sum) return true;
    // No checksum (a blob from before them), or it disagrees: the sha256 decides, and a damaged checksum is rewritten.
    if (sha256(bytes) !== hash) return false;
    if (sum !== undefined) this.sums.putSync(hash, checksum(bytes));
    return true;
  }

  /** Writes a blob and its checksum; call inside a write transaction. */
  private writeBlob(hash: string, bytes: Uint8Array): void {
    this.blobs.putSync(hash, bytes);
    this.sums.putSync(hash, checksum(bytes));
  }

  /**
   * Writes a checked blob without blocking: LMDB copies, commits and syncs it
   * off the main thread, so a pull's downloads go on meanwhile. A blob no run
   * record names yet is invisible to runs and gc drops it, so it need not wait
   * for the record's transaction.
   */
  async writeBlobAsync(hash: string, bytes: Uint8Array): Promise<void> {
    // Plain async puts (not a transaction callback, which runs on the main thread): lmdb-js batches both into one transaction.
    await Promise.all([this.blobs.put(hash, bytes), this.sums.put(hash, checksum(bytes))]);
  }

  stageTensor(t: Tensor): OutputRef {
    const bytes = encodeTensor(t);
    return { type: 'tensor', hash: this.stageBlob(bytes), bytes: bytes.length, dtype: t.dtype, shape: t.shape };
  }

  /** Writes a blob right away (for data that is useful even if the stage later fails). */
  putBlob(bytes: Uint8Array): string {
    const hash = sha256(bytes);
    if (!this.intact(hash)) this.root.transactionSync(() => this.writeBlob(hash, bytes));
    return hash;
  }

  /** A blob's size without copying it out of the map (0 when absent). */
  blobSize(hash: string): number {
    return this.pending.get(hash)?.length ?? this.blobs.getBinaryFast(hash)?.length ?? 0;
  }

  hasBlob(hash: string): boolean {
    return this.pending.has(hash) || this.blobs.doesExist(hash);
  }

  /**
   * A blob's bytes, checked. `what` names it for the user (`output 'train' of
   * stage 'augment'`). A blob that does not match its hash is dropped with
   * every record that used it, and CacheCorrupt says so: the next run rebuilds it.
   */
  getBlob(hash: string, what = `cache blob ${hash.slice(0, 12)}`): Uint8Array {
    const staged = this.pending.get(hash);
    if (staged) return staged;
    const b = this.blobs.getBinary(hash);
    if (!b) throw new CacheCorrupt(`${what} is missing from the cache (blob ${hash.slice(0, 12)}); run 'pipe run --force' on the stage that made it`);
    if (!this.verified(hash, b)) throw this.corrupt(hash, `${what} (blob ${hash.slice(0, 12)}) does not match its hash`);
    return b;
  }

  getTensor(hash: string, what = `blob ${hash.slice(0, 12)}`): Tensor {
    const bytes = this.getBlob(hash, what);
    try {
      return decodeTensor(bytes);
    } catch (e) {
      throw this.corrupt(hash, `${what} is not a readable tensor (${(e as Error).message})`);
    }
  }

  /** Drops a damaged blob (and what used it) and says so, as the error to throw. */
  private corrupt(hash: string, problem: string): CacheCorrupt {
    const dropped = this.dropBlob(hash);
    return new CacheCorrupt(`cache corruption: ${problem}; dropped it and the ${dropped} run record${dropped === 1 ? '' : 's'} that used it, so the stages that made it run again`);
  }

  /** Removes a damaged blob and everything that points at it (run records, checkpoints, memos); returns how many run records went. */
  dropBlob(hash: string): number {
    const runs = this.allRuns().filter((r) => recordBlobs(r).includes(hash));
    const ckpts = this.checkpointEntries().filter(([, c]) => checkpointBlobs(c).includes(hash));
    const items = this.itemEntries().filter(([, h]) => h === hash);
    this.root.transactionSync(() => {
      this.blobs.removeSync(hash);
      this.sums.removeSync(hash);
      for (const r of runs) this.runs.removeSync(r.fingerprint);
      for (const [fp] of ckpts) this.ckpts.removeSync(fp);
      for (const [k] of items) this.items.removeSync(k);
    });
    return runs.length;
  }

  /** Reads and checks every blob and every reference to one (`pipe cache check`); with repair, drops what is bad. */
  check(repair: boolean): CheckReport {
    const report: CheckReport = { blobs: 0, bytes: 0, runs: 0, corrupt: [], dangling: [] };
    for (const { key, value } of this.blobs.getRange({})) {
      report.blobs++;
      report.bytes += (value as Uint8Array).length;
      if (!this.verified(key as string, value as Uint8Array)) report.corrupt.push(key as string);
    }
    const has = (h: string) => this.blobs.doesExist(h) && !report.corrupt.includes(h);
    for (const r of this.allRuns()) {
      report.runs++;
      const record = `run record of stage '${r.stage}' (${r.fingerprint.slice(0, 12)})`;
      for (const [name, o] of [...Object.entries(r.outputs), ...Object.entries(r.files)]) {
        if (!has(o.hash)) report.dangling.push(`${record}: output '${name}' points at a damaged or missing blob (${o.hash.slice(0, 12)})`);
      }
      for (const h of [...(r.blobs ?? []), ...(r.log ? [r.log] : [])]) {
        if (!has(h)) report.dangling.push(`${record}: a file of a folder out, or the command's log, points at a damaged or missing blob (${h.slice(0, 12)})`);
      }
    }
    if (repair) {
      for (const h of report.corrupt) this.dropBlob(h);
      const bad = this.allRuns().filter((r) => recordBlobs(r).some((h) => !this.blobs.doesExist(h)));
      this.root.transactionSync(() => bad.forEach((r) => this.runs.removeSync(r.fingerprint)));
    }
    return report;
  }

  /** Commits staged blobs and the run record in one transaction. */
  commitRun(record: RunRecord, blobHashes: Iterable<string>): void {
    const staged = [...blobHashes].filter((h) => this.pending.has(h));
    this.root.transactionSync(() => {
      for (const h of staged) this.writeBlob(h, this.pending.get(h)!);
      this.runs.putSync(record.fingerprint, record);
    });
    for (const h of staged) this.pending.delete(h);
  }

  discardPending(hashes: Iterable<string>): void {
    for (const h of hashes) this.pending.delete(h);
  }

  getRun(fingerprint: string): RunRecord | undefined {
    return this.runs.get(fingerprint);
  }

  allRuns(): RunRecord[] {
    return [...this.runs.getRange({})].map((e) => e.value);
  }

  getStat(path: string): StatEntry | undefined {
    return this.stats.get(path);
  }

  putStats(entries: Iterable<[string, StatEntry]>): void {
    const list = [...entries];
    if (list.length === 0) return;
    this.root.transactionSync(() => {
      for (const [k, v] of list) this.stats.putSync(k, v);
    });
  }

  statKeys(): string[] {
    return [...this.stats.getKeys({})] as string[];
  }

  /** Per-item memo (e.g. one decoded image), keyed by whatever determines it. */
  getItem(key: string): string | undefined {
    return this.items.get(key);
  }

  putItem(key: string, blobHash: string): void {
    this.items.putSync(key, blobHash);
  }

  itemEntries(): Array<[string, string]> {
    return [...this.items.getRange({})].map((e) => [e.key as string, e.value]);
  }

  /** The last checkpoint saved under a fingerprint, its tensors decoded. */
  loadCheckpoint(fingerprint: string): ResumePoint | undefined {
    const c = this.ckpts.get(fingerprint);
    if (!c) return undefined;
    const tensors: Record<string, Tensor> = {};
    for (const [k, h] of Object.entries(c.tensors)) tensors[k] = this.getTensor(h, `checkpoint tensor ${k}`);
    return { checkpoint: { step: c.step, tensors, state: c.state }, files: c.files ?? {}, outputs: c.outputs ?? {} };
  }

  /**
   * Tensors, the artifacts and outputs recorded so far (their staged blobs)
   * and the checkpoint record in one transaction: a kill leaves the previous
   * checkpoint whole.
   */
  saveCheckpoint(fingerprint: string, step: number, tensors: Record<string, Tensor>, state: unknown, recorded: { files: Record<string, OutputRef>; outputs: Record<string, OutputRef> }): void {
    const encoded = Object.entries(tensors).map(([k, t]) => {
      const bytes = encodeTensor(t);
      return [k, sha256(bytes), bytes] as const;
    });
    const staged = [...Object.values(recorded.files), ...Object.values(recorded.outputs)].map((o) => o.hash).filter((h) => this.pending.has(h));
    this.root.transactionSync(() => {
      for (const [, h, b] of encoded) if (!this.intact(h)) this.writeBlob(h, b);
      for (const h of staged) this.writeBlob(h, this.pending.get(h)!);
      this.ckpts.putSync(fingerprint, { step, tensors: Object.fromEntries(encoded.map(([k, h]) => [k, h])), state, files: recorded.files, outputs: recorded.outputs });
    });
    for (const h of staged) this.pending.delete(h);
  }

  /** The checkpoint record under a fingerprint, its tensors as blob hashes (what a remote copies). */
  storedCheckpoint(fingerprint: string): StoredCheckpoint | undefined {
    return this.ckpts.get(fingerprint);
  }

  /** Takes a checkpoint from elsewhere (a remote) once its blobs are written: until then the old one stays. */
  importCheckpoint(fingerprint: string, checkpoint: StoredCheckpoint): void {
    this.ckpts.putSync(fingerprint, checkpoint);
  }

  removeCheckpoint(fingerprint: string): void {
    this.ckpts.removeSync(fingerprint);
  }

  checkpointEntries(): Array<[string, StoredCheckpoint]> {
    return [...this.ckpts.getRange({})].map((e) => [e.key as string, e.value]);
  }

  putSweep(sweep: SweepEntry): void {
    this.sweeps.putSync(sweep.name, sweep);
  }

  clearSweeps(): number {
    const names = [...this.sweeps.getKeys({})] as string[];
    this.root.transactionSync(() => names.forEach((n) => this.sweeps.removeSync(n)));
    return names.length;
  }

  allSweeps(): SweepEntry[] {
    return [...this.sweeps.getRange({})].map((e) => e.value).sort((a, b) => a.created.localeCompare(b.created));
  }

  putExperiment(e: ExperimentEntry): void {
    this.experiments.putSync(e.name, e);
  }

  allExperiments(): ExperimentEntry[] {
    return [...this.experiments.getRange({})].map((e) => e.value).sort((a, b) => a.started.localeCompare(b.started));
  }

  /** Forgets experiments by name; returns the names it did not know. */
  removeExperiments(names: string[]): string[] {
    const unknown = names.filter((n) => !this.experiments.doesExist(n));
    this.root.transactionSync(() => names.forEach((n) => this.experiments.removeSync(n)));
    return unknown;
  }

  /**
   * Adds one step's scalars of a run. Not awaited: lmdb-js commits such writes
   * in batches off the training loop, and a row lost to a kill costs nothing
   * but that row.
   */
  putScalars(fingerprint: string, step: number, values: Record<string, number>): void {
    this.scalarRows.put(scalarKey(fingerprint, step), values).catch(() => {});
  }

  /** The scalars a run logged, in step order. */
  scalarsOf(fingerprint: string): Array<{ step: number; values: Record<string, number> }> {
    return [...this.scalarRows.getRange(scalarRange(fingerprint))].map((e) => ({ step: Number((e.key as string).slice(fingerprint.length + 1)), values: e.value }));
  }

  /** Whether a run logged any scalars. */
  hasScalars(fingerprint: string): boolean {
    return [...this.scalarRows.getKeys({ ...scalarRange(fingerprint), limit: 1 })].length > 0;
  }

  /** Forgets a run's scalars (it starts again from scratch). */
  clearScalars(fingerprint: string): void {
    const keys = [...this.scalarRows.getKeys(scalarRange(fingerprint))] as string[];
    if (keys.length) this.root.transactionSync(() => keys.forEach((k) => this.scalarRows.removeSync(k)));
  }

  recordHistory(fingerprints: string[]): void {
    const last = [...this.history.getKeys({ reverse: true, limit: 1 })][0] as number | undefined;
    this.history.putSync((last ?? 0) + 1, { at: new Date().toISOString(), fingerprints });
  }

  recentHistory(n: number): HistoryEntry[] {
    return [...this.history.getRange({ reverse: true, limit: n })].map((e) => e.value);
  }

  /** Deletes everything not reachable from the kept fingerprints; returns bytes freed. */
  collect(keep: Set<string>, extraBlobs: Set<string>, liveStatPaths: (p: string) => boolean): { bytes: number; blobs: number; runs: number } {
    const liveBlobs = new Set<string>(extraBlobs);
    const liveItems = new Set<string>();
    const keepRun = (r: RunRecord) => {
      for (const h of recordBlobs(r)) liveBlobs.add(h);
      for (const k of r.items) liveItems.add(k);
    };
    const dropRuns: string[] = [];
    for (const r of this.allRuns()) {
      if (keep.has(r.fingerprint)) keepRun(r);
      else dropRuns.push(r.fingerprint);
    }
    const dropCkpts: string[] = [];
    for (const [fp, c] of this.checkpointEntries()) {
      if (keep.has(fp)) checkpointBlobs(c).forEach((h) => liveBlobs.add(h));
      else dropCkpts.push(fp);
    }
    const dropItems: string[] = [];
    for (const [k, h] of this.itemEntries()) {
      if (liveItems.has(k)) liveBlobs.add(h);
      else dropItems.push(k);
    }
    let bytes = 0;
    const dropBlobs: string[] = [];
    for (const { key, value } of this.blobs.getRange({})) {
      if (!liveBlobs.has(key as string)) {
        dropBlobs.push(key as string);
        bytes += (value as Uint8Array).length;
      }
    }
    const dropStats = this.statKeys().filter((p) => !liveStatPaths(p));
    const dropScalars = ([...this.scalarRows.getKeys({})] as string[]).filter((k) => !keep.has(k.slice(0, k.indexOf(':'))));
    this.root.transactionSync(() => {
      for (const fp of dropRuns) this.runs.removeSync(fp);
      for (const fp of dropCkpts) this.ckpts.removeSync(fp);
      for (const h of dropBlobs) {
        this.blobs.removeSync(h);
        this.sums.removeSync(h);
      }
      for (const p of dropStats) this.stats.removeSync(p);
      for (const k of dropItems) this.items.removeSync(k);
      for (const k of dropScalars) this.scalarRows.removeSync(k);
    });
    return { bytes, blobs: dropBlobs.length, runs: dropRuns.length };
  }
}
