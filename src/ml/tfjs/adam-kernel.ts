/** A backend may register this kernel (webgpu-adam.ts does): inputs w, g, m, v; attributes AdamUpdateAttrs; outputs [w, m, v] updated. */
export const ADAM_UPDATE = 'PipeAdamUpdate';

/** Adam's step with its bias corrections folded in (models/adam.ts computes them). */
export interface AdamUpdateAttrs {
  beta1: number;
  beta2: number;
  alpha: number;
  epsHat: number;
}
