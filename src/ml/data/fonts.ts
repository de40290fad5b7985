import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { outlineFont, type Font, type GlyphShape, type Segment } from '../fonts/outline.js';

export type { Segment } from '../fonts/outline.js';
/** A handwriting font: outline or single-stroke. */
export type HandFont = Font;

/**
 * Handwriting fonts for the synthetic signatures, all shipped inside npm
 * packages so output never depends on system fonts. Outline fonts (OFL, from
 * @fontsource) are filled; single-stroke fonts (Hershey / EMS, from
 * hersheytext) are drawn with a pen.
 */
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
