import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { msssim } from '../src/ml/metrics/msssim.js';
import { features, frechetDistance, kid, mean, pixelMmd, prdc, type Features } from '../src/ml/metrics/stats.js';
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
