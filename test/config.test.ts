import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { GEN_STAGE, pipe, project, read } from './helpers.js';

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
      /pipeline.yaml:4:5: stages.gen.parms: unknown key 'parms' \(did you mean 'params'\?\); expected one of: kind, description, deps, params, outs, cache, backend/,
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
    assert.match(errorOf(yaml, 'run', '-S', 'gen.n=many').stderr, /--set gen.n: stages.gen.params.n: expected integer, found the string "many"/);
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
    assert.equal(pipe(dir, 'run', '-S', 'gen.name=123', '-S', 'gen.scale=1e-1').code, 0);
    const lock = parse(read(dir, 'pipe.lock')) as { stages: Record<string, { params: unknown }> };
    assert.deepEqual(lock.stages.gen!.params, { n: 4, scale: 0.1, mode: 'fast', name: '123' });
    assert.match(pipe(dir, 'status', '-S', 'gen.name=123', '-S', 'gen.scale=0.1').stdout, /gen: up to date/);
  });
});
