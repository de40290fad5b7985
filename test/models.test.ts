import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type * as TF from '../src/ml/tfjs/tf.js';
import { getKernel } from '@tensorflow/tfjs-core';
import { Adam } from '../src/ml/models/adam.js';
import { applyAugment, drawAugment } from '../src/ml/models/diffaugment.js';
import { applyBlur, blurMatrix } from '../src/ml/models/input-blur.js';
import { WeightAverage } from '../src/ml/models/ema.js';
import { minibatchStd } from '../src/ml/models/minibatch-std.js';
import { packImages } from '../src/ml/models/pack.js';
import { fadeOut, linearDecay } from '../src/ml/models/schedule.js';
import { noiseVector } from '../src/ml/models/generate.js';
import { jacobianNorm } from '../src/ml/models/jacobian-norm.js';
import { buildGan } from '../src/ml/models/gan.js';
import * as ganTrainer from '../src/ml/models/gan-trainer.js';
import { adversarialLosses, topRows } from '../src/ml/models/gan-trainer.js';
import { SpectralBound } from '../src/ml/models/spectral-bound.js';
import { leanGradients } from '../src/ml/models/lean-grads.js';
import { exportLayersModel, importLayersModel } from '../src/ml/models/io.js';
import { modelVars, trainLoop } from '../src/ml/models/loop.js';
import * as vaeTrainer from '../src/ml/models/vae-trainer.js';
import { setupTraining, shard, trainingContext, trainStep } from '../src/ml/models/trainer.js';
import { buildVae, vaeLoss } from '../src/ml/models/vae.js';
import { Rng } from '../src/core/rng.js';
import type { Checkpoint, StageContext } from '../src/core/stage.js';
import type { Tensor } from '../src/core/tensor.js';
import { loadTf, type Tf } from '../src/ml/tfjs/backend.js';
import { CONV_CASES, convGrads, random, versusCpu } from './kernel-cases.js';

const { tf } = await loadTf('wasm');

describe('wasm training kernels', () => {
  for (const [mode, c] of (['stacked', 'col2im'] as const).flatMap((m) => CONV_CASES.map((c) => [m, c] as const))) {
    const [xs, co, k, s, pad] = c;
    it(`conv2d grads and conv2dTranspose match cpu (${mode}): x ${xs}, ${co} filters ${k}x${k}, stride ${s}, ${pad}`, async () => {
      await loadTf('wasm', { kernels: 'pipe', convt: mode });
      const worst = await versusCpu(tf, 'wasm', () => convGrads(tf, c));
      await loadTf('wasm');
      // float32 sums of up to a few hundred terms in a different order
      assert.ok(worst < 1e-4, `max |cpu - wasm| = ${worst}`);
    });
  }

  it('transposed matMul and broadcast tile match cpu', async () => {
    const worst = await versusCpu(tf, 'wasm', () =>
      tf.tidy(() => [
        tf.matMul(tf.tensor3d(random([2, 5, 3], 'a'), [2, 5, 3]), tf.tensor3d(random([2, 5, 4], 'b'), [2, 5, 4]), true, false),
        tf.matMul(tf.tensor2d(random([3, 6], 'c'), [3, 6]), tf.tensor2d(random([4, 6], 'd'), [4, 6]), false, true),
        tf.tile(tf.tensor4d(random([1, 1, 1, 5], 'e'), [1, 1, 1, 5]), [3, 4, 2, 1]),
        tf.tile(tf.tensor2d(random([2, 3], 'f'), [2, 3]), [2, 2]),
      ]),
    );
    assert.ok(worst < 1e-5, `${worst}`);
  });

  it("kernels: native switches them off: the stock wasm backend has no Conv2DBackpropFilter", async () => {
    assert.ok(getKernel('Conv2DBackpropFilter', 'wasm'));
    await loadTf('wasm', { kernels: 'native', convt: 'auto' });
    assert.equal(getKernel('Conv2DBackpropFilter', 'wasm'), undefined);
    await loadTf('wasm');
    assert.ok(getKernel('Conv2DBackpropFilter', 'wasm'));
  });
});


describe('sum and mean gradients', () => {
  it('broadcast dy on the device with the values tfjs gives: dy, and dy over the count for mean', () => {
    const x = tf.tensor(random([2, 3, 4], 'x'), [2, 3, 4]);
    const c = random([3], 'c');
    for (const keepDims of [false, true]) {
      const [gs, gm] = [tf.sum, tf.mean].map((reduce) => tf.grad((v: TF.Tensor) => tf.sum(tf.mul(reduce(v, [0, 2], keepDims), tf.tensor(c, keepDims ? [1, 3, 1] : [3]))))(x));
      const at = (i: number) => Math.fround(c[Math.floor(i / 4) % 3]!);
      assert.deepEqual(Array.from(gs!.dataSync()), Array.from({ length: 24 }, (_, i) => at(i)));
      assert.deepEqual(Array.from(gm!.dataSync()), Array.from({ length: 24 }, (_, i) => Math.fround(at(i) / 8)));
    }
    const full = tf.grad((v: TF.Tensor) => tf.mul(tf.mean(v), 3))(x);
    assert.deepEqual(Array.from(full.dataSync()), new Array(24).fill(Math.fround(3 / 24)));
  });
});

