/**
 * Zero gradients for comparison kernels, so second-order gradients through
 * ops whose gradient uses a comparison mask (LeakyReLU, Relu6, ...) work.
 */
import { getGradient, registerGradient, zerosLike, type Tensor } from '@tensorflow/tfjs-core';

/** Comparison kernels that get a zero gradient. */
export const COMPARISON_KERNELS = ['Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual'] as const;

/** Registers a zero gradient for every comparison kernel that has none yet. */
export function registerComparisonGradients(): string[] {
  const added: string[] = [];
  for (const kernelName of COMPARISON_KERNELS) {
    if (getGradient(kernelName) !== undefined) continue;
    registerGradient({
      kernelName,
      inputsToSave: ['a', 'b'],
      gradFunc: (_dy: Tensor | Tensor[], saved: Tensor[]) => {
        const [a, b] = saved as [Tensor, Tensor];
        return { a: () => zerosLike(a), b: () => zerosLike(b) };
      },
    });
    added.push(kernelName);
  }
  return added;
}
