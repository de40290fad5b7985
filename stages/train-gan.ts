import type * as TF from '../src/ml/tfjs/tf.js';
import { tensorImages } from '../src/ml/data/images.js';
import { gridPng } from '../src/ml/data/sheet.js';
import { imageLayout, writeHistory, writeModel } from '../src/ml/models/artifacts.js';
import { noiseVector } from '../src/ml/models/generate.js';
import { toPlain } from '../src/ml/models/io.js';
import type { DiffAugmentOp } from '../src/ml/models/diffaugment.js';
import { WeightAverage } from '../src/ml/models/ema.js';
import { SpectralBound } from '../src/ml/models/spectral-bound.js';
import { modelVars, trainingSet, trainLoop } from '../src/ml/models/loop.js';
import * as ganTrainer from '../src/ml/models/gan-trainer.js';
import { fadeOut, linearDecay } from '../src/ml/models/schedule.js';
import { setupTraining, trainStep } from '../src/ml/models/trainer.js';
import { Rng } from '../src/core/stage.js';
import { defineStage } from '../src/core/stage.js';
import type { TfParams } from '../src/ml/tfjs/backend.js';

export interface TrainGanParams extends TfParams {
  threads: number;
  noise: number;
  filters: number;
  /** Unset: filters. */
  dFilters?: number;
  epochs: number;
  batchSize: number;
  lr: number;
  lrD: number;
  lrDecay: number;
  topK: number;
  topKDecay: number;
  beta1: number;
  loss: ganTrainer.GanLoss;
  labelSmoothing: number;
  instanceNoise: number;
  blur: number;
  blurFade: number;
  diffAugment: DiffAugmentOp[];
  r1: number;
  ema: number;
  minibatchStd: boolean;
  pack: number;
  upsample: 'transposed' | 'nearest';
  refine: boolean;
  dNorm: 'batch' | 'spectral';
  progressSamples: number;
  seed: number;
}

export default defineStage<TrainGanParams>({
  description: 'Train a DCGAN on the augmented training split',
  async run(ctx) {
    const p = ctx.params;
    const { images, format } = trainingSet(ctx);
    const size = images.shape[1]!;
    // Each thread packs its own share of the batch, so every share must split into whole packs.
    const perStep = Math.min(p.batchSize, images.shape[0]!);
    if (p.pack > 1 && perStep % (p.pack * p.threads) !== 0) {
      throw new Error(`pack: ${p.pack} needs a batch that ${p.threads} thread${p.threads === 1 ? '' : 's'} can split into whole packs (a multiple of ${p.pack * p.threads}); batchSize is ${perStep}`);
    }
    const recipe: ganTrainer.GanRecipe = {
      kind: 'gan',
      model: { size, noise: p.noise, filters: p.filters, dFilters: p.dFilters ?? p.filters, minibatchStd: p.minibatchStd, pack: p.pack, upsample: p.upsample, refine: p.refine, dNorm: p.dNorm, seed: p.seed },
      lr: p.lr,
      lrD: p.lrD,
      beta1: p.beta1,
      loss: p.loss,
      labelSmoothing: p.labelSmoothing,
      diffAugment: p.diffAugment,
      r1: p.r1,
      paper: format.polarity === 'ink-one' ? -1 : 1,
    };
    const { tf, backend, trainer, opts, weights, pool } = await setupTraining(ctx, ganTrainer, recipe);
    const [generator, discriminator] = trainer.models as [TF.LayersModel, TF.LayersModel];
    const average = p.ema > 0 ? new WeightAverage(tf, modelVars([generator], false), p.ema) : undefined;
    const bound = p.dNorm === 'spectral' ? new SpectralBound(tf, discriminator.trainableWeights.filter((w) => w.originalName.endsWith('/kernel')).map((w) => w.read() as TF.Variable), new Rng(`${p.seed}:spectral`)) : undefined;
    // Samples, progress frames and the exported generator use the averaged weights when there are any.
    const averaged = <T>(fn: () => Promise<T>) => (average ? average.swapped(fn) : fn());
    const fixedRng = new Rng(`${p.seed}:fixed-noise`);
    const fixed = tf.tensor2d(noiseVector(fixedRng, p.progressSamples * p.noise, 0), [p.progressSamples, p.noise]);
    const totalSteps = p.epochs * Math.floor(images.shape[0]! / perStep);
    const render = async (epoch: number) => {
      const out = await averaged(async () => tf.tidy(() => tf.div(tf.add(generator.predict(fixed) as TF.Tensor, 1), 2)));
      const grid = tensorImages(await toPlain(out), format.polarity);
      out.dispose();
      const cols = Math.ceil(Math.sqrt(grid.length));
      const png = await gridPng(grid, { cols, cellWidth: size, cellHeight: size });
      ctx.artifacts.write(`progress/epoch-${String(epoch).padStart(3, '0')}.png`, png);
      ctx.artifacts.write('progress/latest.png', png);
    };
    try {
      const result = await trainLoop({
        tf,
        ctx,
        images,
        weights: [...weights, ...(average?.shadow ?? []), ...(bound?.vectors ?? [])],
        optimizers: opts,
        async step(batch, rng) {
          // Instance noise falls linearly to 0 over the whole run, the blur of D's inputs over its first blurFade; the rates over its last lrDecay; the share
          // of generated images the generator learns from by topKDecay an epoch, down to topK.
          const done = opts[0]!.step / totalSteps;
          for (const o of opts) o.scale = linearDecay(done, p.lrDecay);
          const keep = Math.max(p.topK, p.topKDecay ** Math.floor(done * p.epochs));
          const losses = await trainStep(tf, trainer, opts, weights, batch, rng, { sigma: p.instanceNoise * fadeOut(done, 1), blur: p.blur * fadeOut(done, p.blurFade), keep }, pool);
          bound?.project();
          average?.update();
          return losses;
        },
        afterEpoch: (epoch) => render(epoch),
      });
      const image = imageLayout(size, format.polarity);
      await averaged(() => writeModel(tf, ctx, 'generator', generator, {
        network: 'GAN generator',
        input: { shape: [null, p.noise], is: 'noise z, each value drawn from N(0, 1)' },
        output: { shape: [null, size, size, 1], activation: 'tanh', range: [-1, 1], is: 'images: (y + 1) / 2 gives their pixels' },
        image,
      }));
      await writeModel(tf, ctx, 'discriminator', discriminator, {
        network: 'GAN discriminator',
        input: { shape: [null, size, size, 1], is: 'images scaled to [-1, 1]: 2 * pixels - 1' },
        output: { shape: [null, 1], activation: 'linear', is: 'the real-vs-generated logit: higher means more real' },
        image,
      });
      await writeHistory(ctx, 'train-gan loss', result.history, [['d', 'g']]);
      ctx.output.json('model', { kind: 'gan', size, noise: p.noise, polarity: format.polarity });
      const last = result.history[result.history.length - 1]!;
      // Adversarial losses have no better direction: a falling d loss can mean a failing generator.
      ctx.metrics({ backend, imagesPerSecond: result.imagesPerSecond, trainImages: images.shape[0], final_d: last.d, final_g: last.g }, { timing: ['imagesPerSecond'] });
    } finally {
      fixed.dispose();
      await pool?.close();
    }
  },
});
