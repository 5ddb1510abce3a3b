/**
 * BatchMatMul and _FusedMatMul for the wasm backend. The stock kernels are
 * fast (XNNPACK) only for 2-D, non-transposed operands; with transposeA/B
 * set or a batch dimension they fall back to a slow loop. These kernels
 * move every transpose into a cheap explicit Transpose (choosing the
 * cheapest algebraic form, e.g. C = (B·A)ᵀ) and split batches into 2-D
 * products, so the multiply itself always hits the fast path.
 */
import { broadcast_util, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { call, f32Offset, free, freeView, reshape, sizeOf, transpose, view, type WasmBackend } from './wasm.js';

/** Activation epilogue of `_FusedMatMul`. */
interface Epilogue {
  bias?: TensorInfo | undefined;
  activation: string;
  prelu?: TensorInfo | undefined;
  leakyreluAlpha?: number | undefined;
}

/** Swaps the last two axes. */
function swapLast(backend: WasmBackend, x: TensorInfo): TensorInfo {
  const r = x.shape.length;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return transpose(backend, x, perm);
}

/** Plain non-transposed 2-D product [M,K]x[K,N] through the stock fast path. */
function mm2d(backend: WasmBackend, a: TensorInfo, b: TensorInfo): TensorInfo {
  return call(backend, 'BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
}

/**
 * 2-D product op(a)·op(b) with a, b rank 2; every multiply is non-transposed.
 * Picks the variant that moves the fewest elements.
 */
export function matmul2d(backend: WasmBackend, a: TensorInfo, b: TensorInfo, tA: boolean, tB: boolean): TensorInfo {
  const [a0, a1] = a.shape as [number, number];
  const [b0, b1] = b.shape as [number, number];
  const M = tA ? a1 : a0;
  const K = tA ? a0 : a1;
  const N = tB ? b0 : b1;
  if (!tA && !tB) return mm2d(backend, a, b);
  // Option 1: transpose the transposed operands, then A·B.
  const cost1 = (tA ? M * K : 0) + (tB ? N * K : 0);
  // Option 2: C = (op(b)ᵀ · op(a)ᵀ)ᵀ; op(b)ᵀ is b itself when tB, op(a)ᵀ is a itself when tA.
  const cost2 = (tB ? 0 : N * K) + (tA ? 0 : M * K) + M * N;
  if (cost1 <= cost2) {
    const at = tA ? swapLast(backend, a) : a;
    const bt = tB ? swapLast(backend, b) : b;
    const out = mm2d(backend, at, bt);
    if (at !== a) free(backend, at);
    if (bt !== b) free(backend, bt);
    return out;
  }
  const left = tB ? b : swapLast(backend, b); // [N,K]
  const right = tA ? a : swapLast(backend, a); // [K,M]
  const ct = mm2d(backend, left, right); // [N,M]
  if (left !== b) free(backend, left);
  if (right !== a) free(backend, right);
  const out = swapLast(backend, ct);
  free(backend, ct);
  return out;
}

/** Applies bias and activation with stock elementwise kernels. */
function applyEpilogue(backend: WasmBackend, x: TensorInfo, ep: Epilogue): TensorInfo {
  let cur = x;
  if (ep.bias != null) {
    const next = call(backend, 'Add', { a: cur, b: ep.bias });
    free(backend, cur);
    cur = next;
  }
  let next: TensorInfo | null = null;
  switch (ep.activation) {
    case 'linear': break;
    case 'relu': next = call(backend, 'Relu', { x: cur }); break;
    case 'relu6': next = call(backend, 'Relu6', { x: cur }); break;
    case 'elu': next = call(backend, 'Elu', { x: cur }); break;
    case 'sigmoid': next = call(backend, 'Sigmoid', { x: cur }); break;
    case 'prelu': next = call(backend, 'Prelu', { x: cur, alpha: ep.prelu! }); break;
    case 'leakyrelu': next = call(backend, 'LeakyRelu', { x: cur }, { alpha: ep.leakyreluAlpha ?? 0.2 }); break;
    default: throw new Error(`_FusedMatMul: activation ${ep.activation} is not supported on wasm`);
  }
  if (next !== null) {
    free(backend, cur);
    cur = next;
  }
  return cur;
}

/** Batched op(a)·op(b) with broadcasting over leading dims; returns the full-rank output. */
function batchMatmul(backend: WasmBackend, a: TensorInfo, b: TensorInfo, tA: boolean, tB: boolean): TensorInfo {
  const ar = a.shape.length;
  const br = b.shape.length;
  const M = tA ? a.shape[ar - 1] : a.shape[ar - 2];
  const K = tA ? a.shape[ar - 2] : a.shape[ar - 1];
  const Kb = tB ? b.shape[br - 1] : b.shape[br - 2];
  const N = tB ? b.shape[br - 2] : b.shape[br - 1];
  if (K !== Kb) {
    throw new Error(`Error in matMul: inner shapes (${K}) and (${Kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${tA} and transposeB=${tB} must match.`);
  }
  const outer = broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const outShape = [...outer, M, N];
  const batchA = sizeOf(a.shape.slice(0, -2));
  const batchB = sizeOf(b.shape.slice(0, -2));
  const batch = sizeOf(outer);
  const a2 = reshape(backend, a, [batchA * a.shape[ar - 2], a.shape[ar - 1]]);
  const b2 = reshape(backend, b, [batchB * b.shape[br - 2], b.shape[br - 1]]);
  try {
    if (batchA === 1 && batchB === 1) {
      const o = matmul2d(backend, a2, b2, tA, tB);
      const r = reshape(backend, o, outShape);
      free(backend, o);
      return r;
    }
    if (batchB === 1 && !tA) {
      // [batch*M, K] · op(B): one big 2-D product.
      const o = matmul2d(backend, a2, b2, false, tB);
      const r = reshape(backend, o, outShape);
      free(backend, o);
      return r;
    }
    if (batchA !== batch && batchA !== 1 || batchB !== batch && batchB !== 1) {
      throw new Error(`matMul: batch dims ${a.shape.slice(0, -2)} and ${b.shape.slice(0, -2)} are only supported when equal or one of them is 1`);
    }
    const out = backend.makeOutput(outShape, 'float32');
    const aRows = a.shape[ar - 2];
    const aCols = a.shape[ar - 1];
    const bRows = b.shape[br - 2];
    const bCols = b.shape[br - 1];
    for (let i = 0; i < batch; i++) {
      const ai = view(backend, a, batchA === 1 ? 0 : i * aRows * aCols, [aRows, aCols]);
      const bi = view(backend, b, batchB === 1 ? 0 : i * bRows * bCols, [bRows, bCols]);
      const oi = matmul2d(backend, ai, bi, tA, tB);
      freeView(backend, ai);
      freeView(backend, bi);
      const heap = backend.wasm.HEAPF32;
      const src = f32Offset(backend, oi);
      heap.copyWithin(f32Offset(backend, out) + i * M * N, src, src + M * N);
      free(backend, oi);
    }
    return out;
  } finally {
    free(backend, a2, b2);
  }
}

/** Kernel function replacing the wasm `BatchMatMul`. */
export const batchMatMulKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as unknown as WasmBackend;
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = attrs as NamedAttrMap & { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') {
    throw new Error('BatchMatMul for non non-float32 tensors not yet supported.');
  }
  return batchMatmul(be, a, b, !!transposeA, !!transposeB);
};

/** Kernel function replacing the wasm `_FusedMatMul` (bias, activation, prelu weights, leakyrelu alpha). */
export const fusedMatMulKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as unknown as WasmBackend;
  const { a, b, bias, preluActivationWeights } = inputs as {
    a: TensorInfo; b: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo;
  };
  const { transposeA, transposeB, activation, leakyreluAlpha } = attrs as NamedAttrMap & {
    transposeA: boolean; transposeB: boolean; activation: string; leakyreluAlpha?: number;
  };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') {
    throw new Error('_FusedMatMul for non non-float32 tensors not yet supported.');
  }
  const act = activation ?? 'linear';
  const ar = a.shape.length;
  const br = b.shape.length;
  const batchA = sizeOf(a.shape.slice(0, -2));
  const batchB = sizeOf(b.shape.slice(0, -2));
  const fusable = ['linear', 'relu', 'relu6', 'prelu', 'leakyrelu'].includes(act);
  const biasOk = bias == null || bias.shape.length === 1;
  const preluOk = preluActivationWeights == null || preluActivationWeights.shape.length <= 1;
  if (batchA === 1 && batchB === 1 && fusable && biasOk && preluOk) {
    // Pre-transpose, then one stock fused call (bias + activation in the same pass).
    let at: TensorInfo = reshape(be, a, [a.shape[ar - 2], a.shape[ar - 1]]);
    let bt: TensorInfo = reshape(be, b, [b.shape[br - 2], b.shape[br - 1]]);
    if (transposeA) { const t = swapLast(be, at); free(be, at); at = t; }
    if (transposeB) { const t = swapLast(be, bt); free(be, bt); bt = t; }
    const a3 = reshape(be, at, [1, ...at.shape]);
    const b3 = reshape(be, bt, [1, ...bt.shape]);
    free(be, at, bt);
    const fusedInputs: Record<string, TensorInfo> = { a: a3, b: b3 };
    if (bias != null) fusedInputs['bias'] = bias;
    if (preluActivationWeights != null) fusedInputs['preluActivationWeights'] = preluActivationWeights;
    const o = call(be, '_FusedMatMul', fusedInputs, {
      transposeA: false, transposeB: false, activation: act, leakyreluAlpha: leakyreluAlpha ?? 0,
    });
    free(be, a3, b3);
    const outer = broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const r = reshape(be, o, [...outer, o.shape[1], o.shape[2]]);
    free(be, o);
    return r;
  }
  const prod = batchMatmul(be, a, b, !!transposeA, !!transposeB);
  return applyEpilogue(be, prod, { bias, activation: act, prelu: preluActivationWeights, leakyreluAlpha });
};
