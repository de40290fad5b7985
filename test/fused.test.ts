import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stepCalls } from '../bench/train.js';
import { Rng } from '../src/core/rng.js';
import * as ganTrainer from '../src/ml/models/gan-trainer.js';
import { phaseGrads, setupTraining, trainingContext } from '../src/ml/models/trainer.js';
import * as vaeTrainer from '../src/ml/models/vae-trainer.js';
import * as F from '../src/ml/tfjs/fused-ops.js';
import type * as TF from '../src/ml/tfjs/tf.js';
import { random, webgpuTf } from './kernel-cases.js';

const { tf, unavailable } = await webgpuTf();

const tensor = (shape: number[], seed: string, scale = 1, shift = 0) => tf!.add(tf!.mul(tf!.tensor(random(shape, seed), shape), scale), shift);

/**
 * fn on cpu, where fused-ops runs tfjs' own ops and tfjs differentiates
 * them, and on webgpu, where it runs pipe's fused kernels; returns the worst
 * difference relative to each result's largest value (plus 1e-6 absolute:
 * gradients that are zero in exact arithmetic come out as rounding noise).
 */
async function fusedVersusCpu(fn: (fused: boolean) => TF.Tensor[]): Promise<number> {
  const t = tf!;
  await t.setBackend('cpu');
  assert.equal(F.fused(t), false);
  const ref = await Promise.all(t.tidy(() => fn(false)).map((x) => x.data()));
  await t.setBackend('webgpu');
  assert.equal(F.fused(t), true, 'fused kernels registered on webgpu');
  const got = await Promise.all(t.tidy(() => fn(true)).map((x) => x.data()));
  let worst = 0;
  ref.forEach((r, i) => {
    assert.equal(got[i]!.length, r.length);
    const scale = Array.from(r).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    r.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - got[i]![j]!) / (scale + 1e-6))));
  });
  return worst;
}

/** The value and the gradients of sum(f(xs) · dy) with respect to every input. */
function withGrads(f: (...xs: TF.Tensor[]) => TF.Tensor, xs: TF.Tensor[], seed: string): TF.Tensor[] {
  const t = tf!;
  const y = f(...xs);
  const dy = t.tensor(random(y.shape, seed), y.shape);
  return [y, ...t.grads((...a: TF.Tensor[]) => t.sum(t.mul(f(...a), dy)))(xs)];
}

