import { fitArea } from './area-resize.js';
import type { Gray } from './sheet.js';

export interface NormalizeOptions {
  size: number;
  /** Is the ink darker than the paper (as scanned), lighter, or decide per image? */
  inputPolarity: 'auto' | 'dark-ink' | 'light-ink';
  contrast: boolean;
  crop: boolean;
  margin: number;
  binarize: boolean;
  /** ink-one: ink 1 on 0 (what the models train on); ink-dark: as scanned, paper 1, ink 0. */
  polarity: 'ink-one' | 'ink-dark';
}

/** How many pixels have each 8-bit value: every statistic below reads this, not the pixels. */
function histogram(values: Uint8Array): Float64Array {
  const hist = new Float64Array(256);
  for (let i = 0; i < values.length; i++) hist[values[i]!]!++;
  return hist;
}

/** Otsu's threshold on a histogram of 8-bit values: the level that best separates two classes. */
function otsuOf(hist: Float64Array): number {
  let total = 0;
  let sumAll = 0;
  for (let i = 0; i < 256; i++) {
    total += hist[i]!;
    sumAll += i * hist[i]!;
  }
  let sumB = 0;
  let wB = 0;
  let best = 0;
  let bestVar = -1;
  for (let t = 0; t < 256; t++) {
    wB += hist[t]!;
    if (wB === 0) continue;
    const wF = total - wB;
    if (wF === 0) break;
    sumB += t * hist[t]!;
    const mB = sumB / wB;
    const mF = (sumAll - sumB) / wF;
    const between = wB * wF * (mB - mF) ** 2;
    if (between > bestVar) {
      bestVar = between;
      best = t;
    }
  }
  return best;
}

/** Otsu's threshold on 8-bit values. */
export function otsu(values: Uint8Array): number {
  return otsuOf(histogram(values));
}

/** The q-quantile of the values a histogram counts from level `from` up. */
function percentileOf(hist: Float64Array, q: number, from = 0): number {
  let n = 0;
  for (let i = from; i < 256; i++) n += hist[i]!;
  const target = q * n;
  let acc = 0;
  for (let i = from; i < 256; i++) {
    acc += hist[i]!;
    if (acc >= target) return i;
  }
  return 255;
}

/** Paper is the majority of a signature scan: if the median is bright, the ink is dark. */
function darkInkOf(hist: Float64Array): boolean {
  return percentileOf(hist, 0.5) >= 128;
}

export function inkIsDark(img: Gray): boolean {
  return darkInkOf(histogram(img.pixels));
}

/**
 * One scan to a size×size float image in [0,1]: ink map (ink high), contrast
 * stretched from paper to ink so faint ink reaches full strength, cropped to
 * the ink's bounding box plus a margin, fitted with its aspect kept and
 * padded with paper (area averaging), optionally binarised with Otsu. The
 * statistics come from one histogram and the pixel mapping is one lookup
 * table: two passes over the scan before the crop.
 */
export function normalizeScan(img: Gray, o: NormalizeOptions): Float32Array {
  const raw = histogram(img.pixels);
  const dark = o.inputPolarity === 'auto' ? darkInkOf(raw) : o.inputPolarity === 'dark-ink';
  // The ink map's histogram is the scan's, mirrored when the ink is dark.
  const hist = dark ? raw.slice().reverse() : raw;
  const t = otsuOf(hist);
  const lut = new Uint8Array(256);
  const paper = percentileOf(hist, 0.5);
  // Full-strength ink: the 90th percentile of the pixels above Otsu's threshold (the strokes).
  let strokes = 0;
  for (let v = t + 1; v < 256; v++) strokes += hist[v]!;
  const full = strokes ? percentileOf(hist, 0.9, t + 1) : 255;
  const span = Math.max(1, full - paper);
  for (let v = 0; v < 256; v++) {
    const inkValue = dark ? 255 - v : v;
    lut[v] = o.contrast ? Math.max(0, Math.min(255, Math.round(((inkValue - paper) * 255) / span))) : inkValue;
  }
  const ink = new Uint8Array(img.pixels.length);
  for (let i = 0; i < ink.length; i++) ink[i] = lut[img.pixels[i]!]!;
  let { width, height } = img;
  let src = ink;
  if (o.crop) {
    const thr = o.contrast ? 96 : t;
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (ink[y * width + x]! > thr) {
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          if (y > y1) y1 = y;
        }
      }
    }
    if (x1 >= x0) {
      const m = Math.round(o.margin * Math.max(x1 - x0 + 1, y1 - y0 + 1));
      x0 = Math.max(0, x0 - m);
      y0 = Math.max(0, y0 - m);
      x1 = Math.min(width - 1, x1 + m);
      y1 = Math.min(height - 1, y1 + m);
      const w = x1 - x0 + 1;
      const h = y1 - y0 + 1;
      src = new Uint8Array(w * h);
      for (let y = 0; y < h; y++) src.set(ink.subarray((y0 + y) * width + x0, (y0 + y) * width + x0 + w), y * w);
      width = w;
      height = h;
    }
  }
  const fitted = fitArea(src, width, height, o.size);
  const bin = o.binarize ? otsu(Uint8Array.from(fitted, (v) => Math.round(v))) : -1;
  const out = new Float32Array(o.size * o.size);
  for (let i = 0; i < out.length; i++) {
    const v = bin >= 0 ? (Math.round(fitted[i]!) > bin ? 1 : 0) : fitted[i]! / 255;
    out[i] = o.polarity === 'ink-one' ? v : 1 - v;
  }
  return out;
}