describe('lean training gradients', () => {
  it('match tfjs-layers own gradients and batch-norm moving statistics', () => {
    const config = { size: 16, noise: 4, filters: 3, dFilters: 3, minibatchStd: false, pack: 1, upsample: 'transposed' as const, refine: false, dNorm: 'batch' as const, seed: 5 };
    const [plain, lean] = [buildGan(tf, config), buildGan(tf, config)];
    leanGradients(tf, lean.generator);
    leanGradients(tf, lean.discriminator);
    const z = tf.tensor2d(random([6, 4], 'z'), [6, 4]);
    const w = tf.tensor2d(random([6, 1], 'w'), [6, 1]);
    const grads = (g: { generator: TF.LayersModel; discriminator: TF.LayersModel }) => {
      const vars = modelVars([g.generator, g.discriminator], true);
      const { grads: got } = tf.variableGrads(() => tf.sum(tf.mul(g.discriminator.apply(g.generator.apply(z, { training: true }), { training: true }) as TF.Tensor, w)) as TF.Scalar, vars);
      return vars.map((v) => got[v.name]!.dataSync());
    };
    const [a, b] = [grads(plain), grads(lean)];
    assert.equal(a.length, b.length);
    // 1e-4 of each variable's largest gradient, plus a floor for the biases of convs followed
    // by batch norm, whose true gradient is 0: both sides are rounding noise of about 1e-6 there.
    a.forEach((ga, i) => {
      const scale = Math.max(...ga.map(Math.abs));
      const worst = Math.max(...ga.map((v, j) => Math.abs(v - b[i]![j]!)));
      assert.ok(worst < 1e-4 * scale + 1e-5, `variable ${i}: largest gradient ${scale}, difference ${worst}`);
    });
    const stats = (g: { generator: TF.LayersModel; discriminator: TF.LayersModel }) => modelVars([g.generator, g.discriminator], false).filter((v) => /moving/.test(v.name)).map((v) => v.dataSync());
    const [sa, sb] = [stats(plain), stats(lean)];
    assert.equal(sa.length, 6);
    sa.forEach((v, i) => v.forEach((x, j) => assert.ok(Math.abs(x - sb[i]![j]!) < 1e-5, `moving statistic ${i}[${j}]: ${x} vs ${sb[i]![j]}`)));
  });
});

