/**
 * Every layer kind's forward and backward pass as ONNX ops, side by side:
 * nothing else knows how an op differentiates. A network's forward pass
 * (forwardNet) records a tape of steps; backwardNet walks it in reverse and
 * computes only what was asked for (no input gradient of the first layer
 * unless wanted, no parameter gradients in a pass that only needs input
 * gradients).
 *
 * Layouts: the specs (models.ts) and the graph's inputs and outputs use
 * tf.layers' layouts (NHWC images, [k,k,in,out] conv kernels, [k,k,out,in]
 * transposed-conv kernels); ONNX's Conv/ConvTranspose want NCHW and
 * [out,in,k,k]/[in,out,k,k]. Every conversion between the two lives in the
 * "Layouts" section below. Activations carry their layout and convert lazily
 * where an op needs another one (a conversion is a tape step too), so an MLP
 * never transposes and a conv net transposes once at each end.
 */
import { attr, type GraphBuilder } from './graph.js';
import { bnLayers, outputShape, paramShapes, sizeOf, type Activation, type NetSpec } from '../../models/presets.js';
import type { GanLoss } from '../../models/losses.js';

/** How an activation's values are laid out: [N,F], [N,H,W,C] or [N,C,H,W]. */
export type Layout = 'flat' | 'nhwc' | 'nchw';

/** An activation tensor of the graph: its value name, layout and tf shape without the batch ([F] or [H,W,C]). */
export interface Act {
  name: string;
  layout: Layout;
  shape: number[];
}

/** What a step's backward pass must produce. */
export interface Need {
  dx: boolean;
  params: boolean;
}

/** One recorded forward step. */
export interface Step {
  /** Indices (paramShapes order) of the parameters it owns, aligned with the `grads` its backward returns. */
  params: number[];
  /** Gradient of the step's input (in the input's layout) and of its parameters (tf.layers shapes) from that of its output. */
  backward(dy: string, need: Need): { dx: string | null; grads: string[] };
}

// ---------------------------------------------------------------------------
// Layouts: the one place that converts between tf.layers' layouts and ONNX's.
// ---------------------------------------------------------------------------

/** The layout tf.layers uses for a value of this (batchless) shape. */
export function tfLayout(shape: readonly number[]): Layout {
  if (shape.length === 1) return 'flat';
  if (shape.length === 3) return 'nhwc';
  throw new Error(`onnx: unsupported activation rank ${shape.length + 1} (shape [N,${shape.join(',')}])`);
}

function relayout(g: GraphBuilder, name: string, shape: readonly number[], from: Layout, to: Layout): string {
  if (from === to) return name;
  if (from === 'flat' || to === 'flat') throw new Error(`internal: cannot relayout ${from} to ${to}`);
  const [h, w, c] = shape as [number, number, number];
  // With one channel (or one pixel) NHWC and NCHW hold the same bytes.
  if (c === 1 || h * w === 1) return g.node('Reshape', [name, g.int64Const(to === 'nchw' ? [0, c, h, w] : [0, h, w, c])]);
  return g.node('Transpose', [name], { perm: attr.ints(to === 'nchw' ? [0, 3, 1, 2] : [0, 2, 3, 1]) });
}

/** `act` in layout `to`; recorded on `tape` (when given) so the gradient converts back. */
export function toLayout(g: GraphBuilder, tape: Step[] | null, act: Act, to: Layout): Act {
  if (act.layout === to) return act;
  const y: Act = { name: relayout(g, act.name, act.shape, act.layout, to), layout: to, shape: act.shape };
  tape?.push({ params: [], backward: (dy) => ({ dx: relayout(g, dy, act.shape, to, act.layout), grads: [] }) });
  return y;
}

/** A graph value in tf.layers' layout as an activation. */
export function fromTf(name: string, shape: number[]): Act {
  return { name, layout: tfLayout(shape), shape };
}

/** An activation's value in tf.layers' layout (NHWC images). */
export function toTf(g: GraphBuilder, act: Act): string {
  return relayout(g, act.name, act.shape, act.layout, tfLayout(act.shape));
}

