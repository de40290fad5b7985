import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeGray } from '../src/ml/data/decode.js';
import { labelFor } from '../src/ml/data/labels.js';
import { inkIsDark, normalizeScan, otsu } from '../src/ml/data/normalize.js';
import { assignSplits } from '../src/ml/data/split.js';
import { synthesize, synthesizeRange } from '../src/ml/data/synth.js';
import { augmentImage } from '../src/ml/data/warp.js';
import { sha256 } from '../src/core/hash.js';
import { Rng } from '../src/core/rng.js';
import { Store } from '../src/core/store.js';
import { pipe, project, write } from './helpers.js';

/**
 * A bottom-up BMP with the given bits per pixel and palette (BGRA words), rows
 * padded to 4 bytes, written by hand: bmp-js only encodes 24-bit. `row(y)`
 * gives the byte offset of image row y.
 */
function bmpFile(width: number, height: number, bits: number, palette: number[]): { buf: Buffer; row: (y: number) => number } {
  const rowBytes = Math.ceil((width * bits) / 32) * 4;
  const start = 54 + 4 * palette.length;
  const buf = Buffer.alloc(start + rowBytes * height);
  buf.write('BM', 0);
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(start, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(bits, 28);
  buf.writeUInt32LE(rowBytes * height, 34);
  buf.writeUInt32LE(palette.length, 46);
  palette.forEach((c, i) => buf.writeUInt32LE(c, 54 + 4 * i));
  return { buf, row: (y) => start + (height - 1 - y) * rowBytes };
}

/** 1-bit: palette index 0 black, 1 white. */
function bmp1bit(width: number, height: number, black: (x: number, y: number) => boolean): Buffer {
  const { buf, row } = bmpFile(width, height, 1, [0x00000000, 0x00ffffff]);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (!black(x, y)) buf[row(y) + (x >> 3)]! |= 0x80 >> (x & 7);
  return buf;
}

function bmp24(width: number, height: number, gray: (x: number, y: number) => number): Buffer {
  const { buf, row } = bmpFile(width, height, 24, []);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) buf.fill(gray(x, y), row(y) + x * 3, row(y) + x * 3 + 3);
  return buf;
}

/** A dark bar on light paper, w×h, as raw 8-bit gray. */
function barImage(w: number, h: number, ink = 20, paper = 235): Buffer {
  const px = Buffer.alloc(w * h, paper);
  for (let y = Math.floor(h / 3); y < Math.floor((2 * h) / 3); y++) px.fill(ink, y * w + Math.floor(w / 4), y * w + Math.floor((3 * w) / 4));
  return px;
}

async function encoded(format: 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff', w = 40, h = 20): Promise<Buffer> {
  return sharp(barImage(w, h), { raw: { width: w, height: h, channels: 1 } }).toFormat(format).toBuffer();
}

const MAX_PIXELS = 100_000_000;

