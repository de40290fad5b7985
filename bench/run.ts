/**
 * pipe's benchmark suite: one command, one markdown table, every figure a
 * median of repeated runs taken side by side in this one process's run.
 *   npm run bench [-- --quick] [--only noop,snakemake,status,restore,lmdb,resize,training,remote,slurm]
 * With --only, the table is printed but bench/RESULTS.md (the whole suite's) is left alone.
 * Python baselines use Debian's python3-torch and python3-opencv
 * (/usr/bin/python3); rows whose baseline is missing say so.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pLimit from 'p-limit';
import { decodeGray } from '../src/ml/data/decode.js';
import { normalizeScan } from '../src/ml/data/normalize.js';
import { encodePng } from '../src/ml/data/images.js';
import { synthesize } from '../src/ml/data/synth.js';
import { open } from 'lmdb';
import { Store } from '../src/core/store.js';
import { decodeTensor } from '../src/core/tensor.js';
import { loadTf } from '../src/ml/tfjs/backend.js';
import { median, tfjsTrain } from './train.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PIPE = join(ROOT, 'bin', 'pipe.js');
const PY = process.env.PIPE_BENCH_PYTHON ?? '/usr/bin/python3';
const { values: flags } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } });
const quick = flags.quick!;
const only = flags.only?.split(',');
const rows: string[][] = [];

function time(cmd: string, args: string[], cwd: string): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  return performance.now() - t0;
}

function python(script: string, args: string[]): Record<string, unknown> | string {
  if (!existsSync(PY)) return `no ${PY}`;
  const r = spawnSync(PY, [join(ROOT, 'bench', script), ...args], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2' } });
  if (r.status !== 0) return (r.stderr.trim().split('\n').pop() ?? 'failed').slice(0, 80);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

function row(what: string, pipe: string, baseline: string, ratio: string, note = ''): void {
  rows.push([what, pipe, baseline, ratio, note]);
  console.log(`${what}: pipe ${pipe} | baseline ${baseline} | ${ratio} ${note}`);
}

const f1 = (x: number) => x.toFixed(1);

async function noop(): Promise<void> {
  const runs = quick ? 5 : 15;
  const st = spawnSync(process.execPath, [PIPE, 'status', '--json'], { cwd: ROOT, encoding: 'utf8' });
  const stale = st.stdout.trim().split('\n').filter((l) => l && !JSON.parse(l).upToDate);
  if (stale.length) {
    row('no-op `pipe run` (default pipeline)', 'skipped', '', '', `default pipeline not cached: run \`npm start\` first (${stale.length} stale)`);
    return;
  }
  const pipe = median(Array.from({ length: runs }, () => time(process.execPath, [PIPE, 'run'], ROOT)));
  const floor = median(Array.from({ length: runs }, () => time(process.execPath, ['-e', '0'], ROOT)));
  row('no-op `pipe run`, default pipeline, wall ms', f1(pipe), `${f1(floor)} (node -e 0)`, `${f1(pipe - floor)} ms over node's start`, 'DVC is not installable here (not in Debian, no PyPI)');
}

/**
 * A no-op run of the same DAG in pipe and in Snakemake (Debian's, 7.21): eight command stages in a
 * chain, each copying its upstream's file, run once by each tool, then timed alternately.
 */
async function noopSnakemake(): Promise<void> {
  const snakemake = spawnSync('snakemake', ['--version'], { encoding: 'utf8' });
  if (snakemake.status !== 0) {
    row('no-op run, 8 command stages, vs Snakemake', 'skipped', '', '', 'needs Snakemake: apt-get install snakemake');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'pipe-bench-snakemake-'));
  const n = 8;
  const src = (i: number) => (i === 0 ? 'in.txt' : `out/s${i - 1}.txt`);
  writeFileSync(join(dir, 'in.txt'), 'a signature\n');
  writeFileSync(join(dir, 'pipeline.yaml'), `stages:\n${Array.from({ length: n }, (_, i) => `  s${i}:\n    cmd: mkdir -p out && cat ${src(i)} > out/s${i}.txt\n    deps: [${i === 0 ? 'in.txt' : `s${i - 1}`}]\n    outs: [out/s${i}.txt]\n`).join('')}`);
  writeFileSync(join(dir, 'Snakefile'), `rule all:\n    input: "out/s${n - 1}.txt"\n${Array.from({ length: n }, (_, i) => `rule s${i}:\n    input: "${src(i)}"\n    output: "out/s${i}.txt"\n    shell: "cat {input} > {output}"\n`).join('')}`);
  time(process.execPath, [PIPE, 'run'], dir);
  time('snakemake', ['--cores', '1', '--quiet'], dir);
  const reps = quick ? 5 : 15;
  const pipeT: number[] = [];
  const snakeT: number[] = [];
  for (let i = 0; i < reps; i++) {
    pipeT.push(time(process.execPath, [PIPE, 'run'], dir));
    snakeT.push(time('snakemake', ['--cores', '1', '--quiet'], dir));
  }
  const [p, sm] = [median(pipeT), median(snakeT)];
  row('no-op run, 8 command stages in a chain, wall ms', f1(p), `${f1(sm)} (snakemake --cores 1, ${snakemake.stdout.trim()})`, `${(p / sm).toFixed(2)}×`, 'the same DAG, alternating');
  rmSync(dir, { recursive: true, force: true });
}

