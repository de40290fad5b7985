import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
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
  if (!rel || rel.split(/[\\/]/).some((p) => p === '..' || p === '') || /[\n\r]/.test(key)) {
    throw new Error(`artifact path '${JSON.stringify(key).slice(1, -1)}' must be a relative path inside artifacts/ without '..' or line breaks`);
  }
}

/**
 * artifacts/.pipe/<stage>.keys lists every artifact key of a stage that may be
 * on disk, whichever run wrote it: pipe.lock names only the workspace's run,
 * and an experiment or a killed run can leave files it does not name. A key
 * is listed before its file is written and dropped only after the files match
 * a record, so a kill at any moment leaves a list that covers what is there.
 */
function claimsPath(dir: string, stage: string): string {
  return join(dir, '.pipe', `${stage}.keys`);
}

function readClaims(dir: string, stage: string): string[] {
  try {
    return readFileSync(claimsPath(dir, stage), 'utf8').split('\n').filter(Boolean);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Lists keys as possibly on disk; called before their files are written. */
export function claimArtifacts(dir: string, stage: string, keys: string[]): void {
  if (!keys.length) return;
  mkdirSync(join(dir, '.pipe'), { recursive: true });
  appendFileSync(claimsPath(dir, stage), keys.map((k) => `${k}\n`).join(''));
}

/**
 * Makes a stage's artifacts match `files` (key → content hash): rewrites the
 * missing or changed ones from the cache, and removes what `files` lacks of
 * the keys in `stale` and of those any earlier run wrote. Returns whether it
 * changed anything.
 */
export function syncArtifactFiles(
  dir: string,
  stage: string,
  files: Record<string, { hash: string }>,
  stale: Iterable<string>,
  io: { hashFile(path: string): string; blob(hash: string, key: string): Uint8Array },
): boolean {
  const claimed = readClaims(dir, stage);
  const known = new Set(claimed);
  const keys = Object.keys(files).sort();
  claimArtifacts(dir, stage, keys.filter((k) => !known.has(k)));
  let touched = false;
  for (const key of keys) {
    const path = artifactPath(dir, stage, key);
    if (existsSync(path) && io.hashFile(path) === files[key]!.hash) continue;
    writeArtifact(path, io.blob(files[key]!.hash, key));
    touched = true;
  }
  for (const key of new Set([...stale, ...claimed])) {
    if (key in files) continue;
    const path = artifactPath(dir, stage, key);
    if (!existsSync(path)) continue;
    removeArtifact(path);
    touched = true;
  }
  if (claimed.length !== keys.length || claimed.some((k, i) => k !== keys[i])) {
    writeArtifact(claimsPath(dir, stage), keys.map((k) => `${k}\n`).join(''));
  }
  return touched;
}
