import type * as TF from './tf.js';
import type { Tf } from './tf.js';

/**
 * Training-step chains as single kernels where a backend registers them
 * (webgpu-fused.ts does), and as tfjs ops everywhere else: model code calls
 * these functions and runs the same on every backend. On a GPU a step of
 * these small models is bounded by the CPU cost of each kernel call, not by
 * arithmetic: tfjs runs batch norm in training mode as tens of calls
 * forward (moments, normalisation, the moving averages, a copy of each
 * tensor it saves for the backward pass), a fused kernel as one. Each fused
 * kernel has its closed-form gradient as one more kernel. The op-by-op forms
 * are the tfjs ops the models ran before, so results on wasm and cpu are
 * unchanged.
 */

/** Batch norm over all axes but the last, in training mode, with the activation that follows it. Inputs x, gamma, beta, movingMean, movingVariance; outputs y, stats ([4, C]: the batch's mean and variance, γ, β), movingMean and movingVariance updated. */
export const BATCH_NORM_TRAIN = 'PipeBatchNormTrain';
/** Inputs dy, x, stats; outputs dx, dgamma, dbeta. */
export const BATCH_NORM_TRAIN_GRAD = 'PipeBatchNormTrainGrad';

export interface BatchNormTrainAttrs {
  epsilon: number;
  momentum: number;
  /** The activation's slope below zero: 1 none, 0 ReLU, 0.2 a leaky ReLU's. */
  alpha: number;
}

/** y = act(x + bias), bias over the last axis. Inputs x, bias; attributes BiasActivationAttrs; output y. */
export const BIAS_ACTIVATION = 'PipeBiasActivation';
/** Inputs dy, y; outputs dx, dbias. */
export const BIAS_ACTIVATION_GRAD = 'PipeBiasActivationGrad';

/** An activation whose derivative follows from its output. */
export type Activation = 'linear' | 'relu' | 'leakyrelu' | 'sigmoid' | 'tanh';

export interface BiasActivationAttrs {
  activation: Activation;
  /** A leaky ReLU's slope below zero. */
  alpha: number;
}

/** Mean sigmoid cross-entropy of logits against one label for all. Input logits; output a scalar. */
export const SIGMOID_CROSS_ENTROPY = 'PipeSigmoidCrossEntropy';
/** Inputs dy, logits; output dlogits. */
export const SIGMOID_CROSS_ENTROPY_GRAD = 'PipeSigmoidCrossEntropyGrad';

/** −Σ [t·log p + (1 − t)·log(1 − p)] · scale, p clipped to [lo, hi]. Inputs t (targets), p; output a scalar. */
export const BINARY_CROSS_ENTROPY = 'PipeBinaryCrossEntropy';
/** Inputs dy, t, p; attribute `of`: 't' or 'p'; output that input's gradient. */
export const BINARY_CROSS_ENTROPY_GRAD = 'PipeBinaryCrossEntropyGrad';

export interface BinaryCrossEntropyAttrs {
  lo: number;
  hi: number;
  scale: number;
}

/** KL(N(μ, σ²) ‖ N(0, 1)) summed, times scale: −½·Σ(1 + log σ² − μ² − σ²)·scale. Inputs mu, logvar; output a scalar. */
export const GAUSSIAN_KL = 'PipeGaussianKl';
/** Inputs dy, mu, logvar; attribute `of`: 'mu' or 'logvar'. */
export const GAUSSIAN_KL_GRAD = 'PipeGaussianKlGrad';

/** z = μ + exp(½·log σ²)·ε. Inputs mu, logvar, eps; output z. */
export const REPARAMETERIZE = 'PipeReparameterize';
/** Inputs dz, logvar, eps; attribute `of`: 'logvar' or 'eps' (μ's gradient is dz itself). */
export const REPARAMETERIZE_GRAD = 'PipeReparameterizeGrad';

/** The most channels a fused kernel takes: its reductions run a workgroup per channel, and WebGPU dispatches at most 65,535 along one axis. */
export const MAX_FUSED_CHANNELS = 65535;

/** Whether the current backend runs the fused kernels (a backend registers all of them or none). */
export function fused(tf: Tf): boolean {
  return tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend()) !== undefined;
}

const run = (tf: Tf, name: string, inputs: TF.NamedTensorMap, attrs: object = {}) => tf.engine().runKernel(name, inputs, attrs as TF.NamedAttrMap) as TF.Tensor;
const runAll = (tf: Tf, name: string, inputs: TF.NamedTensorMap, attrs: object) => tf.engine().runKernel(name, inputs, attrs as TF.NamedAttrMap) as TF.Tensor[];

