import { existsSync } from 'node:fs';
import type { Project } from './project.js';

export interface GcResult {
  bytes: number;
  blobs: number;
  runs: number;
}

/** Keeps what pipe.lock, the last `keep` runs, recorded sweeps and experiments reference; drops the rest of the cache. */
export function collectGarbage(project: Project, keep: number, dropSweeps = false): GcResult {
  if (dropSweeps) {
    // A sweep's variants are experiments named sweep/variant: they go with it.
    project.store.removeExperiments(project.store.allSweeps().flatMap((s) => s.variants.map((v) => `${s.name}/${v.name}`)));
    project.store.clearSweeps();
  }
  const live = new Set<string>(Object.values(project.lock.stages).map((e) => e.fingerprint));
  for (const h of project.store.recentHistory(keep)) for (const fp of h.fingerprints) live.add(fp);
  // Sweep variants stay listable by `pipe exp show` with their metrics.
  for (const s of project.store.allSweeps()) for (const v of s.variants) for (const fp of Object.values(v.fingerprints)) live.add(fp);
  // So do experiments, until `pipe exp remove`.
  for (const e of project.store.allExperiments()) for (const fp of Object.values(e.fingerprints)) live.add(fp);
  const depListings = new Set(Object.values(project.lock.stages).flatMap((e) => Object.values(e.deps)));
  return project.store.collect(live, depListings, (p) => existsSync(p));
}
