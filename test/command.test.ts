import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { PIPE, pipe, pipeAsync, pipeEnv, project, read, runsLog, waitFor, write } from './helpers.js';

/** A script that writes a file out, a folder out of three files and a metrics file, and logs its runs. */
const TRAIN = `echo "lr=$PIPE_PARAM_LR mode=$MODE"
mkdir -p outputs
echo "model $1" > model.txt
for i in 1 2 3; do echo "img $i" > outputs/img$i.txt; done
echo "{\\"loss\\": $1}" > metrics.json
echo train >> runs.log
`;
const YAML = (lr: number) => `stages:
  train:
    cmd: sh train.sh \${lr}
    deps: [train.sh, data]
    env: [MODE]
    params: { lr: ${lr} }
    outs: [model.txt, outputs]
    metrics: [metrics.json]
`;

function trained(): string {
  const dir = project({ 'pipeline.yaml': YAML(1), 'train.sh': TRAIN, 'data/in.txt': 'a' });
  const r = pipe(dir, 'run');
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

type Lock = { stages: Record<string, { params: Record<string, unknown>; outs: Record<string, string> }> };
const lockOf = (dir: string) => parse(read(dir, 'pipe.lock')) as Lock;

describe('command stages', () => {
  it('run under the shell with params interpolated and in PIPE_PARAM_*, store their outs, and stream their output', () => {
    const dir = project({ 'pipeline.yaml': YAML(1), 'train.sh': TRAIN, 'data/in.txt': 'a' });
    const r = pipeEnv(dir, { MODE: 'fast' }, 'run');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\[train\] lr=1 mode=fast/);
    assert.equal(read(dir, 'model.txt'), 'model 1\n');
    const lock = lockOf(dir);
    assert.deepEqual(lock.stages.train!.params.cmd, ['sh train.sh 1']);
    assert.deepEqual(lock.stages.train!.params.env, { MODE: 'fast' });
    // A file out is stored under the sha256 of its bytes.
    assert.equal(lock.stages.train!.outs['model.txt'], createHash('sha256').update('model 1\n').digest('hex'));
    const exp = pipe(dir, 'exp', 'show', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l) as { metrics: Record<string, number> });
    assert.equal(exp[0]!.metrics['train.loss'], 1);
  });

  it('rerun when the command, a param, a declared env value, the script or the data change; not otherwise', () => {
    const dir = trained();
    const ran = () => runsLog(dir).length;
    assert.match(pipe(dir, 'run').stdout, /0 ran, 1 from cache/);
    const steps: Array<[string, () => void]> = [
      ['param', () => write(dir, 'pipeline.yaml', YAML(2))],
      ['env', () => undefined],
      ['script', () => write(dir, 'train.sh', `${TRAIN}echo edited > /dev/null\n`)],
      ['data', () => write(dir, 'data/in.txt', 'b')],
      ['command', () => write(dir, 'pipeline.yaml', YAML(2).replace('sh train.sh', 'sh ./train.sh'))],
    ];
    for (const [what, change] of steps) {
      const before = ran();
      change();
      const r = pipeEnv(dir, what === 'env' ? { MODE: 'slow' } : { MODE: '' }, 'run');
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      assert.equal(ran(), before + 1, `${what} reruns the stage`);
    }
  });

  it('outs edited or deleted in the workspace are reported by status and restored exactly by run', () => {
    const dir = trained();
    rmSync(join(dir, 'model.txt'));
    write(dir, 'outputs/img2.txt', 'edited');
    write(dir, 'outputs/extra.txt', 'not made by the command');
    const st = pipe(dir, 'status');
    assert.match(st.stdout, /outs changed in the workspace: model.txt \(deleted\), outputs \(edited\) \(pipe run restores them\)/);
    const r = pipe(dir, 'run');
    assert.match(r.stdout, /\[train\] restored from run-cache: outs rewritten from the cache/);
    assert.equal(read(dir, 'model.txt'), 'model 1\n');
    assert.equal(read(dir, 'outputs/img2.txt'), 'img 2\n');
    assert.ok(!existsSync(join(dir, 'outputs/extra.txt')));
    assert.deepEqual(runsLog(dir), ['train']);
  });

  it('an earlier pipeline.yaml (as after git checkout) gets its outs back from the run-cache without running', () => {
    const dir = trained();
    write(dir, 'pipeline.yaml', YAML(2));
    assert.equal(pipe(dir, 'run').code, 0);
    assert.equal(read(dir, 'model.txt'), 'model 2\n');
    write(dir, 'pipeline.yaml', YAML(1));
    assert.match(pipe(dir, 'run').stdout, /restored from run-cache/);
    assert.equal(read(dir, 'model.txt'), 'model 1\n');
    assert.equal(runsLog(dir).length, 2);
  });

  it('a folder out with one changed file stores one new file blob (and its new manifest)', () => {
    const quiet = TRAIN.replace(/^echo "lr.*\n/, '').replace('for i in 1 2 3; do echo "img $i" > outputs/img$i.txt; done', 'for i in 1 2 3; do echo "img $i" > outputs/img$i.txt; done\n[ "$1" = 2 ] && echo "changed" > outputs/img3.txt').replace('echo "model $1" > model.txt', 'echo model > model.txt').replace('echo "{\\"loss\\": $1}" > metrics.json', 'echo "{}" > metrics.json');
    const dir = project({ 'pipeline.yaml': YAML(1), 'train.sh': quiet, 'data/in.txt': 'a' });
    assert.equal(pipe(dir, 'run').code, 0);
    const blobs = () => Number(/checked (\d+) blobs/.exec(pipe(dir, 'cache', 'check').stdout)![1]);
    const before = blobs();
    write(dir, 'pipeline.yaml', YAML(2));
    assert.equal(pipe(dir, 'run').code, 0);
    assert.equal(blobs() - before, 2);
  });

  it('a failing command shows its exit code and last lines, records nothing, and exits 1', () => {
    const dir = project({ 'pipeline.yaml': 'stages:\n  bad:\n    cmd: ["echo one", "echo two; echo oops >&2; exit 3"]\n    outs: [x.txt]\n' });
    const r = pipe(dir, 'run');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /stage 'bad' failed: command exited with code 3: echo two; echo oops >&2; exit 3\n {2}last lines:\n {4}one\n {4}two\n {4}oops/);
    assert.ok(!existsSync(join(dir, 'pipe.lock')) || !('bad' in lockOf(dir).stages));
  });

  it('an out the command did not write is an error naming it; a stale out is removed before the run', () => {
    const dir = project({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: "true"\n    outs: [made.txt]\n', 'made.txt': 'stale' });
    const r = pipe(dir, 'run');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /declared out 'made.txt' was not written by the command/);
    assert.ok(!existsSync(join(dir, 'made.txt')));
  });

  it('Ctrl-C reaches the whole process group of the command and leaves no record', async () => {
    const r = await interrupted('SIGINT');
    assert.equal(r.code, 130, r.stderr);
    assert.ok(!existsSync(join(r.dir, 'pipe.lock')) || !('slow' in lockOf(r.dir).stages));
  });

  it('warns when the command names a project file that is not in deps', () => {
    const dir = project({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: sh helper.sh\n', 'helper.sh': 'true\n' });
    assert.match(pipe(dir, 'run').stdout, /\[a\] warning: the command names helper.sh, which is not in deps: editing it will not rerun this stage \(add it to deps\)/);
  });

  it('${name} must be a param of the stage or a top-level one', () => {
    const dir = project({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: echo ${HOME}\n' });
    const r = pipe(dir, 'run');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pipeline.yaml:3:10: stages.a.cmd: \$\{HOME\} is not a param of the stage nor a top-level one \(for a shell variable, write \$HOME without braces\)/);
  });

  it('verify re-executes a command stage and compares its outs', () => {
    const dir = trained();
    const r = pipe(dir, 'verify');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /train: match/);
  });
});

describe('command stages in sweeps', () => {
  it('each variant\'s command stages see their own upstream outs, and the workspace keeps pipe.lock\'s', () => {
    const yaml = `stages:
  train:
    cmd: echo "model \${lr}" > model.txt
    params: { lr: 1 }
    outs: [model.txt]
  score:
    cmd: sh score.sh
    deps: [train, score.sh]
    outs: [seen.txt]
    metrics: [score.json]
`;
    const score = 'cp model.txt seen.txt\necho "{\\"score\\": $(cut -d" " -f2 model.txt)}" > score.json\n';
    const dir = project({ 'pipeline.yaml': yaml, 'score.sh': score });
    assert.equal(pipe(dir, 'run').code, 0);
    const r = pipe(dir, 'sweep', '-S', 'train.lr=2,3', '-j', '2');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\| lr=2 \| 2 \| 2 \|/);
    assert.match(r.stdout, /\| lr=3 \| 3 \| 3 \|/);
    assert.equal(read(dir, 'model.txt'), 'model 1\n');
    assert.equal(read(dir, 'seen.txt'), 'model 1\n');
    assert.equal(pipe(dir, 'status', '--check').code, 0);
  });
});

describe('a command outlives nothing', () => {
  it('kill -9 of pipe takes the command down too', async () => {
    await interrupted('SIGKILL');
  });

  it('a background job the command left is killed when the command ends and does not hold the stage', () => {
    const dir = project({ 'pipeline.yaml': 'stages:\n  a:\n    cmd: sleep 60 & echo $! > bg.pid; echo hi > a.txt\n    outs: [a.txt]\n' });
    const t0 = Date.now();
    const r = pipe(dir, 'run');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - t0 < 30000, `the run waited on the background sleep: ${Date.now() - t0} ms`);
    assert.ok(gone(Number(read(dir, 'bg.pid'))), 'the background sleep outlived its stage');
  });
});

