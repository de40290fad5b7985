import type * as TF from '@tensorflow/tfjs';
import { Adam } from '../src/models/adam.js';
import { writeHistory, writeModel } from '../src/models/artifacts.js';
import { modelVars, trainLoop } from '../src/models/loop.js';
import { buildVae, vaeLoss } from '../src/models/vae.js';
import { defineStage } from '../src/stage.js';
import { loadTf, type BackendName } from '../src/tfjs/backend.js';

export interface TrainVaeParams {
  backend: BackendName;
  latent: number;
  filters: [number, number];
  epochs: number;
  batchSize: number;
  lr: number;
  beta: number;
  klWarmup: number;
  recon: 'bce' | 'mse';
  seed: number;
}

export default defineStage<TrainVaeParams>({
  description: 'Train a convolutional VAE on the augmented training split',
  async run(ctx) {
    const p = ctx.params;
    const up = Object.values(ctx.inputs)[0];
    if (!up) throw new Error('train-vae needs an upstream stage with a `train` image tensor (an augment)');
    const images = up.tensor('train');
    const format = up.json<{ size: number; polarity: string }>('format');
    const { tf, backend, passed } = await loadTf(p.backend);
    ctx.log.info(`tfjs backend: ${backend}${passed.length ? ` (passed over: ${passed.join('; ')})` : ''}`);
    const size = images.shape[1]!;
    const vae = buildVae(tf, { size, latent: p.latent, filters: p.filters, seed: p.seed });
    const trainable = modelVars([vae.encoder, vae.decoder], true);
    const opt = new Adam(tf, trainable, p.lr);
    const result = await trainLoop({
      tf,
      ctx,
      images,
      weights: modelVars([vae.encoder, vae.decoder], false),
      optimizers: [opt],
      step(batch, rng, epoch) {
        const eps = tf.tensor2d(Float32Array.from({ length: batch.shape[0] * p.latent }, () => rng.normal()), [batch.shape[0], p.latent]);
        const beta = p.klWarmup > 0 ? p.beta * Math.min(1, (epoch + 1) / p.klWarmup) : p.beta;
        const out = tf.tidy(() => {
          let parts: TF.Scalar[] = [];
          const { value, grads } = tf.variableGrads(() => {
            const l = vaeLoss(tf, vae, batch, eps, p.recon, beta, true);
            parts = [tf.keep(l.recon), tf.keep(l.kl)];
            return l.total;
          }, trainable);
          opt.apply(grads);
          return [value, ...parts];
        });
        eps.dispose();
        const [total, recon, kl] = out.map((t) => t.dataSync()[0]!);
        out.forEach((t) => t.dispose());
        return { total: total!, recon: recon!, kl: kl! };
      },
    });
    await writeModel(tf, ctx, 'encoder', vae.encoder);
    await writeModel(tf, ctx, 'decoder', vae.decoder);
    await writeHistory(ctx, 'train-vae loss per image', result.history, ['total', 'recon', 'kl']);
    ctx.output.json('model', { kind: 'vae', size, latent: p.latent, polarity: format.polarity });
    const last = result.history[result.history.length - 1]!;
    ctx.metrics({ backend, imagesPerSecond: result.imagesPerSecond, trainImages: images.shape[0], ...Object.fromEntries(Object.entries(last).map(([k, v]) => [`final_${k}`, v])) });
  },
});
