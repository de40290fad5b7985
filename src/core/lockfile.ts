import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ConfigError } from './errors.js';
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
  const text = readFileSync(path, 'utf8');
  let data: LockFile | null;
  try {
    // Written as JSON (which is YAML) because JSON.parse is many times faster; a hand-edited YAML lock still reads.
    data = text.trimStart().startsWith('{') ? (JSON.parse(text) as LockFile) : (parse(text) as LockFile | null);
  } catch (e) {
    throw new ConfigError(`${path}: not a valid lock file (${(e as Error).message.split('\n')[0]}); delete it and run 'pipe run' to rebuild it`);
  }
  return { version: 1, stages: data?.stages ?? {} };
}

/** Write to a temp file, fsync, rename: readers see the old lock or the new one, never half of one. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function writeLock(dir: string, lock: LockFile): void {
  const ordered: LockFile = { version: 1, stages: Object.fromEntries(Object.entries(lock.stages).sort(([a], [b]) => a.localeCompare(b))) };
  writeFileAtomic(lockPath(dir), `${JSON.stringify(ordered, null, 2)}\n`);
}
