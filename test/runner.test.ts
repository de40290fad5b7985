import assert from 'node:assert/strict';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { GEN_STAGE, SUM_STAGE, pipe, pipeAsync, project, read, runsLog, waitFor, write } from './helpers.js';

const PIPELINE = `
params:
  n: 4
stages:
  gen:
    kind: ./gen.mjs
    params: { n: "\${n}", scale: 2 }
  sum:
    kind: ./sum.mjs
    deps: [gen, data/in.txt]
`;

function basic(): string {
  return project({ 'pipeline.yaml': PIPELINE, 'gen.mjs': GEN_STAGE, 'sum.mjs': SUM_STAGE, 'data/in.txt': 'hello' });
}

function lock(dir: string) {
  return parse(read(dir, 'pipe.lock')) as { stages: Record<string, { fingerprint: string; params: Record<string, unknown>; outs: Record<string, string>; files: Record<string, string>; deps: Record<string, string> }> };
}

describe('pipe run caching', () => {
  it('runs everything once, then nothing', () => {
    const dir = basic();
    const first = pipe(dir, 'run');
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(runsLog(dir), ['gen', 'sum']);
    assert.match(first.stdout, /2 ran, 0 from cache/);
    const second = pipe(dir, 'run');
    assert.equal(second.code, 0);
    assert.deepEqual(runsLog(dir), ['gen', 'sum']);
    assert.match(second.stdout, /\[gen\] up to date/);
    assert.match(second.stdout, /0 ran, 2 from cache/);
  });

  it('records params, dep hashes and exact output hashes in pipe.lock', () => {
    const dir = basic();
    pipe(dir, 'run');
    const l = lock(dir);
    assert.deepEqual(l.stages.gen!.params, { n: 4, scale: 2 });
    // sha256 of the encoded float32 tensor [0,2,4,6]: fixed by the tensor format.
    assert.equal(l.stages.gen!.outs.x, 'cee83d456b73c5cb4cee403472939f644431e983e7ab7cec60075db99616470e');
    // sha256('hello')
    assert.equal(l.stages.sum!.deps['data/in.txt'], '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    // sha256('0,2,4,6')
    assert.equal(l.stages.gen!.files['x.txt'], 'e8b03e179a23793e2af84dd7adfdabc288cd2389657082d8a1575f8b28c4705d');
    assert.equal(read(dir, 'artifacts/gen/x.txt'), '0,2,4,6');
  });

  it('reruns a stage and its downstream when a param changes, and says why', () => {
    const dir = basic();
    pipe(dir, 'run');
    write(dir, 'pipeline.yaml', PIPELINE.replace('scale: 2', 'scale: 3'));
    const st = pipe(dir, 'status');
    assert.match(st.stdout, /gen: stale\n {4}param scale changed: 2 -> 3/);
    assert.match(st.stdout, /sum: stale\n {4}upstream 'gen' is stale/);
    pipe(dir, 'run');
    assert.deepEqual(runsLog(dir), ['gen', 'sum', 'gen', 'sum']);
    assert.equal(read(dir, 'artifacts/gen/x.txt'), '0,3,6,9');
  });

  it('key order and number formatting in params do not change the fingerprint', () => {
    const dir = basic();
    pipe(dir, 'run');
    const before = lock(dir).stages.gen!.fingerprint;
    write(dir, 'pipeline.yaml', PIPELINE.replace('{ n: "${n}", scale: 2 }', '{ scale: 2.0, n: "${n}" }'));
    const r = pipe(dir, 'run');
    assert.match(r.stdout, /0 ran, 2 from cache/);
    assert.equal(lock(dir).stages.gen!.fingerprint, before);
  });

  it('reruns only the downstream stage when a file dep changes, naming the file', () => {
    const dir = basic();
    pipe(dir, 'run');
    write(dir, 'data/in.txt', 'changed');
    assert.match(pipe(dir, 'status').stdout, /sum: stale\n {4}dep data\/in.txt changed/);
    pipe(dir, 'run');
    assert.deepEqual(runsLog(dir), ['gen', 'sum', 'sum']);
  });

  it('names the changed, added and removed files of a folder dep', () => {
    const dir = project({
      'pipeline.yaml': 'stages:\n  sum:\n    kind: ./sum.mjs\n    deps: [data]\n',
      'sum.mjs': SUM_STAGE,
      'data/a.txt': 'a',
      'data/b.txt': 'b',
    });
    pipe(dir, 'run');
    write(dir, 'data/a.txt', 'A');
    write(dir, 'data/c.txt', 'c');
    const st = pipe(dir, 'status');
    assert.match(st.stdout, /dep data changed \(modified data\/a.txt; added data\/c.txt\)/);
  });

  it('reruns when stage code changes, naming the file', () => {
    const dir = basic();
    pipe(dir, 'run');
    write(dir, 'sum.mjs', SUM_STAGE + '\n// tweak\n');
    assert.match(pipe(dir, 'status').stdout, /sum: stale\n {4}code changed: sum.mjs/);
    pipe(dir, 'run');
    assert.deepEqual(runsLog(dir), ['gen', 'sum', 'sum']);
  });

  it('hashes modules a stage imports, transitively', () => {
    const dir = project({
      'pipeline.yaml': 'stages:\n  gen:\n    kind: ./gen.mjs\n',
      'gen.mjs': `import { k } from './lib/k.mjs';\n${GEN_STAGE.replace('ctx.params.scale ?? 1', 'k')}`,
      'lib/k.mjs': 'export const k = 5;\n',
    });
    pipe(dir, 'run');
    write(dir, 'lib/k.mjs', 'export const k = 7;\n');
    assert.match(pipe(dir, 'status').stdout, /code changed: lib\/k.mjs/);
    pipe(dir, 'run');
    assert.equal(read(dir, 'artifacts/gen/x.txt'), '0,7,14,21');
  });

  it('does not rerun downstream when upstream code changes but its outputs do not', () => {
    const dir = basic();
    pipe(dir, 'run');
    write(dir, 'gen.mjs', GEN_STAGE + '\n// comment only\n');
    pipe(dir, 'run');
    assert.deepEqual(runsLog(dir), ['gen', 'sum', 'gen']);
  });

  it('restores any earlier fingerprint from the run-cache without running', () => {
    const dir = basic();
    pipe(dir, 'run');
    write(dir, 'pipeline.yaml', PIPELINE.replace('scale: 2', 'scale: 3'));
    pipe(dir, 'run');
    write(dir, 'pipeline.yaml', PIPELINE);
    assert.match(pipe(dir, 'status').stdout, /gen: stale \(in run-cache: restores without running\)/);
    const r = pipe(dir, 'run');
    assert.match(r.stdout, /\[gen\] restored from run-cache/);
    assert.deepEqual(runsLog(dir), ['gen', 'sum', 'gen', 'sum']);
    assert.equal(read(dir, 'artifacts/gen/x.txt'), '0,2,4,6');
  });

  it('rewrites deleted or edited artifacts from the cache', () => {
    const dir = basic();
    pipe(dir, 'run');
    write(dir, 'artifacts/gen/x.txt', 'tampered');
    const r = pipe(dir, 'run');
    assert.match(r.stdout, /\[gen\] restored from run-cache: artifacts rewritten/);
    assert.equal(read(dir, 'artifacts/gen/x.txt'), '0,2,4,6');
    assert.deepEqual(runsLog(dir), ['gen', 'sum']);
  });

  it('--set overrides a param and changes the fingerprint', () => {
    const dir = basic();
    pipe(dir, 'run');
    const before = lock(dir).stages.gen!;
    const r = pipe(dir, 'run', '--set', 'gen.scale=5');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(read(dir, 'artifacts/gen/x.txt'), '0,5,10,15');
    // An experiment: pipe.lock keeps describing pipeline.yaml, the new fingerprint is the experiment's.
    assert.deepEqual(lock(dir).stages.gen, before);
    const exp = JSON.parse(pipe(dir, 'exp', 'show', '--json').stdout.trim().split('\n')[1]!) as { params: unknown; fingerprints: Record<string, string> };
    assert.deepEqual(exp.params, { 'gen.scale': '5' });
    assert.notEqual(exp.fingerprints.gen, before.fingerprint);
  });

  it('uses a stat cache: an untouched file is not read again', () => {
    const dir = basic();
    const p = join(dir, 'data/in.txt');
    utimesSync(p, 1_000_000, 1_000_000);
    pipe(dir, 'run');
    // Same size, mtime and inode, different bytes: only a re-read would notice.
    writeFileSync(p, 'HELLO');
    utimesSync(p, 1_000_000, 1_000_000);
    assert.match(pipe(dir, 'status').stdout, /sum: up to date/);
  });
});

describe('pipe run selection', () => {
  it('--only refuses when upstream has no cached outputs, and says what to run', () => {
    const dir = basic();
    const r = pipe(dir, 'run', '--only', 'sum');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot run sum: upstream 'gen' \(never run\) has no cached outputs; run 'pipe run --until gen' first/);
  });

  it('--until runs a stage and its upstream only; --only then runs just the rest', () => {
    const dir = basic();
    assert.equal(pipe(dir, 'run', '--until', 'gen').code, 0);
    assert.deepEqual(runsLog(dir), ['gen']);
    assert.equal(pipe(dir, 'run', '--only', 'sum').code, 0);
    assert.deepEqual(runsLog(dir), ['gen', 'sum']);
  });

  it('--force reruns selected stages only; --from reruns downstream', () => {
    const dir = basic();
    pipe(dir, 'run');
    pipe(dir, 'run', '--only', 'sum', '--force');
    assert.deepEqual(runsLog(dir), ['gen', 'sum', 'sum']);
    pipe(dir, 'run', '--from', 'gen', '--force');
    assert.deepEqual(runsLog(dir), ['gen', 'sum', 'sum', 'gen', 'sum']);
  });

  it('--only X --downstream runs X and what depends on it', () => {
    const dir = basic();
    pipe(dir, 'run');
    pipe(dir, 'run', '--only', 'gen', '--downstream', '--force');
    assert.deepEqual(runsLog(dir), ['gen', 'sum', 'gen', 'sum']);
  });

  it('cache: false reruns the stage every time; unchanged output keeps downstream cached', () => {
    const dir = project({ 'pipeline.yaml': PIPELINE.replace('    kind: ./gen.mjs\n', '    kind: ./gen.mjs\n    cache: false\n'), 'gen.mjs': GEN_STAGE, 'sum.mjs': SUM_STAGE, 'data/in.txt': 'x' });
    pipe(dir, 'run');
    assert.match(pipe(dir, 'status').stdout, /gen: stale\n {4}cache: false \(always runs\)/);
    pipe(dir, 'run');
    assert.deepEqual(runsLog(dir), ['gen', 'sum', 'gen']);
  });

  it('--dry-run shows the plan and runs nothing', () => {
    const dir = basic();
    const r = pipe(dir, 'run', '--dry-run');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /run {5}gen: never run\nrun {5}sum: upstream 'gen' is stale; never run/);
    assert.deepEqual(runsLog(dir), []);
  });

  it('--json emits one event per line', () => {
    const dir = basic();
    const r = pipe(dir, 'run', '--json');
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; stage?: string; outcome?: string });
    assert.deepEqual(
      events.filter((e) => e.event === 'stage-end').map((e) => [e.stage, e.outcome]),
      [['gen', 'ran'], ['sum', 'ran']],
    );
  });

  it('runs independent stages in parallel with --jobs', () => {
    const slow = `import { appendFileSync } from 'node:fs';
export default { async run(ctx) {
  appendFileSync(ctx.projectDir + '/runs.log', 'start ' + ctx.name + '\\n');
  await new Promise((r) => setTimeout(r, 400));
  appendFileSync(ctx.projectDir + '/runs.log', 'end ' + ctx.name + '\\n');
  ctx.output.json('v', ctx.params);
} };`;
    const dir = project({
      'pipeline.yaml': 'stages:\n  a:\n    kind: ./slow.mjs\n    params: { v: 1 }\n  b:\n    kind: ./slow.mjs\n    params: { v: 2 }\n',
      'slow.mjs': slow,
    });
    pipe(dir, 'run', '--jobs', '2');
    assert.deepEqual(runsLog(dir).slice(0, 2).sort(), ['start a', 'start b']);
  });
});

