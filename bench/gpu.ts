/**
 * Training throughput on a GPU: tfjs webgpu with pipe's kernels and with tfjs'
 * own, against PyTorch CUDA, the same VAE and DCGAN, batch 32 and 256, side by side in one run;
 * writes bench/RESULTS-gpu.md. Made to be bundled and carried to a machine
 * without Node or network (see "GPU benchmark" in the README):
 *   npm run bench:gpu-bundle    # here: .gpu/bench-gpu.mjs + Dawn
 *   node .gpu/bench-gpu.mjs     # there
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { provideModules, loadTf } from '../src/ml/tfjs/backend.js';
import { median, tfjsProfile, tfjsTrain } from './train.js';

// The bundle carries these; a source checkout imports them from node_modules as usual.
provideModules({ webgpu: () => import('webgpu'), '@tensorflow/tfjs-backend-webgpu': () => import('@tensorflow/tfjs-backend-webgpu') });

const PY = process.env.PIPE_BENCH_PYTHON ?? 'python3';
const here = process.env.PIPE_BENCH_ROOT ?? process.cwd();
const steps = Number(process.env.PIPE_BENCH_STEPS ?? 20);

function torch(model: string, batch: number): { rate?: number; label: string } {
  const r = spawnSync(PY, [join(here, 'bench', 'torch_train.py'), model, String(batch), String(steps * 2), '16', '16', 'cuda'], { encoding: 'utf8' });
  if (r.status !== 0) return { label: (r.stderr.trim().split('\n').pop() ?? 'failed').slice(0, 80) };
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { images_per_second: number; torch: string };
  return { rate: j.images_per_second, label: `PyTorch ${j.torch} CUDA` };
}

const { tf } = await loadTf('webgpu');
const adapter = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
/** pipe's kernels or tfjs' stock ones, for the side-by-side columns. */
const useKernels = (kernels: 'pipe' | 'native') => loadTf('webgpu', { kernels, convt: 'auto' });
const rows: string[] = [];
// PIPE_BENCH_STEPS=0 times the kernels only.
for (const model of steps > 0 ? (['vae', 'gan'] as const) : []) {
  for (const batch of [32, 256]) {
    const rate = await tfjsTrain('webgpu', model, steps, 16, 1, batch, 'pipe');
    const stock = await tfjsTrain('webgpu', model, steps, 16, 1, batch, 'native');
    const t = torch(model, batch);
    const ratio = t.rate ? `${((100 * rate) / t.rate).toFixed(1)}%` : '';
    rows.push(`| train ${model.toUpperCase()} img/s, batch ${batch} | ${rate.toFixed(0)} | ${stock.toFixed(0)} | ${t.rate ? `${t.rate.toFixed(0)} (${t.label})` : t.label} | ${ratio} |`);
    console.log(rows[rows.length - 1]);
  }
}
// The kernel alone, per layer of the GAN (filters 16): tfjs' Conv2DBackpropFilter against pipe's.
const kernelRows: string[] = [];
for (const batch of [32, 256]) {
  for (const [hw, ci, co] of [[64, 1, 16], [32, 16, 32], [16, 32, 64], [8, 64, 128]] as const) {
    const x = tf.randomNormal([batch, hw, hw, ci]);
    const dy = tf.randomNormal([batch, hw / 2, hw / 2, co]);
    const time = async () => {
      const run = () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [4, 4, ci, co] } as never) as import('@tensorflow/tfjs-core').Tensor;
      await run().data();
      // 20 back to back, then one read: the queue runs in order, so this times the kernels, not the round trip.
      const ms: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const rs = Array.from({ length: 20 }, run);
        await rs[19]!.data();
        ms.push((performance.now() - t0) / 20);
        tf.dispose(rs);
      }
      return median(ms);
    };
    await useKernels('pipe');
    const ours = await time();
    await useKernels('native');
    const theirs = await time();
    kernelRows.push(`| x ${batch}×${hw}×${hw}×${ci} → dW 4×4×${ci}×${co} | ${ours.toFixed(2)} | ${theirs.toFixed(2)} | ${(theirs / ours).toFixed(1)}× |`);
    console.log(kernelRows[kernelRows.length - 1]);
    x.dispose();
    dy.dispose();
  }
}
// PIPE_BENCH_PROFILE=1: where a step's time goes at batch 256, device time by kernel (timestamp queries) against the wall clock.
const profileRows: string[] = [];
for (const model of process.env.PIPE_BENCH_PROFILE ? (['vae', 'gan'] as const) : []) {
  for (const kernels of ['pipe', 'tfjs stock'] as const) {
    const { kernels: times, stepMs } = await tfjsProfile('webgpu', model, 16, 256, kernels === 'pipe' ? 'pipe' : 'native');
    const deviceMs = times.reduce((s, k) => s + k.ms, 0);
    const dispatches = times.reduce((s, k) => s + k.calls, 0);
    const top = times.slice(0, 5).map((k) => `${k.name} ${k.ms.toFixed(2)} (${k.calls})`).join(', ');
    profileRows.push(`| ${model.toUpperCase()}, ${kernels} kernels | ${stepMs.toFixed(1)} | ${deviceMs.toFixed(1)} | ${dispatches} | ${top} |`);
    console.log(profileRows[profileRows.length - 1]);
  }
}
const table = [
  `pipe GPU benchmarks: tfjs webgpu (Dawn, ${adapter?.vendor ?? '?'} ${adapter?.architecture ?? ''}) vs PyTorch CUDA; ${new Date().toISOString().slice(0, 10)}; medians of 3 runs of ${steps} steps`,
  '',
  '| measure | pipe (webgpu, pipe kernels) | tfjs webgpu, stock kernels | PyTorch | pipe / PyTorch |',
  '|---|---|---|---|---|',
  ...rows,
  '',
  '| Conv2DBackpropFilter alone (GAN layers) | pipe ms | tfjs stock ms | stock / pipe |',
  '|---|---|---|---|',
  ...kernelRows,
  ...(profileRows.length
    ? ['', '| one training step, batch 256 | wall ms | kernel ms | kernel calls | largest: kernel ms (calls) |', '|---|---|---|---|---|', ...profileRows]
    : []),
].join('\n');
writeFileSync(join(here, 'bench', 'RESULTS-gpu.md'), `${table}\n`);
console.log(`\n${table}`);
process.exit(0);
