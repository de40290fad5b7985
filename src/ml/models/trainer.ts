import { sizeOf, type Rng } from '../../core/stage.js';
import { stageTf, type ConcreteBackend, type KernelOptions, type TfContext, type TfParams } from '../tfjs/backend.js';
import type * as TF from '../tfjs/tf.js';
import type { Tf } from '../tfjs/tf.js';
import { Adam as AdamClass, type Adam } from './adam.js';
import { modelVars, type Losses } from './loop.js';
import type { HostTensor, Phase, Trainer, TrainerModule } from './step.js';
import { startThread } from '../thread.js';

export type { HostTensor } from './step.js';

function rows(t: HostTensor, from: number, to: number): HostTensor {
  const per = sizeOf(t.shape.slice(1));
  return { data: t.data.slice(from * per, to * per), shape: [to - from, ...t.shape.slice(1)] };
}

/** Splits a batch and its inputs by rows into k shards, in order. */
export function shard(batch: HostTensor, inputs: HostTensor[], k: number): Array<{ batch: HostTensor; inputs: HostTensor[] }> {
  const n = batch.shape[0]!;
  return Array.from({ length: k }, (_, i) => {
    const [a, b] = [Math.floor((i * n) / k), Math.floor(((i + 1) * n) / k)];
    return { batch: rows(batch, a, b), inputs: inputs.map((t) => rows(t, a, b)) };
  });
}

/** One phase's gradients (in the order of phase.vars) and reported losses on a batch, as tensors the caller disposes. */
function phaseTensors(tf: Tf, phase: Phase, x: TF.Tensor4D, ins: TF.Tensor[], scalars: Record<string, number>): { grads: TF.Tensor[]; report: Record<string, TF.Scalar> } {
  let report: Record<string, TF.Scalar> = {};
  const grads = tf.tidy(() => {
    const g = tf.variableGrads(() => {
      const l = phase.loss(x, ins, scalars);
      report = Object.fromEntries(Object.entries(l.report).map(([k, v]) => [k, tf.keep(v)]));
      return l.total;
    }, phase.vars);
    return phase.vars.map((v) => g.grads[v.name]!);
  });
  return { grads, report };
}

/**
 * Reads reported losses to the host and frees them: async, since webgpu
 * cannot read synchronously in Node, and as one tensor, since each read is a
 * round trip to the device.
 */
async function readReport(tf: Tf, report: Record<string, TF.Scalar>): Promise<Losses> {
  const keys = Object.keys(report);
  if (keys.length === 0) return {};
  const all = tf.stack(Object.values(report));
  const values = await all.data();
  [all, ...Object.values(report)].forEach((v) => v.dispose());
  return Object.fromEntries(keys.map((k, i) => [k, values[i]!]));
}

/** Gradients of one phase on one shard, as host arrays in the order of phase.vars, plus the reported losses. */
export async function phaseGrads(tf: Tf, phase: Phase, batch: HostTensor, inputs: HostTensor[], scalars: Record<string, number>): Promise<{ grads: Float32Array[]; report: Losses }> {
  const x = tf.tensor4d(batch.data, batch.shape as [number, number, number, number]);
  const ins = inputs.map((t) => tf.tensor(t.data, t.shape));
  const t = phaseTensors(tf, phase, x, ins, scalars);
  [x, ...ins].forEach((v) => v.dispose());
  const grads = (await Promise.all(t.grads.map((g) => g.data()))) as Float32Array[];
  t.grads.forEach((g) => g.dispose());
  return { grads, report: await readReport(tf, t.report) };
}

/** Workers computing phase gradients on their shards of each batch (see replica.ts). */
export interface ReplicaPool {
  size: number;
  grads(phase: number, weights: Float32Array[], shards: Array<{ batch: HostTensor; inputs: HostTensor[] }>, scalars: Record<string, number>): Promise<Array<{ grads: Float32Array[]; report: Losses }>>;
  close(): Promise<void>;
}

/**
 * One training step. Without replicas the batch and gradients stay on the
 * device. With replicas, the batch is split by rows: this thread takes the
 * first shard, each replica the next, all from the same weights; their
 * gradients are averaged in a fixed order (so runs stay bit-identical) and
 * applied here, phase by phase.
 */
