/** Resolves a `dataset` config value to images in shared memory. */
import { loadEmbeddedMnist } from './datasets/mnist.js';
import type { ImageSet } from './datasets/image-set.js';
import { badValue } from './errors.js';

/** Loads the named data set. */
export async function loadDataset(name: string): Promise<ImageSet> {
  if (name === 'mnist') return loadEmbeddedMnist();
  throw badValue('dataset', name, 'mnist');
}
