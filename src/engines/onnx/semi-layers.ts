/**
 * The semi-supervised GAN's op kinds (src/models/semi.ts) as ONNX ops, each
 * forward beside its backward, as layers.ts does for the presets' layers:
 * the weight-normalised dense layer, Gaussian noise, the activations
 * (ReLU, softplus, tanh), and the loss terms (cross-entropy on labelled rows,
 * the unlabelled-real and fake terms on log Z = logsumexp(logits), and
 * feature matching).
 *
 * All activations are flat [N, F]; parameters follow semiParams' order.
 */
import { attr, type GraphBuilder } from './graph.js';
import { SEMI_BN_EPSILON, type SemiSpec, type WnLayerSpec } from '../../models/semi.js';

/** One recorded forward step: its backward maps dy to dx and, when asked, its parameters' gradients (semiParams order within the layer). */
interface SemiStep {
  params: number[];
  backward(dy: string, need: { dx: boolean; params: boolean }): { dx: string | null; grads: string[] };
}

/** A forward pass through an MLP of weight-normalised layers. */
export interface SemiPass {
  /** The last computed activation [N, units]. */
  out: string;
  /** D passes: the last hidden layer's activation before its noise (the features G matches); null otherwise. */
  features: string | null;
  tape: SemiStep[];
}

function reduceSum(g: GraphBuilder, x: string, axes: number[], keepdims: boolean): string {
  return g.node('ReduceSum', [x, g.int64Const(axes)], { keepdims: attr.int(keepdims ? 1 : 0) });
}

// ---------------------------------------------------------------------------
// Op kinds: forward and backward side by side.
// ---------------------------------------------------------------------------

/**
 * Weight-normalised dense: n_j = ‖V[:, j]‖, W = V · s/n (s = 1 when not
 * trained), y = x·W + b.
 * Backward: dx = dy·Wᵀ, dW = xᵀ·dy, db = Σ_rows dy, c_j = Σ_i dW_ij V_ij / n_j,
 * ds = c, dV = (s/n) ⊙ (dW − V/n ⊙ c).
 */
export const WN_DENSE = {
  forward(g: GraphBuilder, x: string, [v, b, s]: string[]): { y: string; saved: { x: string; w: string; vhat: string; scaleOverNorm: string } } {
    const norm = g.node('Sqrt', [reduceSum(g, g.node('Mul', [v, v]), [0], true)]);
    const vhat = g.node('Div', [v, norm]);
    const w = s ? g.node('Mul', [vhat, s]) : vhat;
    const scaleOverNorm = s ? g.node('Div', [s, norm]) : g.node('Reciprocal', [norm]);
    return { y: g.node('Gemm', [x, w, b]), saved: { x, w, vhat, scaleOverNorm } };
  },
  backward(g: GraphBuilder, dy: string, saved: { x: string; w: string; vhat: string; scaleOverNorm: string }, trainScale: boolean,
    need: { dx: boolean; params: boolean }): { dx: string | null; grads: string[] } {
    const dx = need.dx ? g.node('Gemm', [dy, saved.w], { transB: attr.int(1) }) : null;
    if (!need.params) return { dx, grads: [] };
    const dW = g.node('Gemm', [saved.x, dy], { transA: attr.int(1) });
    const c = reduceSum(g, g.node('Mul', [dW, saved.vhat]), [0], true);
    const dV = g.node('Mul', [saved.scaleOverNorm, g.node('Sub', [dW, g.node('Mul', [saved.vhat, c])])]);
    const db = reduceSum(g, dy, [0], false);
    const grads = [dV, db];
    if (trainScale) grads.push(g.node('Reshape', [c, g.int64Const([-1])]));
    return { dx, grads };
  },
};

/**
 * Group batch norm without scale, then a bias: rows are taken in groups of g
 * consecutive rows (the row count a multiple of g), x̂ = (x − μ)/√(σ² + ε)
 * with μ, σ² (biased) per group and feature, y = x̂ + b.
 * Backward: db = Σ_rows dy, dx = (dy − mean_g(dy) − x̂·mean_g(dy·x̂)) / √(σ² + ε).
 * The dense map before it is plain: y = x·W, dx = dy·Wᵀ, dW = xᵀ·dy.
 */
