import type { Tensor } from '../../core/stage.js';
import type { Gray } from './sheet.js';

/** N×size×size×1 float32: the image batch layout every stage after resize uses. */
export function imageTensor(data: Float32Array, n: number, size: number): Tensor {
  return { dtype: 'float32', shape: [n, size, size, 1], data };
}

/** Rows `rows` of a batch tensor, copied into a new batch. */
export function pickImages(t: Tensor, rows: number[]): Tensor {
  const px = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(rows.length * px);
  rows.forEach((r, k) => out.set((t.data as Float32Array).subarray(r * px, (r + 1) * px), k * px));
  return { ...t, shape: [rows.length, ...t.shape.slice(1)], data: out };
}

/** Images start to start + n of a batch tensor, without a copy. */
export function sliceImages(t: Tensor, start: number, n: number): Tensor {
  const px = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return { ...t, shape: [n, ...t.shape.slice(1)], data: (t.data as Float32Array).subarray(start * px, (start + n) * px) };
}

/**
 * The first `max` images of a batch as 8-bit grayscale for grids, always ink
 * dark on light paper, however the tensor stores them.
 */
export function tensorImages(t: Tensor, polarity: 'ink-one' | 'ink-dark', max = Infinity): Gray[] {
  const [n, h, w] = t.shape as [number, number, number];
  const out: Gray[] = [];
  for (let k = 0; k < Math.min(n, max); k++) {
    const px = new Uint8Array(h * w);
    for (let i = 0; i < px.length; i++) {
      const v = Math.max(0, Math.min(1, t.data[k * h * w + i]!));
      px[i] = Math.round(255 * (polarity === 'ink-one' ? 1 - v : v));
    }
    out.push({ width: w, height: h, pixels: px });
  }
  return out;
}

export async function encodePng(img: Gray): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  return sharp(Buffer.from(img.pixels.buffer, img.pixels.byteOffset, img.pixels.byteLength), { raw: { width: img.width, height: img.height, channels: 1 } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}
