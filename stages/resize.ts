import { normalizeScan, type NormalizeOptions } from '../src/ml/data/normalize.js';
import { gridPng } from '../src/ml/data/sheet.js';
import { defineStage } from '../src/core/stage.js';
import type { IngestItem } from './ingest.js';
import type { Split } from '../src/ml/data/split.js';
import { imageTensor, tensorImages } from '../src/ml/data/images.js';

export type ResizeParams = NormalizeOptions;

/** Per image labels that travel with the tensors from here on. */
export interface ImageMeta {
  path: string;
  writer: string;
  label: string;
  split: Split;
}

export default defineStage<ResizeParams>({
  description: 'Normalise scans to size×size float images in [0,1] (polarity, contrast, crop, fit)',
  async run(ctx) {
    const upstream = ctx.input('scans');
    const items = upstream.json<IngestItem[]>('items');
    const pixels = upstream.tensor('pixels').data as Uint8Array;
    const { size } = ctx.params;
    const out = new Float32Array(items.length * size * size);
    const bar = ctx.progress(items.length, 'resize');
    for (const [i, it] of items.entries()) {
      // Ctrl-C and SIGTERM are only noticed when the event loop runs.
      if (i % 256 === 0) await new Promise((resolve) => setImmediate(resolve));
      ctx.signal.throwIfAborted();
      const img = { width: it.width, height: it.height, pixels: pixels.subarray(it.offset, it.offset + it.width * it.height) };
      out.set(normalizeScan(img, ctx.params), i * size * size);
      bar.tick();
    }
    bar.done();
    const meta: ImageMeta[] = items.map(({ path, writer, label, split }) => ({ path, writer, label, split }));
    ctx.output.tensor('images', imageTensor(out, items.length, size));
    ctx.output.json('meta', meta);
    ctx.output.json('format', { size, polarity: ctx.params.polarity });
    const sheet = tensorImages(imageTensor(out, items.length, size), ctx.params.polarity, 64);
    ctx.artifacts.write('sheet.png', await gridPng(sheet, { cols: 8, cellWidth: size, cellHeight: size }));
  },
});
