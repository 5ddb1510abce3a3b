/**
 * The train/test split a data set's classifier is trained and scored on.
 * Data sets shipped with a separate test file (Fashion-MNIST's t10k, or any
 * `train-images…` IDX file with `t10k-images…` beside it) use it; any other
 * labelled set holds out the last 20% of a fixed seeded permutation.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { loadDataset, parseDatasetSpec } from '../data/dataset.js';
import { epochPermutation } from '../util/rng.js';
import type { ImageSet } from '../data/image-set.js';
import { datasetUnlabeled } from '../errors.js';

/** Seed of the held-out permutation (fixed: every classifier and every eval use the same split). */
export const SPLIT_SEED = 20240605;
/** Share of a single-file data set held out as its test split. */
export const HOLDOUT_SHARE = 0.2;

/** Some rows of a labelled image set. */
export interface SplitPart {
  set: ImageSet & { labels: Uint8Array };
  indices: Uint32Array;
}

/** A data set's training and test parts, and how the split was made. */
export interface DataSplit {
  train: SplitPart;
  test: SplitPart;
  /** One line saying how the test split was chosen. */
  description: string;
}

function labelled(set: ImageSet, spec: string): ImageSet & { labels: Uint8Array } {
  if (!set.labels) throw datasetUnlabeled(spec);
  return set as ImageSet & { labels: Uint8Array };
}

const all = (n: number): Uint32Array => Uint32Array.from({ length: n }, (_, i) => i);

/** The t10k test images beside a `train-images…` IDX file, if present. */
function testFileBeside(images: string): string | undefined {
  const name = basename(images);
  if (!name.startsWith('train-images')) return undefined;
  const stem = name.replace('train-images', 't10k-images').replace(/\.gz$/, '');
  return [`${stem}.gz`, stem].map((f) => join(dirname(images), f)).find((p) => existsSync(p));
}

/** Loads `spec` and splits it (see the module comment). `dataDir` is where Fashion-MNIST is looked for first. */
export async function loadSplit(spec: string, dataDir?: string): Promise<DataSplit> {
  const kind = parseDatasetSpec(spec).kind;
  const opts = dataDir !== undefined ? { dataDir } : {};
  const data = labelled(await loadDataset(spec, opts), spec);
  if (kind === 'fashion-mnist' || kind === 'idx') {
    const { loadIdxImages, resolveIdxDataset } = await import('../data/idx.js');
    const files = resolveIdxDataset(spec, dataDir);
    const testImages = testFileBeside(files.images);
    const testLabels = testImages && testImages.replace('images-idx3', 'labels-idx1');
    const labelsFile = testLabels && [testLabels, testLabels.replace(/\.gz$/, '')].find((p) => existsSync(p));
    if (testImages && labelsFile) {
      const test = labelled(loadIdxImages(testImages, labelsFile), spec);
      return { train: { set: data, indices: all(data.count) }, test: { set: test, indices: all(test.count) }, description: `test set ${basename(testImages)} (${test.count} images)` };
    }
  }
  return holdout(data);
}

/** Splits one labelled set: the last 20% of a seeded permutation is the test part. */
export function holdout(data: ImageSet & { labels: Uint8Array }): DataSplit {
  const perm = epochPermutation(data.count, SPLIT_SEED, 0);
  const testCount = Math.round(data.count * HOLDOUT_SHARE);
  const cut = data.count - testCount;
  return {
    train: { set: data, indices: perm.slice(0, cut) },
    test: { set: data, indices: perm.slice(cut) },
    description: `held out the last ${testCount} of ${data.count} images of a seeded permutation (seed ${SPLIT_SEED})`,
  };
}
