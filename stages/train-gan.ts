import type * as TF from '@tensorflow/tfjs';
import { tensorImages } from '../src/data/images.js';
import { gridPng } from '../src/data/sheet.js';
import { Adam } from '../src/models/adam.js';
import { writeHistory, writeModel } from '../src/models/artifacts.js';
import { buildGan } from '../src/models/gan.js';
import { toPlain } from '../src/models/io.js';
import { modelVars, trainLoop } from '../src/models/loop.js';
import { Rng } from '../src/rng.js';
import { defineStage } from '../src/stage.js';
import { loadTf, type BackendName } from '../src/tfjs/backend.js';

export interface TrainGanParams {
  backend: BackendName;
  noise: number;
  filters: number;
  epochs: number;
  batchSize: number;
  lr: number;
  beta1: number;
  labelSmoothing: number;
  instanceNoise: number;
  progressSamples: number;
  seed: number;
}

export default defineStage<TrainGanParams>({
  description: 'Train a DCGAN on the augmented training split',
  async run(ctx) {
    const p = ctx.params;
    const up = Object.values(ctx.inputs)[0];
    if (!up) throw new Error('train-gan needs an upstream stage with a `train` image tensor (an augment)');
    const images = up.tensor('train');
    const format = up.json<{ size: number; polarity: 'ink-one' | 'ink-dark' }>('format');
    const { tf, backend, passed } = await loadTf(p.backend);
    ctx.log.info(`tfjs backend: ${backend}${passed.length ? ` (passed over: ${passed.join('; ')})` : ''}`);
    const size = images.shape[1]!;
    const gan = buildGan(tf, { size, noise: p.noise, filters: p.filters, seed: p.seed });
    const gVars = modelVars([gan.generator], true);
    const dVars = modelVars([gan.discriminator], true);
    const gOpt = new Adam(tf, gVars, p.lr, p.beta1);
    const dOpt = new Adam(tf, dVars, p.lr, p.beta1);
    const noise = (rng: Rng, n: number) => tf.tensor2d(Float32Array.from({ length: n * p.noise }, () => rng.normal()), [n, p.noise]);
    const fixed = noise(new Rng(`${p.seed}:fixed-noise`), p.progressSamples);
    const totalSteps = p.epochs * Math.floor(images.shape[0]! / Math.min(p.batchSize, images.shape[0]!));
    const bce = (logits: TF.Tensor, label: number) => tf.losses.sigmoidCrossEntropy(tf.fill(logits.shape, label), logits);
    const render = async (epoch: number) => {
      const out = tf.tidy(() => tf.div(tf.add(gan.generator.predict(fixed) as TF.Tensor, 1), 2));
      const grid = tensorImages(toPlain(out), format.polarity);
      out.dispose();
      const cols = Math.ceil(Math.sqrt(grid.length));
      const png = await gridPng(grid, { cols, cellWidth: size, cellHeight: size });
      ctx.artifacts.write(`progress/epoch-${String(epoch).padStart(3, '0')}.png`, png);
      ctx.artifacts.write('progress/latest.png', png);
    };
    const result = await trainLoop({
      tf,
      ctx,
      images,
      weights: modelVars([gan.generator, gan.discriminator], false),
      optimizers: [gOpt, dOpt],
      step(batch, rng) {
        const n = batch.shape[0];
        const zd = noise(rng, n);
        const zg = noise(rng, n);
        const sigma = p.instanceNoise * Math.max(0, 1 - gOpt.step / totalSteps);
        const jitter = (t: TF.Tensor) => (sigma > 0 ? tf.add(t, tf.mul(tf.tensor(Float32Array.from({ length: t.size }, () => rng.normal()), t.shape), sigma)) : t);
        const losses = tf.tidy(() => {
          const real = tf.sub(tf.mul(batch, 2), 1);
          const d = tf.variableGrads(() => {
            const fake = gan.generator.apply(zd, { training: true }) as TF.Tensor;
            const lr = bce(gan.discriminator.apply(jitter(real), { training: true }) as TF.Tensor, 1 - p.labelSmoothing);
            const lf = bce(gan.discriminator.apply(jitter(fake), { training: true }) as TF.Tensor, 0);
            return tf.add(lr, lf) as TF.Scalar;
          }, dVars);
          dOpt.apply(d.grads);
          const g = tf.variableGrads(() => {
            const fake = gan.generator.apply(zg, { training: true }) as TF.Tensor;
            return bce(gan.discriminator.apply(jitter(fake), { training: true }) as TF.Tensor, 1) as TF.Scalar;
          }, gVars);
          gOpt.apply(g.grads);
          return [d.value, g.value];
        });
        zd.dispose();
        zg.dispose();
        const [dl, gl] = losses.map((t) => t.dataSync()[0]!);
        losses.forEach((t) => t.dispose());
        return { d: dl!, g: gl! };
      },
      afterEpoch: (epoch) => render(epoch),
    });
    fixed.dispose();
    await writeModel(tf, ctx, 'generator', gan.generator);
    await writeModel(tf, ctx, 'discriminator', gan.discriminator);
    await writeHistory(ctx, 'train-gan loss', result.history, ['d', 'g']);
    ctx.output.json('model', { kind: 'gan', size, noise: p.noise, polarity: format.polarity });
    const last = result.history[result.history.length - 1]!;
    ctx.metrics({ backend, imagesPerSecond: result.imagesPerSecond, trainImages: images.shape[0], final_d: last.d, final_g: last.g });
  },
});
