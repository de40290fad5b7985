/**
 * The scores of several disjoint draws of one model's samples as one: each value the mean over the
 * draws, with the sample standard deviation beside it. One draw of 200 samples moves own-space
 * precision and recall by a few hundredths (README), so a single draw cannot tell close runs apart.
 */
export function summariseDraws<T extends { [K in keyof T]: number }>(draws: T[]): T & { sd: T } {
  if (draws.length < 2) throw new Error(`summariseDraws needs two draws at least, got ${draws.length}`);
  const keys = Object.keys(draws[0]!) as Array<keyof T>;
  const mean = Object.fromEntries(keys.map((k) => [k, draws.reduce((s, d) => s + d[k], 0) / draws.length])) as T;
  const sd = Object.fromEntries(keys.map((k) => [k, Math.sqrt(draws.reduce((s, d) => s + (d[k] - mean[k]) ** 2, 0) / (draws.length - 1))])) as T;
  return { ...mean, sd } as T & { sd: T };
}
