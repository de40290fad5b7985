import type { Rng } from '../../core/stage.js';
import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';

/** x divided by its length (the small constant keeps a zero vector finite). */
const unitLength = (tf: Tf, x: TF.Tensor): TF.Tensor => tf.div(x, tf.add(tf.norm(x), 1e-12));

/**
 * Spectral normalisation (Miyato et al. 2018) as a projection (Gouk et al.
 * 2021): after each update, a kernel whose largest singular value exceeds 1
 * is divided by it, which bounds the network's Lipschitz constant. The value
 * is estimated with one power-iteration step a step, from the vector the step
 * before left; those vectors are state that goes into the checkpoint, so a
 * resumed run projects as an uninterrupted one does.
 */
export class SpectralBound {
  readonly vectors: TF.Variable[];

  constructor(
    private readonly tf: Tf,
    private readonly kernels: TF.Variable[],
    rng: Rng,
  ) {
    this.vectors = kernels.map((k) => {
      const n = k.shape[k.shape.length - 1]!;
      const u = Float32Array.from({ length: n }, () => rng.normal());
      const norm = Math.hypot(...u);
      return tf.variable(tf.tensor2d(u.map((x) => x / norm), [n, 1]), false);
    });
  }

  /** The kernel as a matrix: one column per output unit (a conv's [h, w, in, out] becomes [h·w·in, out]). */
  private matrix(k: TF.Variable): TF.Tensor2D {
    return this.tf.reshape(k, [-1, k.shape[k.shape.length - 1]!]);
  }

  /** The estimated largest singular value of each kernel, as the last project() left them. */
  sigmas(): number[] {
    const tf = this.tf;
    return tf.tidy(() => this.kernels.map((k, i) => tf.norm(tf.matMul(this.matrix(k), this.vectors[i]!)).dataSync()[0]!));
  }

  /** After each step: one power-iteration step per kernel, then W ← W / max(1, σ). */
  project(): void {
    const tf = this.tf;
    tf.tidy(() =>
      this.kernels.forEach((k, i) => {
        const m = this.matrix(k);
        const v = tf.matMul(m, this.vectors[i]!);
        const unit = unitLength(tf, tf.matMul(m, unitLength(tf, v), true));
        this.vectors[i]!.assign(unit);
        const sigma = tf.norm(tf.matMul(m, unit));
        k.assign(tf.div(k, tf.maximum(sigma, 1)));
      }),
    );
  }
}
