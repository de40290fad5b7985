import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { importLayersModel } from '../src/ml/models/io.js';
import { loadTf } from '../src/ml/tfjs/backend.js';
import { PIPE, pipe, pipeAsync, project, waitFor } from './helpers.js';

const CI_PIPELINE = readFileSync(join(PIPE, '..', '..', 'ci', 'pipeline.yaml'), 'utf8');

describe('the model stages end to end (ci/pipeline.yaml: tiny data, 1-2 epochs)', () => {
  const dir = project({ 'pipeline.yaml': CI_PIPELINE });
  const run = pipe(dir, 'run');

  it('runs every stage', () => {
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /8 ran, 0 from cache/);
    assert.match(run.stdout, /\[train-vae\] tfjs backend: wasm/);
  });

  it('exports tfjs LayersModels that load back', async () => {
    const { tf } = await loadTf('wasm');
    for (const m of ['train-vae/decoder', 'train-vae/encoder', 'train-gan/generator', 'features/classifier']) {
      const model = await importLayersModel(tf, readFileSync(join(dir, 'artifacts', m, 'model.json')), readFileSync(join(dir, 'artifacts', m, 'weights.bin')));
      assert.ok(model.layers.length > 2, m);
    }
  });

  it('writes sample grids, reconstructions, GAN progress, loss curves and the report', async () => {
    const grid = await sharp(join(dir, 'artifacts/samples/train-gan/grid.png')).metadata();
    // 8×8 cells of 32 px with 2 px gaps.
    assert.deepEqual([grid.width, grid.height], [8 * 34 + 2, 4 * 34 + 2]);
    for (const f of ['samples/train-vae/reconstructions.png', 'samples/train-vae/interpolation.png', 'samples/train-vae/0000.png', 'train-gan/progress/epoch-001.png', 'train-vae/loss.png', 'evaluate/metrics.md']) {
      assert.ok(existsSync(join(dir, 'artifacts', f)), f);
    }
    const html = readFileSync(join(dir, 'artifacts/report.html'), 'utf8');
    assert.match(html, /<table>.*<th>own FD<\/th>/s);
    assert.match(html, /<th>real \(training split\)<\/th>/);
    assert.ok((html.match(/data:image\/png;base64,/g) ?? []).length >= 6);
    const metrics = JSON.parse(readFileSync(join(dir, 'artifacts/evaluate/metrics.json'), 'utf8')) as Array<{ name: string; spaces: { own: { fd: number; precision: number } } }>;
    assert.deepEqual(metrics.map((m) => m.name), ['real (training split)', 'train-vae', 'train-gan']);
    for (const m of metrics) assert.ok(Number.isFinite(m.spaces.own.fd) && m.spaces.own.precision >= 0 && m.spaces.own.precision <= 1);
  });

  const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((c) => existsSync(c));
  it('the report renders in headless Chromium', { skip: chromium ? false : 'no Debian chromium on this machine' }, () => {
    const r = spawnSync(
      chromium!,
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${join(dir, 'chrome')}`, '--dump-dom', `file://${join(dir, 'artifacts/report.html')}`],
      { encoding: 'utf8', timeout: 60000 },
    );
    assert.equal(r.status, 0, r.stderr);
    // The DOM as Chromium built it: the table and every inlined image survived parsing.
    assert.match(r.stdout, /<th>train-gan<\/th>/);
    assert.ok((r.stdout.match(/<img alt=/g) ?? []).length >= 6);
  });

  it('a second run is all cache hits', () => {
    assert.match(pipe(dir, 'run').stdout, /0 ran, 8 from cache/);
  });

  it('verify finds every stage bit-identical on re-execution', () => {
    const r = pipe(dir, 'verify');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((r.stdout.match(/^[a-z-]+: match$/gm) ?? []).length, 8);
  });
});

/** Runs pipe and kills it (SIGKILL) as soon as its output matches; returns what it printed. */
async function killWhen(dir: string, args: string[], when: RegExp): Promise<string> {
  const { child, done } = pipeAsync(dir, ...args);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (when.test(out)) child.kill('SIGKILL');
  });
  await done;
  return out;
}

