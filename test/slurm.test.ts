import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { PIPE, pipeAsyncEnv, pipeEnv, waitFor } from './helpers.js';
import { service } from './services.js';

const slurm = service('slurm', 'PIPE_TEST_SLURM', { PIPE_SLURM_DIR: join(tmpdir(), `pipe-slurm-test-${process.pid}`), PIPE_SLURM_PORT: '6931' });
const CI = join(dirname(PIPE), '..', 'ci');

/** The CI pipeline with train-gan asking for a GPU, and a folder remote (NFS on a real cluster). */
function project(extra = ''): { dir: string; remote: string; root: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-slurm-'));
  const root = mkdtempSync(join(tmpdir(), 'pipe-slurm-remote-'));
  const yaml = readFileSync(join(CI, 'pipeline.yaml'), 'utf8').replace('  train-gan:\n    kind: train-gan\n', '  train-gan:\n    kind: train-gan\n    resources: { gpus: 1, cpus: 1, time: "10:00" }\n');
  writeFileSync(join(dir, 'pipeline.yaml'), yaml + extra);
  cpSync(join(CI, 'pipe.lock'), join(dir, 'pipe.lock'));
  return { dir, remote: `file://${root}`, root };
}

const squeue = (env: Record<string, string>, name: string) => spawnSync('squeue', ['-h', '-n', name, '-o', '%i %T'], { env: { ...process.env, ...env }, encoding: 'utf8' }).stdout.trim();

