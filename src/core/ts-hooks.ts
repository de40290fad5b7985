/**
 * Module loader hooks (node:module register) that let stage kinds be
 * TypeScript: a `.ts` / `.mts` module is transpiled by esbuild (types
 * stripped, never checked) and the result kept under the cache's `ts/`
 * folder by the source's hash, so an unchanged module is not transpiled
 * again. A relative `./x.js` import from TypeScript finds `./x.ts`, as tsc
 * resolves it. A syntax error is thrown as ERR_PIPE_TS_SYNTAX with the
 * file, line and column.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from './lockfile.js';

const TS = /\.(m?ts)$/;
let outDir = '';

export function initialize(data: { cacheDir: string }): void {
  outDir = join(data.cacheDir, 'ts');
}

type Next<A extends unknown[], R> = (...args: A) => Promise<R>;

export async function resolve(specifier: string, context: { parentURL?: string }, next: Next<[string, { parentURL?: string }], unknown>): Promise<unknown> {
  try {
    return await next(specifier, context);
  } catch (e) {
    const fromTs = context.parentURL !== undefined && TS.test(context.parentURL);
    if (!fromTs || !specifier.startsWith('.') || !/\.m?js$/.test(specifier) || (e as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw e;
    return next(specifier.replace(/js$/, 'ts'), context);
  }
}

export async function load(url: string, context: object, next: Next<[string, object], unknown>): Promise<unknown> {
  if (!url.startsWith('file:') || !TS.test(url)) return next(url, context);
  const file = fileURLToPath(url);
  const source = readFileSync(file, 'utf8');
  const cached = join(outDir, `${createHash('sha256').update(file).update('\0').update(source).digest('hex')}.mjs`);
  if (existsSync(cached)) return { format: 'module', source: readFileSync(cached, 'utf8'), shortCircuit: true };
  const { transformSync } = await import('esbuild');
  let code: string;
  try {
    code = transformSync(source, { loader: 'ts', format: 'esm', sourcefile: file, sourcemap: 'inline', target: 'node20' }).code;
  } catch (e) {
    const first = (e as { errors?: Array<{ text: string; location?: { line: number; column: number } }> }).errors?.[0];
    const err = new Error(first ? `${file}:${first.location?.line ?? 0}:${(first.location?.column ?? 0) + 1}: TypeScript syntax error: ${first.text}` : String(e));
    (err as { code?: string }).code = 'ERR_PIPE_TS_SYNTAX';
    throw err;
  }
  mkdirSync(outDir, { recursive: true });
  writeFileAtomic(cached, code);
  return { format: 'module', source: code, shortCircuit: true };
}
