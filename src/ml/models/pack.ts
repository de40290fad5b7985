import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';

/**
 * PacGAN's packing (Lin et al. 2018): m consecutive images [n, h, w, 1] as the
 * channels of [n / m, h, w, m], for a discriminator that judges them together.
 * A collapsed generator's m images are alike where real ones are not, which a
 * discriminator shown one image at a time cannot see.
 */
export function packImages(tf: Tf, images: TF.Tensor, m: number): TF.Tensor {
  if (m === 1) return images;
  const [n, h, w, c] = images.shape as [number, number, number, number];
  if (c !== 1 || n % m !== 0) throw new Error(`cannot pack ${n} images of ${c} channel${c === 1 ? '' : 's'} by ${m}: packing needs 1-channel images, a multiple of ${m} of them`);
  return tf.transpose(tf.reshape(images, [n / m, m, h, w]), [0, 2, 3, 1]);
}
