import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { expand, parseAxis } from '../src/core/sweep.js';
import { GEN_STAGE, SUM_STAGE, pipe, project, runsLog, write } from './helpers.js';

/** Nondeterministic on purpose: each execution differs from the last by \`jitter\` (a counter, so never by chance equal). */
const RAND_STAGE = `
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
export default { run(ctx) {
  const file = ctx.projectDir + '/executions-' + ctx.name;
  const n = existsSync(file) ? Number(readFileSync(file, 'utf8')) + 1 : 1;
  writeFileSync(file, String(n));
  ctx.output.tensor('x', { dtype: 'float32', shape: [3], data: new Float32Array([1, 2, 3 + (ctx.params.jitter ?? 0) * n]) });
} };
`;

function reproProject(): string {
  return project({
    'pipeline.yaml': `stages:
  gen:
    kind: ./gen.mjs
    params: { n: 4, scale: 2 }
  sum:
    kind: ./sum.mjs
    deps: [gen]
  planted:
    kind: ./rand.mjs
    params: { jitter: 1 }
  gpu-like:
    kind: ./rand.mjs
    params: { jitter: 0.00001 }
    tolerance: 0.001
`,
    'gen.mjs': GEN_STAGE,
    'sum.mjs': SUM_STAGE,
    'rand.mjs': RAND_STAGE,
  });
}

describe('pipe verify', () => {
  it('re-executes stages, matches deterministic ones, catches planted nondeterminism', () => {
    const dir = reproProject();
    assert.equal(pipe(dir, 'run').code, 0);
    const r = pipe(dir, 'verify');
    assert.equal(r.code, 4);
    assert.match(r.stdout, /^gen: match$/m);
    assert.match(r.stdout, /^sum: match$/m);
    assert.match(r.stdout, /^planted: differs\n {4}x: [0-9a-f]{12} in pipe.lock, [0-9a-f]{12} now$/m);
    assert.match(r.stdout, /^gpu-like: within tolerance\n {4}1 outputs differ within tolerance 0.001$/m);
    assert.match(r.stderr, /verify failed for: planted \(differs\)/);
    // Verification re-executes: the stages really ran again.
    assert.deepEqual(runsLog(dir), ['gen', 'sum', 'gen', 'sum']);
  });

  it('--only and --sample pick what is verified', () => {
    const dir = reproProject();
    pipe(dir, 'run');
    const only = pipe(dir, 'verify', '--only', 'sum');
    assert.equal(only.code, 0, only.stdout + only.stderr);
    assert.deepEqual(only.stdout.split('\n').filter((l) => /^[a-z-]+: (match|differs)$/.test(l)), ['sum: match']);
    const sampled = pipe(dir, 'verify', '--sample', '25%', '--seed', 'fixed');
    assert.match(sampled.stdout, /sample of 25% drawn with seed 'fixed'/);
    assert.equal(sampled.stdout.split('\n').filter((l) => /^[a-z-]+: (match|differs|within tolerance)$/.test(l)).length, 1);
    assert.match(pipe(dir, 'verify', '--sample', '150%').stderr, /--sample: expected a share such as 30% or 0.3, got '150%'/);
  });

  it('on a fresh clone (no cache) status --check passes and verify rebuilds upstream to check', () => {
    const dir = reproProject();
    pipe(dir, 'run');
    rmSync(join(dir, 'cache'), { recursive: true, force: true });
    rmSync(join(dir, 'runs.log'));
    const check = pipe(dir, 'status', '--check');
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /sum: stale\n {4}outputs missing from the cache/);
    const r = pipe(dir, 'verify', '--only', 'sum');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^gen: match\nsum: match$/m);
    assert.deepEqual(runsLog(dir), ['gen', 'sum']);
  });

  it('reports a lock that no longer matches the params', () => {
    const dir = reproProject();
    pipe(dir, 'run');
    const r = pipe(dir, 'verify', '--only', 'gen', '-S', 'gen.scale=3');
    assert.equal(r.code, 4);
    assert.match(r.stdout, /gen: lock out of date\n {4}param scale changed: 2 -> 3/);
  });
});