describe('failures', () => {
  it('a failing stage exits 1, records nothing, and leaves earlier stages cached', () => {
    const dir = project({
      'pipeline.yaml': PIPELINE,
      'gen.mjs': GEN_STAGE,
      'sum.mjs': 'export default { run() { throw new Error("boom: bad input"); } };',
      'data/in.txt': 'x',
    });
    const r = pipe(dir, 'run');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: stage 'sum' failed: boom: bad input/);
    assert.deepEqual(Object.keys(lock(dir).stages), ['gen']);
    write(dir, 'sum.mjs', SUM_STAGE);
    pipe(dir, 'run');
    assert.deepEqual(runsLog(dir), ['gen', 'sum']);
  });

  it('a stage killed mid-run leaves no record; the next run redoes it and keeps the cache intact', async () => {
    const stuck = `import { appendFileSync, writeFileSync } from 'node:fs';
export default { async run(ctx) {
  appendFileSync(ctx.projectDir + '/runs.log', ctx.name + '\\n');
  ctx.output.tensor('x', { dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) });
  ctx.artifacts.write('partial.txt', 'half');
  if (!process.env.PIPE_TEST_NO_HANG) { writeFileSync(ctx.projectDir + '/started', ''); await new Promise(() => setInterval(() => {}, 1000)); }
} };`;
    const dir = project({ 'pipeline.yaml': PIPELINE.replace('./sum.mjs', './stuck.mjs'), 'gen.mjs': GEN_STAGE, 'stuck.mjs': stuck, 'data/in.txt': 'x' });
    const { child, done } = pipeAsync(dir, 'run');
    await waitFor(() => existsSync(join(dir, 'started')));
    child.kill('SIGKILL');
    await done;
    assert.deepEqual(Object.keys(lock(dir).stages), ['gen']);
    assert.match(pipe(dir, 'status').stdout, /sum: stale\n {4}never run/);
    process.env.PIPE_TEST_NO_HANG = '1';
    try {
      const r = pipe(dir, 'run');
      assert.equal(r.code, 0, r.stderr);
    } finally {
      delete process.env.PIPE_TEST_NO_HANG;
    }
    assert.deepEqual(runsLog(dir), ['gen', 'sum', 'sum']);
    assert.match(pipe(dir, 'status').stdout, /gen: up to date\nsum: up to date/);
  });

  it('two runs at once: the second waits, and the stage runs once', async () => {
    const slow = `import { appendFileSync } from 'node:fs';
export default { async run(ctx) { appendFileSync(ctx.projectDir + '/runs.log', ctx.name + '\\n'); await new Promise((r) => setTimeout(r, 700)); ctx.output.json('v', 1); } };`;
    const dir = project({ 'pipeline.yaml': 'stages:\n  a:\n    kind: ./slow.mjs\n', 'slow.mjs': slow });
    const one = pipeAsync(dir, 'run');
    await waitFor(() => runsLog(dir).length > 0);
    const two = pipeAsync(dir, 'run');
    const [r1, r2] = await Promise.all([one.done, two.done]);
    assert.equal(r1.code, 0);
    assert.equal(r2.code, 0);
    assert.match(r2.stdout, /another pipe run \(pid \d+\) is using this cache; waiting/);
    assert.match(r2.stdout, /\[a\] up to date/);
    assert.deepEqual(runsLog(dir), ['a']);
  });

  it('--no-wait fails with exit 3 while another run holds the cache', async () => {
    const slow = `export default { async run(ctx) { (await import('node:fs')).writeFileSync(ctx.projectDir + '/started', ''); await new Promise((r) => setTimeout(r, 1500)); ctx.output.json('v', 1); } };`;
    const dir = project({ 'pipeline.yaml': 'stages:\n  a:\n    kind: ./slow.mjs\n', 'slow.mjs': slow });
    const one = pipeAsync(dir, 'run');
    await waitFor(() => existsSync(join(dir, 'started')));
    const r = pipe(dir, 'run', '--no-wait');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /another pipe process \(pid \d+\) is using .*cache; wait for it to finish, then run 'pipe run' again/);
    assert.equal((await one.done).code, 0);
  });

  it('fails, naming the output, on an output tensor that is not what it says', () => {
    const bad = "export default { run(ctx) { const data = { shape: new Float32Array(2), plain: [1, 2], typed: new Int32Array(3) }[ctx.params.as]; ctx.output.tensor('x', { dtype: 'float32', shape: [3], data }); } };";
    const dir = project({ 'pipeline.yaml': 'stages:\n  bad:\n    kind: ./bad.mjs\n    params: { as: shape }\n', 'bad.mjs': bad });
    for (const [as, msg] of [
      ['shape', /tensor shape \[3\] needs 3 values, got 2/],
      ['plain', /a float32 tensor needs its values in a Float32Array, got a plain array/],
      ['typed', /a float32 tensor needs its values in a Float32Array, got Int32Array/],
    ] as const) {
      const r = pipe(dir, 'run', '-S', `bad.as=${as}`);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`stage 'bad' failed: output tensor 'x': ${msg.source}`));
    }
  });

  it('fails when a declared out is not produced', () => {
    const dir = project({ 'pipeline.yaml': 'stages:\n  gen:\n    kind: ./gen.mjs\n    outs: [x, y]\n', 'gen.mjs': GEN_STAGE });
    const r = pipe(dir, 'run');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /declared outs not produced: y \(it produced: x, x.txt\)/);
  });
});

