import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getKernel } from '@tensorflow/tfjs-core';
import { Adam } from '../src/ml/models/adam.js';
import { ADAM_UPDATE } from '../src/ml/tfjs/adam-kernel.js';
import { loadTf } from '../src/ml/tfjs/backend.js';
import { planFilterGrad } from '../src/ml/tfjs/webgpu-kernels.js';
import { CONV_CASES, convGrads, random, versusCpu, webgpuTf } from './kernel-cases.js';

describe('webgpu filter-gradient plan', () => {
  it('splits the long reduction axis when the filter alone gives few tiles', () => {
    // GAN layer 2: R = 4·4·16 rows, 32 filters, P = 32·16·16 terms: 4 tiles, 512 K-steps.
    assert.deepEqual(planFilterGrad(256, 32, 8192), { tileR: 64, tileC: 32, splits: 128, chunk: 64 });
    // Too few terms to split: one pass.
    assert.deepEqual(planFilterGrad(16, 16, 40), { tileR: 16, tileC: 16, splits: 1, chunk: 48 });
    // Splits always cover every term exactly once.
    for (const [r, c, p] of [[1024, 128, 32 * 16], [48, 5, 2 * 4 * 4], [16, 1, 256 * 4096]] as const) {
      const plan = planFilterGrad(r, c, p);
      assert.ok(plan.splits * plan.chunk >= p && (plan.splits - 1) * plan.chunk < p, JSON.stringify(plan));
    }
  });
});

const { tf, unavailable } = await webgpuTf();

describe('webgpu training kernels', { skip: unavailable || false }, () => {
  for (const c of CONV_CASES) {
    const [xs, co, k, s, pad] = c;
    it(`conv2d grads and conv2dTranspose match cpu: x ${xs}, ${co} filters ${k}x${k}, stride ${s}, ${pad}`, async () => {
      const worst = await versusCpu(tf!, 'webgpu', () => convGrads(tf!, c));
      assert.ok(worst < 1e-4, `max |cpu - webgpu| = ${worst}`);
    });
  }

  it('a long unbatched product with a transposed operand matches cpu (tfjs split-K avoided)', async () => {
    const worst = await versusCpu(tf!, 'webgpu', () => [tf!.matMul(tf!.tensor2d(random([32, 4096], 'a'), [32, 4096]), tf!.tensor2d(random([32, 4096], 'b'), [32, 4096]), false, true)]);
    // sums of 4,096 products of values in [-1, 1]
    assert.ok(worst < 1e-3, `max |cpu - webgpu| = ${worst}`);
  });

  it('kernels: native switches them off: the stock kernels come back', async () => {
    const ours = getKernel('Conv2DBackpropFilter', 'webgpu')!.kernelFunc;
    await loadTf('webgpu', { kernels: 'native', convt: 'auto' });
    const stock = getKernel('Conv2DBackpropFilter', 'webgpu')!.kernelFunc;
    assert.notEqual(stock, ours);
    await loadTf('webgpu');
    assert.notEqual(getKernel('Conv2DBackpropFilter', 'webgpu')!.kernelFunc, stock);
  });

  it('uploads host values exactly, also into buffers freed while commands using them were pending', async () => {
    const t = tf!;
    const backend = t.backend() as unknown as { uploadToGPU: unknown };
    assert.notEqual(backend.uploadToGPU, Object.getPrototypeOf(backend).uploadToGPU, 'pipe upload path installed');
    const expected: number[][] = [];
    const results: Array<import('@tensorflow/tfjs-core').Tensor> = [];
    let acc = t.zeros([1000]);
    for (let i = 0; i < 40; i++) {
      const host = random([1000], `u${i}`);
      // Same-sized buffers are freed and reused between recording and submission.
      const next = t.tidy(() => t.add(acc, t.tensor1d(host)));
      acc.dispose();
      acc = next;
      expected.push(Array.from(host));
      results.push(t.tensor1d(Int32Array.from(host, (v) => Math.round(v * 100) | 0), 'int32'));
    }
    const sum = expected.reduce((s, h) => s.map((v, j) => v + h[j]!), new Array<number>(1000).fill(0));
    const got = await acc.data();
    assert.ok(Math.max(...sum.map((v, j) => Math.abs(v - got[j]!))) < 1e-4);
    for (const [i, r] of results.entries()) assert.deepEqual(Array.from(await r.data()), expected[i]!.map((v) => Math.round(v * 100) | 0));
    assert.deepEqual(Array.from(await t.tensor1d([true, false, true], 'bool').data()), [1, 0, 1]);
    t.dispose([acc, ...results]);
  });

  it('the fused Adam update matches the op-by-op update', async () => {
    const t = tf!;
    assert.ok(getKernel(ADAM_UPDATE, 'webgpu'), 'fused kernel registered');
    const run = (steps: number) => {
      const w = t.variable(t.tensor(random([5, 7], 'w'), [5, 7]));
      const adam = new Adam(t, [w], 0.01, 0.5, 0.999);
      for (let i = 0; i < steps; i++) {
        const g = t.tensor(random([5, 7], `g${i}`), [5, 7]);
        adam.apply({ [w.name]: g });
        g.dispose();
      }
      return [w, ...adam.state()];
    };
    const fused = await Promise.all(run(3).map((v) => v.data()));
    await loadTf('webgpu', { kernels: 'native', convt: 'auto' });
    assert.equal(getKernel(ADAM_UPDATE, 'webgpu'), undefined);
    const plain = await Promise.all(run(3).map((v) => v.data()));
    await loadTf('webgpu');
    for (const [i, f] of fused.entries()) {
      const worst = Math.max(...Array.from(f, (v, j) => Math.abs(v - plain[i]![j]!) / (Math.abs(plain[i]![j]!) + 1e-6)));
      assert.ok(worst < 1e-5, `state ${i}: max relative difference ${worst}`);
    }
  });
});
