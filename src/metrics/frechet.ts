/**
 * Sample-quality metrics computed from a classifier's outputs on generated
 * images: the Fréchet distance between feature distributions ("FCD", the MNIST
 * analogue of FID), the Inception-score formula on class probabilities, and
 * the class histogram used to spot mode collapse. All arithmetic is float64.
 */

import { dimensionMismatchError, featureShapeError, probsShapeError } from '../errors.js';
import { congruence, symmetricEigen, symmetricEigenvalues, symmetrize, trace } from './linalg.js';

/** Mean and covariance of a set of feature vectors. */
export interface FeatureStats {
  /** Per-feature mean, length `dim`. */
  mean: Float64Array;
  /** Unbiased (divided by n − 1) covariance, `dim × dim`, row-major. */
  cov: Float64Array;
}

/**
 * Mean and unbiased covariance of `n` feature vectors of length `dim`, stored
 * row-major in `features` (sample i is `features[i*dim .. i*dim+dim)`).
 */
export function featureStats(features: Float32Array, n: number, dim: number): FeatureStats {
  if (!(n >= 2 && dim >= 1 && Number.isInteger(n) && Number.isInteger(dim)) || features.length !== n * dim) {
    throw featureShapeError(features.length, n, dim);
  }
  const mean = featureMean(features, n, dim);
  const cov = new Float64Array(dim * dim);
  const row = new Float64Array(dim);
  for (let s = 0; s < n; s++) {
    const base = s * dim;
    for (let i = 0; i < dim; i++) row[i] = features[base + i] - mean[i];
    accumulateUpper(cov, row, dim);
  }
  finishCovariance(cov, dim, n - 1);
  return { mean, cov };
}

/** Per-feature mean of an `n × dim` row-major matrix. */
function featureMean(features: Float32Array, n: number, dim: number): Float64Array {
  const mean = new Float64Array(dim);
  for (let s = 0; s < n; s++) {
    const base = s * dim;
    for (let i = 0; i < dim; i++) mean[i] += features[base + i];
  }
  for (let i = 0; i < dim; i++) mean[i] = mean[i] / n;
  return mean;
}

/** Adds the upper triangle of `row · rowᵀ` into `cov`. */
function accumulateUpper(cov: Float64Array, row: Float64Array, dim: number): void {
  for (let i = 0; i < dim; i++) {
    const xi = row[i];
    if (xi === 0) continue;
    const base = i * dim;
    for (let j = i; j < dim; j++) cov[base + j] += xi * row[j];
  }
}

/** Divides the accumulated upper triangle by `denom` and mirrors it into the lower triangle. */
function finishCovariance(cov: Float64Array, dim: number, denom: number): void {
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const v = cov[i * dim + j] / denom;
      cov[i * dim + j] = v;
      cov[j * dim + i] = v;
    }
  }
}

/**
 * The squared Fréchet (2-Wasserstein) distance between the Gaussians
 * N(μa, Σa) and N(μb, Σb):
 * `‖μa − μb‖² + Tr(Σa) + Tr(Σb) − 2·Tr((Σa Σb)^{1/2})`.
 *
 * The trace term is computed without a non-symmetric matrix square root:
 * with `S = Σa^{1/2}` (symmetric eigendecomposition), `Σa Σb` is similar to the
 * symmetric PSD matrix `S Σb S`, so `Tr((Σa Σb)^{1/2}) = Σ √max(λ_i, 0)` over
 * its eigenvalues (see {@link traceSqrtProduct} for the form actually built). Rounding can leave the result a hair below 0
 * for identical inputs; it is returned as computed (not clamped).
 */
export function frechetDistance(a: FeatureStats, b: FeatureStats): number {
  const dim = a.mean.length;
  if (b.mean.length !== dim) throw dimensionMismatchError('frechetDistance', dim, b.mean.length);
  let meanTerm = 0;
  for (let i = 0; i < dim; i++) {
    const diff = a.mean[i] - b.mean[i];
    meanTerm += diff * diff;
  }
  return meanTerm + trace(a.cov, dim) + trace(b.cov, dim) - 2 * traceSqrtProduct(a.cov, b.cov, dim);
}

/**
 * `Tr((A B)^{1/2})` for symmetric PSD `A`, `B`. With `A = V Λ Vᵀ`, `A B` is
 * similar to `Λ^{1/2} (Vᵀ B V) Λ^{1/2}`, a symmetric PSD matrix whose square-rooted
 * eigenvalues sum to the answer. Directions where `A` has no variance (λ ≤ 0)
 * contribute nothing and are dropped, which also shrinks the second solve.
 */
export function traceSqrtProduct(a: Float64Array, b: Float64Array, dim: number): number {
  const { values, vectors } = symmetricEigen(symmetrize(a, dim), dim);
  const keep = [...values.keys()].filter((q) => values[q] > 0);
  const m = keep.length;
  const basis = new Float64Array(m * dim);
  keep.forEach((q, row) => basis.set(vectors.subarray(q * dim, q * dim + dim), row * dim));
  const c = congruence(basis, m, symmetrize(b, dim), dim);
  const roots = keep.map((q) => Math.sqrt(values[q]));
  for (let p = 0; p < m; p++) {
    for (let q = 0; q < m; q++) c[p * m + q] = c[p * m + q] * roots[p] * roots[q];
  }
  let sum = 0;
  for (const v of symmetricEigenvalues(c, m)) sum += Math.sqrt(Math.max(v, 0));
  return sum;
}