export const GROUP_BATCH_NORM = {
  forward(g: GraphBuilder, x: string, b: string, group: number, units: number, epsilon: number): { y: string; saved: { xhat: string; invstd: string } } {
    const xr = g.node('Reshape', [x, g.int64Const([-1, group, units])]);
    const mean = g.node('ReduceMean', [xr], { axes: attr.ints([1]), keepdims: attr.int(1) });
    const xc = g.node('Sub', [xr, mean]);
    const variance = g.node('ReduceMean', [g.node('Mul', [xc, xc])], { axes: attr.ints([1]), keepdims: attr.int(1) });
    const invstd = g.node('Reciprocal', [g.node('Sqrt', [g.node('Add', [variance, g.floatConst(epsilon)])])]);
    const xhat = g.node('Mul', [xc, invstd]);
    return { y: g.node('Add', [g.node('Reshape', [xhat, g.int64Const([-1, units])]), b]), saved: { xhat, invstd } };
  },
  backward(g: GraphBuilder, dy: string, { xhat, invstd }: { xhat: string; invstd: string }, group: number, units: number,
    need: { dx: boolean; params: boolean }): { dx: string | null; grads: string[] } {
    const grads = need.params ? [reduceSum(g, dy, [0], false)] : [];
    if (!need.dx) return { dx: null, grads };
    const dyr = g.node('Reshape', [dy, g.int64Const([-1, group, units])]);
    const m1 = g.node('ReduceMean', [dyr], { axes: attr.ints([1]), keepdims: attr.int(1) });
    const m2 = g.node('ReduceMean', [g.node('Mul', [dyr, xhat])], { axes: attr.ints([1]), keepdims: attr.int(1) });
    const dx = g.node('Mul', [g.node('Sub', [g.node('Sub', [dyr, m1]), g.node('Mul', [xhat, m2])]), invstd]);
    return { dx: g.node('Reshape', [dx, g.int64Const([-1, units])]), grads };
  },
};

/** Plain dense without bias: y = x·W. Backward: dx = dy·Wᵀ, dW = xᵀ·dy. */
export const PLAIN_DENSE = {
  forward: (g: GraphBuilder, x: string, w: string): string => g.node('MatMul', [x, w]),
  backward(g: GraphBuilder, dy: string, x: string, w: string, need: { dx: boolean; params: boolean }): { dx: string | null; grads: string[] } {
    return {
      dx: need.dx ? g.node('Gemm', [dy, w], { transB: attr.int(1) }) : null,
      grads: need.params ? [g.node('Gemm', [x, dy], { transA: attr.int(1) })] : [],
    };
  },
};

/** Gaussian noise: y = x + σ·ε (ε an input of standard normals). Backward: dx = dy. */
export const GAUSSIAN_NOISE = {
  forward: (g: GraphBuilder, x: string, eps: string, sigma: number): string => g.node('Add', [x, g.node('Mul', [eps, g.floatConst(sigma)])]),
  backward: (dy: string): string => dy,
};

/**
 * The activations. relu: dx = dy where y > 0; softplus y = log(1 + eˣ):
 * dx = dy·σ(x); tanh: dx = dy·(1 − y²); linear: dx = dy.
 */
export const SEMI_ACTIVATION = {
  forward(g: GraphBuilder, x: string, a: WnLayerSpec['activation']): string {
    switch (a) {
      case 'relu': return g.node('Relu', [x]);
      case 'softplus': return g.node('Softplus', [x]);
      case 'tanh': return g.node('Tanh', [x]);
      case 'linear': return x;
    }
  },
  backward(g: GraphBuilder, dy: string, x: string, y: string, a: WnLayerSpec['activation']): string {
    switch (a) {
      case 'relu': return g.node('Where', [g.node('Greater', [y, g.floatConst(0)]), dy, g.floatConst(0)]);
      case 'softplus': return g.node('Mul', [dy, g.node('Sigmoid', [x])]);
      case 'tanh': return g.node('Mul', [dy, g.node('Sub', [g.floatConst(1), g.node('Mul', [y, y])])]);
      case 'linear': return dy;
    }
  },
};

// ---------------------------------------------------------------------------
// Networks
// ---------------------------------------------------------------------------

/** D's training-mode noise: `eps` [N, semiNoiseWidth] (the input's values, then each hidden layer's). */
export interface SemiNoise {
  eps: string;
  spec: SemiSpec;
}

/**
 * A forward pass through `layers` (parameters `params`, semiParams order) on
 * `x` [N, in]. D passes (`d` set): x is rescaled from [-1, 1] to [0, 1]
 * first, and with `noise` Gaussian noise is added to the input and after
 * each hidden layer; `upTo` stops after that many layers (the features
 * pass). G passes: `d` unset; `gFrom01` maps the output y to 2y − 1.
 */