/** A gradient in `act`'s layout, given in tf.layers' layout. */
export function gradFromTf(g: GraphBuilder, dy: string, act: Act): string {
  return relayout(g, dy, act.shape, tfLayout(act.shape), act.layout);
}

/**
 * A tf.layers kernel as an ONNX weight: conv2d [k,k,in,out] -> Conv W
 * [out,in,k,k]; conv2dTranspose [k,k,out,in] -> ConvTranspose W [in,out,k,k].
 * Both are perm [3,2,0,1]. Shared by every pass that uses the kernel.
 */
function onnxKernel(g: GraphBuilder, kernel: string): string {
  return g.memo(`kernel:${kernel}`, () => g.node('Transpose', [kernel], { perm: attr.ints([3, 2, 0, 1]) }));
}

/** A [a,b,k,k] kernel gradient (filterGrad's layout) as tf.layers' [k,k,a,b]. */
function tfKernelGrad(g: GraphBuilder, grad: string): string {
  return g.node('Transpose', [grad], { perm: attr.ints([2, 3, 0, 1]) });
}

/** A per-channel vector [C] shaped to broadcast against `rank4 ? NCHW : [N,C]`. */
function channelVector(g: GraphBuilder, v: string, rank4: boolean): string {
  if (!rank4) return v;
  return g.memo(`chan:${v}`, () => g.node('Reshape', [v, g.int64Const([-1, 1, 1])]));
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/** tfjs 'same' padding along one axis: [begin, end, out]. */
export function samePads(size: number, k: number, s: number): [number, number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + k - size, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin, out];
}

function reduceSum(g: GraphBuilder, x: string, axes: number[], keepdims: boolean): string {
  return g.node('ReduceSum', [x, g.int64Const(axes)], { keepdims: attr.int(keepdims ? 1 : 0) });
}

/** A bias gradient: the sum over batch (and spatial) axes. */
function biasGrad(g: GraphBuilder, dy: string, rank4: boolean): string {
  return reduceSum(g, dy, rank4 ? [0, 2, 3] : [0], false);
}

/**
 * The gradient of a conv's filter, as a conv on transposed tensors: input
 * `input`^T [Cin,N,H,W] with "weights" `outGrad`^T [Cout,N,Ho,Wo], dilation =
 * stride, the forward pads: [Cin,Cout,k',k'] (sliced to k), returned as
 * tf.layers' [k,k,Cin,Cout].
 */
function filterGrad(g: GraphBuilder, input: string, inSize: [number, number], outGrad: string, outSize: [number, number],
  k: number, s: number, pads: number[]): string {
  const xt = g.node('Transpose', [input], { perm: attr.ints([1, 0, 2, 3]) });
  const dt = g.node('Transpose', [outGrad], { perm: attr.ints([1, 0, 2, 3]) });
  let r = g.node('Conv', [xt, dt], {
    kernel_shape: attr.ints(outSize), dilations: attr.ints([s, s]), strides: attr.ints([1, 1]), pads: attr.ints(pads),
  });
  const kh = inSize[0] + pads[0] + pads[2] - s * (outSize[0] - 1);
  const kw = inSize[1] + pads[1] + pads[3] - s * (outSize[1] - 1);
  if (kh !== k || kw !== k) r = g.node('Slice', [r, g.int64Const([0, 0]), g.int64Const([k, k]), g.int64Const([2, 3])]);
  return tfKernelGrad(g, r);
}

/** Geometry of a k×k, stride-s 'same' conv from `big` down to ceil(big/s) (a conv2d forward, a conv2dTranspose backward). */
function convGeometry(big: [number, number], k: number, s: number): { pads: number[]; small: [number, number]; outputPadding: number[] } {
  const [t, b, ho] = samePads(big[0], k, s);
  const [l, r, wo] = samePads(big[1], k, s);
  // The transposed direction (small -> big) gives (small-1)*s + k - pads; the rest is output_padding.
  const outputPadding = [big[0] - ((ho - 1) * s + k - t - b), big[1] - ((wo - 1) * s + k - l - r)];
  return { pads: [t, l, b, r], small: [ho, wo], outputPadding };
}

