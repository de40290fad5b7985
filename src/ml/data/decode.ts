import type { Gray } from './sheet.js';

function isBmp(buf: Uint8Array): boolean {
  return buf.length > 2 && buf[0] === 0x42 && buf[1] === 0x4d;
}

/** BMP (sharp cannot read it): bmp-js gives ABGR bytes, 1/4/8/24/32-bit alike. */
async function decodeBmp(buf: Uint8Array): Promise<Gray> {
  const { default: bmp } = await import('bmp-js');
  const img = bmp.decode(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
  if (!img.width || !img.height) throw new Error('BMP has no pixels');
  const px = new Uint8Array(img.width * img.height);
  for (let i = 0; i < px.length; i++) {
    const o = i * 4;
    px[i] = Math.round(0.114 * img.data[o + 1]! + 0.587 * img.data[o + 2]! + 0.299 * img.data[o + 3]!);
  }
  return { width: img.width, height: img.height, pixels: px };
}

/**
 * Any supported scan as 8-bit grayscale, alpha flattened onto white, first
 * page of a multi-page file, shrunk so its longest side is at most maxSide.
 */
export async function decodeGray(buf: Uint8Array, maxSide: number): Promise<Gray> {
  const { default: sharp } = await import('sharp');
  let input: ReturnType<typeof sharp>;
  if (isBmp(buf)) {
    const g = await decodeBmp(buf);
    input = sharp(Buffer.from(g.pixels.buffer, g.pixels.byteOffset, g.pixels.byteLength), { raw: { width: g.width, height: g.height, channels: 1 } });
  } else {
    input = sharp(buf, { pages: 1, page: 0, failOn: 'error', limitInputPixels: 2 ** 28 });
  }
  const { data, info } = await input
    .flatten({ background: '#ffffff' })
    .greyscale()
    .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
