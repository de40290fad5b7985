import { createHash } from 'node:crypto';

/** A stable draw in [0,1) from a string, so a writer lands in the same split on every run. */
function unit(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32LE(0) / 4294967296;
}

/**
 * Held-out split by writer where there are enough writers (no writer's
 * signatures on both sides), else by item.
 */
export function assignSplits(items: Array<{ writer: string; hash: string }>, holdout: number, seed: number): Array<'train' | 'test'> {
  const writers = new Set(items.map((i) => i.writer));
  const byWriter = writers.size >= 5;
  return items.map((i) => (unit(`${seed}:${byWriter ? `w:${i.writer}` : `i:${i.hash}`}`) < holdout ? 'test' : 'train'));
}
