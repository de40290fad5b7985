import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PIPE, pipe, project, read, runsLog, write } from './helpers.js';

const ROOT = join(PIPE, '..', '..');

/** A TypeScript stage kind: types, an interface, and a helper imported as `./scale.js` (the .ts beside it). */
const TS_STAGE = `import { appendFileSync } from 'node:fs';
import { scale } from './scale.js';

interface Params { n: number }

export default {
  run(ctx: { name: string; projectDir: string; params: Params; output: { json(name: string, v: unknown): void } }): void {
    appendFileSync(ctx.projectDir + '/runs.log', ctx.name + '\\n');
    const values: number[] = Array.from({ length: ctx.params.n }, (_, i) => scale(i));
    ctx.output.json('values', values);
  },
};
`;

describe('TypeScript stage kinds', () => {
  const files = () => ({
    'pipeline.yaml': 'stages:\n  mine:\n    kind: ./stages/mine.ts\n    params: { n: 3 }\n',
    'stages/mine.ts': TS_STAGE,
    'stages/scale.ts': 'export const scale = (x: number): number => x * 2;\n',
    'stages/mine.schema.json': JSON.stringify({ type: 'object', additionalProperties: false, properties: { n: { type: 'integer', default: 1 } } }),
  });

  it('runs, with its schema beside it, and its imports count in its code hash', () => {
    const dir = project(files());
    const r = pipe(dir, 'run');
    assert.equal(r.code, 0, r.stderr);
    const lock = JSON.parse(read(dir, 'pipe.lock')) as { stages: { mine: { code: Record<string, string>; outs: Record<string, string> } } };
    assert.deepEqual(Object.keys(lock.stages.mine.code).sort(), ['stages/mine.schema.json', 'stages/mine.ts', 'stages/scale.ts']);
    assert.match(pipe(dir, 'run').stdout, /0 ran, 1 from cache/);
    write(dir, 'stages/scale.ts', 'export const scale = (x: number): number => x * 3;\n');
    assert.match(pipe(dir, 'status').stdout, /code changed: stages\/scale.ts/);
    assert.equal(pipe(dir, 'run').code, 0);
    assert.deepEqual(runsLog(dir), ['mine', 'mine']);
  });

  it('a type error is not a runtime error; a syntax error is a config error at file, line and column', () => {
    const dir = project(files());
    write(dir, 'stages/scale.ts', "export const scale = (x: number): string => x * 2;\n");
    assert.equal(pipe(dir, 'run').code, 0, 'types are stripped, not checked');
    write(dir, 'stages/scale.ts', 'export const scale = (x: number) => {\n  return x *;\n};\n');
    const r = pipe(dir, 'run');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /error: .*stages\/scale\.ts:2:13: TypeScript syntax error: Unexpected ";"/);
  });
});

describe("import … from 'pipe'", () => {
  it('a project that depends on pipe by path writes typed stages and runs its pipeline from code', () => {
    const dir = project({
      'package.json': JSON.stringify({ name: 'user-project', type: 'module', private: true, dependencies: { pipe: `file:${ROOT}` } }),
      'pipeline.yaml': 'stages:\n  gen:\n    kind: ./gen.ts\n    params: { n: 4 }\n',
      'gen.ts': `import { defineStage, tensor, type StageContext } from 'pipe';
export default defineStage<{ n: number }>({
  run(ctx: StageContext<{ n: number }>) {
    ctx.output.tensor('x', tensor('float32', [ctx.params.n], new Float32Array(ctx.params.n).fill(1)));
    ctx.metrics({ n: ctx.params.n }, { better: { n: 'higher' } });
  },
});
`,
      'wrong.ts': `import type { StageContext } from 'pipe';
export const f = (ctx: StageContext<{ n: number }>): string => ctx.params.n;
`,
      'main.mjs': `import { run, status } from 'pipe';
const results = await run('pipeline.yaml');
const states = await status('pipeline.yaml');
console.log(JSON.stringify({ results: results.map((r) => [r.stage, r.outcome]), upToDate: states.map((s) => [s.stage, s.upToDate]) }));
`,
      'tsconfig.json': JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, skipLibCheck: true, types: [] }, files: ['gen.ts'] }),
    });
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'pipe'));
    const r = spawnSync(process.execPath, ['main.mjs'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { results: [['gen', 'ran']], upToDate: [['gen', true]] });
    // The types are real: the stage checks under strict, and a misuse of StageContext does not.
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const ok = spawnSync(process.execPath, [tsc, '-p', '.'], { cwd: dir, encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stdout);
    const bad = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--skipLibCheck', 'wrong.ts'], { cwd: dir, encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stdout, /wrong\.ts\(2,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/);
  });
});