/** Gone, or a zombie: killed, and only waiting to be reaped (a container's init may never reap it). */
function gone(pid: number): boolean {
  try {
    return /^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** A command that starts a background sleep and waits: pipe gets `signal` once it runs; resolves when the sleep is gone too. */
async function interrupted(signal: NodeJS.Signals): Promise<{ dir: string; code: number; stderr: string }> {
  const dir = project({ 'pipeline.yaml': 'stages:\n  slow:\n    cmd: sleep 60 & echo $! > child.pid; wait\n    outs: [never.txt]\n' });
  const { child, done } = pipeAsync(dir, 'run');
  await waitFor(() => existsSync(join(dir, 'child.pid')) && read(dir, 'child.pid').trim() !== '');
  child.kill(signal);
  const r = await done;
  const pid = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
  await waitFor(() => gone(pid));
  return { dir, code: r.code, stderr: r.stderr };
}

/** A Python that imports these modules: .ci/run installs Debian's python3-numpy and python3-torch, so CI always has one. */
function pythonWith(modules: string, apt: string): string {
  for (const py of ['python3', '/usr/bin/python3']) {
    if (spawnSync(py, ['-c', `import ${modules}`], { stdio: 'ignore' }).status === 0) return py;
  }
  assert.fail(`no Python with ${modules} (apt-get install ${apt})`);
}

describe('tensors between stage modules and commands', () => {
  it('JS → Python (.npy) → JS is bit-exact, and pipe export writes any cached tensor as .npy', () => {
    const py = pythonWith('numpy', 'python3-numpy');
    const gen = `export default { run(ctx) { ctx.output.tensor('x', { dtype: 'float32', shape: [2, 3], data: new Float32Array([0.1, 0.2, 0.3, 1e-8, -7.5, 3.14159]) }); } };`;
    const back = `export default { run(ctx) { const y = ctx.upstream.double.tensor('y.npy'); ctx.output.json('y', { shape: y.shape, dtype: y.dtype, values: [...y.data] }); } };`;
    const script = `import json, os, numpy
inputs = json.load(open(os.environ['PIPE_INPUTS']))
x = numpy.load(inputs['gen']['x'])
assert x.dtype == numpy.float32 and x.shape == (2, 3), (x.dtype, x.shape)
assert inputs['gen']['x'] == os.environ['PIPE_INPUT_GEN_X']
numpy.save('y.npy', (x * numpy.float32(2)).astype(numpy.float32))
`;
    const dir = project({
      'pipeline.yaml': `stages:\n  gen:\n    kind: ./gen.mjs\n  double:\n    cmd: ${py} double.py\n    deps: [gen, double.py]\n    outs: [y.npy]\n  back:\n    kind: ./back.mjs\n    deps: [double]\n`,
      'gen.mjs': gen,
      'back.mjs': back,
      'double.py': script,
    });
    const r = pipe(dir, 'run', '-j', '1');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const exported = pipe(dir, 'export', 'back', 'y', 'y.json');
    assert.equal(exported.code, 0, exported.stderr);
    const y = JSON.parse(read(dir, 'y.json')) as { shape: number[]; dtype: string; values: number[] };
    assert.deepEqual(y.shape, [2, 3]);
    assert.equal(y.dtype, 'float32');
    assert.deepEqual(y.values, [...new Float32Array([0.1, 0.2, 0.3, 1e-8, -7.5, 3.14159])].map((v) => Math.fround(v * 2)));
    const ex = pipe(dir, 'export', 'gen', 'x', 'x.npy');
    assert.match(ex.stdout, /wrote output 'x' of stage 'gen' to x.npy \(.npy, float32 \[2, 3\]\)/);
    const loaded = spawnSync(py, ['-c', "import numpy; x = numpy.load('x.npy'); print(x.dtype, x.shape, x.tobytes().hex())"], { cwd: dir, encoding: 'utf8' });
    assert.equal(loaded.stdout.trim(), `float32 (2, 3) ${Buffer.from(new Float32Array([0.1, 0.2, 0.3, 1e-8, -7.5, 3.14159]).buffer).toString('hex')}`);
    assert.match(pipe(dir, 'export', 'gen', 'nope', 'n.npy').stderr, /stage 'gen' has no output 'nope' \(it has: x\)/);
  });
});

describe('the PyTorch example (examples/pytorch-vae)', () => {
  it("trains the seeds' VAE in PyTorch between pipe's stages, and evaluate scores its samples beside pipe's VAE", () => {
    const py = pythonWith('torch, numpy, PIL', 'python3-torch');
    const example = join(dirname(PIPE), '..', 'examples', 'pytorch-vae');
    const dir = project(Object.fromEntries(['pipeline.yaml', 'train.py', 'vae.py', 'generate.py'].map((f) => [f, read(example, f)])));
    const tiny = ['-S', `params.python=${py}`, '-S', 'params.size=32', '-S', 'ingest.synthetic.count=160', '-S', 'ingest.synthetic.writers=16'];
    tiny.push(...['train.epochs=2', 'train-vae.epochs=1', 'features.epochs=1', 'generate.count=48', 'sample.count=48', 'evaluate.n=16'].flatMap((s) => ['-S', s]));
    const r = pipe(dir, 'run', ...tiny);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\[train\] epoch 2\/2: loss \d/);
    assert.match(r.stdout, /9 ran, 0 from cache/);
    // generate's samples.npy is a row of the table, at the same size as every other row.
    const rows = JSON.parse(read(dir, 'artifacts/evaluate/metrics.json')) as Array<{ name: string; n: number; spaces: { own: { fd: number } } }>;
    assert.deepEqual(
      rows.map((x) => [x.name, x.n]),
      [['real (validation, second half)', 16], ['real (unseen writers)', 16], ['real (training split)', 16], ['train-vae', 16], ['generate', 16], ['blank', 16], ['digits', 16]],
    );
    assert.ok(Number.isFinite(rows[4]!.spaces.own.fd));
    const png = readFileSync(join(dir, 'outputs', '0000.png'));
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.match(read(dir, 'artifacts/report.html'), /generate/);
    assert.match(pipe(dir, 'run', ...tiny).stdout, /0 ran, 9 from cache/);
    // The outs come back byte-exact from the cache; an edited script reruns its stage and what follows.
    rmSync(join(dir, 'outputs'), { recursive: true });
    rmSync(join(dir, 'samples.npy'));
    const again = pipe(dir, 'run', ...tiny);
    assert.match(again.stdout, /0 ran, 9 from cache/);
    assert.deepEqual(readFileSync(join(dir, 'outputs', '0000.png')), png);
    write(dir, 'generate.py', read(dir, 'generate.py') + '\n# edited\n');
    const edited = pipe(dir, 'run', ...tiny);
    assert.equal(edited.code, 0, edited.stdout + edited.stderr);
    assert.match(edited.stdout, /\[generate\] running/);
    assert.doesNotMatch(edited.stdout, /\[train\] running/);
  });
});