/**
 * y = act(γ·(x − μ)/σ + β) with the batch's μ and σ², and the layer's moving
 * averages updated as tfjs-layers updates them. Without the fused kernel:
 * tfjs' moments and batchNorm with the closed-form gradient (dβ = Σdy,
 * dγ = Σdy·x̂, dx = γ/σ·(dy − dβ/N − x̂·dγ/N): 7 element-wise ops and 2
 * reductions instead of tfjs' ~20 and 4), then the activation's own op.
 */
export function batchNormTrain(
  tf: Tf,
  inputs: Record<'x' | 'gamma' | 'beta' | 'movingMean' | 'movingVariance', TF.Tensor>,
  attrs: BatchNormTrainAttrs,
): { y: TF.Tensor; movingMean: TF.Tensor; movingVariance: TF.Tensor } {
  if (fused(tf) && inputs.x.shape[inputs.x.rank - 1]! <= MAX_FUSED_CHANNELS) {
    const [y, stats, movingMean, movingVariance] = runAll(tf, BATCH_NORM_TRAIN, inputs, attrs);
    stats!.dispose();
    return { y: y!, movingMean: movingMean!, movingVariance: movingVariance! };
  }
  const { x, gamma, beta } = inputs;
  const axes = [...Array(x.rank - 1).keys()];
  const n = x.size / x.shape[x.rank - 1]!;
  let mean: TF.Tensor | undefined;
  let variance: TF.Tensor | undefined;
  const norm = tf.customGrad((...args: unknown[]) => {
    const [xs, gamma, beta, save] = args as [TF.Tensor, TF.Tensor, TF.Tensor, (t: TF.Tensor[]) => void];
    const m = tf.moments(xs, axes);
    mean = tf.keep(m.mean);
    variance = tf.keep(m.variance);
    const inv = tf.rsqrt(tf.add(m.variance, attrs.epsilon));
    save([xs, m.mean, inv, gamma]);
    return {
      value: tf.batchNorm(xs, m.mean, m.variance, beta, gamma, attrs.epsilon),
      gradFunc: (dy: TF.Tensor, saved: TF.Tensor[]) => {
        const [sx, smean, sinv, sgamma] = saved as [TF.Tensor, TF.Tensor, TF.Tensor, TF.Tensor];
        const xhat = tf.mul(tf.sub(sx, smean), sinv);
        const dbeta = tf.sum(dy, axes);
        const dgamma = tf.sum(tf.mul(dy, xhat), axes);
        const centred = tf.sub(tf.sub(dy, tf.div(dbeta, n)), tf.mul(xhat, tf.div(dgamma, n)));
        return [tf.mul(centred, tf.mul(sgamma, sinv)), dgamma, dbeta];
      },
    };
  });
  const normed = norm(x, gamma, beta);
  const y = attrs.alpha === 1 ? normed : attrs.alpha === 0 ? tf.relu(normed) : tf.leakyRelu(normed, attrs.alpha);
  const moving = (orig: TF.Tensor, value: TF.Tensor) => tf.sub(orig, tf.mul(tf.sub(orig, value), 1 - attrs.momentum));
  const out = { y, movingMean: moving(inputs.movingMean, mean!), movingVariance: moving(inputs.movingVariance, variance!) };
  tf.dispose([mean!, variance!]);
  return out;
}

/** act(x + bias) as one kernel call; only where fused(tf), for at most MAX_FUSED_CHANNELS channels (the layers keep their own code elsewhere: models/lean-grads.ts). */
export function biasActivation(tf: Tf, x: TF.Tensor, bias: TF.Tensor, attrs: BiasActivationAttrs): TF.Tensor {
  return run(tf, BIAS_ACTIVATION, { x, bias }, attrs);
}

export function sigmoidCrossEntropy(tf: Tf, logits: TF.Tensor, label: number): TF.Scalar {
  if (fused(tf)) return run(tf, SIGMOID_CROSS_ENTROPY, { logits }, { label }) as TF.Scalar;
  return tf.losses.sigmoidCrossEntropy(tf.fill(logits.shape, label), logits) as TF.Scalar;
}

/** −Σ [t·log p + (1 − t)·log(1 − p)] / n, p clipped to [1e-7, 1 − 1e-7]. */
export function binaryCrossEntropy(tf: Tf, t: TF.Tensor, p: TF.Tensor, n: number): TF.Scalar {
  const [lo, hi] = [1e-7, 1 - 1e-7];
  if (fused(tf)) return run(tf, BINARY_CROSS_ENTROPY, { t, p }, { lo, hi, scale: 1 / n }) as TF.Scalar;
  const q = tf.clipByValue(p, lo, hi);
  return tf.div(tf.neg(tf.sum(tf.add(tf.mul(t, tf.log(q)), tf.mul(tf.sub(1, t), tf.log(tf.sub(1, q)))))), n);
}

