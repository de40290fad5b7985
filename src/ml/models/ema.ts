import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';

/**
 * An exponential moving average of a network's weights (Yazıcı et al. 2019,
 * "The Unusual Effectiveness of Averaging in GAN Training"): a generator's
 * averaged weights give steadier, cleaner samples than the last step's,
 * which oscillate with the adversarial game. Its variables go into the
 * checkpoint, so a resumed run averages on as an uninterrupted one does.
 */
export class WeightAverage {
  readonly shadow: TF.Variable[];

  constructor(
    private readonly tf: Tf,
    private readonly vars: TF.Variable[],
    private readonly decay: number,
  ) {
    this.shadow = vars.map((v) => tf.variable(v.clone(), false));
  }

  /** After each step: shadow ← decay·shadow + (1 − decay)·weights. */
  update(): void {
    const tf = this.tf;
    tf.tidy(() => this.shadow.forEach((s, i) => s.assign(tf.add(tf.mul(s, this.decay), tf.mul(this.vars[i]!, 1 - this.decay)))));
  }

  /** Runs fn with the averaged weights in the network, then puts the trained ones back. */
  async swapped<T>(fn: () => Promise<T>): Promise<T> {
    const trained = this.vars.map((v) => v.clone());
    this.vars.forEach((v, i) => v.assign(this.shadow[i]!));
    try {
      return await fn();
    } finally {
      this.vars.forEach((v, i) => v.assign(trained[i]!));
      trained.forEach((t) => t.dispose());
    }
  }
}
