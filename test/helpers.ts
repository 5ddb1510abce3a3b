/** Shared test utilities: error measures, a cached copy of the embedded data and the type of a model.json. */
import { loadEmbeddedMnist } from '../src/data/mnist.js';
import type { ImageSet } from '../src/data/image-set.js';
import type { io } from '@tensorflow/tfjs-core';
import type { GeneratorMetadata } from '../src/generator/export.js';

/** The model.json fields the tests read (JSON.parse gives `any`): tfjs's ModelJSON plus ganpool's metadata. */
export type ModelJson = io.ModelJSON & {
  modelTopology: { class_name: string };
  generatedBy: string;
  userDefinedMetadata: { ganpool: GeneratorMetadata & { inputs: string[] } };
};

/** max|a-b| / max|b|: relative to the reference's largest magnitude. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

/** max|a-b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  return diff;
}

let mnist: ImageSet | null = null;
/** The embedded MNIST set, loaded once per test process. */
export function mnistData(): ImageSet {
  mnist ??= loadEmbeddedMnist();
  return mnist;
}
