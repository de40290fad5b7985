/**
 * Kernel calls per training step, VAE and GAN at batch 32 and 256, with
 * pipe's kernels and with tfjs' own, on webgpu, with the step's wall time on
 * this machine's adapter (median of 3). Runs without a GPU: Mesa's lavapipe (see the
 * README's "tfjs backends") counts the same calls as a GPU does; its times
 * are a CPU's. Writes bench/RESULTS-calls.md.
 *   npm run bench:calls
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTf } from '../src/ml/tfjs/backend.js';
import { stepCalls } from './train.js';

const { tf } = await loadTf('webgpu');
const adapter = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
const rows: string[] = [];
for (const model of ['vae', 'gan'] as const) {
  for (const batch of [32, 256]) {
    const cells: string[] = [];
    for (const kernels of ['pipe', 'native'] as const) {
      const c = await stepCalls('webgpu', model, batch, kernels, 3);
      cells.push(`${c.calls} | ${c.dispatches} | ${c.stepMs!.toFixed(0)}`);
    }
    rows.push(`| ${model.toUpperCase()}, batch ${batch} | ${cells.join(' | ')} |`);
    console.log(rows[rows.length - 1]);
  }
}
const table = [
  `Kernel calls per training step on webgpu (${adapter?.vendor ?? '?'} ${adapter?.architecture ?? ''}), ${new Date().toISOString().slice(0, 10)}; \`npm run bench:calls\``,
  '',
  '| step | pipe: calls | pipe: GPU dispatches | pipe: ms | tfjs stock: calls | stock: GPU dispatches | stock: ms |',
  '|---|---|---|---|---|---|---|',
  ...rows,
].join('\n');
writeFileSync(join(process.cwd(), 'bench', 'RESULTS-calls.md'), `${table}\n`);
console.log(`\n${table}`);
process.exit(0);
