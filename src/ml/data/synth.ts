import { availableParallelism } from 'node:os';
import pLimit from 'p-limit';
import { ALL_FONTS, loadFont, type HandFont, type Segment } from './fonts.js';
import { Rng } from '../../core/stage.js';
import { startThread } from '../thread.js';

/**
 * Seeded synthetic signatures: each writer has a fixed name, font and hand
 * (slant, size, spacing, pen, flourish); each sample varies that hand the way
 * repeated signatures vary. Drawn as SVG, rasterised by sharp, then given a
 * paper tone and scan noise. Same seed, same bytes.
 */

const FIRST = [
  'James', 'Maria', 'Chen', 'Amelia', 'Oliver', 'Sofia', 'Lucas', 'Hannah', 'Mateo', 'Isabel', 'Noah', 'Elena',
  'Arjun', 'Grace', 'Leon', 'Clara', 'Hugo', 'Julia', 'Felix', 'Laura', 'Omar', 'Nadia', 'Victor', 'Alice',
  'Daniel', 'Emma', 'Kenji', 'Rosa', 'Pablo', 'Irene', 'Samuel', 'Ingrid', 'Theo', 'Marta', 'Ravi', 'Helen',
  'Robert', 'Anna', 'Diego', 'Louise', 'Stefan', 'Priya', 'Adam', 'Carmen', 'Erik', 'Lena', 'Marco', 'Olga',
];
const LAST = [
  'Smith', 'Garcia', 'Nguyen', 'Müller', 'Rossi', 'Kowalski', 'Johnson', 'Martin', 'Silva', 'Brown', 'Dubois',
  'Fernandez', 'Novak', 'Andersson', 'Moreau', 'Hughes', 'Petrov', 'Lopez', 'Fischer', 'Bianchi', 'Walker',
  'Lindqvist', 'Okafor', 'Tanaka', 'Schmidt', 'Costa', 'Wright', 'Haddad', 'Kaplan', 'Romero', 'Bennett',
  'Sato', 'Weber', 'Marsh', 'Castillo', 'Hoffman', 'Reyes', 'Clarke', 'Ivanova', 'Delgado', 'Foster',
  'Larsen', 'Mendes', 'Quinn', 'Holloway', 'Varga', 'Eriksen', 'Palmer', 'Jansen', 'Whitfield',
];

export interface WriterStyle {
  writer: number;
  text: string;
  font: string;
  slant: number;
  size: number;
  spacing: number;
  pen: number;
  ink: number;
  flourish: 'none' | 'underline' | 'tail' | 'loop';
  wave: number;
  /** Letters shrink along the name by up to this fraction, as hurried signatures trail off. */
  trail: number;
  rotate: number;
  /** Some scanners save 1-bit images. */
  bilevel: boolean;
}

export function writerStyle(seed: number, writer: number): WriterStyle {
  const r = new Rng(`signature-writer:${seed}:${writer}`);
  const first = r.pick(FIRST);
  const last = r.pick(LAST);
  const format = r.int(5);
  const text = [`${first} ${last}`, `${first[0]}. ${last}`, last, `${first[0]} ${last}`, `${first} ${last[0]}.`][format]!;
  return {
    writer,
    text,
    font: ALL_FONTS[r.int(ALL_FONTS.length)]!,
    slant: r.uniform(-0.1, 0.45),
    size: r.uniform(0.85, 1.2),
    spacing: r.uniform(0.88, 1.12),
    pen: r.uniform(0.8, 2.4),
    ink: Math.round(r.uniform(10, 80)),
    flourish: r.pick(['none', 'underline', 'tail', 'loop', 'underline', 'tail'] as const),
    wave: r.uniform(0.02, 0.12),
    trail: r.bool(0.5) ? r.uniform(0.1, 0.4) : 0,
    rotate: r.uniform(-6, 6),
    bilevel: r.bool(0.12),
  };
}

type Pt = [number, number];

function fmt(n: number): string {
  return (Math.round(n * 100) / 100).toString();
}

