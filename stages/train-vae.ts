import { imageLayout, writeHistory, writeModel } from '../src/ml/models/artifacts.js';
import { trainingSet, trainLoop } from '../src/ml/models/loop.js';
import * as vaeTrainer from '../src/ml/models/vae-trainer.js';
import { setupTraining, trainStep } from '../src/ml/models/trainer.js';
import { defineStage } from '../src/core/stage.js';
import type { TfParams } from '../src/ml/tfjs/backend.js';

export interface TrainVaeParams extends TfParams {
  threads: number;
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
    const { images, format } = trainingSet(ctx);
    const size = images.shape[1]!;
    const recipe: vaeTrainer.VaeRecipe = { kind: 'vae', model: { size, latent: p.latent, filters: p.filters, seed: p.seed }, lr: p.lr, recon: p.recon };
    const { tf, backend, trainer, opts, weights, pool } = await setupTraining(ctx, vaeTrainer, recipe);
    try {
      const result = await trainLoop({
        tf,
        ctx,
        images,
        weights,
        optimizers: opts,
        step: (batch, rng, epoch) => trainStep(tf, trainer, opts, weights, batch, rng, { beta: p.klWarmup > 0 ? p.beta * Math.min(1, (epoch + 1) / p.klWarmup) : p.beta }, pool),
      });
      const [encoder, decoder] = trainer.models;
      const image = imageLayout(size, format.polarity);
      await writeModel(tf, ctx, 'encoder', encoder!, {
        network: 'VAE encoder',
        input: { shape: [null, size, size, 1], is: 'images' },
        output: { shape: [null, p.latent], activation: 'linear', is: 'two outputs: the mean and the log variance of q(z | x)' },
        image,
      });
      await writeModel(tf, ctx, 'decoder', decoder!, {
        network: 'VAE decoder',
        input: { shape: [null, p.latent], is: 'latent z; the prior is N(0, 1) in each value' },
        output: { shape: [null, size, size, 1], activation: 'sigmoid', range: [0, 1], is: 'images: the output is their pixels' },
        image,
      });
      await writeHistory(ctx, 'train-vae loss per image', result.history, [['total', 'recon'], ['kl']]);
      ctx.output.json('model', { kind: 'vae', size, latent: p.latent, polarity: format.polarity });
      const last = result.history[result.history.length - 1]!;
      ctx.metrics(
        { backend, imagesPerSecond: result.imagesPerSecond, trainImages: images.shape[0], ...Object.fromEntries(Object.entries(last).map(([k, v]) => [`final_${k}`, v])) },
        { better: { final_total: 'lower', final_recon: 'lower' }, timing: ['imagesPerSecond'] },
      );
    } finally {
      await pool?.close();
    }
  },
});