/** The same pipeline run through `stage` uninterrupted, and killed after its first epoch then resumed: both folders. */
async function wholeAndResumed(yaml: string, stage: string, epochs: number): Promise<{ whole: string; killed: string }> {
  const whole = project({ 'pipeline.yaml': yaml });
  assert.equal(pipe(whole, 'run', '--until', stage).code, 0);
  const killed = project({ 'pipeline.yaml': yaml });
  const out = await killWhen(killed, ['run', '--until', stage, '--jobs', '1'], new RegExp(`\\[${stage}\\] epoch 1/${epochs}:`));
  assert.doesNotMatch(out, new RegExp(`\\[${stage}\\] epoch ${epochs}/${epochs}:`), 'killed before the end');
  const resumed = pipe(killed, 'run', '--until', stage);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`resuming from the checkpoint after epoch \\d of ${epochs}`));
  return { whole, killed };
}

describe('training survives a kill', () => {
  it('resumes from the last finished epoch and ends with the same weights as an uninterrupted run', async () => {
    const { whole, killed } = await wholeAndResumed(CI_PIPELINE.replace('epochs: 2, latent: 4', 'epochs: 4, batchSize: 4, latent: 4'), 'train-vae', 4);
    const weights = (d: string) => readFileSync(join(d, 'artifacts/train-vae/decoder/weights.bin'));
    assert.deepEqual(weights(killed), weights(whole));
  });

  it('a resumed GAN records what an uninterrupted one does: the same weights, progress frames and lock entry', async () => {
    const { whole, killed } = await wholeAndResumed(CI_PIPELINE.replace('epochs: 1, filters: 4', 'epochs: 3, batchSize: 8, filters: 4'), 'train-gan', 3);
    const entry = (d: string) => (JSON.parse(readFileSync(join(d, 'pipe.lock'), 'utf8')) as { stages: Record<string, { outs: unknown; files: Record<string, string> }> }).stages['train-gan']!;
    assert.ok(Object.keys(entry(whole).files).includes('progress/epoch-001.png'));
    assert.deepEqual(entry(killed).files, entry(whole).files);
    assert.deepEqual(entry(killed).outs, entry(whole).outs);
  });

  it('Ctrl-C stops a training stage between batches: exit 130, nothing recorded', async () => {
    const dir = project({ 'pipeline.yaml': CI_PIPELINE.replace('epochs: 2, latent: 4', 'epochs: 50, batchSize: 4, latent: 4') });
    const { child, done } = pipeAsync(dir, 'run', '--until', 'train-vae', '--jobs', '1');
    let out = '';
    let sent = false;
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      // One Ctrl-C: a second one means "quit now".
      if (!sent && /epoch 1\/50:/.test(out)) sent = child.kill('SIGINT');
    });
    const r = await done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /interrupted while running 'train-vae'; nothing of it was recorded/);
    assert.doesNotMatch(out, /epoch 3\/50:/);
  });

  it('a killed parent takes its stage worker processes with it', async () => {
    const dir = project({ 'pipeline.yaml': CI_PIPELINE.replace('epochs: 2, latent: 4', 'epochs: 50, batchSize: 4, latent: 4').replace('epochs: 1, dim: 8', 'epochs: 50, dim: 8, batchSize: 4') });
    const { child, done } = pipeAsync(dir, 'run', '--until', 'train-vae,features', '--jobs', '2');
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/\[train-vae\] epoch 1\/50:/.test(out)) child.kill('SIGKILL');
    });
    await done;
    const workers = () => spawnSync('pgrep', ['-f', `${dir}/pipeline.yaml`], { encoding: 'utf8' }).stdout.trim();
    await waitFor(() => workers() === '', 5000);
  });

  it('stops on NaN with a clear message and exit 1', () => {
    const dir = project({ 'pipeline.yaml': CI_PIPELINE.replace('epochs: 2, latent: 4', 'epochs: 2, latent: 4, lr: 1e9') });
    const r = pipe(dir, 'run', '--until', 'train-vae');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /stage 'train-vae' failed: \w+ loss became (NaN|Infinity|-Infinity) at epoch \d+, batch \d+/);
  });
});