describe('models', () => {
  const size = 16;
  const x = tf.tensor4d(random([8, size, size, 1], 'img').map((v) => (v > 0.6 ? 1 : 0)), [8, size, size, 1]);

  it('VAE loss decreases over a few steps on a fixed batch', () => {
    const vae = buildVae(tf, { size, latent: 4, filters: [4, 8], seed: 1 });
    const trainable = modelVars([vae.encoder, vae.decoder], true);
    const opt = new Adam(tf, trainable, 0.01);
    const eps = tf.zeros([8, 4]) as TF.Tensor2D;
    const losses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const { value, grads } = tf.variableGrads(() => vaeLoss(tf, vae, x, eps, 'bce', 1, true).total, trainable);
      opt.apply(grads);
      losses.push(value.dataSync()[0]!);
      tf.dispose([value, ...Object.values(grads)]);
    }
    assert.ok(losses[19]! < 0.85 * losses[0]!, `losses ${losses[0]} -> ${losses[19]}`);
  });

  it('the same seed gives the same initial weights, seed 0 included (tfjs reads 0 as "unseeded")', () => {
    const sums = (seed: number) => buildGan(tf, { size, noise: 8, filters: 4, dFilters: 4, minibatchStd: false, pack: 1, upsample: 'transposed', refine: false, dNorm: 'batch', seed }).generator.weights.map((w) => tf.sum(w.read()).dataSync()[0]);
    assert.deepEqual(sums(0), sums(0));
    assert.notDeepEqual(sums(0), sums(1));
  });

  it('GAN generator makes size×size tanh images; the discriminator one logit each', () => {
    const gan = buildGan(tf, { size, noise: 8, filters: 4, dFilters: 4, minibatchStd: false, pack: 1, upsample: 'transposed', refine: false, dNorm: 'batch', seed: 2 });
    const img = gan.generator.predict(tf.randomNormal([3, 8], 0, 1, 'float32', 1)) as TF.Tensor;
    assert.deepEqual(img.shape, [3, size, size, 1]);
    const v = img.dataSync();
    assert.ok(v.every((p) => p >= -1 && p <= 1));
    assert.deepEqual((gan.discriminator.predict(img) as TF.Tensor).shape, [3, 1]);
  });

  it('filters sets the generator\'s width and dFilters the discriminator\'s, each doubling away from the image', () => {
    const gan = buildGan(tf, { size, noise: 8, filters: 6, dFilters: 3, minibatchStd: false, pack: 1, upsample: 'transposed', refine: false, dNorm: 'batch', seed: 2 });
    const widths = (m: TF.LayersModel, cls: string) => m.layers.filter((l) => l.getClassName() === cls).map((l) => (l.getConfig() as { filters: number }).filters);
    // size 16: two doublings; the generator's dense layer feeds a 4×4×12 map.
    assert.deepEqual(widths(gan.generator, 'Conv2DTranspose'), [6, 1]);
    assert.deepEqual(gan.generator.getLayer('g_reshape').outputShape, [null, 4, 4, 12]);
    assert.deepEqual(widths(gan.discriminator, 'Conv2D'), [3, 6]);
  });

  it('refine keeps the last doubling filters wide, with batch norm, and draws the image with a 3×3 conv; off, the weights are those of before', () => {
    const config = { size, noise: 8, filters: 4, dFilters: 4, minibatchStd: false, pack: 1, upsample: 'transposed' as const, dNorm: 'batch' as const, seed: 2 };
    const refined = buildGan(tf, { ...config, refine: true }).generator;
    const layers = refined.layers.map((l) => `${l.getClassName()}:${l.name}`);
    assert.deepEqual(layers.slice(-5), ['Conv2DTranspose:g_deconv2', 'BatchNormalization:g_bn2', 'ReLU:g_relu2', 'Conv2D:g_refine', 'Activation:g_tanh']);
    assert.equal((refined.getLayer('g_deconv2').getConfig() as { filters: number }).filters, 4);
    assert.deepEqual(refined.outputShape, [null, size, size, 1]);
    const plain = buildGan(tf, { ...config, refine: false }).generator;
    assert.deepEqual(plain.layers.slice(-2).map((l) => l.name), ['g_deconv2', 'g_tanh']);
    assert.equal((plain.getLayer('g_deconv2').getConfig() as { filters: number }).filters, 1);
    // Refine adds layers after the others, so the layers both have start from the same weights.
    const first = (g: TF.LayersModel) => Array.from(g.getLayer('g_deconv1').getWeights()[0]!.dataSync());
    assert.deepEqual(first(plain), first(refined));
  });

  it("upsample 'nearest' doubles the generator's maps by nearest-neighbour upsampling and a 3×3 conv, with no transposed conv", () => {
    const gan = buildGan(tf, { size, noise: 8, filters: 4, dFilters: 4, minibatchStd: false, pack: 1, upsample: 'nearest', refine: false, dNorm: 'batch', seed: 2 });
    const layers = gan.generator.layers.map((l) => `${l.getClassName()}:${l.name}`);
    assert.deepEqual(layers.filter((l) => /^(UpSampling2D|Conv2D|Conv2DTranspose):/.test(l)), ['UpSampling2D:g_up1', 'Conv2D:g_conv1', 'UpSampling2D:g_up2', 'Conv2D:g_conv2']);
    const img = gan.generator.predict(tf.randomNormal([3, 8], 0, 1, 'float32', 1)) as TF.Tensor;
    assert.deepEqual(img.shape, [3, size, size, 1]);
    const transposed = buildGan(tf, { size, noise: 8, filters: 4, dFilters: 4, minibatchStd: false, pack: 1, upsample: 'transposed', refine: false, dNorm: 'batch', seed: 2 });
    assert.deepEqual(transposed.generator.layers.filter((l) => l.getClassName() === 'Conv2DTranspose').map((l) => l.name), ['g_deconv1', 'g_deconv2']);
  });

  it('the spectral bound divides a kernel by its largest singular value when it exceeds 1, and leaves smaller ones alone', () => {
    const big = tf.variable(tf.tensor2d([3, 0, 0, 0.5], [2, 2]));
    const small = tf.variable(tf.tensor2d([0.5, 0, 0, 0.2], [2, 2]));
    // A conv kernel [h, w, in, out] is bounded as the matrix [h·w·in, out]: here one column of four 2s, σ = 4.
    const conv = tf.variable(tf.tensor4d([2, 0, 2, 0, 2, 0, 2, 0], [2, 2, 1, 2]));
    const bound = new SpectralBound(tf, [big, small, conv], new Rng('sn'));
    for (let i = 0; i < 20; i++) bound.project();
    const close = (a: ArrayLike<number>, b: number[]) => Array.from(a).every((x, i) => Math.abs(x - b[i]!) < 1e-4);
    assert.ok(close(big.dataSync(), [1, 0, 0, 0.5 / 3]), String(big.dataSync()));
    assert.deepEqual(Array.from(small.dataSync()), Array.from(Float32Array.from([0.5, 0, 0, 0.2])));
    assert.ok(close(conv.dataSync(), [0.5, 0, 0.5, 0, 0.5, 0, 0.5, 0]), String(conv.dataSync()));
    assert.ok(close(bound.sigmas(), [1, 0.5, 1]), String(bound.sigmas()));
  });

  it("dNorm 'spectral' leaves batch norm out of the discriminator", () => {
    const names = (dNorm: 'batch' | 'spectral') => buildGan(tf, { size, noise: 8, filters: 4, dFilters: 4, minibatchStd: false, pack: 1, upsample: 'transposed', refine: false, dNorm, seed: 2 }).discriminator.layers.filter((l) => l.getClassName() === 'BatchNormalization').map((l) => l.name);
    assert.deepEqual(names('batch'), ['d_bn2']);
    assert.deepEqual(names('spectral'), []);
  });

  it('the adversarial losses: hinge and non-saturating, on given logits', () => {
    const real = tf.tensor2d([2, 0.5], [2, 1]);
    const fake = tf.tensor2d([-0.5, 1], [2, 1]);
    const value = (t: TF.Tensor) => t.dataSync()[0]!;
    const hinge = adversarialLosses(tf, 'hinge', 0.1);
    // D: mean(relu(1 - [2, 0.5])) + mean(relu(1 + [-0.5, 1])) = 0.25 + 1.25; G: -mean([-0.5, 1]).
    assert.equal(value(hinge.dLoss(real, fake)), 1.5);
    assert.equal(value(hinge.gLoss(fake)), -0.25);
    // Cross-entropy of logit l against label y: max(l, 0) - l·y + log(1 + e^-|l|).
    const ce = (l: number, y: number) => Math.max(l, 0) - l * y + Math.log1p(Math.exp(-Math.abs(l)));
    const ns = adversarialLosses(tf, 'non-saturating', 0.1);
    const mean = (l: number[], y: number) => (ce(l[0]!, y) + ce(l[1]!, y)) / 2;
    assert.ok(Math.abs(value(ns.dLoss(real, fake)) - (mean([2, 0.5], 0.9) + mean([-0.5, 1], 0))) < 1e-6);
    assert.ok(Math.abs(value(ns.gLoss(fake)) - mean([-0.5, 1], 1)) < 1e-6);
  });

  it('top-k training: the generator learns only from the rows the discriminator scores most real', () => {
    const fake = tf.tensor2d([3, -1, 2, 0, 2], [5, 1]);
    const softplus = (v: number) => Math.log1p(Math.exp(v));
    // keep 0.5 of 5 rows is 3 (round(2.5)): logits 3 and both 2s; the first of equals comes first.
    assert.deepEqual(Array.from(topRows(tf, fake, 0.5).tensor.dataSync()), [1, 0, 1, 0, 1]);
    assert.deepEqual(Array.from(topRows(tf, fake, 0.2).tensor.dataSync()), [1, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(topRows(tf, fake, 0.01).tensor.dataSync()), [1, 0, 0, 0, 0]);
    const ns = adversarialLosses(tf, 'non-saturating', 0.1);
    assert.ok(Math.abs(ns.gLoss(fake, 0.5).dataSync()[0]! - (softplus(-3) + 2 * softplus(-2)) / 3) < 1e-6);
    // keep 1 is the plain loss over every row.
    assert.ok(Math.abs(ns.gLoss(fake, 1).dataSync()[0]! - [3, -1, 2, 0, 2].reduce((a, l) => a + softplus(-l), 0) / 5) < 1e-6);
    const hinge = adversarialLosses(tf, 'hinge', 0);
    assert.ok(Math.abs(hinge.gLoss(fake, 0.5).dataSync()[0]! - -7 / 3) < 1e-6);
    // No gradient reaches the rows left out: d/dl softplus(-l) = -σ(-l), divided by the 3 kept.
    const grad = tf.grad((l: TF.Tensor) => ns.gLoss(l, 0.5))(fake).dataSync();
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const close = (a: ArrayLike<number>, b: number[]) => Array.from(a).every((x, i) => Math.abs(x - b[i]!) < 1e-6);
    assert.ok(close(grad, [-sig(-3) / 3, 0, -sig(-2) / 3, 0, -sig(-2) / 3]), String(grad));
  });

  it('an exported LayersModel loads back and gives the same output', async () => {
    const vae = buildVae(tf, { size, latent: 4, filters: [4, 8], seed: 3 });
    const { json, weights } = await exportLayersModel(tf, vae.decoder);
    assert.equal(JSON.parse(json).format, 'layers-model');
    const back = await importLayersModel(tf, json, weights);
    const z = tf.tensor2d(random([5, 4], 'z'), [5, 4]);
    assert.deepEqual((back.predict(z) as TF.Tensor).dataSync(), (vae.decoder.predict(z) as TF.Tensor).dataSync());
  });
});

