/**
 * Trains, saves and loads a data set's evaluation classifier. A classifier
 * lives in `<cacheDir>/classifiers/<dataset>/`: `model/` (a TensorFlow.js
 * LayersModel folder, softmax output) and `classifier.json` (its accuracy,
 * split and feature size), written last, so a folder without it is ignored.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { writeFileAtomic } from '../util/atomic.js';
import { loadLayersModel, saveLayersModel } from '../engines/tfjs/model-io.js';
import { initBackend } from '../engines/tfjs/tf-backend.js';
import type { BackendName } from '../engines/backend.js';
import { classifierInfoInvalid } from '../errors.js';
import { buildClassifier, featureExtractor, type FeatureExtractor } from './classifier-net.js';
import { CLASSES, FEATURES_DIM, classifierParamShapes } from './classifier-spec.js';
import { ClassifierTrainer, type ClassifierStepInfo, type ClassifierTrainOptions, type Accuracy, type GeneratedMix } from './classifier-train.js';
import { loadSplit, type DataSplit } from './splits.js';
import { shippedClassifierDir } from '../data/shipped-classifiers.js';

/** The default cache directory, relative to the current directory. */
export const DEFAULT_CACHE_DIR = '.ganpool-cache';
/** The metadata file beside a saved classifier's model folder. */
export const CLASSIFIER_JSON = 'classifier.json';

/** What classifier.json records. */
export interface ClassifierInfo {
  format: 1;
  dataset: string;
  imageShape: [number, number, number];
  classes: number;
  featuresDim: number;
  /** Accuracy on the test split. */
  accuracy: number;
  testLoss: number;
  testCount: number;
  trainCount: number;
  /** How the test split was chosen. */
  split: string;
  epochs: number;
  batchSize: number;
  workers: number;
  seed: number;
  trainSeconds: number;
  /** Generated images mixed into the training rows, when any (the test split is real either way). */
  augment?: ClassifierAugmentInfo;
}

/** What classifier.json records about generated training images ({@link TrainClassifierOptions.generated}). */
export interface ClassifierAugmentInfo {
  /** Where they came from (the --augment value). */
  source: string;
  /** Generated images per real training image in each epoch. */
  ratio: number;
  /** Images in the generated set. */
  generatedCount: number;
  /** Generated rows in each epoch: round(ratio × trainCount). */
  generatedPerEpoch: number;
}

/** A classifier ready for evaluation. */
export interface LoadedClassifier {
  info: ClassifierInfo;
  extractor: FeatureExtractor;
}

/** The folder holding the classifier of `dataset` under `cacheDir`. */
export function classifierDir(dataset: string, cacheDir = DEFAULT_CACHE_DIR): string {
  return join(cacheDir, 'classifiers', dataset.replace(/[^A-Za-z0-9._-]+/g, '_'));
}

/**
 * The folder of `dataset`'s classifier trained with generated images mixed
 * in: beside the plain one (`<dataset>.augmented`), so `ganpool eval` keeps
 * scoring with the classifier trained on real images only.
 */
export function augmentedClassifierDir(dataset: string, cacheDir = DEFAULT_CACHE_DIR): string {
  return `${classifierDir(dataset, cacheDir)}.augmented`;
}

/** Options of {@link trainClassifier}. */
export interface TrainClassifierOptions extends ClassifierTrainOptions {
  /** Passes over the training rows, generated ones included (default: enough for ~150,000 images, 10 to 20 epochs). */
  epochs?: number;
  /** Called after every step. */
  onStep?: (info: ClassifierStepInfo, totalSteps: number) => void;
  /** Called after every epoch with the test accuracy. */
  onEpoch?: (epoch: number, test: Accuracy) => void;
}

/**
 * The default epoch count: about 150,000 training images seen, at least 10
 * and at most 20 epochs (mnist: 19 → 98.25%; fashion-mnist: 10 → 90.42%, where 5 gave 88.72%).
 */
