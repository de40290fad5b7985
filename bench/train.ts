import type { Recipe } from '../src/models/recipes.js';
import { setupTraining, trainStep } from '../src/models/trainer.js';
import { Rng } from '../src/rng.js';
import type { BackendName } from '../src/tfjs/backend.js';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Training img/s of the train-vae / train-gan step on a tfjs backend, random binary 64×64 data: the median of three timed runs. */
export async function tfjsTrain(backend: BackendName, model: 'vae' | 'gan', steps: number, filters: number, threads = 1, bs = 32): Promise<number> {
  const recipe: Recipe =
    model === 'vae'
      ? { kind: 'vae', model: { size: 64, latent: 16, filters: [16, 32], seed: 0 }, lr: 1e-3, recon: 'bce' }
      : { kind: 'gan', model: { size: 64, noise: 64, filters, seed: 0 }, lr: 2e-4, beta1: 0.5, labelSmoothing: 0.1 };
  const { tf, trainer, opts, weights, pool } = await setupTraining({ log: { info: () => {} } }, backend, threads, recipe);
  const x = tf.tensor4d(Float32Array.from({ length: bs * 64 * 64 }, (_, i) => ((i * 2654435761) >>> 0) % 10 === 0 ? 1 : 0), [bs, 64, 64, 1]);
  const rng = new Rng('bench');
  const step = () => trainStep(tf, trainer, opts, weights, x, rng, { beta: 1, sigma: 0 }, pool);
  // The stock cpu backend takes minutes a step: one timed step, no warm-up.
  const [warmup, reps] = backend === 'cpu' ? [0, 1] : [2, 3];
  for (let i = 0; i < warmup; i++) await step();
  const rates: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await step();
    rates.push((steps * bs) / ((performance.now() - t0) / 1000));
  }
  await pool?.close();
  x.dispose();
  return median(rates);
}
