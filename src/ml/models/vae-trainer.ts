import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';
import { leanGradients } from './lean-grads.js';
import { modelVars } from './loop.js';
import { normalInput, type Trainer } from './step.js';
import { buildVae, vaeLoss, type VaeConfig } from './vae.js';

/** Everything needed to build the same VAE trainer in another thread. */
export interface VaeRecipe {
  kind: 'vae';
  model: VaeConfig;
  lr: number;
  recon: 'bce' | 'mse';
}

/** This module, for replica threads to import (trainer.ts): only a stage's own model code is in its key. */
export const url = import.meta.url;

/** VAE: one phase; the reparameterisation noise ε is the step's input; scalars.beta weighs the KL term. */
export function makeTrainer(tf: Tf, r: VaeRecipe): Trainer {
  const vae = buildVae(tf, r.model);
  leanGradients(tf, vae.encoder);
  leanGradients(tf, vae.decoder);
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
    inputs: (rng, n) => [normalInput(rng, [n, r.model.latent])],
  };
}
