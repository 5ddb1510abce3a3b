/**
 * Adam, applied once per phase by the coordinator to the parameters held in
 * shared memory. Same update as tf.train.adam / Keras:
 * m̂ = m/(1-β1ᵗ), v̂ = v/(1-β2ᵗ), p -= lr·m̂/(√v̂ + ε).
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

  /** Applies one update to `params` in place from the mean gradient `grad`. */
  step(params: Float32Array, grad: Float32Array): void {
    const { lr, beta1, beta2, epsilon } = this.opts;
    const s = this.state;
    s.t += 1;
    const c1 = 1 / (1 - beta1 ** s.t), c2 = 1 / (1 - beta2 ** s.t);
    const m = s.m, v = s.v, n = params.length;
    const b1c = 1 - beta1, b2c = 1 - beta2;
    for (let i = 0; i < n; i++) {
      const g = grad[i]!;
      const mi = beta1 * m[i]! + b1c * g;
      const vi = beta2 * v[i]! + b2c * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i] = params[i]! - (lr * mi * c1) / (Math.sqrt(vi * c2) + epsilon);
    }
  }
}
