import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';

/**
 * Training-time forwards for two tfjs-layers layers whose gradients cost far
 * more than they need to. Same layers, weights and saved models; results equal
 * up to float rounding. Inference goes through the layers' own code.
 */

type Call = (inputs: TF.Tensor | TF.Tensor[], kwargs: { training?: boolean }) => TF.Tensor;
const one = (inputs: TF.Tensor | TF.Tensor[]) => (Array.isArray(inputs) ? inputs[0]! : inputs);

interface ConvInternals {
  kernel: { read(): TF.Tensor4D };
  bias: { read(): TF.Tensor1D } | null;
  strides: [number, number];
  padding: 'same' | 'valid';
  dilationRate: [number, number];
  dataFormat: string;
  activation: { getClassName(): string };
  call: Call;
}

/**
 * A Conv2D with a bias and no activation runs as one fused op whose gradient
 * computes the input, filter and bias gradients together, wanted or not: in a
 * GAN's generator phase every discriminator filter gradient, in its
 * discriminator phase the gradient of the image batch. A plain conv plus bias
 * add has per-input gradients, which tfjs computes only where needed.
 */
function unfuseConv(tf: Tf, l: ConvInternals): void {
  if (l.dataFormat !== 'channelsLast' || l.activation.getClassName() !== 'linear') return;
  l.call = (inputs) =>
    tf.tidy(() => {
      const y = tf.conv2d(one(inputs) as TF.Tensor4D, l.kernel.read(), l.strides, l.padding, 'NHWC', l.dilationRate);
      return l.bias ? tf.add(y, l.bias.read()) : y;
    });
}

interface BatchNormInternals {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: { read(): TF.Tensor } | null;
  beta: { read(): TF.Tensor } | null;
  movingMean: { read(): TF.Tensor; write(t: TF.Tensor): void };
  movingVariance: { read(): TF.Tensor; write(t: TF.Tensor): void };
  call: Call;
}

/**
 * Batch norm in training mode: tfjs differentiates moments() and batchNorm()
 * op by op (about 20 full-size element-wise ops and 4 reductions per layer).
 * The closed form, with x̂ = (x − μ)/σ, needs 7 and 2:
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = (γ/σ)·(dy − dβ/N − x̂·dγ/N).
 */
function batchNormGradient(tf: Tf, l: BatchNormInternals): void {
  const original = l.call.bind(l);
  l.call = (inputs, kwargs) => {
    const x = one(inputs);
    const { gamma, beta } = l;
    if (!kwargs?.training || !gamma || !beta || (l.axis !== -1 && l.axis !== x.rank - 1)) return original(inputs, kwargs);
    return tf.tidy(() => {
      const axes = [...Array(x.rank - 1).keys()];
      const n = x.size / x.shape[x.rank - 1]!;
      let mean: TF.Tensor | undefined;
      let variance: TF.Tensor | undefined;
      const norm = tf.customGrad((...args: unknown[]) => {
        const [xs, gamma, beta, save] = args as [TF.Tensor, TF.Tensor, TF.Tensor, (t: TF.Tensor[]) => void];
        const m = tf.moments(xs, axes);
        mean = tf.keep(m.mean);
        variance = tf.keep(m.variance);
        const inv = tf.rsqrt(tf.add(m.variance, l.epsilon));
        save([xs, m.mean, inv, gamma]);
        return {
          value: tf.batchNorm(xs, m.mean, m.variance, beta, gamma, l.epsilon),
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
      const y = norm(x, gamma.read(), beta.read());
      // The moving averages exactly as tfjs-layers keeps them.
      for (const [v, value] of [
        [l.movingMean, mean!],
        [l.movingVariance, variance!],
      ] as const) {
        const orig = v.read();
        v.write(tf.sub(orig, tf.mul(tf.sub(orig, value), 1 - l.momentum)));
      }
      mean!.dispose();
      variance!.dispose();
      return y;
    });
  };
}

/** Gives a model's Conv2D and BatchNormalization layers the training forwards above. */
export function leanGradients(tf: Tf, model: TF.LayersModel): void {
  for (const layer of model.layers) {
    if (layer.getClassName() === 'Conv2D') unfuseConv(tf, layer as unknown as ConvInternals);
    if (layer.getClassName() === 'BatchNormalization') batchNormGradient(tf, layer as unknown as BatchNormInternals);
  }
}
