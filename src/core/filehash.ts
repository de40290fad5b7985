import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { relative, resolve } from 'node:path';
import { ConfigError } from './errors.js';
import { sha256 } from './hash.js';
import type { StatEntry, Store } from './store.js';

/** A file, folder or glob dep: one hash, plus the listing behind it for folders and globs. */
export interface DepHash {
  hash: string;
  files: Record<string, string> | undefined;
}

const GLOB_CHARS = /[*?[\]{}]/;

let tinyglobby: typeof import('tinyglobby') | undefined;
/** Loaded on first use: a pipeline without folder or glob deps never needs it. */
function globSync(pattern: string, options: import('tinyglobby').GlobOptions): string[] {
  tinyglobby ??= createRequire(import.meta.url)('tinyglobby') as typeof import('tinyglobby');
  return tinyglobby.globSync(pattern, options);
}

/**
 * Content hashes with a stat cache: a file whose size, mtime and inode are
 * unchanged is not read again, so an unchanged 10,000-file folder costs
 * 10,000 stat calls and no reads.
 */
export class FileHasher {
  private readonly updates = new Map<string, StatEntry>();
  private readonly memo = new Map<string, DepHash>();
  private readonly listed = new Map<string, { single: boolean; files: string[] }>();

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

  /** Files a dep stands for, as absolute paths in sorted order (listed once, then remembered). */
  expand(dep: string): string[] {
    return this.list(dep).files;
  }

  private list(dep: string): { single: boolean; files: string[] } {
    const hit = this.listed.get(dep);
    if (hit) return hit;
    let result: { single: boolean; files: string[] };
    if (GLOB_CHARS.test(dep)) {
      result = { single: false, files: globSync(dep, { cwd: this.projectDir, onlyFiles: true, absolute: true }).sort() };
    } else {
      const abs = resolve(this.projectDir, dep);
      let st;
      try {
        st = statSync(abs);
      } catch {
        throw new ConfigError(`dep '${dep}' does not exist (looked for ${abs})`);
      }
      result = st.isDirectory()
        ? { single: false, files: globSync('**/*', { cwd: abs, onlyFiles: true, absolute: true, dot: false }).sort() }
        : { single: true, files: [abs] };
    }
    this.listed.set(dep, result);
    return result;
  }

  hashDep(dep: string): DepHash {
    const hit = this.memo.get(dep);
    if (hit) return hit;
    const { single, files } = this.list(dep);
    let result: DepHash;
    if (single) {
      result = { hash: this.hashFile(files[0]!), files: undefined };
    } else {
      const listing: Record<string, string> = {};
      for (const f of files) listing[relative(this.projectDir, f)] = this.hashFile(f);
      result = { hash: listingHash(listing), files: listing };
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
