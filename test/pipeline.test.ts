/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeNpy } from '../src/core/npy.js';
import { importLayersModel } from '../src/ml/models/io.js';
import { loadTf } from '../src/ml/tfjs/backend.js';
import { browser } from './browser.js';
import { PIPE, pipe, pipeAsync, project, waitFor } from './helpers.js';

const CI_PIPELINE = readFileSync(join(PIPE, '..', '..', 'ci', 'pipeline.yaml'), 'utf8');

describe('the model stages end to end (ci/pipeline.yaml: tiny data, 1-2 epochs)', () => {
  const dir = project({ 'pipeline.yaml': CI_PIPELINE });
  // A git checkout, so the run's facts name its commit.
  const git = (...args: string[]) => spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir, encoding: 'utf8' }).stdout.trim();
  git('init', '-q');
  git('add', 'pipeline.yaml');
  git('commit', '-qm', 'ci pipeline');
  const run = pipe(dir, 'run');
  const runFacts = () => readFileSync(join(dir, 'artifacts/run.js'), 'utf8');
  const firstFacts = run.code === 0 ? runFacts() : '';

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
    assert.match(html, /<th>real \(validation, second half\)<\/th>/);
    assert.match(html, /<meta name="viewport"/);
    assert.match(html, /<dt>data<\/dt><dd>84 training images \(augmented\) of 6 writers, 24 validation images of the same writers, 22 images of 2 held-out writers, 32×32<\/dd>/);
    assert.match(html, /<dt>train-gan<\/dt><dd>[^<]*epochs=2[^<]*filters=4/);
    assert.match(html, /<h2>Verdict<\/h2><ul class="verdicts"><li><b>train-vae<\/b>: /);
    assert.ok((html.match(/data:image\/png;base64,/g) ?? []).length >= 6);
  });

  it('scores the sanity sets far from every real set, and flags training copies as memorised', () => {
    const metrics = JSON.parse(readFileSync(join(dir, 'artifacts/evaluate/metrics.json'), 'utf8')) as Array<{
      name: string;
      kind: string;
      n: number;
      draws: number;
      spaces: { own: { fd: number; precision: number; sd?: Record<string, number> } };
      memorisation: { copyRate: number; ratio: number };
    }>;
    // The models are scored on two draws of 12 of their 32 samples (ci/pipeline.yaml: draws 2).
    assert.deepEqual(
      metrics.map((m) => [m.name, m.kind, m.n, m.draws, Object.keys(m.spaces.own.sd ?? {}).join()]),
      [
        ['real (validation, second half)', 'real', 12, 1, ''],
        ['real (unseen writers)', 'unseen', 12, 1, ''],
        ['real (training split)', 'copies', 12, 1, ''],
        ['train-vae', 'model', 12, 2, 'fd,kid,precision,recall,density,coverage'],
        ['train-gan', 'model', 12, 2, 'fd,kid,precision,recall,density,coverage'],
        ['blank', 'sanity', 12, 1, ''],
        ['digits', 'sanity', 12, 1, ''],
      ],
    );
    for (const m of metrics) assert.ok(Number.isFinite(m.spaces.own.fd) && m.spaces.own.precision >= 0 && m.spaces.own.precision <= 1, m.name);
    // At 12 images a set and a classifier trained for one epoch, the real sets' FDs are within noise of each other
    // (the default run shows real vs real lowest: README); what holds here is that they are far below the sanity sets.
    const fd = (kind: string) => metrics.filter((m) => m.kind === kind).map((m) => m.spaces.own.fd);
    const realest = Math.max(...fd('real'), ...fd('unseen'), ...fd('copies'));
    for (const s of fd('sanity')) assert.ok(s > 3 * realest, `a sanity set (FD ${s}) is far from every real set (at most ${realest})`);
    const copies = metrics.find((m) => m.kind === 'copies')!.memorisation;
    assert.deepEqual([copies.copyRate, copies.ratio], [1, 0]);
    for (const m of metrics.filter((x) => x.kind !== 'copies')) assert.ok(m.memorisation.copyRate < 0.5, `${m.name} is not flagged as copies`);
  });

  it('writes metadata beside each exported model, and the README snippet loads the generator with plain tfjs', () => {
    const meta = JSON.parse(readFileSync(join(dir, 'artifacts/train-gan/generator/metadata.json'), 'utf8'));
    assert.deepEqual(meta.input.shape, [null, 16]);
    assert.deepEqual([meta.output.activation, meta.output.range, meta.image.size, meta.image.polarity], ['tanh', [-1, 1], 32, 'ink-one']);
    const classes = JSON.parse(readFileSync(join(dir, 'artifacts/features/classifier/metadata.json'), 'utf8')).classes;
    assert.equal(classes.length, 6);
    const readme = readFileSync(join(PIPE, '..', '..', 'README.md'), 'utf8');
    const snippet = readme.match(/<!-- load-generator -->\n```js\n([\s\S]*?)```/)![1]!;
    // @tensorflow/tfjs is tfjs-core + tfjs-layers + backends re-exported; pipe installs those parts, not the umbrella.
    const umbrella = "import * as tf from '@tensorflow/tfjs';";
    assert.ok(snippet.startsWith(umbrella), snippet);
    const parts = [
      "import * as core from '@tensorflow/tfjs-core';",
      "import * as layers from '@tensorflow/tfjs-layers';",
      "import '@tensorflow/tfjs-backend-cpu';",
      'const tf = { ...core, ...layers };',
    ].join(' ');
    // As in a user's project (ESM resolves packages from the folder, not NODE_PATH).
    if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(PIPE, '..', '..', 'node_modules'), join(dir, 'node_modules'));
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', snippet.replace(umbrella, parts)], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^16 images of 32×32, pixels in \[0\.\d\d, [01]\.\d\d\]\n$/);
  });

  it("writes the run's facts beside the report: commit, times, each stage's outcome and duration", () => {
    const prefix = '// Written by pipe run: the run that put these artifacts here.\nwindow.pipeRun = ';
    assert.ok(firstFacts.startsWith(prefix), firstFacts.slice(0, 120));
    const facts = JSON.parse(firstFacts.slice(prefix.length).replace(/;\n$/, '')) as {
      pipeline: string;
      git: { commit: string; dirty: boolean };
      started: string;
      finished: string;
      stages: Record<string, { outcome: string; seconds: number; computed: { seconds: number; at: string } }>;
    };
    assert.equal(facts.pipeline, 'pipeline.yaml');
    assert.deepEqual(facts.git, { commit: git('rev-parse', 'HEAD'), dirty: false });
    assert.ok(Date.parse(facts.started) <= Date.parse(facts.finished));
    assert.deepEqual(Object.keys(facts.stages), ['ingest', 'resize', 'augment', 'train-vae', 'train-gan', 'features', 'sample', 'evaluate']);
    for (const [stage, s] of Object.entries(facts.stages)) {
      assert.equal(s.outcome, 'ran', stage);
      assert.ok(s.computed.seconds > 0 && s.computed.seconds <= s.seconds + 0.5, `${stage}: ${JSON.stringify(s)}`);
      assert.ok(Date.parse(s.computed.at) >= Date.parse(facts.started), stage);
    }
  });

  it('the report works in a real browser: table, verdicts, run facts, the epoch slider, zoom', async (t) => {
    const b = await browser(t);
    if (!b) return;
    try {
      const page = await b.newPage();
      await page.goto(`file://${join(dir, 'artifacts/report.html')}`);
      assert.equal(await page.locator('tbody th', { hasText: 'train-gan' }).count(), 1);
      assert.ok((await page.locator('img').count()) >= 6);
      assert.match((await page.locator('ul.verdicts li').first().textContent())!, /^train-vae: /);
      const facts = Object.fromEntries(await page.locator('#run dt').evaluateAll((dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling!.textContent])));
      assert.equal(facts['git commit'], git('rev-parse', 'HEAD').slice(0, 12));
      assert.match(facts['last run']!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC to \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(pipeline\.yaml\)$/);
      assert.match(facts['stage durations']!, /^ingest \d+\.\d s; resize \d+\.\d s; .*; evaluate (\d+\.\d s|\d+ min \d+ s)$/);
      // The GAN trained 2 epochs: the slider starts at the last frame and moves to the first.
      const frames = page.locator('section.slider figure');
      assert.deepEqual(await frames.evaluateAll((f) => f.map((x) => (x as HTMLElement).hidden)), [true, false]);
      await page.locator('section.slider input').fill('0');
      assert.deepEqual(await frames.evaluateAll((f) => f.map((x) => (x as HTMLElement).hidden)), [false, true]);
      const img = page.locator('section.slider img').first();
      const before = (await img.boundingBox())!.width;
      await img.click();
      assert.equal(await img.getAttribute('class'), 'zoom');
      assert.ok((await img.boundingBox())!.width > 1.5 * before, 'a click zooms the image');
    } finally {
      await b.close();
    }
  });

  it('a second run is all cache hits, and leaves the facts of the run that put the artifacts there', () => {
    assert.match(pipe(dir, 'run').stdout, /0 ran, 8 from cache/);
    assert.equal(runFacts(), firstFacts);
  });

  it('verify finds every stage bit-identical on re-execution', () => {
    const r = pipe(dir, 'verify');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((r.stdout.match(/^[a-z-]+: match$/gm) ?? []).length, 8);
    assert.doesNotMatch(r.stdout, /from earlier runs/, 'verify computes every feature again');
  });

  it("an experiment on the GAN embeds only the GAN's samples again; every other row scores as before", () => {
    type Row = { name: string };
    const metrics = () => JSON.parse(readFileSync(join(dir, 'artifacts/evaluate/metrics.json'), 'utf8')) as Row[];
    const before = metrics();
    const r = pipe(dir, 'run', '-S', 'train-gan.epochs=1');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // The real set compared against, then seven rows and the models' second draws: only train-gan's two changed.
    assert.match(r.stdout, /\[evaluate\] features from earlier runs: own 8 of 10 sets\n/);
    const after = metrics();
    assert.deepEqual(after.filter((m) => m.name !== 'train-gan'), before.filter((m) => m.name !== 'train-gan'));
    assert.notDeepEqual(after.find((m) => m.name === 'train-gan'), before.find((m) => m.name === 'train-gan'));
  });

  it("one draw scores a model's first samples: the other columns as with two, its own scores and MS-SSIM those of the first draw alone; too few samples for the draws is refused", () => {
    type Row = { name: string; draws: number; spaces: { own: Record<string, unknown> }; msssim: number; msssimSd?: number; pixelMmd: number; memorisation: unknown };
    const metrics = () => JSON.parse(readFileSync(join(dir, 'artifacts/evaluate/metrics.json'), 'utf8')) as Row[];
    assert.equal(pipe(dir, 'run').code, 0);
    const two = metrics();
    const r = pipe(dir, 'run', '-S', 'evaluate.draws=1');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const one = metrics();
    for (const name of ['train-vae', 'train-gan']) {
      const [a, b] = [one.find((m) => m.name === name)!, two.find((m) => m.name === name)!];
      assert.deepEqual([a.draws, a.pixelMmd, a.memorisation], [1, b.pixelMmd, b.memorisation], name);
      assert.deepEqual([a.spaces.own.sd, a.msssimSd, typeof b.msssimSd], [undefined, undefined, 'number']);
      assert.notEqual(a.spaces.own.fd, b.spaces.own.fd, `${name}: the mean of two draws is not the first's`);
      assert.notEqual(a.msssim, b.msssim, name);
    }
    assert.deepEqual(one.filter((m) => m.draws === 1 && !['train-vae', 'train-gan'].includes(m.name)), two.filter((m) => m.draws === 1));
    const few = pipe(dir, 'run', '-S', 'evaluate.draws=4');
    assert.equal(few.code, 1);
    assert.match(few.stderr, /stage 'evaluate' failed: only 8 images per set \(validation: 24, halved for the real-vs-real row; held out: 22; samples: train-vae 32, train-gan 32, in 4 draws\); raise ingest's validation or holdout, or the sample count\n/);
  });

  it('a GAN that packs its images trains; a pack its batch cannot split is refused before training, with the numbers', () => {
    const packed = pipe(dir, 'run', '-S', 'train-gan.epochs=1', '-S', 'train-gan.pack=2', '--until', 'train-gan');
    assert.equal(packed.code, 0, packed.stdout + packed.stderr);
    assert.match(packed.stdout, /\[train-gan\] epoch 1\/1: d=\d/);
    const r = pipe(dir, 'run', '-S', 'train-gan.pack=3', '--until', 'train-gan');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /stage 'train-gan' failed: pack: 3 needs a batch that 1 thread can split into whole packs \(a multiple of 3\); batchSize is 32\n/);
    assert.doesNotMatch(r.stdout, /\[train-gan\] train /);
  });

  it("rejection: the GAN's samples are the most real of twice as many draws, the VAE's stay, a packed discriminator is refused; by the Jacobian, both models' are the least stretched", () => {
    const r = pipe(dir, 'run', '-S', 'sample.reject=0.5', '--until', 'sample');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\[sample\] train-gan: kept the 32 of 64 drawn images its discriminator scores most real \(logit ≥ -?\d+\.\d\d; all drawn: -?\d+\.\d\d to -?\d+\.\d\d\)\n/);
    const rows = (model: string, ...set: string[]) => {
      const file = join(dir, `${model}.npy`);
      assert.equal(pipe(dir, 'export', ...set, 'sample', model, file).code, 0);
      const t = decodeNpy(readFileSync(file), file);
      const n = t.data.length / t.shape[0]!;
      return Array.from({ length: t.shape[0]! }, (_, i) => Buffer.from((t.data as Float32Array).buffer, (t.data as Float32Array).byteOffset + i * n * 4, n * 4).toString('base64'));
    };
    const reject = ['-S', 'sample.reject=0.5'];
    assert.deepEqual(rows('train-vae', ...reject), rows('train-vae'));
    const [plain, kept] = [rows('train-gan'), rows('train-gan', ...reject)];
    assert.equal(kept.length, 32);
    // The first 32 of the 64 draws are the plain run's samples: those kept come first, in their order, and
    // the rest are later draws.
    const early = kept.filter((k) => plain.includes(k));
    assert.ok(early.length > 0 && early.length < 32, String(early.length));
    assert.deepEqual(kept.slice(0, early.length), early);
    assert.deepEqual(early.map((k) => plain.indexOf(k)), early.map((k) => plain.indexOf(k)).sort((a, b) => a - b));
    const packed = pipe(dir, 'run', '-S', 'train-gan.epochs=1', '-S', 'train-gan.pack=2', ...reject, '--until', 'sample');
    assert.equal(packed.code, 1);
    assert.match(packed.stderr, /stage 'sample' failed: reject needs a GAN discriminator that judges one image at a time; train-gan's judges 2 at once \(pack: 2\)\n/);
    // By the Jacobian, both models' samples are kept from twice as many draws, in draw order, and a packed GAN needs no discriminator.
    const jacobian = [...reject, '-S', 'sample.rejectBy=jacobian'];
    const j = pipe(dir, 'run', ...jacobian, '--until', 'sample');
    assert.equal(j.code, 0, j.stdout + j.stderr);
    for (const model of ['train-vae', 'train-gan']) {
      assert.match(j.stdout, new RegExp(`\\[sample\\] ${model}: kept the 32 of 64 drawn images whose generator's Jacobian is smallest \\(‖J‖²_F ≤ \\d+\\.\\d; all drawn: \\d+\\.\\d to \\d+\\.\\d\\)\n`));
      const [all, smooth] = [rows(model), rows(model, ...jacobian)];
      const first = smooth.filter((k) => all.includes(k));
      assert.ok(first.length > 0 && first.length < 32, `${model}: ${first.length}`);
      assert.deepEqual(smooth.slice(0, first.length), first);
    }
    assert.equal(pipe(dir, 'run', '-S', 'train-gan.epochs=1', '-S', 'train-gan.pack=2', ...jacobian, '--until', 'sample').code, 0);
  });

  it("the blur of the discriminator's inputs changes what it judges from the first step on, fading as blurFade says; blur 0 is the plain run", () => {
    const d = (...args: string[]) => pipe(dir, 'scalars', 'train-gan', '--json', ...args).stdout.trim().split('\n').map((l) => (JSON.parse(l) as { d: number }).d);
    const r = pipe(dir, 'run', '-S', 'train-gan.blur=1', '--until', 'train-gan');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\[train-gan\] running \(param blur changed: 0 -> 1\)/);
    const [plain, blurred] = [d(), d('-S', 'train-gan.blur=1')];
    assert.equal(blurred.length, plain.length);
    // Same weights, noise and batch at the first step: only the blur of what D sees differs.
    assert.notEqual(blurred[0], plain[0]);
    // Faded over the first half (4 steps): σ 1 at the first step as before, then 0.5 where the whole-run fade has 0.75.
    const half = ['-S', 'train-gan.blur=1', '-S', 'train-gan.blurFade=0.5'];
    assert.equal(pipe(dir, 'run', ...half, '--until', 'train-gan').code, 0);
    const faded = d(...half);
    assert.equal(faded[0], blurred[0]);
    assert.notEqual(faded[1], blurred[1]);
    // The plain run's key: its outputs come back from the cache, nothing trains.
    const zero = pipe(dir, 'run', '-S', 'train-gan.blur=0', '--until', 'train-gan');
    assert.match(zero.stdout, /\[train-gan\] restored from run-cache/);
    assert.match(zero.stdout, /\n0 ran, 4 from cache in /);
  });

  it('top-k training: the GAN steps as the plain run while the share kept is 1, then learns from the most real images only', () => {
    const g = (...args: string[]) => pipe(dir, 'scalars', 'train-gan', '--json', ...args).stdout.trim().split('\n').map((l) => (JSON.parse(l) as { g: number }).g);
    const r = pipe(dir, 'run', '-S', 'train-gan.topK=0.5', '-S', 'train-gan.topKDecay=0.5', '--until', 'train-gan');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const [plain, top] = [g(), g('-S', 'train-gan.topK=0.5', '-S', 'train-gan.topKDecay=0.5')];
    // Two steps an epoch: the first epoch keeps every image, so its steps are the plain run's to the bit.
    assert.equal(plain.length, 4);
    assert.deepEqual(top.slice(0, 2), plain.slice(0, 2));
    // The third step starts from the same weights and scores the same images, but averages only the half
    // the discriminator finds most real, whose loss is the lowest.
    assert.ok(top[2]! < plain[2]!, `${top[2]} < ${plain[2]}`);
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
    const { whole, killed } = await wholeAndResumed(CI_PIPELINE.replace('epochs: 2, filters: 4', 'epochs: 3, batchSize: 8, filters: 4'), 'train-gan', 3);
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