describe('pipe gc and dag', () => {
  it('gc frees blobs of runs that nothing references any more', () => {
    const dir = basic();
    pipe(dir, 'run');
    pipe(dir, 'run', '-S', 'gen.n=100000');
    pipe(dir, 'run');
    // An experiment keeps its results until it is removed.
    assert.match(pipe(dir, 'gc', '--keep', '1').stdout, /freed 0.00 MiB/);
    assert.equal(pipe(dir, 'exp', 'remove', 'n=100000').code, 0);
    const r = pipe(dir, 'gc', '--keep', '1');
    assert.equal(r.code, 0, r.stderr);
    const freed = Number(/\((\d+) bytes\)/.exec(r.stdout)![1]);
    // The n=100000 tensor alone is 400,000 bytes of float32.
    assert.ok(freed > 400000, r.stdout);
    assert.match(pipe(dir, 'status').stdout, /gen: up to date\nsum: up to date/);
  });

  it('prints the graph as text, mermaid and dot', () => {
    const dir = basic();
    assert.equal(pipe(dir, 'dag').stdout, 'gen (./gen.mjs)\nsum (./sum.mjs) <- gen, file:data/in.txt\n');
    assert.match(pipe(dir, 'dag', '--mermaid').stdout, /graph TD\n.*\n.*\n {2}gen --> sum/);
    assert.match(pipe(dir, 'dag', '--dot').stdout, /"gen" -> "sum";/);
  });
});

describe('status --check', () => {
  it('exits 4 when the lock does not match, 0 when it does', () => {
    const dir = basic();
    assert.equal(pipe(dir, 'status', '--check').code, 4);
    pipe(dir, 'run');
    assert.equal(pipe(dir, 'status', '--check').code, 0);
    assert.ok(readFileSync(join(dir, 'pipe.lock'), 'utf8').startsWith('{\n  "version": 1,\n  "stages": {'));
  });
});