function convTransposeAttrs(k: number, s: number, pads: number[], outputPadding: number[]): Record<string, ReturnType<typeof attr.int>> {
  return {
    kernel_shape: attr.ints([k, k]), strides: attr.ints([s, s]), pads: attr.ints(pads),
    ...(outputPadding.some((p) => p !== 0) ? { output_padding: attr.ints(outputPadding) } : {}),
  };
}

// ---------------------------------------------------------------------------
// Layer kinds: forward and backward side by side.
// ---------------------------------------------------------------------------

/** One layer kind: the layout it takes, its forward pass and, next to it, its backward pass. */
interface Op<Cfg, Saved> {
  layout(x: Act): Layout;
  /** `stats`: a training-mode batch norm's batch mean and biased variance. */
  forward(g: GraphBuilder, x: Act, cfg: Cfg, params: string[]): { y: Act; saved: Saved; stats?: string[] };
  backward(g: GraphBuilder, dy: string, saved: Saved, cfg: Cfg, params: string[], need: Need): { dx: string | null; grads: string[] };
}

/** Dense: y = x·W + b (W [in,out], as tf.layers). */
const DENSE: Op<{ units: number; useBias: boolean }, { x: string }> = {
  layout: () => 'flat',
  forward(g, x, cfg, [w, b]) {
    const y = b ? g.node('Gemm', [x.name, w, b]) : g.node('MatMul', [x.name, w]);
    return { y: { name: y, layout: 'flat', shape: [cfg.units] }, saved: { x: x.name } };
  },
  backward(g, dy, { x }, cfg, [w], need) {
    const dx = need.dx ? g.node('Gemm', [dy, w], { transB: attr.int(1) }) : null;
    const grads = need.params ? [g.node('Gemm', [x, dy], { transA: attr.int(1) })] : [];
    if (need.params && cfg.useBias) grads.push(biasGrad(g, dy, false));
    return { dx, grads };
  },
};

/**
 * Projection (a conditional D's output): with φ the features [N,F] and Y the
 * pass's one-hot labels [N,K], logit = φW + b + rowsum((Y·E) ⊙ φ) (W [F,1],
 * b [1], E [K,F]).
 */
const PROJECTION: Op<{ labels: string }, { x: string; ye: string }> = {
  layout: () => 'flat',
  forward(g, x, { labels }, [w, b, e]) {
    const ye = g.node('MatMul', [labels, e]);
    const inner = reduceSum(g, g.node('Mul', [ye, x.name]), [1], true);
    const y = g.node('Add', [g.node('Gemm', [x.name, w, b]), inner]);
    return { y: { name: y, layout: 'flat', shape: [1] }, saved: { x: x.name, ye } };
  },
  backward(g, dy, { x, ye }, { labels }, [w], need) {
    // dφ = dy·Wᵀ + dy ⊙ (Y·E); dW = φᵀ·dy; db = Σ dy; dE = Yᵀ·(dy ⊙ φ) (dy [N,1] broadcasts over F).
    const dx = need.dx ? g.node('Add', [g.node('Gemm', [dy, w], { transB: attr.int(1) }), g.node('Mul', [dy, ye])]) : null;
    const grads = need.params ? [
      g.node('Gemm', [x, dy], { transA: attr.int(1) }),
      biasGrad(g, dy, false),
      g.node('Gemm', [labels, g.node('Mul', [dy, x])], { transA: attr.int(1) }),
    ] : [];
    return { dx, grads };
  },
};

type ConvCfg = { filters: number; k: number; s: number; useBias: boolean };

