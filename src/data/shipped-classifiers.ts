/**
 * The evaluation classifiers that ship inside the ganpool package. Kept free
 * of TensorFlow.js so the config can ask what ships without loading it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../package-info.js';

/**
 * Where ganpool's shipped classifiers live (in the package, beside this
 * module's source): `src/eval/classifiers/<dataset>/`, in the cache layout.
 * The embedded MNIST's is there, so a first `npm start` or `ganpool eval`
 * needs no classifier training. It was made by {@link SHIPPED_CLASSIFIER_COMMAND}.
 */
export function shippedClassifiersDir(): string {
  return join(packageRoot(), 'src', 'eval', 'classifiers');
}

/** The command that made the shipped MNIST classifier (the settings in its classifier.json). */
export const SHIPPED_CLASSIFIER_COMMAND = 'ganpool classifier train --dataset mnist --workers 2 --batch-size 128 --epochs 19 --seed 1';

/** The shipped classifier's folder for `dataset`, or null when ganpool ships none for it. */
export function shippedClassifierDir(dataset: string): string | null {
  const dir = join(shippedClassifiersDir(), dataset.replace(/[^A-Za-z0-9._-]+/g, '_'));
  return existsSync(join(dir, 'classifier.json')) ? dir : null;
}

