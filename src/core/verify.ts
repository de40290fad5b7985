import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commitRecord, executeStage, stageFailure } from './execute.js';
import type { Project } from './project.js';
import type { Reporter } from './progress.js';
import { Rng } from './rng.js';
import { explain } from './status.js';
import { recordBlobs } from './store.js';
import { decodeTensor, isEncodedTensor } from './tensor.js';

export type VerifyOutcome = 'match' | 'within tolerance' | 'differs' | 'lock out of date' | 'skipped';

export interface VerifyResult {
  stage: string;
  outcome: VerifyOutcome;
  details: string[];
}

export interface VerifyOptions {
  only?: string[];
  /** Fraction of the stages to check, drawn with `seed`. */
  sample?: number;
  seed: string;
  reporter: Reporter;
  signal: AbortSignal;
}

/** Largest |a-b| relative to the largest |a|, over two encoded tensors. */
function relativeDistance(a: Uint8Array, b: Uint8Array): number {
  const x = decodeTensor(a);
  const y = decodeTensor(b);
  if (x.shape.join() !== y.shape.join()) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < x.data.length; i++) {
    diff = Math.max(diff, Math.abs(x.data[i]! - y.data[i]!));
    scale = Math.max(scale, Math.abs(x.data[i]!));
  }
  return diff / (scale || 1);
}

/**
 * Re-executes stages without reading their results from the cache and
 * compares what they produce with the hashes in pipe.lock. Upstream stages
 * whose outputs are not in the cache (a fresh clone) are re-executed and
 * checked too. A result that matches is committed, so later stages can use it.
 */
export async function verify(project: Project, opts: VerifyOptions): Promise<VerifyResult[]> {
  const order = project.dag.order;
  let targets = opts.only?.length ? project.dag.names(opts.only, '--only') : [...order];
  if (opts.sample !== undefined) {
    const k = Math.max(1, Math.ceil(opts.sample * targets.length));
    targets = new Rng(`verify:${opts.seed}`).shuffle([...targets]).slice(0, k);
  }
  const needed = new Set(targets);
  for (const up of project.dag.ancestors(targets)) if (!project.record(up)) needed.add(up);
  const results: VerifyResult[] = [];
  const failed = new Set<string>();
  // Verified only within tolerance and not in the cache: later stages have no inputs that match the lock.
  const inexact = new Set<string>();
  for (const stage of order.filter((s) => needed.has(s))) {
    const spec = project.pipeline.stages.get(stage)!;
    const badUp = spec.after.filter((u) => failed.has(u));
    if (badUp.length) {
      results.push({ stage, outcome: 'skipped', details: [`upstream ${badUp.join(', ')} did not verify`] });
      failed.add(stage);
      continue;
    }
    const inexactUp = spec.after.filter((u) => inexact.has(u) && !project.record(u));
    if (inexactUp.length) {
      results.push({ stage, outcome: 'skipped', details: [`upstream ${inexactUp.join(', ')} matched only within tolerance and its locked outputs are not in this cache`] });
      inexact.add(stage);
      continue;
    }
    const entry = project.lock.stages[stage];
    const state = project.state(stage);
    if (!entry || entry.fingerprint !== state.fingerprint) {
      results.push({ stage, outcome: 'lock out of date', details: explain(project, stage).reasons });
      failed.add(stage);
      continue;
    }
    opts.reporter.stageStart(stage, 'verify: re-executing without the cache');
    const tmp = mkdtempSync(join(tmpdir(), 'pipe-verify-'));
    const t0 = performance.now();
    let record;
    try {
      record = await executeStage(project, stage, state, opts.reporter, opts.signal, { commit: false, artifactsDir: tmp, fresh: true });
    } catch (e) {
      opts.reporter.stageEnd(stage, 'failed', (performance.now() - t0) / 1000, e instanceof Error ? e.message : String(e));
      throw stageFailure(stage, e, opts.signal);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      // A verification run's checkpoints are never resumed: the next run or verify starts from scratch too.
      project.store.removeCheckpoint(state.fingerprint!);
    }
    const expected: Record<string, string> = { ...entry.outs, ...entry.files };
    const got: Record<string, string> = {};
    for (const [k, v] of [...Object.entries(record.outputs), ...Object.entries(record.files)]) got[k] = v.hash;
    const details: string[] = [];
    let tolerated = 0;
    for (const k of Object.keys(expected)) {
      if (!(k in got)) details.push(`${k}: no longer produced`);
      else if (got[k] !== expected[k]) {
        const isTensor = record.outputs[k]?.type === 'tensor';
        if (spec.tolerance !== undefined && isTensor && project.store.hasBlob(expected[k]!)) {
          const ref = project.store.getBlob(expected[k]!);
          const d = isEncodedTensor(ref) ? relativeDistance(ref, project.store.getBlob(got[k]!)) : Infinity;
          if (d <= spec.tolerance) {
            tolerated++;
            continue;
          }
          details.push(`${k}: relative difference ${d.toExponential(2)} > tolerance ${spec.tolerance}`);
        } else if (spec.tolerance !== undefined && !isTensor) {
          tolerated++;
        } else {
          details.push(`${k}: ${expected[k]!.slice(0, 12)} in pipe.lock, ${got[k]!.slice(0, 12)} now`);
        }
      }
    }
    for (const k of Object.keys(got)) if (!(k in expected)) details.push(`${k}: new output, not in pipe.lock`);
    const seconds = (performance.now() - t0) / 1000;
    // Only an exact match is kept, so later stages find the locked outputs in the cache.
    if (details.length === 0 && tolerated === 0 && !project.store.getRun(record.fingerprint)) commitRecord(project, state, record);
    else project.store.discardPending(recordBlobs(record));
    if (details.length === 0) {
      if (tolerated) inexact.add(stage);
      const outcome: VerifyOutcome = tolerated ? 'within tolerance' : 'match';
      opts.reporter.stageEnd(stage, 'ran', seconds, outcome);
      results.push({ stage, outcome, details: tolerated ? [`${tolerated} outputs differ within tolerance ${spec.tolerance}`] : [] });
    } else {
      opts.reporter.stageEnd(stage, 'failed', seconds, 'differs from pipe.lock');
      results.push({ stage, outcome: 'differs', details });
      failed.add(stage);
    }
  }
  return results;
}
