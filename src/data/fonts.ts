import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Handwriting fonts for the synthetic signatures, all shipped inside npm
 * packages so output never depends on system fonts. Outline fonts (OFL, from
 * @fontsource) are filled; single-stroke fonts (Hershey / EMS, from
 * hersheytext) are drawn with a pen.
 */
export interface Segment {
  type: 'M' | 'L' | 'C' | 'Q' | 'Z';
  /** Points in glyph units, y up: end point last. */
  pts: Array<[number, number]>;
}

export interface GlyphShape {
  segments: Segment[];
  advance: number;
}

export interface HandFont {
  name: string;
  stroke: boolean;
  /** Height of a lowercase x in font units, to size fonts alike. */
  xHeight: number;
  glyph(ch: string): GlyphShape | undefined;
  kern(a: string, b: string): number;
}

const require = createRequire(import.meta.url);

export const OUTLINE_FONTS = [
  'herr-von-muellerhoff',
  'mr-de-haviland',
  'great-vibes',
  'allura',
  'alex-brush',
  'sacramento',
  'parisienne',
  'monsieur-la-doulaise',
  'cedarville-cursive',
  'homemade-apple',
] as const;

export const STROKE_FONTS = ['EMSAllure', 'HersheyScript1', 'HersheyScriptMed'] as const;

async function outlineFont(name: string): Promise<HandFont> {
  const { default: opentype } = await import('opentype.js');
  const file = require.resolve(`@fontsource/${name}/files/${name}-latin-400-normal.woff`);
  const buf = readFileSync(file);
  const font = opentype.parse(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
  const cache = new Map<string, GlyphShape | undefined>();
  const glyphOf = (ch: string) => font.charToGlyph(ch);
  return {
    name,
    stroke: false,
    xHeight: font.tables.os2?.sxHeight || font.unitsPerEm * 0.3,
    glyph(ch) {
      if (cache.has(ch)) return cache.get(ch);
      const g = glyphOf(ch);
      // getPath at size = unitsPerEm keeps font units; it flips y (screen coords), so flip back.
      const cmds = g.getPath(0, 0, font.unitsPerEm).commands;
      const segments: Segment[] = [];
      for (const c of cmds) {
        const p = (x?: number, y?: number): [number, number] => [x ?? NaN, -(y ?? NaN)];
        if (c.type === 'Z') segments.push({ type: 'Z', pts: [] });
        else if (c.type === 'C') segments.push({ type: 'C', pts: [p(c.x1, c.y1), p(c.x2, c.y2), p(c.x, c.y)] });
        else if (c.type === 'Q') segments.push({ type: 'Q', pts: [p(c.x1, c.y1), p(c.x, c.y)] });
        else segments.push({ type: c.type, pts: [p(c.x, c.y)] });
      }
      const shape = g.advanceWidth ? { segments, advance: g.advanceWidth } : undefined;
      cache.set(ch, shape);
      return shape;
    },
    kern: (a, b) => font.getKerningValue(glyphOf(a), glyphOf(b)),
  };
}

function decodeEntities(s: string): string {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function strokeFont(name: string): HandFont {
  const svg = readFileSync(require.resolve(`hersheytext/svg_fonts/${name}.svg`), 'utf8');
  const defaultAdv = Number(/<font[^>]*horiz-adv-x="([\d.]+)"/.exec(svg)?.[1] ?? 300);
  const xHeight = Number(/x-height="([\d.]+)"/.exec(svg)?.[1] ?? 300);
  const glyphs = new Map<string, GlyphShape>();
  for (const m of svg.matchAll(/<glyph\s([^>]*?)\/?>/g)) {
    const attrs = m[1]!;
    const uni = /unicode="([^"]*)"/.exec(attrs)?.[1];
    if (uni === undefined) continue;
    const adv = Number(/horiz-adv-x="([\d.-]+)"/.exec(attrs)?.[1] ?? defaultAdv);
    const d = /\sd="([^"]*)"/.exec(` ${attrs}`)?.[1] ?? '';
    const segments: Segment[] = [];
    for (const cmd of d.matchAll(/([ML])\s*([-\d.eE\s]+)/g)) {
      const nums = cmd[2]!.trim().split(/\s+/).map(Number);
      for (let i = 0; i + 1 < nums.length; i += 2) {
        segments.push({ type: i === 0 && cmd[1] === 'M' ? 'M' : 'L', pts: [[nums[i]!, nums[i + 1]!]] });
      }
    }
    glyphs.set(decodeEntities(uni), { segments, advance: adv });
  }
  return { name, stroke: true, xHeight, glyph: (ch) => glyphs.get(ch), kern: () => 0 };
}

const loaded = new Map<string, Promise<HandFont>>();

export function loadFont(name: string): Promise<HandFont> {
  let f = loaded.get(name);
  if (!f) {
    f = (STROKE_FONTS as readonly string[]).includes(name) ? Promise.resolve(strokeFont(name)) : outlineFont(name);
    loaded.set(name, f);
  }
  return f;
}

export const ALL_FONTS: readonly string[] = [...OUTLINE_FONTS, ...STROKE_FONTS];

/** Text as SVG path data (baseline at y, screen coordinates), so rendering needs no system fonts. */
export function textPath(font: HandFont, text: string, x: number, y: number, size: number): { d: string; width: number } {
  const s = size / (font.xHeight / 0.53);
  let pen = x;
  let d = '';
  for (const ch of text) {
    const g = font.glyph(ch);
    if (!g) {
      pen += size * 0.3;
      continue;
    }
    for (const seg of g.segments) {
      if (seg.type === 'Z') d += 'Z';
      else d += seg.type + seg.pts.map(([gx, gy]) => `${(pen + gx * s).toFixed(2)} ${(y - gy * s).toFixed(2)}`).join(' ');
    }
    pen += g.advance * s;
  }
  return { d, width: pen - x };
}
