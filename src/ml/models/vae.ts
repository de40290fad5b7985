import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';
import { binaryCrossEntropy, gaussianKl, reparameterize } from '../tfjs/fused-ops.js';
import { initSeeds } from './io.js';

export interface VaeConfig {
  size: number;
  latent: number;
  filters: [number, number];
  seed: number;
}

export interface Vae {
  encoder: TF.LayersModel;
  decoder: TF.LayersModel;
}

/**
 * Encoder: two stride-2 4×4 convs (ReLU), flatten, dense heads to μ and
 * log σ². Decoder mirrors it: dense, reshape, two stride-2 transposed convs,
 * sigmoid. Initialisers are seeded so the same config gives the same weights.
 */
export function buildVae(tf: Tf, c: VaeConfig): Vae {
  const seed = initSeeds(c.seed);
  const init = () => tf.initializers.glorotUniform({ seed: seed() });
  const [f1, f2] = c.filters;
  const q = c.size / 4;
  const x = tf.input({ shape: [c.size, c.size, 1], name: 'image' });
  let h = tf.layers.conv2d({ filters: f1, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(), name: 'enc_conv1' }).apply(x) as TF.SymbolicTensor;
  h = tf.layers.conv2d({ filters: f2, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(), name: 'enc_conv2' }).apply(h) as TF.SymbolicTensor;
  h = tf.layers.flatten({ name: 'enc_flatten' }).apply(h) as TF.SymbolicTensor;
  const mu = tf.layers.dense({ units: c.latent, kernelInitializer: init(), name: 'z_mean' }).apply(h) as TF.SymbolicTensor;
  const logvar = tf.layers.dense({ units: c.latent, kernelInitializer: init(), name: 'z_log_var' }).apply(h) as TF.SymbolicTensor;
  const encoder = tf.model({ inputs: x, outputs: [mu, logvar], name: 'encoder' });

  const z = tf.input({ shape: [c.latent], name: 'z' });
  let d = tf.layers.dense({ units: q * q * f2, activation: 'relu', kernelInitializer: init(), name: 'dec_dense' }).apply(z) as TF.SymbolicTensor;
  d = tf.layers.reshape({ targetShape: [q, q, f2], name: 'dec_reshape' }).apply(d) as TF.SymbolicTensor;
  d = tf.layers.conv2dTranspose({ filters: f1, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(), name: 'dec_deconv1' }).apply(d) as TF.SymbolicTensor;
  d = tf.layers.conv2dTranspose({ filters: 1, kernelSize: 4, strides: 2, padding: 'same', activation: 'sigmoid', kernelInitializer: init(), name: 'dec_deconv2' }).apply(d) as TF.SymbolicTensor;
  const decoder = tf.model({ inputs: z, outputs: d, name: 'decoder' });
  return { encoder, decoder };
}

export interface VaeLosses {
  total: TF.Scalar;
  recon: TF.Scalar;
  kl: TF.Scalar;
}

/**
 * Per-image sums averaged over the batch: reconstruction (BCE or MSE over all
 * pixels) + β·KL(q(z|x) ‖ N(0, I)); eps is the reparameterisation noise.
 */
export function vaeLoss(tf: Tf, vae: Vae, x: TF.Tensor4D, eps: TF.Tensor2D, recon: 'bce' | 'mse', beta: number, training: boolean): VaeLosses {
  const [mu, logvar] = vae.encoder.apply(x, { training }) as TF.Tensor2D[];
  const z = reparameterize(tf, mu!, logvar!, eps);
  const xhat = vae.decoder.apply(z, { training }) as TF.Tensor4D;
  const n = x.shape[0];
  let rec: TF.Scalar;
  if (recon === 'bce') {
    rec = binaryCrossEntropy(tf, x, xhat, n);
  } else {
    rec = tf.div(tf.sum(tf.squaredDifference(x, xhat)), n);
  }
  const kl = gaussianKl(tf, mu!, logvar!, n);
  return { total: tf.add(rec, tf.mul(kl, beta)), recon: rec, kl };
}
