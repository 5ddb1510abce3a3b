/**
 * Training kernels for the TensorFlow.js wasm backend.
 *
 * The stock wasm backend lacks Conv2DBackpropFilter and UnsortedSegmentSum,
 * runs transposed/batched matmuls and Conv2DBackpropInput on slow scalar
 * loops, and has no gradients for comparison ops (needed for
 * gradient-of-gradient, e.g. WGAN-GP through LeakyReLU).
 * `registerWasmTrainingKernels()` fixes all of that by registering kernels
 * built on the fast stock ones (XNNPACK Conv2D / non-transposed matmul).
 */
import '@tensorflow/tfjs-backend-wasm';
import { getKernel, registerKernel, unregisterKernel, type KernelFunc } from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterKernel, conv2DBackpropInputKernel } from './conv.js';
import { registerComparisonGradients } from './gradients.js';
import { batchMatMulKernel, fusedMatMulKernel } from './matmul.js';
import { unsortedSegmentSumKernel } from './segment.js';
import { stockKernels } from './wasm.js';

/** Kernels this module registers for backend 'wasm', by kernel name. */
export const WASM_TRAINING_KERNELS: Readonly<Record<string, KernelFunc>> = {
  BatchMatMul: batchMatMulKernel,
  _FusedMatMul: fusedMatMulKernel,
  Conv2DBackpropFilter: conv2DBackpropFilterKernel,
  Conv2DBackpropInput: conv2DBackpropInputKernel,
  UnsortedSegmentSum: unsortedSegmentSumKernel,
};

let registered = false;

/**
 * Registers the fast/complete training kernels for backend 'wasm'
 * (replacing the stock ones where they exist) and zero gradients for the
 * comparison ops. Idempotent; call it before or after `tf.setBackend('wasm')`.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  for (const [kernelName, kernelFunc] of Object.entries(WASM_TRAINING_KERNELS)) {
    const stock = getKernel(kernelName, 'wasm');
    if (stock !== undefined) {
      stockKernels.set(kernelName, stock);
      unregisterKernel(kernelName, 'wasm');
    }
    registerKernel({
      kernelName,
      backendName: 'wasm',
      kernelFunc,
      // Keeps the stock kernel's wasm bindings set up: ours call into it.
      ...(stock?.setupFunc !== undefined ? { setupFunc: stock.setupFunc } : {}),
    });
  }
  registerComparisonGradients();
  registered = true;
}

/**
 * The stock wasm kernel function that `registerWasmTrainingKernels` replaced
 * (undefined if there was none, or before registration). Used by benchmarks
 * and tests to compare against the stock path.
 */
export function stockWasmKernel(kernelName: string): KernelFunc | undefined {
  return stockKernels.get(kernelName)?.kernelFunc;
}
