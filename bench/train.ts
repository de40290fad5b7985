import * as ganTrainer from '../src/ml/models/gan-trainer.js';
import * as vaeTrainer from '../src/ml/models/vae-trainer.js';
import { setupTraining, trainingContext, trainStep } from '../src/ml/models/trainer.js';
import { Rng } from '../src/core/rng.js';
import type { ConcreteBackend, KernelOptions } from '../src/ml/tfjs/backend.js';

type Kernels = KernelOptions['kernels'];

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** One train-vae / train-gan step on a tfjs backend, on a fixed random binary 64×64 batch. */
async function benchStep(backend: ConcreteBackend, model: 'vae' | 'gan', filters: number, threads: number, bs: number, kernels: Kernels) {
  const ctx = trainingContext(backend, threads, { kernels, convt: 'auto' });
  const { tf, trainer, opts, weights, pool } =
    model === 'vae'
      ? await setupTraining(ctx, vaeTrainer, { kind: 'vae', model: { size: 64, latent: 16, filters: [16, 32], seed: 0 }, lr: 1e-3, recon: 'bce' })
      : await setupTraining(ctx, ganTrainer, { kind: 'gan', model: { size: 64, noise: 64, filters, dFilters: filters, minibatchStd: false, pack: 1, upsample: 'transposed', refine: false, dNorm: 'batch', seed: 0 }, lr: 2e-4, lrD: 2e-4, beta1: 0.5, loss: 'non-saturating', labelSmoothing: 0.1, diffAugment: [], r1: 0, paper: -1 });
  const x = tf.tensor4d(Float32Array.from({ length: bs * 64 * 64 }, (_, i) => ((i * 2654435761) >>> 0) % 10 === 0 ? 1 : 0), [bs, 64, 64, 1]);
  const rng = new Rng('bench');
  const step = () => trainStep(tf, trainer, opts, weights, x, rng, { beta: 1, sigma: 0 }, pool);
  const close = async () => {
    await pool?.close();
    x.dispose();
  };
  return { tf, step, close };
}

/** Training img/s of the train-vae / train-gan step on a tfjs backend, random binary 64×64 data: the median of three timed runs. */
export async function tfjsTrain(backend: ConcreteBackend, model: 'vae' | 'gan', steps: number, filters: number, threads = 1, bs = 32, kernels: Kernels = 'pipe'): Promise<number> {
  const { step, close } = await benchStep(backend, model, filters, threads, bs, kernels);
  // The stock cpu backend takes minutes a step: one timed step, no warm-up.
  const [warmup, reps] = backend === 'cpu' ? [0, 1] : [2, 3];
  for (let i = 0; i < warmup; i++) await step();
  const rates: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await step();
    rates.push((steps * bs) / ((performance.now() - t0) / 1000));
  }
  await close();
  return median(rates);
}

export interface KernelTime {
  name: string;
  calls: number;
  ms: number;
}

/** Kernel calls of one training step (tfjs engine calls, the CPU cost a GPU step is bound by), the GPU programs they dispatch (webgpu), the calls by kernel name, and the median wall time of `timed` more steps. */
export interface StepCalls {
  calls: number;
  dispatches: number;
  byName: Record<string, number>;
  stepMs?: number;
}

/** Counts one warmed-up step's kernel calls: runnable on any backend (on webgpu, software adapters such as lavapipe count the same as a GPU). */
export async function stepCalls(backend: ConcreteBackend, model: 'vae' | 'gan', bs: number, kernels: Kernels, timed = 0): Promise<StepCalls> {
  const { tf, step, close } = await benchStep(backend, model, 16, 1, bs, kernels);
  await step();
  const gpu = tf.backend() as unknown as { runWebGPUProgram?: (...args: unknown[]) => unknown };
  const own = Object.hasOwn(gpu, 'runWebGPUProgram');
  const dispatch = gpu.runWebGPUProgram;
  let dispatches = 0;
  if (dispatch) gpu.runWebGPUProgram = (...args: unknown[]) => (dispatches++, dispatch.apply(gpu, args));
  let counted: Omit<StepCalls, 'stepMs'>;
  try {
    const info = await tf.profile(async () => {
      await step();
    });
    const byName: Record<string, number> = {};
    for (const k of info.kernels) byName[k.name] = (byName[k.name] ?? 0) + 1;
    counted = { calls: info.kernels.length, dispatches, byName };
  } finally {
    if (own) gpu.runWebGPUProgram = dispatch;
    else delete gpu.runWebGPUProgram;
  }
  const ms: number[] = [];
  for (let i = 0; i < timed; i++) {
    const t0 = performance.now();
    await step();
    ms.push(performance.now() - t0);
  }
  await close();
  return { ...counted, stepMs: timed ? median(ms) : undefined };
}

/**
 * Where one training step's device time goes: tf.profile over a warmed-up
 * step, kernel times summed by kernel name (largest first). On webgpu the
 * times come from timestamp queries; backends without timers report 0.
 */
export async function tfjsProfile(backend: ConcreteBackend, model: 'vae' | 'gan', filters: number, bs: number, kernels: Kernels): Promise<{ kernels: KernelTime[]; stepMs: number }> {
  const { tf, step, close } = await benchStep(backend, model, filters, 1, bs, kernels);
  for (let i = 0; i < 3; i++) await step();
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) await step();
  const stepMs = (performance.now() - t0) / 10;
  const info = await tf.profile(async () => {
    await step();
  });
  await close();
  const byName = new Map<string, KernelTime>();
  for (const k of info.kernels) {
    const e = byName.get(k.name) ?? { name: k.name, calls: 0, ms: 0 };
    e.calls++;
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    byName.set(k.name, e);
  }
  return { kernels: [...byName.values()].sort((a, b) => b.ms - a.ms), stepMs };
}
