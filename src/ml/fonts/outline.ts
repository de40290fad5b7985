import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface Segment {
  type: 'M' | 'L' | 'C' | 'Q' | 'Z';
  /** Points in glyph units, y up: end point last. */
  pts: Array<[number, number]>;
}

export interface GlyphShape {
  segments: Segment[];
  advance: number;
}

/** A font as glyph outlines or pen strokes, in font units (no system fonts involved). */
export interface Font {
  name: string;
  stroke: boolean;
  /** Height of a lowercase x in font units, to size fonts alike. */
  xHeight: number;
  glyph(ch: string): GlyphShape | undefined;
  kern(a: string, b: string): number;
}

const require = createRequire(import.meta.url);

/** An outline font shipped by a @fontsource package, by its name there. */
export async function outlineFont(name: string): Promise<Font> {
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

/** Text as SVG path data (baseline at y, screen coordinates), so rendering needs no system fonts. */
export function textPath(font: Font, text: string, x: number, y: number, size: number): { d: string; width: number } {
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
