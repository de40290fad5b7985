import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PIPE, pipeAsyncEnv, pipeEnv, type CliResult } from './helpers.js';
import { sha256 } from '../src/core/hash.js';
import { ByteBudget } from '../src/core/remote/byte-budget.js';
import { collect } from '../src/core/remote/body.js';
import { S3Backend } from '../src/core/remote/s3.js';
import { service } from './services.js';

// The SDK's notice about Node 22 (releases after January 2027) is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const s3 = service('s3', 'PIPE_TEST_S3_ENDPOINT', { PIPE_S3_DIR: join(tmpdir(), `pipe-s3-test-${process.pid}`), PIPE_S3_PORT: '7491', PIPE_S3_MON_PORT: '6791' });
const CI = join(dirname(PIPE), '..', 'ci');

/** A clone of the CI pipeline: its pipeline.yaml and committed pipe.lock, no cache. */
function clone(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pipe-remote-'));
  for (const f of ['pipeline.yaml', 'pipe.lock']) cpSync(join(CI, f), join(dir, f));
  return dir;
}

let ran: string | undefined;
/** A clone whose cache holds the CI pipeline's results (run once per file, then copied). */
function trained(): string {
  if (!ran) {
    ran = clone();
    const r = pipeEnv(ran, {}, 'run');
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }
  const dir = clone();
  cpSync(join(ran, 'cache'), join(dir, 'cache'), { recursive: true });
  return dir;
}

let buckets = 0;
async function bucket(env: Record<string, string>): Promise<{ client: S3Client; name: string }> {
  const client = new S3Client({ endpoint: env.PIPE_TEST_S3_ENDPOINT, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! } });
  const name = `pipe-test-${process.pid}-${buckets++}`;
  await client.send(new CreateBucketCommand({ Bucket: name }));
  return { client, name };
}

/** The S3 server's environment (pipe's, with AWS_ENDPOINT_URL) and a new bucket on it; undefined when the test skipped. */
async function s3Bucket(t: TestContext): Promise<{ env: Record<string, string>; s3env: Record<string, string>; client: S3Client; name: string } | undefined> {
  const env = s3(t);
  if (!env) return undefined;
  return { env, s3env: { ...env, AWS_ENDPOINT_URL: env.PIPE_TEST_S3_ENDPOINT! }, ...(await bucket(env)) };
}

