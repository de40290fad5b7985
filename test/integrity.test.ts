import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { open } from 'lmdb';
import { parse } from 'yaml';
import { pipe, pipeAsync, project, read, runsLog, waitFor, write } from './helpers.js';

/** gen → sum, both logging their runs; gen writes a tensor and an artifact, sum reads the tensor. */
const GEN = `import { appendFileSync } from 'node:fs';
export default { run(ctx) {
  appendFileSync(ctx.projectDir + '/runs.log', ctx.name + '\\n');
  ctx.output.tensor('x', { dtype: 'float32', shape: [4], data: new Float32Array([1, 2, 3, 4]) });
  ctx.artifacts.write('x.txt', '1,2,3,4');
} };`;
const SUM = `import { appendFileSync } from 'node:fs';
export default { run(ctx) {
  appendFileSync(ctx.projectDir + '/runs.log', ctx.name + '\\n');
  const x = ctx.upstream.gen.tensor('x');
  ctx.output.json('s', [...x.data].reduce((a, b) => a + b, 0) * ctx.params.k);
} };`;
const YAML = 'stages:\n  gen:\n    kind: ./gen.mjs\n  sum:\n    kind: ./sum.mjs\n    deps: [gen]\n    params: { k: 1 }\n';

type Lock = { stages: Record<string, { fingerprint: string; outs: Record<string, string>; files: Record<string, string>; upstream: Record<string, string> }> };
const lockOf = (dir: string) => parse(read(dir, 'pipe.lock')) as Lock;

function ran(): string {
  const dir = project({ 'pipeline.yaml': YAML, 'gen.mjs': GEN, 'sum.mjs': SUM });
  assert.equal(pipe(dir, 'run').code, 0);
  return dir;
}

/** Flips the last byte of a stored blob, as bit rot would: same key, other bytes. */
function flipBlob(dir: string, hash: string): void {
  const root = open({ path: join(dir, 'cache'), compression: false });
  const blobs = root.openDB<Uint8Array, string>({ name: 'blobs', encoding: 'binary' });
  const bytes = Buffer.from(blobs.getBinary(hash)!);
  bytes[bytes.length - 1]! ^= 1;
  blobs.putSync(hash, bytes);
  root.close();
}

