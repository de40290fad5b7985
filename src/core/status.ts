import { existsSync } from 'node:fs';
import { artifactPath } from './artifacts.js';
import { changedOuts } from './outs.js';
import { CacheCorrupt } from './errors.js';
import { canonicalJson } from './hash.js';
import { codeName } from './codehash.js';
import type { LockEntry } from './lockfile.js';
import type { Project } from './project.js';

export interface StageStatus {
  stage: string;
  upToDate: boolean;
  /** pipe.lock was made from exactly this code, params and data (outputs may still be missing from the cache). */
  lockMatches: boolean;
  /** Stale but its fingerprint is in the run-cache: a run restores it without executing. */
  cached: boolean;
  reasons: string[];
}

function flatten(obj: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
    for (const [k, v] of Object.entries(obj)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out[prefix] = canonicalJson(obj);
  return out;
}

function diffMaps(before: Record<string, string>, after: Record<string, string>) {
  const changed = Object.keys(after).filter((k) => k in before && before[k] !== after[k]);
  const added = Object.keys(after).filter((k) => !(k in before));
  const removed = Object.keys(before).filter((k) => !(k in after));
  return { changed, added, removed };
}

function listFew(items: string[]): string {
  return items.length <= 3 ? items.join(', ') : `${items.slice(0, 3).join(', ')} and ${items.length - 3} more`;
}

/** Why a stage is stale, in words, by comparing its current state with its pipe.lock entry. */
export function explain(project: Project, name: string): StageStatus {
  const spec = project.pipeline.stages.get(name)!;
  const state = project.state(name);
  const entry: LockEntry | undefined = project.lock.stages[name];
  const record = state.fingerprint ? project.store.getRun(state.fingerprint) : undefined;
  const reasons: string[] = [];

  for (const [up, out] of Object.entries(state.upstream)) {
    if (out === undefined) reasons.push(`upstream '${up}' is stale`);
    else if (entry && entry.fingerprint !== state.fingerprint && entry.upstream[up] !== undefined && entry.upstream[up] !== out) reasons.push(`upstream '${up}' changed`);
  }
  if (!entry) {
    reasons.push('never run');
  } else if (entry.fingerprint !== state.fingerprint) {
    const before = flatten(entry.params);
    const after = flatten(state.params);
    const p = diffMaps(before, after);
    for (const k of p.changed) reasons.push(`param ${k} changed: ${before[k]} -> ${after[k]}`);
    for (const k of p.added) reasons.push(`param ${k} added: ${after[k]}`);
    for (const k of p.removed) reasons.push(`param ${k} removed (was ${before[k]})`);
    // An upstream stage whose params have just come into the key (or left it) is one line, not one per param.
    const [was, now] = [entry.upstreamParams ?? {}, state.upstreamParams ?? {}];
    const both = Object.keys(now).filter((up) => up in was);
    const ofBoth = (m: typeof was) => flatten(Object.fromEntries(both.map((up) => [up, m[up]])));
    const [ub, ua] = [ofBoth(was), ofBoth(now)];
    const u = diffMaps(ub, ua);
    for (const k of u.changed) reasons.push(`upstream param ${k} changed: ${ub[k]} -> ${ua[k]}`);
    for (const k of u.added) reasons.push(`upstream param ${k} added: ${ua[k]}`);
    for (const k of u.removed) reasons.push(`upstream param ${k} removed (was ${ub[k]})`);
    for (const up of Object.keys(now)) if (!(up in was)) reasons.push(`params of upstream '${up}' now part of the key`);
    for (const up of Object.keys(was)) if (!(up in now)) reasons.push(`params of upstream '${up}' no longer part of the key`);
    if (entry.kind !== state.kind) reasons.push(`kind changed: ${entry.kind} -> ${state.kind}`);
    const c = diffMaps(entry.code, state.code);
    const pkgs = (ks: string[]) => ks.filter((k) => k.startsWith('npm:'));
    const srcs = (ks: string[]) => ks.filter((k) => !k.startsWith('npm:')).map(codeName);
    if (srcs(c.changed).length) reasons.push(`code changed: ${listFew(srcs(c.changed))}`);
    if (srcs(c.added).length) reasons.push(`code added: ${listFew(srcs(c.added))}`);
    if (srcs(c.removed).length) reasons.push(`code removed: ${listFew(srcs(c.removed))}`);
    for (const k of pkgs(c.changed)) reasons.push(`package ${k.slice(4)} changed: ${entry.code[k]} -> ${state.code[k]}`);
    for (const k of pkgs(c.added)) reasons.push(`package ${k.slice(4)} now used (${state.code[k]})`);
    const d = diffMaps(entry.deps, state.deps);
    for (const dep of d.changed) reasons.push(`dep ${dep} changed${listingChange(project, entry.deps[dep]!, state.listings[dep])}`);
    for (const dep of d.added) reasons.push(`dep ${dep} added`);
    for (const dep of d.removed) reasons.push(`dep ${dep} removed`);
    const f = diffMaps(entry.facts ?? {}, state.facts);
    for (const k of f.changed) reasons.push(`machine fact ${k} changed: ${entry.facts[k]} in pipe.lock, ${state.facts[k]} on this machine`);
    for (const k of f.added) reasons.push(`machine fact ${k} now part of the key: ${state.facts[k]}`);
    for (const k of f.removed) reasons.push(`machine fact ${k} no longer part of the key (was ${entry.facts[k]})`);
    const bindings = (m: Record<string, string | string[]> | undefined) => Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, ([] as string[]).concat(v).join(', ')]));
    const [ib, ia] = [bindings(entry.inputs), bindings(state.inputs)];
    const i = diffMaps(ib, ia);
    for (const k of i.changed) reasons.push(`input ${k} rebound: ${ib[k]} -> ${ia[k]}`);
    for (const k of i.added) reasons.push(`input ${k} bound to ${ia[k]}`);
    for (const k of i.removed) reasons.push(`input ${k} unbound (was ${ib[k]})`);
    for (const up of Object.keys(state.upstream)) if (!(up in entry.upstream)) reasons.push(`new upstream '${up}'`);
    for (const up of Object.keys(entry.upstream)) if (!(up in state.upstream)) reasons.push(`upstream '${up}' removed`);
    if (reasons.length === 0) reasons.push('fingerprint changed');
  } else if (!record) {
    reasons.push('outputs missing from the cache');
  }
  if (!spec.cache) reasons.push('cache: false (always runs)');
  // A lock whose output or upstream hashes were edited by hand no longer describes what the cache holds.
  const tampered: string[] = [];
  if (entry && entry.fingerprint === state.fingerprint) {
    const recorded = record && { ...Object.fromEntries(Object.entries(record.outputs).map(([k, v]) => [k, v.hash])), ...Object.fromEntries(Object.entries(record.files).map(([k, v]) => [k, v.hash])) };
    const locked: Record<string, string> = { ...entry.outs, ...entry.files };
    if (recorded) {
      const d = diffMaps(recorded, locked);
      if (d.changed.length || d.added.length || d.removed.length) tampered.push(`pipe.lock's output hashes differ from the cache's record of this fingerprint: ${listFew([...d.changed, ...d.added, ...d.removed])}`);
    }
    const ups = Object.keys(state.upstream).filter((up) => state.upstream[up] !== undefined && entry.upstream[up] !== state.upstream[up]);
    if (ups.length && Object.values(state.upstream).every((h) => h !== undefined)) tampered.push(`pipe.lock's upstream hashes differ from the upstream outputs: ${listFew(ups)}`);
    reasons.push(...tampered);
  }
  if (spec.command && record && entry?.fingerprint === state.fingerprint) {
    const changed = changedOuts(project.store, project.pipeline.dir, record.outputs, (p) => project.hasher.hashFile(p));
    if (changed.length) reasons.push(`outs changed in the workspace: ${listFew(changed)} (pipe run restores them)`);
  }
  if (entry && record && entry.fingerprint === state.fingerprint) {
    const missing = Object.keys(record.files).filter((k) => !existsSync(artifactPath(project.pipeline.artifactsDir, name, k)));
    if (missing.length) reasons.push(`artifacts missing: ${listFew(missing)}`);
  }
  const upToDate = reasons.length === 0;
  const lockMatches = !!entry && entry.fingerprint === state.fingerprint && tampered.length === 0;
  return { stage: name, upToDate, lockMatches, cached: !upToDate && !!record && spec.cache, reasons };
}

/** For a folder or glob dep: which files changed, from the listing kept in the cache. */
function listingChange(project: Project, oldHash: string, now: Record<string, string> | undefined): string {
  if (!now || !project.store.hasBlob(oldHash)) return '';
  let before: Record<string, string>;
  try {
    before = Object.fromEntries(JSON.parse(Buffer.from(project.store.getBlob(oldHash, 'a folder listing')).toString()) as [string, string][]);
  } catch (e) {
    // Only the detail is lost: the dep is stale either way (getBlob dropped a damaged listing).
    if (e instanceof CacheCorrupt) return '';
    throw e;
  }
  const d = diffMaps(before, now);
  const parts = [];
  if (d.changed.length) parts.push(`modified ${listFew(d.changed)}`);
  if (d.added.length) parts.push(`added ${listFew(d.added)}`);
  if (d.removed.length) parts.push(`removed ${listFew(d.removed)}`);
  return parts.length ? ` (${parts.join('; ')})` : '';
}
