import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';
import { type Activation, batchNormTrain, biasActivation, fused, MAX_FUSED_CHANNELS } from '../tfjs/fused-ops.js';

/**
 * Training-time forwards for tfjs-layers layers whose training steps cost far
 * more kernel calls or gradient work than they need. Same layers, weights and
 * saved models; results equal up to float rounding. Inference goes through
 * the layers' own code (except a linear Conv2D's unfused bias, below).
 */

type Call = (inputs: TF.Tensor | TF.Tensor[], kwargs: { training?: boolean }) => TF.Tensor;
const one = (inputs: TF.Tensor | TF.Tensor[]) => (Array.isArray(inputs) ? inputs[0]! : inputs);

interface LayerInternals {
  getClassName(): string;
  outboundNodes: Array<{ outboundLayer: LayerInternals }>;
  outputShape: number[];
  maxValue?: number | null;
  alpha?: number;
  activation?: { getClassName(): string };
  call: Call;
  apply: Call;
}

interface WeightedInternals extends LayerInternals {
  kernel: { read(): TF.Tensor };
  bias: { read(): TF.Tensor1D } | null;
  activation: { getClassName(): string };
  dataFormat?: string;
}

interface ConvInternals extends WeightedInternals {
  kernel: { read(): TF.Tensor4D };
  kernelSize: [number, number];
  strides: [number, number];
  padding: 'same' | 'valid';
  dilationRate: [number, number];
  filters: number;
}

interface BatchNormInternals extends LayerInternals {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: { read(): TF.Tensor } | null;
  beta: { read(): TF.Tensor } | null;
  movingMean: { read(): TF.Tensor; write(t: TF.Tensor): void };
  movingVariance: { read(): TF.Tensor; write(t: TF.Tensor): void };
}

interface Act {
  activation: Activation;
  alpha: number;
}

const ACTIVATIONS = new Set<string>(['linear', 'relu', 'sigmoid', 'tanh']);

/** A layer's own activation (Conv2D's, Dense's), if the fused kernels have it. */
function ownActivation(l: WeightedInternals): Act | undefined {
  const name = l.activation.getClassName();
  return ACTIVATIONS.has(name) ? { activation: name as Activation, alpha: 0 } : undefined;
}

/** What an activation layer computes, if the fused kernels have it. */
function activationLayer(l: LayerInternals): Act | undefined {
  if (l.getClassName() === 'ReLU' && l.maxValue == null) return { activation: 'relu', alpha: 0 };
  if (l.getClassName() === 'LeakyReLU') return { activation: 'leakyrelu', alpha: l.alpha! };
  if (l.getClassName() === 'Activation' && l.activation && ACTIVATIONS.has(l.activation.getClassName())) return { activation: l.activation.getClassName() as Activation, alpha: 0 };
  return undefined;
}

/**
 * The activation layer that alone follows l, for l to compute with its own
 * output; that layer's apply then hands its input on whenever `when` (apply,
 * not call: tfjs-layers' apply copies an output that is its input, one more
 * kernel call each way).
 */
function takeActivation(l: LayerInternals, kinds: Activation[], when: () => boolean): Act | undefined {
  const next = l.outboundNodes.length === 1 ? l.outboundNodes[0]!.outboundLayer : undefined;
  const act = next && activationLayer(next);
  if (!next || !act || !kinds.includes(act.activation)) return undefined;
  const apply = next.apply.bind(next);
  next.apply = (inputs, kwargs) => (kwargs?.training && when() ? one(inputs) : apply(inputs, kwargs));
  return act;
}

/**
 * Batch norm in training mode as one op with the ReLU or leaky ReLU after it
 * (fused-ops.ts: one kernel call where the backend has it, tfjs ops with the
 * closed-form gradient where not).
 */
function batchNormTraining(tf: Tf, l: BatchNormInternals): void {
  const { gamma, beta } = l;
  if (!gamma || !beta || (l.axis !== -1 && l.axis !== l.outputShape.length - 1)) return;
  const original = l.call.bind(l);
  const act = takeActivation(l, ['relu', 'leakyrelu'], () => true);
  const alpha = !act ? 1 : act.activation === 'relu' ? 0 : act.alpha;
  l.call = (inputs, kwargs) => {
    if (!kwargs?.training) return original(inputs, kwargs);
    return tf.tidy(() => {
      const out = batchNormTrain(tf, { x: one(inputs), gamma: gamma.read(), beta: beta.read(), movingMean: l.movingMean.read(), movingVariance: l.movingVariance.read() }, { epsilon: l.epsilon, momentum: l.momentum, alpha });
      l.movingMean.write(out.movingMean);
      l.movingVariance.write(out.movingVariance);
      return out.y;
    });
  };
}