/** conv2d, 'same' padding: ONNX Conv. */
const CONV2D: Op<ConvCfg, { x: string; inSize: [number, number]; pads: number[]; outSize: [number, number]; outputPadding: number[] }> = {
  layout: () => 'nchw',
  forward(g, x, { filters, k, s }, [w, b]) {
    const inSize: [number, number] = [x.shape[0], x.shape[1]];
    const { pads, small, outputPadding } = convGeometry(inSize, k, s);
    const inputs = [x.name, onnxKernel(g, w), ...(b ? [b] : [])];
    const y = g.node('Conv', inputs, { kernel_shape: attr.ints([k, k]), strides: attr.ints([s, s]), pads: attr.ints(pads) });
    return { y: { name: y, layout: 'nchw', shape: [...small, filters] }, saved: { x: x.name, inSize, pads, outSize: small, outputPadding } };
  },
  backward(g, dy, { x, inSize, pads, outSize, outputPadding }, { k, s, useBias }, [w], need) {
    // The input gradient is the transposed conv of dy with the same kernel, strides and pads.
    const dx = need.dx ? g.node('ConvTranspose', [dy, onnxKernel(g, w)], convTransposeAttrs(k, s, pads, outputPadding)) : null;
    const grads: string[] = [];
    if (need.params) {
      grads.push(filterGrad(g, x, inSize, dy, outSize, k, s, pads));
      if (useBias) grads.push(biasGrad(g, dy, true));
    }
    return { dx, grads };
  },
};

/** conv2dTranspose, 'same' padding (out = in·s): ONNX ConvTranspose, the adjoint of the conv from out down to in. */
const CONV2D_TRANSPOSE: Op<ConvCfg, { x: string; inSize: [number, number]; pads: number[]; outSize: [number, number] }> = {
  layout: () => 'nchw',
  forward(g, x, { filters, k, s }, [w, b]) {
    const inSize: [number, number] = [x.shape[0], x.shape[1]];
    const outSize: [number, number] = [inSize[0] * s, inSize[1] * s];
    const { pads, outputPadding } = convGeometry(outSize, k, s);
    const inputs = [x.name, onnxKernel(g, w), ...(b ? [b] : [])];
    const y = g.node('ConvTranspose', inputs, convTransposeAttrs(k, s, pads, outputPadding));
    return { y: { name: y, layout: 'nchw', shape: [...outSize, filters] }, saved: { x: x.name, inSize, pads, outSize } };
  },
  backward(g, dy, { x, inSize, pads, outSize }, { k, s, useBias }, [w], need) {
    // The input gradient is the conv of dy with the same kernel, strides and pads.
    const dx = need.dx
      ? g.node('Conv', [dy, onnxKernel(g, w)], { kernel_shape: attr.ints([k, k]), strides: attr.ints([s, s]), pads: attr.ints(pads) })
      : null;
    const grads: string[] = [];
    if (need.params) {
      // The conv-filter gradient with the roles swapped: input dy, output gradient x.
      grads.push(filterGrad(g, dy, outSize, x, inSize, k, s, pads));
      if (useBias) grads.push(biasGrad(g, dy, true));
    }
    return { dx, grads };
  },
};

/** How a batch norm normalises: batch statistics (training) or the moving statistics at `offset` in `moving` (inference). */
type BnCfg = { epsilon: number; mode: { kind: 'train' } | { kind: 'infer'; moving: string; offset: number } };
/** What a batch norm's backward needs: training mode x−μ and 1/√(σ²+ε) of the batch; inference mode the same of the moving statistics. */
type BnSaved = { xc: string; invstd: string; axes: number[]; rank4: boolean; x: string; channels: number; training: boolean };

/**
 * Batch norm. Training: per-channel batch mean and biased variance over the
 * shard (axes (0,2,3) of NCHW, (0) of [N,C]); inference: y = γ(x−mean)/√(var+ε)+β with the moving statistics.
 */
