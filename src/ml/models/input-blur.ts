import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';
import type { HostTensor } from './step.js';

/**
 * A Gaussian blur of σ pixels as an n×size×size stack of one size×size matrix B, so the blur of an image
 * X is B·X·B (B is symmetric): two batched matmuls with a gradient, like DiffAugment's translation, and
 * sharded by rows like every step input. Taps that fall outside the image read blank paper.
 */
export function blurInput(n: number, size: number, sigma: number): HostTensor {
  const r = Math.ceil(3 * sigma);
  const g = Array.from({ length: 2 * r + 1 }, (_, k) => Math.exp(-((k - r) ** 2) / (2 * sigma * sigma)));
  const sum = g.reduce((s, v) => s + v, 0);
  const b = new Float32Array(size * size);
  for (let i = 0; i < size; i++) for (let j = Math.max(0, i - r); j <= Math.min(size - 1, i + r); j++) b[i * size + j] = g[j - i + r]! / sum;
  const data = new Float32Array(n * size * size);
  for (let k = 0; k < n; k++) data.set(b, k * size * size);
  return { data, shape: [n, size, size] };
}

/** Blurs images x (N×H×W×1, in [-1, 1]) with a blurInput stack; `paper` is blank paper's value there. */
export function applyBlur(tf: Tf, x: TF.Tensor, b: TF.Tensor, paper: number): TF.Tensor {
  const [n, h, w] = x.shape as [number, number, number];
  const img = tf.reshape(tf.sub(x, paper), [n, h, w]) as TF.Tensor3D;
  const m = b as TF.Tensor3D;
  return tf.add(tf.reshape(tf.matMul(tf.matMul(m, img), m), [n, h, w, 1]), paper);
}