/** A command stage's 10,000-file folder out, deleted and restored from the cache by `pipe run`, against `cp -r` of the same folder. */
async function restore10k(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-bench-restore-'));
  writeFileSync(join(dir, 'make.sh'), 'mkdir -p out; i=0; while [ $i -lt 10000 ]; do echo "file $i" > out/f$i.txt; i=$((i+1)); done\n');
  writeFileSync(join(dir, 'pipeline.yaml'), 'stages:\n  make:\n    cmd: sh make.sh\n    deps: [make.sh]\n    outs: [out]\n');
  time(process.execPath, [PIPE, 'run'], dir);
  spawnSync('cp', ['-r', join(dir, 'out'), join(dir, 'copy')]);
  const reps = quick ? 3 : 7;
  const restores: number[] = [];
  const copies: number[] = [];
  for (let i = 0; i < reps; i++) {
    rmSync(join(dir, 'out'), { recursive: true });
    restores.push(time(process.execPath, [PIPE, 'run'], dir));
    rmSync(join(dir, 'again'), { recursive: true, force: true });
    copies.push(time('cp', ['-r', join(dir, 'copy'), join(dir, 'again')], dir));
  }
  const [r, c] = [median(restores), median(copies)];
  row('restore a 10,000-file folder out from the cache (`pipe run`), ms', f1(r), `${f1(c)} (cp -r of the folder)`, `${(r / c).toFixed(2)}×`, 'target ≤ 2×');
  rmSync(dir, { recursive: true, force: true });
}

async function status10k(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-bench-status-'));
  mkdirSync(join(dir, 'data'));
  for (let i = 0; i < 10000; i++) writeFileSync(join(dir, 'data', `f${i}.txt`), `file ${i}\n`);
  writeFileSync(join(dir, 'count.mjs'), "export default { run(ctx) { ctx.output.json('n', ctx.files.length); } };\n");
  writeFileSync(join(dir, 'pipeline.yaml'), 'stages:\n  count:\n    kind: ./count.mjs\n    deps: [data]\n');
  const cold = time(process.execPath, [PIPE, 'run'], dir);
  const warm = median(Array.from({ length: quick ? 3 : 7 }, () => time(process.execPath, [PIPE, 'status'], dir)));
  row('`pipe status`, 10,000-file folder dep, warm stat cache, ms', f1(warm), `${f1(cold)} (first run, cold)`, '', 'target < 1000 ms');
  rmSync(dir, { recursive: true, force: true });
}

async function training(): Promise<void> {
  // webgpu rows only where `auto` would pick it: a software adapter says nothing about GPUs.
  const gpu = (await loadTf('auto')).backend === 'webgpu';
  const steps = quick ? 5 : 20;
  for (const model of ['vae', 'gan'] as const) {
    const torch = python('torch_train.py', [model, '32', String(model === 'vae' ? steps * 5 : steps * 2), '2', '16']);
    const torchRate = typeof torch === 'string' ? undefined : (torch.images_per_second as number);
    for (const [backend, threads] of [...(gpu ? [['webgpu', 1] as const] : []), ['wasm', 2], ['wasm', 1], ['cpu', 1]] as const) {
      const rate = await tfjsTrain(backend, model, backend === 'cpu' ? 1 : steps, 16, threads);
      const base = torchRate === undefined ? String(torch) : `${f1(torchRate)} (PyTorch ${(torch as Record<string, string>).torch} CPU, 2 threads)`;
      const note = backend === 'cpu' ? 'stock tfjs cpu' : backend === 'webgpu' ? "pipe's kernels, a real GPU here (see bench/gpu.ts for GPU baselines)" : `pipe's kernels, ${threads} thread${threads > 1 ? 's (threads: 2)' : ''}; target ≥ 50%`;
      row(`train ${model.toUpperCase()} img/s, batch 32, tfjs ${backend} ×${threads}`, f1(rate), base, torchRate ? `${((100 * rate) / torchRate).toFixed(0)}% of PyTorch` : '', note);
    }
  }
}

