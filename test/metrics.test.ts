import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { imagenetEmbedder } from '../src/ml/metrics/imagenet.js';
import { msssim } from '../src/ml/metrics/msssim.js';
import { loadTf } from '../src/ml/tfjs/backend.js';
import { features, frechetDistance, kid, mean, pixelMmd, prdc, standardisePair, type Features } from '../src/ml/metrics/stats.js';
import { Rng } from '../src/core/rng.js';

function gaussianSet(n: number, d: number, seed: string, shift = 0, scale = 1): Features {
  const r = new Rng(seed);
  return features(n, d, Array.from({ length: n * d }, (_, i) => shift * (i % d === 0 ? 1 : 0) + scale * r.normal()));
}

/** FID the textbook way, through d×d matrix square roots: the reference for the low-rank formula. */
function frechetReference(a: Features, b: Features): number {
  const cov = (f: Features) => {
    const mu = mean(f);
    const x = new Matrix(f.n, f.d);
    for (let i = 0; i < f.n; i++) for (let j = 0; j < f.d; j++) x.set(i, j, f.data[i * f.d + j]! - mu[j]!);
    return x.transpose().mmul(x).div(f.n - 1);
  };
  const sqrtm = (m: Matrix) => {
    const e = new EigenvalueDecomposition(m, { assumeSymmetric: true });
    const v = e.eigenvectorMatrix;
    return v.mmul(Matrix.diag(e.realEigenvalues.map((l) => Math.sqrt(Math.max(0, l))))).mmul(v.transpose());
  };
  const ca = cov(a);
  const cb = cov(b);
  const r = sqrtm(ca);
  const cross = sqrtm(r.mmul(cb).mmul(r)).trace();
  const ma = mean(a);
  const mb = mean(b);
  let diff = 0;
  for (let j = 0; j < a.d; j++) diff += (ma[j]! - mb[j]!) ** 2;
  return diff + ca.trace() + cb.trace() - 2 * cross;
}

describe('feature-space metrics', () => {
  const a = gaussianSet(60, 8, 'a');
  const b = gaussianSet(50, 8, 'b', 3, 1.5);

  it('Fréchet distance matches the d×d matrix-square-root formula', () => {
    const fast = frechetDistance(a, b);
    const ref = frechetReference(a, b);
    assert.ok(Math.abs(fast - ref) < 1e-6 * ref, `${fast} vs ${ref}`);
    assert.ok(fast > 5, 'a shifted, wider set is far away');
  });

  it('also when there are more dimensions than samples', () => {
    const x = gaussianSet(12, 40, 'x');
    const y = gaussianSet(15, 40, 'y', 1);
    const fast = frechetDistance(x, y);
    const ref = frechetReference(x, y);
    assert.ok(Math.abs(fast - ref) < 1e-6 * ref, `${fast} vs ${ref}`);
  });

  it('identical sets: FD 0, precision/recall/coverage 1; same distribution: KID near 0', () => {
    assert.ok(frechetDistance(a, a) < 1e-9);
    const same = kid(a, gaussianSet(60, 8, 'a2'));
    assert.ok(Math.abs(same) < 0.1, `kid ${same}`);
    const s = prdc(a, a);
    assert.equal(s.precision, 1);
    assert.equal(s.recall, 1);
    assert.equal(s.coverage, 1);
    assert.ok(s.density > 0.9, `density ${s.density}`);
  });

  it('KID and pixel MMD are the unbiased MMD² of their kernels, summed pair by pair', () => {
    const rows = (f: Features) => Array.from({ length: f.n }, (_, i) => Array.from(f.data.subarray(i * f.d, (i + 1) * f.d)));
    const mmd = (x: number[][], y: number[][], k: (p: number[], q: number[]) => number) => {
      const within = (z: number[][]) => z.flatMap((p, i) => z.filter((_, j) => j !== i).map((q) => k(p, q))).reduce((s, v) => s + v, 0) / (z.length * (z.length - 1));
      return within(x) + within(y) - (2 * x.flatMap((p) => y.map((q) => k(p, q))).reduce((s, v) => s + v, 0)) / (x.length * y.length);
    };
    const sq = (p: number[], q: number[]) => p.reduce((s, v, t) => s + (v - q[t]!) ** 2, 0);
    const ra = rows(a);
    const dists = ra.flatMap((p, i) => ra.filter((_, j) => j !== i).map((q) => Math.sqrt(sq(p, q)))).sort((x, y) => x - y);
    const sigma = dists[Math.floor(dists.length / 2)]!;
    const pixel = mmd(ra, rows(b), (p, q) => Math.exp(-sq(p, q) / (2 * sigma * sigma)));
    assert.ok(Math.abs(pixelMmd(a, b) - pixel) < 1e-12, `${pixelMmd(a, b)} vs ${pixel}`);
    const [sa, sb] = standardisePair(a, b);
    const poly = mmd(rows(sa), rows(sb), (p, q) => (p.reduce((s, v, t) => s + v * q[t]!, 0) / a.d + 1) ** 3);
    assert.ok(Math.abs(kid(a, b) - poly) < 1e-9 * Math.abs(poly), `${kid(a, b)} vs ${poly}`);
  });

  it('disjoint sets: precision and recall 0, KID and pixel MMD well above identical', () => {
    const far = gaussianSet(60, 8, 'far', 50);
    const s = prdc(a, far);
    assert.equal(s.precision, 0);
    assert.equal(s.recall, 0);
    assert.ok(kid(a, far) > 1);
    assert.ok(pixelMmd(a, far) > 10 * Math.abs(pixelMmd(a, gaussianSet(60, 8, 'a2'))));
  });
});

