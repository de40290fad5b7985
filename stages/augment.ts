import { imageTensor, pickImages, tensorImages } from '../src/ml/data/images.js';
import { gridPng } from '../src/ml/data/sheet.js';
import { augmentImage, type AugmentOptions } from '../src/ml/data/warp.js';
import { Rng } from '../src/core/stage.js';
import { defineStage } from '../src/core/stage.js';
import type { ImageMeta } from './resize.js';

export interface AugmentParams extends AugmentOptions {
  seed: number;
  copies: number;
  keepOriginals: boolean;
  sheetRows: number;
}

export default defineStage<AugmentParams>({
  description: 'Augment the training split (rotation, shift, scale, flips, elastic); pass the validation and held-out splits through',
  async run(ctx) {
    const p = ctx.params;
    const up = ctx.input('images');
    const images = up.tensor('images');
    const meta = up.json<ImageMeta[]>('meta');
    const format = up.json<{ size: number; polarity: 'ink-one' | 'ink-dark' }>('format');
    const size = images.shape[1]!;
    const px = size * size;
    const fill = format.polarity === 'ink-one' ? 0 : 1;
    const src = images.data as Float32Array;
    const inSplit = (split: ImageMeta['split']) => meta.flatMap((m, i) => (m.split === split ? [i] : []));
    const [trainIdx, valIdx, testIdx] = [inSplit('train'), inSplit('val'), inSplit('test')];
    const perImage = (p.keepOriginals ? 1 : 0) + p.copies;
    if (perImage === 0) throw new Error('copies: 0 with keepOriginals: false leaves no training images');
    const train = new Float32Array(trainIdx.length * perImage * px);
    const trainMeta: ImageMeta[] = [];
    const bar = ctx.progress(trainIdx.length, 'augment');
    let k = 0;
    for (const i of trainIdx) {
      ctx.signal.throwIfAborted();
      const img = src.subarray(i * px, (i + 1) * px);
      if (p.keepOriginals) {
        train.set(img, k++ * px);
        trainMeta.push(meta[i]!);
      }
      for (let c = 0; c < p.copies; c++) {
        // Seeded per (image, copy), not by position in a stream: adding images never reshuffles the others.
        const r = new Rng(`augment:${p.seed}:${meta[i]!.path}:${c}`);
        train.set(augmentImage(img, size, p, r, fill), k++ * px);
        trainMeta.push(meta[i]!);
      }
      bar.tick();
    }
    bar.done();
    const trainT = imageTensor(train, trainMeta.length, size);
    ctx.output.tensor('train', trainT);
    ctx.output.tensor('val', pickImages(images, valIdx));
    ctx.output.tensor('test', pickImages(images, testIdx));
    ctx.output.json('trainMeta', trainMeta);
    ctx.output.json('valMeta', valIdx.map((i) => meta[i]!));
    ctx.output.json('testMeta', testIdx.map((i) => meta[i]!));
    ctx.output.json('format', format);
    ctx.metrics({ train: trainMeta.length, val: valIdx.length, test: testIdx.length, sources: trainIdx.length });
    ctx.log.info(`${trainIdx.length} training images -> ${trainMeta.length}; ${valIdx.length} for validation, ${testIdx.length} held out`);
    // Contact sheet: each row is an original followed by its augmentations.
    const rows = Math.min(p.sheetRows, trainIdx.length);
    const sheet = tensorImages({ ...trainT, shape: [rows * perImage, size, size, 1] }, format.polarity);
    if (sheet.length) ctx.artifacts.write('sheet.png', await gridPng(sheet, { cols: perImage, cellWidth: size, cellHeight: size }));
  },
});
