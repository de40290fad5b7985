import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from './lockfile.js';

/**
 * Artifact keys in run records: `path` is under artifacts/<stage>/, `/path`
 * under artifacts/ itself. Keeping the stage name out of the key lets two
 * stages with the same fingerprint share one record.
 */
export function artifactPath(artifactsDir: string, stage: string, key: string): string {
  return key.startsWith('/') ? join(artifactsDir, key.slice(1)) : join(artifactsDir, stage, key);
}

export function writeArtifact(path: string, data: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, data);
}

export function removeArtifact(path: string): void {
  rmSync(path, { force: true });
}

export function checkArtifactKey(key: string): void {
  const rel = key.replace(/^\//, '');
  if (!rel || rel.split(/[\\/]/).some((p) => p === '..' || p === '')) {
    throw new Error(`artifact path '${key}' must be a relative path inside artifacts/ without '..'`);
  }
}

/**
 * Makes a stage's artifacts match `files` (key → content hash): rewrites the
 * missing or changed ones from the cache, and removes the keys in `stale`
 * that `files` lacks. Returns whether it changed anything.
 */
export function syncArtifactFiles(
  dir: string,
  stage: string,
  files: Record<string, { hash: string }>,
  stale: Iterable<string>,
  io: { hashFile(path: string): string; blob(hash: string, key: string): Uint8Array },
): boolean {
  let touched = false;
  for (const [key, ref] of Object.entries(files)) {
    const path = artifactPath(dir, stage, key);
    if (existsSync(path) && io.hashFile(path) === ref.hash) continue;
    writeArtifact(path, io.blob(ref.hash, key));
    touched = true;
  }
  for (const key of stale) {
    if (key in files) continue;
    removeArtifact(artifactPath(dir, stage, key));
    touched = true;
  }
  return touched;
}
