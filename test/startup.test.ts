import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PIPE, pipe, project } from './helpers.js';

const HOOK = join(PIPE, '..', '..', 'test', 'fixtures', 'trace-imports.mjs');

describe('lean start-up', () => {
  it('a no-op run of built-in stages (tfjs kinds with backend: auto among them) loads neither tfjs nor sharp', () => {
    const dir = project({
      'pipeline.yaml':
        'stages:\n  ingest:\n    kind: ingest\n    params: { synthetic: { count: 6, writers: 2 } }\n  resize:\n    kind: resize\n    inputs: { scans: ingest }\n    params: { size: 16 }\n  augment:\n    kind: augment\n    inputs: { images: resize }\n    params: { copies: 0 }\n  vae:\n    kind: train-vae\n    inputs: { data: augment }\n    params: { epochs: 1, latent: 2, filters: [2, 2] }\n',
    });
    assert.equal(pipe(dir, 'run').code, 0);
    const trace = join(dir, 'trace.txt');
    const run = (args: string[]) => {
      const r = spawnSync(process.execPath, ['--import', HOOK, PIPE, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, PIPE_TRACE_FILE: trace } });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    assert.match(run(['run']), /0 ran, 4 from cache/);
    const loaded = readFileSync(trace, 'utf8');
    assert.match(loaded, /dist\/src\/core\/cli\.js/, 'the trace saw the CLI load');
    assert.match(loaded, /dist\/src\/ml\/tfjs\/facts\.js/, 'the trace saw the facts module load');
    assert.doesNotMatch(loaded, /sharp|@tensorflow/);
    // A run that does work loads them (the trace is not blind to them).
    run(['run', '--force', '--only', 'resize']);
    assert.match(readFileSync(trace, 'utf8'), /sharp/);
  });
});

describe('portable locks', () => {
  it('an installed copy of pipe (dist only, no TypeScript sources) computes the same fingerprints', () => {
    const root = join(PIPE, '..', '..');
    const copy = mkdtempSync(join(tmpdir(), 'pipe-installed-'));
    for (const d of ['bin', 'dist', 'schemas']) cpSync(join(root, d), join(copy, d), { recursive: true });
    cpSync(join(root, 'package.json'), join(copy, 'package.json'));
    symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
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
