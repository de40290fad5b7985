import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';
import { applyAugment, augmentInputs, drawAugment, type DiffAugmentOp } from './diffaugment.js';
import { buildGan, type GanConfig } from './gan.js';
import { leanGradients } from './lean-grads.js';
import { modelVars } from './loop.js';
import { normalInput, type Trainer } from './step.js';

/** Everything needed to build the same GAN trainer in another thread. */
export interface GanRecipe {
  kind: 'gan';
  model: GanConfig;
  lr: number;
  beta1: number;
  labelSmoothing: number;
  diffAugment: DiffAugmentOp[];
  /** The value of blank paper in the discriminator's [-1, 1] images. */
  paper: number;
}

/** This module, for replica threads to import (trainer.ts): only a stage's own model code is in its key. */
export const url = import.meta.url;

/**
 * GAN: the discriminator's phase (real vs. generated, one-sided label
 * smoothing), then the generator's (non-saturating loss). Inputs, in order:
 * noise for each phase; with DiffAugment, a draw for each image set the
 * discriminator sees (real, generated in its phase, generated in the
 * generator's); while scalars.sigma > 0, instance noise for each of them too.
 */
export function makeTrainer(tf: Tf, r: GanRecipe): Trainer {
  const { generator: G, discriminator: D } = buildGan(tf, r.model);
  leanGradients(tf, G);
  leanGradients(tf, D);
  const bce = (logits: TF.Tensor, label: number) => tf.losses.sigmoidCrossEntropy(tf.fill(logits.shape, label), logits) as TF.Scalar;
  const k = augmentInputs(r.diffAugment);
  // What D sees of a set of images: augmented with its draw, then jittered with its instance noise.
  const seen = (t: TF.Tensor, ins: TF.Tensor[], set: number, sigma: number) => {
    const a = applyAugment(tf, t, ins.slice(2 + set * k, 2 + (set + 1) * k), r.diffAugment, r.paper);
    const noise = ins[2 + 3 * k + set];
    return noise && sigma > 0 ? tf.add(a, tf.mul(noise, sigma)) : a;
  };
  return {
    models: [G, D],
    phases: [
      {
        vars: modelVars([D], true),
        lr: r.lr,
        beta1: r.beta1,
        loss: (x, ins, s) => {
          const real = tf.sub(tf.mul(x, 2), 1);
          const fake = G.apply(ins[0]!, { training: true }) as TF.Tensor;
          const lr = bce(D.apply(seen(real, ins, 0, s.sigma!), { training: true }) as TF.Tensor, 1 - r.labelSmoothing);
          const lf = bce(D.apply(seen(fake, ins, 1, s.sigma!), { training: true }) as TF.Tensor, 0);
          const d = tf.add(lr, lf) as TF.Scalar;
          return { total: d, report: { d } };
        },
      },
      {
        vars: modelVars([G], true),
        lr: r.lr,
        beta1: r.beta1,
        loss: (_x, ins, s) => {
          const g = bce(D.apply(seen(G.apply(ins[1]!, { training: true }) as TF.Tensor, ins, 2, s.sigma!), { training: true }) as TF.Tensor, 1);
          return { total: g, report: { g } };
        },
      },
    ],
    inputs: (rng, n, s) => {
      const z = [normalInput(rng, [n, r.model.noise]), normalInput(rng, [n, r.model.noise])];
      const aug = [0, 1, 2].flatMap(() => drawAugment(rng, n, r.model.size, r.diffAugment));
      const img = [n, r.model.size, r.model.size, 1];
      return [...z, ...aug, ...(s.sigma! > 0 ? [normalInput(rng, img), normalInput(rng, img), normalInput(rng, img)] : [])];
    },
  };
}