describe('decoding scans', () => {
  for (const format of ['png', 'jpeg', 'webp', 'gif', 'tiff'] as const) {
    it(`reads ${format} as grayscale with the bar where it was drawn`, async () => {
      const g = await decodeGray(await encoded(format), 256, MAX_PIXELS);
      assert.equal(g.width, 40);
      assert.equal(g.height, 20);
      assert.ok(g.pixels[10 * 40 + 20]! < 60, `ink pixel ${g.pixels[10 * 40 + 20]}`);
      assert.ok(g.pixels[2 * 40 + 2]! > 200, `paper pixel ${g.pixels[2 * 40 + 2]}`);
    });
  }

  it('reads only the first page of a multi-page TIFF', async () => {
    const page = 12 * 16;
    // Page one: white with one ink row; page two: all ink.
    const raw = Buffer.alloc(page * 2, 0);
    raw.fill(255, 0, page);
    raw.fill(0, 5 * 16, 6 * 16);
    const tiff = await sharp(raw, { raw: { width: 16, height: 24, channels: 1, pageHeight: 12 } }).tiff().toBuffer();
    const g = await decodeGray(tiff, 256, MAX_PIXELS);
    assert.deepEqual([g.width, g.height], [16, 12]);
    // The ink row of page one, nothing of page two's ink.
    assert.equal(g.pixels.filter((v) => v < 10).length, 16);
  });

  it('reads 1-bit and 24-bit BMP', async () => {
    const one = await decodeGray(bmp1bit(13, 9, (x, y) => x === 3 || y === 0), 256, MAX_PIXELS);
    assert.deepEqual([one.width, one.height], [13, 9]);
    assert.equal(one.pixels[1 * 13 + 3], 0);
    assert.equal(one.pixels[1 * 13 + 4], 255);
    assert.equal(one.pixels[0 * 13 + 9], 0);
    const rgb = await decodeGray(bmp24(9, 8, (x) => x * 30), 256, MAX_PIXELS);
    assert.deepEqual([...rgb.pixels.subarray(0, 7)], [0, 30, 60, 90, 120, 150, 180]);
  });

  it("gives sharp's exact pixels for every kind of PNG: grey, RGB, 1-bit, palette, with alpha, 16-bit, bad CRC", async () => {
    const w = 40;
    const h = 20;
    // Every grey level, a bar of ink, a coloured and a half-transparent corner for the variants that have them.
    const grey = Buffer.from(barImage(w, h).map((v, i) => (i < 256 ? i : v)));
    const rgb = Buffer.alloc(w * h * 3);
    grey.forEach((v, i) => rgb.fill(v, i * 3, i * 3 + 3));
    const colour = Buffer.from(rgb);
    colour[0] = 200;
    const rgba = Buffer.alloc(w * h * 4, 255);
    grey.forEach((v, i) => rgba.fill(v, i * 4, i * 4 + 3));
    rgba[3] = 100;
    const raw = (data: Buffer, channels: 1 | 3 | 4) => sharp(data, { raw: { width: w, height: h, channels } });
    const badCrc = await raw(grey, 1).png().toBuffer();
    badCrc[29]! ^= 0xff;
    const variants: Record<string, Buffer> = {
      grey: await raw(grey, 1).png().toBuffer(),
      'rgb, grey pixels': await raw(rgb, 3).png().toBuffer(),
      'rgb, colour': await raw(colour, 3).png().toBuffer(),
      '1-bit': await raw(Buffer.from(grey.map((v) => (v < 128 ? 0 : 255))), 1).png({ palette: true, colours: 2 }).toBuffer(),
      palette: await raw(rgb, 3).png({ palette: true }).toBuffer(),
      alpha: await raw(rgba, 4).png().toBuffer(),
      '16-bit': await raw(rgb, 3).toColourspace('rgb16').png().toBuffer(),
    };
    const bySharp = async (buf: Buffer) =>
      new Uint8Array(await sharp(buf).flatten({ background: '#ffffff' }).greyscale().extractChannel(0).raw().toBuffer());
    for (const [name, buf] of Object.entries(variants)) {
      const g = await decodeGray(buf, 256, MAX_PIXELS);
      assert.deepEqual([g.width, g.height], [w, h], name);
      assert.deepEqual(g.pixels, await bySharp(buf), name);
    }
    assert.deepEqual((await decodeGray(variants.grey!, 256, MAX_PIXELS)).pixels.subarray(0, 256), Uint8Array.from({ length: 256 }, (_, i) => i));
    await assert.rejects(decodeGray(badCrc, 256, MAX_PIXELS), /^Error: PNG 40×20 is damaged or truncated \(/);
  });

  it('shrinks large scans so the longest side is maxSide', async () => {
    const g = await decodeGray(await encoded('png', 800, 200), 64, MAX_PIXELS);
    assert.deepEqual([g.width, g.height], [64, 16]);
  });

  it('refuses what cannot be a scan, saying what the file is: damaged, not an image, blank, tiny, too large by its header', async () => {
    const png = await encoded('png');
    await assert.rejects(decodeGray(png.subarray(0, 60), 256, MAX_PIXELS), /^Error: PNG (40×20 )?is damaged or truncated \(/);
    await assert.rejects(decodeGray(Buffer.from('not an image at all'), 256, MAX_PIXELS), /not an image \(no PNG, JPEG, TIFF, WebP, GIF or BMP header in its first bytes\)/);
    const white = await sharp(Buffer.alloc(40 * 20, 255), { raw: { width: 40, height: 20, channels: 1 } }).png().toBuffer();
    await assert.rejects(decodeGray(white, 256, MAX_PIXELS), /PNG 40×20 is blank \(every pixel between grey 255 and 255\)/);
    await assert.rejects(decodeGray(await encoded('png', 1, 1), 256, MAX_PIXELS), /PNG of only 1×1 pixels: too small to be a signature scan/);
    await assert.rejects(decodeGray(png, 256, 400), /PNG of 40×20 pixels \(800\) is over maxPixels \(400\); raise ingest.maxPixels to read it/);
    const bmp = bmp1bit(13, 9, (x) => x === 3);
    await assert.rejects(decodeGray(bmp.subarray(0, bmp.length - 20), 256, MAX_PIXELS), /^Error: BMP 13×9 is damaged or truncated \(/);
    // A BMP header claiming 17000×17000 is refused from its 26 bytes, before any decoding.
    const header = Buffer.alloc(54);
    header.write('BM', 0);
    header.writeInt32LE(17000, 18);
    header.writeInt32LE(17000, 22);
    await assert.rejects(decodeGray(header, 256, MAX_PIXELS), /BMP of 17000×17000 pixels \(289,000,000\) is over maxPixels \(100,000,000\)/);
  });
});

describe('labels from dataset file names', () => {
  const cases: Array<[string, string, string]> = [
    ['cedar/original_12_3.png', 'CEDAR:12', 'genuine'],
    ['cedar/forgeries_7_24.png', 'CEDAR:7', 'forged'],
    ['mcyt/0042v07.bmp', 'MCYT:42', 'genuine'],
    ['mcyt/0042f11.bmp', 'MCYT:42', 'forged'],
    ['gpds/001/c-001-05.jpg', 'GPDS:1', 'genuine'],
    ['gpds/001/cf-001-12.jpg', 'GPDS:1', 'forged'],
    ['bhsig/H-S-17-G-03.tif', 'BHSig:H17', 'genuine'],
    ['bhsig/B-S-2-F-30.tif', 'BHSig:B2', 'forged'],
    ['utsig/writer9/genuine/1.tif', 'utsig/writer9', 'genuine'],
    ['scans/alice/a.png', 'scans/alice', 'unknown'],
    ['alice/a.png', 'alice', 'unknown'],
    // Nearest folder first, whole names only.
    ['real-signatures/bob/forged/b1.png', 'real-signatures/bob', 'forged'],
    ['genuine/bob/forged/b1.png', 'genuine/bob', 'forged'],
    ['sigs/Forghani/1.png', 'sigs/Forghani', 'unknown'],
    ['sigs/Realdo/genuine/1.png', 'sigs/Realdo', 'genuine'],
    // The same folder name in two datasets is two writers.
    ['setA/001/1.png', 'setA/001', 'unknown'],
    ['setB/001/1.png', 'setB/001', 'unknown'],
  ];
  for (const [path, writer, label] of cases) {
    it(`${path} -> writer ${writer}, ${label}`, () => {
      const l = labelFor(path);
      assert.equal(l.writer, writer);
      assert.equal(l.label, label);
    });
  }
});

describe('normalisation', () => {
  it('otsu splits a bimodal histogram between the modes', () => {
    const v = new Uint8Array(1000);
    v.fill(30, 0, 300);
    v.fill(200, 300);
    const t = otsu(v);
    assert.ok(t >= 30 && t < 200, `threshold ${t}`);
  });

  it('detects polarity, and light-on-dark gives the same result as dark-on-light', async () => {
    const dark = { width: 40, height: 20, pixels: new Uint8Array(barImage(40, 20)) };
    const light = { width: 40, height: 20, pixels: dark.pixels.map((v) => 255 - v) };
    assert.equal(inkIsDark(dark), true);
    assert.equal(inkIsDark(light), false);
    const opts = { size: 16, inputPolarity: 'auto', contrast: true, crop: true, margin: 0.05, binarize: false, polarity: 'ink-one' } as const;
    const a = normalizeScan(dark, opts);
    const b = normalizeScan(light, opts);
    assert.deepEqual(a, b);
    assert.equal(a.length, 256);
    assert.ok(Math.max(...a) === 1 && Math.min(...a) === 0);
  });

  it('stretches faint ink to full strength and binarises to exactly 0/1', async () => {
    const faint = { width: 40, height: 20, pixels: new Uint8Array(barImage(40, 20, 200, 230)) };
    const base = { size: 16, inputPolarity: 'auto', crop: false, margin: 0, polarity: 'ink-one' } as const;
    const stretched = normalizeScan(faint, { ...base, contrast: true, binarize: false });
    const raw = normalizeScan(faint, { ...base, contrast: false, binarize: false });
    assert.ok(Math.max(...stretched) > 0.95, `max ${Math.max(...stretched)}`);
    assert.ok(Math.max(...raw) < 0.3, `max ${Math.max(...raw)}`);
    const bin = normalizeScan(faint, { ...base, contrast: true, binarize: true });
    assert.ok(bin.every((v) => v === 0 || v === 1));
    const dark = normalizeScan(faint, { ...base, contrast: true, binarize: true, polarity: 'ink-dark' });
    assert.deepEqual(dark, bin.map((v) => 1 - v));
  });
});

describe('augmentation', () => {
  const size = 16;
  const img = new Float32Array(size * size);
  for (let i = 4; i < 12; i++) img[8 * size + i] = 1;
  const opts = { interpolation: 'lanczos3' as const, rotate: 10, translate: 2, scale: 0.1, flipH: 0, flipV: 0, elastic: { alpha: 1, sigma: 3 } };

  it('is a pure function of the seed (exact hash)', () => {
    const a = augmentImage(img, size, opts, new Rng('s1'), 0);
    const b = augmentImage(img, size, opts, new Rng('s1'), 0);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, augmentImage(img, size, opts, new Rng('s2'), 0));
    assert.equal(sha256(new Uint8Array(a.buffer)), '824b3b4ce64bedce298024845d697fae553ff1598adf87a04f9707bc019f20c4');
  });

  it('identity settings return the image; a certain flip mirrors it', () => {
    const none = { interpolation: 'lanczos3' as const, rotate: 0, translate: 0, scale: 0, flipH: 0, flipV: 0, elastic: { alpha: 0, sigma: 1 } };
    assert.deepEqual(augmentImage(img, size, none, new Rng(1), 0), img);
    assert.deepEqual(augmentImage(img, size, { ...none, interpolation: 'bilinear' }, new Rng(1), 0), img);
    const flipped = augmentImage(img, size, { ...none, flipV: 1 }, new Rng(1), 0);
    assert.equal(flipped[7 * size + 5], 1);
    assert.equal(flipped[8 * size + 5], 0);
  });

  it('lanczos3 keeps shifted strokes sharp where bilinear blurs them', () => {
    // The ink's energy (sum of squares over sum) falls as a stroke spreads over more pixels, and stays
    // level under a whole-pixel move; sub-pixel shifts are where the two resamplers differ.
    const shiftOnly = { rotate: 0, translate: 2, scale: 0, flipH: 0, flipV: 0, elastic: { alpha: 0, sigma: 1 } };
    const sharpness = (x: Float32Array) => x.reduce((s, v) => s + v * v, 0) / x.reduce((s, v) => s + v, 0);
    const mean = (interpolation: 'lanczos3' | 'bilinear') => {
      let sum = 0;
      for (let k = 0; k < 20; k++) sum += sharpness(augmentImage(img, size, { ...shiftOnly, interpolation }, new Rng(`shift${k}`), 0));
      return sum / 20;
    };
    assert.equal(sharpness(img), 1);
    assert.equal(mean('bilinear').toFixed(3), '0.585');
    assert.equal(mean('lanczos3').toFixed(3), '0.673');
  });
});

describe('synthetic signatures', () => {
  it('same seed, same bytes; another seed, other images', async () => {
    const a = await synthesize({ count: 6, writers: 3, seed: 7 });
    const b = await synthesize({ count: 6, writers: 3, seed: 7 });
    const c = await synthesize({ count: 6, writers: 3, seed: 8 });
    const h = (s: typeof a) => sha256(Buffer.concat(s.map((i) => Buffer.from(i.pixels))));
    assert.equal(h(a), h(b));
    // The bytes of the one-at-a-time drawing: scans rendered side by side change nothing.
    assert.equal(h(a), '83acd03361d600bd6a44207c8bd479fcb856664ef91461ddfa5ebbc80e7bd9bb');
    assert.notEqual(h(a), h(c));
    assert.deepEqual(a.map((i) => i.writer), [0, 1, 2, 0, 1, 2]);
  });

  it('threads drawing chunks give the bytes this thread draws alone, in order', async () => {
    const opts = { count: 100, writers: 7, seed: 2 };
    const chunks: number[] = [];
    const threaded = await synthesize(opts, (n) => chunks.push(n));
    const alone = await synthesizeRange(opts, 0, 100);
    // 100 images are three chunks, each heard once when it is done.
    assert.deepEqual([...chunks].sort((x, y) => x - y), [4, 48, 48]);
    assert.deepEqual(threaded.map((i) => [i.writer, i.index]), alone.map((i) => [i.writer, i.index]));
    assert.deepEqual(threaded.map((i) => sha256(i.pixels)), alone.map((i) => sha256(i.pixels)));
  });

  it('looks like a scan: mostly paper, some dark ink', async () => {
    const [img] = await synthesize({ count: 1, writers: 1, seed: 3 });
    const px = img!.pixels;
    const dark = px.filter((v) => v < 100).length / px.length;
    assert.ok(img!.width > img!.height, 'signatures are wider than tall');
    assert.ok(dark > 0.02 && dark < 0.4, `ink fraction ${dark}`);
  });
});

describe('data stages in a pipeline', () => {
  const PIPE = (deps: string, extra = '') => `stages:
  ingest:
    kind: ingest
    ${deps}
    params: { holdout: 0.25, synthetic: { count: 24, writers: 6 }${extra} }
  resize:
    kind: resize
    inputs: { scans: ingest }
    params: { size: 32 }
  augment:
    kind: augment
    inputs: { images: resize }
    params: { copies: 2, seed: 3 }
`;

  it('synthetic set: exact shapes, [0,1] values, split by writer, contact sheets written', () => {
    const dir = project({ 'pipeline.yaml': PIPE('') });
    const r = pipe(dir, 'run');
    assert.equal(r.code, 0, r.stderr);
    const store = new Store(join(dir, 'cache'));
    try {
      const lock = JSON.parse(readFileSync(join(dir, 'pipe.lock'), 'utf8')) as { stages: Record<string, { outs: Record<string, string> }> };
      const hashOf = (stage: string, out: string) => lock.stages[stage]!.outs[out]!;
      const images = store.getTensor(hashOf('resize', 'images'));
      assert.deepEqual(images.shape, [24, 32, 32, 1]);
      assert.ok((images.data as Float32Array).every((v) => v >= 0 && v <= 1));
      const train = store.getTensor(hashOf('augment', 'train'));
      const test = store.getTensor(hashOf('augment', 'test'));
      const val = store.getTensor(hashOf('augment', 'val'));
      // 6 writers of 4 images: 2 writers held out whole (8 images); of each other writer 1 image (round(0.15 × 4)) for validation.
      assert.deepEqual([train.shape[0]! / 3, val.shape[0], test.shape[0]], [12, 4, 8]);
      const meta = JSON.parse(Buffer.from(store.getBlob(hashOf('resize', 'meta'))).toString()) as Array<{ writer: string; split: string }>;
      const splitOf = new Map<string, Set<string>>();
      for (const m of meta) splitOf.set(m.writer, (splitOf.get(m.writer) ?? new Set()).add(m.split));
      assert.ok([...splitOf.values()].every((s) => s.has('test') === (s.size === 1)), 'a held-out writer has only held-out images');
      assert.ok([...splitOf.values()].filter((s) => !s.has('test')).every((s) => s.has('train') && s.has('val')), 'every other writer has training and validation images');
    } finally {
      void store.close();
    }
    for (const f of ['ingest/sheet.png', 'resize/sheet.png', 'augment/sheet.png']) {
      assert.equal(readFileSync(join(dir, 'artifacts', f)).subarray(1, 4).toString(), 'PNG');
    }
  });

  it('real folders: decodes only new files, skips corrupt ones with a warning, strict fails', async () => {
    const dir = project({ 'pipeline.yaml': PIPE('deps: [scans]') });
    for (let w = 1; w <= 2; w++)
      for (let i = 1; i <= 3; i++) {
        const png = await sharp(barImage(40 + i, 20, 10 * w), { raw: { width: 40 + i, height: 20, channels: 1 } }).png().toBuffer();
        write(dir, `scans/original_${w}_${i}.png`, png);
      }
    const first = pipe(dir, 'run', '--until', 'ingest');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /decoded 6, reused 0 from earlier runs, skipped 0/);
    write(dir, 'scans/original_3_1.png', (await encoded('png')));
    write(dir, 'scans/forgeries_3_1.png', 'garbage bytes');
    const second = pipe(dir, 'run', '--until', 'ingest');
    assert.match(second.stdout, /decoded 1, reused 6 from earlier runs, skipped 1/);
    assert.match(second.stdout, /warning: skipping scans\/forgeries_3_1.png: /);
    // strict names every bad file, not only the first.
    write(dir, 'scans/forgeries_3_2.png', 'more garbage');
    const strict = pipe(dir, 'run', '--until', 'ingest', '-S', 'ingest.strict=true');
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /cannot read 2 of 9 files \(strict: true\):\n {2}scans\/forgeries_3_1.png: .*\n {2}scans\/forgeries_3_2.png: /);
  });

  it('a symlink loop ingests each scan once; a dangling link and a folder named like an image are named, not dropped silently', async () => {
    const dir = project({ 'pipeline.yaml': PIPE('deps: [scans]') });
    for (let w = 1; w <= 2; w++) write(dir, `scans/original_${w}_1.png`, await sharp(barImage(40, 20, 10 * w), { raw: { width: 40, height: 20, channels: 1 } }).png().toBuffer());
    symlinkSync(join(dir, 'scans'), join(dir, 'scans', 'loop'));
    symlinkSync(join(dir, 'nothing.png'), join(dir, 'scans', 'original_3_1.png'));
    mkdirSync(join(dir, 'scans', 'original_4_1.png'));
    const r = pipe(dir, 'run', '--until', 'ingest');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /warning: 2 files reached a second time through links, read once \(e.g. scans\/loop\/original_1_1.png is scans\/original_1_1.png\)/);
    assert.match(r.stdout, /warning: skipping scans\/original_3_1.png: a link to nothing \(.*nothing.png\)/);
    assert.match(r.stdout, /warning: skipping scans\/original_4_1.png: a folder named like an image/);
    assert.match(r.stdout, /\[ingest\] 2 images from 2 writers/);
  });

  it('a second copy of a file in the same run is not "reused from earlier runs"; all files skipped says so', async () => {
    const png = await sharp(barImage(40, 20, 10), { raw: { width: 40, height: 20, channels: 1 } }).png().toBuffer();
    const dir = project({ 'pipeline.yaml': PIPE('deps: [scans]') });
    // More copies than decoders run at once: some copies find the first one's memo.
    const copies = availableParallelism() + 1;
    for (let w = 1; w <= copies; w++) write(dir, `scans/original_${w}_1.png`, png);
    const r = pipe(dir, 'run', '--until', 'ingest');
    assert.equal(r.code, 0, r.stderr);
    const m = /decoded (\d+), reused 0 from earlier runs, (\d+) identical to another file here, skipped 0/.exec(r.stdout);
    assert.ok(m && Number(m[1]) + Number(m[2]) === copies && Number(m[2]) >= 1, r.stdout);
    const bad = project({ 'pipeline.yaml': PIPE('deps: [scans]'), 'scans/a.png': 'not a png', 'scans/b.png': 'nor this' });
    const none = pipe(bad, 'run', '--until', 'ingest');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no images: all 2 files were skipped \(the warnings above say why\)/);
  });

  it('an empty folder is an error naming the folder', () => {
    const dir = project({ 'pipeline.yaml': PIPE('deps: [scans]'), 'scans/readme.txt': 'no images' });
    const r = pipe(dir, 'run');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no images found in scans \(1 files there, none with extension png\/jpg/);
  });

  it('labels: genuine keeps only genuine signatures', async () => {
    const dir = project({ 'pipeline.yaml': PIPE('deps: [scans]', ', labels: genuine') });
    const png = await encoded('png');
    for (const n of ['original_1_1', 'original_1_2', 'forgeries_1_1']) write(dir, `scans/${n}.png`, png);
    const r = pipe(dir, 'run', '--until', 'ingest');
    assert.match(r.stdout, /2 images from 1 writers/);
  });
});