describe('SLURM executor (two nodes, one with a pretend GPU)', () => {
  it('runs ci/pipeline.yaml as dependent sbatch jobs: output hashes identical to a local run, the GPU stage on the GPU node', (t) => {
    const env = slurm(t);
    if (!env) return;
    const { dir, remote } = project();
    const r = pipeEnv(dir, env, 'run', '--executor', 'slurm', '--remote', remote);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\[evaluate\] submitted as SLURM job \d+ \(after [\d, ]+\)/);
    assert.match(r.stdout, /\[train-gan\] done in [\d.]+s: ran on n2 \(SLURM job \d+\)/);
    assert.match(r.stdout, /\[train-vae\] done in [\d.]+s: ran on n[12] \(SLURM job \d+\)/);
    assert.match(r.stdout, /8 ran, 0 from cache/);
    // Same results as the local run that wrote ci/pipe.lock, and the coordinator wrote pipe.lock.
    assert.equal(readFileSync(join(dir, 'pipe.lock'), 'utf8'), readFileSync(join(CI, 'pipe.lock'), 'utf8'));
    assert.ok(existsSync(join(dir, 'artifacts', 'report.html')));
    // A job whose result is on the remote exits 0 at once; a second run submits nothing.
    const again = pipeEnv(dir, env, 'job', 'train-vae', '--remote', remote);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /train-vae: already on the remote/);
    const noop = pipeEnv(dir, env, 'run', '--executor', 'slurm', '--remote', remote);
    assert.doesNotMatch(noop.stdout, /submitted/);
    assert.match(noop.stdout, /0 ran, 8 from cache/);
  });

  it('a job requeued mid-training resumes from the checkpoint it pushed, and the result is the uninterrupted one', async (t) => {
    const env = slurm(t);
    if (!env) return;
    const { dir, remote, root } = project();
    const sets = ['-S', 'train-vae.epochs=20', '--until', 'train-vae'];
    const local = mkdtempSync(join(tmpdir(), 'pipe-slurm-local-'));
    cpSync(join(dir, 'pipeline.yaml'), join(local, 'pipeline.yaml'));
    assert.equal(pipeEnv(local, {}, 'run', ...sets).code, 0);
    const p = pipeAsyncEnv(dir, env, 'run', '--executor', 'slurm', '--remote', remote, ...sets);
    await waitFor(() => existsSync(join(root, 'ckpt')) && readdirSync(join(root, 'ckpt')).length > 0, 120_000);
    const job = squeue(env, 'pipe:train-vae').split(' ')[0]!;
    assert.equal(spawnSync('scontrol', ['requeue', job], { env: { ...process.env, ...env } }).status, 0);
    const r = await p.done;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\[train-vae\] checkpoint at step \d+ from file:\/\//);
    assert.match(r.stdout, /\[train-vae\] resum/);
    // Both runs are experiments (-S): applied, they write their results into pipe.lock, to compare.
    for (const d of [dir, local]) assert.equal(pipeEnv(d, env, 'exp', 'apply', 'epochs=20').code, 0);
    const lock = (d: string) => (JSON.parse(readFileSync(join(d, 'pipe.lock'), 'utf8')) as { stages: Record<string, { outs: unknown }> }).stages['train-vae']!.outs;
    assert.deepEqual(lock(dir), lock(local));
  });

  it('Ctrl-C on the coordinator cancels its jobs; a failed job fails its stage with its exit code and log tail', async (t) => {
    const env = slurm(t);
    if (!env) return;
    const { dir, remote } = project('  slow:\n    cmd: sleep 60\n    deps: [evaluate]\n  broken:\n    cmd: echo about to fail; exit 3\n');
    const p = pipeAsyncEnv(dir, env, 'run', '--executor', 'slurm', '--remote', remote, '-j', '4');
    let out = '';
    p.child.stdout!.on('data', (d) => (out += d));
    await waitFor(() => /\[broken\] FAILED/.test(out), 120_000);
    assert.match(out, /\[broken\] FAILED in [\d.]+s: stage 'broken' failed: SLURM job \d+ failed with exit code 1:0 on n[12]; log: .*\n  last lines:\n(.*\n)*.*about to fail/);
    const r = await p.done;
    assert.equal(r.code, 1);
    // The failure cancelled the rest; nothing of this pipeline is left in the queue.
    await waitFor(() => squeue(env, 'pipe:slow') === '', 20_000);

    const { dir: dir2, remote: remote2 } = project('  slow:\n    cmd: sleep 60\n');
    const q = pipeAsyncEnv(dir2, env, 'run', '--executor', 'slurm', '--remote', remote2, '--only', 'slow');
    let out2 = '';
    q.child.stdout!.on('data', (d) => (out2 += d));
    await waitFor(() => /RUNNING/.test(squeue(env, 'pipe:slow')), 60_000);
    q.child.kill('SIGINT');
    const r2 = await q.done;
    assert.equal(r2.code, 130, out2 + r2.stderr);
    await waitFor(() => squeue(env, 'pipe:slow') === '', 20_000);
  });

  it('pipe sweep --executor slurm: one job array per stage, a task per distinct result; fingerprints and metrics as a local sweep', (t) => {
    const env = slurm(t);
    if (!env) return;
    const { dir, remote } = project();
    const local = mkdtempSync(join(tmpdir(), 'pipe-slurm-local-'));
    for (const f of ['pipeline.yaml', 'pipe.lock']) cpSync(join(dir, f), join(local, f));
    // 24 at least: evaluate scores two draws of 12 of each model's samples (ci/pipeline.yaml).
    const grid = ['-S', 'train-vae.latent=2,4', '-S', 'sample.count=24,32', '--json'];
    const r = pipeEnv(dir, env, 'sweep', '--executor', 'slurm', '--remote', remote, ...grid);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const events = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as { event: string; stage?: string; msg?: string; detail?: string });
    const submitted = Object.fromEntries(events(r.stdout).filter((e) => e.msg?.startsWith('submitted as SLURM job array')).map((e) => [e.stage, /\((\d+) tasks?/.exec(e.msg!)![1]]));
    // Shared upstream once, train-vae once per latent, sample and evaluate once per variant.
    assert.deepEqual(submitted, { ingest: '1', resize: '1', augment: '1', 'train-vae': '2', 'train-gan': '1', features: '1', sample: '4', evaluate: '4' });
    assert.ok(events(r.stdout).some((e) => e.stage === 'train-gan [all variants]' && /ran on n2 \(SLURM job \d+_0\)/.test(e.detail ?? '')), 'the GPU stage ran on the GPU node');
    const l = pipeEnv(local, {}, 'sweep', ...grid);
    assert.equal(l.code, 0, l.stderr);
    const sweepOf = (out: string) => events(out).find((e) => e.event === 'sweep') as unknown as { variants: unknown; rows: unknown };
    assert.deepEqual(sweepOf(r.stdout).variants, sweepOf(l.stdout).variants);
    assert.deepEqual(sweepOf(r.stdout).rows, sweepOf(l.stdout).rows);
    // Everything is cached now: a second sweep submits nothing.
    const again = pipeEnv(dir, env, 'sweep', '--executor', 'slurm', '--remote', remote, ...grid);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /submitted/);
  });

  it("a sweep's command stages take turns in the workspace: each task sees its own variant's upstream outs", (t) => {
    const env = slurm(t);
    if (!env) return;
    const dir = mkdtempSync(join(tmpdir(), 'pipe-slurm-cmd-'));
    const root = mkdtempSync(join(tmpdir(), 'pipe-slurm-remote-'));
    writeFileSync(join(dir, 'pipeline.yaml'), 'stages:\n  train:\n    cmd: sleep 0.5; echo "model ${lr}" > model.txt\n    params: { lr: 1 }\n    outs: [model.txt]\n  score:\n    cmd: sh score.sh\n    deps: [train, score.sh]\n    outs: [seen.txt]\n    metrics: [score.json]\n');
    writeFileSync(join(dir, 'score.sh'), 'cp model.txt seen.txt\necho "{\\"score\\": $(cut -d" " -f2 model.txt)}" > score.json\n');
    assert.equal(pipeEnv(dir, env, 'run').code, 0);
    const r = pipeEnv(dir, env, 'sweep', '-S', 'train.lr=2,3,4', '--executor', 'slurm', '--remote', `file://${root}`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\[train\] submitted as SLURM job array (\d+) \(3 tasks, one at a time\)/);
    assert.match(r.stdout, /\[score\] submitted as SLURM job array \d+ \(3 tasks, one at a time\) \(after \d+\)/);
    for (const lr of ['2', '3', '4']) assert.match(r.stdout, new RegExp(`\\| lr=${lr} \\| ${lr} \\| ${lr} \\|`));
    // The workspace is back to what pipe.lock describes.
    assert.equal(readFileSync(join(dir, 'model.txt'), 'utf8'), 'model 1\n');
    assert.equal(readFileSync(join(dir, 'seen.txt'), 'utf8'), 'model 1\n');
    assert.equal(pipeEnv(dir, env, 'status', '--check').code, 0);
  });
});
