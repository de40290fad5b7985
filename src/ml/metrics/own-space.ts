import type { Tensor } from '../../core/stage.js';
import { embeddingNet } from '../models/features.js';
import { fromPlain, importLayersModel } from '../models/io.js';
import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';
import { features, type Features } from './stats.js';

/** The own feature space: images (N×size×size×1 in [0,1]) embedded by the features stage's exported writer classifier. */
export async function ownSpace(tf: Tf, model: Uint8Array, weights: Uint8Array): Promise<(t: Tensor) => Promise<Features>> {
  const net = embeddingNet(tf, await importLayersModel(tf, model, weights));
  return async (t) => {
    const x = fromPlain(tf, t);
    const f = tf.tidy(() => net.predict(x) as TF.Tensor);
    const out = features(t.shape[0]!, f.shape[1]!, (await f.data()) as Float32Array);
    x.dispose();
    f.dispose();
    return out;
  };
}

/**
 * The validation images' indices in two halves, alternate images so both hold every writer: the first
 * is what every set is compared with, the second is the real-vs-real row.
 */
export function validationHalves(count: number): [number[], number[]] {
  const all = Array.from({ length: count }, (_, i) => i);
  return [all.filter((i) => i % 2 === 0), all.filter((i) => i % 2 === 1)];
}
