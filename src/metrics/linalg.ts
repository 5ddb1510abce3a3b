/**
 * Small dense linear algebra in float64 for the Fréchet distance: matrix
 * products and the eigendecomposition of a real symmetric matrix.
 *
 * Matrices are flat `Float64Array`s, `n × n`, row-major. The eigen solver is
 * the Householder tridiagonalisation + implicit QL iteration of EISPACK
 * (`tred2`/`tql2`, as in JAMA), O(n³); it is laid out so that every inner loop
 * walks memory contiguously, which keeps n = 256 in the tens of milliseconds.
 */

import { eigenNoConvergence, nonFiniteMatrixError } from '../errors.js';

/** The eigendecomposition of a symmetric matrix: `A = Σ_i values[i] · v_i v_iᵀ`. */
export interface SymmetricEigen {
  /** Eigenvalues in ascending order. */
  values: Float64Array;
  /** Unit eigenvectors as rows: component k of eigenvector i is `vectors[i * n + k]`. */
  vectors: Float64Array;
}

/** Most QL sweeps spent on one eigenvalue before giving up (EISPACK uses 30). */
const MAX_QL_SWEEPS = 60;

/** `A · B` for square `n × n` row-major matrices. */
export function matMul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let k = 0; k < n; k++) {
      const aik = a[row + k];
      if (aik === 0) continue;
      const bRow = k * n;
      for (let j = 0; j < n; j++) out[row + j] += aik * b[bRow + j];
    }
  }
  return out;
}

/** Dot product of row `ra` of `a` with row `rb` of `b`, both `n` wide. Four accumulators, for speed. */
function rowDot(a: Float64Array, ra: number, b: Float64Array, rb: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const oa = ra * n;
  const ob = rb * n;
  let k = 0;
  for (; k + 3 < n; k += 4) {
    s0 += a[oa + k] * b[ob + k];
    s1 += a[oa + k + 1] * b[ob + k + 1];
    s2 += a[oa + k + 2] * b[ob + k + 2];
    s3 += a[oa + k + 3] * b[ob + k + 3];
  }
  for (; k < n; k++) s0 += a[oa + k] * b[ob + k];
  return s0 + s1 + s2 + s3;
}

/**
 * `E · B · Eᵀ` for a symmetric `n × n` matrix `B` and an `m × n` matrix `E`
 * (row-major); the result is `m × m` and exactly symmetric. With `E` holding
 * eigenvectors as rows this is `B` expressed in that eigenbasis.
 */
export function congruence(e: Float64Array, m: number, b: Float64Array, n: number): Float64Array {
  const t = new Float64Array(m * n); // t = E·B; row p is B·e_p because B is symmetric.
  for (let p = 0; p < m; p++) {
    for (let j = 0; j < n; j++) t[p * n + j] = rowDot(e, p, b, j, n);
  }
  const out = new Float64Array(m * m);
  for (let p = 0; p < m; p++) {
    for (let q = p; q < m; q++) {
      const v = rowDot(t, p, e, q, n);
      out[p * m + q] = v;
      out[q * m + p] = v;
    }
  }
  return out;
}

/** `(A + Aᵀ) / 2`, removing the asymmetry that rounding leaves in products of symmetric matrices. */
export function symmetrize(a: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = 0.5 * (a[i * n + j] + a[j * n + i]);
      out[i * n + j] = v;
      out[j * n + i] = v;
    }
  }
  return out;
}

/** The trace of a square `n × n` matrix. */
export function trace(a: Float64Array, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += a[i * n + i];
  return t;
}

/**
 * Eigenvalues (ascending) and eigenvectors of the symmetric `n × n` matrix `a`
 * (only read, never modified). Throws on NaN or ±Infinity entries, and if the
 * QL iteration does not converge.
 */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  // w holds Vᵀ: w[j * n + k] is V[k][j] in JAMA's notation. A is symmetric, so Vᵀ starts as A.
  const w = copyFinite(a, n);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { values: d, vectors: w };
  tridiagonalize(w, d, e, n, true);
  qlImplicit(w, d, e, n, true);
  return sortAscending(w, d, n);
}

/**
 * Eigenvalues (ascending) of the symmetric `n × n` matrix `a`, without the
 * eigenvectors: about twice as fast as {@link symmetricEigen}.
 */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  const w = copyFinite(a, n);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return d;
  tridiagonalize(w, d, e, n, false);
  qlImplicit(w, d, e, n, false);
  return d.sort();
}

/** A copy of the `n × n` matrix `a`; throws if any entry is NaN or ±Infinity. */
function copyFinite(a: Float64Array, n: number): Float64Array {
  const w = Float64Array.from(a.subarray(0, n * n));
  for (const v of w) if (!Number.isFinite(v)) throw nonFiniteMatrixError(n);
  return w;
}

/**
 * Householder reduction to tridiagonal form (EISPACK tred2): leaves the diagonal
 * in `d`, the off-diagonal in `e[1..n)`, and with `vectors` the accumulated
 * transform, transposed, in `w`.
 */
function tridiagonalize(w: Float64Array, d: Float64Array, e: Float64Array, n: number, vectors: boolean): void {
  for (let j = 0; j < n; j++) d[j] = w[j * n + n - 1]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = w[j * n + i - 1]!;
        w[j * n + i] = 0;
        w[i * n + j] = 0;
      }
    } else {
      h = householderStep(w, d, e, n, i, scale);
    }
    d[i] = h;
  }
  if (vectors) accumulateTransforms(w, d, n);
  else for (let j = 0; j < n; j++) d[j] = w[j * n + j]!;
  e[0] = 0;
}

