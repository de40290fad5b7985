import type { Rng } from '../../core/stage.js';
import { gaussianTaps } from './gaussian-taps.js';

/** How a warped image is resampled: bilinear blurs every copy; Lanczos-3 keeps strokes as sharp as the originals'. */
export type Interpolation = 'bilinear' | 'lanczos3';

export interface AugmentOptions {
  interpolation: Interpolation;
  rotate: number;
  translate: number;
  scale: number;
  flipH: number;
  flipV: number;
  elastic: { alpha: number; sigma: number };
}

type Sampler = (src: Float32Array, size: number, x: number, y: number, fill: number) => number;

/** Bilinear sample; outside the image reads as `fill` (the paper value). */
function bilinear(src: Float32Array, size: number, x: number, y: number, fill: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const at = (xx: number, yy: number) => (xx < 0 || yy < 0 || xx >= size || yy >= size ? fill : src[yy * size + xx]!);
  return (
    (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1))
  );
}

/** sinc(t)·sinc(t/3) on |t| < 3; exactly 0 at whole nonzero t, where Math.sin(kπ) is not. */
function lanczosWeight(t: number): number {
  if (Number.isInteger(t)) return t === 0 ? 1 : 0;
  if (t <= -3 || t >= 3) return 0;
  const p = Math.PI * t;
  return (3 * Math.sin(p) * Math.sin(p / 3)) / (p * p);
}

const wx = new Float64Array(6);
const wy = new Float64Array(6);

/**
 * Lanczos-3 sample over 6×6 neighbours, weights normalised; clamped to [0, 1] because the kernel's
 * negative lobes overshoot at stroke edges. At whole-pixel positions it returns the pixel itself.
 */
function lanczos3(src: Float32Array, size: number, x: number, y: number, fill: number): number {
  const x0 = Math.floor(x) - 2;
  const y0 = Math.floor(y) - 2;
  let sx = 0;
  let sy = 0;
  for (let k = 0; k < 6; k++) {
    sx += wx[k] = lanczosWeight(x - (x0 + k));
    sy += wy[k] = lanczosWeight(y - (y0 + k));
  }
  let acc = 0;
  for (let j = 0; j < 6; j++) {
    const yy = y0 + j;
    let rowAcc = 0;
    for (let i = 0; i < 6; i++) {
      const xx = x0 + i;
      rowAcc += wx[i]! * (xx < 0 || yy < 0 || xx >= size || yy >= size ? fill : src[yy * size + xx]!);
    }
    acc += wy[j]! * rowAcc;
  }
  return Math.min(1, Math.max(0, acc / (sx * sy)));
}

const SAMPLERS: Record<Interpolation, Sampler> = { bilinear, lanczos3 };

/** Separable Gaussian blur of a size×size field (for elastic displacement). */
function blur(field: Float32Array, size: number, sigma: number): Float32Array {
  const k = gaussianTaps(sigma);
  const r = (k.length - 1) / 2;
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
 * and translation about the centre (inverse-mapped, resampled by `o.interpolation`), then an
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
  const sample = SAMPLERS[o.interpolation];
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