async function resize(): Promise<void> {
  const n = quick ? 100 : 400;
  const dir = mkdtempSync(join(tmpdir(), 'pipe-bench-scans-'));
  const imgs = await synthesize({ count: n, writers: 20, seed: 1 });
  await Promise.all(imgs.map(async (im, i) => writeFileSync(join(dir, `s${i}.png`), await encodePng(im))));
  const opts = { size: 64, inputPolarity: 'auto', contrast: true, crop: true, margin: 0.06, binarize: false, polarity: 'ink-one' } as const;
  const rates: number[] = [];
  for (let r = 0; r < 3; r++) {
    const limit = pLimit(availableParallelism());
    const t0 = performance.now();
    await Promise.all(imgs.map((_, i) => limit(async () => normalizeScan(await decodeGray(readFileSync(join(dir, `s${i}.png`)), 4096, 100_000_000), opts))));
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  const cv = python('opencv_resize.py', [dir, '64', '3']);
  const cvRate = typeof cv === 'string' ? undefined : (cv.images_per_second as number);
  row('decode + resize/normalize, images/s (synthetic scans ~250×90 PNG)', f1(median(rates)), cvRate ? `${f1(cvRate)} (OpenCV ${(cv as Record<string, string>).opencv})` : String(cv), cvRate ? `${(median(rates) / cvRate).toFixed(2)}×` : '');
  rmSync(dir, { recursive: true, force: true });
}

async function lmdbRead(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-bench-lmdb-'));
  const shape = [3424, 64, 64, 1];
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => (i % 97) / 97);
  const store = new Store(join(dir, 'cache'));
  const ref = store.stageTensor({ dtype: 'float32', shape, data });
  store.commitRun({ fingerprint: 'x', stage: 'x', kind: 'x', outHash: 'x', outputs: { t: ref }, files: {}, metrics: {}, items: [], seconds: 0, finishedAt: '' }, [ref.hash]);
  // .npy v1.0: magic, version, header length, a Python dict header padded to 64 bytes, then the raw data.
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}), }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const npy = join(dir, 't.npy');
  const h = Buffer.alloc(10);
  h.write('\x93NUMPY', 0, 'latin1');
  h[6] = 1;
  h[7] = 0;
  h.writeUInt16LE(header.length, 8);
  writeFileSync(npy, Buffer.concat([h, Buffer.from(header, 'latin1'), Buffer.from(data.buffer)]));
  const reps = quick ? 5 : 21;
  let sink = 0;
  // The same blob read unchecked (LMDB's bytes, decoded) and checked (pipe's read: xxh3 against the stored checksum), alternating, to price the check.
  const raw = open({ path: join(dir, 'cache'), compression: false }).openDB<Uint8Array, string>({ name: 'blobs', encoding: 'binary' });
  const checked: number[] = [];
  const unchecked: number[] = [];
  for (let i = 0; i < reps; i++) {
    let t0 = performance.now();
    sink += store.getTensor(ref.hash).data[1000]!;
    checked.push(performance.now() - t0);
    t0 = performance.now();
    sink += decodeTensor(raw.getBinary(ref.hash)!).data[1000]!;
    unchecked.push(performance.now() - t0);
  }
  const lm = median(checked);
  const np = median(
    Array.from({ length: reps }, () => {
      const t0 = performance.now();
      const b = readFileSync(npy);
      const len = b.readUInt16LE(8);
      sink += new Float32Array(b.buffer, b.byteOffset + 10 + len, data.length)[1000]!;
      return performance.now() - t0;
    }),
  );
  const mb = data.byteLength / 1048576;
  row(`read a ${mb.toFixed(0)} MiB float32 tensor, MiB/s (sink ${sink.toFixed(0)})`, f1(mb / (lm / 1000)), `${f1(mb / (np / 1000))} (.npy, readFileSync)`, `${(np / lm).toFixed(1)}×`);
  const u = median(unchecked);
  row('the same read, cost of the integrity check, ms', f1(lm), `${f1(u)} (unchecked LMDB read)`, `+${f1((100 * (lm - u)) / u)}%`, 'target: within 10%');
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}

