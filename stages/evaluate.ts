import type * as TF from '../src/ml/tfjs/tf.js';
import { tensorImages } from '../src/ml/data/images.js';
import { gridPng } from '../src/ml/data/sheet.js';
import { embeddingNet } from '../src/ml/models/features.js';
import { fromPlain, importLayersModel } from '../src/ml/models/io.js';
import { IMAGENET_NETS, imagenetFeatures, loadImagenetNet, type ImagenetNet } from '../src/ml/metrics/imagenet.js';
import { median, nearestTraining } from '../src/ml/metrics/memorisation.js';
import { msssim } from '../src/ml/metrics/msssim.js';
import { features, frechetDistance, kid, pixelMmd, prdc, type Features } from '../src/ml/metrics/stats.js';
import { renderReport, type ReportSection } from '../src/ml/report/html.js';
import { Rng } from '../src/core/stage.js';
import { defineStage, type StageInputs } from '../src/core/stage.js';
import type { Tensor } from '../src/core/stage.js';
import { stageTf, type TfParams } from '../src/ml/tfjs/backend.js';

export interface EvaluateParams extends TfParams {
  n: number;
  networks: Array<'own' | ImagenetNet>;
  kPrecision: number;
  kDensity: number;
  pairs: number;
  copyThreshold: number;
  seed: number;
}

interface SpaceScores {
  fd: number;
  kid: number;
  precision: number;
  recall: number;
  density: number;
  coverage: number;
}

export interface RowScores {
  name: string;
  n: number;
  spaces: Record<string, SpaceScores>;
  pixelMmd: number;
  msssim: number;
  memorisation: { ratio: number; copyRate: number; medianNearest: number } | null;
}

/** The first n images of a batch tensor. */
function head(t: Tensor, n: number): Tensor {
  const px = t.shape[1]! * t.shape[2]! * t.shape[3]!;
  return { ...t, shape: [n, ...t.shape.slice(1)], data: (t.data as Float32Array).subarray(0, n * px) };
}

function pick(t: Tensor, idx: number[]): Tensor {
  const px = t.shape[1]! * t.shape[2]! * t.shape[3]!;
  const out = new Float32Array(idx.length * px);
  idx.forEach((i, k) => out.set((t.data as Float32Array).subarray(i * px, (i + 1) * px), k * px));
  return { ...t, shape: [idx.length, ...t.shape.slice(1)], data: out };
}

function fmt(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '—';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : Number(v.toPrecision(4)).toString();
}

/** One set of generated images to score, with what the report shows of it. */
interface SampleSet {
  name: string;
  images: Tensor;
  /** The stage's own grid PNG, if it drew one. */
  grid: () => Uint8Array | undefined;
  extras: ReportSection['images'];
}

/**
 * The sets a `samples` input holds: a sample stage lists its models in its `samples` output;
 * any other stage (a command stage such as a PyTorch generate.py) gives one set per `.npy` out,
 * N×size×size×1 in [0,1] with the data's polarity.
 */
function sampleSets(ups: StageInputs[]): SampleSet[] {
  return ups.flatMap((up): SampleSet[] => {
    if (up.outputs.includes('samples')) {
      return up.json<Array<{ model: string }>>('samples').map(({ model }) => ({
        name: model,
        images: up.tensor(model),
        grid: () => up.file(`/samples/${model}/grid.png`),
        extras: ['reconstructions', 'interpolation'].flatMap((f) => {
          const file = `/samples/${model}/${f}.png`;
          return up.files.includes(file) ? [{ caption: `${model}: ${f}`, png: up.file(file) }] : [];
        }),
      }));
    }
    const npy = up.outputs.filter((o) => o.endsWith('.npy'));
    if (!npy.length) throw new Error(`samples input '${up.stage}' has neither a 'samples' output (a sample stage) nor a .npy out (outs: ${up.outputs.join(', ') || 'none'})`);
    return npy.map((out) => {
      const images = up.tensor(out);
      if (images.shape.length !== 4 || images.shape[3] !== 1) throw new Error(`'${out}' of stage '${up.stage}' has shape [${images.shape.join(', ')}]; evaluate wants N×size×size×1 images in [0,1]`);
      return { name: npy.length === 1 ? up.stage : `${up.stage}/${out}`, images, grid: () => undefined, extras: [] };
    });
  });
}

