import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { GEN_STAGE, PIPE, pipe, pipeAsync, project, runsLog, waitFor } from './helpers.js';

const SCORE_STAGE = `
import { appendFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
export default {
  run(ctx) {
    appendFileSync(join(ctx.projectDir, 'runs.log'), ctx.name + '\\n');
    const s = [...ctx.upstream.gen.tensor('x').data].reduce((a, b) => a + b, 0);
    ctx.output.json('score', { s });
    ctx.metrics({ loss: Math.abs(s - ctx.params.target), sum: s }, { better: { loss: 'lower' } });
  },
};
`;

const YAML = `# the experiments fixture
stages:
  gen:
    kind: ./gen.mjs
    # how many values, and their scale
    params: { n: 4, scale: 1 }
  score:
    kind: ./score.mjs
    deps: [gen]
    params: { target: 12 }
`;

function gitProject(): string {
  const dir = project({ 'pipeline.yaml': YAML, 'gen.mjs': GEN_STAGE, 'score.mjs': SCORE_STAGE, '.gitignore': 'cache/\nartifacts/\nruns.log\n' });
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir });
  git('init', '-q');
  assert.equal(pipe(dir, 'run').code, 0);
  git('add', '.');
  git('commit', '-qm', 'base');
  return dir;
}

const FRAMES_STAGE = `
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default {
  async run(ctx) {
    for (let i = 0; i < ctx.params.frames; i++) ctx.artifacts.write('progress/frame-' + i + '.txt', String(i));
    ctx.artifacts.write('/summary.txt', 'frames ' + ctx.params.frames);
    ctx.output.json('n', { frames: ctx.params.frames });
    if (ctx.params.hang) {
      writeFileSync(join(ctx.projectDir, 'hanging'), '');
      await new Promise(() => setInterval(() => {}, 1000));
    }
  },
};
`;

