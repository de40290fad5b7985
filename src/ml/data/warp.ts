import type { Rng } from '../../core/stage.js';

export interface AugmentOptions {
  rotate: number;
  translate: number;
  scale: number;
  flipH: number;
  flipV: number;
  elastic: { alpha: number; sigma: number };
}

/** Bilinear sample; outside the image reads as `fill` (the paper value). */
function sample(src: Float32Array, size: number, x: number, y: number, fill: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const at = (xx: number, yy: number) => (xx < 0 || yy < 0 || xx >= size || yy >= size ? fill : src[yy * size + xx]!);
  return (
    (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1))
  );
}

/** Separable Gaussian blur of a size×size field (for elastic displacement). */
function blur(field: Float32Array, size: number, sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(sigma * 3));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  const tmp = new Float32Array(field.length);
  const out = new Float32Array(field.length);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += k[i + r]! * field[y * size + Math.min(size - 1, Math.max(0, x + i))]!;
      tmp[y * size + x] = acc;
    }
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += k[i + r]! * tmp[Math.min(size - 1, Math.max(0, y + i)) * size + x]!;
      out[y * size + x] = acc;
    }
  return out;
}

/**
 * One random augmentation of a size×size image: flips, then rotation, scale
 * and translation about the centre (inverse-mapped, bilinear), then an
 * optional elastic distortion (Simard et al. 2003). `fill` is the paper value.
 */
export function augmentImage(src: Float32Array, size: number, o: AugmentOptions, r: Rng, fill: number): Float32Array {
  const flipH = r.bool(o.flipH);
  const flipV = r.bool(o.flipV);
  const angle = (r.uniform(-o.rotate, o.rotate) * Math.PI) / 180;
  const s = 1 + r.uniform(-o.scale, o.scale);
  const tx = r.uniform(-o.translate, o.translate);
  const ty = r.uniform(-o.translate, o.translate);
  let dx: Float32Array | undefined;
  let dy: Float32Array | undefined;
  if (o.elastic.alpha > 0) {
    const rand = () => Float32Array.from({ length: size * size }, () => r.uniform(-1, 1));
    dx = blur(rand(), size, o.elastic.sigma).map((v) => v * o.elastic.alpha);
    dy = blur(rand(), size, o.elastic.sigma).map((v) => v * o.elastic.alpha);
  }
  const c = (size - 1) / 2;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // Output pixel -> source pixel: undo translation, rotation and scale.
      let u = x - c - tx + (dx ? dx[y * size + x]! : 0);
      let v = y - c - ty + (dy ? dy[y * size + x]! : 0);
      const su = (cos * u + sin * v) / s;
      const sv = (-sin * u + cos * v) / s;
      u = su + c;
      v = sv + c;
      if (flipH) u = size - 1 - u;
      if (flipV) v = size - 1 - v;
      out[y * size + x] = sample(src, size, u, v, fill);
    }
  }
  return out;
}
