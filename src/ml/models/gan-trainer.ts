import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';
import { sigmoidCrossEntropy } from '../tfjs/fused-ops.js';
import { applyAugment, augmentInputs, drawAugment, type DiffAugmentOp } from './diffaugment.js';
import { buildGan, type GanConfig } from './gan.js';
import { highest } from './highest.js';
import { applyBlur } from './input-blur.js';
import { leanGradients } from './lean-grads.js';
import { modelVars } from './loop.js';
import { packImages } from './pack.js';
import { normalInput, type Trainer } from './step.js';

/** Everything needed to build the same GAN trainer in another thread. */
export interface GanRecipe {
  kind: 'gan';
  model: GanConfig;
  /** Adam learning rates of the generator and of the discriminator (two time scales: Heusel et al. 2017). */
  lr: number;
  lrD: number;
  beta1: number;
  loss: GanLoss;
  labelSmoothing: number;
  diffAugment: DiffAugmentOp[];
  /** γ of the R1 penalty on the discriminator's gradient at real images (0: off). */
  r1: number;
  /** The value of blank paper in the discriminator's [-1, 1] images. */
  paper: number;
}

/**
 * non-saturating: D minimises the cross-entropy of real (label 1 minus the
 * smoothing) vs generated (0), G that of its images labelled real.
 * hinge (Lim & Ye 2017; Miyato et al. 2018): D minimises mean(relu(1 - D(real)))
 * + mean(relu(1 + D(fake))), G minimises -mean(D(fake)); no label smoothing.
 */
export type GanLoss = 'non-saturating' | 'hinge';

/**
 * The discriminator's loss on its logits for real and generated images, and
 * the generator's on those for its images. With keep < 1 the generator's
 * loss averages only the rows the discriminator scores most real, that share
 * of them (top-k training: Sinha et al. 2020).
 */
export function adversarialLosses(tf: Tf, loss: GanLoss, labelSmoothing: number) {
  const bce = (logits: TF.Tensor, label: number) => sigmoidCrossEntropy(tf, logits, label);
  const hinge = (logits: TF.Tensor, sign: 1 | -1) => tf.mean(tf.relu(tf.sub(1, tf.mul(logits, sign)))) as TF.Scalar;
  // The generator's loss of each row: -log σ(l) for the cross-entropy against "real", -l for hinge.
  const gRows = (fake: TF.Tensor) => (loss === 'hinge' ? tf.neg(fake) : tf.softplus(tf.neg(fake)));
  return {
    dLoss: (real: TF.Tensor, fake: TF.Tensor) => (loss === 'hinge' ? tf.add(hinge(real, 1), hinge(fake, -1)) : tf.add(bce(real, 1 - labelSmoothing), bce(fake, 0))) as TF.Scalar,
    gLoss: (fake: TF.Tensor, keep = 1): TF.Scalar => {
      if (keep >= 1) return (loss === 'hinge' ? tf.neg(tf.mean(fake)) : bce(fake, 1)) as TF.Scalar;
      const mask = topRows(tf, fake, keep);
      return tf.div(tf.sum(tf.mul(gRows(fake), mask.tensor)), mask.k);
    },
  };
}

/**
 * A constant 0/1 column marking the round(keep · rows) rows (at least one)
 * of the highest logits. It is read on the host, so it stays out of the
 * gradient (tfjs has no gradient for TopK).
 */
export function topRows(tf: Tf, logits: TF.Tensor, keep: number): { tensor: TF.Tensor; k: number } {
  const values = logits.dataSync();
  const k = Math.max(1, Math.round(keep * values.length));
  const mask = new Float32Array(values.length);
  for (const i of highest(values, k)) mask[i] = 1;
  return { tensor: tf.tensor(mask, logits.shape), k };
}

/** The finite difference's step in the discriminator's [-1, 1] pixels: small against a stroke's contrast, large against float32 rounding. */
const R1_STEP = 0.01;

/** This module, for replica threads to import (trainer.ts): only a stage's own model code is in its key. */
export const url = import.meta.url;