const BATCH_NORM: Op<BnCfg, BnSaved> = {
  layout: (x) => (x.shape.length === 3 ? 'nchw' : 'flat'),
  forward(g, x, { epsilon, mode }, [gamma, beta]) {
    const rank4 = x.shape.length === 3;
    const channels = x.shape[x.shape.length - 1];
    const axes = rank4 ? [0, 2, 3] : [0];
    const gm = channelVector(g, gamma, rank4), bt = channelVector(g, beta, rank4);
    const eps = g.floatConst(epsilon);
    const out = (name: string): Act => ({ name, layout: x.layout, shape: x.shape });
    if (mode.kind === 'infer') {
      const slice = (from: number): string => channelVector(g,
        g.node('Slice', [mode.moving, g.int64Const([from]), g.int64Const([from + channels]), g.int64Const([0])]), rank4);
      const mean = slice(mode.offset), variance = slice(mode.offset + channels);
      const invstd = g.node('Reciprocal', [g.node('Sqrt', [g.node('Add', [variance, eps])])]);
      const scale = g.node('Mul', [gm, invstd]);
      const xc = g.node('Sub', [x.name, mean]);
      const y = g.node('Add', [g.node('Mul', [xc, scale]), bt]);
      return { y: out(y), saved: { xc, invstd, axes, rank4, x: x.name, channels, training: false } };
    }
    const mean = g.node('ReduceMean', [x.name], { axes: attr.ints(axes), keepdims: attr.int(1) });
    const xc = g.node('Sub', [x.name, mean]);
    const variance = g.node('ReduceMean', [g.node('Mul', [xc, xc])], { axes: attr.ints(axes), keepdims: attr.int(1) });
    const invstd = g.node('Reciprocal', [g.node('Sqrt', [g.node('Add', [variance, eps])])]);
    const y = g.node('Add', [g.node('Mul', [xc, g.node('Mul', [invstd, gm])]), bt]);
    return { y: out(y), saved: { xc, invstd, axes, rank4, x: x.name, channels, training: true }, stats: [mean, variance] };
  },
  backward(g, dy, { xc, invstd, axes, rank4, x, channels, training }, _cfg, [gamma], need) {
    if (!training) {
      // The statistics are constants: y = γ·invstd·(x−μ) + β is affine per channel.
      // dx = dy·γ·invstd; dγ = Σdy·(x−μ)·invstd; dβ = Σdy.
      const dx = need.dx ? g.node('Mul', [dy, g.node('Mul', [channelVector(g, gamma, rank4), invstd])]) : null;
      const grads = need.params ? [
        reduceSum(g, g.node('Mul', [dy, g.node('Mul', [xc, invstd])]), axes, false),
        reduceSum(g, dy, axes, false),
      ] : [];
      return { dx, grads };
    }
    // x̂ = (x−μ)·invstd; dβ = Σdy, dγ = Σdy·x̂, dx = γ·invstd·(dy − dβ/M − x̂·dγ/M), M = values per channel.
    const xhat = g.node('Mul', [xc, invstd]);
    const dbeta = reduceSum(g, dy, axes, true);
    const dgamma = reduceSum(g, g.node('Mul', [dy, xhat]), axes, true);
    let dx: string | null = null;
    if (need.dx) {
      const m = g.node('Cast', [g.node('Size', [x])], { to: attr.int(1) });
      const invM = g.node('Div', [g.floatConst(channels), m]);
      const a = g.node('Mul', [channelVector(g, gamma, rank4), invstd]);
      const aM = g.node('Mul', [a, invM]);
      const shift = g.node('Mul', [aM, dbeta]), slope = g.node('Mul', [aM, dgamma]);
      dx = g.node('Sub', [g.node('Mul', [dy, a]), g.node('Add', [g.node('Mul', [xhat, slope]), shift])]);
    }
    const flat = (v: string): string => g.node('Reshape', [v, g.int64Const([-1])]);
    return { dx, grads: need.params ? [flat(dgamma), flat(dbeta)] : [] };
  },
};

/** An activation function (relu, tanh, sigmoid); the gradient uses the output y. */
const ACTIVATION: Op<{ activation: Exclude<Activation, 'linear'> }, { y: string }> = {
  layout: (x) => x.layout,
  forward(g, x, { activation }) {
    const op = activation === 'relu' ? 'Relu' : activation === 'tanh' ? 'Tanh' : 'Sigmoid';
    const y = g.node(op, [x.name]);
    return { y: { ...x, name: y }, saved: { y } };
  },
  backward(g, dy, { y }, { activation }, _params, need) {
    if (!need.dx) return { dx: null, grads: [] };
    const one = (): string => g.floatConst(1);
    switch (activation) {
      case 'relu': return { dx: g.node('Where', [g.node('Greater', [y, g.floatConst(0)]), dy, g.floatConst(0)]), grads: [] };
      case 'tanh': return { dx: g.node('Mul', [dy, g.node('Sub', [one(), g.node('Mul', [y, y])])]), grads: [] };
      case 'sigmoid': return { dx: g.node('Mul', [dy, g.node('Mul', [y, g.node('Sub', [one(), y])])]), grads: [] };
    }
  },
};