const keysOf = async (c: S3Client, b: string, prefix: string) => ((await c.send(new ListObjectsV2Command({ Bucket: b, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!);

describe('remote cache on S3 (Ceph RGW)', () => {
  it('push from one clone, pull into a fresh one: pipe run there is all cache hits and pipe.lock is identical', async (t) => {
    const got = await s3Bucket(t);
    if (!got) return;
    const { env, s3env, name } = got;
    const remote = `s3://${name}/team`;
    const a = trained();
    const pushed = pipeEnv(a, s3env, 'run', '--push', '--remote', remote);
    assert.equal(pushed.code, 0, pushed.stdout + pushed.stderr);
    assert.match(pushed.stdout, new RegExp(`pushed to ${remote}: 8 run records \\(\\d+ objects, [\\d.]+ MiB\\)`));
    assert.doesNotMatch(pushed.stdout + pushed.stderr, new RegExp(env.AWS_SECRET_ACCESS_KEY!));
    // Idempotent: a second push sends nothing.
    assert.match(pipeEnv(a, s3env, 'push', '--remote', remote).stdout, /pushed to .*: 0 run records \(0 objects, 0.0 MiB\); 8 already there/);

    const b = clone();
    const st = pipeEnv(b, s3env, 'status', '--cloud', '--remote', remote);
    assert.match(st.stdout, /ingest: stale \(available on the remote: pipe run --pull takes it from there\)/);
    const pulled = pipeEnv(b, s3env, 'pull', '--remote', remote);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stdout, /pulled from .*: 8 run records/);
    const rerun = pipeEnv(b, s3env, 'run');
    assert.match(rerun.stdout, /0 ran, 8 from cache/);
    assert.equal(readFileSync(join(b, 'pipe.lock'), 'utf8'), readFileSync(join(CI, 'pipe.lock'), 'utf8'));
    assert.deepEqual(readFileSync(join(b, 'artifacts', 'evaluate', 'metrics.json')), readFileSync(join(ran!, 'artifacts', 'evaluate', 'metrics.json')));
    // --pull during a run does the same from an empty cache.
    const c = clone();
    const pr = pipeEnv(c, s3env, 'run', '--pull', '--remote', remote);
    assert.match(pr.stdout, new RegExp(`\\[train-gan\\] restored from run-cache: pulled from ${remote}`));
    assert.match(pr.stdout, /0 ran, 8 from cache/);
  });

  it('concurrent pushers of the same results: every push succeeds and each run record is written once', async (t) => {
    const got = await s3Bucket(t);
    if (!got) return;
    const { s3env, client, name } = got;
    const remote = `s3://${name}/shared`;
    const dirs = [trained(), trained(), trained()];
    const runs = dirs.map((d) => pipeAsyncEnv(d, s3env, 'push', '--remote', remote).done);
    const results: CliResult[] = await Promise.all(runs);
    const written = results.map((r) => {
      assert.equal(r.code, 0, r.stderr);
      return Number(/: (\d+) run records/.exec(r.stdout)![1]);
    });
    assert.equal(written.reduce((x, y) => x + y, 0), 8);
    assert.equal((await keysOf(client, name, 'shared/ac/')).length, 8);
  });

  it('read-only credentials pull (and run --pull); a push with them is refused, saying what it means', async (t) => {
    const got = await s3Bucket(t);
    if (!got) return;
    const { env, s3env, client, name } = got;
    const remote = `s3://${name}/ro`;
    assert.equal(pipeEnv(trained(), s3env, 'push', '--remote', remote).code, 0);
    assert.ok(env.PIPE_TEST_S3_READONLY_ACCESS_KEY_ID, 'scripts/services/s3.sh names a read-only key');
    const ro = { ...s3env, AWS_ACCESS_KEY_ID: env.PIPE_TEST_S3_READONLY_ACCESS_KEY_ID!, AWS_SECRET_ACCESS_KEY: env.PIPE_TEST_S3_READONLY_SECRET_ACCESS_KEY! };
    const b = clone();
    const pulled = pipeEnv(b, ro, 'run', '--pull', '--remote', remote);
    assert.equal(pulled.code, 0, pulled.stdout + pulled.stderr);
    assert.match(pulled.stdout, /0 ran, 8 from cache/);
    const keys = await keysOf(client, name, '');
    const c = trained();
    const pushed = pipeEnv(c, ro, 'push', '--remote', `s3://${name}/elsewhere`);
    assert.equal(pushed.code, 6, pushed.stdout + pushed.stderr);
    assert.match(pushed.stderr, /failed: access denied \(HTTP 403, AccessDenied\): these credentials may not do this here \(a pull needs read access, a push write access\)/);
    assert.doesNotMatch(pushed.stdout + pushed.stderr, new RegExp(ro.AWS_SECRET_ACCESS_KEY));
    assert.deepEqual(await keysOf(client, name, ''), keys, 'the refused push wrote nothing');
    const wrong = pipeEnv(clone(), { ...ro, AWS_SECRET_ACCESS_KEY: 'not-the-secret' }, 'pull', '--remote', remote);
    assert.equal(wrong.code, 6);
    assert.match(wrong.stderr, /the credentials were refused \(HTTP 403, SignatureDoesNotMatch\)/);
  });

  it('a push or pull killed at any moment leaves no run record without its blobs; the next one completes', async (t) => {
    const got = await s3Bucket(t);
    if (!got) return;
    const { s3env, client, name } = got;
    const remote = `s3://${name}/killed`;
    const a = trained();
    // Each round kills at a later progress line of the transfer (a line per 10% of its bytes).
    const killAt = async (dir: string, verb: string, line: number) => {
      const p = pipeAsyncEnv(dir, s3env, verb, '--remote', remote);
      let seen = 0;
      p.child.stdout!.on('data', (d: Buffer) => {
        seen += (d.toString().match(new RegExp(`\\[remote\\] ${verb} MiB`, 'g')) ?? []).length;
        if (seen >= line) p.child.kill('SIGKILL');
      });
      await p.done;
    };
    const rounds = [1, 2, 3, 4, 5, 6];
    let midPush = 0;
    let midPull = 0;
    const blobsOf = (r: { outputs: Record<string, { hash: string }>; files: Record<string, { hash: string }>; blobs?: string[]; log?: string }) => [...Object.values(r.outputs), ...Object.values(r.files)].map((o) => o.hash).concat(r.blobs ?? [], r.log ? [r.log] : []);
    for (const line of rounds) {
      await killAt(a, 'push', line);
      const cas = new Set((await keysOf(client, name, 'killed/cas/')).map((k) => k.slice(k.lastIndexOf('/') + 1)));
      const records = await keysOf(client, name, 'killed/ac/');
      if (cas.size > 0 && records.length < 8) midPush++;
      for (const key of records) {
        const record = JSON.parse(Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: name, Key: key }))).Body!.transformToByteArray()).toString()).record;
        for (const h of blobsOf(record)) assert.ok(cas.has(h), `after a kill at progress line ${line}, ${key} names blob ${h.slice(0, 12)}, which is not on the remote`);
      }
    }
    assert.ok(midPush > 0, 'no kill landed during the push');
    const done = pipeEnv(a, s3env, 'push', '--remote', remote);
    assert.equal(done.code, 0, done.stderr);
    assert.equal((await keysOf(client, name, 'killed/ac/')).length, 8);
    const b = clone();
    for (const line of rounds) {
      await killAt(b, 'pull', line);
      const check = pipeEnv(b, s3env, 'cache', 'check');
      assert.equal(check.code, 0, `after a kill at progress line ${line}: ${check.stdout}${check.stderr}`);
      const records = Number(/and (\d+) run records/.exec(check.stdout)?.[1]);
      if (/checked [1-9]/.test(check.stdout) && records < 8) midPull++;
    }
    assert.ok(midPull > 0, 'no kill landed during the pull');
    assert.equal(pipeEnv(b, s3env, 'pull', '--remote', remote).code, 0);
    assert.match(pipeEnv(b, s3env, 'run').stdout, /0 ran, 8 from cache/);
  });

  it('a blob goes up signed with its own sha256, so the server refuses bytes that do not match their name', async (t) => {
    const got = await s3Bucket(t);
    if (!got) return;
    const { env, client, name } = got;
    // The backend takes credentials from the SDK's chain, as pipe does.
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY });
    const backend = new S3Backend(`s3://${name}/p`, name, 'p', { url: `s3://${name}/p`, endpoint: env.PIPE_TEST_S3_ENDPOINT, region: 'us-east-1' });
    const body = Buffer.from('sixteen bytes!!!');
    assert.equal(await backend.put('good', body, { sha256: sha256(body) }), true);
    await assert.rejects(backend.put('bad', body, { sha256: sha256('other bytes') }), /XAmzContentSHA256Mismatch \(HTTP 400\)/);
    assert.deepEqual(await keysOf(client, name, 'p/'), ['p/good']);
  });

  it('a remote object that lies is named, and nothing of it enters the local cache', async (t) => {
    const got = await s3Bucket(t);
    if (!got) return;
    const { s3env, client, name } = got;
    const remote = `s3://${name}/lies`;
    const a = trained();
    assert.equal(pipeEnv(a, s3env, 'run', '--push', '--remote', remote).code, 0);
    // Truncate one blob in place: the largest, which is augment's train tensor.
    const record = JSON.parse(Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: name, Key: `lies/ac/${lockOf(a).augment}.json` }))).Body!.transformToByteArray()).toString());
    const hash = record.record.outputs.train.hash as string;
    const key = `lies/cas/${hash.slice(0, 2)}/${hash}`;
    const body = await (await client.send(new GetObjectCommand({ Bucket: name, Key: key }))).Body!.transformToByteArray();
    await client.send(new PutObjectCommand({ Bucket: name, Key: key, Body: body.subarray(0, body.length - 100) }));
    const b = clone();
    const r = pipeEnv(b, s3env, 'pull', '--remote', remote, 'augment');
    assert.equal(r.code, 6, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`remote object ${remote}/cas/${hash.slice(0, 2)}/${hash} does not match its hash \\(${body.length - 100} bytes, sha256 [0-9a-f]{12}…\\); nothing was taken from it`));
    const st = pipeEnv(b, s3env, 'status', '--json');
    assert.equal(JSON.parse(st.stdout.split('\n')[2]!).upToDate, false);
    // A damaged run record: named too.
    await client.send(new PutObjectCommand({ Bucket: name, Key: `lies/ac/${lockOf(a).ingest}.json`, Body: '{"format": 1, "rec' }));
    const r2 = pipeEnv(b, s3env, 'run', '--pull', '--remote', remote);
    assert.equal(r2.code, 6);
    assert.match(r2.stderr, new RegExp(`remote object ${remote}/ac/${lockOf(a).ingest}.json is damaged \\(.*\\); nothing was taken from it`));
    // Without the remote the clone just runs.
    assert.match(pipeEnv(b, s3env, 'run').stdout, /8 ran, 0 from cache/);
  });
});

