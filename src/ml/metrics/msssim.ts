/** MS-SSIM (Wang et al. 2003) for small grayscale images in [0,1]. */

const WEIGHTS_5 = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

function gaussian(size: number, sigma: number): Float64Array {
  const k = new Float64Array(size);
  const c = (size - 1) / 2;
  let s = 0;
  for (let i = 0; i < size; i++) s += k[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
  return k.map((v) => v / s);
}

/** Valid-mode separable filtering. */
function filter(img: Float64Array, w: number, h: number, k: Float64Array): { data: Float64Array; w: number; h: number } {
  const n = k.length;
  const ow = w - n + 1;
  const oh = h - n + 1;
  const tmp = new Float64Array(ow * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < ow; x++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += k[i]! * img[y * w + x + i]!;
    tmp[y * ow + x] = s;
  }
  const out = new Float64Array(ow * oh);
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += k[i]! * tmp[(y + i) * ow + x]!;
    out[y * ow + x] = s;
  }
  return { data: out, w: ow, h: oh };
}

function ssimParts(a: Float64Array, b: Float64Array, w: number, h: number): { ssim: number; cs: number } {
  const win = Math.min(11, w, h);
  const k = gaussian(win, 1.5 * (win / 11));
  const C1 = 0.01 ** 2;
  const C2 = 0.03 ** 2;
  const mul = (x: Float64Array, y: Float64Array) => x.map((v, i) => v * y[i]!);
  const mu1 = filter(a, w, h, k).data;
  const mu2 = filter(b, w, h, k).data;
  const s11 = filter(mul(a, a), w, h, k).data;
  const s22 = filter(mul(b, b), w, h, k).data;
  const s12 = filter(mul(a, b), w, h, k).data;
  let ssim = 0;
  let cs = 0;
  for (let i = 0; i < mu1.length; i++) {
    const v1 = s11[i]! - mu1[i]! ** 2;
    const v2 = s22[i]! - mu2[i]! ** 2;
    const cov = s12[i]! - mu1[i]! * mu2[i]!;
    const c = (2 * cov + C2) / (v1 + v2 + C2);
    cs += c;
    ssim += ((2 * mu1[i]! * mu2[i]! + C1) / (mu1[i]! ** 2 + mu2[i]! ** 2 + C1)) * c;
  }
  return { ssim: ssim / mu1.length, cs: cs / mu1.length };
}

function downsample(a: Float64Array, w: number, h: number): Float64Array {
  const out = new Float64Array((w >> 1) * (h >> 1));
  for (let y = 0; y < h >> 1; y++) for (let x = 0; x < w >> 1; x++) {
    out[y * (w >> 1) + x] = (a[2 * y * w + 2 * x]! + a[2 * y * w + 2 * x + 1]! + a[(2 * y + 1) * w + 2 * x]! + a[(2 * y + 1) * w + 2 * x + 1]!) / 4;
  }
  return out;
}

/** MS-SSIM over `scales` scales (3 at 64 px), weights renormalised from the standard five. */
export function msssim(a: ArrayLike<number>, b: ArrayLike<number>, size: number, scales = 3): number {
  const weights = WEIGHTS_5.slice(0, scales);
  const total = weights.reduce((s, v) => s + v, 0);
  let x: Float64Array = Float64Array.from(a);
  let y: Float64Array = Float64Array.from(b);
  let w = size;
  let result = 1;
  for (let s = 0; s < scales; s++) {
    const { ssim, cs } = ssimParts(x, y, w, w);
    const term = s === scales - 1 ? ssim : cs;
    result *= Math.max(term, 0) ** (weights[s]! / total);
    if (s < scales - 1) {
      x = downsample(x, w, w);
      y = downsample(y, w, w);
      w >>= 1;
    }
  }
  return result;
}
