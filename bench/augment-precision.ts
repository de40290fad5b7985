/**
 * How far the augment stage's copies are from real signatures in evaluate's own feature space: its
 * training originals, its augmented copies, and copies made with one transform at a time, each scored
 * like a model's samples (200 images, precision/recall k=3, against the first half of the validation
 * images). A generator learns the set it trains on, so a copy's precision bounds what a GAN trained on
 * such copies can reach. Needs a finished default run (augment and features cached):
 *   npm run bench:augment
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/core/rng.js';
import type { Tensor } from '../src/core/stage.js';
import { augmentImage, type AugmentOptions } from '../src/ml/data/warp.js';
import { pickImages } from '../src/ml/data/images.js';
import { ownSpace, validationHalves } from '../src/ml/metrics/own-space.js';
import { frechetDistance, prdc } from '../src/ml/metrics/stats.js';
import { loadTf } from '../src/ml/tfjs/backend.js';
import { cachedJson, cachedTensor } from './cached-output.js';

const N = 200;
const none: AugmentOptions = { interpolation: 'lanczos3', rotate: 0, translate: 0, scale: 0, flipH: 0, flipV: 0, elastic: { alpha: 0, sigma: 0 } };
const VARIANTS: Array<[string, Partial<AugmentOptions>]> = [
  ['rotate 6°, shift 3 px, scale 8%, bilinear (the default before)', { rotate: 6, translate: 3, scale: 0.08, interpolation: 'bilinear' }],
  ['shift up to 3 px alone, bilinear', { translate: 3, interpolation: 'bilinear' }],
  ['shift up to 1 px, bilinear', { translate: 1, interpolation: 'bilinear' }],
  ['rotate up to 6° alone', { rotate: 6 }],
  ['shift up to 3 px alone', { translate: 3 }],
  ['scale up to 8% alone', { scale: 0.08 }],
  ['elastic (α 4, σ 3)', { elastic: { alpha: 4, sigma: 3 } }],
];

const dir = mkdtempSync(join(tmpdir(), 'pipe-augprec-'));
try {
  const train = cachedTensor(dir, 'augment', 'train');
  const val = cachedTensor(dir, 'augment', 'val');
  const meta = cachedJson<Array<{ path: string }>>(dir, 'augment', 'trainMeta');
  const { polarity } = cachedJson<{ polarity: 'ink-one' | 'ink-dark' }>(dir, 'augment', 'format');
  const paper = polarity === 'ink-one' ? 0 : 1;
  const { tf } = await loadTf('auto');
  const cls = 'artifacts/features/classifier';
  const embed = await ownSpace(tf, readFileSync(`${cls}/model.json`), readFileSync(`${cls}/weights.bin`));
  const size = val.shape[1]!;
  const px = size * size;
  const real = await embed(pickImages(val, validationHalves(val.shape[0]!)[0].slice(0, N)));
  // With keepOriginals, each original comes first and its copies after it, under the same path.
  const firsts = meta.flatMap((m, i) => (i === 0 || meta[i - 1]!.path !== m.path ? [i] : []));
  if (firsts.length === meta.length) throw new Error('augment made no copies (copies: 0): nothing to compare');
  const originals = new Rng('augment-precision').shuffle(firsts).slice(0, N);
  const sets: Array<[string, Tensor]> = [
    ['training originals', pickImages(train, originals)],
    ['the default\'s augmented copies', pickImages(train, originals.map((i) => i + 1))],
  ];
  const at = (img: Float32Array, x: number, y: number) => (x < 0 || y < 0 || x >= size || y >= size ? paper : img[y * size + x]!);
  const made = (name: string, copy: (img: Float32Array, r: Rng) => Float32Array) => {
    const data = new Float32Array(N * px);
    originals.forEach((i, k) => data.set(copy((train.data as Float32Array).subarray(i * px, (i + 1) * px), new Rng(`augment-precision:${i}`)), k * px));
    sets.push([name, { dtype: 'float32', shape: [N, size, size, 1], data }]);
  };
  for (const [name, o] of VARIANTS) made(name, (img, r) => augmentImage(img, size, { ...none, ...o }, r, paper));
  // Shift and blur apart: a move by whole pixels resamples nothing; the mean of each 2×2 block is the
  // blur of a bilinear half-pixel shift without the shift.
  made('shift up to 3 whole pixels (nothing resampled)', (img, r) => {
    const [dx, dy] = [r.int(7) - 3, r.int(7) - 3];
    return Float32Array.from({ length: px }, (_, p) => at(img, (p % size) - dx, Math.floor(p / size) - dy));
  });
  made('blurred as by a half-pixel bilinear shift, not shifted', (img) =>
    Float32Array.from({ length: px }, (_, p) => {
      const [x, y] = [p % size, Math.floor(p / size)];
      return (at(img, x, y) + at(img, x + 1, y) + at(img, x, y + 1) + at(img, x + 1, y + 1)) / 4;
    }),
  );
  console.log('| set | own FD | own precision / recall |\n|---|---|---|');
  for (const [name, t] of sets) {
    const f = await embed(t);
    const s = prdc(real, f, 3, 5);
    console.log(`| ${name} | ${frechetDistance(real, f).toFixed(1)} | ${s.precision.toFixed(3)} / ${s.recall.toFixed(3)} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
