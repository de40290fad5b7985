import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ConfigError } from './errors.js';
import { pidAlive } from './mutex.js';
import { filesUnder } from './outs.js';
import type { StageKey } from './fingerprint.js';

/** What pipe.lock records per stage (DVC's split: the key's inputs in, outs out). */
export interface LockEntry extends Omit<StageKey, 'upstream'> {
  fingerprint: string;
  upstream: Record<string, string>;
  outs: Record<string, string>;
  files: Record<string, string>;
}

export interface LockFile {
  version: 1;
  stages: Record<string, LockEntry>;
}

export const LOCK_NAME = 'pipe.lock';

export function lockPath(dir: string): string {
  return join(dir, LOCK_NAME);
}

export function readLock(dir: string): LockFile {
  const path = lockPath(dir);
  if (!existsSync(path)) return { version: 1, stages: {} };
  if (!statSync(path).isFile()) throw new ConfigError(`${path}: not a valid lock file (it is not a file); delete it and run 'pipe run' to rebuild it`);
  return parseLock(readFileSync(path, 'utf8'), path);
}

/** A lock file's text, checked for shape; `where` names it in errors (a path, or `REV:pipe.lock`). */
export function parseLock(text: string, where: string): LockFile {
  const invalid = (why: string) => new ConfigError(`${where}: not a valid lock file (${why}); delete it and run 'pipe run' to rebuild it`);
  let data: unknown;
  try {
    // Written as JSON (which is YAML) because JSON.parse is many times faster; a hand-edited YAML lock still reads.
    data = text.trimStart().startsWith('{') ? JSON.parse(text) : parse(text);
  } catch (e) {
    throw invalid((e as Error).message.split('\n')[0]!);
  }
  const stages = (data as { stages?: unknown } | null)?.stages ?? {};
  if (!stages || typeof stages !== 'object' || Array.isArray(stages)) throw invalid('`stages` must be a mapping of stage names to entries');
  for (const [name, e] of Object.entries(stages)) {
    const entry = e as Partial<LockEntry> | null;
    if (!entry || typeof entry !== 'object' || typeof entry.fingerprint !== 'string' || typeof entry.outs !== 'object' || typeof entry.files !== 'object') {
      throw invalid(`stages.${name} needs a fingerprint and outs and files mappings`);
    }
  }
  return { version: 1, stages: stages as Record<string, LockEntry> };
}

/** The temp files writeFileAtomic makes: `<name>.<pid>.tmp`, so a leftover one tells whose it was. */
export const TMP_FILE = /\.(\d+)\.tmp$/;

/**
 * Write to a temp file, fsync, rename: readers see the old file or the new
 * one, never half of one. A kill between write and rename leaves the temp
 * file; cleanTempFiles removes it on the next run. (Hand-written rather than
 * write-file-atomic because its temp names do not say which process made them.)
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      // writeSync may write less than asked (a filling disk does): loop until all of it is written or it throws.
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    const err = e as NodeJS.ErrnoException;
    // ENOSPC and EIO say nothing about where: add the path.
    throw err.code ? new Error(`cannot write ${path}: ${err.code === 'ENOSPC' ? 'no space left on the device' : err.message}`) : err;
  }
}

/** Removes temp files left by killed processes (their pid is gone): in `trees` and their subfolders, and directly in `flat`. */
export function cleanTempFiles(trees: string[], flat: string[]): number {
  const files = [
    ...trees.flatMap((t) => (existsSync(t) && statSync(t).isDirectory() ? filesUnder(t).map((rel) => join(t, rel)) : [])),
    ...flat.flatMap((d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isFile() ? [join(d, e.name)] : []))),
  ];
  let removed = 0;
  for (const f of files) {
    const pid = TMP_FILE.exec(f)?.[1];
    if (pid && !pidAlive(Number(pid))) {
      rmSync(f, { force: true });
      removed++;
    }
  }
  return removed;
}

export function writeLock(dir: string, lock: LockFile): void {
  const ordered: LockFile = { version: 1, stages: Object.fromEntries(Object.entries(lock.stages).sort(([a], [b]) => a.localeCompare(b))) };
  writeFileAtomic(lockPath(dir), `${JSON.stringify(ordered, null, 2)}\n`);
}
