/**
 * Sample-quality metrics for generated images, in the feature space of a
 * classifier trained on the real data: FCD (Fréchet distance between the
 * classifier's penultimate-layer features of generated and of real training
 * images), the classifier score (the Inception-score formula), and the class
 * histogram. The held-out real split scored the same way is the floor.
 */
import * as tf from '@tensorflow/tfjs-core';
import { classAgreement, classHistogram, classifierScore, featureStats, frechetDistance, type EvalMetrics, type FeatureStats } from '../metrics/frechet.js';
import { epochPermutation } from '../util/rng.js';
import type { ImageSet } from '../data/image-set.js';
import { evalImageShapeMismatch } from '../errors.js';
import { CLASSES, FEATURES_DIM } from './classifier-spec.js';
import type { FeatureExtractor, } from './classifier-net.js';
import { loadOrTrainClassifier, type ClassifierInfo, type ClassifierSource, type LoadedClassifier } from './classifier-store.js';
import { loadSplit, SPLIT_SEED, type DataSplit, type SplitPart } from './splits.js';

/** Images per classifier forward pass. */
const BATCH = 500;
/** Default number of real training images the reference statistics are taken over. */
export const DEFAULT_REAL_N = 10_000;

/**
 * The classes a conditional generator is scored on: image i of class i mod
 * `classes`, so every class gets ⌊n / classes⌋ or one more images.
 */
export function balancedLabels(n: number, classes: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i % classes);
}

/** Classifier features (n × 128) and class probabilities (n × 10) of images in [-1, 1], NHWC. */
export function classify(extractor: FeatureExtractor, images: Float32Array, n: number): { features: Float32Array; probs: Float32Array } {
  const [h, w, c] = extractor.imageShape;
  const size = h * w * c;
  const features = new Float32Array(n * FEATURES_DIM), probs = new Float32Array(n * CLASSES);
  for (let first = 0; first < n; first += BATCH) {
    const rows = Math.min(BATCH, n - first);
    const [f, p] = tf.tidy(() => extractor.apply(tf.tensor4d(images.subarray(first * size, (first + rows) * size), [rows, h, w, c])));
    features.set(f.dataSync(), first * FEATURES_DIM);
    probs.set(p.dataSync(), first * CLASSES);
    tf.dispose([f, p]);
  }
  return { features, probs };
}

/** Rows of an image set as floats in [-1, 1] (the generator's range). */
export function toFloatImages(set: ImageSet, rows: ArrayLike<number>): Float32Array {
  const size = set.height * set.width * set.channels;
  const out = new Float32Array(rows.length * size);
  for (let r = 0; r < rows.length; r++) {
    const src = rows[r] * size;
    for (let i = 0; i < size; i++) out[r * size + i] = set.images[src + i] / 127.5 - 1;
  }
  return out;
}

/** Scores images with a classifier against the real training images' feature statistics. */
export class Evaluator {
  private constructor(
    /** The classifier's metadata (accuracy, split…). */
    readonly info: ClassifierInfo,
    private readonly extractor: FeatureExtractor,
    private readonly real: FeatureStats,
    /** Real training images the reference statistics were taken over. */
    readonly realN: number,
    /** The held-out real split scored like generated images: the best a generator can hope for. */
    readonly floor: EvalMetrics,
  ) {}

  /** Builds an evaluator from a loaded classifier and the data split (reference statistics are computed here). */
  static fromClassifier(classifier: LoadedClassifier, split: DataSplit, realN = DEFAULT_REAL_N): Evaluator {
    const { extractor, info } = classifier;
    const { train, test } = split;
    const shape = [train.set.height, train.set.width, train.set.channels];
    if (shape.join() !== extractor.imageShape.join()) throw evalImageShapeMismatch('classifier', extractor.imageShape, shape);
    const pick = epochPermutation(train.indices.length, SPLIT_SEED, 1).subarray(0, Math.min(realN, train.indices.length));
    const rows = Array.from(pick, (i) => train.indices[i]);
    const { features } = classify(extractor, toFloatImages(train.set, rows), rows.length);
    const real = featureStats(features, rows.length, FEATURES_DIM);
    const floor = metricsAgainst(extractor, real, partImages(test), test.indices.length);
    return new Evaluator(info, extractor, real, rows.length, floor);
  }

  /**
   * Loads (or trains and caches) `dataset`'s classifier and builds an
   * evaluator. `generatorShape`, when given, is checked against the data
   * set's images before any classifier is trained.
   */
  static async create(dataset: string, source: ClassifierSource & { realN?: number; generatorShape?: readonly number[] } = {}): Promise<Evaluator> {
    const split = await loadSplit(dataset, source.dataDir);
    const { set } = split.train;
    const shape = [set.height, set.width, set.channels];
    if (source.generatorShape && source.generatorShape.join() !== shape.join()) throw evalImageShapeMismatch('generator', source.generatorShape, shape);
    const classifier = await loadOrTrainClassifier(dataset, source, split);
    return Evaluator.fromClassifier(classifier, split, source.realN);
  }

  /** Image shape the classifier takes. */
  get imageShape(): [number, number, number] {
    return this.extractor.imageShape;
  }

  /**
   * Metrics of `n` images (NHWC, values in [-1, 1]); with `labels` (the class each image was
   * drawn for, a conditional generator) also how often the classifier agrees with them.
   */
  metrics(images: Float32Array, n: number, labels?: ArrayLike<number>): EvalMetrics {
    return metricsAgainst(this.extractor, this.real, images, n, labels);
  }
}

function partImages(part: SplitPart): Float32Array {
  return toFloatImages(part.set, part.indices);
}

function metricsAgainst(extractor: FeatureExtractor, real: FeatureStats, images: Float32Array, n: number, labels?: ArrayLike<number>): EvalMetrics {
  const { features, probs } = classify(extractor, images, n);
  const hist = classHistogram(probs, n, CLASSES);
  return {
    n,
    fcd: frechetDistance(featureStats(features, n, FEATURES_DIM), real),
    classifierScore: classifierScore(probs, n, CLASSES),
    histogram: hist.counts,
    classesCovered: hist.covered,
    ...(labels ? { classAgreement: classAgreement(probs, n, CLASSES, labels) } : {}),
  };
}
