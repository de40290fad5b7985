/**
 * Conv2DBackpropInput (transposed convolution) on wasm, per strategy, for the
 * layer shapes of pipe's GAN and VAE: the figures behind preferCol2im() in src/tfjs/wasm-kernels.ts.
 *   node dist/bench/convt.js
 */
import type * as TF from '../src/ml/tfjs/tf.js';
import { loadTf } from '../src/ml/tfjs/backend.js';

const { tf } = await loadTf('wasm');
// [dy shape, input (dx) shape, filter shape]
const shapes: Array<[[number, number, number, number], [number, number, number, number], [number, number, number, number]]> = [
  [[32, 4, 4, 128], [32, 8, 8, 64], [4, 4, 64, 128]],
  [[32, 8, 8, 64], [32, 16, 16, 32], [4, 4, 32, 64]],
  [[32, 16, 16, 32], [32, 32, 32, 16], [4, 4, 16, 32]],
  [[32, 32, 32, 16], [32, 64, 64, 8], [4, 4, 8, 16]],
  [[32, 32, 32, 8], [32, 64, 64, 1], [4, 4, 1, 8]],
  [[32, 32, 32, 16], [32, 64, 64, 1], [4, 4, 1, 16]],
  [[32, 16, 16, 32], [32, 32, 32, 16], [4, 4, 16, 32]],
];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log('dy -> dx | stacked phases ms | col2im ms');
for (const [dyS, xS, fS] of shapes) {
  const dy = tf.randomNormal(dyS) as TF.Tensor4D;
  const f = tf.randomNormal(fS) as TF.Tensor4D;
  const res: string[] = [];
  for (const mode of ['stacked', 'col2im'] as const) {
    await loadTf('wasm', { kernels: 'pipe', convt: mode });
    const t: number[] = [];
    for (let i = 0; i < 9; i++) {
      const t0 = performance.now();
      tf.conv2dTranspose(dy, f, xS, 2, 'same').dispose();
      t.push(performance.now() - t0);
    }
    res.push(median(t).toFixed(2));
  }
  console.log(`${dyS.join('x')} -> ${xS.join('x')} | ${res.join(' | ')}`);
}
