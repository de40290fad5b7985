import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { sha256 } from './hash.js';
import { PKG_ROOT } from './paths.js';

/** Everything a stage's code is made of: its source files by hash, and the packages it imports by version. */
export interface CodeHashes {
  files: Record<string, string>;
  packages: Record<string, string>;
}

// Static imports, literal dynamic imports, `new URL('./worker.js', import.meta.url)` (the way ESM names a
// worker thread's file, whose code runs for the stage as much as an import's does), and literal `require(…)` and
// `require.resolve(…)` (createRequire: a package whose files are read, such as a network's weights, counts too).
const IMPORT = /(?:^|[;\s])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\bnew\s+URL\s*\(\s*['"](\.[^'"]+)['"]\s*,\s*import\.meta\.url\s*\)|\brequire(?:\.resolve)?\s*\(\s*['"]([^'"]+)['"]\s*\)/g;
const TYPE_ONLY = /^\s*(?:import|export)\s+type\s/;
const builtins = new Set(builtinModules);
const memo = new Map<string, CodeHashes>();

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function packageVersion(name: string, fromDir: string): string {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const pj = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(pj)) return (JSON.parse(readFileSync(pj, 'utf8')) as { version: string }).version;
    if (dirname(dir) === dir) return 'not installed';
  }
}

/**
 * A code file's key in fingerprints and pipe.lock: its path inside the pipe
 * package (`dist/stages/resize.js`) or the project. The same in a source
 * checkout and an installed package, so locks are portable.
 */
function codeKey(file: string, projectDir: string): string {
  const fromPkg = relative(PKG_ROOT, file);
  return (fromPkg.startsWith('..') ? relative(projectDir, file) : fromPkg).split(sep).join('/');
}

/** How status names a code key: built-in code by its TypeScript source where that is present. */
export function codeName(key: string): string {
  if (!key.startsWith('dist/')) return key;
  const ts = key.slice(5).replace(/\.js$/, '.ts');
  return existsSync(join(PKG_ROOT, ts)) ? ts : key;
}

/**
 * Hashes a module and, transitively, the project modules it imports
 * (import statements are read as text, never executed: a no-op run must not
 * load tfjs). Bare imports count by package version.
 */
export function hashCode(entry: string, projectDir: string): CodeHashes {
  const key = `${entry}\0${projectDir}`;
  const hit = memo.get(key);
  if (hit) return hit;
  const files: Record<string, string> = {};
  const packages: Record<string, string> = {};
  const seen = new Set<string>();
  const stack = [resolve(entry)];
  while (stack.length) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    files[codeKey(file, projectDir)] = sha256(text);
    for (const m of text.matchAll(IMPORT)) {
      if (m[1] && TYPE_ONLY.test(m[0])) continue;
      const spec = (m[1] ?? m[2] ?? m[3] ?? m[4])!;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        // TypeScript imports name the .js a module compiles to; the source is the .ts beside it.
        const source = existsSync(target) ? target : /\.m?js$/.test(target) && existsSync(target.replace(/js$/, 'ts')) ? target.replace(/js$/, 'ts') : undefined;
        if (source) stack.push(source);
      } else if (!spec.startsWith('node:') && !builtins.has(spec)) {
        const pkg = packageName(spec);
        packages[pkg] ??= packageVersion(pkg, dirname(file));
      }
    }
  }
  const result = { files, packages };
  memo.set(key, result);
  return result;
}
