import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getKernel } from '@tensorflow/tfjs-core';
import { loadTf, type Tf } from '../src/tfjs/backend.js';
import { registerTrainingKernels } from '../src/tfjs/kernels.js';
import { planFilterGrad } from '../src/tfjs/webgpu-kernels.js';
import { CONV_CASES, convGrads, random, versusCpu } from './kernel-cases.js';

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

// Runs where a webgpu adapter exists, software ones included (Mesa's lavapipe: apt install mesa-vulkan-drivers from bookworm-backports).
let tf: Tf | undefined;
let unavailable = '';
try {
  tf = (await loadTf('webgpu')).tf;
} catch (e) {
  unavailable = `webgpu unavailable: ${(e as Error).message}`;
}

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

  it('can be switched off: the stock kernels come back', () => {
    const restore = registerTrainingKernels('webgpu');
    const ours = getKernel('Conv2DBackpropFilter', 'webgpu')!.kernelFunc;
    restore();
    const stock = getKernel('Conv2DBackpropFilter', 'webgpu')!.kernelFunc;
    assert.notEqual(stock, ours);
    registerTrainingKernels('webgpu');
    assert.notEqual(getKernel('Conv2DBackpropFilter', 'webgpu')!.kernelFunc, stock);
  });
});