/** KL(q(z|x) ‖ N(0, I)) summed over the batch's latents, divided by n. */
export function gaussianKl(tf: Tf, mu: TF.Tensor, logvar: TF.Tensor, n: number): TF.Scalar {
  if (fused(tf)) return run(tf, GAUSSIAN_KL, { mu, logvar }, { scale: -0.5 / n }) as TF.Scalar;
  return tf.div(tf.mul(-0.5, tf.sum(tf.sub(tf.add(1, logvar), tf.add(tf.square(mu), tf.exp(logvar))))), n) as TF.Scalar;
}

/** z = μ + σ·ε. */
export function reparameterize(tf: Tf, mu: TF.Tensor, logvar: TF.Tensor, eps: TF.Tensor): TF.Tensor {
  if (fused(tf)) return run(tf, REPARAMETERIZE, { mu, logvar, eps });
  return tf.add(mu, tf.mul(tf.exp(tf.mul(logvar, 0.5)), eps));
}

/** The fused kernels' gradients, each one kernel call (or none: μ's in the reparameterisation is dz). */
export function registerFusedGradients(tf: Tf): void {
  tf.registerGradient({
    kernelName: BATCH_NORM_TRAIN,
    inputsToSave: ['x'],
    outputsToSave: [false, true, false, false],
    gradFunc: (dys, saved, attrs) => {
      const [x, stats] = saved as TF.Tensor[];
      // One call gives all three; the engine asks only for those on the gradient's path, and disposes the rest with the backward pass.
      const [dx, dgamma, dbeta] = runAll(tf, BATCH_NORM_TRAIN_GRAD, { dy: (dys as TF.Tensor[])[0]!, x: x!, stats: stats! }, attrs);
      return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta!, movingMean: () => tf.zerosLike(dbeta!), movingVariance: () => tf.zerosLike(dbeta!) };
    },
  });
  tf.registerGradient({
    kernelName: BIAS_ACTIVATION,
    outputsToSave: [true],
    gradFunc: (dy, [y], attrs) => {
      const [dx, dbias] = runAll(tf, BIAS_ACTIVATION_GRAD, { dy: dy as TF.Tensor, y: y! }, attrs);
      return { x: () => dx!, bias: () => dbias! };
    },
  });
  tf.registerGradient({
    kernelName: SIGMOID_CROSS_ENTROPY,
    inputsToSave: ['logits'],
    gradFunc: (dy, [logits], attrs) => ({ logits: () => run(tf, SIGMOID_CROSS_ENTROPY_GRAD, { dy: dy as TF.Tensor, logits: logits! }, attrs) }),
  });
  tf.registerGradient({
    kernelName: BINARY_CROSS_ENTROPY,
    inputsToSave: ['t', 'p'],
    gradFunc: (dy, [t, p], attrs) => {
      const of = (input: 't' | 'p') => () => run(tf, BINARY_CROSS_ENTROPY_GRAD, { dy: dy as TF.Tensor, t: t!, p: p! }, { ...attrs, of: input });
      return { t: of('t'), p: of('p') };
    },
  });
  tf.registerGradient({
    kernelName: GAUSSIAN_KL,
    inputsToSave: ['mu', 'logvar'],
    gradFunc: (dy, [mu, logvar], attrs) => {
      const of = (input: 'mu' | 'logvar') => () => run(tf, GAUSSIAN_KL_GRAD, { dy: dy as TF.Tensor, mu: mu!, logvar: logvar! }, { ...attrs, of: input });
      return { mu: of('mu'), logvar: of('logvar') };
    },
  });
  tf.registerGradient({
    kernelName: REPARAMETERIZE,
    inputsToSave: ['logvar', 'eps'],
    gradFunc: (dz, [logvar, eps]) => {
      const of = (input: 'logvar' | 'eps') => () => run(tf, REPARAMETERIZE_GRAD, { dz: dz as TF.Tensor, logvar: logvar!, eps: eps! }, { of: input });
      // A new tensor, not dz itself: the engine disposes gradients it has summed.
      return { mu: () => tf.reshape(dz as TF.Tensor, (dz as TF.Tensor).shape), logvar: of('logvar'), eps: of('eps') };
    },
  });
}