describe('GAN training aids', () => {
  const img = (n: number, size: number, f: (k: number, y: number, x: number) => number) =>
    tf.tensor4d(Float32Array.from({ length: n * size * size }, (_, i) => f(Math.floor(i / (size * size)), Math.floor(i / size) % size, i % size)), [n, size, size, 1]);

  it('DiffAugment translation moves each image by its own shift, filling with paper; cutout blanks a half-size square', () => {
    const size = 16;
    // A distinct value per pixel, in [-1, 1); paper is -1.
    const x = img(3, size, (k, y, x) => (k * 256 + y * 16 + x) / 768 - 0.999);
    const draw = drawAugment(new Rng('aug'), 3, size, ['translation']);
    const shiftOf = (m: Float32Array, k: number) => {
      // Row 8's 1 sits at column 8 - shift.
      const row = m.subarray(k * size * size + 8 * size, k * size * size + 9 * size);
      return 8 - row.indexOf(1);
    };
    const out = applyAugment(tf, x, draw.map((d) => tf.tensor(d.data, d.shape)), ['translation'], -1).arraySync() as number[][][][];
    const src = x.arraySync() as number[][][][];
    for (let k = 0; k < 3; k++) {
      const [dy, dx] = [shiftOf(draw[0]!.data, k), shiftOf(draw[1]!.data, k)];
      assert.ok(Math.abs(dy) <= 2 && Math.abs(dx) <= 2, `shift (${dy}, ${dx}) within 1/8 of ${size}`);
      for (let y = 0; y < size; y++) {
        for (let x0 = 0; x0 < size; x0++) {
          const [sy, sx] = [y - dy, x0 - dx];
          const want = sy >= 0 && sy < size && sx >= 0 && sx < size ? src[k]![sy]![sx]![0]! : -1;
          assert.ok(Math.abs(out[k]![y]![x0]![0]! - want) < 1e-6, `image ${k} (${y}, ${x0})`);
        }
      }
    }
    const [mask] = drawAugment(new Rng('cut'), 4, size, ['cutout']);
    for (let k = 0; k < 4; k++) {
      const zeros = mask!.data.subarray(k * size * size, (k + 1) * size * size).filter((v) => v === 0).length;
      assert.ok(zeros > 0 && zeros <= 64, `image ${k}: ${zeros} pixels cut, at most (16/2)²`);
    }
    const cut = applyAugment(tf, tf.onesLike(img(4, size, () => 0)), [tf.tensor(mask!.data, mask!.shape)], ['cutout'], -1).dataSync();
    assert.deepEqual(Array.from(cut), Array.from(mask!.data, (m) => (m ? 1 : -1)));
  });

  it('DiffAugment passes gradients through to the images (the generator learns through it)', () => {
    const x = img(2, 8, (k, y, x) => Math.sin(k + y + x));
    const draw = drawAugment(new Rng('g'), 2, 8, ['translation', 'cutout']).map((d) => tf.tensor(d.data, d.shape));
    const g = tf.grad((t: TF.Tensor) => tf.sum(applyAugment(tf, t, draw, ['translation', 'cutout'], -1)))(x).dataSync();
    // Each kept output pixel comes from exactly one input pixel: gradients are 0 or 1, some of each.
    assert.ok(g.every((v) => v === 0 || v === 1) && g.some((v) => v === 1) && g.some((v) => v === 0));
  });

  it("the discriminator's input blur spreads one ink pixel into a Gaussian around it, reads paper past the edge, and passes gradients", () => {
    const size = 9;
    // Paper -1, one ink pixel (1) in the middle of the first image, and one in the corner of the second.
    const x = img(2, size, (k, y, x) => ((k === 0 && y === 4 && x === 4) || (k === 1 && y === 0 && x === 0) ? 1 : -1));
    const b = blurMatrix(size, 1);
    // Symmetric, and rows that reach past an edge sum to less than 1: that share reads paper.
    assert.ok(b.every((v, i) => v === b[(i % size) * size + Math.floor(i / size)]));
    assert.ok(Math.abs(b.subarray(4 * size, 5 * size).reduce((s, v) => s + v, 0) - 1) < 1e-6 && b.subarray(0, size).reduce((s, v) => s + v, 0) < 0.9);
    const out = applyBlur(tf, x, 1, -1).arraySync() as number[][][][];
    // Taps 0, ±1, ±2, ±3 of exp(-t²/2), normalised: the centre keeps 0.4 of the ink (in each axis), its neighbour 0.24.
    const g = [0, 1, 2, 3].map((t) => Math.exp(-(t * t) / 2));
    const w = g.map((v) => v / (g[0]! + 2 * (g[1]! + g[2]! + g[3]!)));
    const near = (a: number, want: number, what: string) => assert.ok(Math.abs(a - want) < 1e-6, `${what}: ${a}, want ${want}`);
    near(out[0]![4]![4]![0]!, -1 + 2 * w[0]! * w[0]!, 'centre');
    near(out[0]![4]![5]![0]!, -1 + 2 * w[0]! * w[1]!, 'right of it');
    near(out[0]![0]![0]![0]!, -1, 'four pixels away in both axes, outside 3σ');
    // In the corner, the taps past the edge read paper: the ink is not renormalised into the image.
    near(out[1]![0]![0]![0]!, -1 + 2 * w[0]! * w[0]!, 'corner');
    const grad = tf.grad((t: TF.Tensor) => tf.sum(applyBlur(tf, t, 1, -1)))(x).dataSync();
    // Every input pixel 3 or more from the edge sends all of its weight to the output.
    near(grad[4 * size + 4]!, 1, 'gradient at the centre');
    assert.ok(grad[0]! < 1 && grad[0]! > 0.3, `gradient at the corner ${grad[0]}: part of its blur fell off the image`);
  });

  it("R1 adds γ/2 times the discriminator's squared gradient at the real images, by a finite difference along the step's direction; off, the inputs are those of before", () => {
    const model = { size: 16, noise: 8, filters: 4, dFilters: 4, minibatchStd: false, pack: 1, upsample: 'transposed' as const, refine: false, dNorm: 'spectral' as const, seed: 2 };
    const recipe = { kind: 'gan' as const, model, lr: 2e-4, lrD: 2e-4, beta1: 0.5, loss: 'non-saturating' as const, labelSmoothing: 0.1, diffAugment: [], paper: -1 };
    const s = { sigma: 0, blur: 0, keep: 1 };
    assert.equal(ganTrainer.makeTrainer(tf, { ...recipe, r1: 0 }).inputs(new Rng('r1'), 4, s).length, 2);
    const trainer = ganTrainer.makeTrainer(tf, { ...recipe, r1: 10 });
    const host = trainer.inputs(new Rng('r1'), 4, s);
    // Two noise batches, then the direction: one image-shaped draw per real image.
    assert.deepEqual(host.map((t) => t.shape), [[4, 8], [4, 8], [4, 16, 16, 1]]);
    const x = img(4, 16, (k, y, x) => ((x + 2 * y + k) % 7 === 0 ? 1 : 0));
    const ins = host.map((t) => tf.tensor(t.data, t.shape));
    const value = (t: TF.Tensor) => t.dataSync()[0]!;
    // Kernels 4 times their initial scale: a trained discriminator's gradient, not one so small that float32 rounds its differences.
    const D = trainer.models[1]!;
    D.setWeights(D.getWeights().map((w) => tf.mul(w, 4)));
    const l = trainer.phases[0]!.loss(x, ins, s);
    const [d, r1] = [value(l.report.d!), value(l.report.r1!)];
    assert.ok(Math.abs(value(l.total) - (d + 5 * r1)) < 1e-5 * (d + 5 * r1));
    // Without batch norm each row's logit depends on its own image only: the exact directional derivatives.
    const real = tf.sub(tf.mul(x, 2), 1);
    const grad = tf.grad((t: TF.Tensor) => tf.sum(D.apply(t, { training: true }) as TF.Tensor))(real);
    const along = tf.sum(tf.reshape(tf.mul(grad, ins[2]!), [4, -1]), 1).dataSync();
    const exact = Array.from(along).reduce((sum, v) => sum + v * v, 0) / 4;
    // The difference crosses some leaky-ReLU kinks, so it matches to a few percent, not to rounding.
    assert.ok(exact > 1e-3 && Math.abs(r1 - exact) < 0.05 * exact, `${r1} vs ${exact}`);
  });

  it('the minibatch standard deviation map is the mean spread over the batch, differentiable, and a discriminator with it saves and loads', async () => {
    const layer = minibatchStd(tf, 'mbstd');
    const x = tf.tensor4d([0, 2, 4, 6, 1, 1, 1, 1], [2, 2, 2, 1]);
    const y = layer.apply(x) as TF.Tensor;
    assert.deepEqual(y.shape, [2, 2, 2, 2]);
    // Standard deviations over the batch of two, per pixel: half of |0-1|, |2-1|, |4-1|, |6-1|: 0.5, 0.5, 1.5, 2.5; mean 1.25.
    const v = Array.from(y.dataSync());
    assert.deepEqual(v.filter((_, i) => i % 2 === 1).map((s) => Number(s.toFixed(4))), new Array(8).fill(1.25));
    assert.deepEqual(v.filter((_, i) => i % 2 === 0), [0, 2, 4, 6, 1, 1, 1, 1]);
    const g = tf.grad((t: TF.Tensor) => tf.sum(tf.slice(layer.apply(t) as TF.Tensor, [0, 0, 0, 1], [-1, -1, -1, 1])))(x).dataSync();
    assert.ok(g.some((e) => e !== 0), 'the spread passes gradients back to the images');
    const { discriminator } = buildGan(tf, { size: 16, noise: 8, filters: 4, dFilters: 4, minibatchStd: true, pack: 1, upsample: 'transposed', refine: false, dNorm: 'batch', seed: 3 });
    const { json, weights } = await exportLayersModel(tf, discriminator);
    const back = await importLayersModel(tf, json, weights);
    const imgs = tf.tensor4d(random([3, 16, 16, 1], 'd'), [3, 16, 16, 1]);
    assert.deepEqual((back.predict(imgs) as TF.Tensor).dataSync(), (discriminator.predict(imgs) as TF.Tensor).dataSync());
  });

  it('packing stacks consecutive images as channels, passes gradients back to each, and sizes the discriminator for it', () => {
    const imgs = tf.tensor4d([0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33], [4, 2, 2, 1]);
    const packed = packImages(tf, imgs, 2);
    assert.deepEqual(packed.shape, [2, 2, 2, 2]);
    // Pixel (0, 0) of the first pack holds image 0's and image 1's; of the second, image 2's and 3's.
    assert.deepEqual(Array.from(packed.dataSync()), [0, 10, 1, 11, 2, 12, 3, 13, 20, 30, 21, 31, 22, 32, 23, 33]);
    assert.equal(packImages(tf, imgs, 1), imgs);
    assert.throws(() => packImages(tf, imgs, 3), /^Error: cannot pack 4 images of 1 channel by 3: packing needs 1-channel images, a multiple of 3 of them$/);
    const weights = tf.tensor4d(Array.from({ length: 16 }, (_, i) => i), [2, 2, 2, 2]);
    const g = tf.grad((t: TF.Tensor) => tf.sum(tf.mul(packImages(tf, t, 2), weights)))(imgs);
    // Each image pixel gets the weight of the channel it landed in.
    assert.deepEqual(Array.from(g.dataSync()), [0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15]);
    const { discriminator } = buildGan(tf, { size: 16, noise: 8, filters: 4, dFilters: 4, minibatchStd: false, pack: 2, upsample: 'transposed', refine: false, dNorm: 'batch', seed: 3 });
    assert.deepEqual(discriminator.inputs[0]!.shape, [null, 16, 16, 2]);
    assert.deepEqual((discriminator.predict(packImages(tf, tf.zeros([6, 16, 16, 1]), 2)) as TF.Tensor).shape, [3, 1]);
  });

  it('the weight average follows decay·avg + (1 − decay)·w and swaps in only while asked', async () => {
    const v = tf.variable(tf.tensor1d([0, 10]));
    const avg = new WeightAverage(tf, [v], 0.9);
    v.assign(tf.tensor1d([10, 0]));
    avg.update();
    v.assign(tf.tensor1d([20, 0]));
    avg.update();
    // 0.9·(0.9·0 + 0.1·10) + 0.1·20 = 2.9; 0.9·(0.9·10 + 0) + 0 = 8.1
    const got = await avg.swapped(async () => Array.from(v.dataSync()));
    assert.deepEqual(got.map((x) => Number(x.toFixed(5))), [2.9, 8.1]);
    assert.deepEqual(Array.from(v.dataSync()), [20, 0]);
  });

  it('the rate decay keeps 1 until its last fraction, then falls linearly to 0; 0 keeps the rate', () => {
    assert.deepEqual([0, 0.25, 0.5, 0.75, 0.9, 1].map((done) => Number(linearDecay(done, 0.5).toFixed(6))), [1, 1, 1, 0.5, 0.2, 0]);
    assert.deepEqual([0, 0.5, 0.999].map((done) => linearDecay(done, 0)), [1, 1, 1]);
    // Over the whole run: from 1 at the first step.
    assert.equal(linearDecay(0.25, 1), 0.75);
  });

  it("the blur's fade falls from 1 to 0 over its first fraction and stays 0; over the whole run it is the instance noise's", () => {
    assert.deepEqual([0, 0.25, 0.5, 0.75, 1].map((done) => fadeOut(done, 0.5)), [1, 0.5, 0, 0, 0]);
    for (const done of [0, 0.1, 0.37, 0.9, 1]) assert.equal(fadeOut(done, 1), linearDecay(done, 1));
  });

  it('the truncation trick draws a noise value again while it lies beyond the limit; 0 keeps the plain draws', () => {
    const plain = new Rng('z');
    const expected = Float32Array.from({ length: 4000 }, () => plain.normal());
    assert.deepEqual(noiseVector(new Rng('z'), 4000, 0), expected);
    assert.ok(expected.some((v) => Math.abs(v) > 1), 'the plain draws reach beyond 1');
    const cut = noiseVector(new Rng('z'), 4000, 1);
    assert.ok(cut.every((v) => Math.abs(v) <= 1));
    // Every draw inside the limit is kept, in order: the first values are the plain ones up to the first redraw.
    const first = expected.findIndex((v) => Math.abs(v) > 1);
    assert.deepEqual(cut.subarray(0, first), expected.subarray(0, first));
    assert.equal(cut[first], expected.slice(first).find((v) => Math.abs(v) <= 1));
  });

  it("the Jacobian's norm: for a linear generator, the mean of ‖W v‖² over the directions, for every noise vector", () => {
    const z = tf.input({ shape: [3] });
    const dense = tf.layers.dense({ units: 4, useBias: true, biasInitializer: 'ones', kernelInitializer: tf.initializers.randomNormal({ seed: 5 }) });
    const net = tf.model({ inputs: z, outputs: dense.apply(z) as TF.SymbolicTensor });
    const w = dense.getWeights()[0]!.arraySync() as number[][];
    const at = tf.tensor2d([0, 0, 0, 1, -2, 0.5], [2, 3]);
    const dirs = [[1, 0, 0, 0, 1, 0], [0.5, -1, 2, 3, -2, 4]].map((d) => tf.tensor2d(d, [2, 3]));
    const norm = jacobianNorm(tf, net, at, net.predict(at) as TF.Tensor, dirs).dataSync();
    // J = Wᵀ everywhere: the estimate is exact whatever the step, up to float32 rounding of the differences.
    const sq = (v: number[]) => [0, 1, 2, 3].reduce((s, j) => s + (v[0]! * w[0]![j]! + v[1]! * w[1]![j]! + v[2]! * w[2]![j]!) ** 2, 0);
    const want = [0, 1].map((row) => dirs.reduce((s, d) => s + sq(Array.from(d.dataSync().subarray(row * 3, row * 3 + 3))), 0) / 2);
    for (const row of [0, 1]) assert.ok(Math.abs(norm[row]! - want[row]!) < 2e-3 * want[row]!, `row ${row}: ${norm[row]} vs ${want[row]}`);
    // The second row's directions are longer: its norm is its own, not the batch's.
    assert.ok(norm[1]! > 2 * norm[0]!, `${norm[1]} vs ${norm[0]}`);
  });

  it("Adam's scale multiplies its learning rate: lr 0.01 at scale 0.5 steps exactly as lr 0.005", () => {
    const run = (lr: number, scale: number) => {
      const w = tf.variable(tf.tensor1d([1, -2, 3]));
      const adam = new Adam(tf, [w], lr, 0.5);
      adam.scale = scale;
      for (let i = 0; i < 3; i++) {
        const g = tf.mul(w, 2);
        adam.apply({ [w.name]: g });
        g.dispose();
      }
      const out = Array.from(w.dataSync());
      tf.dispose([w, ...adam.state()]);
      return out;
    };
    assert.deepEqual(run(0.01, 0.5), run(0.005, 1));
    assert.notDeepEqual(run(0.01, 0.5), run(0.01, 1));
  });
});

