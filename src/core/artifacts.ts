import { mkdirSync, rmSync } from 'node:fs';
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
