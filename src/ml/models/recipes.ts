import type * as TF from '../tfjs/tf.js';
import type { Rng } from '../../core/stage.js';
import { sizeOf } from '../../core/stage.js';
import type { Tf } from '../tfjs/tf.js';
import { applyAugment, augmentInputs, drawAugment, type DiffAugmentOp } from './diffaugment.js';
import { buildGan, type GanConfig } from './gan.js';
import { modelVars } from './loop.js';
import { leanGradients } from './lean-grads.js';
import type { HostTensor, Trainer } from './step.js';
import { buildVae, vaeLoss, type VaeConfig } from './vae.js';

/** Everything needed to build the same trainer in another thread. */
export type Recipe =
  | { kind: 'vae'; model: VaeConfig; lr: number; recon: 'bce' | 'mse' }
  | { kind: 'gan'; model: GanConfig; lr: number; beta1: number; labelSmoothing: number; diffAugment: DiffAugmentOp[]; paper: number };

function normal(rng: Rng, shape: number[]): HostTensor {
  return { data: Float32Array.from({ length: sizeOf(shape) }, () => rng.normal()), shape };
}

/** VAE: one phase; the reparameterisation noise ε is the step's input; scalars.beta weighs the KL term. */
function vaeTrainer(tf: Tf, r: Extract<Recipe, { kind: 'vae' }>): Trainer {
  const vae = buildVae(tf, r.model);
  return {
    models: [vae.encoder, vae.decoder],
    phases: [
      {
        vars: modelVars([vae.encoder, vae.decoder], true),
        lr: r.lr,
        beta1: 0.9,
        loss: (x, [eps], s) => {
          const l = vaeLoss(tf, vae, x, eps as TF.Tensor2D, r.recon, s.beta!, true);
          return { total: l.total, report: { total: l.total, recon: l.recon, kl: l.kl } };
        },
      },
    ],
    inputs: (rng, n) => [normal(rng, [n, r.model.latent])],
  };
}

/**
 * GAN: the discriminator's phase (real vs. generated, one-sided label
 * smoothing), then the generator's (non-saturating loss). Inputs, in order:
 * noise for each phase; with DiffAugment, a draw for each image set the
 * discriminator sees (real, generated in its phase, generated in the
 * generator's); while scalars.sigma > 0, instance noise for each of them too.
 */
function ganTrainer(tf: Tf, r: Extract<Recipe, { kind: 'gan' }>): Trainer {
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
      const z = [normal(rng, [n, r.model.noise]), normal(rng, [n, r.model.noise])];
      const aug = [0, 1, 2].flatMap(() => drawAugment(rng, n, r.model.size, r.diffAugment));
      const img = [n, r.model.size, r.model.size, 1];
      return [...z, ...aug, ...(s.sigma! > 0 ? [normal(rng, img), normal(rng, img), normal(rng, img)] : [])];
    },
  };
}

export function makeTrainer(tf: Tf, recipe: Recipe): Trainer {
  return recipe.kind === 'vae' ? vaeTrainer(tf, recipe) : ganTrainer(tf, recipe);
}