/** A StageContext with an in-memory checkpoint, enough for trainLoop. */
function fakeContext(params: { epochs: number; batchSize: number; seed: number; lr: number }, store: { ckpt?: Checkpoint; steps?: number[]; lrs?: number[] }, stopAfter?: number) {
  const ctrl = new AbortController();
  const ctx = {
    name: 't',
    params,
    signal: ctrl.signal,
    log: { info: () => {}, warn: () => {} },
    progress: () => ({ tick: () => {}, done: () => {} }),
    scalars: (step: number, values: { lr: number }) => {
      (store.steps ??= []).push(step);
      (store.lrs ??= []).push(values.lr);
    },
    checkpoint: {
      load: () => store.ckpt,
      save: (step: number, tensors: Record<string, Tensor>, state?: unknown) => {
        store.ckpt = { step, tensors: structuredClone(tensors), state: structuredClone(state) };
        if (step === stopAfter) ctrl.abort();
      },
    },
  };
  return ctx as unknown as StageContext<typeof params>;
}

async function trainVae(tf: Tf, images: Tensor, ctx: StageContext<{ epochs: number; batchSize: number; seed: number; lr: number }>) {
  const vae = buildVae(tf, { size: 16, latent: 4, filters: [4, 8], seed: 5 });
  const trainable = modelVars([vae.encoder, vae.decoder], true);
  const weights = modelVars([vae.encoder, vae.decoder], false);
  const opt = new Adam(tf, trainable, ctx.params.lr);
  await trainLoop({
    tf,
    ctx,
    images,
    weights,
    optimizers: [opt],
    step(batch, rng) {
      const eps = tf.tensor2d(Float32Array.from({ length: batch.shape[0] * 4 }, () => rng.normal()), [batch.shape[0], 4]);
      const { value, grads } = tf.variableGrads(() => vaeLoss(tf, vae, batch, eps, 'bce', 1, true).total, trainable);
      opt.apply(grads);
      const v = value.dataSync()[0]!;
      tf.dispose([eps, value, ...Object.values(grads)]);
      return { total: v };
    },
  });
  return weights.map((w) => Array.from(w.dataSync()));
}