const lockOf = (dir: string) =>
  Object.fromEntries(Object.entries((JSON.parse(readFileSync(join(dir, 'pipe.lock'), 'utf8')) as { stages: Record<string, { fingerprint: string }> }).stages).map(([k, v]) => [k, v.fingerprint]));

describe('remote bodies', () => {
  const pieces = (...texts: string[]) => texts.map((x) => Buffer.from(x));
  // A stream, as S3's bodies are, that hands its pieces over one by one.
  const arriving = (parts: Uint8Array[]) => Readable.from(parts, { objectMode: true });

  it('are assembled in order and hashed as they arrive, with or without an announced length', async () => {
    const whole = 'signatures, stroke by stroke';
    for (const length of [whole.length, undefined]) {
      const got = await collect({ length, chunks: arriving(pieces('signatures, ', 'stroke ', 'by stroke')) }, 's3://b/cas/x');
      assert.equal(Buffer.from(got.bytes).toString(), whole);
      assert.equal(got.sha256, sha256(whole));
    }
    // A body that comes whole is kept, not copied.
    const one = Buffer.from(whole);
    assert.equal((await collect({ length: one.length, chunks: [one] }, 'file:///r/cas/x')).bytes, one);
  });

  it('that end early or run long are named, with the bytes they brought', async () => {
    await assert.rejects(collect({ length: 10, chunks: arriving(pieces('abc', 'def')) }, 's3://b/cas/x'), /^Error: remote object s3:\/\/b\/cas\/x came back with 6 of its 10 bytes$/);
    await assert.rejects(collect({ length: 4, chunks: arriving(pieces('abc', 'def')) }, 's3://b/cas/x'), /^Error: remote object s3:\/\/b\/cas\/x sent more than its 4 bytes$/);
  });
});