/** One Householder reflection of tred2 for row `i`; returns the `h` that tred2 stores in `d[i]`. */
function householderStep(w: Float64Array, d: Float64Array, e: Float64Array, n: number, i: number, scale: number): number {
  let h = 0;
  for (let k = 0; k < i; k++) {
    d[k] = d[k] / scale;
    h += d[k] * d[k];
  }
  let f = d[i - 1];
  let g = f > 0 ? -Math.sqrt(h) : Math.sqrt(h);
  e[i] = scale * g;
  h -= f * g;
  d[i - 1] = f - g;
  e.fill(0, 0, i);
  for (let j = 0; j < i; j++) {
    const col = j * n;
    f = d[j]!;
    w[i * n + j] = f;
    g = e[j] + w[col + j] * f;
    for (let k = j + 1; k <= i - 1; k++) {
      g += w[col + k] * d[k];
      e[k] = e[k] + w[col + k] * f;
    }
    e[j] = g;
  }
  f = 0;
  for (let j = 0; j < i; j++) {
    e[j] = e[j] / h;
    f += e[j] * d[j];
  }
  const hh = f / (h + h);
  for (let j = 0; j < i; j++) e[j] = e[j] - hh * d[j];
  for (let j = 0; j < i; j++) {
    const col = j * n;
    f = d[j]!;
    g = e[j]!;
    for (let k = j; k <= i - 1; k++) w[col + k] = w[col + k] - (f * e[k] + g * d[k]);
    d[j] = w[col + i - 1]!;
    w[col + i] = 0;
  }
  return h;
}

/** Second half of tred2: turns the stored reflections into the orthogonal matrix (transposed, in `w`). */
function accumulateTransforms(w: Float64Array, d: Float64Array, n: number): void {
  for (let i = 0; i < n - 1; i++) {
    w[i * n + n - 1] = w[i * n + i]!;
    w[i * n + i] = 1;
    const h = d[i + 1];
    const next = (i + 1) * n;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = w[next + k] / h;
      for (let j = 0; j <= i; j++) {
        const col = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += w[next + k] * w[col + k];
        for (let k = 0; k <= i; k++) w[col + k] = w[col + k] - g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) w[next + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = w[j * n + n - 1]!;
    w[j * n + n - 1] = 0;
  }
  w[(n - 1) * n + n - 1] = 1;
}

/** Implicit QL iteration on the tridiagonal matrix (EISPACK tql2), rotating the eigenvectors in `w` when `vectors`. */
function qlImplicit(w: Float64Array, d: Float64Array, e: Float64Array, n: number, vectors: boolean): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && !(Math.abs(e[m]) <= eps * tst1)) m++;
    if (m > l) {
      let sweeps = 0;
      do {
        if (++sweeps > MAX_QL_SWEEPS) throw eigenNoConvergence(n);
        f += qlSweep(vectors ? w : null, d, e, n, l, m);
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] = d[l] + f;
    e[l] = 0;
  }
}

/** One implicitly shifted QL sweep over rows `l..m` (rotating `w` unless null); returns the shift applied. */
function qlSweep(w: Float64Array | null, d: Float64Array, e: Float64Array, n: number, l: number, m: number): number {
  let g = d[l];
  let p = (d[l + 1] - g) / (2 * e[l]);
  let r = Math.hypot(p, 1);
  if (p < 0) r = -r;
  d[l] = e[l] / (p + r);
  d[l + 1] = e[l] * (p + r);
  const dl1 = d[l + 1];
  let h = g - d[l];
  for (let i = l + 2; i < n; i++) d[i] = d[i] - h;
  const shift = h;
  p = d[m]!;
  let c = 1;
  let c2 = c;
  let c3 = c;
  const el1 = e[l + 1];
  let s = 0;
  let s2 = 0;
  for (let i = m - 1; i >= l; i--) {
    c3 = c2;
    c2 = c;
    s2 = s;
    g = c * e[i];
    h = c * p;
    r = Math.hypot(p, e[i]);
    e[i + 1] = s * r;
    s = e[i] / r;
    c = p / r;
    p = c * d[i] - s * g;
    d[i + 1] = h + s * (c * g + s * d[i]);
    if (w) rotate(w, n, i, s, c);
  }
  p = (-s * s2 * c3 * el1 * e[l]) / dl1;
  e[l] = s * p;
  d[l] = c * p;
  return shift;
}

/** Applies the Givens rotation (s, c) to eigenvector rows `i` and `i + 1` of `w`. */
function rotate(w: Float64Array, n: number, i: number, s: number, c: number): void {
  const a = i * n;
  const b = a + n;
  for (let k = 0; k < n; k++) {
    const h = w[b + k];
    const wi = w[a + k];
    w[b + k] = s * wi + c * h;
    w[a + k] = c * wi - s * h;
  }
}

/** Orders eigenvalues ascending, permuting the eigenvector rows to match. */
function sortAscending(w: Float64Array, d: Float64Array, n: number): SymmetricEigen {
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[x] - d[y]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = d[src]!;
    vectors.set(w.subarray(src * n, src * n + n), dst * n);
  });
  return { values, vectors };
}

/**
 * The principal square root of a symmetric positive semi-definite matrix,
 * `V · diag(√max(λ, 0)) · Vᵀ`; negative eigenvalues from rounding are treated as 0.
 */
export function sqrtPsd(a: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, n);
  const out = new Float64Array(n * n);
  for (let q = 0; q < n; q++) {
    const root = Math.sqrt(Math.max(values[q], 0));
    if (root === 0) continue;
    const v = q * n;
    for (let i = 0; i < n; i++) {
      const vi = root * vectors[v + i];
      if (vi === 0) continue;
      const row = i * n;
      for (let j = 0; j < n; j++) out[row + j] += vi * vectors[v + j];
    }
  }
  return out;
}
