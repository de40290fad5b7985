import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../tfjs/backend.js';

interface ConvInternals {
  kernel: { read(): TF.Tensor4D };
  bias: { read(): TF.Tensor1D } | null;
  strides: [number, number];
  padding: 'same' | 'valid';
  dilationRate: [number, number];
  dataFormat: string;
  activation: { getClassName(): string };
  call(inputs: TF.Tensor | TF.Tensor[], kwargs: object): TF.Tensor;
}

/**
 * tfjs-layers runs a Conv2D with a bias and no activation as one fused op
 * whose gradient computes the input, filter and bias gradients together,
 * wanted or not: in a GAN's generator phase every discriminator filter
 * gradient, and in its discriminator phase the gradient of the image batch.
 * A plain conv plus bias add has per-input gradients, which tfjs computes
 * only for what the loss is differentiated against. Same layer, same weights
 * and serialisation; results equal up to float rounding.
 */
export function unfuseConvs(tf: Tf, model: TF.LayersModel): void {
  for (const layer of model.layers) {
    const l = layer as unknown as ConvInternals;
    if (layer.getClassName() !== 'Conv2D' || l.dataFormat !== 'channelsLast' || l.activation.getClassName() !== 'linear') continue;
    l.call = (inputs) =>
      tf.tidy(() => {
        const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as TF.Tensor4D;
        const y = tf.conv2d(x, l.kernel.read(), l.strides, l.padding, 'NHWC', l.dilationRate);
        return l.bias ? tf.add(y, l.bias.read()) : y;
      });
  }
}