describe('the byte budget of a pull', () => {
  it('lets takers in, in order, while they fit; one larger than the budget goes alone; give lets the next in', async () => {
    const budget = new ByteBudget(10);
    const order: string[] = [];
    const took = (name: string, n: number) => budget.take(n).then(() => order.push(name));
    const a = took('a 6', 6);
    const b = took('b 6', 6);
    const c = took('c 3', 3);
    await a;
    await new Promise((r) => setImmediate(r));
    // b does not fit beside a, and c waits behind b although it would fit: first come, first served.
    assert.deepEqual(order, ['a 6']);
    budget.give(6);
    await Promise.all([b, c]);
    assert.deepEqual(order, ['a 6', 'b 6', 'c 3']);
    const big = took('big 25', 25);
    await new Promise((r) => setImmediate(r));
    assert.equal(order.length, 3);
    budget.give(6);
    budget.give(3);
    await big;
    assert.deepEqual(order, ['a 6', 'b 6', 'c 3', 'big 25']);
    budget.give(25);
    // with() gives its bytes back when its work fails too: the whole budget is free after it.
    await assert.rejects(budget.with(1, async () => { throw new Error('download failed'); }), /download failed/);
    await budget.take(10);
  });
});

describe('remote cache in a folder (file://)', () => {
  it('round-trips, writes by rename, and keeps the first run record of a fingerprint', () => {
    const root = mkdtempSync(join(tmpdir(), 'pipe-folder-remote-'));
    const remote = `file://${root}`;
    const a = trained();
    const r = pipeEnv(a, {}, 'run', '--push', '--remote', remote);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(root, 'ac', `${lockOf(a).evaluate}.json`)));
    const b = clone();
    assert.match(pipeEnv(b, {}, 'run', '--pull', '--remote', remote).stdout, /0 ran, 8 from cache/);
    assert.equal(readFileSync(join(b, 'pipe.lock'), 'utf8'), readFileSync(join(CI, 'pipe.lock'), 'utf8'));
    // A record already there is never replaced.
    const recFile = join(root, 'ac', `${lockOf(a).ingest}.json`);
    const before = readFileSync(recFile);
    assert.match(pipeEnv(a, {}, 'push', '--remote', remote).stdout, /8 already there/);
    assert.deepEqual(readFileSync(recFile), before);
    // The remote is named in pipeline.yaml too, with automatic pull.
    const c = clone();
    writeFileSync(join(c, 'pipeline.yaml'), readFileSync(join(c, 'pipeline.yaml'), 'utf8') + `remote: { url: "${remote}", pull: true }\n`);
    assert.match(pipeEnv(c, {}, 'run').stdout, /0 ran, 8 from cache/);
    const bad = pipeEnv(c, {}, 'push', '--remote', 'ftp://x');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /remote 'ftp:\/\/x': expected s3:\/\/bucket\/prefix or file:\/\/\/absolute\/path/);
  });
});