const lines = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('experiments', () => {
  it('a run with -S is recorded as an experiment and leaves pipe.lock describing pipeline.yaml', () => {
    const dir = gitProject();
    const lock = readFileSync(join(dir, 'pipe.lock'), 'utf8');
    const r = pipe(dir, 'run', '-S', 'gen.scale=2');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /experiment 'scale=2' recorded \(pipe exp show; pipe exp apply scale=2 makes it the workspace's\); pipe.lock still describes pipeline.yaml/);
    assert.equal(readFileSync(join(dir, 'pipe.lock'), 'utf8'), lock);
    assert.equal(pipe(dir, 'status', '--check').code, 0);
    const rows = lines(pipe(dir, 'exp', 'show', '--json').stdout);
    assert.deepEqual(rows.map((x) => x.name), ['workspace', 'scale=2']);
    const e = rows[1]!;
    assert.deepEqual(e.params, { 'gen.scale': '2' });
    assert.deepEqual(e.metrics, { 'score.loss': 0, 'score.sum': 12 });
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
    assert.deepEqual(e.git, { commit: head, dirty: false });
    assert.deepEqual(Object.keys(e.fingerprints as object), ['gen', 'score']);
    assert.equal((e.stages as Record<string, { outcome: string }>).gen!.outcome, 'ran');
    assert.ok(Date.parse(String(e.finished)) >= Date.parse(String(e.started)));
    // The same params again: cache hits, the same entry; a named one is its own.
    assert.equal(pipe(dir, 'run', '-S', 'gen.scale=2').code, 0);
    assert.equal(pipe(dir, 'run', '-S', 'gen.scale=3', '--name', 'triple').code, 0);
    assert.deepEqual(lines(pipe(dir, 'exp', 'show', '--json').stdout).map((x) => x.name), ['workspace', 'scale=2', 'triple']);
    // The run facts beside the artifacts name the experiment that put them there.
    const facts = JSON.parse(readFileSync(join(dir, 'artifacts/run.js'), 'utf8').replace(/^[^]*?window\.pipeRun = /, '').replace(/;\n$/, '')) as { experiment: string; git: unknown };
    assert.equal(facts.experiment, 'triple');
    assert.deepEqual(facts.git, { commit: head, dirty: false });
    const clash = pipe(dir, 'run', '-S', 'gen.scale=4', '--name', 'triple');
    assert.equal(clash.code, 2);
    assert.match(clash.stderr, /experiment 'triple' exists with other params \(gen.scale=3\); choose another --name, or pipe exp remove triple first/);
  });

  it('exp show sorts by a metric in its direction, selects columns and changed metrics, and writes CSV; exp diff compares two', () => {
    const dir = gitProject();
    for (const s of ['2', '3']) assert.equal(pipe(dir, 'run', '-S', `gen.scale=${s}`).code, 0);
    const sorted = pipe(dir, 'exp', 'show', '--sort-by', 'loss');
    assert.equal(sorted.code, 0, sorted.stderr);
    assert.equal(
      sorted.stdout,
      ['| variant | gen.scale | score.loss ↓ | score.sum |', '|---|---|---|---|', '| scale=2 | 2 | 0 * | 12 |', '| workspace | — | 6 | 6 |', '| scale=3 | 3 | 6 | 18 |', ''].join('\n'),
    );
    assert.equal(pipe(dir, 'exp', 'show', '--columns', 'sum', '--csv').stdout, 'variant,score.sum\nworkspace,6\nscale=2,12\nscale=3,18\n');
    assert.equal(pipe(dir, 'exp', 'show', '--only-changed', '--columns', 'score', '--sort-by', 'sum').stdout.split('\n')[2], '| scale=3 | 6 | 18 |');
    assert.match(pipe(dir, 'exp', 'show', '--sort-by', 'nope').stderr, /--sort-by nope: no such metric; there are score.loss, score.sum/);
    const d = pipe(dir, 'exp', 'diff', 'workspace', 'scale=3');
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /\| gen.scale \| \(pipeline.yaml\) \| 3 \| {2}\|/);
    assert.match(d.stdout, /\| score.sum \| 6 \| 18 \| \+12 \|/);
    assert.match(pipe(dir, 'exp', 'diff', 'scale=2', 'scale=3').stdout, /\| score.loss ↓ \| 0 \| 6 \| \+6 \(scale=2 better\) \|/);
    assert.equal(pipe(dir, 'exp', 'diff', 'workspace').code, 2);
  });

  it('exp apply writes the params into pipeline.yaml in place and the results into pipe.lock; exp remove forgets, then gc frees', () => {
    const dir = gitProject();
    assert.equal(pipe(dir, 'run', '-S', 'gen.scale=2').code, 0);
    const before = runsLog(dir).length;
    const a = pipe(dir, 'exp', 'apply', 'scale=2');
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /applied 'scale=2': gen.scale=2 written to pipeline.yaml; pipe.lock updated \(2 from cache\)/);
    assert.equal(readFileSync(join(dir, 'pipeline.yaml'), 'utf8'), YAML.replace('params: { n: 4, scale: 1 }', 'params: { n: 4, scale: 2 }'));
    assert.equal(pipe(dir, 'status', '--check').code, 0);
    assert.match(pipe(dir, 'run').stdout, /0 ran, 2 from cache/);
    assert.equal(runsLog(dir).length, before, 'nothing ran again');
    assert.deepEqual(lines(pipe(dir, 'exp', 'show', '--json').stdout)[0]!.metrics, { 'score.loss': 0, 'score.sum': 12 });
    // The experiment's results stay through gc until it is removed.
    assert.equal(pipe(dir, 'run', '-S', 'gen.scale=5').code, 0);
    pipe(dir, 'gc', '--keep', '0');
    const ran = runsLog(dir).length;
    assert.match(pipe(dir, 'run', '-S', 'gen.scale=5').stdout, /0 ran, 2 from cache/);
    assert.equal(runsLog(dir).length, ran);
    assert.match(pipe(dir, 'exp', 'remove', 'scale=5').stdout, /removed 1 experiment; pipe gc frees what only they kept/);
    assert.match(pipe(dir, 'gc', '--keep', '0').stdout, /freed .* 2 run records/);
    const unknown = pipe(dir, 'exp', 'remove', 'nope');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no experiment 'nope'; there are: scale=2/);
  });

  it('params diff and metrics diff against pipe.lock or a git revision', () => {
    const dir = gitProject();
    assert.equal(pipe(dir, 'params', 'diff').stdout, "no params differ from pipe.lock's\n");
    writeFileSync(join(dir, 'pipeline.yaml'), YAML.replace('params: { target: 12 }', 'params: { target: 10 }'));
    assert.equal(pipe(dir, 'params', 'diff').stdout, '| param | pipe.lock | pipeline.yaml |\n|---|---|---|\n| score.target | 12 | 10 |\n');
    assert.equal(pipe(dir, 'run').code, 0);
    assert.match(pipe(dir, 'params', 'diff', 'HEAD').stdout, /\| score.target \| 12 \| 10 \|/);
    const m = pipe(dir, 'metrics', 'diff');
    assert.equal(m.code, 0, m.stderr);
    assert.equal(m.stdout, '| metric | HEAD | workspace | change |\n|---|---|---|---|\n| score.loss ↓ | 6 | 4 | -2 (better) |\n');
    assert.match(pipe(dir, 'metrics', 'diff', '--all').stdout, /\| score.sum \| 6 \| 6 \| {2}\|/);
    assert.deepEqual(JSON.parse(pipe(dir, 'metrics', 'diff', '--json').stdout), { key: 'score.loss ↓', old: '6', new: '4', change: '-2 (better)' });
    const bad = pipe(dir, 'metrics', 'diff', 'no-such-rev');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /cannot read pipe.lock at git revision 'no-such-rev': fatal: invalid object name 'no-such-rev'/);
  });

  it('training stages log scalars per step: metric events, kept in the cache as they come, through a kill and a resume', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pipe-scalars-'));
    for (const f of ['pipeline.yaml', 'pipe.lock']) cpSync(join(dirname(PIPE), '..', 'ci', f), join(dir, f));
    const r = pipe(dir, 'run', '--until', 'train-vae', '--json');
    assert.equal(r.code, 0, r.stderr);
    const events = lines(r.stdout).filter((e) => e.event === 'metric' && e.stage === 'train-vae') as Array<{ step: number; values: Record<string, number> }>;
    // 84 images: 2 batches of 32 an epoch, 2 epochs.
    assert.deepEqual(events.map((e) => e.step), [1, 2, 3, 4]);
    assert.deepEqual(Object.keys(events[0]!.values), ['total', 'recon', 'kl', 'lr', 'imagesPerSecond']);
    const table = pipe(dir, 'scalars', 'train-vae').stdout.trim().split('\n');
    assert.equal(table[0], 'step,total,recon,kl,lr,imagesPerSecond');
    assert.deepEqual(table.slice(1).map((l) => l.split(',').slice(0, 5).map(Number)), events.map((e) => [e.step, e.values.total, e.values.recon, e.values.kl, e.values.lr]));
    // Killed mid-training, the run keeps the rows it logged; the resumed run logs only the steps after its checkpoint.
    const sets = ['run', '--until', 'train-vae', '-S', 'train-vae.epochs=30', '--json'];
    const p = pipeAsync(dir, ...sets);
    let out = '';
    p.child.stdout!.on('data', (d) => (out += d));
    await waitFor(() => /"event":"metric","stage":"train-vae","step":1[2-9]/.test(out), 60_000);
    p.child.kill('SIGKILL');
    await p.done;
    const resumed = pipe(dir, ...sets);
    assert.equal(resumed.code, 0, resumed.stderr);
    const steps = lines(resumed.stdout).filter((e) => e.event === 'metric').map((e) => e.step as number);
    assert.ok(steps[0]! > 1 && steps.at(-1) === 60, `resumed at step ${steps[0]}`);
    const all = pipe(dir, 'scalars', 'train-vae', '--experiment', 'epochs=30', '--json').stdout.trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
    assert.deepEqual(all, Array.from({ length: 60 }, (_, i) => i + 1));
    // -S names the same run by its params; with --experiment as well it is refused; params never run are said so.
    assert.deepEqual(pipe(dir, 'scalars', 'train-vae', '-S', 'train-vae.epochs=30', '--json').stdout.trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step), all);
    const both = pipe(dir, 'scalars', 'train-vae', '-S', 'train-vae.epochs=30', '--experiment', 'epochs=30');
    assert.equal(both.code, 2);
    assert.match(both.stderr, /pipe scalars takes -S or --experiment, not both: each names a run/);
    const never = pipe(dir, 'scalars', 'train-vae', '-S', 'train-vae.epochs=31');
    assert.equal(never.code, 2);
    assert.match(never.stderr, /stage 'train-vae' has no run with train-vae\.epochs=31 in this cache \(run 'pipe run -S train-vae\.epochs=31' first\)/);
    assert.match(pipe(dir, 'scalars', 'ingest').stderr, /stage 'ingest' logged no scalars in that run \(only training stages do\)/);
  });

  it('each sweep variant is an experiment too: git state, times, what each stage did; gc --drop-sweeps takes them', () => {
    const dir = gitProject();
    assert.equal(pipe(dir, 'sweep', '-S', 'gen.scale=2,3', '--name', 'sw').code, 0);
    const rows = lines(pipe(dir, 'exp', 'show', '--json').stdout).filter((r) => r.source === 'sweep');
    assert.deepEqual(rows.map((r) => r.name), ['sw/scale=2', 'sw/scale=3']);
    assert.deepEqual(rows[0]!.params, { 'gen.scale': '2' });
    assert.equal((rows[0]!.git as { dirty: boolean }).dirty, false);
    assert.deepEqual(rows[1]!.stages, { gen: { outcome: 'ran', seconds: (rows[1]!.stages as Record<string, { seconds: number }>).gen!.seconds }, score: { outcome: 'ran', seconds: (rows[1]!.stages as Record<string, { seconds: number }>).score!.seconds } });
    assert.match(pipe(dir, 'exp', 'diff', 'sw/scale=2', 'sw/scale=3').stdout, /\| score.sum \| 12 \| 18 \| \+6 \|/);
    pipe(dir, 'gc', '--drop-sweeps');
    assert.deepEqual(lines(pipe(dir, 'exp', 'show', '--json').stdout).map((r) => r.name), ['workspace']);
  });
  it('a run after an experiment, or after a killed run, removes the artifacts pipe.lock does not name', async () => {
    const dir = project({ 'pipeline.yaml': 'stages:\n  train:\n    kind: ./frames.mjs\n    params: { frames: 2, hang: false }\n', 'frames.mjs': FRAMES_STAGE });
    const frames = () => readdirSync(join(dir, 'artifacts/train/progress')).sort();
    assert.equal(pipe(dir, 'run').code, 0);
    assert.deepEqual(frames(), ['frame-0.txt', 'frame-1.txt']);
    const exp = pipe(dir, 'run', '-S', 'train.frames=4');
    assert.equal(exp.code, 0, exp.stderr);
    assert.deepEqual(frames(), ['frame-0.txt', 'frame-1.txt', 'frame-2.txt', 'frame-3.txt']);
    assert.equal(readFileSync(join(dir, 'artifacts/summary.txt'), 'utf8'), 'frames 4');
    // pipe.lock names two frames; the experiment's other two go, and the stage counts as restored.
    const back = pipe(dir, 'run', '--json');
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(lines(back.stdout).filter((e) => e.event === 'stage-end').map((e) => [e.stage, e.outcome]), [['train', 'restored']]);
    assert.deepEqual(frames(), ['frame-0.txt', 'frame-1.txt']);
    assert.equal(readFileSync(join(dir, 'artifacts/summary.txt'), 'utf8'), 'frames 2');
    assert.deepEqual(lines(pipe(dir, 'run', '--json').stdout).filter((e) => e.event === 'stage-end').map((e) => e.outcome), ['cached']);
    // Killed after writing six frames, before anything was recorded: the next run removes them too.
    const p = pipeAsync(dir, 'run', '-S', 'train.frames=6', '-S', 'train.hang=true');
    await waitFor(() => existsSync(join(dir, 'hanging')));
    p.child.kill('SIGKILL');
    await p.done;
    assert.equal(frames().length, 6);
    assert.equal(pipe(dir, 'run').code, 0);
    assert.deepEqual(frames(), ['frame-0.txt', 'frame-1.txt']);
    assert.equal(readFileSync(join(dir, 'artifacts/summary.txt'), 'utf8'), 'frames 2');
  });
});
