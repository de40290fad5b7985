import type { Gray } from './sheet.js';

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
 * A PNG of at most 8 bits a sample whose pixels are all grey and opaque, as
 * pngjs decodes it (CRCs checked): exactly what sharp's flatten + greyscale
 * give for such pixels, for a fraction of a libvips call's cost on small
 * scans. undefined for anything else (colour, transparency, 16-bit, a size
 * over maxSide, damage): sharp decodes and judges those.
 */
async function plainGreyPng(buf: Uint8Array, width: number, height: number, maxSide: number): Promise<Gray | undefined> {
  if (buf.length < 25 || buf[24]! > 8 || Math.max(width, height) > maxSide) return undefined;
  const { PNG } = await import('pngjs');
  let rgba: Buffer;
  try {
    rgba = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)).data;
  } catch {
    return undefined;
  }
  const pixels = new Uint8Array(width * height);
  for (let i = 0, o = 0; i < pixels.length; i++, o += 4) {
    const v = rgba[o]!;
    if (v !== rgba[o + 1] || v !== rgba[o + 2] || rgba[o + 3] !== 255) return undefined;
    pixels[i] = v;
  }
  return { width, height, pixels };
}

/** Smaller than this on a side is not a scan of a signature (a 1×1 placeholder, an icon). */
const MIN_SIDE = 8;
/** Grey levels between the darkest and lightest pixel below which an image is blank. */
const MIN_CONTRAST = 8;

/** The format a file's first bytes announce (BMP goes to bmp-js, the rest to sharp; messages name it). */
function magicFormat(buf: Uint8Array): string | undefined {
  const head = Buffer.from(buf.buffer, buf.byteOffset, Math.min(12, buf.byteLength));
  if (buf.length > 2 && head[0] === 0x42 && head[1] === 0x4d) return 'BMP';
  if (head.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47]))) return 'PNG';
  if (head[0] === 0xff && head[1] === 0xd8) return 'JPEG';
  if (head.subarray(0, 4).toString('latin1') === 'GIF8') return 'GIF';
  if (['II*\0', 'MM\0*'].includes(head.subarray(0, 4).toString('latin1'))) return 'TIFF';
  if (head.subarray(0, 4).toString('latin1') === 'RIFF' && head.subarray(8, 12).toString('latin1') === 'WEBP') return 'WebP';
  return undefined;
}

/** The size a PNG's IHDR (bytes 16–23) or a GIF's screen descriptor (bytes 6–9) gives; undefined for other formats or a header cut short. */
function pngOrGifSize(buf: Uint8Array, kind: string | undefined): { format: string; width: number; height: number } | undefined {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (kind === 'PNG' && buf.length >= 24) return { format: 'png', width: view.getUint32(16), height: view.getUint32(20) };
  if (kind === 'GIF' && buf.length >= 10) return { format: 'gif', width: view.getUint16(6, true), height: view.getUint16(8, true) };
  return undefined;
}

/** A BMP's size from its header (bytes 18–25), before anything is decoded. */
function bmpSize(buf: Uint8Array): { width: number; height: number } {
  if (buf.length < 26) throw new Error(`BMP cut short (${buf.length} bytes, no header)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return { width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)) };
}

function checkSize(format: string, width: number, height: number, maxPixels: number): void {
  if (width * height > maxPixels) throw new Error(`${format} of ${width}×${height} pixels (${(width * height).toLocaleString('en')}) is over maxPixels (${maxPixels.toLocaleString('en')}); raise ingest.maxPixels to read it`);
  if (width < MIN_SIDE || height < MIN_SIDE) throw new Error(`${format} of only ${width}×${height} pixels: too small to be a signature scan`);
}

/**
 * Any supported scan as 8-bit grayscale, alpha flattened onto white, first
 * page of a multi-page file, shrunk so its longest side is at most maxSide.
 * Its size is checked from the header before it is decoded (maxPixels), and
 * a blank image is refused; each refusal says what the file is.
 */
export async function decodeGray(buf: Uint8Array, maxSide: number, maxPixels: number): Promise<Gray> {
  const kind = magicFormat(buf);
  // PNG and GIF give their size in fixed header bytes: checked before anything else reads the file.
  const header = pngOrGifSize(buf, kind);
  if (header) checkSize(header.format.toUpperCase(), header.width, header.height, maxPixels);
  if (header?.format === 'png') {
    const plain = await plainGreyPng(buf, header.width, header.height, maxSide);
    if (plain) return checkContrast(plain, `PNG ${header.width}×${header.height}`);
  }
  const { default: sharp } = await import('sharp');
  let input: ReturnType<typeof sharp>;
  let what: string;
  if (kind === 'BMP') {
    const { width, height } = bmpSize(buf);
    checkSize('BMP', width, height, maxPixels);
    what = `BMP ${width}×${height}`;
    // bmp-js says 'The value of "offset" is out of range' for a cut-short file.
    const g = await decodeBmp(buf).catch((e: Error) => {
      throw new Error(`${what} is damaged or truncated (${e.message.split('\n')[0]})`);
    });
    input = sharp(Buffer.from(g.pixels.buffer, g.pixels.byteOffset, g.pixels.byteLength), { raw: { width: g.width, height: g.height, channels: 1 } });
  } else {
    // Other formats ask libvips, which reads only the header.
    const meta =
      header ??
      (await sharp(buf, { pages: 1 })
        .metadata()
        .catch((e: Error) => {
          throw new Error(kind ? `${kind} is damaged or truncated (its header does not read: ${e.message.split('\n')[0]})` : 'not an image (no PNG, JPEG, TIFF, WebP, GIF or BMP header in its first bytes)');
        }));
    const format = (meta.format ?? 'image').toUpperCase();
    if (!header) checkSize(format, meta.width ?? 0, meta.height ?? 0, maxPixels);
    what = `${format} ${meta.width}×${meta.height}`;
    input = sharp(buf, { pages: 1, page: 0, failOn: 'error', limitInputPixels: maxPixels });
  }
  const { data, info } = await input
    .flatten({ background: '#ffffff' })
    .greyscale()
    .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch((e: Error) => {
      // libvips says "vipspng: libpng read error" and the like: say which file kind and size failed, and that it is damaged.
      throw new Error(`${what} is damaged or truncated (${e.message.split('\n')[0]})`);
    });
  return checkContrast({ width: info.width, height: info.height, pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }, what);
}

function checkContrast(img: Gray, what: string): Gray {
  let lo = 255;
  let hi = 0;
  for (const v of img.pixels) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (hi - lo < MIN_CONTRAST) throw new Error(`${what} is blank (every pixel between grey ${lo} and ${hi})`);
  return img;
}
