import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { PIPE, pipe, project } from './helpers.js';

const HOOK = join(PIPE, '..', '..', 'test', 'fixtures', 'trace-imports.mjs');

describe('lean start-up', () => {
  it('a no-op run of built-in stages (tfjs kinds with backend: auto among them) and a command loads neither tfjs nor sharp nor ajv nor the remote cache or an S3 SDK', () => {
    const dir = project({
      'pipeline.yaml':
        'stages:\n  ingest:\n    kind: ingest\n    params: { synthetic: { count: 6, writers: 2 } }\n  resize:\n    kind: resize\n    inputs: { scans: ingest }\n    params: { size: 16 }\n  augment:\n    kind: augment\n    inputs: { images: resize }\n    params: { copies: 0 }\n  vae:\n    kind: train-vae\n    inputs: { data: augment }\n    params: { epochs: 1, latent: 2, filters: [2, 2] }\n  note:\n    cmd: echo hi > note.txt\n    outs: [note.txt]\n',
    });
    assert.equal(pipe(dir, 'run').code, 0);
    const trace = join(dir, 'trace.txt');
    const run = (args: string[]) => {
      const r = spawnSync(process.execPath, ['--import', HOOK, PIPE, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, PIPE_TRACE_FILE: trace } });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    assert.match(run(['run']), /0 ran, 5 from cache/);
    const loaded = readFileSync(trace, 'utf8');
    assert.match(loaded, /dist\/src\/core\/cli\.js/, 'the trace saw the CLI load');
    assert.match(loaded, /dist\/src\/ml\/tfjs\/facts\.js/, 'the trace saw the facts module load');
    assert.match(loaded, /^require .*dist\/validators\/[0-9a-f]{64}\.cjs$/m, 'the trace saw the build-time validators load');
    assert.doesNotMatch(loaded, /^require ajv$/m, 'ajv itself (its validators need only its small runtime helpers)');
    assert.doesNotMatch(loaded, /sharp|@tensorflow|@aws-sdk|core\/remote\/(remote|sync|open|s3|file)\.js|core\/executors\//);
    // A run that does work loads them (the trace is not blind to them).
    run(['run', '--force', '--only', 'resize']);
    assert.match(readFileSync(trace, 'utf8'), /sharp/);
    run(['status', '--cloud', '--remote', `file://${join(dir, 'remote')}`]);
    assert.match(readFileSync(trace, 'utf8'), /core\/remote\/sync\.js/);
  });
});

const ROOT = join(PIPE, '..', '..');

/** pipe as a package installs it: bin, dist and schemas, no TypeScript sources and (yet) no node_modules. */
function installedCopy(): string {
  const copy = mkdtempSync(join(tmpdir(), 'pipe-installed-'));
  for (const d of ['bin', 'dist', 'schemas', 'package.json']) cpSync(join(ROOT, d), join(copy, d), { recursive: true });
  return copy;
}

describe('portable locks', () => {
  it('an installed copy of pipe (dist only, no TypeScript sources) computes the same fingerprints', () => {
    const copy = installedCopy();
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    const yaml = 'stages:\n  ingest:\n    kind: ingest\n    params: { synthetic: { count: 4, writers: 2 } }\n  resize:\n    kind: resize\n    inputs: { scans: ingest }\n    params: { size: 16 }\n';
    const a = project({ 'pipeline.yaml': yaml });
    const b = project({ 'pipeline.yaml': yaml });
    assert.equal(pipe(a, 'run').code, 0);
    const r = spawnSync(process.execPath, [join(copy, 'bin', 'pipe.js'), 'run'], { cwd: b, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const fps = (d: string) => Object.values((JSON.parse(readFileSync(join(d, 'pipe.lock'), 'utf8')) as { stages: Record<string, { fingerprint: string }> }).stages).map((s) => s.fingerprint);
    assert.deepEqual(fps(b), fps(a));
    // The lock made by one passes the other's check.
    cpSync(join(a, 'pipe.lock'), join(b, 'pipe.lock'));
    assert.equal(spawnSync(process.execPath, [join(copy, 'bin', 'pipe.js'), 'status', '--check'], { cwd: b }).status, 0);
  });
});

describe('the framework without the ML packages', () => {
  it('runs user stages with only its own dependencies installed; a built-in ML kind names the package it needs', () => {
    const copy = installedCopy();
    // What `npm install pipe` brings: the packages package-lock.json marks neither dev nor peer.
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; peer?: boolean }> };
    const prod = Object.entries(lock.packages).filter(([k, v]) => k.startsWith('node_modules/') && !v.dev && !v.peer && existsSync(join(ROOT, k)));
    // A package's own node_modules comes with the link to the package.
    const top = prod.filter(([k]) => !k.slice('node_modules/'.length).includes('/node_modules/'));
    for (const [k] of top) {
      mkdirSync(dirname(join(copy, k)), { recursive: true });
      symlinkSync(join(ROOT, k), join(copy, k));
    }
    assert.ok(!prod.some(([k]) => /tensorflow|sharp|nsfwjs|webgpu/.test(k)), 'no ML package among the dependencies');
    const cli = join(copy, 'bin', 'pipe.js');
    const dir = project({
      'pipeline.yaml': 'stages:\n  gen:\n    kind: ./gen.mjs\n  vae:\n    kind: train-vae\n    inputs: { data: aug }\n  aug:\n    kind: ./gen.mjs\n',
      'gen.mjs': "export default { run(ctx) { ctx.output.json('x', 1); } };\n",
    });
    const r = spawnSync(process.execPath, [cli, 'run', '--only', 'gen'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /1 ran, 0 from cache/);
    const ml = spawnSync(process.execPath, [cli, 'run', '-j', '1', '-S', 'vae.backend=cpu'], { cwd: dir, encoding: 'utf8' });
    assert.equal(ml.status, 1);
    assert.match(ml.stderr, /error: stage 'vae' failed: kind 'train-vae' needs the npm package @tensorflow\/tfjs-core, which is not installed \(npm install @tensorflow\/tfjs-core\)/);
  });
});
