import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PIPE, pipe, project } from './helpers.js';

const HOOK = join(PIPE, '..', '..', 'test', 'fixtures', 'trace-imports.mjs');

describe('lean start-up', () => {
  it('a no-op run of built-in stages loads neither tfjs nor sharp', () => {
    const dir = project({
      'pipeline.yaml': 'stages:\n  ingest:\n    kind: ingest\n    params: { synthetic: { count: 6, writers: 2 } }\n  resize:\n    kind: resize\n    deps: [ingest]\n    params: { size: 16 }\n',
    });
    assert.equal(pipe(dir, 'run').code, 0);
    const trace = join(dir, 'trace.txt');
    const run = (args: string[]) => {
      const r = spawnSync(process.execPath, ['--import', HOOK, PIPE, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, PIPE_TRACE_FILE: trace } });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    assert.match(run(['run']), /0 ran, 2 from cache/);
    const loaded = readFileSync(trace, 'utf8');
    assert.match(loaded, /dist\/src\/cli\.js/, 'the trace saw the CLI load');
    assert.doesNotMatch(loaded, /sharp|@tensorflow/);
    // A run that does work loads them (the trace is not blind to them).
    run(['run', '--force', '--only', 'resize']);
    assert.match(readFileSync(trace, 'utf8'), /sharp/);
  });
});