/** Leaky ReLU: y = x for x > 0, αx otherwise (the gradient's mask is x > 0, as tfjs). */
const LEAKY_RELU: Op<{ alpha: number }, { x: string }> = {
  layout: (x) => x.layout,
  forward(g, x, { alpha }) {
    return { y: { ...x, name: g.node('LeakyRelu', [x.name], { alpha: attr.float(alpha) }) }, saved: { x: x.name } };
  },
  backward(g, dy, { x }, { alpha }, _params, need) {
    if (!need.dx) return { dx: null, grads: [] };
    return { dx: g.node('Where', [g.node('Greater', [x, g.floatConst(0)]), dy, g.node('Mul', [dy, g.floatConst(alpha)])]), grads: [] };
  },
};

/** Flatten in tf.layers' (NHWC) order, so the next dense kernel's rows match. */
const FLATTEN: Op<Record<string, never>, { shape: number[] }> = {
  layout: (x) => tfLayout(x.shape),
  forward(g, x) {
    const y = g.node('Reshape', [x.name, g.int64Const([0, -1])]);
    return { y: { name: y, layout: 'flat', shape: [sizeOf(x.shape)] }, saved: { shape: x.shape } };
  },
  backward(g, dy, { shape }, _cfg, _params, need) {
    return { dx: need.dx ? g.node('Reshape', [dy, g.int64Const([0, ...shape])]) : null, grads: [] };
  },
};

/** Reshape in tf.layers' layout ([H,W,C] = NHWC). */
const RESHAPE: Op<{ shape: number[] }, { shape: number[] }> = {
  layout: (x) => tfLayout(x.shape),
  forward(g, x, { shape }) {
    const y = g.node('Reshape', [x.name, g.int64Const([0, ...shape])]);
    return { y: { name: y, layout: tfLayout(shape), shape: [...shape] }, saved: { shape: x.shape } };
  },
  backward(g, dy, { shape }, _cfg, _params, need) {
    return { dx: need.dx ? g.node('Reshape', [dy, g.int64Const([0, ...shape])]) : null, grads: [] };
  },
};

// ---------------------------------------------------------------------------
// GAN losses: each term's forward and backward side by side.
// ---------------------------------------------------------------------------

/**
 * One term of a GAN loss on D's logits [N,1]: `forward` is its mean over the
 * N rows (a scalar), `backward` the gradient of that mean with respect to
 * the logits ([N,1]).
 */
export interface LossTerm {
  forward(g: GraphBuilder, logits: string): string;
  backward(g: GraphBuilder, logits: string): string;
}

/** A GAN loss's three terms: D's loss is dReal on the real rows plus dFake on the fake rows; G's loss is `g` on the fake rows. */
export interface GanLossTerms {
  dReal: LossTerm;
  dFake: LossTerm;
  g: LossTerm;
}

/** The rows of a batch of logits as a float [1] (the mean's divisor). */
function rowCount(g: GraphBuilder, logits: string): string {
  return g.node('Cast', [g.node('Shape', [logits], { end: attr.int(1) })], { to: attr.int(1) });
}

function mean(g: GraphBuilder, x: string): string {
  return g.node('ReduceMean', [x], { keepdims: attr.int(0) });
}

/**
 * Binary cross-entropy with logits against `label`, written stably as
 * relu(s) + log(1 + exp(−|s|)), s = −logit for label 1 and logit for label
 * 0 (= softplus(s)). Gradient: (σ(logit) − label) / N.
 */
