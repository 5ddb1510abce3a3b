import test from 'ava';
import { GanpoolUsageError } from '../src/errors.js';
import {
  classHistogram,
  classifierScore,
  featureStats,
  frechetDistance,
  type FeatureStats,
  classAgreement,
} from '../src/metrics/frechet.js';
import { matMul, sqrtPsd, symmetricEigen, symmetricEigenvalues, trace } from '../src/metrics/linalg.js';

/** Seeded uniform [0, 1) generator (mulberry32). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded standard normal generator (Box–Muller). */
function gaussian(seed: number): () => number {
  const u = rng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** Random orthogonal matrix (Gram–Schmidt on Gaussian rows). */
function randomOrthogonal(n: number, seed: number): Float64Array {
  const g = gaussian(seed);
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const row = Array.from({ length: n }, g);
    for (let p = 0; p < i; p++) {
      let dot = 0;
      for (let k = 0; k < n; k++) dot += row[k] * q[p * n + k];
      for (let k = 0; k < n; k++) row[k] = row[k] - dot * q[p * n + k];
    }
    const norm = Math.hypot(...row);
    for (let k = 0; k < n; k++) q[i * n + k] = row[k] / norm;
  }
  return q;
}

/** `Qᵀ diag(λ) Q` (Q's rows are the eigenvectors). */
function fromEigen(q: Float64Array, lambda: number[], n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) out[i * n + j] += lambda[p] * q[p * n + i] * q[p * n + j];
    }
  }
  return out;
}

function diag(values: number[]): Float64Array {
  const n = values.length;
  const m = new Float64Array(n * n);
  values.forEach((v, i) => (m[i * n + i] = v));
  return m;
}

/** Gauss–Jordan inverse with partial pivoting. */
function inverse(a: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = diag(new Array<number>(n).fill(1));
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[piv * n + c])) piv = r;
    for (const x of [m, inv]) {
      for (let k = 0; k < n; k++) [x[c * n + k], x[piv * n + k]] = [x[piv * n + k], x[c * n + k]];
    }
    const p = m[c * n + c];
    for (let k = 0; k < n; k++) {
      m[c * n + k] = m[c * n + k] / p;
      inv[c * n + k] = inv[c * n + k] / p;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c];
      for (let k = 0; k < n; k++) {
        m[r * n + k] = m[r * n + k] - f * m[c * n + k];
        inv[r * n + k] = inv[r * n + k] - f * inv[c * n + k];
      }
    }
  }
  return inv;
}

/** Principal square root of a matrix with positive eigenvalues by Denman–Beavers iteration. */
function sqrtmDenmanBeavers(a: Float64Array, n: number): Float64Array {
  let y = Float64Array.from(a);
  let z = diag(new Array<number>(n).fill(1));
  for (let it = 0; it < 60; it++) {
    const yInv = inverse(y, n);
    const zInv = inverse(z, n);
    y = y.map((v, i) => 0.5 * (v + zInv[i]));
    z = z.map((v, i) => 0.5 * (v + yInv[i]));
  }
  return y;
}

function relErr(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.abs(expected);
}