describe('replica threads', () => {
  const recipe: vaeTrainer.VaeRecipe = { kind: 'vae', model: { size: 16, latent: 4, filters: [4, 8], seed: 7 }, lr: 0.01, recon: 'bce' };
  const x = tf.tensor4d(Float32Array.from(random([8, 16, 16, 1], 'rep'), (v) => (v > 0.5 ? 1 : 0)), [8, 16, 16, 1]);

  async function steps(threads: number): Promise<{ losses: number[]; weights: number[] }> {
    const { trainer, opts, weights, pool } = await setupTraining(trainingContext('wasm', threads), vaeTrainer, recipe);
    const rng = new Rng('steps');
    const losses: number[] = [];
    for (let i = 0; i < 3; i++) losses.push((await trainStep(tf, trainer, opts, weights, x, rng, { beta: 1 }, pool)).total!);
    await pool?.close();
    return { losses, weights: Array.from(weights[0]!.dataSync()) };
  }

  it('two threads: the same result every run, and the same losses as one thread up to float rounding', async () => {
    const one = await steps(1);
    const a = await steps(2);
    const b = await steps(2);
    assert.deepEqual(a, b);
    a.losses.forEach((l, i) => assert.ok(Math.abs(l - one.losses[i]!) < 1e-4 * Math.abs(l), `${l} vs ${one.losses[i]}`));
  });

  it('splits a batch and its inputs into row shards in order', () => {
    const parts = shard({ data: Float32Array.from([0, 1, 2, 3, 4]), shape: [5, 1] }, [{ data: Float32Array.from([5, 6, 7, 8, 9]), shape: [5] }], 2);
    assert.deepEqual(parts.map((p) => Array.from(p.batch.data)), [[0, 1], [2, 3, 4]]);
    assert.deepEqual(parts.map((p) => Array.from(p.inputs[0]!.data)), [[5, 6], [7, 8, 9]]);
  });
});

