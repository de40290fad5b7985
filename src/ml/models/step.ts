import { sizeOf, type Rng } from '../../core/stage.js';
import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';

/** A host array with its shape: per-step inputs, weights and gradients as they cross threads. */
export interface HostTensor {
  data: Float32Array;
  shape: number[];
}

/** One optimisation phase of a step (a VAE has one; a GAN has the discriminator's, then the generator's). */
export interface Phase {
  vars: TF.Variable[];
  lr: number;
  beta1: number;
  /** The loss on some rows of the batch and the same rows of each per-step input; `report` names what is logged. */
  loss(batch: TF.Tensor4D, inputs: TF.Tensor[], scalars: Record<string, number>): { total: TF.Scalar; report: Record<string, TF.Scalar> };
}

/** A model's training step, written once, run on the main thread or on replicas (models/replica.ts). */
export interface Trainer {
  models: TF.LayersModel[];
  phases: Phase[];
  /** The step's random inputs for the whole batch, drawn on the main thread so sharding never changes them. */
  inputs(rng: Rng, n: number, scalars: Record<string, number>): HostTensor[];
}

/** A step input drawn from N(0, 1) on the host (noise, ε, instance noise). */
export function normalInput(rng: Rng, shape: number[]): HostTensor {
  // A plain loop: Float32Array.from with a map function costs twice the draws themselves, and the GAN's
  // instance noise draws 98,304 values a step.
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return { data, shape };
}

/** A model's trainer module: builds its Trainer from a recipe; `url` is the module itself, which replica threads import. */
export interface TrainerModule<R> {
  makeTrainer(tf: Tf, recipe: R): Trainer;
  url: string;
}
