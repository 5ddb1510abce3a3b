/**
 * Adam, applied once per phase to the parameters held in shared memory.
 * Same update as tf.train.adam / Keras:
 * m̂ = m/(1-β1ᵗ), v̂ = v/(1-β2ᵗ), p -= lr·m̂/(√v̂ + ε).
 * The gradient is read straight from the shard slots (g = Σ wₖ·slotₖ), so
 * averaging and the update are one pass over memory, and the pass can be
 * split into index ranges that different workers apply in parallel.
 *
 * The workers run the same update as a WebAssembly SIMD kernel
 * (adam-wasm.ts); `adamUpdate` here is its plain-JavaScript reference,
 * tested against tf.train.adam.
 */

/** Adam's hyper-parameters. */
export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** The vectors one Adam update reads and writes. */
export interface AdamVectors {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /** One gradient slot per shard. */
  slots: readonly Float32Array[];
}

/**
 * Applies update number `t` (1-based) to indices [lo, hi) of `vec`, the
 * gradient being Σ weights[k]·slots[k] (weights = the shards' batch shares).
 */
export function adamUpdate(vec: AdamVectors, weights: readonly number[], t: number, opts: AdamOptions, lo: number, hi: number): void {
  const { lr, beta1, beta2, epsilon } = opts;
  const c1 = lr / (1 - beta1 ** t), c2 = 1 / (1 - beta2 ** t);
  const { params, m, v, slots } = vec;
  const b1c = 1 - beta1, b2c = 1 - beta2;
  const s0 = slots[0], s1 = slots[1] ?? s0, w0 = weights[0], w1 = slots.length > 1 ? weights[1] : 0;
  const many = slots.length > 2;
  for (let i = lo; i < hi; i++) {
    let g = w0 * s0[i] + w1 * s1[i];
    if (many) for (let k = 2; k < slots.length; k++) g += weights[k] * slots[k][i];
    const mi = beta1 * m[i] + b1c * g;
    const vi = beta2 * v[i] + b2c * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = params[i] - (c1 * mi) / (Math.sqrt(vi * c2) + epsilon);
  }
}

/** Splits [0, n) into `parts` contiguous ranges (aligned to 16 elements, i.e. 64-byte cache lines). */
export function splitRange(n: number, parts: number): [number, number][] {
  const step = Math.ceil(n / parts / 16) * 16;
  const out: [number, number][] = [];
  for (let lo = 0; lo < n; lo += step) out.push([lo, Math.min(n, lo + step)]);
  return out;
}