export default defineStage<EvaluateParams>({
  description: 'Score each model against held-out real images (FD, KID, precision/recall, density/coverage, memorisation, diversity) and write the report',
  async run(ctx) {
    const p = ctx.params;
    const data = ctx.input('data');
    const sets = sampleSets(ctx.inputList('samples'));
    const feats = ctx.hasInput('features') ? ctx.input('features') : undefined;
    const trainers = ctx.inputList('models');
    if (p.networks.includes('own') && !feats) throw new Error("networks includes 'own' but no features input is bound; add inputs: { features: <a features stage> } or drop 'own'");
    const { tf, backend } = await stageTf(ctx);
    const test = data.tensor('test');
    const train = data.tensor('train');
    const format = data.json<{ size: number; polarity: 'ink-one' | 'ink-dark' }>('format');
    const n = Math.min(p.n, test.shape[0]!, ...sets.map((s) => s.images.shape[0]!));
    if (n < 10) throw new Error(`only ${n} images to compare (held-out: ${test.shape[0]}); raise ingest's holdout or the sample count`);
    const size = test.shape[1]!;
    const rng = new Rng(`${p.seed}:evaluate`);
    const real = head(test, n);
    const reference = pick(train, rng.shuffle(Array.from({ length: train.shape[0]! }, (_, i) => i)).slice(0, n));
    const rows: Array<{ name: string; images: Tensor }> = [
      { name: 'real (training split)', images: reference },
      ...sets.map((s) => ({ name: s.name, images: head(s.images, n) })),
    ];
    ctx.log.info(`scoring ${rows.length} sets of ${n} images against ${n} held-out images`);

    // Feature spaces, each applied to the real set and every row.
    const spaces: Array<{ name: string; embed: (t: Tensor) => Promise<Features> }> = [];
    if (p.networks.includes('own')) {
      const classifier = await importLayersModel(tf, feats!.file('classifier/model.json'), feats!.file('classifier/weights.bin'));
      const net = embeddingNet(tf, classifier);
      const dim = feats!.json<{ dim: number }>('model').dim;
      spaces.push({
        name: 'own',
        embed: async (t) => {
          const x = fromPlain(tf, t);
          const f = tf.tidy(() => net.predict(x) as TF.Tensor);
          const out = features(t.shape[0]!, dim, (await f.data()) as Float32Array);
          x.dispose();
          f.dispose();
          return out;
        },
      });
    }
    for (const name of p.networks.filter((x): x is ImagenetNet => x !== 'own')) {
      const net = await loadImagenetNet(tf, name);
      spaces.push({
        name,
        embed: async (t) => {
          // Photograph polarity: paper white, ink dark, whatever the tensors store.
          const x = tf.tidy(() => {
            const v = fromPlain(tf, t) as TF.Tensor4D;
            return format.polarity === 'ink-one' ? tf.sub(1, v) : v;
          }) as TF.Tensor4D;
          const out = features(t.shape[0]!, IMAGENET_NETS[name].dim, await imagenetFeatures(tf, net, name, x));
          x.dispose();
          return out;
        },
      });
    }
    const bar = ctx.progress(rows.length * (spaces.length + 1) + spaces.length, 'evaluate');
    const realFeats: Features[] = [];
    for (const s of spaces) {
      realFeats.push(await s.embed(real));
      bar.tick();
    }
    const px = size * size;
    const realPixels = features(n, px, real.data as Float32Array);
    const trainT = fromPlain(tf, { ...train, shape: [train.shape[0]!, px] }) as TF.Tensor2D;
    const nearestOf = async (t: Tensor) => {
      const q = fromPlain(tf, { ...t, shape: [t.shape[0]!, px] }) as TF.Tensor2D;
      const r = await nearestTraining(tf, q, trainT);
      q.dispose();
      return r;
    };
    const realNearest = median((await nearestOf(real)).distance);
    const scores: RowScores[] = [];
    const nearestSheets: ReportSection['images'] = [];
    for (const row of rows) {
      const sp: Record<string, SpaceScores> = {};
      for (const [i, s] of spaces.entries()) {
        const f = await s.embed(row.images);
        sp[s.name] = { fd: frechetDistance(realFeats[i]!, f), kid: kid(realFeats[i]!, f), ...prdc(realFeats[i]!, f, p.kPrecision, p.kDensity) };
        bar.tick();
      }
      const pr = new Rng(`${p.seed}:pairs:${row.name}`);
      let ms = 0;
      for (let k = 0; k < p.pairs; k++) {
        const a = pr.int(n);
        let b = pr.int(n - 1);
        if (b >= a) b++;
        ms += msssim((row.images.data as Float32Array).subarray(a * px, (a + 1) * px), (row.images.data as Float32Array).subarray(b * px, (b + 1) * px), size);
      }
      let memorisation: RowScores['memorisation'] = null;
      if (row.images !== reference) {
        const near = await nearestOf(row.images);
        const med = median(near.distance);
        const copies = Array.from(near.distance).filter((d) => d < p.copyThreshold * realNearest).length;
        memorisation = { ratio: med / realNearest, copyRate: copies / n, medianNearest: med };
        // The 16 generated images closest to a training image, each beside it.
        const order = Array.from(near.distance.keys()).sort((a, b) => near.distance[a]! - near.distance[b]!).slice(0, 16);
        const gen = tensorImages(pick(row.images, order), format.polarity);
        const tr = tensorImages(pick(train, order.map((i) => near.index[i]!)), format.polarity);
        const png = await gridPng(gen.flatMap((g, i) => [g, tr[i]!]), { cols: 8, cellWidth: size, cellHeight: size });
        ctx.artifacts.write(`nearest-${row.name}.png`, png);
        nearestSheets.push({ caption: `${row.name}: generated | nearest training image`, png });
      }
      scores.push({ name: row.name, n, spaces: sp, pixelMmd: pixelMmd(realPixels, features(n, px, row.images.data as Float32Array)), msssim: ms / p.pairs, memorisation });
      bar.tick();
    }
    bar.done();
    trainT.dispose();

    const header = ['set', ...spaces.flatMap((s) => ['FD', 'KID', 'precision', 'recall', 'density', 'coverage'].map((m) => `${s.name} ${m}`)), 'pixel MMD²', 'MS-SSIM', 'nearest-train ratio', 'copy rate'];
    const table = [
      header,
      ...scores.map((r) => [
        r.name,
        ...spaces.flatMap((s) => {
          const v = r.spaces[s.name]!;
          return [v.fd, v.kid, v.precision, v.recall, v.density, v.coverage].map(fmt);
        }),
        fmt(r.pixelMmd),
        fmt(r.msssim),
        r.memorisation ? fmt(r.memorisation.ratio) : '—',
        r.memorisation ? fmt(r.memorisation.copyRate) : '—',
      ]),
    ];
    const notes = [
      `Every set has ${n} images and is compared with ${n} held-out real images (writers not seen in training where labels exist).`,
      'FD: Fréchet distance (FID formula) in that feature space; KID: unbiased MMD² with a cubic kernel on standardised features; lower is better for both.',
      'precision/recall: Kynkäänniemi et al. 2019 (k=' + p.kPrecision + '); density/coverage: Naeem et al. 2020 (k=' + p.kDensity + '); higher is better.',
      "own: the features stage's writer classifier; mobilenet_v2 / inception_v3: nsfwjs' fine-tuned ImageNet nets (not comparable with published FIDs).",
      'MS-SSIM: mean over random pairs within the set (3 scales); lower means more diverse. nearest-train ratio: median pixel distance to the nearest training image, relative to held-out real images (well below 1 suggests memorisation); copy rate: share of images closer than ' + p.copyThreshold + '× that median.',
    ];
    const markdown = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...table.slice(1).map((r) => `| ${r.join(' | ')} |`), '', ...notes.map((t) => `- ${t}`)].join('\n');
    ctx.output.json('metrics', scores);
    ctx.artifacts.write('metrics.json', JSON.stringify(scores, null, 2));
    ctx.artifacts.write('metrics.md', markdown + '\n');
    // Per set and feature space: the distances (lower is better) and precision/recall (higher is better).
    const better = { fd: 'lower', kid: 'lower', precision: 'higher', recall: 'higher' } as const;
    const perSpace = scores.flatMap((r) => Object.entries(r.spaces).flatMap(([s, v]) => Object.entries(better).map(([m, dir]) => [`${r.name}/${s}/${m}`, v[m as keyof typeof better], dir] as const)));
    ctx.metrics(Object.fromEntries(perSpace.map(([k, v]) => [k, v])), { better: Object.fromEntries(perSpace.map(([k, , dir]) => [k, dir])) });

    const sections: ReportSection[] = [];
    sections.push({
      title: 'Samples',
      images: [
        { caption: 'real (held-out)', png: await gridPng(tensorImages(head(real, 64), format.polarity), { cols: 8, cellWidth: size, cellHeight: size }) },
        ...(await Promise.all(sets.map(async (s) => ({ caption: s.name, png: s.grid() ?? (await gridPng(tensorImages(head(s.images, 64), format.polarity), { cols: 8, cellWidth: size, cellHeight: size })) })))),
      ],
    });
    const extras = sets.flatMap((s) => s.extras);
    if (extras.length) sections.push({ title: 'Reconstructions and interpolations (VAE)', images: extras });
    const curves = trainers.filter((up) => up.files.includes('loss.png')).map((up) => ({ caption: up.stage, png: up.file('loss.png') }));
    if (feats && feats.files.includes('loss.png')) curves.push({ caption: 'features (writer classifier)', png: feats.file('loss.png') });
    if (curves.length) sections.push({ title: 'Loss curves', images: curves });
    const progress = trainers.flatMap((up) => (up.files.includes('progress/latest.png') ? [{ caption: `${up.stage}: fixed noise, last epoch`, png: up.file('progress/latest.png') }] : []));
    if (progress.length) sections.push({ title: 'GAN progress', images: progress });
    if (nearestSheets.length) sections.push({ title: 'Memorisation check: closest generated images and their nearest training images', images: nearestSheets });
    ctx.artifacts.writeShared(
      'report.html',
      renderReport({ title: 'pipe: signature VAE and GAN', generated: `Generated by pipe's evaluate stage (tfjs backend: ${backend})`, metricsTable: table, notes, sections }),
    );
    ctx.log.info(`report: artifacts/report.html; table: artifacts/${ctx.name}/metrics.md`);
  },
});
