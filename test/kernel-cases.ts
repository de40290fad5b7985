import type * as TF from '../src/ml/tfjs/tf.js';
import { Rng } from '../src/core/rng.js';
import { loadTf, type Tf } from '../src/ml/tfjs/backend.js';

/** Conv shapes the replacement kernels are checked on: [n,h,w,ci], filters, kernel size, stride, padding. */
export const CONV_CASES: Array<[[number, number, number, number], number, number, number, 'same' | 'valid']> = [
  [[2, 9, 7, 3], 4, 3, 1, 'same'],
  [[2, 8, 8, 3], 5, 4, 2, 'same'],
  [[3, 11, 10, 2], 3, 3, 2, 'valid'],
  [[1, 16, 16, 4], 6, 5, 2, 'same'],
  [[2, 7, 9, 2], 2, 2, 3, 'valid'],
  [[2, 12, 12, 1], 8, 4, 2, 'same'],
  [[4, 16, 16, 8], 1, 4, 2, 'same'],
  // long enough for webgpu's filter gradient to split its reduction
  [[8, 16, 16, 16], 32, 4, 2, 'same'],
];

export function random(shape: number[], seed: string): number[] {
  const r = new Rng(seed);
  return Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.uniform(-1, 1));
}

/** Input and filter gradients of a conv, and the transposed conv of its output gradient, on the current backend. */
export function convGrads(tf: Tf, [xs, co, k, s, pad]: (typeof CONV_CASES)[number]): TF.Tensor[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(random(xs, 'x'), xs);
    const w = tf.tensor4d(random([k, k, xs[3], co], 'w'), [k, k, xs[3], co]);
    const y = tf.conv2d(x, w, s, pad);
    const dy = tf.tensor(random(y.shape, 'dy'), y.shape);
    const [gx, gw] = tf.grads((a: TF.Tensor, b: TF.Tensor) => tf.sum(tf.mul(tf.conv2d(a as TF.Tensor4D, b as TF.Tensor4D, s, pad), dy)))([x, w]);
    return [gx!, gw!, tf.conv2dTranspose(dy as TF.Tensor4D, w, xs, s, pad)];
  });
}

/** Runs fn on the cpu backend (the reference) and on `backend`; returns the largest absolute difference. */
export async function versusCpu(tf: Tf, backend: string, fn: () => TF.Tensor[]): Promise<number> {
  await tf.setBackend('cpu');
  const ref = await Promise.all(fn().map((t) => t.data()));
  await tf.setBackend(backend);
  const got = await Promise.all(fn().map((t) => t.data()));
  let worst = 0;
  ref.forEach((r, i) => r.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - got[i]![j]!)))));
  return worst;
}

/**
 * tfjs on webgpu where an adapter exists, software ones included (Mesa's lavapipe: apt install
 * mesa-vulkan-drivers from bookworm-backports); otherwise why not, for the suites' skip reason.
 */
export async function webgpuTf(): Promise<{ tf?: Tf; unavailable: string }> {
  try {
    return { tf: (await loadTf('webgpu')).tf, unavailable: '' };
  } catch (e) {
    return { unavailable: `webgpu unavailable: ${(e as Error).message}` };
  }
}
