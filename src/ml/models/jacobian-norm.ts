import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';

/** The noise step of the finite differences: small against the noise's unit scale, large against float32 rounding. */
const STEP = 0.01;

/**
 * The squared Frobenius norm of a generator's Jacobian at each noise vector, estimated from random
 * directions: E‖J v‖² = ‖J‖²_F for v standard normal, and J v ≈ (G(z + h v) − G(z)) / h. Where the
 * norm is high the generator stretches a little noise over much image change: the seams between the
 * modes it has learnt, where its images are blends of two (Tanielian et al. 2020, "Learning
 * disconnected manifolds: a no GAN's land"). `directions` holds one [n, zDim] tensor per direction.
 */
export function jacobianNorm(tf: Tf, net: TF.LayersModel, z: TF.Tensor2D, at: TF.Tensor, directions: TF.Tensor2D[]): TF.Tensor1D {
  return tf.tidy(() => {
    const n = z.shape[0];
    let sum = tf.zeros([n]) as TF.Tensor1D;
    for (const v of directions) {
      const moved = net.predict(tf.add(z, tf.mul(v, STEP))) as TF.Tensor;
      const change = tf.reshape(tf.sub(moved, at), [n, -1]);
      sum = tf.add(sum, tf.sum(tf.square(change), 1));
    }
    return tf.div(sum, directions.length * STEP * STEP);
  });
}
