import pLimit from 'p-limit';
import { RemoteError } from '../errors.js';
import { checkpointBlobs, recordBlobs, type RunRecord, type StoredCheckpoint, type Store } from '../store.js';
import type { Backend } from './backend.js';
import { ByteBudget } from './byte-budget.js';
import { collect, type Downloaded } from './body.js';

/**
 * The remote layout, one for team sharing and cluster exchange (Bazel's CAS +
 * action cache): immutable blobs by sha256, run records by fingerprint written
 * only after all their blobs and never replaced, and the latest training
 * checkpoint per fingerprint so a requeued job resumes.
 */
const blobKey = (hash: string) => `cas/${hash.slice(0, 2)}/${hash}`;
const recordKey = (fingerprint: string) => `ac/${fingerprint}.json`;
const checkpointKey = (fingerprint: string) => `ckpt/${fingerprint}.json`;
const FORMAT = 1;

/**
 * Most bytes of downloaded blobs held in memory at once, before LMDB has them:
 * a pull of many large tensors (16 at once) needs no more RAM than this. Not
 * less: four 256 MiB blobs at most 512 MiB at a time pulled in 12.4 s against
 * 9.7 s all at once (medians of 5), as LMDB's writes then overlap less.
 */
const PULL_BUFFER_BYTES = 2 * 1024 * 1024 * 1024;

export interface Transfer {
  /** Objects sent or fetched, and their bytes. */
  objects: number;
  bytes: number;
  /** Run records written (push) or taken in (pull). */
  records: number;
  /** Records the other side had already. */
  present: number;
}

/** Progress of a transfer in bytes: the caller draws it. */
export type TransferProgress = (done: number, total: number) => void;