describe('MS-SSIM', () => {
  const size = 64;
  const img = Float32Array.from({ length: size * size }, (_, i) => ((i % size) + Math.floor(i / size)) % 9 < 3 ? 1 : 0);
  it('is 1 for identical images and lower for different ones', () => {
    assert.ok(Math.abs(msssim(img, img, size) - 1) < 1e-9);
    const other = Float32Array.from(img, (v, i) => (i % 7 === 0 ? 1 - v : v));
    const s = msssim(img, other, size);
    assert.ok(s < 0.9 && s > 0, `${s}`);
  });
});

describe('memorisation distance', () => {
  it('ink-normalised: a faint image is not near everything, and a copy at any ink level is at 0', async () => {
    const { loadTf } = await import('../src/ml/tfjs/backend.js');
    const { inkNormalised, nearestTraining } = await import('../src/ml/metrics/memorisation.js');
    const { tf } = await loadTf('wasm');
    const px = 64;
    const stroke = (at: number, ink: number) => Array.from({ length: px }, (_, i) => (i >= at && i < at + 8 ? ink : 0));
    // Training: a faint stroke at 0 and a full one at 40. Query: a full stroke at 34, overlapping the second.
    const train = tf.tensor2d([...stroke(0, 0.1), ...stroke(40, 1)], [2, px]);
    const query = tf.tensor2d([...stroke(34, 1), ...stroke(0, 0.5)], [2, px]);
    assert.deepEqual(Array.from((await nearestTraining(tf, query, train)).index), [0, 0], 'plain pixel L2 picks the faint image for both');
    const near = await nearestTraining(tf, inkNormalised(tf, query), inkNormalised(tf, train));
    assert.deepEqual(Array.from(near.index), [1, 0]);
    assert.ok(near.distance[1]! < 1e-3, `the same stroke with 5× the ink is a copy (${near.distance[1]})`);
  });
});