describe('fused training kernels on webgpu', { skip: unavailable || false }, () => {
  const norms: Array<[number[], number]> = [
    [[4, 5, 6, 3], 0],
    [[2, 3, 3, 7], 0.2],
    [[8, 33], 1],
    [[300, 5], 0],
    [[3, 4, 4, 128], 0.2],
  ];
  for (const [shape, alpha] of norms) {
    it(`batch norm + activation (slope ${alpha} below 0): y, moving averages and gradients match tfjs on cpu, x ${shape}`, async () => {
      const worst = await fusedVersusCpu(() => {
        const C = shape.at(-1)!;
        const [x, gamma, beta, mm] = [tensor(shape, 'x', 3, 0.5), tensor([C], 'g', 1, 1.5), tensor([C], 'b'), tensor([C], 'mm')];
        const mv = tf!.abs(tensor([C], 'mv'));
        const attrs = { epsilon: 1e-3, momentum: 0.9, alpha };
        const out = F.batchNormTrain(tf!, { x, gamma, beta, movingMean: mm, movingVariance: mv }, attrs);
        const grads = withGrads((a, g, b) => F.batchNormTrain(tf!, { x: a!, gamma: g!, beta: b!, movingMean: mm, movingVariance: mv }, attrs).y, [x, gamma, beta], 'dy');
        return [out.movingMean, out.movingVariance, ...grads];
      });
      assert.ok(worst < 1e-5, `worst relative difference ${worst}`);
    });
  }

  it(`batch norm over more than ${F.MAX_FUSED_CHANNELS} channels (a workgroup each is more than WebGPU dispatches) runs tfjs' ops, with the same results as cpu`, async () => {
    const shape = [2, F.MAX_FUSED_CHANNELS + 1];
    const norm = () => {
      const C = shape[1]!;
      const [x, gamma, beta, mm, mv] = [tensor(shape, 'x', 3), tensor([C], 'g', 1, 1.5), tensor([C], 'b'), tensor([C], 'mm'), tf!.abs(tensor([C], 'mv'))];
      const out = F.batchNormTrain(tf!, { x, gamma, beta, movingMean: mm, movingVariance: mv }, { epsilon: 1e-3, momentum: 0.9, alpha: 0 });
      return [out.y, out.movingMean, out.movingVariance];
    };
    const worst = await fusedVersusCpu(norm);
    assert.ok(worst < 1e-5, `worst relative difference ${worst}`);
    const info = await tf!.profile(() => tf!.tidy(norm));
    assert.ok(!info.kernels.some((k) => k.name === F.BATCH_NORM_TRAIN), 'the fused kernel did not run');
  });

  const acts: Array<[F.Activation, number[]]> = [
    ['linear', [2, 5, 5, 3]],
    ['relu', [3, 7]],
    ['leakyrelu', [2, 4, 4, 16]],
    ['sigmoid', [1, 6, 6, 2]],
    ['tanh', [5, 9]],
  ];
  for (const [activation, shape] of acts) {
    it(`bias + ${activation}: value and gradients match tfjs' add and ${activation} on cpu, x ${shape}`, async () => {
      const attrs = { activation, alpha: 0.2 };
      const reference = (x: TF.Tensor, b: TF.Tensor) => {
        const p = tf!.add(x, b);
        return { linear: p, relu: tf!.relu(p), leakyrelu: tf!.leakyRelu(p, 0.2), sigmoid: tf!.sigmoid(p), tanh: tf!.tanh(p) }[activation];
      };
      const worst = await fusedVersusCpu((fused) => withGrads((x, b) => (fused ? F.biasActivation(tf!, x!, b!, attrs) : reference(x!, b!)), [tensor(shape, 'x', 4), tensor([shape.at(-1)!], 'b')], 'dy'));
      assert.ok(worst < 1e-5, `worst relative difference ${worst}`);
    });
  }

  it('sigmoid cross-entropy: mean loss and gradient match tf.losses on cpu', async () => {
    for (const [n, label] of [[37, 0.9], [1, 0], [256, 1]] as const) {
      const worst = await fusedVersusCpu(() => withGrads((l) => F.sigmoidCrossEntropy(tf!, l!, label), [tensor([n, 1], `l${n}`, 6)], 'dy'));
      assert.ok(worst < 1e-5, `${n} logits, label ${label}: worst relative difference ${worst}`);
    }
  });

  it('binary cross-entropy: loss and gradients match tfjs on cpu, saturated predictions included (the clip passes no gradient)', async () => {
    const worst = await fusedVersusCpu(() => {
      const t = tf!.cast(tf!.greater(tensor([3, 8, 8, 1], 't'), 0), 'float32');
      // Values in (0, 1), and exact 0s and 1s, as a saturated sigmoid gives.
      const p = tf!.clipByValue(tf!.add(tf!.mul(tensor([3, 8, 8, 1], 'p'), 0.7), 0.5), 0, 1);
      return withGrads((a, b) => F.binaryCrossEntropy(tf!, a!, b!, 3), [t, p], 'dy');
    });
    assert.ok(worst < 1e-5, `worst relative difference ${worst}`);
  });

  it('KL divergence and the reparameterisation: values and gradients match tfjs on cpu', async () => {
    const worst = await fusedVersusCpu(() => {
      const [mu, logvar, eps] = [tensor([5, 4], 'm'), tensor([5, 4], 'v', 2), tensor([5, 4], 'e')];
      return [...withGrads((a, b) => F.gaussianKl(tf!, a!, b!, 5), [mu, logvar], 'dk'), ...withGrads((a, b, c) => F.reparameterize(tf!, a!, b!, c!), [mu, logvar, eps], 'dz')];
    });
    assert.ok(worst < 1e-5, `worst relative difference ${worst}`);
  });

  const recipes = {
    gan: () => setup(ganTrainer, { kind: 'gan', model: { size: 16, noise: 8, filters: 8, dFilters: 8, minibatchStd: false, pack: 1, upsample: 'transposed', refine: false, dNorm: 'batch', seed: 0 }, lr: 2e-4, lrD: 2e-4, beta1: 0.5, loss: 'non-saturating', labelSmoothing: 0.1, diffAugment: [], r1: 0, paper: -1 }),
    vae: () => setup(vaeTrainer, { kind: 'vae', model: { size: 16, latent: 4, filters: [4, 8], seed: 0 }, lr: 1e-3, recon: 'bce' }),
  };
  let backendName: 'cpu' | 'webgpu' = 'cpu';
  const setup = <R>(module: Parameters<typeof setupTraining<R>>[1], recipe: R) => setupTraining(trainingContext(backendName, 1), module, recipe);
  /** Every phase's gradients and losses from the model's initial weights, on a fixed batch and fixed step inputs. */
  async function stepGrads(backend: 'cpu' | 'webgpu', model: keyof typeof recipes) {
    backendName = backend;
    const { tf: t, trainer } = await recipes[model]();
    const batch = { data: Float32Array.from({ length: 4 * 16 * 16 }, (_, i) => (((i * 2654435761) >>> 0) % 7 === 0 ? 1 : 0)), shape: [4, 16, 16, 1] };
    const inputs = trainer.inputs(new Rng('fused'), 4, { beta: 1, sigma: 0 });
    const out = [];
    for (const phase of trainer.phases) out.push(await phaseGrads(t, phase, batch, inputs, { beta: 1, sigma: 0 }));
    return out;
  }

  for (const model of ['gan', 'vae'] as const) {
    it(`a whole ${model.toUpperCase()} step: the same gradients and losses as tfjs' own ops on cpu, and bit-identical run to run`, async () => {
      const cpu = await stepGrads('cpu', model);
      const gpu = await stepGrads('webgpu', model);
      const again = await stepGrads('webgpu', model);
      cpu.forEach((phase, p) => {
        for (const [name, loss] of Object.entries(phase.report)) assert.ok(Math.abs(loss - gpu[p]!.report[name]!) <= 1e-5 * Math.abs(loss) + 1e-6, `phase ${p} ${name}: cpu ${loss}, webgpu ${gpu[p]!.report[name]}`);
        phase.grads.forEach((g, j) => {
          const scale = Math.max(...Array.from(g, Math.abs));
          const worst = Math.max(...Array.from(g, (v, i) => Math.abs(v - gpu[p]!.grads[j]![i]!)));
          assert.ok(worst <= 1e-4 * scale + 1e-6, `phase ${p}, weight ${j}: max difference ${worst}, largest gradient ${scale}`);
          assert.ok(Buffer.from(gpu[p]!.grads[j]!.buffer).equals(Buffer.from(again[p]!.grads[j]!.buffer)), `phase ${p}, weight ${j}: differs between two webgpu runs`);
        });
      });
    });
  }

  it('kernel calls per training step: GAN 274 (target ≤ 300; 1,304 before fusion), VAE 90 (≤ 120; 264 before)', async () => {
    // The bench's counter (npm run bench:calls), on the bench's 64×64 models; the count does not depend on the batch size.
    const gan = await stepCalls('webgpu', 'gan', 2, 'pipe');
    const vae = await stepCalls('webgpu', 'vae', 2, 'pipe');
    assert.equal(gan.calls, 274, JSON.stringify(gan.byName));
    assert.equal(vae.calls, 90, JSON.stringify(vae.byName));
    assert.equal(gan.byName[F.BATCH_NORM_TRAIN], 17, 'every batch norm of the step fused: 4 in each generator pass, 3 in each discriminator pass');
    // GPU programs at batch 2 (the filter gradient's split of its reduction, and so its programs, depends on the batch).
    assert.equal(gan.dispatches, 347);
    assert.equal(vae.dispatches, 99);
  });
});