/**
 * GAN: the discriminator's phase (real vs. generated), then the generator's,
 * each with its loss (GanLoss) and learning rate. Inputs, in order:
 * noise for each phase; with DiffAugment, a draw for each image set the
 * discriminator sees (real, generated in its phase, generated in the
 * generator's); while scalars.sigma > 0, instance noise for each of them too. While scalars.blur > 0,
 * every one of them is blurred with σ = scalars.blur pixels (input-blur.ts). scalars.keep is the share of generated rows the generator's loss keeps (adversarialLosses).
 * With r1 γ > 0, the discriminator's loss adds γ/2 · ‖∇ₓD(x)‖² at the real images it sees (R1: Mescheder et al.
 * 2018), the squared gradient estimated by a finite difference along a random direction (the step's last
 * input): E[(D(x + hε) − D(x))²] / h² → ‖∇ₓD‖² for ε standard normal, so its gradient needs no second-order
 * derivatives, which pipe's lean gradients do not give.
 */
export function makeTrainer(tf: Tf, r: GanRecipe): Trainer {
  const { generator: G, discriminator: D } = buildGan(tf, r.model);
  leanGradients(tf, G);
  leanGradients(tf, D);
  const { dLoss, gLoss } = adversarialLosses(tf, r.loss, r.labelSmoothing);
  const k = augmentInputs(r.diffAugment);
  // What D sees of a set of images: augmented with its draw, blurred, jittered with its instance noise, packed.
  const seen = (t: TF.Tensor, ins: TF.Tensor[], set: number, s: Record<string, number>) => {
    const noisy = s.sigma! > 0;
    const augmented = applyAugment(tf, t, ins.slice(2 + set * k, 2 + (set + 1) * k), r.diffAugment, r.paper);
    const a = s.blur! > 0 ? applyBlur(tf, augmented, s.blur!, r.paper) : augmented;
    return packImages(tf, noisy ? tf.add(a, tf.mul(ins[2 + 3 * k + set]!, s.sigma!)) : a, r.model.pack);
  };
  return {
    models: [G, D],
    phases: [
      {
        vars: modelVars([D], true),
        lr: r.lrD,
        beta1: r.beta1,
        loss: (x, ins, s): { total: TF.Scalar; report: Record<string, TF.Scalar> } => {
          const real = tf.sub(tf.mul(x, 2), 1);
          const fake = G.apply(ins[0]!, { training: true }) as TF.Tensor;
          const sight = seen(real, ins, 0, s);
          const judged = D.apply(sight, { training: true }) as TF.Tensor;
          const d = dLoss(judged, D.apply(seen(fake, ins, 1, s), { training: true }) as TF.Tensor);
          if (!(r.r1 > 0)) return { total: d, report: { d } };
          const nudged = tf.add(sight, tf.mul(packImages(tf, ins[ins.length - 1]!, r.model.pack), R1_STEP));
          const r1 = tf.div(tf.mean(tf.square(tf.sub(D.apply(nudged, { training: true }) as TF.Tensor, judged))), R1_STEP * R1_STEP) as TF.Scalar;
          return { total: tf.add(d, tf.mul(r1, r.r1 / 2)) as TF.Scalar, report: { d, r1 } };
        },
      },
      {
        vars: modelVars([G], true),
        lr: r.lr,
        beta1: r.beta1,
        loss: (_x, ins, s) => {
          const g = gLoss(D.apply(seen(G.apply(ins[1]!, { training: true }) as TF.Tensor, ins, 2, s), { training: true }) as TF.Tensor, s.keep);
          return { total: g, report: { g } };
        },
      },
    ],
    inputs: (rng, n, s) => {
      const z = [normalInput(rng, [n, r.model.noise]), normalInput(rng, [n, r.model.noise])];
      const aug = [0, 1, 2].flatMap(() => drawAugment(rng, n, r.model.size, r.diffAugment));
      const img = [n, r.model.size, r.model.size, 1];
      const noise = s.sigma! > 0 ? [normalInput(rng, img), normalInput(rng, img), normalInput(rng, img)] : [];
      return [...z, ...aug, ...noise, ...(r.r1 > 0 ? [normalInput(rng, img)] : [])];
    },
  };
}
