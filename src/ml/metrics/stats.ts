import { Matrix, SingularValueDecomposition } from 'ml-matrix';

/** Rows of an n×d feature matrix, row-major. */
export interface Features {
  n: number;
  d: number;
  data: Float64Array;
}

export function features(n: number, d: number, data: ArrayLike<number>): Features {
  return { n, d, data: Float64Array.from(data) };
}

function row(f: Features, i: number): Float64Array {
  return f.data.subarray(i * f.d, (i + 1) * f.d);
}

export function mean(f: Features): Float64Array {
  const m = new Float64Array(f.d);
  for (let i = 0; i < f.n; i++) for (let j = 0; j < f.d; j++) m[j]! += f.data[i * f.d + j]!;
  return m.map((v) => v / f.n);
}

function centred(f: Features, mu: Float64Array): Matrix {
  const x = new Matrix(f.n, f.d);
  for (let i = 0; i < f.n; i++) for (let j = 0; j < f.d; j++) x.set(i, j, f.data[i * f.d + j]! - mu[j]!);
  return x;
}

/**
 * Fréchet distance between Gaussians fitted to two feature sets (FID's formula):
 * ‖μ₁-μ₂‖² + tr Σ₁ + tr Σ₂ - 2 tr (Σ₁ Σ₂)^½.
 * With A, B the centred feature rows, tr Σ = ‖A‖²_F/(n-1) and the nonzero
 * eigenvalues of Σ₁Σ₂ are the squared singular values of A·Bᵀ over
 * (n₁-1)(n₂-1), so the cross term is a nuclear norm of an n₁×n₂ matrix:
 * exact, and no d×d matrix (1280² or 2048² for ImageNet features) is formed.
 */
export function frechetDistance(a: Features, b: Features): number {
  const ma = mean(a);
  const mb = mean(b);
  const A = centred(a, ma);
  const B = centred(b, mb);
  let diff = 0;
  for (let j = 0; j < a.d; j++) diff += (ma[j]! - mb[j]!) ** 2;
  const trA = A.norm('frobenius') ** 2 / Math.max(1, a.n - 1);
  const trB = B.norm('frobenius') ** 2 / Math.max(1, b.n - 1);
  const svd = new SingularValueDecomposition(A.mmul(B.transpose()), { computeLeftSingularVectors: false, computeRightSingularVectors: false });
  const nuclear = svd.diagonal.reduce((s, v) => s + v, 0);
  return Math.max(0, diff + trA + trB - (2 * nuclear) / Math.sqrt(Math.max(1, a.n - 1) * Math.max(1, b.n - 1)));
}

/** Both sets standardised with the mean and std of their union, so neither set's dead dimensions blow up. */
export function standardisePair(a: Features, b: Features): [Features, Features] {
  const both: Features = { n: a.n + b.n, d: a.d, data: new Float64Array([...a.data, ...b.data]) };
  const mu = mean(both);
  const sd = new Float64Array(a.d);
  for (let i = 0; i < both.n; i++) for (let j = 0; j < a.d; j++) sd[j]! += (both.data[i * a.d + j]! - mu[j]!) ** 2;
  for (let j = 0; j < a.d; j++) sd[j] = Math.sqrt(sd[j]! / Math.max(1, both.n - 1)) || 1;
  const scale = (f: Features): Features => {
    const out = new Float64Array(f.data.length);
    for (let i = 0; i < f.n; i++) for (let j = 0; j < f.d; j++) out[i * f.d + j] = (f.data[i * f.d + j]! - mu[j]!) / sd[j]!;
    return { n: f.n, d: f.d, data: out };
  };
  return [scale(a), scale(b)];
}

/** Dot products of every row of a with every row of b, n×m; for b = a only one half is computed (it is symmetric). */
function gram(a: Features, b: Features): Float64Array {
  const out = new Float64Array(a.n * b.n);
  for (let i = 0; i < a.n; i++) {
    const x = row(a, i);
    for (let j = a === b ? i : 0; j < b.n; j++) {
      const y = row(b, j);
      let s = 0;
      for (let t = 0; t < a.d; t++) s += x[t]! * y[t]!;
      out[i * b.n + j] = s;
      if (a === b) out[j * b.n + i] = s;
    }
  }
  return out;
}

/** Unbiased MMD² from the kernel's values within a (n×n), within b (m×m) and between them (n×m). */
function mmd2(kaa: Float64Array, kbb: Float64Array, kab: Float64Array, n: number, m: number): number {
  const offDiagonal = (k: Float64Array, size: number) => {
    let s = 0;
    for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) if (i !== j) s += k[i * size + j]!;
    return s;
  };
  const xy = kab.reduce((s, v) => s + v, 0);
  return offDiagonal(kaa, n) / (n * (n - 1)) + offDiagonal(kbb, m) / (m * (m - 1)) - (2 * xy) / (n * m);
}

/** Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with k(x,y) = (x·y/d + 1)³. */
export function kid(real: Features, fake: Features): number {
  const [r, f] = standardisePair(real, fake);
  const k = (g: Float64Array) => g.map((v) => (v / r.d + 1) ** 3);
  return mmd2(k(gram(r, r)), k(gram(f, f)), k(gram(r, f)), r.n, f.n);
}

/** Squared Euclidean distances, n×m, from the rows' dot products: ‖x‖² + ‖y‖² − 2x·y (0 at least). */
function squaredDistances(a: Features, b: Features, aa: Float64Array, bb: Float64Array): Float64Array {
  const ab = a === b ? aa : gram(a, b);
  return ab.map((v, idx) => Math.max(0, aa[Math.floor(idx / b.n) * (a.n + 1)]! + bb[(idx % b.n) * (b.n + 1)]! - 2 * v));
}

/** Pairwise Euclidean distances, n×m. */
export function distances(a: Features, b: Features): Float64Array {
  const out = new Float64Array(a.n * b.n);
  for (let i = 0; i < a.n; i++) {
    const x = row(a, i);
    for (let j = 0; j < b.n; j++) {
      const y = row(b, j);
      let s = 0;
      for (let t = 0; t < a.d; t++) s += (x[t]! - y[t]!) ** 2;
      out[i * b.n + j] = Math.sqrt(s);
    }
  }
  return out;
}

/** Distance from each point to its k-th nearest neighbour in its own set (itself excluded). */
function kthRadii(self: Float64Array, n: number, k: number): Float64Array {
  const r = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ds = Array.from(self.subarray(i * n, (i + 1) * n)).filter((_, j) => j !== i).sort((x, y) => x - y);
    r[i] = ds[Math.min(k, ds.length) - 1] ?? 0;
  }
  return r;
}

/**
 * Precision and recall of Kynkäänniemi et al. (2019), k = 3, and density and
 * coverage of Naeem et al. (2020), k = 5: real manifold from k-NN balls
 * around real points, fake manifold likewise.
 */
export function prdc(real: Features, fake: Features, kPr = 3, kDc = 5): { precision: number; recall: number; density: number; coverage: number } {
  const rr = distances(real, real);
  const ff = distances(fake, fake);
  const rf = distances(real, fake);
  const rRad = kthRadii(rr, real.n, kPr);
  const fRad = kthRadii(ff, fake.n, kPr);
  const rRadDc = kthRadii(rr, real.n, kDc);
  let precision = 0;
  for (let j = 0; j < fake.n; j++) {
    for (let i = 0; i < real.n; i++) {
      if (rf[i * fake.n + j]! <= rRad[i]!) {
        precision++;
        break;
      }
    }
  }
  let recall = 0;
  for (let i = 0; i < real.n; i++) {
    for (let j = 0; j < fake.n; j++) {
      if (rf[i * fake.n + j]! <= fRad[j]!) {
        recall++;
        break;
      }
    }
  }
  let inBalls = 0;
  let covered = 0;
  for (let i = 0; i < real.n; i++) {
    let any = false;
    for (let j = 0; j < fake.n; j++) {
      if (rf[i * fake.n + j]! <= rRadDc[i]!) {
        inBalls++;
        any = true;
      }
    }
    if (any) covered++;
  }
  return { precision: precision / fake.n, recall: recall / real.n, density: inBalls / (kDc * fake.n), coverage: covered / real.n };
}

/** Gaussian-kernel MMD² in pixel space, bandwidth from the median pairwise distance of the reference. */
export function pixelMmd(real: Features, fake: Features): number {
  const [rr, ff] = [gram(real, real), gram(fake, fake)];
  const [drr, dff, drf] = [squaredDistances(real, real, rr, rr), squaredDistances(fake, fake, ff, ff), squaredDistances(real, fake, rr, ff)];
  const off = Array.from(drr, Math.sqrt).filter((_, idx) => Math.floor(idx / real.n) !== idx % real.n).sort((a, b) => a - b);
  const sigma = off[Math.floor(off.length / 2)] || 1;
  const k = (d: Float64Array) => d.map((v) => Math.exp(-v / (2 * sigma * sigma)));
  return mmd2(k(drr), k(dff), k(drf), real.n, fake.n);
}