export function forwardSemi(g: GraphBuilder, layers: readonly WnLayerSpec[], x: string, params: readonly string[],
  opts: { d?: { noise: SemiNoise | null }; upTo?: number; gFrom01?: boolean; bnGroup?: number } = {}): SemiPass {
  const tape: SemiStep[] = [];
  let h = x, k = 0, features: string | null = null;
  let noiseAt = 0;
  const noise = opts.d?.noise ?? null;
  const addNoise = (width: number, sigma: number): void => {
    if (!noise) { noiseAt += width; return; }
    const eps = g.node('Slice', [noise.eps, g.int64Const([noiseAt]), g.int64Const([noiseAt + width]), g.int64Const([1])]);
    noiseAt += width;
    h = GAUSSIAN_NOISE.forward(g, h, eps, sigma);
    tape.push({ params: [], backward: (dy) => ({ dx: GAUSSIAN_NOISE.backward(dy), grads: [] }) });
  };
  if (opts.d) {
    h = g.node('Add', [g.node('Mul', [h, g.floatConst(0.5)]), g.floatConst(0.5)]);
    tape.push({ params: [], backward: (dy, need) => ({ dx: need.dx ? g.node('Mul', [dy, g.floatConst(0.5)]) : null, grads: [] }) });
    if (noise) addNoise(noise.spec.imageShape[0] * noise.spec.imageShape[1] * noise.spec.imageShape[2], noise.spec.inputNoise);
  }
  const count = opts.upTo ?? layers.length;
  for (let i = 0; i < count; i++) {
    const layer = layers[i];
    const n = layer.trainScale && !layer.batchNorm ? 3 : 2;
    const idx = Array.from({ length: n }, (_, j) => k + j);
    const ps = idx.map((j) => params[j]);
    k += n;
    let pre: string;
    if (layer.batchNorm) {
      const group = opts.bnGroup;
      if (group === undefined) throw new Error('internal: a batch-norm layer needs the group size');
      const x = h;
      const lin = PLAIN_DENSE.forward(g, x, ps[0]);
      tape.push({ params: [idx[0]], backward: (dy, need) => PLAIN_DENSE.backward(g, dy, x, ps[0], need) });
      const bn = GROUP_BATCH_NORM.forward(g, lin, ps[1], group, layer.units, SEMI_BN_EPSILON);
      tape.push({ params: [idx[1]], backward: (dy, need) => GROUP_BATCH_NORM.backward(g, dy, bn.saved, group, layer.units, need) });
      pre = bn.y;
    } else {
      const wn = WN_DENSE.forward(g, h, ps);
      tape.push({ params: idx, backward: (dy, need) => WN_DENSE.backward(g, dy, wn.saved, layer.trainScale, need) });
      pre = wn.y;
    }
    const post = SEMI_ACTIVATION.forward(g, pre, layer.activation);
    const preValue = pre;
    if (layer.activation !== 'linear') {
      tape.push({ params: [], backward: (dy, need) => ({ dx: need.dx ? SEMI_ACTIVATION.backward(g, dy, preValue, post, layer.activation) : null, grads: [] }) });
    }
    h = post;
    const hidden = i < layers.length - 1;
    if (opts.d && hidden) {
      if (i === layers.length - 2) features = h;
      if (noise) addNoise(layer.units, noise.spec.hiddenNoise);
    }
  }
  if (opts.gFrom01) {
    // G's output from the [0, 1] scale to D's input scale: 2y − 1; backward ×2.
    h = g.node('Sub', [g.node('Mul', [h, g.floatConst(2)]), g.floatConst(1)]);
    tape.push({ params: [], backward: (dy, need) => ({ dx: need.dx ? g.node('Mul', [dy, g.floatConst(2)]) : null, grads: [] }) });
  }
  return { out: h, features, tape };
}

/**
 * Back through a pass from `dy`: the input gradient (when `need.input`) and
 * each parameter's gradient (when `need.params`; null for parameters of
 * layers the pass did not reach).
 */
export function backwardSemi(pass: SemiPass, dy: string, paramCount: number, need: { input: boolean; params: boolean }): { dx: string | null; grads: (string | null)[] } {
  const grads = new Array<string | null>(paramCount).fill(null);
  let d: string | null = dy;
  const firstParam = pass.tape.findIndex((s) => s.params.length > 0);
  for (let i = pass.tape.length - 1; i >= 0; i--) {
    const step = pass.tape[i];
    const wantDx = need.input || (need.params && i > firstParam);
    const wantParams = need.params && step.params.length > 0;
    if (!wantDx && !wantParams) break;
    const r = step.backward(d!, { dx: wantDx, params: wantParams });
    if (wantParams) step.params.forEach((p, j) => { grads[p] = r.grads[j]; });
    d = r.dx;
  }
  return { dx: need.input ? d : null, grads };
}

