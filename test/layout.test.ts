import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Packages only the ML code may import: the framework core must run without them installed. */
const ML_PACKAGES = /^(@tensorflow\/|sharp$|nsfwjs$|opentype\.js$|bmp-js$|ml-matrix$|hersheytext$|@fontsource\/|webgpu$)/;
const IMPORT = /(?:^|[;\s])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

type Graph = Map<string, { files: string[]; packages: string[] }>;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every import of the TypeScript sources, type-only ones included (they tie modules together too). */
function importGraph(files: string[]): Graph {
  const graph: Graph = new Map();
  for (const file of files) {
    const rel = relative(ROOT, file);
    const entry = { files: [] as string[], packages: [] as string[] };
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith('.')) entry.files.push(relative(ROOT, resolve(dirname(file), spec)).replace(/\.js$/, '.ts'));
      else if (!spec.startsWith('node:')) entry.packages.push(spec);
    }
    graph.set(rel, entry);
  }
  return graph;
}

/** What breaks the layout: the core reaching into ML code or ML packages, ML code or stage kinds using the core beyond its public stage API. */
function layoutViolations(graph: Graph): string[] {
  const out: string[] = [];
  for (const [file, { files, packages }] of graph) {
    if (file.startsWith('src/core/')) {
      for (const f of files) if (!f.startsWith('src/core/')) out.push(`${file} imports ${f}`);
      for (const p of packages) if (ML_PACKAGES.test(p)) out.push(`${file} imports the ML package ${p}`);
    } else if (file.startsWith('src/ml/') || file.startsWith('stages/')) {
      for (const f of files) if (f.startsWith('src/core/') && f !== 'src/core/stage.ts') out.push(`${file} imports ${f} (only src/core/stage.ts, the stage API, is public)`);
    }
  }
  return out;
}

/** Import cycles, each as the files around it (Tarjan's strongly connected components). */
function cycles(graph: Graph): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v)?.files ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)!.files.includes(v)) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

const graph = importGraph([...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'stages'))]);

describe('layout', () => {
  it('src/core imports no ML code and no ML package; ML code and stages use only the stage API of the core', () => {
    assert.ok(graph.has('src/core/runner.ts') && graph.has('src/ml/models/vae.ts') && graph.has('stages/train-gan.ts'), 'the walk saw the three parts');
    assert.deepEqual(layoutViolations(graph), []);
  });

  it('the check catches a core module that imports ML code or tfjs', () => {
    const planted: Graph = new Map([
      ['src/core/runner.ts', { files: ['src/ml/models/vae.ts'], packages: ['@tensorflow/tfjs-core'] }],
      ['stages/x.ts', { files: ['src/core/store.ts', 'src/core/stage.ts'], packages: [] }],
    ]);
    assert.deepEqual(layoutViolations(planted), [
      'src/core/runner.ts imports src/ml/models/vae.ts',
      'src/core/runner.ts imports the ML package @tensorflow/tfjs-core',
      'stages/x.ts imports src/core/store.ts (only src/core/stage.ts, the stage API, is public)',
    ]);
  });

  it("a trainer's key holds its own model's code and the replica thread it starts, not the other model's", async () => {
    const { hashCode } = await import('../src/core/codehash.js');
    const files = (stage: string) => Object.keys(hashCode(join(ROOT, 'dist', 'stages', `${stage}.js`), ROOT).files);
    const [vae, gan] = [files('train-vae'), files('train-gan')];
    for (const f of ['dist/src/ml/models/vae.js', 'dist/src/ml/models/vae-trainer.js', 'dist/src/ml/models/replica.js']) assert.ok(vae.includes(f), `${f} in ${vae.join(', ')}`);
    assert.deepEqual(vae.filter((f) => /gan|diffaugment|minibatch/.test(f)), []);
    for (const f of ['dist/src/ml/models/gan.js', 'dist/src/ml/models/gan-trainer.js', 'dist/src/ml/models/replica.js']) assert.ok(gan.includes(f), `${f} in ${gan.join(', ')}`);
    assert.deepEqual(gan.filter((f) => /\/vae(-trainer)?\.js$/.test(f)), []);
  });

  it("evaluate's key holds the package its ImageNet weights are read from (require.resolve), by version", async () => {
    const { hashCode } = await import('../src/core/codehash.js');
    const { packages } = hashCode(join(ROOT, 'dist', 'stages', 'evaluate.js'), ROOT);
    const version = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'nsfwjs', 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(packages.nsfwjs, version);
  });

  it('has no import cycles', () => {
    assert.deepEqual(cycles(graph), []);
  });

  it('the cycle check finds a planted cycle', () => {
    const planted: Graph = new Map([
      ['a.ts', { files: ['b.ts'], packages: [] }],
      ['b.ts', { files: ['c.ts'], packages: [] }],
      ['c.ts', { files: ['a.ts'], packages: [] }],
      ['d.ts', { files: ['a.ts'], packages: [] }],
    ]);
    assert.deepEqual(cycles(planted), [['a.ts', 'b.ts', 'c.ts']]);
  });
});
