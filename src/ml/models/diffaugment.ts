import type { Rng } from '../../core/stage.js';
import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';
import type { HostTensor } from './step.js';

export type DiffAugmentOp = 'translation' | 'cutout';

/**
 * DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for
 * Data-Efficient GAN Training"): every image the discriminator sees, real or
 * generated, in both phases, is randomly translated (up to 1/8 of its size,
 * paper filling in) and has a square of half its size cut out, as
 * differentiable ops, so the generator learns through them and the
 * discriminator cannot memorise a small training set. Each image's draw
 * comes from the step's seeded inputs: a row-shift and a column-shift matrix
 * (translation as two batched matmuls) and a mask.
 */
export function drawAugment(rng: Rng, n: number, size: number, ops: DiffAugmentOp[]): HostTensor[] {
  const out: HostTensor[] = [];
  if (ops.includes('translation')) {
    const max = Math.floor(size / 8);
    for (let axis = 0; axis < 2; axis++) {
      const m = new Float32Array(n * size * size);
      for (let k = 0; k < n; k++) {
        const shift = rng.int(2 * max + 1) - max;
        // Output row i takes input row i - shift; rows shifted in from outside stay 0 (paper, see applyAugment).
        for (let i = 0; i < size; i++) if (i - shift >= 0 && i - shift < size) m[k * size * size + i * size + (i - shift)] = 1;
      }
      out.push({ data: m, shape: [n, size, size] });
    }
  }
  if (ops.includes('cutout')) {
    const half = Math.floor(size / 4);
    const m = new Float32Array(n * size * size).fill(1);
    for (let k = 0; k < n; k++) {
      const cy = rng.int(size + 1);
      const cx = rng.int(size + 1);
      for (let y = Math.max(0, cy - half); y < Math.min(size, cy + half); y++) for (let x = Math.max(0, cx - half); x < Math.min(size, cx + half); x++) m[k * size * size + y * size + x] = 0;
    }
    out.push({ data: m, shape: [n, size, size, 1] });
  }
  return out;
}

/** How many input tensors drawAugment gives for these ops. */
export function augmentInputs(ops: DiffAugmentOp[]): number {
  return (ops.includes('translation') ? 2 : 0) + (ops.includes('cutout') ? 1 : 0);
}

/** Applies one drawAugment draw to images x (N×H×W×1, in [-1, 1]); `paper` is the value of blank paper there. */
export function applyAugment(tf: Tf, x: TF.Tensor, draw: TF.Tensor[], ops: DiffAugmentOp[], paper: number): TF.Tensor {
  if (!ops.length) return x;
  const [n, h, w] = x.shape as [number, number, number];
  // Around paper, so what moves in or is cut out is blank paper.
  let v = tf.sub(x, paper);
  let at = 0;
  if (ops.includes('translation')) {
    const [rows, cols] = [draw[at++]!, draw[at++]!];
    const img = tf.reshape(v, [n, h, w]) as TF.Tensor3D;
    v = tf.reshape(tf.matMul(tf.matMul(rows as TF.Tensor3D, img), cols as TF.Tensor3D, false, true), [n, h, w, 1]);
  }
  if (ops.includes('cutout')) v = tf.mul(v, draw[at++]!);
  return tf.add(v, paper);
}
