import { readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { extname, join, relative, resolve, sep } from 'node:path';
import pLimit from 'p-limit';
import { decodeGray } from '../src/ml/data/decode.js';
import { labelFor, type Label } from '../src/ml/data/labels.js';
import { gridPng, type Gray } from '../src/ml/data/sheet.js';
import { assignSplits, type Split } from '../src/ml/data/split.js';
import { synthesize } from '../src/ml/data/synth.js';
import { defineStage, type StageContext } from '../src/core/stage.js';
import { decodeTensor, encodeTensor } from '../src/core/stage.js';

export interface IngestParams {
  extensions: string[];
  strict: boolean;
  labels: 'all' | 'genuine';
  maxSide: number;
  maxPixels: number;
  holdout: number;
  validation: number;
  seed: number;
  synthetic: { count: number; writers: number };
}

/** One ingested image: where it came from, its labels, and where its pixels sit in the `pixels` tensor. */
export interface IngestItem {
  path: string;
  hash: string;
  bytes: number;
  writer: string;
  label: Label;
  split: Split;
  width: number;
  height: number;
  offset: number;
}

export default defineStage<IngestParams>({
  description: 'Decode signature scans (or draw the synthetic set) into grayscale images with writer labels',
  async run(ctx) {
    const p = ctx.params;
    const found: Array<Omit<IngestItem, 'split' | 'offset'> & { img: Gray }> = [];
    if (ctx.deps.length === 0) {
      ctx.log.info(`no file deps: drawing the synthetic set (${p.synthetic.count} images, ${p.synthetic.writers} writers, seed ${p.seed})`);
      const bar = ctx.progress(p.synthetic.count, 'synthesize');
      const images = await synthesize({ count: p.synthetic.count, writers: p.synthetic.writers, seed: p.seed }, (n) => bar.tick(n));
      bar.done();
      for (const im of images) {
        const path = `synthetic/w${String(im.writer).padStart(3, '0')}_${String(im.index).padStart(3, '0')}.png`;
        found.push({ path, hash: '', bytes: im.pixels.length, writer: String(im.writer), label: 'genuine', width: im.width, height: im.height, img: im });
      }
      ctx.metrics({ synthetic: true });
    } else {
      const exts = new Set(p.extensions.map((e) => e.toLowerCase().replace(/^\./, '')));
      const files = readOnce(ctx, ctx.files.filter((f) => exts.has(extname(f).slice(1).toLowerCase())));
      warnUnread(ctx, exts);
      if (files.length === 0) {
        throw new Error(
          `no images found in ${ctx.deps.join(', ')} (${ctx.files.length} files there, none with extension ${[...exts].join('/')})`,
        );
      }
      let decoded = 0;
      let reused = 0;
      let duplicates = 0;
      // Memo keys decoded by this run: a hit on one is a second copy of a file here, not a file from an earlier run.
      const decodedNow = new Set<string>();
      const skipped: string[] = [];
      const unreadable: string[] = [];
      const bar = ctx.progress(files.length, 'decode');
      const limit = pLimit(availableParallelism());
      const results = await Promise.all(
        files.map((file) =>
          limit(async () => {
            ctx.signal.throwIfAborted();
            const rel = relative(ctx.projectDir, file);
            const hash = ctx.fileHash(file);
            const key = `${hash}:${p.maxSide}`;
            let img: Gray | undefined;
            const hit = ctx.memo.get(key);
            if (hit) {
              const t = decodeTensor(hit);
              img = { width: t.shape[1]!, height: t.shape[0]!, pixels: t.data as Uint8Array };
              if (decodedNow.has(key)) duplicates++;
              else reused++;
            } else {
              const buf = readFileSync(file);
              try {
                img = await decodeGray(buf, p.maxSide, p.maxPixels);
              } catch (e) {
                const reason = (e as Error).message.split('\n')[0];
                // strict: every bad file is named, once all are read, in path order (reads finish in any order).
                if (p.strict) unreadable.push(`${rel}: ${reason}`);
                else ctx.log.warn(`skipping ${rel}: ${reason}`);
                skipped.push(rel);
                bar.tick();
                return undefined;
              }
              ctx.memo.put(key, encodeTensor({ dtype: 'uint8', shape: [img.height, img.width], data: img.pixels }));
              decodedNow.add(key);
              decoded++;
            }
            bar.tick();
            // Labels read the path inside the ingested folder: its first folder is the dataset.
            const root = ctx.deps.map((d) => resolve(ctx.projectDir, d)).find((d) => file.startsWith(d + sep)) ?? ctx.projectDir;
            const { writer, label } = labelFor(relative(root, file));
            return { path: rel, hash, bytes: statSync(file).size, writer, label, width: img.width, height: img.height, img };
          }),
        ),
      );
      bar.done();
      if (unreadable.length) throw new Error(`cannot read ${unreadable.length} of ${files.length} files (strict: true):\n  ${unreadable.sort().join('\n  ')}`);
      for (const r of results) if (r) found.push(r);
      ctx.log.info(`decoded ${decoded}, reused ${reused} from earlier runs${duplicates ? `, ${duplicates} identical to another file here` : ''}, skipped ${skipped.length}`);
      ctx.metrics({ decoded, reused, skipped: skipped.length, skippedFiles: skipped });
      if (found.length === 0) throw new Error(`no images: all ${files.length} files were skipped (the warnings above say why)`);
    }
    const kept = p.labels === 'genuine' ? found.filter((f) => f.label === 'genuine') : found;
    if (kept.length === 0) throw new Error(`no images left after labels: ${p.labels} (${found.length} read, none labelled genuine)`);
    const splits = assignSplits(
      kept.map((k) => ({ writer: k.writer, hash: k.hash || k.path })),
      p.holdout,
      p.validation,
      p.seed,
    );
    let offset = 0;
    const items: IngestItem[] = kept.map(({ img: _img, ...k }, i) => {
      const item = { ...k, split: splits[i]!, offset };
      offset += k.width * k.height;
      return item;
    });
    const pixels = new Uint8Array(offset);
    kept.forEach((k, i) => pixels.set(k.img.pixels, items[i]!.offset));
    ctx.output.tensor('pixels', { dtype: 'uint8', shape: [offset], data: pixels });
    ctx.output.json('items', items);
    const writers = new Set(items.map((i) => i.writer)).size;
    const count = (s: Split) => items.filter((i) => i.split === s).length;
    const [train, val, test] = [count('train'), count('val'), count('test')];
    ctx.metrics({ images: items.length, writers, train, val, test });
    ctx.log.info(`${items.length} images from ${writers} writers: ${train} for training, ${val} for validation (the same writers), ${test} of held-out writers`);
    ctx.artifacts.write('sheet.png', await gridPng(kept.slice(0, 48).map((k) => k.img), { cols: 6, cellWidth: 200, cellHeight: 90 }));
  },
});

const shown = (ctx: StageContext<IngestParams>, f: string) => relative(ctx.projectDir, f);

/** Each file once, by its real path: a symlink loop or a linked folder must not ingest a scan twice. */
function readOnce(ctx: StageContext<IngestParams>, files: string[]): string[] {
  const first = new Map<string, string>();
  const again: string[] = [];
  for (const f of files) {
    const real = realpathSync(f);
    const had = first.get(real);
    // The path without links is the one kept (and shown), whichever the listing met first.
    if (had === undefined) first.set(real, f);
    else if (f === real) {
      first.set(real, f);
      again.push(had);
    } else again.push(f);
  }
  if (again.length) ctx.log.warn(`${again.length} file${again.length === 1 ? '' : 's'} reached a second time through links, read once (e.g. ${shown(ctx, again[0]!)} is ${shown(ctx, first.get(realpathSync(again[0]!))!)})`);
  return [...first.values()];
}

/** Names with an image extension that are not files to read (a dangling link, a folder): said, not silently dropped. */
function warnUnread(ctx: StageContext<IngestParams>, exts: Set<string>): void {
  for (const dep of ctx.deps.map((d) => resolve(ctx.projectDir, d))) {
    if (!statSync(dep, { throwIfNoEntry: false })?.isDirectory()) continue;
    for (const e of readdirSync(dep, { recursive: true, withFileTypes: true })) {
      if (!exts.has(extname(e.name).slice(1).toLowerCase())) continue;
      const path = join(e.parentPath ?? e.path, e.name);
      if (e.isDirectory()) ctx.log.warn(`skipping ${shown(ctx, path)}: a folder named like an image`);
      else if (e.isSymbolicLink() && !statSync(path, { throwIfNoEntry: false })) ctx.log.warn(`skipping ${shown(ctx, path)}: a link to nothing (${readlinkSync(path)})`);
    }
  }
}
