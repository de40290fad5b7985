import { open, type Database, type RootDatabase } from 'lmdb';
import { CacheCorrupt } from './errors.js';
import { hashJson, sha256 } from './hash.js';
import type { Checkpoint, MetricInfo } from './stage.js';
import { decodeTensor, encodeTensor, type Tensor } from './tensor.js';

/** What a finished stage produced, as recorded under its fingerprint. */
export interface OutputRef {
  type: 'tensor' | 'json' | 'file';
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
  /** Per-item memo keys the stage used, kept alive by gc along with the record. */
  items: string[];
  seconds: number;
  finishedAt: string;
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

/** A checkpoint as stored: its tensors by blob hash. */
interface StoredCheckpoint {
  step: number;
  tensors: Record<string, string>;
  state: unknown;
}

/** A sweep as `pipe exp show` lists it: its variants and the fingerprints each one's stages had. */
export interface SweepEntry {
  name: string;
  created: string;
  file: string;
  base: string[];
  variants: Array<{ name: string; params: Record<string, string>; fingerprints: Record<string, string> }>;
}

export interface HistoryEntry {
  at: string;
  fingerprints: string[];
}

/**
 * One LMDB environment holding everything the runner caches. Blobs are
 * content-addressed; run records map a fingerprint to its outputs. Writes of a
 * stage's results go through commitRun(), one transaction, so a kill leaves
 * either the whole record or nothing.
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
  private pending = new Map<string, Uint8Array>();

  constructor(readonly path: string) {
    this.root = open({ path, compression: false });
    this.blobs = this.root.openDB({ name: 'blobs', encoding: 'binary' });
    this.runs = this.root.openDB({ name: 'runs' });
    this.stats = this.root.openDB({ name: 'stat' });
    this.items = this.root.openDB({ name: 'items', encoding: 'string' });
    this.ckpts = this.root.openDB({ name: 'checkpoints' });
    this.history = this.root.openDB({ name: 'history' });
    this.sweeps = this.root.openDB({ name: 'sweeps' });
  }

  close(): Promise<void> {
    return this.root.close();
  }

  /** Stages blob bytes for the next commit; returns the content hash. */
  stageBlob(bytes: Uint8Array): string {
    const hash = sha256(bytes);
    if (!this.pending.has(hash) && !this.blobs.doesExist(hash)) this.pending.set(hash, bytes);
    return hash;
  }

  stageTensor(t: Tensor): OutputRef {
    const bytes = encodeTensor(t);
    return { type: 'tensor', hash: this.stageBlob(bytes), bytes: bytes.length, dtype: t.dtype, shape: t.shape };
  }

  /** Writes a blob right away (for data that is useful even if the stage later fails). */
  putBlob(bytes: Uint8Array): string {
    const hash = sha256(bytes);
    if (!this.blobs.doesExist(hash)) this.blobs.putSync(hash, bytes);
    return hash;
  }

  hasBlob(hash: string): boolean {
    return this.pending.has(hash) || this.blobs.doesExist(hash);
  }

  getBlob(hash: string): Uint8Array {
    const b = this.pending.get(hash) ?? this.blobs.getBinary(hash);
    if (!b) throw new CacheCorrupt(`cache blob ${hash.slice(0, 12)} is missing (run 'pipe run --force' on the stage that made it)`);
    return b;
  }

  getTensor(hash: string): Tensor {
    try {
      return decodeTensor(this.getBlob(hash));
    } catch (e) {
      if (e instanceof CacheCorrupt) throw e;
      throw new CacheCorrupt(`cache blob ${hash.slice(0, 12)} is not a readable tensor (${(e as Error).message}); run 'pipe run --force' on the stage that made it`);
    }
  }

  /** Commits staged blobs and the run record in one transaction. */
  commitRun(record: RunRecord, blobHashes: Iterable<string>): void {
    const staged = [...blobHashes].filter((h) => this.pending.has(h));
    this.root.transactionSync(() => {
      for (const h of staged) this.blobs.putSync(h, this.pending.get(h)!);
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
  loadCheckpoint(fingerprint: string): Checkpoint | undefined {
    const c = this.ckpts.get(fingerprint);
    if (!c) return undefined;
    const tensors: Record<string, Tensor> = {};
    for (const [k, h] of Object.entries(c.tensors)) tensors[k] = this.getTensor(h);
    return { step: c.step, tensors, state: c.state };
  }

  /** Tensors and checkpoint record in one transaction: a kill leaves the previous checkpoint whole. */
  saveCheckpoint(fingerprint: string, step: number, tensors: Record<string, Tensor>, state: unknown): void {
    const encoded = Object.entries(tensors).map(([k, t]) => {
      const bytes = encodeTensor(t);
      return [k, sha256(bytes), bytes] as const;
    });
    this.root.transactionSync(() => {
      for (const [, h, b] of encoded) if (!this.blobs.doesExist(h)) this.blobs.putSync(h, b);
      this.ckpts.putSync(fingerprint, { step, tensors: Object.fromEntries(encoded.map(([k, h]) => [k, h])), state });
    });
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
      for (const o of [...Object.values(r.outputs), ...Object.values(r.files)]) liveBlobs.add(o.hash);
      for (const k of r.items) liveItems.add(k);
    };
    const dropRuns: string[] = [];
    for (const r of this.allRuns()) {
      if (keep.has(r.fingerprint)) keepRun(r);
      else dropRuns.push(r.fingerprint);
    }
    const dropCkpts: string[] = [];
    for (const [fp, c] of this.checkpointEntries()) {
      if (keep.has(fp)) Object.values(c.tensors).forEach((h) => liveBlobs.add(h));
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
    this.root.transactionSync(() => {
      for (const fp of dropRuns) this.runs.removeSync(fp);
      for (const fp of dropCkpts) this.ckpts.removeSync(fp);
      for (const h of dropBlobs) this.blobs.removeSync(h);
      for (const p of dropStats) this.stats.removeSync(p);
      for (const k of dropItems) this.items.removeSync(k);
    });
    return { bytes, blobs: dropBlobs.length, runs: dropRuns.length };
  }
}
