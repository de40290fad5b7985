import { ADAM_UPDATE, type AdamUpdateAttrs } from '../tfjs/adam-kernel.js';
import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';

/**
 * Adam with its whole state in plain sight (moments and step count), so a
 * checkpoint restores it exactly: tfjs' own Adam recomputes β^t on restore
 * and drifts from an uninterrupted run in the last bits.
 */
export class Adam {
  step = 0;
  /** What the next steps multiply lr by: a schedule's factor, set by the caller before each step. */
  scale = 1;
  readonly m: TF.Variable[];
  readonly v: TF.Variable[];

  constructor(
    private readonly tf: Tf,
    readonly vars: TF.Variable[],
    readonly lr: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly eps = 1e-7,
  ) {
    this.m = vars.map((w) => tf.variable(tf.zerosLike(w), false));
    this.v = vars.map((w) => tf.variable(tf.zerosLike(w), false));
  }

  apply(grads: TF.NamedTensorMap): void {
    const { tf } = this;
    this.step++;
    // Bias corrections in float64 on the host: exact and the same after a resume.
    const c1 = 1 - this.beta1 ** this.step;
    const c2 = 1 - this.beta2 ** this.step;
    const attrs: AdamUpdateAttrs = { beta1: this.beta1, beta2: this.beta2, alpha: (this.lr * this.scale * Math.sqrt(c2)) / c1, epsHat: this.eps * Math.sqrt(c2) };
    const fused = tf.getKernel(ADAM_UPDATE, tf.getBackend()) !== undefined;
    const stepped = this.vars.flatMap((w, i) => (grads[w.name] ? [i] : []));
    tf.tidy(() => {
      const updated = fused
        ? (tf.engine().runKernel(ADAM_UPDATE, Object.fromEntries(stepped.flatMap((i, j) => [[`w${j}`, this.vars[i]!], [`g${j}`, grads[this.vars[i]!.name]!], [`m${j}`, this.m[i]!], [`v${j}`, this.v[i]!]])), attrs as unknown as TF.NamedAttrMap) as TF.Tensor[])
        : stepped.flatMap((i) => this.update(this.vars[i]!, grads[this.vars[i]!.name]!, this.m[i]!, this.v[i]!, attrs));
      stepped.forEach((i, j) => {
        this.m[i]!.assign(updated[3 * j + 1]!);
        this.v[i]!.assign(updated[3 * j + 2]!);
        this.vars[i]!.assign(updated[3 * j]!);
      });
    });
  }

  /** The update op by op, for backends without the fused kernel. */
  private update(w: TF.Tensor, g: TF.Tensor, m0: TF.Tensor, v0: TF.Tensor, { beta1, beta2, alpha, epsHat }: AdamUpdateAttrs): TF.Tensor[] {
    const { tf } = this;
    const m = tf.add(tf.mul(m0, beta1), tf.mul(g, 1 - beta1));
    const v = tf.add(tf.mul(v0, beta2), tf.mul(tf.square(g), 1 - beta2));
    return [tf.sub(w, tf.div(tf.mul(m, alpha), tf.add(tf.sqrt(v), epsHat))), m, v];
  }

  state(): TF.Tensor[] {
    return [...this.m, ...this.v];
  }

  restore(step: number, tensors: TF.Tensor[]): void {
    this.step = step;
    const n = this.vars.length;
    this.m.forEach((m, i) => m.assign(tensors[i]!));
    this.v.forEach((v, i) => v.assign(tensors[n + i]!));
  }
}
