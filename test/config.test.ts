import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { join } from 'node:path';
import { loadPipeline } from '../src/core/config.js';
import { GEN_STAGE, pipe, pipeEnv, project, read, write } from './helpers.js';

const GEN_SCHEMA = JSON.stringify({
  type: 'object',
  additionalProperties: false,
  properties: {
    n: { type: 'integer', minimum: 1, default: 4 },
    scale: { type: 'number', default: 1 },
    mode: { enum: ['fast', 'slow'], default: 'fast' },
    name: { type: 'string', default: 'x' },
  },
});

function errorOf(yaml: string, ...args: string[]): { code: number; stderr: string } {
  const dir = project({ 'pipeline.yaml': yaml, 'gen.mjs': GEN_STAGE, 'gen.schema.json': GEN_SCHEMA });
  const r = pipe(dir, ...(args.length ? args : ['run']));
  return { code: r.code, stderr: r.stderr };
}

describe('pipeline.yaml errors', () => {
  it('bad YAML names file, line and column', () => {
    const r = errorOf('stages:\n  gen:\n    kind: ./gen.mjs\n    params: { n: 3\n');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: pipeline.yaml:\d+:\d+: invalid YAML: /);
  });

  it('duplicate stage names are an error at the second one', () => {
    const r = errorOf('stages:\n  gen:\n    kind: ./gen.mjs\n  gen:\n    kind: ./gen.mjs\n');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pipeline.yaml:4:3: invalid YAML: duplicate key/);
  });

  it('unknown keys get a did-you-mean and the valid keys', () => {
    const r = errorOf('stages:\n  gen:\n    kind: ./gen.mjs\n    parms: { n: 3 }\n');
    assert.match(
      r.stderr,
      /pipeline.yaml:4:5: stages.gen.parms: unknown key 'parms' \(did you mean 'params'\?\); expected one of: kind, cmd, env, metrics, description, resources, deps, inputs, params, outs, cache, tolerance/,
    );
  });

  it('param type errors say what was expected and what was found, with position', () => {
    const r = errorOf('stages:\n  gen:\n    kind: ./gen.mjs\n    params:\n      n: lots\n');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pipeline.yaml:5:10: stages.gen.params.n: expected integer, found the string "lots"/);
  });

  it('enum and range errors list what is allowed', () => {
    const r = errorOf('stages:\n  gen:\n    kind: ./gen.mjs\n    params: { mode: quick, n: 0 }\n');
    assert.match(r.stderr, /2 problems:/);
    assert.match(r.stderr, /stages.gen.params.mode: expected one of "fast", "slow", found the string "quick"/);
    assert.match(r.stderr, /stages.gen.params.n: expected a value that must be >= 1, found number 0/);
  });

  it('misspelled param keys get a did-you-mean from the stage schema', () => {
    const r = errorOf('stages:\n  gen:\n    kind: ./gen.mjs\n    params: { scael: 2 }\n');
    assert.match(r.stderr, /pipeline.yaml:4:15: stages.gen.params.scael: unknown key 'scael' \(did you mean 'scale'\?\)/);
  });

  it('unknown stage kinds and missing modules', () => {
    assert.match(errorOf('stages:\n  a:\n    kind: ./nope.mjs\n').stderr, /pipeline.yaml:3:11: stages.a.kind: stage module '.\/nope.mjs' not found/);
    assert.match(errorOf('stages:\n  a:\n    kind: frobnicate\n').stderr, /stages.a.kind: unknown stage kind 'frobnicate'/);
  });

  it('missing deps and unknown stages in deps', () => {
    const r = errorOf('stages:\n  gen:\n    kind: ./gen.mjs\n  b:\n    kind: ./gen.mjs\n    deps: [gne, data/missing.txt]\n');
    assert.match(r.stderr, /pipeline.yaml:6:12: stages.b.deps\[0\]: 'gne' is neither a stage nor an existing file or folder \(did you mean stage 'gen'\?\)/);
    assert.match(r.stderr, /stages.b.deps\[1\]: 'data\/missing.txt' is neither a stage nor an existing file or folder/);
  });

  it('dependency cycles are reported with the loop', () => {
    const r = errorOf('stages:\n  a:\n    kind: ./gen.mjs\n    deps: [b]\n  b:\n    kind: ./gen.mjs\n    deps: [a]\n');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /dependency cycle: a -> b -> a/);
  });

  it('undefined ${refs} name what is defined', () => {
    const r = errorOf('params: { size: 64 }\nstages:\n  gen:\n    kind: ./gen.mjs\n    params: { n: "${sise}" }\n');
    assert.match(r.stderr, /stages.gen.params: \$\{sise\} is not defined under the top-level params: \(defined: size\)/);
  });

  it('--set: unknown stage, unknown key, bad value', () => {
    const yaml = 'stages:\n  gen:\n    kind: ./gen.mjs\n';
    assert.match(errorOf(yaml, 'run', '--set', 'gne.n=3').stderr, /--set gne.n: no stage 'gne' \(did you mean 'gen'\?\)/);
    assert.match(
      errorOf(yaml, 'run', '--set', 'gen.sacle=3').stderr,
      /--set gen.sacle: 'sacle' is not a param of kind '.\/gen.mjs' \(did you mean 'scale'\?\); valid keys: n, scale, mode, name/,
    );
    assert.match(errorOf(yaml, 'run', '-S', 'gen.n=many').stderr, /--set gen.n=many: stages.gen.params.n: expected integer, found the string "many"/);
    assert.match(errorOf(yaml, 'run', '-S', 'gen').stderr, /bad --set 'gen': expected <stage>.<param>=<value>/);
  });

  it('unknown stages in --only get a did-you-mean', () => {
    const r = errorOf('stages:\n  gen:\n    kind: ./gen.mjs\n', 'run', '--only', 'gem');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--only: unknown stage 'gem' \(did you mean 'gen'\?\); stages: gen/);
  });

  it('a missing pipeline file says where it looked', () => {
    const dir = project({});
    const r = pipe(dir, 'run');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no pipeline file at .*pipeline.yaml/);
  });

  it('schema defaults fill in params and --set values are typed by the schema', () => {
    const dir = project({ 'pipeline.yaml': 'stages:\n  gen:\n    kind: ./gen.mjs\n', 'gen.mjs': GEN_STAGE, 'gen.schema.json': GEN_SCHEMA });
    assert.equal(pipe(dir, 'run', '-S', 'gen.name=123', '-S', 'gen.scale=1e-1', '--name', 'typed').code, 0);
    // 1e-1 and 0.1 are one typed value, so one key: the run's result is found.
    assert.match(pipe(dir, 'status', '-S', 'gen.name=123', '-S', 'gen.scale=0.1').stdout, /gen: stale \(in run-cache: restores without running\)/);
    // Applied, the experiment's values keep their schema types in pipeline.yaml and pipe.lock ('123' a string).
    assert.equal(pipe(dir, 'exp', 'apply', 'typed').code, 0);
    assert.match(read(dir, 'pipeline.yaml'), /name: "123"/);
    const lock = parse(read(dir, 'pipe.lock')) as { stages: Record<string, { params: unknown }> };
    assert.deepEqual(lock.stages.gen!.params, { n: 4, scale: 0.1, mode: 'fast', name: '123' });
  });
});