// ---------------------------------------------------------------------------
// Loss terms: forward (a scalar, the mean over rows) beside backward (its gradient in the logits).
// ---------------------------------------------------------------------------

function rowCount(g: GraphBuilder, x: string): string {
  return g.node('Cast', [g.node('Shape', [x], { end: attr.int(1) })], { to: attr.int(1) });
}

/** log Z = logsumexp over the classes, [N, 1], computed stably (max subtracted). */
function logZ(g: GraphBuilder, logits: string): string {
  const m = g.node('ReduceMax', [logits], { axes: attr.ints([1]), keepdims: attr.int(1) });
  const s = reduceSum(g, g.node('Exp', [g.node('Sub', [logits, m])]), [1], true);
  return g.node('Add', [m, g.node('Log', [s])]);
}

/** softplus(x) = relu(x) + log(1 + e^−|x|), stable for any x. */
function softplus(g: GraphBuilder, x: string): string {
  return g.node('Add', [g.node('Relu', [x]), g.node('Log', [g.node('Add', [g.floatConst(1), g.node('Exp', [g.node('Neg', [g.node('Abs', [x])])])])])]);
}

/** A loss term on logits [N, K]. */
export interface SemiLossTerm {
  forward(g: GraphBuilder, logits: string, y?: string): string;
  backward(g: GraphBuilder, logits: string, y?: string): string;
}

/** Supervised cross-entropy: mean over rows of lse(l) − ⟨y, l⟩ (y one-hot [N,K]). Gradient: (softmax(l) − y)/N. */
export const CROSS_ENTROPY: SemiLossTerm = {
  forward(g, logits, y) {
    const picked = reduceSum(g, g.node('Mul', [logits, y!]), [1], true);
    return g.node('ReduceMean', [g.node('Sub', [logZ(g, logits), picked])], { keepdims: attr.int(0) });
  },
  backward(g, logits, y) {
    return g.node('Div', [g.node('Sub', [g.node('Softmax', [logits], { axis: attr.int(1) }), y!]), rowCount(g, logits)]);
  },
};

/**
 * Unlabelled real rows: mean over rows of −lse(l) + softplus(lse(l)) (= −log D(x), D(x) = Z/(Z+1)).
 * Gradient: (σ(lse) − 1)·softmax(l)/N.
 */
export const UNLABELLED_REAL: SemiLossTerm = {
  forward(g, logits) {
    const lz = logZ(g, logits);
    return g.node('ReduceMean', [g.node('Sub', [softplus(g, lz), lz])], { keepdims: attr.int(0) });
  },
  backward(g, logits) {
    const coef = g.node('Sub', [g.node('Sigmoid', [logZ(g, logits)]), g.floatConst(1)]);
    return g.node('Div', [g.node('Mul', [coef, g.node('Softmax', [logits], { axis: attr.int(1) })]), rowCount(g, logits)]);
  },
};

/** Fake rows: mean over rows of softplus(lse(l)) (= −log(1 − D(x))). Gradient: σ(lse)·softmax(l)/N. */
export const FAKE: SemiLossTerm = {
  forward: (g, logits) => g.node('ReduceMean', [softplus(g, logZ(g, logits))], { keepdims: attr.int(0) }),
  backward(g, logits) {
    const coef = g.node('Sigmoid', [logZ(g, logits)]);
    return g.node('Div', [g.node('Mul', [coef, g.node('Softmax', [logits], { axis: attr.int(1) })]), rowCount(g, logits)]);
  },
};

/**
 * Feature matching, one shard's part: the full loss is mean_j (m_fake − m_real)_j² over the F features,
 * whose gradient in shard row r's fake features is δ/B, δ = 2(m_fake − m_real)/F (the batch means);
 * this shard computes ⟨δ, mean over its rows of f⟩, whose gradient δ/N_shard, weighted by N_shard/B, is that.
 * Forward: ⟨δ, mean_rows f⟩; backward: δ/N on every row.
 */
export const FEATURE_MATCHING = {
  forward: (g: GraphBuilder, features: string, delta: string): string =>
    reduceSum(g, g.node('Mul', [g.node('ReduceMean', [features], { axes: attr.ints([0]), keepdims: attr.int(0) }), delta]), [0], false),
  backward: (g: GraphBuilder, features: string, delta: string): string =>
    g.node('Expand', [g.node('Div', [delta, rowCount(g, features)]), g.node('Shape', [features])]),
};
