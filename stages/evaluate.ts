import { createHash } from 'node:crypto';
import type * as TF from '../src/ml/tfjs/tf.js';
import { pickImages, sliceImages, tensorImages } from '../src/ml/data/images.js';
import { gridPng } from '../src/ml/data/sheet.js';
import { fromPlain } from '../src/ml/models/io.js';
import { ownSpace, validationHalves } from '../src/ml/metrics/own-space.js';
import { IMAGENET_NETS, imagenetEmbedder, type ImagenetEmbedder, type ImagenetNet } from '../src/ml/metrics/imagenet.js';
import { inkNormalised, median, nearestTraining } from '../src/ml/metrics/memorisation.js';
import { blankImages, digitImages } from '../src/ml/metrics/sanity.js';
import { summariseDraws } from '../src/ml/metrics/draws.js';
import type { RowKind, RowScores, SpaceScores, SpaceValues } from '../src/ml/metrics/scores.js';
import { verdicts } from '../src/ml/metrics/verdict.js';
import { metricsTable, tableMarkdown } from '../src/ml/report/metrics-table.js';
import { msssim } from '../src/ml/metrics/msssim.js';
import { features, frechetDistance, kid, pixelMmd, prdc, type Features } from '../src/ml/metrics/stats.js';
import { renderReport, type ReportSection } from '../src/ml/report/html.js';
import { Rng } from '../src/core/stage.js';
import { defineStage, type StageInputs } from '../src/core/stage.js';
import type { Tensor } from '../src/core/stage.js';
import type { ImageMeta } from './resize.js';
import { stageTf, type TfParams } from '../src/ml/tfjs/backend.js';

export interface EvaluateParams extends TfParams {
  n: number;
  draws: number;
  threads: number;
  networks: Array<'own' | ImagenetNet>;
  kPrecision: number;
  kDensity: number;
  pairs: number;
  copyThreshold: number;
  sanity: boolean;
  seed: number;
}

/** The sha256 of the parts, one after another, in hex. */
function sha256(...parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return h.digest('hex');
}

