import { outlineFont, textPath } from '../fonts/outline.js';

/** Grids of grayscale images as PNG: contact sheets, sample grids, progress frames. */
export interface Gray {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/** A strip of column titles, one centred over each cell, drawn with the bundled font (same bytes everywhere). */
async function headerRow(titles: string[], cellWidth: number, gap: number, width: number): Promise<{ height: number; pixels: Uint8Array }> {
  const { default: sharp } = await import('sharp');
  const font = await outlineFont('dejavu-sans');
  const size = Math.max(7, Math.min(12, cellWidth / 6));
  const height = Math.ceil(size * 1.6);
  const paths = titles.map((t, i) => {
    const w = textPath(font, t, 0, 0, size).width;
    return `<path d="${textPath(font, t, gap + i * (cellWidth + gap) + (cellWidth - w) / 2, size * 1.2, size).d}" fill="#000"/>`;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="${width}" height="${height}" fill="#fff"/>${paths.join('')}</svg>`;
  const { data } = await sharp(Buffer.from(svg), { density: 72 }).greyscale().raw().toBuffer({ resolveWithObject: true });
  return { height, pixels: new Uint8Array(data.buffer, data.byteOffset, width * height) };
}

/**
 * Lays images out row by row, each fitted into a cell (aspect kept, padded
 * with `background`), with a `gap`-pixel border; `header` titles the columns.
 */
export async function gridPng(
  images: Gray[],
  opts: { cols: number; cellWidth: number; cellHeight: number; gap?: number; background?: number; header?: string[] },
): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  const gap = opts.gap ?? 2;
  const bg = opts.background ?? 255;
  const rows = Math.max(1, Math.ceil(images.length / opts.cols));
  const W = opts.cols * (opts.cellWidth + gap) + gap;
  const H = rows * (opts.cellHeight + gap) + gap;
  const out = new Uint8Array(W * H).fill(bg === 255 ? 200 : 60);
  for (let k = 0; k < images.length; k++) {
    const img = images[k]!;
    const { data, info } = await sharp(Buffer.from(img.pixels.buffer, img.pixels.byteOffset, img.pixels.byteLength), {
      raw: { width: img.width, height: img.height, channels: 1 },
    })
      .resize(opts.cellWidth, opts.cellHeight, { fit: 'contain', background: { r: bg, g: bg, b: bg }, kernel: 'lanczos3' })
      .greyscale()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const x0 = gap + (k % opts.cols) * (opts.cellWidth + gap);
    const y0 = gap + Math.floor(k / opts.cols) * (opts.cellHeight + gap);
    for (let y = 0; y < opts.cellHeight; y++) {
      for (let x = 0; x < opts.cellWidth; x++) out[(y0 + y) * W + x0 + x] = data[(y * info.width + x) * info.channels]!;
    }
  }
  if (!opts.header) return sharp(out, { raw: { width: W, height: H, channels: 1 } }).png({ compressionLevel: 9 }).toBuffer();
  const top = await headerRow(opts.header, opts.cellWidth, gap, W);
  const all = new Uint8Array(W * (top.height + H));
  all.set(top.pixels);
  all.set(out, W * top.height);
  return sharp(all, { raw: { width: W, height: top.height + H, channels: 1 } }).png({ compressionLevel: 9 }).toBuffer();
}
