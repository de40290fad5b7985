import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';
import { initSeeds } from './io.js';

export interface FeatureNetConfig {
  size: number;
  dim: number;
  classes: number;
  seed: number;
}

/**
 * The writer classifier: three blocks of a stride-1 3×3 conv, batch norm,
 * ReLU and 2×2 max pooling (64 → 8 pixels), a fourth conv, flattened so
 * where strokes lie still counts, a `dim`-wide embedding layer (the features
 * evaluate reads) and the class logits. Trained on the training split only,
 * then frozen. A stride-2 net without pooling (the first version) reached
 * 23% on 43 synthetic writers in 5 epochs; this one is measured in the README.
 */
export function buildFeatureNet(tf: Tf, c: FeatureNetConfig): TF.LayersModel {
  const seed = initSeeds(c.seed);
  const init = () => tf.initializers.glorotUniform({ seed: seed() });
  const x = tf.input({ shape: [c.size, c.size, 1], name: 'image' });
  let h: TF.SymbolicTensor = x;
  [16, 32, 64].forEach((f, i) => {
    h = tf.layers.conv2d({ filters: f, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(), name: `f_conv${i + 1}` }).apply(h) as TF.SymbolicTensor;
    h = tf.layers.batchNormalization({ momentum: 0.9, name: `f_bn${i + 1}` }).apply(h) as TF.SymbolicTensor;
    h = tf.layers.reLU({ name: `f_relu${i + 1}` }).apply(h) as TF.SymbolicTensor;
    h = tf.layers.maxPooling2d({ poolSize: 2, name: `f_pool${i + 1}` }).apply(h) as TF.SymbolicTensor;
  });
  h = tf.layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(), name: 'f_conv4' }).apply(h) as TF.SymbolicTensor;
  h = tf.layers.flatten({ name: 'f_flatten' }).apply(h) as TF.SymbolicTensor;
  h = tf.layers.dense({ units: c.dim, activation: 'relu', kernelInitializer: init(), name: 'embedding' }).apply(h) as TF.SymbolicTensor;
  const logits = tf.layers.dense({ units: c.classes, kernelInitializer: init(), name: 'logits' }).apply(h) as TF.SymbolicTensor;
  return tf.model({ inputs: x, outputs: logits, name: 'writer_classifier' });
}

/** The embedding sub-network of a trained classifier. */
export function embeddingNet(tf: Tf, classifier: TF.LayersModel): TF.LayersModel {
  return tf.model({ inputs: classifier.inputs, outputs: classifier.getLayer('embedding').output as TF.SymbolicTensor });
}
