/**
 * Adam, applied once per phase to the parameters held in shared memory.
 * Same update as tf.train.adam / Keras:
 * m̂ = m/(1-β1ᵗ), v̂ = v/(1-β2ᵗ), p -= lr·m̂/(√v̂ + ε).
 * The gradient is read straight from the shard slots (g = Σ wₖ·slotₖ), so
 * averaging and the update are one pass over memory.
 */

/** Adam's hyper-parameters. */
export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** Adam's state for one network; plain data so it can be checkpointed. */
export interface AdamState {
  t: number;
  m: Float32Array;
  v: Float32Array;
}

/** Adam over one flat parameter vector. */
export class Adam {
  /** The moment estimates and step count. */
  readonly state: AdamState;
  private readonly opts: AdamOptions;

  constructor(size: number, opts: AdamOptions) {
    this.opts = opts;
    this.state = { t: 0, m: new Float32Array(size), v: new Float32Array(size) };
  }

  /**
   * Applies one update to `params` in place. The gradient is the weighted sum
   * of `slots` (one per shard, weights = the shards' shares of the batch).
   */
  step(params: Float32Array, slots: readonly Float32Array[], weights: readonly number[]): void {
    const { lr, beta1, beta2, epsilon } = this.opts;
    const s = this.state;
    s.t += 1;
    const c1 = lr / (1 - beta1 ** s.t), c2 = 1 / (1 - beta2 ** s.t);
    const m = s.m, v = s.v, n = params.length;
    const b1c = 1 - beta1, b2c = 1 - beta2;
    const one = slots.length === 1, two = slots.length === 2;
    const s0 = slots[0]!, s1 = slots[1] ?? s0, w0 = weights[0]!, w1 = weights[1] ?? 0;
    for (let i = 0; i < n; i++) {
      let g: number;
      if (one) g = w0 * s0[i]!;
      else if (two) g = w0 * s0[i]! + w1 * s1[i]!;
      else { g = 0; for (let k = 0; k < slots.length; k++) g += weights[k]! * slots[k]![i]!; }
      const mi = beta1 * m[i]! + b1c * g;
      const vi = beta2 * v[i]! + b2c * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i] = params[i]! - (c1 * mi) / (Math.sqrt(vi * c2) + epsilon);
    }
  }
}