describe('declared inputs', () => {
  const KINDS = 'stages:\n  ingest:\n    kind: ingest\n    params: { synthetic: { count: 4, writers: 2 } }\n';

  it('a kind that needs an input says which, and how to bind it', () => {
    const r = errorOf(`${KINDS}  resize:\n    kind: resize\n    deps: [ingest]\n`);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pipeline.yaml:5:3: stages.resize: kind 'resize' needs input 'scans' \(a stage with outputs pixels, items\); add inputs: \{ scans: <stage> \}/);
  });

  it('an upstream stage without the outputs an input needs is named, with what it makes', () => {
    const r = errorOf(`${KINDS}  resize:\n    kind: resize\n    inputs: { scans: ingest }\n  vae:\n    kind: train-vae\n    inputs: { data: resize }\n`);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /pipeline.yaml:10:21: stages.vae.inputs.data: input 'data' needs outputs train, format from stage 'resize', but kind 'resize' makes no train \(it makes: images, meta, format\)/,
    );
  });

  it('unknown input names, unknown stages and lists for one-stage inputs are errors at their position', () => {
    const r = errorOf(`${KINDS}  resize:\n    kind: resize\n    inputs: { scan: ingest }\n  augment:\n    kind: augment\n    inputs: { images: [resize, ingest] }\n  vae:\n    kind: train-vae\n    inputs: { data: augmnt }\n`);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pipeline.yaml:7:15: stages.resize.inputs.scan: kind 'resize' has no input 'scan' \(did you mean 'scans'\?\); its inputs: scans/);
    assert.match(r.stderr, /stages.augment.inputs.images: input 'images' of kind 'augment' takes one stage, found a list of 2/);
    assert.match(r.stderr, /stages.vae.inputs.data: 'augmnt' is not a stage \(did you mean 'augment'\?\)/);
  });

  it('binding an input makes the stage depend on it, and a rebinding reruns it', () => {
    const yaml = (up: string) => `stages:\n  a:\n    kind: ./gen.mjs\n    params: { n: 2 }\n  b:\n    kind: ./gen.mjs\n    params: { n: 3 }\n  sum:\n    kind: ./sum.mjs\n    inputs: { source: ${up} }\n`;
    const sum = "export default { run(ctx) { ctx.output.json('sum', { s: [...ctx.input('source').tensor('x').data].reduce((a, b) => a + b, 0), from: ctx.input('source').stage }); } };";
    const dir = project({ 'pipeline.yaml': yaml('a'), 'gen.mjs': GEN_STAGE, 'sum.mjs': sum });
    assert.equal(pipe(dir, 'run').code, 0);
    write(dir, 'pipeline.yaml', yaml('b'));
    const st = pipe(dir, 'status');
    assert.match(st.stdout, /sum: stale\n(.*\n)*\s+input source rebound: a -> b/);
    assert.match(pipe(dir, 'run').stdout, /1 ran, 2 from cache/);
    const lock = JSON.parse(read(dir, 'pipe.lock')) as { stages: Record<string, { inputs: Record<string, string>; upstream: Record<string, string> }> };
    assert.deepEqual(lock.stages.sum!.inputs, { source: 'b' });
    assert.deepEqual(Object.keys(lock.stages.sum!.upstream), ['b']);
  });
});