describe('the held-out splits', () => {
  it('holds out exactly round(holdout × writers) writers whole, and of each other writer round(validation × its images); the same every run', () => {
    const items = Array.from({ length: 400 }, (_, i) => ({ writer: `synthetic:${i % 50}`, hash: `h${i}` }));
    const splits = assignSplits(items, 0.3, 0.25, 0);
    const writersIn = (s: string) => new Set(items.filter((_, i) => splits[i] === s).map((x) => x.writer));
    assert.equal(writersIn('test').size, 15);
    assert.equal(splits.filter((s) => s === 'test').length, 120, "every held-out writer's eight images");
    assert.equal(writersIn('val').size, 35);
    assert.equal(splits.filter((s) => s === 'val').length, 70, 'two of the eight images of each of the 35 training writers');
    assert.ok([...writersIn('val')].every((w) => writersIn('train').has(w) && !writersIn('test').has(w)));
    assert.deepEqual(assignSplits(items, 0.3, 0.25, 0), splits);
    assert.notDeepEqual(assignSplits(items, 0.3, 0.25, 1), splits);
    const few = Array.from({ length: 20 }, (_, i) => ({ writer: `w${i % 2}`, hash: `h${i}` }));
    const byItem = assignSplits(few, 0.25, 0.2, 0);
    assert.deepEqual([byItem.filter((s) => s === 'test').length, byItem.filter((s) => s === 'val').length], [5, 3]);
    const single = assignSplits([...items, { writer: 'once', hash: 'x' }], 0.3, 0.25, 0);
    assert.notEqual(single.at(-1), 'val', "a writer's only image stays for training");
  });
});