describe('training loop', () => {
  const images: Tensor = { dtype: 'float32', shape: [24, 16, 16, 1], data: Float32Array.from(random([24, 16, 16, 1], 'data'), (v) => (v > 0.5 ? 1 : 0)) };
  const params = { epochs: 3, batchSize: 8, seed: 4, lr: 0.002 };

  it('resuming from a checkpoint gives bit-identical weights to an uninterrupted run', async () => {
    const uninterrupted: { steps?: number[] } = {};
    const whole = await trainVae(tf, images, fakeContext(params, uninterrupted));
    const store: { ckpt?: Checkpoint; steps?: number[] } = {};
    await assert.rejects(trainVae(tf, images, fakeContext(params, store, 1)), /abort/i);
    assert.equal(store.ckpt?.step, 1);
    const logged = store.steps!.length;
    const resumed = await trainVae(tf, images, fakeContext(params, store));
    assert.deepEqual(resumed, whole);
    // One scalar row per batch, numbered across epochs; the resumed run goes on after the checkpoint's steps.
    assert.deepEqual(store.steps, uninterrupted.steps);
    assert.ok(logged > 0 && logged < uninterrupted.steps!.length);
  });

  it('logs the rate each step trained at: lr times the scale a schedule set', async () => {
    const store: { lrs?: number[] } = {};
    const w = tf.variable(tf.zeros([2]));
    const opt = new Adam(tf, [w], params.lr);
    let steps = 0;
    await trainLoop({ tf, ctx: fakeContext({ ...params, epochs: 1 }, store), images, weights: [w], optimizers: [opt], step: () => ((opt.scale = [1, 0.5, 0.25][steps++]!), { total: 0 }) });
    assert.deepEqual(store.lrs, [0.002, 0.001, 0.0005]);
    tf.dispose([w, ...opt.state()]);
  });

  it('stops on a NaN loss, naming the epoch and batch, and keeps the last checkpoint', async () => {
    const store: { ckpt?: Checkpoint } = {};
    await assert.rejects(trainVae(tf, images, fakeContext({ ...params, lr: 1e9 }, store)), /total loss became (NaN|Infinity|-Infinity) at epoch \d+, batch \d+ .*Try a lower lr \(now 1000000000\)/);
  });
});