export function defaultEpochs(trainCount: number): number {
  return Math.min(20, Math.max(10, Math.round(150_000 / trainCount)));
}

/**
 * Trains a classifier on `split` with the worker pool (Adam with the learning
 * rate decaying linearly to 0, images shifted by up to ±2 pixels), with
 * `options.generated` mixed into the training rows when given; returns its
 * parameters and metadata. Accuracy and loss are always on `split.test`.
 */
export async function trainClassifier(dataset: string, split: DataSplit, options: TrainClassifierOptions = {}): Promise<{ params: Float32Array; info: ClassifierInfo }> {
  const t0 = performance.now();
  const trainer = await ClassifierTrainer.start(split, options);
  try {
    const epochs = options.epochs ?? defaultEpochs(trainer.rowsPerEpoch);
    const total = epochs * trainer.stepsPerEpoch;
    let test: Accuracy | null = null;
    while (trainer.stepsDone < total) {
      const info = await trainer.step(1 - trainer.stepsDone / total);
      options.onStep?.(info, total);
      if (info.step % trainer.stepsPerEpoch === 0) {
        test = await trainer.accuracy();
        options.onEpoch?.(info.epoch, test);
      }
    }
    test ??= await trainer.accuracy();
    return {
      params: trainer.parameters(),
      info: {
        format: 1, dataset, imageShape: trainer.imageShape, classes: CLASSES, featuresDim: FEATURES_DIM,
        accuracy: test.accuracy, testLoss: test.loss, testCount: test.count, trainCount: trainer.trainCount,
        split: split.description, epochs, batchSize: trainer.batchSize, workers: trainer.workers,
        seed: options.seed ?? 1, trainSeconds: (performance.now() - t0) / 1000,
        ...(options.generated ? { augment: augmentInfo(options.generated, trainer.generatedPerEpoch) } : {}),
      },
    };
  } finally {
    await trainer.close();
  }
}

/** classifier.json's record of a mix. */
function augmentInfo(g: GeneratedMix, perEpoch: number): ClassifierAugmentInfo {
  return { source: g.source ?? g.set.name, ratio: g.ratio ?? 1, generatedCount: g.set.count, generatedPerEpoch: perEpoch };
}

/** Builds the softmax classifier with `params` (on this thread's tf backend). */
export function classifierModel(imageShape: [number, number, number], params: Float32Array): ReturnType<typeof buildClassifier> {
  const model = buildClassifier(imageShape, false);
  let offset = 0;
  const tensors = classifierParamShapes(imageShape).map((p) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(params.subarray(offset, offset + n), p.shape);
    offset += n;
    return t;
  });
  model.setWeights(tensors);
  tf.dispose(tensors);
  return model;
}

/** Saves a trained classifier into `dir` (model folder first, classifier.json last). */
export async function saveClassifier(dir: string, params: Float32Array, info: ClassifierInfo, backend: BackendName = 'wasm'): Promise<void> {
  await initBackend(backend);
  const model = classifierModel(info.imageShape, params);
  await saveLayersModel(model, join(dir, 'model'));
  model.dispose();
  await writeFileAtomic(join(dir, CLASSIFIER_JSON), JSON.stringify(info, null, 2) + '\n');
}

const isWhole = (x: unknown, min = 0): boolean => Number.isInteger(x) && (x as number) >= min;
const isNumber = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);