describe('cache integrity', () => {
  it('a flipped byte in an upstream output is caught on read, dropped, and rebuilt in the same run', () => {
    const dir = ran();
    flipBlob(dir, lockOf(dir).stages.gen!.outs.x!);
    const r = pipe(dir, 'run', '-S', 'sum.k=2');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cache corruption: output 'x' of stage 'gen' \(blob [0-9a-f]{12}\) does not match its hash; dropped it and the 1 run record that used it/);
    assert.match(r.stdout, /running again to rebuild it/);
    assert.deepEqual(runsLog(dir), ['gen', 'sum', 'sum', 'gen', 'sum']);
    assert.equal(pipe(dir, 'cache', 'check').code, 0);
  });

  it('restoring an artifact from a damaged blob reruns the stage instead of writing wrong bytes', () => {
    const dir = ran();
    flipBlob(dir, lockOf(dir).stages.gen!.files['x.txt']!);
    write(dir, 'artifacts/gen/x.txt', 'edited');
    const r = pipe(dir, 'run');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /artifact 'x.txt' of stage 'gen' \(blob [0-9a-f]{12}\) does not match its hash/);
    assert.equal(read(dir, 'artifacts/gen/x.txt'), '1,2,3,4');
  });

  it('pipe cache check finds a damaged blob (exit 5); --force rewrites it with the right bytes', () => {
    const dir = ran();
    const hash = lockOf(dir).stages.gen!.outs.x!;
    flipBlob(dir, hash);
    const check = pipe(dir, 'cache', 'check');
    assert.equal(check.code, 5);
    assert.match(check.stdout, new RegExp(`blob ${hash.slice(0, 12)} does not match its hash`));
    assert.match(check.stderr, /'pipe cache check --repair' drops them/);
    assert.equal(pipe(dir, 'run', '--force', '--only', 'gen').code, 0);
    assert.match(pipe(dir, 'cache', 'check').stdout, /checked 3 blobs .* and 2 run records: all intact/);
    assert.equal(lockOf(dir).stages.gen!.outs.x, hash);
    assert.equal(pipe(dir, 'status', '--check').code, 0);
  });

  it('cache check --repair drops the damaged entries and the next run rebuilds them', () => {
    const dir = ran();
    flipBlob(dir, lockOf(dir).stages.gen!.outs.x!);
    const r = pipe(dir, 'cache', 'check', '--repair');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /dropped them/);
    assert.match(pipe(dir, 'run').stdout, /\[gen\] done/);
    assert.equal(pipe(dir, 'cache', 'check').code, 0);
  });

  it('a damaged LMDB meta page is reported with what to do, never a segmentation fault', () => {
    const dir = ran();
    const file = join(dir, 'cache', 'data.mdb');
    const bytes = readFileSync(file);
    bytes.writeUInt32LE(0, 24);
    writeFileSync(file, bytes);
    for (const cmd of [['status'], ['run'], ['cache', 'check']]) {
      const r = pipe(dir, ...cmd);
      assert.equal(r.code, 5, `${cmd.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /the cache at .*cache is damaged \(.*data\.mdb: meta page 0: bad magic 0x0\); nothing was changed\. Move it aside \(mv .*cache .*cache\.damaged\)/);
    }
  });

  it('damaged B-tree pages give a clear message and exit 5', () => {
    const dir = ran();
    const file = join(dir, 'cache', 'data.mdb');
    const clean = readFileSync(file);
    // Damage every page past the two meta pages in turn until LMDB notices (which pages hold the trees depends on the run).
    let seen: { code: number; stderr: string } | undefined;
    for (let page = 2; page * 4096 < clean.length && !seen; page++) {
      const bytes = Buffer.from(clean);
      for (let i = page * 4096 + 16; i < page * 4096 + 64; i++) bytes[i]! ^= 0x5a;
      writeFileSync(file, bytes);
      const r = pipe(dir, 'run', '-S', 'sum.k=3');
      if (r.code !== 0) seen = r;
    }
    assert.ok(seen, 'some damaged page was noticed');
    assert.equal(seen.code, 5, seen.stderr);
    assert.match(seen.stderr, /error: the cache is damaged \(LMDB: MDB_[A-Z_]+\); move it aside/);
    // (LMDB itself may print a line of its own first.)
    assert.doesNotMatch(seen.stderr, /^internal error: |\n\s+at /m);
  });

  it('status --check reports output or upstream hashes in pipe.lock that disagree with the cache', () => {
    const dir = ran();
    const lock = lockOf(dir);
    lock.stages.gen!.outs.x = 'f'.repeat(64);
    lock.stages.sum!.upstream.gen = 'e'.repeat(64);
    write(dir, 'pipe.lock', JSON.stringify(lock));
    const r = pipe(dir, 'status', '--check');
    assert.equal(r.code, 4);
    assert.match(r.stdout, /gen: stale \(in run-cache: restores without running\)\n\s+pipe.lock's output hashes differ from the cache's record of this fingerprint: x/);
    assert.match(r.stdout, /sum: stale \(in run-cache: restores without running\)\n\s+pipe.lock's upstream hashes differ from the upstream outputs: gen/);
    // A run writes the lock from the cache's records again, running nothing.
    assert.match(pipe(dir, 'run').stdout, /0 ran, 2 from cache/);
    assert.equal(pipe(dir, 'status', '--check').code, 0);
  });
});

describe('artifacts and temp files', () => {
  it('a failed run leaves the previous successful run’s artifacts in place', () => {
    const stage = `export default { run(ctx) {
  ctx.artifacts.write('model.txt', 'model ' + ctx.params.v);
  ctx.artifacts.write('only-new.txt', 'x');
  if (ctx.params.v === 2) throw new Error('diverged');
} };`;
    const dir = project({ 'pipeline.yaml': 'stages:\n  train:\n    kind: ./train.mjs\n    params: { v: 1 }\n', 'train.mjs': stage });
    assert.equal(pipe(dir, 'run').code, 0);
    const r = pipe(dir, 'run', '-S', 'train.v=2');
    assert.equal(r.code, 1);
    assert.equal(read(dir, 'artifacts/train/model.txt'), 'model 1');
    assert.equal(read(dir, 'artifacts/train/only-new.txt'), 'x', 'the previous run wrote it too');
    assert.equal(pipe(dir, 'status', '--check').code, 0);
  });

  it('temp files left by a killed write are removed by the next run', () => {
    const dir = ran();
    mkdirSync(join(dir, 'artifacts', 'gen', 'deep'), { recursive: true });
    // pid 2^22 + 1 is above Linux's pid_max default: no such process.
    for (const f of ['artifacts/gen/x.txt.4194305.tmp', 'artifacts/gen/deep/y.png.4194305.tmp', 'pipe.lock.4194305.tmp']) write(dir, f, 'half');
    write(dir, `artifacts/gen/live.txt.${process.pid}.tmp`, 'being written');
    const r = pipe(dir, 'run');
    assert.match(r.stdout, /removed 3 temp files left by an interrupted run/);
    assert.ok(!existsSync(join(dir, 'pipe.lock.4194305.tmp')));
    assert.deepEqual(readdirSync(join(dir, 'artifacts', 'gen')).sort(), ['deep', `live.txt.${process.pid}.tmp`, 'x.txt']);
  });

  it('a lock left by a kill -9 is taken over at once', async () => {
    const hang = "export default { async run(ctx) { (await import('node:fs')).writeFileSync(ctx.projectDir + '/started', ''); await new Promise(() => setInterval(() => {}, 1000)); } };";
    const dir = project({ 'pipeline.yaml': 'stages:\n  a:\n    kind: ./hang.mjs\n  b:\n    kind: ./gen.mjs\n', 'hang.mjs': hang, 'gen.mjs': GEN });
    const { child, done } = pipeAsync(dir, 'run', '--only', 'a');
    await waitFor(() => existsSync(join(dir, 'started')));
    child.kill('SIGKILL');
    await done;
    const t0 = Date.now();
    const r = pipe(dir, 'run', '--only', 'b', '--no-wait');
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /waiting/);
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  });
});

describe('finite, bounded input', () => {
  const dir = project({ 'pipeline.yaml': YAML, 'gen.mjs': GEN, 'sum.mjs': SUM });

  it('Infinity, NaN and unsafe integers are refused at validation, where they were written', () => {
    const r = pipe(dir, 'run', '-S', 'sum.k=1e309');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--set sum.k=1e309: stages.sum.params.k: expected a finite number, found Infinity/);
    write(dir, 'inf.yaml', 'stages:\n  gen:\n    kind: ./gen.mjs\n    params: { n: .inf }\n');
    const y = pipe(dir, 'dag', '-f', 'inf.yaml');
    assert.equal(y.code, 2);
    assert.match(y.stderr, /inf.yaml:4:18: stages.gen.params.n: expected a finite number, found Infinity/);
    assert.match(pipe(dir, 'dag', '-S', 'sum.k=1e20').stderr, /expected a finite number \(an integer up to 2\^53\), found 100000000000000000000/);
  });

  it('a bad shared param set with -S is reported once, at the --set, with the stages it reached', () => {
    const d = project({ 'pipeline.yaml': 'params: { k: 1 }\nstages:\n  a:\n    kind: ingest\n    params: { seed: "${k}" }\n  b:\n    kind: ingest\n    params: { seed: "${k}" }\n' });
    const r = pipe(d, 'dag', '-S', 'params.k=abc');
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'error: --set params.k=abc: params.k: expected integer, found the string "abc" (used by stages.a.params.seed, stages.b.params.seed)\n');
  });

  it('the built-in training kinds bound their epochs', () => {
    const d = project({ 'pipeline.yaml': 'stages:\n  i:\n    kind: ingest\n  r:\n    kind: resize\n    inputs: { scans: i }\n  a:\n    kind: augment\n    inputs: { images: r }\n  v:\n    kind: train-vae\n    inputs: { data: a }\n' });
    assert.match(pipe(d, 'dag', '-S', 'v.epochs=1e9').stderr, /--set v.epochs=1e9: stages.v.params.epochs: expected a value that must be <= 100000, found number 1000000000/);
  });

  it('a sweep grid over the limit is refused before anything is built', () => {
    const t0 = Date.now();
    const r = pipe(dir, 'sweep', '-S', 'sum.k=range(0,2000,1)', '-S', 'gen.n=range(1,2001,1)');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /the grid has 4,000,000 variants \(2000 sum.k × 2000 gen.n\), more than --max-variants 1000; narrow it, or raise --max-variants/);
    assert.ok(Date.now() - t0 < 5000);
    assert.match(pipe(dir, 'sweep', '-S', 'sum.k=').stderr, /--set sum.k=: no values after '='/);
    assert.match(pipe(dir, 'sweep', '-S', 'sum.k=range(0,1e12,1)').stderr, /would give 1,000,000,000,000 values; at most 100,000 per axis/);
  });

  it('flags that take a count say which flag is wrong', () => {
    for (const [args, msg] of [
      [['run', '-j', 'abc'], /--jobs: expected a whole number >= 1, got 'abc'/],
      [['run', '-j', '0'], /--jobs: expected a whole number >= 1, got '0'/],
      [['gc', '--keep', 'abc'], /--keep: expected a whole number >= 0, got 'abc'/],
    ] as const) {
      const r = pipe(dir, ...args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, msg);
    }
  });
});

describe('configuration errors are usage errors, not crashes', () => {
  const cases: Array<[string, (dir: string) => void, string[], RegExp]> = [
    ['pipeline.yaml is a folder', (d) => (rmSync(join(d, 'pipeline.yaml')), mkdirSync(join(d, 'pipeline.yaml'))), ['run'], /pipeline.yaml is not a file/],
    ['an empty pipeline.yaml', (d) => write(d, 'pipeline.yaml', ''), ['run'], /pipeline.yaml is empty: expected a mapping with a stages: key/],
    ['cache: points at a file', (d) => (write(d, 'pipeline.yaml', `cache: c.txt\n${YAML}`), write(d, 'c.txt', '')), ['run'], /cache: .*c\.txt is a file, not a folder/],
    ['pipe.lock is a folder', (d) => mkdirSync(join(d, 'pipe.lock')), ['status'], /pipe.lock: not a valid lock file \(it is not a file\)/],
    ['pipe.lock with stages: [1, 2]', (d) => write(d, 'pipe.lock', '{"stages": [1, 2]}'), ['status'], /pipe.lock: not a valid lock file \(`stages` must be a mapping of stage names to entries\)/],
    ['a stage named "my stage"', (d) => write(d, 'pipeline.yaml', 'stages:\n  my stage:\n    kind: ./gen.mjs\n'), ['run'], /pipeline.yaml:2:3: stages.my stage: the name "my stage" is not allowed \(names match/],
    ['a stage module that throws at import', (d) => (write(d, 'pipeline.yaml', 'stages:\n  t:\n    kind: ./throws.mjs\n'), write(d, 'throws.mjs', "throw new Error('no GPU here');\n")), ['run'], /stage 't' failed: stage module .*throws\.mjs failed to load: no GPU here/],
  ];
  for (const [what, setup, args, msg] of cases) {
    it(what, () => {
      const d = project({ 'gen.mjs': GEN, 'sum.mjs': SUM, 'pipeline.yaml': YAML });
      setup(d);
      const r = pipe(d, ...args);
      assert.ok(r.code === 2 || r.code === 1, `${what}: exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.doesNotMatch(r.stderr, /internal error|    at /);
    });
  }

  it('gc while a run holds the cache says what to do, for gc', async () => {
    const hang = "export default { async run(ctx) { (await import('node:fs')).writeFileSync(ctx.projectDir + '/started', ''); await new Promise((r) => setTimeout(r, 2000)); ctx.output.json('v', 1); } };";
    const d = project({ 'pipeline.yaml': 'stages:\n  a:\n    kind: ./hang.mjs\n', 'hang.mjs': hang });
    const one = pipeAsync(d, 'run');
    await waitFor(() => existsSync(join(d, 'started')));
    const r = pipe(d, 'gc');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /another pipe process \(pid \d+\) is using .*; wait for it to finish, then run 'pipe gc' again/);
    assert.doesNotMatch(r.stderr, /--no-wait/);
    await one.done;
  });
});

