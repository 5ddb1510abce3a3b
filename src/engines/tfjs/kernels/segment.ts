/**
 * UnsortedSegmentSum for the wasm backend (the gradient of gather /
 * Embedding). A single pass over the data on the wasm heap: O(size), exact
 * float32 accumulation order (ascending index) like the cpu backend.
 */
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { f32Offset, sizeOf, type WasmBackend } from './wasm.js';

/** Kernel function for wasm `UnsortedSegmentSum`. Ids outside [0, numSegments) are dropped. */
export const unsortedSegmentSumKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as unknown as WasmBackend;
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as NamedAttrMap & { numSegments: number };
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum on wasm supports float32/int32, got ${x.dtype}`);
  }
  if (segmentIds.dtype !== 'int32') throw new Error('UnsortedSegmentSum: segmentIds must be int32');
  const nIds = sizeOf(segmentIds.shape);
  const inner = nIds === 0 ? 0 : sizeOf(x.shape) / nIds;
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  const out = be.makeOutput(outShape, x.dtype);
  const heap = x.dtype === 'float32' ? be.wasm.HEAPF32 : be.wasm.HEAP32;
  const ids = be.wasm.HEAP32;
  const xo = f32Offset(be, x);
  const io = f32Offset(be, segmentIds);
  const oo = f32Offset(be, out);
  heap.fill(0, oo, oo + numSegments * inner);
  for (let i = 0; i < nIds; i++) {
    const s = ids[io + i];
    if (s < 0 || s >= numSegments) continue;
    const dst = oo + s * inner;
    const src = xo + i * inner;
    for (let k = 0; k < inner; k++) heap[dst + k] += heap[src + k];
  }
  return out;
};
