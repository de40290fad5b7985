import type * as TF from './tf.js';
import type { Tf } from './tf.js';

/**
 * Gradients of Sum and Mean without tfjs' `ones(x.shape)`: it builds an
 * array of ones on the host and uploads it every step (4 MB for the VAE's
 * reconstruction loss at batch 256, ~5 ms of a ~19 ms step on a GPU). dy is
 * broadcast on the device instead. The values are identical: tfjs multiplies
 * by exactly 1, and for Mean divides each element by the same count.
 */
export function registerGradients(tf: Tf): void {
  const expanded = (dy: TF.Tensor, x: TF.Tensor, axis: number | number[]) => {
    const shape = x.shape.slice();
    for (const a of tf.util.parseAxisParam(axis, x.shape)) shape[a] = 1;
    return tf.reshape(dy, shape);
  };
  tf.registerGradient({
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => ({ x: () => tf.broadcastTo(expanded(dy as TF.Tensor, x!, attrs.axis as number[]), x!.shape) }),
  });
  tf.registerGradient({
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => ({
      x: () => {
        const small = expanded(dy as TF.Tensor, x!, attrs.axis as number[]);
        return tf.broadcastTo(tf.div(small, x!.size / small.size), x!.shape);
      },
    }),
  });
}
