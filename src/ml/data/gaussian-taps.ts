/** The 2⌈3σ⌉ + 1 taps of a 1-D Gaussian of σ pixels, normalised to sum 1: the blur kernel of warp.ts' elastic field and of the discriminator's input blur. */
export function gaussianTaps(sigma: number): Float64Array {
  const r = Math.ceil(3 * sigma);
  const g = Float64Array.from({ length: 2 * r + 1 }, (_, k) => Math.exp(-((k - r) ** 2) / (2 * sigma * sigma)));
  const sum = g.reduce((s, v) => s + v, 0);
  return g.map((v) => v / sum);
}
