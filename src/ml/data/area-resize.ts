/** For each output index, the input indices it covers and their weights (summing to 1): area averaging along one axis. */
function areaWeights(from: number, to: number): Array<{ start: number; weights: Float64Array }> {
  const scale = from / to;
  return Array.from({ length: to }, (_, o) => {
    const a = o * scale;
    const b = Math.min(from, (o + 1) * scale);
    const start = Math.min(from - 1, Math.floor(a));
    const end = Math.max(start + 1, Math.ceil(b));
    const weights = new Float64Array(end - start);
    for (let i = start; i < end; i++) weights[i - start] = Math.max(0, Math.min(b, i + 1) - Math.max(a, i));
    const sum = weights.reduce((s, w) => s + w, 0);
    return { start, weights: weights.map((w) => w / sum) };
  });
}

/**
 * An 8-bit image fitted into size×size with its aspect kept, centred and
 * padded with 0, by area averaging (OpenCV's INTER_AREA: every input pixel
 * counts in proportion to the part of an output pixel it covers, so thin
 * strokes fade instead of vanishing; an upscale repeats pixels). In
 * JavaScript, as two separable passes: one libvips call per image less,
 * which is most of a small scan's cost.
 */
export function fitArea(src: Uint8Array, width: number, height: number, size: number): Float32Array {
  const s = size / Math.max(width, height);
  const nw = Math.max(1, Math.min(size, Math.round(width * s)));
  const nh = Math.max(1, Math.min(size, Math.round(height * s)));
  const xs = areaWeights(width, nw);
  const ys = areaWeights(height, nh);
  const rows = new Float64Array(height * nw);
  for (let y = 0; y < height; y++) {
    const line = y * width;
    for (let ox = 0; ox < nw; ox++) {
      const { start, weights } = xs[ox]!;
      let v = 0;
      for (let k = 0; k < weights.length; k++) v += weights[k]! * src[line + start + k]!;
      rows[y * nw + ox] = v;
    }
  }
  const out = new Float32Array(size * size);
  const x0 = Math.floor((size - nw) / 2);
  const y0 = Math.floor((size - nh) / 2);
  for (let oy = 0; oy < nh; oy++) {
    const { start, weights } = ys[oy]!;
    for (let ox = 0; ox < nw; ox++) {
      let v = 0;
      for (let k = 0; k < weights.length; k++) v += weights[k]! * rows[(start + k) * nw + ox]!;
      out[(y0 + oy) * size + x0 + ox] = v;
    }
  }
  return out;
}
