import { createHash } from 'node:crypto';

export type Split = 'train' | 'val' | 'test';

/** A stable draw in [0,1) from a string: the same key ranks the same way on every run. */
function unit(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32LE(0) / 4294967296;
}

/**
 * round(fraction × distinct keys) of the keys, at least one when fraction > 0,
 * chosen by a seeded stable ranking: an exact share, the same on every run.
 */
function drawShare(keys: Iterable<string>, fraction: number, salt: string): Set<string> {
  const distinct = [...new Set(keys)];
  const k = fraction > 0 ? Math.min(distinct.length, Math.max(1, Math.round(fraction * distinct.length))) : 0;
  const rank = new Map(distinct.map((key) => [key, unit(`${salt}:${key}`)]));
  return new Set(distinct.sort((a, b) => rank.get(a)! - rank.get(b)!).slice(0, k));
}

/**
 * Three splits. test: writers no model trains on, exactly round(holdout ×
 * writers) of them, whole (by item where there are under 5 writers). val:
 * of each remaining writer, round(validation × its images) images that no
 * model trains on either (a writer with a single image keeps it for
 * training): the real images of the training writers that generated ones
 * are compared with. train: the rest.
 */
export function assignSplits(items: Array<{ writer: string; hash: string }>, holdout: number, validation: number, seed: number): Split[] {
  const byWriter = new Set(items.map((i) => i.writer)).size >= 5;
  const key = (i: { writer: string; hash: string }) => (byWriter ? `w:${i.writer}` : `i:${i.hash}`);
  const test = drawShare(items.map(key), holdout, String(seed));
  const rest = items.filter((i) => !test.has(key(i)));
  const groups = new Map<string, string[]>();
  for (const i of rest) {
    const group = byWriter ? i.writer : '';
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group)!.push(i.hash);
  }
  const val = new Set([...groups].flatMap(([w, hashes]) => (hashes.length > 1 ? [...drawShare(hashes, validation, `${seed}:val:${w}`)] : [])));
  return items.map((i) => (test.has(key(i)) ? 'test' : val.has(i.hash) ? 'val' : 'train'));
}