export async function trainStep(
  tf: Tf,
  trainer: Trainer,
  opts: Adam[],
  weights: TF.Variable[],
  batch: TF.Tensor4D,
  rng: Rng,
  scalars: Record<string, number>,
  pool?: ReplicaPool,
): Promise<Losses> {
  const n = batch.shape[0];
  const inputs = trainer.inputs(rng, n, scalars);
  if (!pool) {
    const ins = inputs.map((t) => tf.tensor(t.data, t.shape));
    const report: Record<string, TF.Scalar> = {};
    for (const [i, phase] of trainer.phases.entries()) {
      const { grads, report: phaseReport } = phaseTensors(tf, phase, batch, ins, scalars);
      opts[i]!.apply(Object.fromEntries(phase.vars.map((v, j) => [v.name, grads[j]!])));
      grads.forEach((g) => g.dispose());
      Object.assign(report, phaseReport);
    }
    ins.forEach((t) => t.dispose());
    return readReport(tf, report);
  }
  const host: HostTensor = { data: (await batch.data()) as Float32Array, shape: [...batch.shape] };
  const k = 1 + pool.size;
  const shards = shard(host, inputs, k);
  const losses: Losses = {};
  // Weights go to the replicas by transfer: wasm reads are copies already; the cpu backend hands out its own storage.
  const shared = tf.getBackend() !== 'wasm';
  for (const [i, phase] of trainer.phases.entries()) {
    const current = await Promise.all(
      weights.map(async (w) => {
        const d = (await w.data()) as Float32Array;
        return shared ? d.slice() : d;
      }),
    );
    const remote = pool.grads(i, current, shards.slice(1), scalars);
    const own = await phaseGrads(tf, phase, shards[0]!.batch, shards[0]!.inputs, scalars);
    const all = [own, ...(await remote)];
    const mean = phase.vars.map((v, j) => tf.tidy(() => tf.div(tf.addN(all.map((r) => tf.tensor(r.grads[j]!, v.shape))), k)));
    opts[i]!.apply(Object.fromEntries(phase.vars.map((v, j) => [v.name, mean[j]!])));
    mean.forEach((t) => t.dispose());
    for (const key of Object.keys(own.report)) losses[key] = all.reduce((s, r) => s + r.report[key]!, 0) / k;
  }
  return losses;
}

/** The backend and kernels replicas run, the same as the main thread's, and the trainer module they build from. */
export interface ReplicaRuntime extends KernelOptions {
  backend: string;
  module: string;
}

/** What the main thread asks a replica (replica.ts): one phase's gradients on its shard, from these weights. */
export interface ReplicaRequest {
  phase: number;
  weights: Float32Array[];
  batch: HostTensor;
  inputs: HostTensor[];
  scalars: Record<string, number>;
}

/** Starts `size` replica threads for a recipe; they answer gradient requests in order. */
export async function startReplicas(size: number, runtime: ReplicaRuntime, recipe: unknown): Promise<ReplicaPool> {
  const url = new URL('./replica.js', import.meta.url);
  const workers = await Promise.all(Array.from({ length: size }, () => startThread<ReplicaRequest, { grads: Float32Array[]; report: Losses }>(url, { ...runtime, recipe })));
  return {
    size,
    // The weights are fresh copies: worker 0, posted to last, takes their memory; the others get clones.
    grads: (phase, weights, shards, scalars) =>
      Promise.all(
        [...workers.keys()]
          .reverse()
          .map((i) => workers[i]!.ask({ phase, weights, batch: shards[i]!.batch, inputs: shards[i]!.inputs, scalars }, i === 0 ? weights.map((w) => w.buffer as ArrayBuffer) : []))
          .reverse(),
      ),
    close: async () => {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/** What a training stage trains with: tfjs on the chosen backend, the trainer, its optimizers and replicas. */
export interface TrainingSetup {
  tf: Tf;
  backend: string;
  trainer: Trainer;
  opts: Adam[];
  weights: TF.Variable[];
  pool: ReplicaPool | undefined;
}

/**
 * Loads tfjs on the stage's backend, builds the trainer from the stage's own
 * trainer module (which the stage imports, so it is in the stage's key, and
 * no other model's code is), its optimizers and replicas.
 */
export async function setupTraining<R>(ctx: TfContext<TfParams & { threads: number }>, module: TrainerModule<R>, recipe: R): Promise<TrainingSetup> {
  const { tf, backend } = await stageTf(ctx);
  const { threads } = ctx.params;
  // Replicas split a batch across CPU cores; tensorflow and webgpu parallelise each op themselves.
  const replicas = backend === 'wasm' || backend === 'cpu' ? threads - 1 : 0;
  if (replicas > 0) ctx.log.info(`training on ${threads} threads`);
  else if (threads > 1) ctx.log.info(`threads: ${threads} ignored: ${backend} runs each op in parallel itself`);
  const trainer = module.makeTrainer(tf, recipe);
  const opts = trainer.phases.map((ph) => new AdamClass(tf, ph.vars, ph.lr, ph.beta1));
  const weights = modelVars(trainer.models, false);
  const pool = replicas > 0 ? await startReplicas(replicas, { backend, kernels: ctx.params.kernels, convt: ctx.params.convt, module: module.url }, recipe) : undefined;
  return { tf, backend, trainer, opts, weights, pool };
}

/** What setupTraining needs when it runs outside a stage (benchmarks, tests): a concrete backend and pipe's kernels. */
export function trainingContext(backend: ConcreteBackend, threads: number, kernels: KernelOptions = { kernels: 'pipe', convt: 'auto' }): TfContext<TfParams & { threads: number }> {
  return { params: { backend, threads, ...kernels }, facts: { backend }, log: { info: () => {}, warn: () => {} } };
}