describe('pipe sweep', () => {
  it('expands lists and ranges into a grid with readable names', () => {
    assert.deepEqual(parseAxis('train-gan.lr=1e-4,2e-4'), { key: 'train-gan.lr', values: ['1e-4', '2e-4'] });
    assert.deepEqual(parseAxis('a.b=range(1,2,0.25)').values, ['1', '1.25', '1.5', '1.75']);
    assert.deepEqual(parseAxis('a.f=[8,16],[16,32]').values, ['[8,16]', '[16,32]']);
    const v = expand([parseAxis('g.lr=1,2'), parseAxis('v.latent=16,32')]);
    assert.deepEqual(v.map((x) => x.name), ['lr=1,latent=16', 'lr=1,latent=32', 'lr=2,latent=16', 'lr=2,latent=32']);
  });

  it('runs shared upstream once, writes a summary, and exp show lists the variants', () => {
    const dir = project({
      'pipeline.yaml': 'stages:\n  gen:\n    kind: ./gen.mjs\n    params: { n: 4, scale: 1 }\n  sum:\n    kind: ./sum.mjs\n    deps: [gen]\n    params: { k: 1 }\n',
      'gen.mjs': GEN_STAGE,
      'sum.mjs': SUM_STAGE,
    });
    const r = pipe(dir, 'sweep', '-S', 'sum.k=1,2,3', '--name', 's1');
    assert.equal(r.code, 0, r.stderr);
    // gen is the same in every variant: it ran once; sum ran per variant.
    assert.deepEqual(runsLog(dir).sort(), ['gen', 'sum', 'sum', 'sum']);
    const summary = readFileSync(join(dir, 'artifacts/sweeps/s1/summary.md'), 'utf8');
    assert.match(summary, /\| variant \| sum.k \|/);
    assert.match(summary, /\| k=2 \| 2 \|/);
    assert.match(readFileSync(join(dir, 'artifacts/sweeps/s1/summary.csv'), 'utf8'), /^variant,sum.k/);
    assert.ok(existsSync(join(dir, 'artifacts/sweeps/s1/k=3/gen/x.txt')));
    assert.ok(!existsSync(join(dir, 'pipe.lock')), 'a sweep leaves the workspace lock alone');
    // Rerunning the same sweep is all cache hits.
    pipe(dir, 'sweep', '-S', 'sum.k=1,2,3', '--name', 's1');
    assert.equal(runsLog(dir).length, 4);
    const exp = pipe(dir, 'exp', 'show');
    assert.equal(exp.code, 0, exp.stderr);
    assert.match(exp.stdout, /\| s1\/k=1 \| 1 \|/);
    assert.match(exp.stdout, /\| s1\/k=3 \| 3 \|/);
    // gc keeps recorded sweeps until told to drop them.
    assert.match(pipe(dir, 'gc', '--keep', '0').stdout, /freed .* 0 run records/);
    const dropped = pipe(dir, 'gc', '--keep', '0', '--drop-sweeps');
    assert.match(dropped.stdout, /freed .* [1-9]\d* run records/);
    assert.doesNotMatch(pipe(dir, 'exp', 'show').stdout, /s1\//);
  });

  it('marks the best variant of a metric by the direction the stage declared, never by its name', () => {
    const sum = SUM_STAGE.replace(
      'ctx.metrics({ s });',
      "ctx.metrics({ s, loss: s * ctx.params.k, acc: 1 / ctx.params.k, undeclared_loss: s * ctx.params.k }, { better: { loss: 'lower', acc: 'higher' } });",
    );
    const dir = project({
      'pipeline.yaml': 'stages:\n  gen:\n    kind: ./gen.mjs\n  sum:\n    kind: ./sum.mjs\n    deps: [gen]\n    params: { k: 1 }\n',
      'gen.mjs': GEN_STAGE,
      'sum.mjs': sum,
    });
    const r = pipe(dir, 'sweep', '-S', 'sum.k=3,1,2');
    assert.match(r.stdout, /\| variant \| sum\.k \| sum\.acc ↑ \| sum\.loss ↓ \| sum\.undeclared_loss \|/);
    assert.match(r.stdout, /\| k=1 \| 1 \| 1 \* \| 6 \* \| 6 \|/);
    assert.match(r.stdout, /\| k=3 \| 3 \| 0\.3333 \| 18 \| 18 \|/);
    const json = pipe(dir, 'exp', 'show', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l) as { better: Record<string, string> });
    assert.deepEqual(json.at(-1)!.better, { 'sum.loss': 'lower', 'sum.acc': 'higher' });
  });

  it('needs an axis with two or more values', () => {
    const dir = project({ 'pipeline.yaml': 'stages:\n  gen:\n    kind: ./gen.mjs\n', 'gen.mjs': GEN_STAGE });
    const r = pipe(dir, 'sweep', '-S', 'gen.n=3');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pipe sweep needs at least one -S stage.param=a,b/);
  });
});

describe('one way to report a failing stage', () => {
  it('verify and run say the same thing, with exit code 1 and no stack trace', () => {
    const dir = project({
      'pipeline.yaml': 'stages:\n  a:\n    kind: ./a.mjs\n',
      'a.mjs': "import { existsSync } from 'node:fs';\nexport default { run(ctx) { if (existsSync(ctx.projectDir + '/boom')) throw new Error('boom'); ctx.output.json('x', 1); } };\n",
    });
    assert.equal(pipe(dir, 'run').code, 0);
    write(dir, 'boom', '');
    for (const args of [['verify'], ['run', '--force']]) {
      const r = pipe(dir, ...args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /^error: stage 'a' failed: boom\n$/m, args.join(' '));
      assert.doesNotMatch(r.stderr, /internal error|    at /, args.join(' '));
    }
  });
});