describe('pipeline-wide defaults', () => {
  const yaml = 'defaults: { scale: 3, seed: 9 }\nstages:\n  gen:\n    kind: ./gen.mjs\n  own:\n    kind: ./gen.mjs\n    params: { scale: 5 }\n  free:\n    kind: ./free.mjs\n';

  it('reach every stage whose schema has the param, unless the stage sets it; -S defaults.key overrides them', () => {
    const dir = project({ 'pipeline.yaml': yaml, 'gen.mjs': GEN_STAGE, 'gen.schema.json': GEN_SCHEMA, 'free.mjs': GEN_STAGE });
    assert.equal(pipe(dir, 'run').code, 0, 'run');
    const params = () => Object.fromEntries(Object.entries((JSON.parse(read(dir, 'pipe.lock')) as { stages: Record<string, { params: Record<string, unknown> }> }).stages).map(([k, v]) => [k, v.params]));
    assert.equal(params().gen!.scale, 3);
    assert.equal(params().own!.scale, 5);
    // No schema declares seed, and free.mjs has no schema at all: neither gets a default it did not ask for.
    assert.deepEqual(params().free, {});
    assert.equal(params().gen!.seed, undefined);
    assert.equal(read(dir, 'artifacts/gen/x.txt'), '0,3,6,9');
    assert.equal(pipe(dir, 'run', '-S', 'defaults.scale=2').code, 0);
    assert.equal(read(dir, 'artifacts/gen/x.txt'), '0,2,4,6');
    assert.equal(read(dir, 'artifacts/own/x.txt'), '0,5,10,15');
  });

  it('tfjs stage kinds take backend and threads from defaults; kinds without them do not', () => {
    const dir = project({
      'pipeline.yaml':
        'defaults: { backend: cpu, threads: 2 }\nstages:\n  ingest:\n    kind: ingest\n  resize:\n    kind: resize\n    inputs: { scans: ingest }\n  augment:\n    kind: augment\n    inputs: { images: resize }\n  vae:\n    kind: train-vae\n    inputs: { data: augment }\n  feats:\n    kind: features\n    inputs: { data: augment }\n    params: { backend: wasm }\n',
    });
    const stages = loadPipeline(join(dir, 'pipeline.yaml')).stages;
    assert.equal(stages.get('vae')!.params.backend, 'cpu');
    assert.equal(stages.get('vae')!.params.threads, 2);
    assert.equal(stages.get('feats')!.params.backend, 'wasm');
    assert.equal('threads' in stages.get('feats')!.params, false);
    assert.equal('backend' in stages.get('resize')!.params, false);
    const bad = pipe(dir, 'dag', '-S', 'defaults.backend=gpu');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--set defaults.backend=gpu: defaults.backend: expected one of "auto", "tensorflow", "webgpu", "wasm", "cpu", found the string "gpu" \(used by stages.vae.params.backend\)\n/);
  });
});

