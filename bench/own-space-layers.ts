/**
 * How much the own-space scores depend on where in the writer classifier the features are taken.
 * evaluate's own space is the classifier's embedding layer. This scores the same sets in spaces taken
 * from earlier layers too, each layer's maps averaged over their positions (`mean`) or averaged and
 * maxed (`mean+max`), so that where the strokes lie counts less. For each space it prints how well
 * it separates writers (the nearest training image's writer for the training writers' validation
 * images; the nearest other image's for the unseen writers'), then precision / recall (k=3) of the
 * rows evaluate scores against the first half of the validation images, each model's over the draws
 * of 200 its samples hold (at most 5). Needs a finished default run:
 *   npm run bench:own-space
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor } from '../src/core/stage.js';
import { pickImages, sliceImages } from '../src/ml/data/images.js';
import { blankImages, digitImages } from '../src/ml/metrics/sanity.js';
import { validationHalves } from '../src/ml/metrics/own-space.js';
import { distances, features, prdc, type Features } from '../src/ml/metrics/stats.js';
import { importLayersModel } from '../src/ml/models/io.js';
import type * as TF from '../src/ml/tfjs/tf.js';
import { loadTf } from '../src/ml/tfjs/backend.js';
import type { ImageMeta } from '../stages/resize.js';
import { cachedJson, cachedTensor } from './cached-output.js';

const N = 200;
const SPACES: Array<[layer: string, pool: 'none' | 'mean' | 'mean+max']> = [
  ['embedding', 'none'],
  ['f_conv4', 'mean'],
  ['f_conv4', 'mean+max'],
  ['f_pool3', 'mean'],
  ['f_relu3', 'mean'],
  ['f_relu3', 'mean+max'],
  ['f_pool2', 'mean'],
];

/** Share of `a`'s rows whose nearest row of `b` (itself excluded when a is b) has the same label. */
function nearestLabelAccuracy(a: Features, aLabels: string[], b: Features, bLabels: string[]): number {
  const d = distances(a, b);
  let hits = 0;
  for (let i = 0; i < a.n; i++) {
    let best = -1;
    for (let j = 0; j < b.n; j++) if (!(a === b && i === j) && (best < 0 || d[i * b.n + j]! < d[i * b.n + best]!)) best = j;
    if (bLabels[best] === aLabels[i]) hits++;
  }
  return hits / a.n;
}

const dir = mkdtempSync(join(tmpdir(), 'pipe-ownlayers-'));
try {
  const train = cachedTensor(dir, 'augment', 'train');
  const val = cachedTensor(dir, 'augment', 'val');
  const test = cachedTensor(dir, 'augment', 'test');
  const [trainMeta, valMeta, testMeta] = (['trainMeta', 'valMeta', 'testMeta'] as const).map((o) => cachedJson<ImageMeta[]>(dir, 'augment', o)) as [ImageMeta[], ImageMeta[], ImageMeta[]];
  const { polarity } = cachedJson<{ polarity: 'ink-one' | 'ink-dark' }>(dir, 'augment', 'format');
  const models = cachedJson<Array<{ model: string }>>(dir, 'sample', 'samples').map(({ model }) => ({ model, images: cachedTensor(dir, 'sample', model) }));
  const { tf } = await loadTf('auto');
  const cls = 'artifacts/features/classifier';
  const classifier = await importLayersModel(tf, readFileSync(`${cls}/model.json`), readFileSync(`${cls}/weights.bin`));
  const size = val.shape[1]!;
  const halves = validationHalves(val.shape[0]!);
  const writers = new Set(trainMeta.map((m) => m.writer));
  const valRows = valMeta.flatMap((m, i) => (writers.has(m.writer) ? [i] : []));
  const rows: Array<[string, Tensor[]]> = [
    ['real vs real', [pickImages(val, halves[1]!.slice(0, N))]],
    ['unseen writers', [sliceImages(test, 0, N)]],
    ...models.map(({ model, images }): [string, Tensor[]] => [model, Array.from({ length: Math.min(5, Math.floor(images.shape[0]! / N)) }, (_, k) => sliceImages(images, k * N, N))]),
    ['blank', [blankImages(N, size, polarity)]],
    ['digits', [digitImages(N, size, polarity, '0')]],
  ];
  console.log(`| space | dim | writer of the nearest image: validation / unseen | ${rows.map(([name]) => `${name} P / R`).join(' | ')} |`);
  console.log(`|${'---|'.repeat(3 + rows.length)}`);
  for (const [layer, pool] of SPACES) {
    const net = tf.model({ inputs: classifier.inputs, outputs: classifier.getLayer(layer).output as TF.SymbolicTensor });
    const embed = (t: Tensor): Features => {
      const out = tf.tidy(() => {
        const maps = net.predict(tf.tensor(t.data as Float32Array, t.shape)) as TF.Tensor;
        if (pool === 'none') return tf.reshape(maps, [t.shape[0]!, -1]);
        return pool === 'mean' ? tf.mean(maps, [1, 2]) : tf.concat([tf.mean(maps, [1, 2]), tf.max(maps, [1, 2])], 1);
      });
      const f = features(out.shape[0]!, out.shape[1]!, out.dataSync());
      out.dispose();
      return f;
    };
    const real = embed(pickImages(val, halves[0]!.slice(0, N)));
    const seen = nearestLabelAccuracy(embed(pickImages(val, valRows)), valRows.map((i) => valMeta[i]!.writer), embed(train), trainMeta.map((m) => m.writer));
    const unseen = embed(test);
    const other = nearestLabelAccuracy(unseen, testMeta.map((m) => m.writer), unseen, testMeta.map((m) => m.writer));
    const cells = rows.map(([, draws]) => {
      const s = draws.map((d) => prdc(real, embed(d), 3, 5));
      const avg = (k: 'precision' | 'recall') => (s.reduce((a, x) => a + x[k], 0) / s.length).toFixed(2);
      return `${avg('precision')} / ${avg('recall')}`;
    });
    console.log(`| ${layer}${pool === 'none' ? ' (evaluate\'s)' : `, ${pool}`} | ${real.d} | ${(seen * 100).toFixed(1)}% / ${(other * 100).toFixed(1)}% | ${cells.join(' | ')} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