function bceTerm(label: 0 | 1): LossTerm {
  return {
    forward(g, logits) {
      const s = label === 1 ? g.node('Neg', [logits]) : logits;
      const soft = g.node('Log', [g.node('Add', [g.floatConst(1), g.node('Exp', [g.node('Neg', [g.node('Abs', [s])])])])]);
      return mean(g, g.node('Add', [g.node('Relu', [s]), soft]));
    },
    backward(g, logits) {
      const n = rowCount(g, logits);
      const p = g.node('Sigmoid', [logits]);
      return g.node('Div', [label === 1 ? g.node('Sub', [p, g.floatConst(1)]) : p, n]);
    },
  };
}

/**
 * The hinge relu(1 − sign·logit): for sign 1 (real rows) relu(1 − r), for
 * sign −1 (fake rows) relu(1 + f). Gradient: −sign / N where the hinge's
 * argument is above 0, else 0 (relu'(0) = 0, as tfjs's Relu gradient).
 */
function hingeTerm(sign: 1 | -1): LossTerm {
  const margin = (g: GraphBuilder, logits: string): string => g.node(sign === 1 ? 'Sub' : 'Add', [g.floatConst(1), logits]);
  return {
    forward: (g, logits) => mean(g, g.node('Relu', [margin(g, logits)])),
    backward(g, logits) {
      const active = g.node('Greater', [margin(g, logits), g.floatConst(0)]);
      return g.node('Where', [active, g.node('Div', [g.floatConst(-sign), rowCount(g, logits)]), g.floatConst(0)]);
    },
  };
}

/** −mean(logit) (the hinge loss's G term). Gradient: −1/N on every row. */
const NEGATED_MEAN: LossTerm = {
  forward: (g, logits) => g.node('Neg', [mean(g, logits)]),
  backward(g, logits) {
    const each = g.node('Div', [g.floatConst(-1), rowCount(g, logits)]);
    return g.node('Expand', [each, g.node('Shape', [logits])]);
  },
};

/** ½ mean (logit − target)². Gradient: (logit − target) / N. */
function squaresTerm(target: 0 | 1): LossTerm {
  const diff = (g: GraphBuilder, logits: string): string => (target === 0 ? logits : g.node('Sub', [logits, g.floatConst(target)]));
  return {
    forward(g, logits) {
      const d = diff(g, logits);
      return g.node('Mul', [g.floatConst(0.5), mean(g, g.node('Mul', [d, d]))]);
    },
    backward: (g, logits) => g.node('Div', [diff(g, logits), rowCount(g, logits)]),
  };
}

/** Every GAN loss (src/losses.ts) as ONNX ops. */
export const GAN_LOSS_TERMS: Readonly<Record<GanLoss, GanLossTerms>> = {
  ns: { dReal: bceTerm(1), dFake: bceTerm(0), g: bceTerm(1) },
  hinge: { dReal: hingeTerm(1), dFake: hingeTerm(-1), g: NEGATED_MEAN },
  lsgan: { dReal: squaresTerm(1), dFake: squaresTerm(0), g: squaresTerm(1) },
};

// ---------------------------------------------------------------------------
// Networks
// ---------------------------------------------------------------------------

/** How a network's batch norms run: batch statistics, or the moving statistics vector `moving` (bnLayers layout). */
export type BnMode = { kind: 'train' } | { kind: 'infer'; moving: string };

/** A recorded forward pass through a network. */
export interface NetPass {
  out: Act;
  tape: Step[];
  /** Training mode, a network with batch norm: its batch statistics, flat in the bnLayers layout. */
  stats: string | null;
}

/**
 * `net`'s forward pass on `x` with its parameters `params` (value names in
 * paramShapes order, tf.layers shapes). A network with a projection layer
 * needs `labels`: the pass's one-hot labels, float [N, classes], a row per row of `x`.
 */
