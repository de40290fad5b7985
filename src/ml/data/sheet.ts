/** Grids of grayscale images as PNG: contact sheets, sample grids, progress frames. */
export interface Gray {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/**
 * Lays images out row by row, each fitted into a cell (aspect kept, padded
 * with `background`), with a `gap`-pixel border.
 */
export async function gridPng(
  images: Gray[],
  opts: { cols: number; cellWidth: number; cellHeight: number; gap?: number; background?: number },
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
  return sharp(out, { raw: { width: W, height: H, channels: 1 } }).png({ compressionLevel: 9 }).toBuffer();
}