const emptyTransfer = (): Transfer => ({ objects: 0, bytes: 0, records: 0, present: 0 });

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class Remote {
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly inMemory = new ByteBudget(PULL_BUFFER_BYTES);
  private blobs: Promise<Set<string>> | undefined;
  private records: Promise<Set<string>> | undefined;

  constructor(
    readonly backend: Backend,
    private readonly store: Store,
    jobs = 16,
  ) {
    this.limit = pLimit(jobs);
  }

  private async call<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (e instanceof RemoteError) throw e;
      throw new RemoteError(`remote ${this.backend.url}: ${what} failed: ${describe(e)}`);
    }
  }

  /** An object's bytes and their sha256; undefined when the remote has none. */
  private download(key: string): Promise<Downloaded | undefined> {
    return this.call(`download of ${key}`, async () => {
      const body = await this.backend.read(key);
      return body && collect(body, `${this.backend.url}/${key}`);
    });
  }

  /** The blob hashes the remote holds: one listing (1,000 keys a request), kept for this Remote's life. */
  private remoteBlobs(): Promise<Set<string>> {
    this.blobs ??= this.call('listing blobs', () => this.backend.list('cas/')).then((keys) => new Set([...keys].map((k) => k.slice(k.lastIndexOf('/') + 1))));
    return this.blobs;
  }

  /** The fingerprints the remote has run records for. */
  remoteRecords(): Promise<Set<string>> {
    this.records ??= this.call('listing run records', () => this.backend.list('ac/')).then((keys) => new Set([...keys].filter((k) => k.endsWith('.json')).map((k) => k.slice(3, -5))));
    return this.records;
  }

  /**
   * Sends what these records and checkpoints need that the remote lacks, then
   * the records (each only if its fingerprint is free: the first writer wins,
   * as a content-addressed result should) and the checkpoints (replacing older ones).
   */
  async push(records: RunRecord[], checkpoints: Array<[string, StoredCheckpoint]> = [], progress?: TransferProgress): Promise<Transfer> {
    const t = emptyTransfer();
    const there = await this.remoteBlobs();
    const haveRecords = await this.remoteRecords();
    const todo = records.filter((r) => !haveRecords.has(r.fingerprint));
    t.present = records.length - todo.length;
    const needed = new Set([...todo.flatMap((r) => recordBlobs(r)), ...checkpoints.flatMap(([, c]) => checkpointBlobs(c))]);
    const missing = [...needed].filter((h) => !there.has(h));
    // Sizes without reading the blobs: LMDB gives them as it reads, so a blob is read once, when sent.
    const total = missing.reduce((n, h) => n + this.store.blobSize(h), 0);
    await Promise.all(
      missing.map((h) =>
        this.limit(async () => {
          const bytes = this.store.getBlob(h);
          await this.call(`upload of ${blobKey(h)}`, () => this.backend.put(blobKey(h), bytes, { sha256: h }));
          there.add(h);
          t.objects++;
          t.bytes += bytes.length;
          progress?.(t.bytes, total);
        }),
      ),
    );
    for (const r of todo) {
      const body = Buffer.from(JSON.stringify({ format: FORMAT, record: r }));
      const written = await this.call(`writing run record ${recordKey(r.fingerprint)}`, () => this.backend.put(recordKey(r.fingerprint), body, { ifAbsent: true }));
      haveRecords.add(r.fingerprint);
      if (written) t.records++;
      else t.present++;
    }
    for (const [fp, c] of checkpoints) {
      await this.call(`writing checkpoint ${checkpointKey(fp)}`, () => this.backend.put(checkpointKey(fp), Buffer.from(JSON.stringify({ format: FORMAT, checkpoint: c }))));
    }
    return t;
  }

  /** A run record from the remote, checked for shape; undefined when the remote has none. */
  async getRecord(fingerprint: string): Promise<RunRecord | undefined> {
    const key = recordKey(fingerprint);
    const body = await this.download(key);
    if (!body) return undefined;
    const record = this.parse<{ record: RunRecord }>(key, body.bytes).record;
    if (record?.fingerprint !== fingerprint || typeof record.outputs !== 'object' || typeof record.files !== 'object') {
      throw new RemoteError(`remote object ${this.backend.url}/${key} is not the run record of ${fingerprint.slice(0, 12)}; nothing was taken from it`);
    }
    return record;
  }

  private parse<T>(key: string, body: Uint8Array): T {
    try {
      const v = JSON.parse(Buffer.from(body).toString()) as { format?: number } & T;
      if (v.format !== FORMAT) throw new Error(`format ${v.format}, expected ${FORMAT}`);
      return v;
    } catch (e) {
      throw new RemoteError(`remote object ${this.backend.url}/${key} is damaged (${describe(e)}); nothing was taken from it`);
    }
  }

  /**
   * Downloads the blobs the local cache lacks, each checked against its sha256
   * before it is written; the caller then commits the record that names them
   * (until then they are invisible, and gc drops them if it never comes).
   */
  private async fetchBlobs(hashes: string[], t: Transfer, progress?: TransferProgress, sizes = new Map<string, number>()): Promise<void> {
    const missing = [...new Set(hashes)].filter((h) => !this.store.hasBlob(h));
    let failed = false;
    const outcomes = await Promise.allSettled(
      missing.map((h) =>
        this.limit(async () => {
          if (failed) return;
          try {
            const n = await this.fetchBlob(h, sizes.get(h));
            t.objects++;
            t.bytes += n;
            progress?.(t.bytes, 0);
          } catch (e) {
            // The rest are not started; those in flight finish first.
            failed = true;
            throw e;
          }
        }),
      ),
    );
    // Only once every write in flight has landed: the caller may close the cache next.
    const error = outcomes.find((o) => o.status === 'rejected');
    if (error) throw (error as PromiseRejectedResult).reason;
  }

  /** Downloads one blob (of this size, where the record says; it counts against the byte budget), checks it against its sha256 and writes it; returns its size. */
  private fetchBlob(hash: string, size?: number): Promise<number> {
    // A blob of unknown size (a folder's file, a checkpoint's tensor) is small or rare: it counts as nothing.
    return this.inMemory.with(size ?? 0, () => this.fetchBlobNow(hash));
  }

  private async fetchBlobNow(hash: string): Promise<number> {
    const key = blobKey(hash);
    const body = await this.download(key);
    if (!body) throw new RemoteError(`remote ${this.backend.url} lacks ${key}, which a run record names; push it again from a cache that has it`);
    const { bytes, sha256: got } = body;
    if (got !== hash) throw new RemoteError(`remote object ${this.backend.url}/${key} does not match its hash (${bytes.length} bytes, sha256 ${got.slice(0, 12)}…); nothing was taken from it`);
    // Holding the pool's slot until the write is done bounds the bytes in memory.
    await this.store.writeBlobAsync(hash, bytes);
    return bytes.length;
  }

  /** Takes a run record into the local cache after all its blobs: a killed pull leaves no record whose blobs are not all there. */
  private async take(record: RunRecord, t: Transfer, progress?: TransferProgress): Promise<void> {
    // A folder's size is its files', not its manifest's; the other outputs' blobs are their size.
    const sizes = new Map([...Object.values(record.outputs), ...Object.values(record.files)].filter((o) => o.type !== 'folder').map((o) => [o.hash, o.bytes]));
    await this.fetchBlobs(recordBlobs(record), t, progress, sizes);
    this.store.commitRun(record, []);
    t.records++;
  }

  /** Pulls one stage's run record; undefined when the remote has none. */
  async pullRecord(fingerprint: string): Promise<RunRecord | undefined> {
    const record = await this.getRecord(fingerprint);
    if (record) await this.take(record, emptyTransfer());
    return record;
  }

  /** Pulls the records the local cache lacks: all records first (small), then their blobs record by record. */
  async pull(fingerprints: string[], progress?: TransferProgress): Promise<Transfer & { absent: string[] }> {
    const t = emptyTransfer();
    const there = await this.remoteRecords();
    const wanted = fingerprints.filter((fp) => !this.store.getRun(fp));
    t.present = fingerprints.length - wanted.length;
    const absent = wanted.filter((fp) => !there.has(fp));
    const records = (await Promise.all(wanted.filter((fp) => there.has(fp)).map((fp) => this.limit(() => this.getRecord(fp))))).filter((r): r is RunRecord => !!r);
    // Folder-out files have no size in the record; the total counts what it can.
    const total = records.reduce((n, r) => n + [...Object.values(r.outputs), ...Object.values(r.files)].reduce((m, o) => m + (o.type === 'folder' ? 0 : o.bytes), 0), 0);
    for (const r of records) await this.take(r, t, progress && ((done) => progress(done, Math.max(total, done))));
    return { ...t, absent };
  }

  /** Takes the remote's checkpoint for a fingerprint when it is further along than the local one; returns its step. */
  async pullCheckpoint(fingerprint: string): Promise<number | undefined> {
    const key = checkpointKey(fingerprint);
    const body = await this.download(key);
    if (!body) return undefined;
    const c = this.parse<{ checkpoint: StoredCheckpoint }>(key, body.bytes).checkpoint;
    const local = this.store.storedCheckpoint(fingerprint);
    if (local && local.step >= c.step) return local.step;
    await this.fetchBlobs(checkpointBlobs(c), emptyTransfer());
    this.store.importCheckpoint(fingerprint, c);
    return c.step;
  }
}