export function forwardNet(g: GraphBuilder, net: NetSpec, x: Act, params: readonly string[], bn: BnMode, labels?: string): NetPass {
  const shapes = paramShapes(net);
  if (params.length !== shapes.length) throw new Error(`internal: ${params.length} parameters for ${shapes.length}`);
  const tape: Step[] = [];
  const stats: string[] = [];
  let k = 0, bnOffset = 0;
  let h = x;
  const run = <C, S>(op: Op<C, S>, cfg: C, nParams: number): void => {
    h = toLayout(g, tape, h, op.layout(h));
    const idx = Array.from({ length: nParams }, (_, i) => k + i);
    const ps = idx.map((i) => params[i]);
    k += nParams;
    const { y, saved, stats: st } = op.forward(g, h, cfg, ps);
    tape.push({ params: idx, backward: (dy, need) => op.backward(g, dy, saved, cfg, ps, need) });
    if (st) stats.push(...st);
    h = y;
  };
  const activate = (a: Activation): void => { if (a !== 'linear') run(ACTIVATION, { activation: a }, 0); };
  for (const layer of net.layers) {
    const expect = outputShape(layer, h.shape);
    switch (layer.kind) {
      case 'dense':
        if (h.shape.length !== 1) throw new Error('onnx: dense layers need a flat input');
        run(DENSE, { units: layer.units, useBias: layer.useBias }, layer.useBias ? 2 : 1);
        activate(layer.activation);
        break;
      case 'projection':
        if (h.shape.length !== 1) throw new Error('onnx: a projection layer needs a flat input');
        if (!labels) throw new Error('internal: a network with a projection layer needs the labels of its pass');
        run(PROJECTION, { labels }, 3);
        break;
      case 'conv2d':
      case 'conv2dTranspose': {
        const cfg = { filters: layer.filters, k: layer.kernelSize, s: layer.strides, useBias: layer.useBias };
        run(layer.kind === 'conv2d' ? CONV2D : CONV2D_TRANSPOSE, cfg, layer.useBias ? 2 : 1);
        activate(layer.activation);
        break;
      }
      case 'batchNorm': {
        const mode: BnCfg['mode'] = bn.kind === 'train' ? bn : { kind: 'infer', moving: bn.moving, offset: bnOffset };
        bnOffset += 2 * h.shape[h.shape.length - 1];
        run(BATCH_NORM, { epsilon: layer.epsilon, mode }, 2);
        break;
      }
      case 'activation': activate(layer.activation); break;
      case 'leakyRelu': run(LEAKY_RELU, { alpha: layer.alpha }, 0); break;
      case 'flatten': if (h.shape.length !== 1) run(FLATTEN, {}, 0); break;
      case 'reshape': run(RESHAPE, { shape: layer.shape }, 0); break;
    }
    if (h.shape.join(',') !== expect.join(',')) throw new Error(`internal: shape [${h.shape}] where models.ts says [${expect}]`);
  }
  let flatStats: string | null = null;
  if (stats.length > 0) {
    const flat = stats.map((s) => g.node('Reshape', [s, g.int64Const([-1])]));
    flatStats = flat.length === 1 ? flat[0] : g.node('Concat', flat, { axis: attr.int(0) });
  }
  return { out: h, tape, stats: flatStats };
}

/**
 * Back through a recorded pass from `dy` (the gradient of its output, in the
 * output's layout): the input gradient (when `need.input`) and every
 * parameter's gradient in paramShapes order (when `need.params`, else nulls).
 */
export function backwardNet(pass: NetPass, dy: string, paramCount: number, need: { input: boolean; params: boolean }): { dx: string | null; grads: (string | null)[] } {
  const grads = new Array<string | null>(paramCount).fill(null);
  const steps = pass.tape;
  // A step needs its input gradient when the caller wants it or a step before it owns parameters to train.
  const needDx: boolean[] = [];
  let before = false;
  for (const step of steps) {
    needDx.push(need.input || (need.params && before));
    if (step.params.length > 0) before = true;
  }
  let d: string | null = dy;
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i];
    const wantParams = need.params && step.params.length > 0;
    if (!needDx[i] && !wantParams) break;
    const r = step.backward(d!, { dx: needDx[i], params: wantParams });
    if (wantParams) step.params.forEach((p, j) => { grads[p] = r.grads[j]!; });
    d = r.dx;
  }
  return { dx: need.input ? d : null, grads };
}

/** Whether a network has batch norm. */
export function hasBatchNorm(net: NetSpec): boolean {
  return bnLayers(net).length > 0;
}