/** A trainer's params as key=value, without those that choose only how it runs (backend, kernels, threads). */
function paramSummary(params: Record<string, unknown>): string {
  return Object.entries(params)
    .filter(([k]) => !['backend', 'kernels', 'convt', 'threads'].includes(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
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
  description: "Score each model against the training writers' validation images (FD, KID, precision/recall, density/coverage, memorisation, diversity) beside real-vs-real, unseen-writer and sanity rows, and write the report",
  async run(ctx) {
    const p = ctx.params;
    const data = ctx.input('data');
    const sets = sampleSets(ctx.inputList('samples'));
    const feats = ctx.hasInput('features') ? ctx.input('features') : undefined;
    const trainers = ctx.inputList('models');
    if (p.networks.includes('own') && !feats) throw new Error("networks includes 'own' but no features input is bound; add inputs: { features: <a features stage> } or drop 'own'");
    if (p.draws > 1 && !p.networks.includes('own')) throw new Error(`draws: ${p.draws} scores the own space on each draw, but networks (${p.networks.join(', ')}) leaves it out; add 'own' or set draws: 1`);
    const { tf, backend } = await stageTf(ctx);
    const val = data.tensor('val');
    const test = data.tensor('test');
    const train = data.tensor('train');
    const testMeta = data.json<ImageMeta[]>('testMeta');
    const trainMeta = data.json<ImageMeta[]>('trainMeta');
    const format = data.json<{ size: number; polarity: 'ink-one' | 'ink-dark' }>('format');
    // The training writers' validation images, which no model trained on.
    const halves = validationHalves(val.shape[0]!);
    const n = Math.min(p.n, halves[1]!.length, test.shape[0]!, ...sets.map((s) => Math.floor(s.images.shape[0]! / p.draws)));
    if (n < 10) {
      const samples = sets.map((s) => `${s.name} ${s.images.shape[0]}`).join(', ');
      throw new Error(`only ${n} images per set (validation: ${val.shape[0]}, halved for the real-vs-real row; held out: ${test.shape[0]}; samples: ${samples}, in ${p.draws} draws); raise ingest's validation or holdout, or the sample count`);
    }
    const size = test.shape[1]!;
    const rng = new Rng(`${p.seed}:evaluate`);
    const real = pickImages(val, halves[0]!.slice(0, n));
    // A model's images after its first n are its further draws (draws), scored in the own space and by MS-SSIM.
    const rows: Array<{ name: string; kind: RowKind; images: Tensor; draws?: Tensor[] }> = [
      { name: 'real (validation, second half)', kind: 'real', images: pickImages(val, halves[1]!.slice(0, n)) },
      { name: 'real (unseen writers)', kind: 'unseen', images: sliceImages(test, 0, n) },
      { name: 'real (training split)', kind: 'copies', images: pickImages(train, rng.shuffle(Array.from({ length: train.shape[0]! }, (_, i) => i)).slice(0, n)) },
      ...sets.map((s) => ({ name: s.name, kind: 'model' as const, images: sliceImages(s.images, 0, n), draws: Array.from({ length: p.draws - 1 }, (_, k) => sliceImages(s.images, (k + 1) * n, n)) })),
      ...(p.sanity
        ? [
            { name: 'blank', kind: 'sanity' as const, images: blankImages(n, size, format.polarity) },
            { name: 'digits', kind: 'sanity' as const, images: digitImages(n, size, format.polarity, String(p.seed)) },
          ]
        : []),
    ];
    const heldWriters = new Set(testMeta.map((m) => m.writer)).size;
    const trainWriters = new Set(trainMeta.map((m) => m.writer)).size;
    ctx.log.info(`scoring ${rows.length} sets of ${n} images against ${n} validation images of the ${trainWriters} training writers`);

    // Feature spaces, each applied to the real set and every row. A set's features are memoised by the set's
    // bytes, the network and how tfjs ran it: a rerun after a change to one model embeds only that model's samples.
    const spaces: Array<{ name: string; embed: (t: Tensor) => Promise<Features> }> = [];
    const reuse = new Map<string, { sets: number; reused: number }>();
    const memoised = (name: string, network: string, embed: (t: Tensor) => Promise<Features>) => {
      const count = { sets: 0, reused: 0 };
      reuse.set(name, count);
      return {
        name,
        embed: async (t: Tensor): Promise<Features> => {
          const key = `features:${network}:${backend}:${p.kernels}:${t.dtype}:${t.shape.join('x')}:${sha256(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))}`;
          const hit = ctx.memo.get(key);
          count.sets++;
          if (hit) {
            count.reused++;
            const data = new Float64Array(hit.buffer.slice(hit.byteOffset, hit.byteOffset + hit.byteLength));
            return { n: t.shape[0]!, d: data.length / t.shape[0]!, data };
          }
          const f = await embed(t);
          ctx.memo.put(key, new Uint8Array(f.data.buffer, f.data.byteOffset, f.data.byteLength));
          return f;
        },
      };
    };
    if (p.networks.includes('own')) {
      const model = feats!.file('classifier/model.json');
      const weights = feats!.file('classifier/weights.bin');
      spaces.push(memoised('own', `own-${sha256(model, weights)}`, await ownSpace(tf, model, weights)));
    }
    const embedders: ImagenetEmbedder[] = [];
    const scores: RowScores[] = [];
    const nearestSheets: ReportSection['images'] = [];
    try {
      for (const name of p.networks.filter((x): x is ImagenetNet => x !== 'own')) {
        const net = await imagenetEmbedder(tf, name, p.threads, { backend, kernels: p.kernels, convt: p.convt });
        embedders.push(net);
        spaces.push(
          memoised(name, name, async (t) => {
            // Photograph polarity: paper white, ink dark, whatever the tensors store.
            const x = tf.tidy(() => {
              const v = fromPlain(tf, t) as TF.Tensor4D;
              return format.polarity === 'ink-one' ? tf.sub(1, v) : v;
            }) as TF.Tensor4D;
            const out = features(t.shape[0]!, IMAGENET_NETS[name].dim, await net.embed(x));
            x.dispose();
            return out;
          }),
        );
      }
      const further = rows.reduce((a, r) => a + (r.draws?.length ?? 0), 0);
      const bar = ctx.progress(rows.length * (spaces.length + 1) + spaces.length + further, 'evaluate');
      const realFeats: Features[] = [];
      for (const s of spaces) {
        realFeats.push(await s.embed(real));
        bar.tick();
      }
      const px = size * size;
      const realPixels = features(n, px, real.data as Float32Array);
      const flat = (t: Tensor) => tf.tidy(() => inkNormalised(tf, fromPlain(tf, { ...t, shape: [t.shape[0]!, px] }) as TF.Tensor2D));
      const trainT = flat(train);
      const nearestOf = async (t: Tensor) => {
        const q = flat(t);
        const r = await nearestTraining(tf, q, trainT);
        q.dispose();
        return r;
      };
      const realNearest = median((await nearestOf(real)).distance);
      for (const row of rows) {
        const sp: Record<string, SpaceScores> = {};
        const valuesOf = async (i: number, images: Tensor): Promise<SpaceValues> => {
          const f = await spaces[i]!.embed(images);
          bar.tick();
          return { fd: frechetDistance(realFeats[i]!, f), kid: kid(realFeats[i]!, f), ...prdc(realFeats[i]!, f, p.kPrecision, p.kDensity) };
        };
        for (const [i, s] of spaces.entries()) {
          const first = await valuesOf(i, row.images);
          const more: SpaceValues[] = [];
          if (s.name === 'own') for (const d of row.draws ?? []) more.push(await valuesOf(i, d));
          sp[s.name] = more.length ? summariseDraws([first, ...more]) : first;
        }
        // Diversity: the mean MS-SSIM of random pairs within a draw; the first draw's pairs as with one draw.
        const diversity = (images: Tensor, draw: number) => {
          const pr = new Rng(`${p.seed}:pairs:${row.name}${draw ? `:${draw}` : ''}`);
          const data = images.data as Float32Array;
          let ms = 0;
          for (let k = 0; k < p.pairs; k++) {
            const a = pr.int(n);
            let b = pr.int(n - 1);
            if (b >= a) b++;
            ms += msssim(data.subarray(a * px, (a + 1) * px), data.subarray(b * px, (b + 1) * px), size);
          }
          return { msssim: ms / p.pairs };
        };
        const ms: { msssim: number; sd?: { msssim: number } } = row.draws?.length ? summariseDraws([row.images, ...row.draws].map(diversity)) : diversity(row.images, 0);
        const near = await nearestOf(row.images);
        const med = median(near.distance);
        const copies = Array.from(near.distance).filter((d) => d < p.copyThreshold * realNearest).length;
        if (row.kind === 'model') {
          // The 16 generated images closest to a training image, each beside it.
          const order = Array.from(near.distance.keys()).sort((a, b) => near.distance[a]! - near.distance[b]!).slice(0, 16);
          const gen = tensorImages(pickImages(row.images, order), format.polarity);
          const tr = tensorImages(pickImages(train, order.map((i) => near.index[i]!)), format.polarity);
          const png = await gridPng(gen.flatMap((g, i) => [g, tr[i]!]), { cols: 8, cellWidth: size, cellHeight: size, header: Array.from({ length: 8 }, (_, i) => (i % 2 ? (size >= 48 ? 'training' : 'train') : size >= 48 ? 'generated' : 'gen.')) });
          ctx.artifacts.write(`nearest-${row.name}.png`, png);
          nearestSheets.push({ caption: `${row.name}: each generated image (left) beside its nearest training image (right)`, png });
        }
        scores.push({
          name: row.name,
          kind: row.kind,
          n,
          draws: 1 + (row.draws?.length ?? 0),
          spaces: sp,
          pixelMmd: pixelMmd(realPixels, features(n, px, row.images.data as Float32Array)),
          msssim: ms.msssim,
          ...(ms.sd ? { msssimSd: ms.sd.msssim } : {}),
          memorisation: { ratio: med / realNearest, copyRate: copies / n, medianNearest: med },
        });
        bar.tick();
      }
      bar.done();
      trainT.dispose();
    } finally {
      await Promise.all(embedders.map((e) => e.close()));
    }
    const reused = [...reuse].filter(([, c]) => c.reused > 0);
    if (reused.length) ctx.log.info(`features from earlier runs: ${reused.map(([space, c]) => `${space} ${c.reused} of ${c.sets} sets`).join(', ')}`);

    const table = metricsTable(scores, spaces.map((s) => s.name));
    const said = spaces.length ? verdicts(scores, spaces[0]!.name) : [];
    const accuracy = feats?.json<{ accuracy?: number | null }>('model').accuracy ?? undefined;
    const notes = [
      `Every set has ${n} images and is compared with ${n} real validation images: images of the ${trainWriters} training writers that no model trained on (the first half; alternate images, so every writer is in both halves). The real-vs-real row is the second half: the floor a model is read against.`,
      ...(p.draws > 1 ? [`Each model's own scores are the mean ± standard deviation over ${p.draws} disjoint draws of ${n} of its samples (one draw's precision and recall move by a few hundredths); its other columns but MS-SSIM (a mean over the draws too) are its first draw's.`] : []),
      `real (unseen writers): ${heldWriters} writers no model saw at all, for how far another person's signatures are. real (training split): training images themselves, which the memorisation check must flag (copy rate near 1). blank and digits (MNIST-like): sanity rows that must score far from signatures.`,
      'FD: Fréchet distance (FID formula) in that feature space; KID: unbiased MMD² with a cubic kernel on standardised features; lower is better for both.',
      'precision/recall: Kynkäänniemi et al. 2019 (k=' + p.kPrecision + '); density/coverage: Naeem et al. 2020 (k=' + p.kDensity + '); higher is better.',
      "own: the features stage's writer classifier" + (accuracy !== undefined ? ` (${(accuracy * 100).toFixed(1)}% on the validation images of its ${trainWriters} writers)` : '') + '; mobilenet_v2 / inception_v3: nsfwjs\' fine-tuned ImageNet nets (not comparable with published FIDs).',
      'MS-SSIM: mean over random pairs within the set (3 scales); lower means more diverse, and a model is best when nearest the real images\'. nearest-train ratio: median distance of ink-normalised images (centred, unit length: the amount of ink does not count) to the nearest training image, relative to the validation images\' (well below 1 suggests memorisation); copy rate: share of images closer than ' + p.copyThreshold + '× that median.',
      'Bold (report: highlighted) marks the best model value of each column.' + (table.dropped.length ? ` Left out, the same for every set in this run: ${table.dropped.join(', ')}.` : ''),
    ];
    const markdown = [tableMarkdown(table), '', ...said.map((v) => `**${v.name}**: ${v.text}`), ...(said.length ? [''] : []), ...notes.map((t) => `- ${t}`)].join('\n');
    ctx.output.json('metrics', scores);
    ctx.artifacts.write('metrics.json', JSON.stringify(scores, null, 2));
    ctx.artifacts.write('metrics.md', markdown + '\n');
    // Per set and feature space: the distances (lower is better) and precision/recall (higher is better).
    const better = { fd: 'lower', kid: 'lower', precision: 'higher', recall: 'higher' } as const;
    const perSpace = scores.flatMap((r) => Object.entries(r.spaces).flatMap(([s, v]) => Object.entries(better).map(([m, dir]) => [`${r.name}/${s}/${m}`, v[m as keyof typeof better], dir] as const)));
    ctx.metrics(
      { ...Object.fromEntries(perSpace.map(([k, v]) => [k, v])), ...(accuracy !== undefined ? { 'own/classifierAccuracy': accuracy } : {}) },
      { better: { ...Object.fromEntries(perSpace.map(([k, , dir]) => [k, dir])), 'own/classifierAccuracy': 'higher' } },
    );

    const grid = (t: Tensor) => gridPng(tensorImages(sliceImages(t, 0, Math.min(64, t.shape[0]!)), format.polarity), { cols: 8, cellWidth: size, cellHeight: size });
    const sections: ReportSection[] = [];
    sections.push({
      title: 'Samples',
      images: [{ caption: 'real (validation images of the training writers)', png: await grid(real) }, ...(await Promise.all(sets.map(async (s) => ({ caption: s.name, png: s.grid() ?? (await grid(s.images)) }))))],
    });
    const extras = sets.flatMap((s) => s.extras);
    if (extras.length) sections.push({ title: 'Reconstructions and interpolations (VAE)', images: extras });
    const curves = trainers.filter((up) => up.files.includes('loss.png')).map((up) => ({ caption: up.stage, png: up.file('loss.png') }));
    if (feats && feats.files.includes('loss.png')) curves.push({ caption: 'features (writer classifier)', png: feats.file('loss.png') });
    if (curves.length) sections.push({ title: 'Loss curves', images: curves });
    for (const up of trainers) {
      // At most 12 frames, evenly spaced, the first and the last among them: the report stays a few MB.
      const all = up.files.filter((f) => /^progress\/epoch-\d+\.png$/.test(f)).sort();
      const frames = [...new Set(Array.from({ length: Math.min(12, all.length) }, (_, i) => all[Math.round((i * (all.length - 1)) / Math.max(1, Math.min(12, all.length) - 1))]!))];
      if (frames.length) sections.push({ title: `${up.stage}: fixed noise after each epoch`, slider: true, images: frames.map((f) => ({ caption: `epoch ${Number(f.match(/\d+/)![0])}`, png: up.file(f) })) });
    }
    if (nearestSheets.length) sections.push({ title: 'Memorisation check: the generated images closest to a training image', images: nearestSheets });
    const context: Array<[string, string]> = [
      ['data', `${trainMeta.length} training images (augmented) of ${trainWriters} writers, ${val.shape[0]} validation images of the same writers, ${test.shape[0]} images of ${heldWriters} held-out writers, ${size}×${size}`],
      ['scored', `${n} images per set${p.draws > 1 ? ` (a model's own scores and MS-SSIM: the mean of ${p.draws} draws)` : ''}, ${p.pairs} MS-SSIM pairs, feature spaces: ${spaces.map((s) => s.name).join(', ') || 'none'}`],
      ['backend', backend],
      ...(accuracy !== undefined ? ([['writer classifier', `${(accuracy * 100).toFixed(1)}% on the validation images of its training writers`]] as Array<[string, string]>) : []),
      ...trainers.map((up): [string, string] => [up.stage, paramSummary(up.params)]),
    ];
    ctx.artifacts.writeShared(
      'report.html',
      renderReport({ title: 'pipe: signature VAE and GAN', generated: `Generated by pipe's evaluate stage (tfjs backend: ${backend})`, context, verdicts: said, table, notes, sections }),
    );
    ctx.log.info(`report: artifacts/report.html; table: artifacts/${ctx.name}/metrics.md`);
  },
});