/** Probabilities below this are treated as this when taking logs, so log(0) never appears. */
const LOG_FLOOR = 1e-12;

/**
 * The Inception-score formula `exp(E_x KL(p(y|x) ‖ p(y)))` on `n` rows of
 * `classes` probabilities (row-major), where `p(y)` is the mean row. Logs are
 * taken of `max(p, 1e-12)`, so a zero probability contributes 0 to the sum.
 * Ranges from 1 (every sample predicted alike) to `classes` (confident and balanced).
 */
export function classifierScore(probs: Float32Array, n: number, classes: number): number {
  checkProbsShape(probs, n, classes);
  const marginal = new Float64Array(classes);
  for (let s = 0; s < n; s++) {
    for (let c = 0; c < classes; c++) marginal[c] += probs[s * classes + c];
  }
  const logMarginal = marginal.map((m) => Math.log(Math.max(m / n, LOG_FLOOR)));
  let klSum = 0;
  for (let s = 0; s < n; s++) {
    for (let c = 0; c < classes; c++) {
      const p = probs[s * classes + c];
      if (p > 0) klSum += p * (Math.log(Math.max(p, LOG_FLOOR)) - logMarginal[c]);
    }
  }
  return Math.exp(klSum / n);
}

/** How many samples the classifier assigned to each class, and how many classes are covered. */
export interface ClassHistogram {
  /** `counts[c]` = number of rows whose argmax is class c (ties go to the lowest index). */
  counts: number[];
  /** Number of classes with `counts[c] >= threshold`. */
  covered: number;
  /** The coverage threshold used: `max(1, 0.1 · n / classes)` samples. */
  threshold: number;
}

/**
 * Histogram of argmax classes over `n` rows of `classes` probabilities. A class
 * counts as covered when it holds at least `max(1, 0.1 · n / classes)` samples,
 * i.e. at least a tenth of its share under a perfectly balanced generator (and
 * never fewer than one sample), so a handful of stray predictions do not count
 * as coverage of a collapsed mode.
 */
export function classHistogram(probs: Float32Array, n: number, classes: number): ClassHistogram {
  checkProbsShape(probs, n, classes);
  const counts = new Array<number>(classes).fill(0);
  for (let s = 0; s < n; s++) counts[argmax(probs, s * classes, classes)] += 1;
  const threshold = Math.max(1, (0.1 * n) / classes);
  const covered = counts.filter((c) => c >= threshold).length;
  return { counts, covered, threshold };
}

/** How often a conditional generator's images are classified as the class they were drawn for. */
export interface ClassAgreement {
  /** Per class k: the share of the images drawn for k that the classifier puts in k (NaN for a class with no images). */
  perClass: number[];
  /** The mean of perClass over the classes that have images. */
  mean: number;
}

/**
 * The agreement between the classes images were drawn for (`labels`, one per
 * row) and the classifier's most probable class (`probs`, n × classes).
 */
export function classAgreement(probs: Float32Array, n: number, classes: number, labels: ArrayLike<number>): ClassAgreement {
  checkProbsShape(probs, n, classes);
  if (labels.length !== n) throw new RangeError(`classAgreement: ${labels.length} labels for ${n} images`);
  const drawn = new Array<number>(classes).fill(0), right = new Array<number>(classes).fill(0);
  for (let s = 0; s < n; s++) {
    const y = labels[s];
    drawn[y] += 1;
    if (argmax(probs, s * classes, classes) === y) right[y] += 1;
  }
  const perClass = drawn.map((d, k) => (d > 0 ? right[k] / d : Number.NaN));
  const present = perClass.filter((a) => !Number.isNaN(a));
  return { perClass, mean: present.reduce((a, b) => a + b, 0) / present.length };
}

/** Index (relative to `offset`) of the largest of `len` values; the first one wins ties. */
function argmax(values: Float32Array, offset: number, len: number): number {
  let best = 0;
  for (let c = 1; c < len; c++) if (values[offset + c] > values[offset + best]) best = c;
  return best;
}

/** Throws unless `probs` is an `n × classes` matrix with n, classes ≥ 1. */
function checkProbsShape(probs: Float32Array, n: number, classes: number): void {
  if (!(n >= 1 && classes >= 1 && Number.isInteger(n) && Number.isInteger(classes)) || probs.length !== n * classes) {
    throw probsShapeError(probs.length, n, classes);
  }
}

/** The metrics of one set of images. */
export interface EvalMetrics {
  /** Images scored. */
  n: number;
  /** Fréchet distance to the real training images' classifier features (lower is better). */
  fcd: number;
  /** exp(E KL(p(y|x) ‖ p(y))): 1 (all alike) … 10 (confident and balanced). */
  classifierScore: number;
  /** Images per predicted class. */
  histogram: number[];
  /** Classes holding at least a tenth of their balanced share. */
  classesCovered: number;
  /**
   * Conditional generators (images drawn for given classes): how often the classifier
   * agrees with the class each image was drawn for, per class and on average.
   */
  classAgreement?: ClassAgreement;
}
