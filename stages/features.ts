import type * as TF from '../src/ml/tfjs/tf.js';
import { Adam } from '../src/ml/models/adam.js';
import { writeHistory, writeModel } from '../src/ml/models/artifacts.js';
import { buildFeatureNet } from '../src/ml/models/features.js';
import { modelVars, trainingSet, trainLoop } from '../src/ml/models/loop.js';
import { defineStage } from '../src/core/stage.js';
import { stageTf, type TfParams } from '../src/ml/tfjs/backend.js';
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
    const { up, images } = trainingSet(ctx);
    const meta = up.json<ImageMeta[]>('trainMeta');
    const writers = [...new Set(meta.map((m) => m.writer))].sort();
    const label = new Int32Array(meta.map((m) => writers.indexOf(m.writer)));
    const { tf, backend } = await stageTf(ctx);
    ctx.log.info(`${writers.length} writers, ${meta.length} images`);
    const net = buildFeatureNet(tf, { size: images.shape[1]!, dim: p.dim, classes: Math.max(2, writers.length), seed: p.seed });
    const trainable = modelVars([net], true);
    const opt = new Adam(tf, trainable, p.lr);
    const result = await trainLoop({
      tf,
      ctx,
      images,
      weights: modelVars([net], false),
      optimizers: [opt],
      async step(batch, _rng, _epoch, indices) {
        const y = tf.oneHot(tf.tensor1d(indices.map((i) => label[i]!), 'int32'), Math.max(2, writers.length));
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
    await writeModel(tf, ctx, 'classifier', net);
    await writeHistory(ctx, 'features: writer classifier', result.history, ['loss', 'accuracy']);
    ctx.output.json('model', { kind: 'features', dim: p.dim, writers: writers.length });
    const last = result.history[result.history.length - 1]!;
    ctx.metrics({ backend, writers: writers.length, final_loss: last.loss, final_accuracy: last.accuracy }, { better: { final_loss: 'lower', final_accuracy: 'higher' } });
  },
});
