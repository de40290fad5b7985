import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';

/**
 * Each image (a row) centred and scaled to unit length, so a distance
 * compares where the strokes are, not how much ink there is: in plain pixel
 * L2 the faintest training image is near everything.
 */
export function inkNormalised(tf: Tf, x: TF.Tensor2D): TF.Tensor2D {
  return tf.tidy(() => {
    const c = tf.sub(x, tf.mean(x, 1, true));
    return tf.div(c, tf.add(tf.norm(c, 'euclidean', 1, true), 1e-6));
  });
}

/** For each query image, the index of and distance to its nearest training image (L2 over the rows as given). */
export async function nearestTraining(tf: Tf, queries: TF.Tensor2D, train: TF.Tensor2D, chunk = 512): Promise<{ index: Int32Array; distance: Float32Array }> {
  const n = queries.shape[0];
  const index = new Int32Array(n);
  const distance = new Float32Array(n).fill(Infinity);
  const qq = tf.sum(tf.square(queries), 1, true);
  for (let s = 0; s < train.shape[0]; s += chunk) {
    const [d2, arg] = tf.tidy(() => {
      const t = tf.slice(train, [s, 0], [Math.min(chunk, train.shape[0] - s), -1]);
      const tt = tf.reshape(tf.sum(tf.square(t), 1), [1, -1]);
      const d = tf.sub(tf.add(qq, tt), tf.mul(tf.matMul(queries, t, false, true), 2));
      return [tf.min(d, 1), tf.argMin(d, 1)];
    });
    const [dv, av] = await Promise.all([d2!.data(), arg!.data()]);
    for (let i = 0; i < n; i++) {
      const dist = Math.sqrt(Math.max(0, dv[i]!));
      if (dist < distance[i]!) {
        distance[i] = dist;
        index[i] = s + av[i]!;
      }
    }
    d2!.dispose();
    arg!.dispose();
  }
  qq.dispose();
  return { index, distance };
}

export function median(values: ArrayLike<number>): number {
  const s = Array.from(values).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}
