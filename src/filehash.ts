import { readFileSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { globSync } from 'tinyglobby';
import { PipeError } from './errors.js';
import { sha256 } from './hash.js';
import type { StatEntry, Store } from './store.js';

/** A file, folder or glob dep: one hash, plus the listing behind it for folders and globs. */
export interface DepHash {
  hash: string;
  files: Record<string, string> | undefined;
}

const GLOB_CHARS = /[*?[\]{}]/;

/**
 * Content hashes with a stat cache: a file whose size, mtime and inode are
 * unchanged is not read again, so an unchanged 10,000-file folder costs
 * 10,000 stat calls and no reads.
 */
export class FileHasher {
  private readonly updates = new Map<string, StatEntry>();
  private readonly memo = new Map<string, DepHash>();

  constructor(
    private readonly store: Store,
    private readonly projectDir: string,
  ) {}

  hashFile(abs: string): string {
    const st = statSync(abs);
    const cached = this.updates.get(abs) ?? this.store.getStat(abs);
    if (cached && cached.size === st.size && cached.mtimeMs === st.mtimeMs && cached.ino === st.ino) return cached.hash;
    const hash = sha256(readFileSync(abs));
    this.updates.set(abs, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, hash });
    return hash;
  }

  /** Files a dep stands for, as absolute paths in sorted order. */
  expand(dep: string): string[] {
    if (GLOB_CHARS.test(dep)) {
      return globSync(dep, { cwd: this.projectDir, onlyFiles: true, absolute: true }).sort();
    }
    const abs = resolve(this.projectDir, dep);
    let st;
    try {
      st = statSync(abs);
    } catch {
      throw new PipeError(`dep '${dep}' does not exist (looked for ${abs})`);
    }
    if (!st.isDirectory()) return [abs];
    return globSync('**/*', { cwd: abs, onlyFiles: true, absolute: true, dot: false }).sort();
  }

  hashDep(dep: string): DepHash {
    const hit = this.memo.get(dep);
    if (hit) return hit;
    const isFile = !GLOB_CHARS.test(dep) && !statSync(resolve(this.projectDir, dep)).isDirectory();
    let result: DepHash;
    if (isFile) {
      result = { hash: this.hashFile(resolve(this.projectDir, dep)), files: undefined };
    } else {
      const files: Record<string, string> = {};
      for (const f of this.expand(dep)) files[relative(this.projectDir, f)] = this.hashFile(f);
      result = { hash: listingHash(files), files };
    }
    this.memo.set(dep, result);
    return result;
  }

  /** Persists the stat entries learned since the last flush. */
  flush(): void {
    this.store.putStats(this.updates);
    this.updates.clear();
  }
}

export function listingBytes(files: Record<string, string>): Uint8Array {
  return Buffer.from(JSON.stringify(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

export function listingHash(files: Record<string, string>): string {
  return sha256(listingBytes(files));
}
