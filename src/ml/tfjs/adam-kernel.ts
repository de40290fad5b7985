/**
 * A backend may register this kernel (webgpu-adam.ts does): Adam's step for
 * every weight of a phase in one call. Inputs w0, g0, m0, v0, w1, g1, …;
 * attributes AdamUpdateAttrs; outputs [w0, m0, v0, w1, m1, v1, …] updated.
 */
export const ADAM_UPDATE = 'PipeAdamUpdate';

/** Adam's step with its bias corrections folded in (models/adam.ts computes them). */
export interface AdamUpdateAttrs {
  beta1: number;
  beta2: number;
  alpha: number;
  epsHat: number;
}