describe('the metrics table and the verdicts', async () => {
  const { metricsTable, tableMarkdown } = await import('../src/ml/report/metrics-table.js');
  const { verdicts } = await import('../src/ml/metrics/verdict.js');
  type Row = import('../src/ml/metrics/scores.js').RowScores;
  const row = (name: string, kind: Row['kind'], fd: number, recall: number, msssim: number, copyRate = 0, ratio = 1): Row => ({
    name,
    kind,
    n: 200,
    draws: 1,
    spaces: { own: { fd, kid: fd / 10, precision: 0.6, recall, density: 0.5, coverage: 0 } },
    pixelMmd: 0.01,
    msssim,
    memorisation: { ratio, copyRate, medianNearest: ratio },
  });
  const rows = [row('real', 'real', 5, 0.8, 0.43), row('copies', 'copies', 6, 0.8, 0.43, 1, 0), row('vae', 'model', 20, 0.9, 0.45), row('gan', 'model', 30, 0.2, 0.66, 0.1, 0.5)];

  it('marks each column best among the models, reads MS-SSIM by its distance to the real images, drops constant columns', () => {
    const t = metricsTable(rows, ['own']);
    assert.deepEqual(t.dropped, ['own precision', 'own density', 'own coverage', 'pixel MMD²']);
    assert.deepEqual(t.header, ['set', 'own FD', 'own KID', 'own recall', 'MS-SSIM', 'nearest-train ratio', 'copy rate']);
    const vae = t.rows.find((r) => r.cells[0] === 'vae')!;
    assert.deepEqual(vae.best, [false, true, true, true, true, true, true]);
    assert.ok(t.rows.filter((r) => r.kind !== 'model').every((r) => r.best.every((b) => !b)));
    assert.match(tableMarkdown(t), /^\| vae \| \*\*20\*\* \| \*\*2\*\* \| \*\*0\.9\*\* \| \*\*0\.45\*\* \| \*\*1\*\* \| \*\*0\*\* \|$/m);
  });

  it("a model's scores over several draws are their means, each cell with ± their standard deviation", async () => {
    const { summariseDraws } = await import('../src/ml/metrics/draws.js');
    const draw = (precision: number, recall: number) => ({ fd: 100 * precision, kid: 1, precision, recall, density: 0.5, coverage: recall });
    const own = summariseDraws([draw(0.4, 0.3), draw(0.5, 0.35), draw(0.45, 0.4)]);
    const round = (o: object) => Object.fromEntries(Object.entries(o).filter(([, v]) => typeof v === 'number').map(([k, v]) => [k, Number((v as number).toFixed(12))]));
    assert.deepEqual(round(own), { fd: 45, kid: 1, precision: 0.45, recall: 0.35, density: 0.5, coverage: 0.35 });
    assert.deepEqual(round(own.sd!), { fd: 5, kid: 0, precision: 0.05, recall: 0.05, density: 0, coverage: 0.05 });
    assert.throws(() => summariseDraws([draw(0.4, 0.3)]), /needs two draws at least, got 1/);
    const drawn: Row = { ...rows[3]!, draws: 3, spaces: { own } };
    const t = metricsTable([...rows.slice(0, 3), drawn], ['own']);
    const cells = Object.fromEntries(t.header.map((h, i) => [h, t.rows[3]!.cells[i]]));
    assert.deepEqual([cells['own FD'], cells['own precision'], cells['own recall']], ['45 ± 5', '0.45 ± 0.05', '0.35 ± 0.05']);
    assert.equal(t.rows[2]!.cells[t.header.indexOf('own precision')], '0.6');
  });

  it('says in words which model is closer, which is diverse, and what looks collapsed or copied', () => {
    const [vae, gan] = verdicts(rows, 'own');
    assert.equal(vae!.text, 'the closest to real of the models: own FD 20 (real vs real 5), precision 0.6. As diverse as real signatures (MS-SSIM 0.45 vs 0.43). Recall 0.9 (the widest coverage of the models). No sign of copying (copy rate 0, nearest-train ratio 1).');
    assert.match(gan!.text, /^further from real than vae: .* Less diverse than real signatures \(MS-SSIM 0\.66 vs 0\.43\)\. Recall 0\.2\. Signs of mode collapse: .* Copies training images: 10% of samples/);
  });
});

describe('the report page', async () => {
  const { renderReport } = await import('../src/ml/report/html.js');
  const png = new Uint8Array([137, 80, 78, 71]);
  const html = renderReport({
    title: 't',
    generated: 'g',
    context: [['data', '96 images']],
    verdicts: [{ name: 'gan', text: 'as diverse as real' }],
    table: { header: ['set', 'own FD'], rows: [{ kind: 'real', cells: ['real', '1'], best: [false, false] }, { kind: 'model', cells: ['gan', '2'], best: [false, true] }], dropped: [] },
    notes: ['n'],
    sections: [{ title: 'frames', slider: true, images: [1, 2, 3].map((e) => ({ caption: `epoch ${e}`, png })) }],
  });

  it('has a viewport, the run context, verdicts, a scrolling table with the best value marked', () => {
    assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
    assert.match(html, /<dl class="context"><dt>data<\/dt><dd>96 images<\/dd><\/dl>/);
    assert.match(html, /<li><b>gan<\/b>: as diverse as real<\/li>/);
    assert.match(html, /<div class="table"><table>.*<tr class="model"><th>gan<\/th><td class="best">2<\/td><\/tr>/s);
    assert.match(html, /\.table\{overflow-x:auto/);
  });

  it('shows per-epoch frames under a slider, the last one first; images zoom on a click', () => {
    assert.match(html, /<section class="slider"><h2>frames<\/h2><input type="range" min="0" max="2" value="2"/);
    assert.equal((html.match(/<figure hidden>/g) ?? []).length, 2);
    assert.match(html, /<figure><img alt="epoch 3"/);
    assert.match(html, /classList\.toggle\('zoom'\)/);
  });
});

describe('ImageNet features on several threads', () => {
  it('are the same bits as on one thread, whole batches to each', async () => {
    const { tf } = await loadTf('wasm');
    // 40 images: this thread embeds the first batch of 32, the worker the last 8.
    const images = tf.randomUniform([40, 16, 16, 1], 0, 1, 'float32', 3) as import('../src/ml/tfjs/tf.js').Tensor4D;
    const runtime = { backend: 'wasm' as const, kernels: 'pipe' as const, convt: 'auto' as const };
    const embed = async (threads: number) => {
      const e = await imagenetEmbedder(tf, 'mobilenet_v2', threads, runtime);
      try {
        return await e.embed(images);
      } finally {
        await e.close();
      }
    };
    const one = await embed(1);
    const two = await embed(2);
    images.dispose();
    assert.equal(one.length, 40 * 1280);
    assert.ok(one.subarray(32 * 1280).some((v) => v !== 0), 'the worker\'s rows hold features');
    assert.deepEqual(two, one);
  });
});
