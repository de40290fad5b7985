import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';
import { gaussianTaps } from '../data/gaussian-taps.js';

/**
 * The size×size matrix B of a Gaussian blur of σ pixels: the blur of an image X is B·X·B (B is
 * symmetric). Taps that fall outside the image read blank paper.
 */
export function blurMatrix(size: number, sigma: number): Float32Array {
  const g = gaussianTaps(sigma);
  const r = (g.length - 1) / 2;
  const b = new Float32Array(size * size);
  for (let i = 0; i < size; i++) for (let j = Math.max(0, i - r); j <= Math.min(size - 1, i + r); j++) b[i * size + j] = g[j - i + r]!;
  return b;
}

/**
 * Blurs square images x (N×S×S×1, in [-1, 1]) with a Gaussian of σ pixels, as matrix products
 * with a gradient (like DiffAugment's translation); `paper` is blank paper's value there. Each
 * product is one (N·S)×S by S×S matmul: the rows of every image times B, then the columns (the rows
 * of the transposed images); a batch of N small matmuls took 6 times as long on wasm.
 */
export function applyBlur(tf: Tf, x: TF.Tensor, sigma: number, paper: number): TF.Tensor {
  const [n, s] = x.shape as [number, number];
  const b = tf.tensor2d(blurMatrix(s, sigma), [s, s]);
  const rows = tf.matMul(tf.reshape(tf.sub(x, paper), [n * s, s]) as TF.Tensor2D, b);
  const columns = tf.reshape(tf.transpose(tf.reshape(rows, [n, s, s]), [0, 2, 1]), [n * s, s]) as TF.Tensor2D;
  const both = tf.transpose(tf.reshape(tf.matMul(columns, b), [n, s, s]), [0, 2, 1]);
  return tf.add(tf.reshape(both, [n, s, s, 1]), paper);
}