describe('upstream params in the key', () => {
  const REPORT = `export default { run(ctx) { ctx.output.json('note', { note: ctx.input('src').params.note }); } };\n`;
  const schema = (params: boolean) => JSON.stringify({ type: 'object', 'x-pipe': { inputs: { src: { needs: ['x'], ...(params ? { params: true } : {}) } } }, properties: {} });
  const yaml = (note: string) => `stages:\n  gen:\n    kind: ./gen.mjs\n    params: { note: ${note} }\n  report:\n    kind: ./report.mjs\n    inputs: { src: gen }\n`;
  const files = (params: boolean) => ({
    'pipeline.yaml': yaml('first'),
    'gen.mjs': GEN_STAGE,
    'gen.schema.json': JSON.stringify({ type: 'object', properties: { note: { type: 'string' } } }),
    'report.mjs': REPORT,
    'report.schema.json': schema(params),
  });

  it('a kind that declares it reads them reruns when they change, though the upstream outputs stay the same', () => {
    // First without the declaration: declaring it later brings the upstream's params into the key, said in one line.
    const dir = project({ ...files(true), 'report.mjs': `export default { run(ctx) { ctx.output.json('note', { note: 'none' }); } };\n`, 'report.schema.json': schema(false) });
    assert.equal(pipe(dir, 'run').code, 0);
    write(dir, 'report.mjs', REPORT);
    write(dir, 'report.schema.json', schema(true));
    assert.match(pipe(dir, 'status').stdout, /report: stale\n\s+params of upstream 'gen' now part of the key\n\s+code changed: report.mjs, report.schema.json\n/);
    assert.equal(pipe(dir, 'run').code, 0);
    const lock = () => JSON.parse(read(dir, 'pipe.lock')) as { stages: Record<string, { outs: Record<string, string>; upstreamParams?: unknown }> };
    const before = lock();
    assert.deepEqual(before.stages.report!.upstreamParams, { gen: { note: 'first' } });
    assert.equal('upstreamParams' in before.stages.gen!, false);
    write(dir, 'pipeline.yaml', yaml('second'));
    const st = pipe(dir, 'status');
    assert.match(st.stdout, /report: stale\n(\s+.*\n)*?\s+upstream param gen.note changed: "first" -> "second"\n/);
    const r = pipe(dir, 'run');
    assert.match(r.stdout, /2 ran, 0 from cache/);
    // gen's output is the same tensor; only report's note moved with the param.
    assert.equal(lock().stages.gen!.outs.x, before.stages.gen!.outs.x);
    assert.notEqual(lock().stages.report!.outs.note, before.stages.report!.outs.note);
    assert.equal(pipe(dir, 'status', '--check').code, 0);
  });

  it('reading them through an input that does not declare it fails the stage, saying what to declare', () => {
    const dir = project(files(false));
    const r = pipe(dir, 'run');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /stage 'report' failed: the params of upstream stage 'gen' are not in this stage's key: declare "params": true on the input it is bound to \(x-pipe inputs in the kind's params schema\)\n/);
  });
});

describe('machine facts in the key', () => {
  it("a kind's facts module is part of the key: status says which fact changed and --check fails", () => {
    const dir = project({
      'pipeline.yaml': 'stages:\n  gen:\n    kind: ./gen.mjs\n',
      'gen.mjs': GEN_STAGE,
      'gen.schema.json': JSON.stringify({ type: 'object', 'x-pipe': { facts: './facts.mjs' }, properties: {} }),
      'facts.mjs': "export default () => ({ arch: process.env.TEST_ARCH ?? 'x' });",
    });
    const env = { TEST_ARCH: 'wasm' };
    assert.equal(pipe(dir, 'run').code, 0);
    assert.deepEqual((JSON.parse(read(dir, 'pipe.lock')) as { stages: { gen: { facts: unknown } } }).stages.gen.facts, { arch: 'x' });
    const st = pipeEnv(dir, env, 'status', '--check');
    assert.equal(st.code, 4);
    assert.match(st.stdout, /gen: stale\n\s+machine fact arch changed: x in pipe.lock, wasm on this machine/);
    assert.match(pipeEnv(dir, env, 'run').stdout, /1 ran, 0 from cache/);
    assert.equal(pipeEnv(dir, env, 'status', '--check').code, 0);
  });

  it("tfjs kinds' facts name the backend auto really starts here", async () => {
    const { default: facts } = await import('../src/ml/tfjs/facts.js');
    const { loadTf } = await import('../src/ml/tfjs/backend.js');
    assert.deepEqual(await facts({ backend: 'cpu' }), { backend: 'cpu' });
    assert.deepEqual(await facts({ backend: 'auto' }), { backend: (await loadTf('auto')).backend });
  });
});
