/**
 * Low-level helpers shared by the wasm training kernels: a narrow view of the
 * wasm backend, calling stock wasm kernels directly (no engine/tape
 * involvement), and reading/writing tensor memory on the wasm heap.
 */
import { getKernel, type KernelConfig, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';

/** The parts of tfjs-backend-wasm's `BackendWasm` these kernels rely on. */
export interface WasmBackend {
  /** Maps a tensor's dataId to its wasm-side record (id, heap offset, refCount). */
  dataIdMap: {
    get(dataId: object): { id: number; memoryOffset: number; shape: number[]; dtype: string; refCount: number };
  };
  /** Allocates an output tensor on the wasm heap. */
  makeOutput(shape: number[], dtype: string, memoryOffset?: number): TensorInfo;
  /** Drops one reference to the data; frees it when no reference is left. */
  disposeData(dataId: object, force?: boolean): boolean;
  /** The Emscripten module. */
  wasm: { HEAPF32: Float32Array; HEAP32: Int32Array; HEAPU8: Uint8Array };
}

/** Stock kernel configs captured before they were replaced, by kernel name. */
export const stockKernels = new Map<string, KernelConfig>();

/**
 * Runs the wasm kernel `name` (the stock one if it was replaced) directly on
 * the backend and returns its single output. The caller owns the result and
 * must `free` it unless it is returned from a kernel.
 */
export function call(
  backend: WasmBackend,
  name: string,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap = {},
): TensorInfo {
  const cfg = stockKernels.get(name) ?? getKernel(name, 'wasm');
  if (cfg === undefined) throw new Error(`wasm kernel ${name} is not registered`);
  const out = cfg.kernelFunc({ inputs, backend: backend, attrs });
  return (Array.isArray(out) ? out[0] : out);
}

/** Releases intermediates created with `call`/`alloc` (safe on reshape aliases). */
export function free(backend: WasmBackend, ...infos: (TensorInfo | null | undefined)[]): void {
  for (const info of infos) if (info != null) backend.disposeData(info.dataId);
}

/** Element count of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Float offset (index into HEAPF32) of a float32/int32 tensor's data. */
export function f32Offset(backend: WasmBackend, info: TensorInfo): number {
  return backend.dataIdMap.get(info.dataId).memoryOffset >>> 2;
}

/** Reshape without copying (an alias that shares the data; `free` it). */
export function reshape(backend: WasmBackend, x: TensorInfo, shape: number[]): TensorInfo {
  return call(backend, 'Reshape', { x }, { shape });
}

/** Transposes `x` by `perm` with the wasm Transpose kernel. */
export function transpose(backend: WasmBackend, x: TensorInfo, perm: number[]): TensorInfo {
  return call(backend, 'Transpose', { x }, { perm });
}

/**
 * A tensor that aliases `count` elements of `src` starting at element
 * `offset` (no copy). Release with `freeView`, never with `free`.
 */
export function view(backend: WasmBackend, src: TensorInfo, offset: number, shape: number[]): TensorInfo {
  const base = backend.dataIdMap.get(src.dataId).memoryOffset;
  return backend.makeOutput(shape, src.dtype, base + offset * 4);
}

/** Releases a `view` without freeing the memory it aliases. */
export function freeView(backend: WasmBackend, v: TensorInfo): void {
  const b = backend as unknown as {
    dataIdMap: { get(d: object): { id: number }; delete(d: object): void };
    wasm: { tfjs: { disposeData(id: number): void } };
  };
  const rec = b.dataIdMap.get(v.dataId);
  b.wasm.tfjs.disposeData(rec.id);
  b.dataIdMap.delete(v.dataId);
}
