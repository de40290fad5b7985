import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';

const made = new WeakMap<object, (name: string) => TF.layers.Layer>();

/**
 * Minibatch standard deviation (Karras et al. 2018, "Progressive Growing of
 * GANs"): one more feature map holding how much the images of the batch
 * differ from each other (the standard deviation over the batch of every
 * feature, averaged to one number). A generator that gives every noise
 * vector the same image is then plainly fake to the discriminator, which
 * is what keeps a small DCGAN from collapsing onto one mode. Registered as
 * `MinibatchStd` for tfjs' serialisation: a saved discriminator needs it
 * registered to load; the generator does not.
 */
export function minibatchStd(tf: Tf, name: string): TF.layers.Layer {
  let make = made.get(tf);
  if (!make) {
    class MinibatchStd extends tf.layers.Layer {
      static className = 'MinibatchStd';
      override computeOutputShape(shape: TF.Shape | TF.Shape[]): TF.Shape {
        const s = shape as TF.Shape;
        return [...s.slice(0, -1), (s[s.length - 1] as number) + 1];
      }
      override call(inputs: TF.Tensor | TF.Tensor[]): TF.Tensor {
        return tf.tidy(() => {
          const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as TF.Tensor4D;
          const centred = tf.sub(x, tf.mean(x, 0, true));
          const spread = tf.mean(tf.sqrt(tf.add(tf.mean(tf.square(centred), 0), 1e-8)));
          const [n, h, w] = x.shape;
          return tf.concat([x, tf.mul(tf.ones([n, h, w, 1]), spread)], 3);
        });
      }
    }
    tf.serialization.registerClass(MinibatchStd);
    make = (layerName) => new MinibatchStd({ name: layerName });
    made.set(tf, make);
  }
  return make(name);
}