/** rclone's S3 remote for the server PIPE_TEST_S3_ENDPOINT names, configured through its environment variables. */
function rcloneEnv(): NodeJS.ProcessEnv {
  // rclone's S3 client fails on AWS_CA_BUNDLE ("unsupported transport"); the server is plain http anyway.
  const { AWS_CA_BUNDLE: _, ...env } = process.env;
  return {
    ...env,
    RCLONE_CONFIG_BENCH_TYPE: 's3',
    RCLONE_CONFIG_BENCH_PROVIDER: 'Ceph',
    RCLONE_CONFIG_BENCH_ENDPOINT: process.env.PIPE_TEST_S3_ENDPOINT,
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
    RCLONE_CONFIG_BENCH_REGION: process.env.AWS_REGION ?? 'us-east-1',
  };
}

function timeEnv(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(-300)}`);
  return performance.now() - t0;
}

/**
 * pipe push/pull against rclone copy of the same objects to the same S3 server (Ceph RGW from
 * scripts/services/s3.sh): four 32 MiB tensors (where each command's start-up weighs), four 256 MiB
 * tensors (where the transfer does), and a folder out of 10,000 4 KiB files.
 */
async function remote(): Promise<void> {
  if (!process.env.PIPE_TEST_S3_ENDPOINT) {
    row('push/pull vs rclone', 'skipped', '', '', 'needs an S3 server: eval "$(scripts/services/s3.sh start)" first');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'pipe-bench-remote-'));
  const env = { ...process.env, AWS_ENDPOINT_URL: process.env.PIPE_TEST_S3_ENDPOINT };
  const MIB = 1024 * 1024;
  // The same bytes as files for rclone: random, so neither side can compress them. Each tensor stage reads its folder's four files.
  const tensorStages = [['big', 32], ['huge', 256]] as const;
  for (const [stage, mib] of tensorStages) {
    mkdirSync(join(dir, `${stage}-files`));
    for (let i = 0; i < 4; i++) writeFileSync(join(dir, `${stage}-files`, `t${i}.bin`), randomBytes(mib * MIB));
    writeFileSync(join(dir, `${stage}.mjs`), `import { readFileSync } from 'node:fs';\nexport default { run(ctx) { for (let i = 0; i < 4; i++) { const b = readFileSync(\`${stage}-files/t\${i}.bin\`); ctx.output.tensor(\`t\${i}\`, { dtype: 'float32', shape: [b.length / 4], data: new Float32Array(b.buffer, b.byteOffset, b.length / 4) }); } } };\n`);
  }
  writeFileSync(join(dir, 'small.sh'), 'mkdir -p small; for i in $(seq 0 9999); do head -c 4096 /dev/urandom > small/f$i; done\n');
  writeFileSync(join(dir, 'pipeline.yaml'), `stages:\n${tensorStages.map(([s]) => `  ${s}:\n    kind: ./${s}.mjs\n    deps: [${s}-files]\n`).join('')}  small:\n    cmd: sh small.sh\n    deps: [small.sh]\n    outs: [small]\n`);
  time(process.execPath, [PIPE, 'run'], dir);
  const client = `import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3'; await new S3Client({ forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: 'pipe-bench' })).catch((e) => { if (e.name !== 'BucketAlreadyOwnedByYou') throw e; });`;
  spawnSync(process.execPath, ['--input-type=module', '-e', client], { cwd: ROOT, env: { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } });
  const reps = quick ? 1 : 3;
  const rc = rcloneEnv();
  const fresh = () => {
    const d = mkdtempSync(join(tmpdir(), 'pipe-bench-pull-'));
    for (const f of ['pipeline.yaml', 'pipe.lock', 'small.sh', ...tensorStages.flatMap(([st]) => [`${st}-files`, `${st}.mjs`])]) cpSync(join(dir, f), join(d, f), { recursive: true });
    return d;
  };
  const cases = [...tensorStages.map(([stage, mib]) => [stage, `four ${mib} MiB tensors`, 4 * mib * MIB] as const), ['small', '10,000 files of 4 KiB (one folder out)', 10000 * 4096] as const];
  for (const [stage, what, bytes] of cases) {
    const tensors = stage !== 'small';
    const files = tensors ? `${stage}-files` : 'small';
    const t = { pipePush: [] as number[], rclonePush: [] as number[], rclonePush16: [] as number[], pipePull: [] as number[], rclonePull: [] as number[] };
    for (let i = 0; i < reps; i++) {
      const id = `${stage}-${Date.now()}-${i}`;
      t.pipePush.push(timeEnv(process.execPath, [PIPE, 'push', stage, '--remote', `s3://pipe-bench/pipe-${id}`], dir, env));
      t.rclonePush.push(timeEnv('rclone', ['copy', files, `bench:pipe-bench/rclone-${id}`], dir, rc));
      t.rclonePush16.push(timeEnv('rclone', ['copy', '--transfers=16', '--checkers=16', files, `bench:pipe-bench/rclone16-${id}`], dir, rc));
      const d = fresh();
      t.pipePull.push(timeEnv(process.execPath, [PIPE, 'pull', stage, '--remote', `s3://pipe-bench/pipe-${id}`], d, env));
      t.rclonePull.push(timeEnv('rclone', ['copy', `bench:pipe-bench/rclone-${id}`, join(d, 'rclone')], d, rc));
      rmSync(d, { recursive: true, force: true });
      // The test server keeps objects in RAM: free this round's before the next.
      for (const prefix of [`pipe-${id}`, `rclone-${id}`, `rclone16-${id}`]) spawnSync('rclone', ['purge', `bench:pipe-bench/${prefix}`], { env: rc, stdio: 'ignore' });
    }
    const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)])) as Record<keyof typeof t, number>;
    const rate = (ms: number) => (tensors ? `${f1(bytes / MIB / (ms / 1000))} MiB/s` : `${Math.round(10000 / (ms / 1000))} obj/s`);
    row(`push ${what}`, rate(m.pipePush), `${rate(m.rclonePush)} (rclone copy); ${rate(m.rclonePush16)} (--transfers=16)`, `${(m.rclonePush / m.pipePush).toFixed(2)}× / ${(m.rclonePush16 / m.pipePush).toFixed(2)}×`, tensors ? 'target ≥ 0.8×' : 'target ≥ 1×');
    row(`pull ${what}`, rate(m.pipePull), `${rate(m.rclonePull)} (rclone copy)`, `${(m.rclonePull / m.pipePull).toFixed(2)}×`, 'pipe checks every sha256 before it commits');
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Per-job overhead of pipe's SLURM executor against sbatch alone, on the cluster SLURM_CONF names. */
async function slurm(): Promise<void> {
  if (!process.env.SLURM_CONF) {
    row('SLURM per-job overhead', 'skipped', '', '', 'needs a cluster: eval "$(scripts/services/slurm.sh start)" first');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'pipe-bench-slurm-'));
  writeFileSync(join(dir, 'pipeline.yaml'), 'stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n    params: { n: 0 }\n');
  const reps = quick ? 3 : 7;
  const pipeT: number[] = [];
  const sbatchT: number[] = [];
  for (let i = 0; i < reps; i++) {
    pipeT.push(time(process.execPath, [PIPE, 'run', '--executor', 'slurm', '--remote', `file://${dir}/remote`, '-S', `a.n=${i}`], dir));
    sbatchT.push(time('sbatch', ['--wait', '--quiet', `--output=${dir}/sb-%j.log`, '--wrap=echo a > b.txt'], dir));
  }
  const [p, s] = [median(pipeT), median(sbatchT)];
  row('one command stage as a SLURM job, wall ms', f1(p), `${f1(s)} (sbatch --wait of the same command)`, `${f1(p - s)} ms over sbatch`, 'pipe run --executor slurm: submit, poll, pull');
  rmSync(dir, { recursive: true, force: true });
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`pipe benchmarks on ${availableParallelism()} × ${cpu}, node ${process.version}${quick ? ' (quick)' : ''}\n`);
const parts = { noop, snakemake: noopSnakemake, status: status10k, restore: restore10k, lmdb: lmdbRead, resize, training, remote, slurm };
const unknown = only?.filter((p) => !(p in parts)) ?? [];
if (unknown.length) throw new Error(`--only: unknown part ${unknown.join(', ')}; parts: ${Object.keys(parts).join(', ')}`);
for (const [name, part] of Object.entries(parts)) if (!only || only.includes(name)) await part();
const table = [
  `pipe benchmarks: ${availableParallelism()} cores (${cpu}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; medians; \`npm run bench\``,
  '',
  '| measure | pipe | baseline | ratio | note |',
  '|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');
if (only) console.log(`\n${table}`);
else {
  writeFileSync(join(ROOT, 'bench', 'RESULTS.md'), `${table}\n`);
  console.log(`\n${table}\n\nwritten to bench/RESULTS.md`);
}