test('linalg: symmetricEigen reconstructs A and returns orthonormal vectors', (t) => {
  const n = 12;
  const q = randomOrthogonal(n, 3);
  const lambda = Array.from({ length: n }, (_, i) => (i - 4) * 0.75);
  const a = fromEigen(q, lambda, n);
  const { values, vectors } = symmetricEigen(a, n);
  lambda.forEach((l, i) => t.true(Math.abs(values[i] - l) < 1e-12));
  t.deepEqual([...symmetricEigenvalues(a, n)].map((v) => v.toFixed(9)), [...values].map((v) => v.toFixed(9)));
  const back = fromEigen(vectors, [...values], n);
  for (let i = 0; i < n * n; i++) t.true(Math.abs(back[i] - a[i]) < 1e-12);
  const gram = matMul(vectors, Float64Array.from({ length: n * n }, (_, k) => vectors[(k % n) * n + Math.floor(k / n)]), n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t.true(Math.abs(gram[i * n + j] - (i === j ? 1 : 0)) < 1e-12);
});

test('linalg: sqrtPsd squares back to A; tiny inputs work', (t) => {
  const n = 7;
  const a = fromEigen(randomOrthogonal(n, 5), [0, 0.01, 0.5, 1, 2, 3, 40], n);
  const s = sqrtPsd(a, n);
  const ss = matMul(s, s, n);
  for (let i = 0; i < n * n; i++) t.true(Math.abs(ss[i] - a[i]) < 1e-11);
  t.deepEqual([...symmetricEigen(new Float64Array([4]), 1).values], [4]);
  t.is(symmetricEigen(new Float64Array(0), 0).values.length, 0);
});

test('linalg: NaN input throws a usage error instead of looping', (t) => {
  const a = diag([1, 2, 3]);
  a[1] = NaN;
  a[3] = NaN;
  t.throws(() => symmetricEigen(a, 3), { instanceOf: GanpoolUsageError });
});

test('featureStats: mean and unbiased covariance of a known set', (t) => {
  // Samples (1,2), (3,6), (5,7): means 3 and 5; var 4 and 7; cov 5.
  const { mean, cov } = featureStats(new Float32Array([1, 2, 3, 6, 5, 7]), 3, 2);
  t.deepEqual([...mean], [3, 5]);
  t.deepEqual([...cov], [4, 5, 5, 7]);
  t.throws(() => featureStats(new Float32Array(5), 3, 2), { instanceOf: GanpoolUsageError });
  t.throws(() => featureStats(new Float32Array(2), 1, 2), { instanceOf: GanpoolUsageError });
});

test('frechetDistance (a): diagonal Gaussians match Σ(μ1−μ2)² + Σ(σ1−σ2)²', (t) => {
  const dim = 16;
  const g = rng(11);
  const mu1 = Array.from({ length: dim }, () => g() * 4 - 2);
  const mu2 = Array.from({ length: dim }, () => g() * 4 - 2);
  const s1 = Array.from({ length: dim }, () => 0.1 + g() * 3);
  const s2 = Array.from({ length: dim }, () => 0.1 + g() * 3);
  const a: FeatureStats = { mean: Float64Array.from(mu1), cov: diag(s1.map((s) => s * s)) };
  const b: FeatureStats = { mean: Float64Array.from(mu2), cov: diag(s2.map((s) => s * s)) };
  let expected = 0;
  for (let i = 0; i < dim; i++) expected += (mu1[i] - mu2[i]) ** 2 + (s1[i] - s2[i]) ** 2;
  t.true(relErr(frechetDistance(a, b), expected) <= 1e-9);
  t.true(relErr(frechetDistance(b, a), expected) <= 1e-9);
});

test('frechetDistance (b): Σb = c·Σa gives a trace term of (1 + c − 2√c)·Tr(Σa)', (t) => {
  const dim = 24;
  const lambda = Array.from({ length: dim }, (_, i) => 0.2 + i * 0.3);
  const covA = fromEigen(randomOrthogonal(dim, 7), lambda, dim);
  const mean = new Float64Array(dim);
  for (const c of [0.25, 2, 9]) {
    const covB = covA.map((v) => c * v);
    const expected = (1 + c - 2 * Math.sqrt(c)) * trace(covA, dim);
    t.true(relErr(frechetDistance({ mean, cov: covA }, { mean, cov: covB }), expected) <= 1e-9, `c=${c}`);
  }
});

test('frechetDistance (c): random rotated covariances match a Denman–Beavers sqrtm', (t) => {
  for (const [dim, seed] of [
    [5, 1],
    [10, 2],
    [16, 3],
  ] as const) {
    const g = rng(100 + seed);
    const covA = fromEigen(randomOrthogonal(dim, seed), Array.from({ length: dim }, () => 0.3 + 3 * g()), dim);
    const covB = fromEigen(randomOrthogonal(dim, seed + 50), Array.from({ length: dim }, () => 0.3 + 3 * g()), dim);
    const meanA = Float64Array.from({ length: dim }, () => g());
    const meanB = Float64Array.from({ length: dim }, () => g());
    let expected = trace(covA, dim) + trace(covB, dim) - 2 * trace(sqrtmDenmanBeavers(matMul(covA, covB, dim), dim), dim);
    for (let i = 0; i < dim; i++) expected += (meanA[i] - meanB[i]) ** 2;
    const actual = frechetDistance({ mean: meanA, cov: covA }, { mean: meanB, cov: covB });
    t.true(relErr(actual, expected) <= 1e-9, `dim ${dim}: ${actual} vs ${expected}`);
  }
});

test('frechetDistance (d): statistics of 20,000 samples approach the closed form', (t) => {
  const dim = 8;
  const n = 20_000;
  const q = randomOrthogonal(dim, 21);
  const lamA = [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4];
  const lamB = [4, 0.25, 2, 1, 3, 0.5, 1.5, 6];
  const muA = [1, 0, -1, 2, 0, 0, 1, -2];
  const muB = [0, 1, -1, 0, 1, 0, -1, 0];
  const sample = (mu: number[], lam: number[], seed: number): FeatureStats => {
    const g = gaussian(seed);
    const x = new Float32Array(n * dim);
    for (let s = 0; s < n; s++) {
      const z = lam.map((l) => Math.sqrt(l) * g());
      for (let i = 0; i < dim; i++) {
        let v = mu[i];
        for (let p = 0; p < dim; p++) v += q[p * dim + i] * z[p];
        x[s * dim + i] = v;
      }
    }
    return featureStats(x, n, dim);
  };
  // Σa and Σb share eigenvectors, so they commute: FD = ‖Δμ‖² + Σ(√λa − √λb)².
  let expected = 0;
  for (let i = 0; i < dim; i++) expected += (muA[i] - muB[i]) ** 2 + (Math.sqrt(lamA[i]) - Math.sqrt(lamB[i])) ** 2;
  const actual = frechetDistance(sample(muA, lamA, 1), sample(muB, lamB, 2));
  t.true(relErr(actual, expected) < 0.03, `${actual} vs ${expected}`);
});

test('frechetDistance (e): identical sets give ~0', (t) => {
  const dim = 64;
  const n = 500;
  const g = gaussian(9);
  const x = Float32Array.from({ length: n * dim }, (_, k) => g() * (1 + (k % dim) / 8) + (k % 5));
  const stats = featureStats(x, n, dim);
  const scale = trace(stats.cov, dim);
  t.true(Math.abs(frechetDistance(stats, stats)) < 1e-8 * scale);
});

test('frechetDistance: singular covariances (n < dim) and dimension mismatch', (t) => {
  const dim = 32;
  const g = gaussian(4);
  const make = () => featureStats(Float32Array.from({ length: 10 * dim }, g), 10, dim);
  const a = make();
  const b = make();
  const d = frechetDistance(a, b);
  t.true(Number.isFinite(d) && d > 0);
  t.true(Math.abs(frechetDistance(a, a)) < 1e-8 * trace(a.cov, dim));
  t.throws(() => frechetDistance(a, featureStats(new Float32Array(6), 3, 2)), { instanceOf: GanpoolUsageError });
});

test('frechetDistance: dim 128 is fast', (t) => {
  const dim = 128;
  const g = gaussian(5);
  const a = featureStats(Float32Array.from({ length: 1000 * dim }, g), 1000, dim);
  const b = featureStats(Float32Array.from({ length: 1000 * dim }, () => g() * 1.5), 1000, dim);
  frechetDistance(a, b);
  const t0 = performance.now();
  frechetDistance(a, b);
  const ms = performance.now() - t0;
  t.log(`dim 128: ${ms.toFixed(1)} ms`);
  t.true(ms < 1000); // ~30 ms on a laptop core; generous for loaded CI machines.
});

/** n rows of `classes` probabilities: `peak` on the row's class, the rest spread evenly. */
function oneHotish(labels: number[], classes: number, peak: number): Float32Array {
  const p = new Float32Array(labels.length * classes).fill((1 - peak) / (classes - 1));
  labels.forEach((c, i) => (p[i * classes + c] = peak));
  return p;
}

test('classifierScore: balanced confident predictions score near the class count', (t) => {
  const labels = Array.from({ length: 1000 }, (_, i) => i % 10);
  const score = classifierScore(oneHotish(labels, 10, 0.9991), 1000, 10);
  t.true(score >= 9.5 && score <= 10, `${score}`);
  const exact = classifierScore(oneHotish(labels, 10, 1), 1000, 10);
  t.true(Math.abs(exact - 10) < 1e-6, `${exact}`);
});

test('classifierScore: one repeated prediction and uniform predictions both score 1', (t) => {
  const same = oneHotish(new Array<number>(500).fill(3), 10, 0.9);
  t.true(Math.abs(classifierScore(same, 500, 10) - 1) < 1e-9);
  const hard = oneHotish(new Array<number>(500).fill(3), 10, 1);
  t.true(Math.abs(classifierScore(hard, 500, 10) - 1) < 1e-9);
  const uniform = new Float32Array(500 * 10).fill(0.1);
  t.true(Math.abs(classifierScore(uniform, 500, 10) - 1) < 1e-9);
  t.throws(() => classifierScore(uniform, 499, 10), { instanceOf: GanpoolUsageError });
});

test('classHistogram: counts argmax classes and applies the coverage threshold', (t) => {
  // 100 samples, 10 classes: threshold max(1, 0.1·100/10) = 1.
  const labels = [...new Array<number>(60).fill(0), ...new Array<number>(39).fill(1), 7];
  const h = classHistogram(oneHotish(labels, 10, 0.8), 100, 10);
  t.deepEqual(h.counts, [60, 39, 0, 0, 0, 0, 0, 1, 0, 0]);
  t.is(h.threshold, 1);
  t.is(h.covered, 3);
  // 1000 samples, 10 classes: threshold 10, so a class with 9 samples is not covered.
  const big = [...new Array<number>(500).fill(2), ...new Array<number>(491).fill(5), ...new Array<number>(9).fill(8)];
  const hb = classHistogram(oneHotish(big, 10, 0.5), 1000, 10);
  t.is(hb.threshold, 10);
  t.is(hb.counts[8], 9);
  t.is(hb.covered, 2);
  // Ties go to the lowest index.
  t.deepEqual(classHistogram(new Float32Array([0.5, 0.5, 0]), 1, 3).counts, [1, 0, 0]);
});

test('classAgreement: per-class share of rows whose most probable class is their label', (t) => {
  // 5 rows, 3 classes: rows 0, 1 drawn for class 0 (one right), rows 2, 3 for class 1 (both right), row 4 for class 2 (wrong).
  const probs = Float32Array.from([0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.2, 0.5, 0.3, 0.1, 0.6, 0.3, 0.6, 0.3, 0.1]);
  const a = classAgreement(probs, 5, 3, [0, 0, 1, 1, 2]);
  t.deepEqual(a.perClass, [0.5, 1, 0]);
  t.is(a.mean, 0.5);
  const missing = classAgreement(probs, 5, 3, [0, 0, 1, 1, 1]);
  t.true(Number.isNaN(missing.perClass[2]));
  t.is(missing.mean, (0.5 + 2 / 3) / 2);
  t.throws(() => classAgreement(probs, 5, 3, [0, 1]), { instanceOf: RangeError });
});