function finite(pts: Pt[]): boolean {
  return pts.every(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
}

/** Catmull-Rom through a pen's polyline, as cubic Béziers: strokes look written, not plotted. */
function smoothPolyline(pts: Pt[]): string {
  if (pts.length < 3) return `M${pts.map(([x, y]) => `${fmt(x)} ${fmt(y)}`).join('L')}`;
  let d = `M${fmt(pts[0]![0])} ${fmt(pts[0]![1])}`;
  for (let i = 0; i < pts.length - 1; i++) {
    const p0 = pts[Math.max(0, i - 1)]!;
    const p1 = pts[i]!;
    const p2 = pts[i + 1]!;
    const p3 = pts[Math.min(pts.length - 1, i + 2)]!;
    const c1: Pt = [p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6];
    const c2: Pt = [p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6];
    d += `C${fmt(c1[0])} ${fmt(c1[1])} ${fmt(c2[0])} ${fmt(c2[1])} ${fmt(p2[0])} ${fmt(p2[1])}`;
  }
  return d;
}

export interface RenderedSignature {
  width: number;
  height: number;
  svg: string;
  /** Gray level of the paper and of the ink, 0-255, for the scan stage. */
  paper: number;
  noise: number;
  blur: number;
  bilevel: boolean;
}

/** Lays out one sample of a writer's signature as SVG. */
export function layoutSignature(font: HandFont, style: WriterStyle, r: Rng): RenderedSignature {
  const xh = 13 * style.size * (1 + r.normal() * 0.04);
  const s = xh / font.xHeight;
  const slant = style.slant + r.normal() * 0.04;
  const spacing = style.spacing * (1 + r.normal() * 0.03);
  const waveAmp = style.wave * xh * (0.7 + 0.6 * r.next());
  const waveFreq = r.uniform(0.08, 0.2);
  const phase = r.uniform(0, Math.PI * 2);
  const pen = Math.max(0.6, style.pen * (1 + r.normal() * 0.12));
  const baseline = 0;
  const warp = ([x, y]: Pt): Pt => {
    const sheared = x + slant * (baseline - y);
    return [sheared, y + waveAmp * Math.sin(waveFreq * (x / xh) * 6 + phase)];
  };

  const paths: string[] = [];
  const all: Pt[] = [];
  let penX = 0;
  let prev: string | undefined;
  let lastPt: Pt = [0, 0];
  const chars = [...style.text];
  for (const [k, ch] of chars.entries()) {
    const g = font.glyph(ch) ?? (ch === ' ' ? undefined : font.glyph(ch.normalize('NFD')[0]!));
    if (ch === ' ' || !g) {
      penX += xh * (0.9 + r.next() * 0.4) * spacing;
      prev = undefined;
      continue;
    }
    if (prev) penX += font.kern(prev, ch) * s;
    const ds = (1 + r.normal() * 0.06) * (1 - (style.trail * k) / chars.length);
    const dy = r.normal() * 0.08 * xh;
    const rot = r.normal() * 0.06;
    const cos = Math.cos(rot);
    const sin = Math.sin(rot);
    const place = ([gx, gy]: Pt): Pt => {
      const x0 = gx * s * ds;
      const y0 = gy * s * ds;
      return warp([penX + x0 * cos - y0 * sin, baseline - (x0 * sin + y0 * cos) - dy]);
    };
    if (font.stroke) {
      let run: Pt[] = [];
      const flush = () => {
        if (run.length > 1 && finite(run)) paths.push(`<path d="${smoothPolyline(run)}"/>`);
        run = [];
      };
      for (const seg of g.segments) {
        if (seg.type === 'M') flush();
        const p = place(seg.pts[0]!);
        run.push(p);
        all.push(p);
        lastPt = p;
      }
      flush();
    } else {
      let d = '';
      for (const seg of g.segments as Segment[]) {
        if (seg.type === 'Z') {
          d += 'Z';
          continue;
        }
        const pts = seg.pts.map(place);
        if (!finite(pts)) continue;
        d += seg.type + pts.map(([x, y]) => `${fmt(x)} ${fmt(y)}`).join(' ');
        all.push(...pts);
        lastPt = pts[pts.length - 1]!;
      }
      if (d) paths.push(`<path d="${d}"/>`);
    }
    penX += g.advance * s * ds * spacing;
    prev = ch;
  }

  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  let minX = Math.min(...xs);
  let maxX = Math.max(...xs);
  let maxY = Math.max(...ys);
  const minY = Math.min(...ys);
  const w = maxX - minX;
  const flourish: string[] = [];
  const ul = baseline + xh * r.uniform(0.3, 0.7);
  if (style.flourish === 'underline') {
    const x0 = minX - w * r.uniform(0, 0.08);
    const x1 = maxX + w * r.uniform(0.02, 0.12);
    flourish.push(`M${fmt(x0)} ${fmt(ul + xh * 0.2)}C${fmt(x0 + w * 0.3)} ${fmt(ul - xh * 0.3)} ${fmt(x1 - w * 0.3)} ${fmt(ul + xh * 0.4)} ${fmt(x1)} ${fmt(ul - xh * r.uniform(0, 0.5))}`);
  } else if (style.flourish === 'tail') {
    const [lx, ly] = lastPt;
    flourish.push(
      `M${fmt(lx)} ${fmt(ly)}C${fmt(lx + xh * 1.5)} ${fmt(ly + xh * 0.5)} ${fmt(lx + xh * 0.5)} ${fmt(ul + xh)} ${fmt(lx - w * r.uniform(0.3, 0.7))} ${fmt(ul + xh * 0.3)}`,
    );
  } else if (style.flourish === 'loop') {
    const cx = minX + w * r.uniform(0.35, 0.65);
    const x0 = minX - w * 0.05;
    const x1 = maxX + w * 0.05;
    flourish.push(
      `M${fmt(x0)} ${fmt(ul)}C${fmt(cx)} ${fmt(ul + xh * 0.3)} ${fmt(cx + xh)} ${fmt(ul - xh * 0.9)} ${fmt(cx)} ${fmt(ul - xh * 0.2)}S${fmt(cx + xh * 0.4)} ${fmt(ul + xh * 0.8)} ${fmt(x1)} ${fmt(ul - xh * 0.2)}`,
    );
  }
  if (flourish.length) {
    minX = Math.min(minX, minX - w * 0.12);
    maxX = Math.max(maxX, maxX + w * 0.12, lastPt[0] + xh * 1.6);
    maxY = Math.max(maxY, ul + xh * 1.3);
  }
  const margin = xh * r.uniform(0.6, 1.4);
  const width = Math.ceil(maxX - minX + 2 * margin);
  const height = Math.ceil(maxY - minY + 2 * margin);
  const rotate = style.rotate + r.normal() * 1.5;
  const ink = Math.min(140, Math.max(0, Math.round(style.ink + r.normal() * 8)));
  const color = `rgb(${ink},${ink},${ink})`;
  const tx = margin - minX;
  const ty = margin - minY;
  const glyphStyle = font.stroke
    ? `fill="none" stroke="${color}" stroke-width="${fmt(pen * 1.3)}" stroke-linecap="round" stroke-linejoin="round"`
    : `fill="${color}" stroke="${color}" stroke-width="${fmt(pen * 0.35)}" stroke-linejoin="round"`;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<g transform="rotate(${fmt(rotate)} ${fmt(width / 2)} ${fmt(height / 2)}) translate(${fmt(tx)} ${fmt(ty)})">` +
    `<g ${glyphStyle}>${paths.join('')}</g>` +
    (flourish.length ? `<path d="${flourish.join('')}" fill="none" stroke="${color}" stroke-width="${fmt(pen)}" stroke-linecap="round"/>` : '') +
    `</g></svg>`;
  return {
    width,
    height,
    svg,
    paper: Math.round(r.uniform(205, 250)),
    noise: r.uniform(1, 7),
    blur: r.bool(0.3) ? r.uniform(0.3, 0.8) : 0,
    bilevel: style.bilevel,
  };
}

export interface SynthImage {
  writer: number;
  index: number;
  width: number;
  height: number;
  /** 8-bit grayscale, row-major. */
  pixels: Uint8Array;
}

/** Rasterises a laid-out signature as a grayscale "scan". */
export async function scan(sig: RenderedSignature, r: Rng): Promise<{ width: number; height: number; pixels: Uint8Array }> {
  const { default: sharp } = await import('sharp');
  let img = sharp(Buffer.from(sig.svg), { density: 72 }).flatten({ background: { r: 255, g: 255, b: 255 } }).greyscale();
  if (sig.blur > 0.3) img = img.blur(sig.blur);
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  const px = new Uint8Array(info.width * info.height);
  // White becomes the paper tone (with a slow gradient, as scanners light unevenly), ink scales with it; then sensor noise.
  const gx = r.uniform(-8, 8) / info.width;
  const gy = r.uniform(-8, 8) / info.height;
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      const i = y * info.width + x;
      const paper = sig.paper + gx * x + gy * y;
      let g = (data[i * info.channels]! * paper) / 255 + r.normal() * sig.noise;
      if (sig.bilevel) g = g < paper * 0.6 ? 0 : 255;
      px[i] = Math.max(0, Math.min(255, Math.round(g)));
    }
  }
  return { width: info.width, height: info.height, pixels: px };
}

/** Samples `from` to `to` − 1 of a synthetic set, each from its own seeded stream, so any run of them draws the same bytes alone or in a whole set. */
export async function synthesizeRange(opts: SynthOptions, from: number, to: number): Promise<SynthImage[]> {
  const styles = Array.from({ length: opts.writers }, (_, w) => writerStyle(opts.seed, w));
  // The scans sharp renders in its threads overlap the layout of the next ones.
  const limit = pLimit(2);
  return Promise.all(
    Array.from({ length: to - from }, (_, k) =>
      limit(async () => {
        const i = from + k;
        const style = styles[i % opts.writers]!;
        const r = new Rng(`signature-sample:${opts.seed}:${i}`);
        const sig = layoutSignature(await loadFont(style.font), style, r);
        const { width, height, pixels } = await scan(sig, r);
        return { writer: style.writer, index: Math.floor(i / opts.writers), width, height, pixels };
      }),
    ),
  );
}

export interface SynthOptions {
  count: number;
  writers: number;
  seed: number;
}

const CHUNK = 48;

/**
 * `count` samples from `writers` writers, sample i by writer i mod writers,
 * drawn in chunks by one worker thread per core (synth-worker.ts): layout
 * and the paper and noise of each scan are JavaScript, so one thread would
 * draw them one after another. The same seed gives the same bytes for any
 * number of threads. onChunk hears how many images each finished chunk held.
 */
export async function synthesize(opts: SynthOptions, onChunk?: (images: number) => void): Promise<SynthImage[]> {
  const chunks = Array.from({ length: Math.ceil(opts.count / CHUNK) }, (_, c) => [c * CHUNK, Math.min(opts.count, (c + 1) * CHUNK)] as const);
  const threads = await Promise.all(
    Array.from({ length: Math.min(availableParallelism(), chunks.length) }, () => startThread<{ from: number; to: number }, SynthImage[]>(new URL('./synth-worker.js', import.meta.url), opts)),
  );
  const out: SynthImage[][] = [];
  let next = 0;
  try {
    // Each thread takes the next chunk when it finishes one; chunks land in their place.
    await Promise.all(
      threads.map(async (t) => {
        while (next < chunks.length) {
          const c = next++;
          const [from, to] = chunks[c]!;
          out[c] = await t.ask({ from, to });
          onChunk?.(to - from);
        }
      }),
    );
  } finally {
    await Promise.all(threads.map((t) => t.terminate()));
  }
  return out.flat();
}
