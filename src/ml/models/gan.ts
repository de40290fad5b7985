import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';
import { initSeeds } from './io.js';
import { minibatchStd } from './minibatch-std.js';

export interface GanConfig {
  size: number;
  noise: number;
  /** Width of the generator: its last layer before the image has this many filters. */
  filters: number;
  /** Width of the discriminator: its first conv has this many filters, doubling towards the logit. */
  dFilters: number;
  /** A minibatch standard deviation feature map before the discriminator's logit. */
  minibatchStd: boolean;
  /** Images the discriminator judges together, stacked as channels (PacGAN: Lin et al. 2018); 1: one at a time. */
  pack: number;
  /** How the generator doubles its maps: a 4×4 stride-2 transposed conv, or nearest-neighbour upsampling then a 3×3 conv. */
  upsample: 'transposed' | 'nearest';
  /** The generator's last doubling keeps `filters` maps, with batch norm and ReLU, and a 3×3 conv makes the image from them at full size. */
  refine: boolean;
  /** The discriminator's normalisation: batch norm after each conv but the first, or none (its kernels spectrally bounded by the trainer instead). */
  dNorm: 'batch' | 'spectral';
  seed: number;
}

export interface Gan {
  generator: TF.LayersModel;
  discriminator: TF.LayersModel;
}

/**
 * DCGAN (Radford et al. 2015), scaled to the image size: the generator goes
 * noise → dense → 4×4 → stride-2 transposed convs (or, with upsample
 * 'nearest', nearest-neighbour doubling and a 3×3 conv, which cannot leave
 * the checkerboard of uneven kernel overlap: Odena et al. 2016) with batch
 * norm and ReLU → size×size×1 tanh; the discriminator is stride-2 convs with leaky ReLU
 * (batch norm after the first, unless its kernels are spectrally bounded
 * instead: SpectralBound) down to 4×4, optionally a minibatch
 * standard deviation map there, then one logit. With pack m it sees m
 * images at once as m channels and gives one logit for all of them.
 */
export function buildGan(tf: Tf, c: GanConfig): Gan {
  const seed = initSeeds(c.seed);
  const init = () => tf.initializers.randomNormal({ mean: 0, stddev: 0.02, seed: seed() });
  const ups = Math.log2(c.size / 4);
  if (!Number.isInteger(ups) || ups < 1) throw new Error(`GAN image size must be 4·2^k (8, 16, 32, 64, ...), got ${c.size}`);
  const widthsOf = (filters: number) => Array.from({ length: ups }, (_, i) => filters * 2 ** (ups - 1 - i));
  const widths = widthsOf(c.filters);

  const z = tf.input({ shape: [c.noise], name: 'noise' });
  let g = tf.layers.dense({ units: 4 * 4 * widths[0]!, useBias: false, kernelInitializer: init(), name: 'g_dense' }).apply(z) as TF.SymbolicTensor;
  g = tf.layers.batchNormalization({ momentum: 0.9, name: 'g_bn0' }).apply(g) as TF.SymbolicTensor;
  g = tf.layers.reLU({ name: 'g_relu0' }).apply(g) as TF.SymbolicTensor;
  g = tf.layers.reshape({ targetShape: [4, 4, widths[0]!], name: 'g_reshape' }).apply(g) as TF.SymbolicTensor;
  widths.forEach((_, i) => {
    const last = i === widths.length - 1;
    // With refine the last doubling is a hidden layer too, c.filters wide, and g_refine below draws the image.
    const image = last && !c.refine;
    const filters = image ? 1 : last ? c.filters : widths[i + 1]!;
    if (c.upsample === 'nearest') {
      g = tf.layers.upSampling2d({ size: [2, 2], name: `g_up${i + 1}` }).apply(g) as TF.SymbolicTensor;
      g = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: image, kernelInitializer: init(), name: `g_conv${i + 1}` }).apply(g) as TF.SymbolicTensor;
    } else {
      g = tf.layers.conv2dTranspose({ filters, kernelSize: 4, strides: 2, padding: 'same', useBias: image, kernelInitializer: init(), name: `g_deconv${i + 1}` }).apply(g) as TF.SymbolicTensor;
    }
    if (!image) {
      g = tf.layers.batchNormalization({ momentum: 0.9, name: `g_bn${i + 1}` }).apply(g) as TF.SymbolicTensor;
      g = tf.layers.reLU({ name: `g_relu${i + 1}` }).apply(g) as TF.SymbolicTensor;
    }
  });
  if (c.refine) g = tf.layers.conv2d({ filters: 1, kernelSize: 3, padding: 'same', kernelInitializer: init(), name: 'g_refine' }).apply(g) as TF.SymbolicTensor;
  g = tf.layers.activation({ activation: 'tanh', name: 'g_tanh' }).apply(g) as TF.SymbolicTensor;
  const generator = tf.model({ inputs: z, outputs: g, name: 'generator' });

  const x = tf.input({ shape: [c.size, c.size, c.pack], name: 'image' });
  let d = x;
  widthsOf(c.dFilters).reverse().forEach((w, i) => {
    d = tf.layers.conv2d({ filters: w, kernelSize: 4, strides: 2, padding: 'same', kernelInitializer: init(), name: `d_conv${i + 1}` }).apply(d) as TF.SymbolicTensor;
    if (i > 0 && c.dNorm === 'batch') d = tf.layers.batchNormalization({ momentum: 0.9, name: `d_bn${i + 1}` }).apply(d) as TF.SymbolicTensor;
    d = tf.layers.leakyReLU({ alpha: 0.2, name: `d_lrelu${i + 1}` }).apply(d) as TF.SymbolicTensor;
  });
  if (c.minibatchStd) d = minibatchStd(tf, 'd_mbstd').apply(d) as TF.SymbolicTensor;
  d = tf.layers.flatten({ name: 'd_flatten' }).apply(d) as TF.SymbolicTensor;
  d = tf.layers.dense({ units: 1, kernelInitializer: init(), name: 'd_logit' }).apply(d) as TF.SymbolicTensor;
  const discriminator = tf.model({ inputs: x, outputs: d, name: 'discriminator' });
  return { generator, discriminator };
}