/** Checks every field of a classifier.json (see {@link ClassifierInfo}); throws naming the first wrong one. */
function checkClassifierInfo(file: string, json: unknown): ClassifierInfo {
  const m = json as Record<string, unknown> | null;
  if (typeof m !== 'object' || m === null || Array.isArray(m) || m.format !== 1) throw classifierInfoInvalid(file, 'not a ganpool classifier.json (format 1)');
  const shape = m.imageShape;
  if (!Array.isArray(shape) || shape.length !== 3 || !isWhole(shape[0], 1) || !isWhole(shape[1], 1) || (shape[0] as number) > 64 || (shape[1] as number) > 64 || ![1, 3].includes(shape[2] as number)) {
    throw classifierInfoInvalid(file, 'imageShape is not [height, width, 1 or 3] with sides from 1 to 64');
  }
  const fields: [string, (x: unknown) => boolean, string][] = [
    ['dataset', (x) => typeof x === 'string', 'a string'], ['split', (x) => typeof x === 'string', 'a string'],
    ['classes', (x) => isWhole(x, 1), 'a whole number ≥ 1'], ['featuresDim', (x) => isWhole(x, 1), 'a whole number ≥ 1'],
    ['accuracy', isNumber, 'a number'], ['testLoss', isNumber, 'a number'], ['trainSeconds', isNumber, 'a number'],
    ['testCount', (x) => isWhole(x), 'a whole number'], ['trainCount', (x) => isWhole(x), 'a whole number'],
    ['epochs', (x) => isWhole(x), 'a whole number'], ['batchSize', (x) => isWhole(x), 'a whole number'],
    ['workers', (x) => isWhole(x), 'a whole number'], ['seed', Number.isInteger, 'a whole number'],
  ];
  for (const [name, ok, what] of fields) if (!ok(m[name])) throw classifierInfoInvalid(file, `${name} is not ${what}`);
  if (m.augment !== undefined) {
    const a = m.augment as Record<string, unknown> | null;
    if (typeof a !== 'object' || a === null || typeof a.source !== 'string' || !isNumber(a.ratio) || !isWhole(a.generatedCount) || !isWhole(a.generatedPerEpoch)) {
      throw classifierInfoInvalid(file, 'augment is not { source, ratio, generatedCount, generatedPerEpoch }');
    }
  }
  return m as unknown as ClassifierInfo;
}

/** Loads the classifier saved in `dir`, or null when there is none (no classifier.json). */
export async function loadClassifier(dir: string, backend: BackendName = 'wasm'): Promise<LoadedClassifier | null> {
  const file = join(dir, CLASSIFIER_JSON);
  if (!existsSync(file)) return null;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw classifierInfoInvalid(file, (e as Error).message);
  }
  const info = checkClassifierInfo(file, json);
  await initBackend(backend);
  const model = await loadLayersModel(join(dir, 'model'));
  return { info, extractor: featureExtractor(model, join(dir, 'model')) };
}

/** Where and how to find or train a classifier (for evaluation: on real images only, so no `generated`). */
export interface ClassifierSource extends Omit<TrainClassifierOptions, 'generated'> {
  cacheDir?: string;
  dataDir?: string;
  /** Told when a classifier has to be trained first (one line). */
  log?: (message: string) => void;
}

/**
 * True when `dataset`'s classifier can be loaded without training one: it is
 * in the cache under `cacheDir`, or ganpool ships it.
 */
export function classifierReady(dataset: string, cacheDir = DEFAULT_CACHE_DIR): boolean {
  return existsSync(join(classifierDir(dataset, cacheDir), CLASSIFIER_JSON)) || shippedClassifierDir(dataset) !== null;
}

/**
 * Loads `dataset`'s classifier: the cached one (a classifier you trained
 * wins), else the one ganpool ships, else one trained and saved in the cache first.
 */
export async function loadOrTrainClassifier(dataset: string, source: ClassifierSource = {}, split?: DataSplit): Promise<LoadedClassifier> {
  const dir = classifierDir(dataset, source.cacheDir);
  const cached = await loadClassifier(dir);
  if (cached) return cached;
  const shipped = shippedClassifierDir(dataset);
  if (shipped) return (await loadClassifier(shipped))!;
  source.log?.(`no classifier for '${dataset}' in ${dir}; training one first (once; it is cached there)`);
  split ??= await loadSplit(dataset, source.dataDir);
  const { params, info } = await trainClassifier(dataset, split, source);
  await saveClassifier(dir, params, info);
  source.log?.(`classifier for '${dataset}': ${(info.accuracy * 100).toFixed(2)}% test accuracy (${info.split}); saved in ${dir}`);
  return (await loadClassifier(dir))!;
}