/** Output size of a transposed conv along one axis, as tfjs-layers computes it. */
function deconvLength(size: number, stride: number, kernel: number, padding: 'same' | 'valid'): number {
  return padding === 'same' ? size * stride : size * stride + Math.max(kernel - stride, 0);
}

/** The layer's product without its bias: conv, transposed conv or matrix product; undefined for what the fused path does not cover. */
function product(tf: Tf, l: LayerInternals): ((x: TF.Tensor) => TF.Tensor) | undefined {
  const c = l as ConvInternals;
  if ((l.getClassName() === 'Conv2D' || l.getClassName() === 'Conv2DTranspose') && c.dataFormat !== 'channelsLast') return undefined;
  if (l.getClassName() === 'Conv2D') return (x) => tf.conv2d(x as TF.Tensor4D, c.kernel.read(), c.strides, c.padding, 'NHWC', c.dilationRate);
  if (l.getClassName() === 'Conv2DTranspose' && c.dilationRate.every((d) => d === 1)) {
    return (x) => {
      const [n, h, w] = x.shape as number[];
      const shape: [number, number, number, number] = [n!, deconvLength(h!, c.strides[0], c.kernelSize[0], c.padding), deconvLength(w!, c.strides[1], c.kernelSize[1], c.padding), c.filters];
      return tf.conv2dTranspose(x as TF.Tensor4D, c.kernel.read(), shape, c.strides, c.padding);
    };
  }
  if (l.getClassName() === 'Dense') {
    return (x) => {
      const k = (l as WeightedInternals).kernel.read() as TF.Tensor2D;
      if (x.rank === 2) return tf.matMul(x as TF.Tensor2D, k);
      return tf.reshape(tf.matMul(tf.reshape(x, [-1, x.shape[x.rank - 1]!]) as TF.Tensor2D, k), [...x.shape.slice(0, -1), k.shape[1]]);
    };
  }
  return undefined;
}

/**
 * Where the backend has the fused kernels (fused-ops.ts), a Conv2D,
 * Conv2DTranspose or Dense layer in training runs its product, then its bias
 * and its activation (or the activation layer after it) as one kernel call;
 * tfjs-layers runs them as several, each saving tensors for the backward pass.
 * Elsewhere: a linear Conv2D with a bias runs as a plain conv plus a bias add.
 * tfjs-layers would run it as one fused op whose gradient computes the input,
 * filter and bias gradients together, wanted or not: in a GAN's generator
 * phase every discriminator filter gradient, in its discriminator phase the
 * gradient of the image batch; the plain ops have per-input gradients, which
 * tfjs computes only where needed. Other layers keep their own code there.
 */
function productBiasActivation(tf: Tf, l: WeightedInternals): void {
  const run = product(tf, l);
  const own = ownActivation(l);
  if (!run || !own || (!l.bias && own.activation !== 'linear')) return;
  const original = l.call.bind(l);
  const fits = l.outputShape[l.outputShape.length - 1]! <= MAX_FUSED_CHANNELS;
  const fusing = () => fits && fused(tf);
  const act = (own.activation === 'linear' && l.bias && takeActivation(l, ['relu', 'leakyrelu', 'sigmoid', 'tanh'], fusing)) || own;
  const unfused = l.getClassName() === 'Conv2D' && own.activation === 'linear';
  l.call = (inputs, kwargs) => {
    const x = one(inputs);
    if (kwargs?.training && fusing()) return tf.tidy(() => (l.bias ? biasActivation(tf, run(x), l.bias.read(), act) : run(x)));
    if (unfused) return tf.tidy(() => (l.bias ? tf.add(run(x), l.bias.read()) : run(x)));
    return original(inputs, kwargs);
  };
}

/** Gives a model's layers the training forwards above. */
export function leanGradients(tf: Tf, model: TF.LayersModel): void {
  for (const layer of model.layers as unknown as LayerInternals[]) {
    if (layer.getClassName() === 'BatchNormalization') batchNormTraining(tf, layer as BatchNormInternals);
    else if (['Conv2D', 'Conv2DTranspose', 'Dense'].includes(layer.getClassName())) productBiasActivation(tf, layer as WeightedInternals);
  }
}
