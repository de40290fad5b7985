import type * as TF from '../tfjs/tf.js';
import { Rng } from '../../core/stage.js';
import type { StageContext, StageInputs } from '../../core/stage.js';
import type { Tensor } from '../../core/stage.js';
import type { Tf } from '../tfjs/tf.js';
import type { Adam } from './adam.js';
import { fromPlain, toPlain } from './io.js';

export type Losses = Record<string, number>;
/** Losses only: timings vary run to run and would break bit-identical outputs. */
export type EpochStats = { epoch: number } & Losses;

export interface TrainResult {
  history: EpochStats[];
  /** Median over the epochs this run trained (undefined when it only resumed a finished run). */
  imagesPerSecond: number | undefined;
}

export interface LoopSpec {
  tf: Tf;
  ctx: StageContext<{ epochs: number; batchSize: number; seed: number; lr: number }>;
  /** Training images, N×H×W×1. */
  images: Tensor;
  /** Every weight of the models, trainable or not (batch-norm statistics too): what a checkpoint holds. */
  weights: TF.Variable[];
  /** The optimizers, whose state the checkpoint holds too; they step together. */
  optimizers: Adam[];
  /** One optimisation step on a batch (rows `indices` of the images); returns its losses (host numbers). */
  step(batch: TF.Tensor4D, rng: Rng, epoch: number, indices: number[]): Losses | Promise<Losses>;
  /** After each epoch (and its checkpoint): progress images, etc. */
  afterEpoch?(epoch: number, stats: EpochStats): Promise<void>;
}

function fmt(losses: Losses): string {
  return Object.entries(losses)
    .map(([k, v]) => `${k}=${v.toPrecision(4)}`)
    .join(' ');
}

/**
 * The loop both trainers share: seeded shuffling per epoch, a checkpoint in
 * the cache after every epoch (a killed run resumes at the last finished
 * one), loss checks that stop on NaN/Inf with the last good checkpoint kept.
 */
export async function trainLoop(spec: LoopSpec): Promise<TrainResult> {
  const { tf, ctx, images } = spec;
  const { epochs, batchSize, seed } = ctx.params;
  const [n, h, w, c] = images.shape as [number, number, number, number];
  const px = h * w * c;
  if (n === 0) throw new Error('no training images');
  const bs = Math.min(batchSize, n);
  const batches = Math.floor(n / bs);
  let history: EpochStats[] = [];
  let start = 0;
  const ckpt = ctx.checkpoint.load();
  if (ckpt) {
    const keys = Object.keys(ckpt.tensors).sort((a, b) => Number(a) - Number(b));
    const ts = keys.map((k) => fromPlain(tf, ckpt.tensors[k]!));
    const st = ckpt.state as { history: EpochStats[]; optimizerStep: number };
    spec.weights.forEach((w, i) => w.assign(ts[i]!));
    let at = spec.weights.length;
    for (const opt of spec.optimizers) {
      const n = opt.state().length;
      opt.restore(st.optimizerStep, ts.slice(at, at + n));
      at += n;
    }
    ts.forEach((t) => t.dispose());
    history = st.history;
    start = ckpt.step;
    ctx.log.info(`resuming from the checkpoint after epoch ${start} of ${epochs}`);
  }
  const bar = ctx.progress((epochs - start) * batches, 'train');
  const batchData = new Float32Array(bs * px);
  const speeds: number[] = [];
  for (let epoch = start; epoch < epochs; epoch++) {
    const t0 = performance.now();
    const order = new Rng(`${seed}:order:${epoch}`).shuffle(Array.from({ length: n }, (_, i) => i));
    const sums: Losses = {};
    for (let b = 0; b < batches; b++) {
      ctx.signal.throwIfAborted();
      const indices = order.slice(b * bs, (b + 1) * bs);
      indices.forEach((idx, k) => batchData.set((images.data as Float32Array).subarray(idx * px, (idx + 1) * px), k * px));
      const batch = tf.tensor4d(batchData, [bs, h, w, c]);
      const tb = performance.now();
      const losses = await spec.step(batch, new Rng(`${seed}:step:${epoch}:${b}`), epoch, indices);
      batch.dispose();
      ctx.scalars(epoch * batches + b + 1, { ...losses, lr: ctx.params.lr * (spec.optimizers[0]?.scale ?? 1), imagesPerSecond: bs / Math.max(1e-6, (performance.now() - tb) / 1000) });
      const bad = Object.entries(losses).find(([, v]) => !Number.isFinite(v));
      if (bad) {
        const kept = epoch === 0 ? 'no checkpoint exists yet' : `the checkpoint after epoch ${epoch} is kept`;
        throw new Error(
          `${bad[0]} loss became ${bad[1]} at epoch ${epoch + 1}, batch ${b + 1} (${fmt(losses)}); stopped, ${kept}. Try a lower lr (now ${ctx.params.lr}).`,
        );
      }
      for (const [k, v] of Object.entries(losses)) sums[k] = (sums[k] ?? 0) + v;
      bar.tick(1, `epoch ${epoch + 1}/${epochs} ${fmt(losses)}`);
      // Let the event loop run: Ctrl-C, SIGTERM and a vanished parent are only noticed between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const seconds = (performance.now() - t0) / 1000;
    const means: Losses = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / batches]));
    const stats = { epoch: epoch + 1, ...means } as EpochStats;
    history.push(stats);
    speeds.push((batches * bs) / seconds);
    // Progress images first: the checkpoint then records them, so a run resumed from it has them as an uninterrupted one does.
    await spec.afterEpoch?.(epoch + 1, stats);
    const state = [...spec.weights, ...spec.optimizers.flatMap((o) => o.state())];
    ctx.checkpoint.save(
      epoch + 1,
      Object.fromEntries(await Promise.all(state.map(async (t, i) => [String(i), await toPlain(t)] as const))),
      { history, optimizerStep: spec.optimizers[0]?.step ?? 0 },
    );
    ctx.log.info(`epoch ${epoch + 1}/${epochs}: ${fmt(means)} (${speeds[speeds.length - 1]!.toFixed(1)} img/s)`);
  }
  bar.done();
  speeds.sort((a, b) => a - b);
  return { history, imagesPerSecond: speeds.length ? speeds[Math.floor(speeds.length / 2)] : undefined };
}

/** A model's variables: all of them (for checkpoints) or the trainable ones (for the optimizer). */
export function modelVars(models: TF.LayersModel[], trainable: boolean): TF.Variable[] {
  return models.flatMap((m) => (trainable ? m.trainableWeights : m.weights).map((w) => w.read() as TF.Variable));
}

/** The training split a training stage reads from its `data` input: the `train` images and their `format`. */
export function trainingSet(ctx: StageContext<unknown>): { up: StageInputs; images: Tensor; format: { size: number; polarity: 'ink-one' | 'ink-dark' } } {
  const up = ctx.input('data');
  return { up, images: up.tensor('train'), format: up.json('format') };
}
