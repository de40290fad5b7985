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
 * A small writer classifier: three stride-2 convs, global average pooling,
 * a `dim`-wide embedding layer (the features evaluate reads) and the class
 * logits. Trained on the training split only, then frozen.
 */
export function buildFeatureNet(tf: Tf, c: FeatureNetConfig): TF.LayersModel {
  const seed = initSeeds(c.seed);
  const init = () => tf.initializers.glorotUniform({ seed: seed() });
  const x = tf.input({ shape: [c.size, c.size, 1], name: 'image' });
  let h: TF.SymbolicTensor = x;
  [16, 32, 64].forEach((f, i) => {
    h = tf.layers.conv2d({ filters: f, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(), name: `f_conv${i + 1}` }).apply(h) as TF.SymbolicTensor;
  });
  h = tf.layers.globalAveragePooling2d({ name: 'f_pool' }).apply(h) as TF.SymbolicTensor;
  h = tf.layers.dense({ units: c.dim, activation: 'relu', kernelInitializer: init(), name: 'embedding' }).apply(h) as TF.SymbolicTensor;
  const logits = tf.layers.dense({ units: c.classes, kernelInitializer: init(), name: 'logits' }).apply(h) as TF.SymbolicTensor;
  return tf.model({ inputs: x, outputs: logits, name: 'writer_classifier' });
}

/** The embedding sub-network of a trained classifier. */
export function embeddingNet(tf: Tf, classifier: TF.LayersModel): TF.LayersModel {
  return tf.model({ inputs: classifier.inputs, outputs: classifier.getLayer('embedding').output as TF.SymbolicTensor });
}