describe('area resize', () => {
  it('averages each output pixel over the input area it covers, keeps the aspect, centres, pads with 0', async () => {
    const { fitArea } = await import('../src/ml/data/area-resize.js');
    // 6×3 → fits 4×4 as 4×2 at rows 1–2; each output pixel covers 1.5×1.5 input pixels.
    const src = Uint8Array.from([0, 30, 60, 90, 120, 150, 0, 30, 60, 90, 120, 150, 0, 30, 60, 90, 120, 150]);
    const out = Array.from(fitArea(src, 6, 3, 4), (v) => Number(v.toFixed(3)));
    const row = [10, 50, 100, 140];
    assert.deepEqual(out, [0, 0, 0, 0, ...row, ...row, 0, 0, 0, 0]);
    // A thin stroke fades rather than vanishes: one 255 column of eight, shrunk 4×, is 255/4 in its output pixel.
    const thin = new Uint8Array(64);
    for (let y = 0; y < 8; y++) thin[y * 8 + 5] = 255;
    assert.deepEqual(Array.from(fitArea(thin, 8, 8, 2)), [0, 63.75, 0, 63.75]);
    // An upscale repeats pixels.
    assert.deepEqual(Array.from(fitArea(Uint8Array.from([10, 20, 30, 40]), 2, 2, 4)), [10, 10, 20, 20, 10, 10, 20, 20, 30, 30, 40, 40, 30, 30, 40, 40]);
  });
});