/** A resumable stage: one artifact and one checkpoint per step; hangs at step 2 while a `hang` file exists; logs resumes. */
const STEPS = `import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
export default { async run(ctx) {
  const c = ctx.checkpoint.load();
  if (c) appendFileSync(ctx.projectDir + '/resumed.log', ctx.name + ' ' + c.step + '\\n');
  let step = c ? c.step : 0;
  for (; step < ctx.params.steps; step++) {
    if (step === 2 && existsSync(ctx.projectDir + '/hang')) { writeFileSync(ctx.projectDir + '/started', ''); await new Promise(() => setInterval(() => {}, 1000)); }
    ctx.artifacts.write('progress/step-' + step + '.txt', 'step ' + step);
    ctx.checkpoint.save(step + 1, { w: { dtype: 'float32', shape: [1], data: new Float32Array([step]) } });
  }
  ctx.output.json('steps', step);
} };`;

describe('verify and --force start from scratch; a resumed run records what an uninterrupted one does', () => {
  const yaml = 'stages:\n  s:\n    kind: ./steps.mjs\n    params: { steps: 4 }\n';

  it('verify never resumes and leaves no checkpoint; neither does --force resume', () => {
    const dir = project({ 'pipeline.yaml': yaml, 'steps.mjs': STEPS });
    assert.equal(pipe(dir, 'run').code, 0);
    for (const args of [['verify'], ['verify'], ['run', '--force']]) {
      const r = pipe(dir, ...args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    assert.ok(!existsSync(join(dir, 'resumed.log')), existsSync(join(dir, 'resumed.log')) ? read(dir, 'resumed.log') : '');
  });

  it('killed at step 2 and resumed: the same outputs and the same artifacts as a run that was never interrupted', async () => {
    const whole = project({ 'pipeline.yaml': yaml, 'steps.mjs': STEPS });
    assert.equal(pipe(whole, 'run').code, 0);
    const killed = project({ 'pipeline.yaml': yaml, 'steps.mjs': STEPS, hang: '' });
    const { child, done } = pipeAsync(killed, 'run');
    await waitFor(() => existsSync(join(killed, 'started')));
    child.kill('SIGKILL');
    await done;
    rmSync(join(killed, 'hang'));
    rmSync(join(killed, 'artifacts'), { recursive: true });
    assert.equal(pipe(killed, 'run').code, 0);
    assert.equal(read(killed, 'resumed.log'), 's 2\n');
    assert.deepEqual(lockOf(killed).stages.s, lockOf(whole).stages.s);
    assert.equal(read(killed, 'artifacts/s/progress/step-0.txt'), 'step 0');
    assert.equal(pipe(killed, 'verify').code, 0);
  });
});

describe('a full disk', () => {
  it('is reported with the path that could not be written', (t) => {
    const dir = project({
      'pipeline.yaml': 'stages:\n  big:\n    kind: ./big.mjs\n',
      'big.mjs': "export default { run(ctx) { ctx.artifacts.write('blob.bin', new Uint8Array(1 << 20)); } };",
    });
    mkdirSync(join(dir, 'artifacts'));
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', join(dir, 'artifacts')], { encoding: 'utf8' });
    if (mount.status !== 0) return t.skip(`cannot mount a small tmpfs here (${mount.stderr.trim() || 'not root'})`);
    try {
      const r = pipe(dir, 'run');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /stage 'big' failed: cannot write .*artifacts\/big\/blob\.bin: no space left on the device/);
      assert.deepEqual(readdirSync(join(dir, 'artifacts', 'big')), [], 'no temp file left behind');
    } finally {
      spawnSync('umount', [join(dir, 'artifacts')]);
    }
  });
});
