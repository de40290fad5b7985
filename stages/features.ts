import type * as TF from '../src/ml/tfjs/tf.js';
import { Adam } from '../src/ml/models/adam.js';
import { imageLayout, writeHistory, writeModel } from '../src/ml/models/artifacts.js';
import { buildFeatureNet } from '../src/ml/models/features.js';
import { modelVars, trainingSet, trainLoop } from '../src/ml/models/loop.js';
import { defineStage, type Tensor } from '../src/core/stage.js';
import { pickImages } from '../src/ml/data/images.js';
import { fromPlain } from '../src/ml/models/io.js';
import { stageTf, type TfParams } from '../src/ml/tfjs/backend.js';
import type { Tf } from '../src/ml/tfjs/tf.js';
import type { ImageMeta } from './resize.js';

export interface FeaturesParams extends TfParams {
  dim: number;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
}

export default defineStage<FeaturesParams>({
  description: "Train a writer classifier on the training split: evaluate's own, frozen feature space",
  async run(ctx) {
    const p = ctx.params;
    const { up, images, format } = trainingSet(ctx);
    const meta = up.json<ImageMeta[]>('trainMeta');
    const writers = [...new Set(meta.map((m) => m.writer))].sort();
    const label = new Int32Array(meta.map((m) => writers.indexOf(m.writer)));
    // Accuracy on the training writers' validation images (no model trains on them); other writers do not count.
    const valMeta = up.json<ImageMeta[]>('valMeta');
    const valRows = valMeta.flatMap((m, i) => (writers.includes(m.writer) ? [i] : []));
    const { tf, backend } = await stageTf(ctx);
    ctx.log.info(`${writers.length} writers, ${meta.length} training images, ${valRows.length} validation images`);
    const classes = Math.max(2, writers.length);
    const net = buildFeatureNet(tf, { size: images.shape[1]!, dim: p.dim, classes, seed: p.seed });
    const trainable = modelVars([net], true);
    const opt = new Adam(tf, trainable, p.lr);
    const result = await trainLoop({
      tf,
      ctx,
      images,
      weights: modelVars([net], false),
      optimizers: [opt],
      async step(batch, _rng, _epoch, indices) {
        const y = tf.oneHot(tf.tensor1d(indices.map((i) => label[i]!), 'int32'), classes);
        const out = tf.tidy(() => {
          let acc: TF.Scalar | undefined;
          const { value, grads } = tf.variableGrads(() => {
            const logits = net.apply(batch, { training: true }) as TF.Tensor2D;
            acc = tf.keep(tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(y, 1)), 'float32')) as TF.Scalar);
            return tf.losses.softmaxCrossEntropy(y, logits) as TF.Scalar;
          }, trainable);
          opt.apply(grads);
          return [value, acc!];
        });
        y.dispose();
        const [loss, accuracy] = await Promise.all(out.map(async (t) => (await t.data())[0]!));
        out.forEach((t) => t.dispose());
        return { loss: loss!, accuracy: accuracy! };
      },
    });
    await writeModel(tf, ctx, 'classifier', net, {
      network: 'writer classifier (its embedding layer is evaluate\'s own feature space)',
      input: { shape: [null, images.shape[1]!, images.shape[2]!, 1], is: 'images' },
      output: { shape: [null, classes], activation: 'linear', is: 'logits over the training writers, in the order of classes' },
      image: imageLayout(images.shape[1]!, format.polarity),
      classes: writers,
    });
    await writeHistory(ctx, 'features: writer classifier', result.history, [['loss'], ['accuracy']]);
    const accuracy = valRows.length ? await classifierAccuracy(tf, net, pickImages(up.tensor('val'), valRows), valRows.map((i) => writers.indexOf(valMeta[i]!.writer))) : undefined;
    if (accuracy !== undefined) ctx.log.info(`validation accuracy ${(accuracy * 100).toFixed(1)}% on ${valRows.length} images of the ${writers.length} writers`);
    ctx.output.json('model', { kind: 'features', dim: p.dim, writers: writers.length, accuracy: accuracy ?? null, validationImages: valRows.length });
    const last = result.history[result.history.length - 1]!;
    ctx.metrics(
      { backend, writers: writers.length, accuracy: accuracy ?? null, final_loss: last.loss, final_accuracy: last.accuracy },
      { better: { accuracy: 'higher', final_loss: 'lower', final_accuracy: 'higher' } },
    );
  },
});

/** Share of the images whose most likely class is their writer, in batches of 256. */
async function classifierAccuracy(tf: Tf, net: TF.LayersModel, images: Tensor, labels: number[]): Promise<number> {
  let right = 0;
  for (let at = 0; at < labels.length; at += 256) {
    const rows = Array.from({ length: Math.min(256, labels.length - at) }, (_, k) => at + k);
    const x = fromPlain(tf, pickImages(images, rows));
    const pred = tf.tidy(() => tf.argMax(net.predict(x) as TF.Tensor, 1));
    const got = await pred.data();
    x.dispose();
    pred.dispose();
    rows.forEach((r, k) => (right += got[k] === labels[r] ? 1 : 0));
  }
  return right / labels.length;
}
