/**
 * The training configuration: its fields, defaults, validation, and the
 * resolved form recorded in OUT/config.json. Every check names the field.
 */
import { availableParallelism } from 'node:os';
import { BACKEND_NAMES, onnxAvailability, resolveBackend, tfjsNodeAvailable, type BackendChoice, type BackendName } from './engines/backend.js';
import { MODEL_NAMES, type ModelName } from './models/presets.js';
import { badValue, onnxUnavailable, tensorflowNeedsOneWorker, tensorflowMissing, conflictingFields, folderOnlyField, conditionalUnlabeled } from './errors.js';
import { parseDatasetSpec } from './data/dataset.js';
import { FOLDER_IMAGE_SIZES } from './data/image-set.js';
import { shippedClassifierDir } from './data/shipped-classifiers.js';
import { DEFAULT_GAN_LOSS, GAN_LOSSES, type GanLoss } from './models/losses.js';

/** The data sets ganpool knows by name. */
export const DATASET_NAMES = ['mnist', 'fashion-mnist'] as const;

/** What a user may set; every field is optional. Same fields as the CLI flags, camelCase. */
export interface TrainConfig {
  /**
   * Data set: `mnist` (the embedded 10,000 digits), `fashion-mnist` (IDX files under `dataDir`,
   * else /usr/share/datasets/fashion-mnist), `idx:PATH` (an IDX images file; labels beside it
   * are read when present) or `folder:DIR` (PNG/JPEG/WebP images, see `imageSize`, `channels`). Default `mnist`.
   */
  dataset?: string;
  /** Folder holding the Fashion-MNIST IDX files (`train-images-idx3-ubyte[.gz]`). */
  dataDir?: string;
  /** `folder:` data sets only: side length the images are cropped and resized to, 28, 32 or 64. Default 32. */
  imageSize?: number;
  /** `folder:` data sets only: 1 (greyscale) or 3 (RGB). Default 3. */
  channels?: number;
  /** Write a checkpoint (and the exported generator) every K steps, and always at the end. Default 1000. */
  checkpointEvery?: number;
  /**
   * `train()` only: continue the run in this output directory from its checkpoint. Every other
   * field then comes from the checkpoint; `steps`/`epochs` (the new total), `sampleEvery`,
   * `checkpointEvery` and `workers` may change, any other differing field is an error.
   */
  resume?: string;
  /** Model preset. Default {@link defaultModel}: `dcgan` for 28×28 images (MNIST's shape), `mlp` for other sizes. */
  model?: ModelName;
  /**
   * GAN loss: `ns` (non-saturating, sigmoid cross-entropy on the logits), `hinge` (SNGAN/BigGAN)
   * or `lsgan` (least squares); the formulas are in src/losses.ts. Default `ns`.
   */
  loss?: GanLoss;
  /** Worker threads. Default: the number of available cores. */
  workers?: number;
  /** Global batch size, split across the workers. Default {@link DEFAULT_BATCH_SIZE}. */
  batchSize?: number;
  /** Training steps (one D update and one G update each). Default {@link DEFAULT_STEPS} unless `epochs` is given. */
  steps?: number;
  /** Train for this many passes over the data instead of a step count. */
  epochs?: number;
  /**
   * Adam learning rate for both networks. Without it (and without `lrG`/`lrD`) each network
   * takes its own default: {@link defaultLrG} for G, 2e-4 for D.
   */
  lr?: number;
  /** Generator learning rate (overrides `lr`). Default `lr`, else {@link defaultLrG}. */
  lrG?: number;
  /** Discriminator learning rate (overrides `lr`). Default `lr`, else 2e-4. */
  lrD?: number;
  /** Adam β1. Default 0.5. */
  beta1?: number;
  /** Adam β2. Default 0.999. */
  beta2?: number;
  /**
   * Decay of the exponential moving average of G's parameters, in [0, 1); 0 turns it off. When on,
   * sample grids, evaluations and the exported generator use the EMA weights (see Coordinator).
   * Default {@link defaultEma}: 0.999 for the conv presets `dcgan`, `dcgan32`, `dcgan64`, else 0.
   */
  ema?: number;
  /** Seed for initialisation, shuffling, latent noise and the sample grid. Default 1. */
  seed?: number;
  /** Write a sample grid every K steps (and at the end). Default 500. */
  sampleEvery?: number;
  /**
   * Score the generator every K steps and at the end (FCD, classifier score, class coverage; see
   * `ganpool eval`), logged in metrics.jsonl and the summary. Needs a labelled data set. Default: off.
   */
  evalEvery?: number;
  /** Generated images per evaluation during training (`evalEvery`, `finalEval`). Default 2000. */
  evalN?: number;
  /**
   * Score the generator once at the end (`evalN` images: FCD, classifier score, classes covered),
   * beside the real held-out floor; logged like `evalEvery`. Default: on where ganpool ships the
   * data set's classifier (`mnist`), so it costs seconds; off elsewhere, where turning it on
   * trains and caches a classifier first.
   */
  finalEval?: boolean;
  /**
   * Steps in a row that may be refused for a non-finite (NaN/Inf) loss or gradient before the run
   * stops (its parameters stay finite). Default 5.
   */
  maxSkips?: number;
  /** Times a failed worker task (an error, or its thread dying) is retried before the run stops. Default 2. */
  maxRetries?: number;
  /**
   * Seconds a worker waits at a barrier of the lockstep loop for the others before it aborts the
   * step as a fault (a hung worker thread). Default 120.
   */
  barrierTimeout?: number;
  /** Output directory. Default `runs/<timestamp>`. */
  out?: string;
  /**
   * Train a conditional GAN: G draws images of a given class (its input is [z, one-hot(class)]) and
   * D judges (image, class) pairs through a projection layer. Needs a labelled data set: `mnist`,
   * `fashion-mnist`, `idx:PATH` with its labels file, or `folder:DIR` with one subfolder per class.
   * Default false.
   */
  conditional?: boolean;
  /**
   * Compute backend: `onnx` (ONNX Runtime's native kernels), or TensorFlow.js's `wasm`, `cpu` (the
   * reference) or `tensorflow` (tfjs-node, one worker). Default `auto`: onnx where onnxruntime-node
   * loads, else wasm.
   */
  backend?: BackendChoice;
  /**
   * Train a semi-supervised GAN (Salimans et al. 2016): D is a K-class classifier with "fake" as
   * an implicit class, trained on `labels` labelled rows and every other training row unlabelled;
   * G is trained by feature matching. The run writes OUT/classifier.onnx and OUT/classifier/
   * (docs/semi-supervised.md). Needs `labels` and a labelled data set. Default false.
   */
  semiSupervised?: boolean;
  /**
   * With `semiSupervised`: labelled training rows, N/K per class drawn by the seed (N a multiple of
   * the K classes), or `all` for plain supervised training of the same D (the baseline).
   */
  labels?: number | 'all';
  /**
   * With `semiSupervised`: use only this many of the unlabelled training rows (a subset drawn by
   * the seed), to measure what a smaller unlabelled pool costs. Default: all of them.
   */
  unlabelled?: number;
}

/** A configuration with every field decided; what a run records. */
export interface ResolvedConfig {
  dataset: string;
  dataDir: string | null;
  /** `folder:` data sets: the side length; null for the others. */
  imageSize: number | null;
  /** `folder:` data sets: the channels; null for the others. */
  channels: number | null;
  /** Images in the data set (as loaded; 10,000 before loading). */
  datasetSize: number;
  /** Height, width, channels of the data set's images, once loaded (null before). */
  imageShape: [number, number, number] | null;
  model: ModelName;
  loss: GanLoss;
  /** A conditional GAN (see {@link TrainConfig.conditional}). */
  conditional: boolean;
  /** Classes of a conditional run's data set (known once loaded; 0 for an unconditional run). */
  classes: number;
  workers: number;
  batchSize: number;
  steps: number;
  epochs: number | null;
  lrG: number;
  lrD: number;
  beta1: number;
  beta2: number;
  /** EMA decay of G's parameters; 0 = off. */
  ema: number;
  epsilon: number;
  seed: number;
  sampleEvery: number;
  checkpointEvery: number;
  /** Evaluate every K steps and at the end; null = never. */
  evalEvery: number | null;
  evalN: number;
  /** Evaluate at the end (also implied by evalEvery). */
  finalEval: boolean;
  maxSkips: number;
  maxRetries: number;
  barrierTimeout: number;
  out: string;
  backend: BackendName;
}

/**
 * The default step count: what `npm start` trains, sized so that the default run (the `dcgan`
 * preset at batch {@link DEFAULT_BATCH_SIZE} on the embedded MNIST, with its final evaluation)
 * finishes within 90 s on 2 cores; see the README.
 */
export const DEFAULT_STEPS = 1200;
/** The default global batch size. */
export const DEFAULT_BATCH_SIZE = 32;

/**
 * The default model preset for a data set: `dcgan` where the images are
 * 28×28 (the embedded MNIST, Fashion-MNIST, 28×28 IDX files), else `mlp`
 * (it fits any size; the conv presets dcgan32/dcgan64 are opt-in, being
 * slower on a CPU). `imageShape` null (not loaded yet): decided from the spec.
 */
export function defaultModel(dataset: string, imageShape: [number, number, number] | null): ModelName {
  if (imageShape) return imageShape[0] === 28 && imageShape[1] === 28 ? 'dcgan' : 'mlp';
  return parseDatasetSpec(dataset).kind === 'folder' ? 'mlp' : 'dcgan'; // folder: images default to 32×32
}

/** The presets whose EMA of G is on by default (the convolutional ones). */
const EMA_PRESETS: readonly ModelName[] = ['dcgan', 'dcgan32', 'dcgan64'];

/** The default EMA decay of a model preset: 0.999 for `dcgan`, `dcgan32` and `dcgan64`, 0 (off) for the others. */
export function defaultEma(model: ModelName): number {
  return EMA_PRESETS.includes(model) ? 0.999 : 0;
}

/**
 * The generator's default learning rate: 1.2e-3 for an unconditional `dcgan`, else 2e-4 (D's).
 * At 2e-4 for both nets, `npm start` (1200 `dcgan` steps, seed 1, 2 workers)
 * drew too few ones: digit 1 was 1.8% of 10,000 samples by the shipped MNIST classifier, at FCD
 * 46.80 (n 2,000). Raising G's rate alone to 1.2e-3 draws every digit at 6.4% or more, at FCD
 * 27.92 and the same cost per step (rarest digit 5.9% on 1 worker, 5.5% at seed 2); 8e-4 also
 * met the targets at seed 1 but gave digit 1 4.9% at seed 2, and raising D's rate made it worse.
 * Measured in docs/experiments/digit-coverage.md (`npx tsx scripts/digit-coverage.ts`). Only
 * where it was measured: the other presets and the conditional GAN (which draws each class by
 * construction) keep 2e-4.
 */
function defaultLrG(model: ModelName, conditional: boolean): number {
  return model === 'dcgan' && !conditional ? 1.2e-3 : 2e-4;
}

/** The default output directory: `runs/<UTC timestamp>`. */
export function defaultOutDir(now = new Date()): string {
  return `runs/${now.toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19)}`;
}

function int(field: string, v: number | undefined, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < min || v > max) throw badValue(field, v, `a whole number from ${min} to ${max}`);
  return v;
}

function real(field: string, v: number | undefined, ok: (x: number) => boolean, allowed: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw badValue(field, v, allowed);
  return v;
}

function flag(field: string, v: boolean | undefined, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw badValue(field, v, 'true or false');
  return v;
}

function oneOf<T extends string>(field: string, v: string | undefined, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(v)) throw badValue(field, v, `one of ${allowed.join(', ')}`);
  return v as T;
}

/** Checks the data set spec and the folder-only fields (nothing is loaded). */
function resolveDataset(config: TrainConfig): Pick<ResolvedConfig, 'dataset' | 'dataDir' | 'imageSize' | 'channels'> {
  const dataset = config.dataset ?? 'mnist';
  const folder = parseDatasetSpec(dataset).kind === 'folder';
  if (!folder && config.imageSize !== undefined) throw folderOnlyField('imageSize', config.imageSize, dataset);
  if (!folder && config.channels !== undefined) throw folderOnlyField('channels', config.channels, dataset);
  if (config.dataDir !== undefined && (typeof config.dataDir !== 'string' || config.dataDir === '')) throw badValue('dataDir', config.dataDir, 'a folder path');
  const pick = (field: string, v: number | undefined, allowed: number[], fallback: number): number => {
    if (v === undefined) return fallback;
    if (!allowed.includes(v)) throw badValue(field, v, allowed.join(' or '));
    return v;
  };
  return {
    dataset,
    dataDir: config.dataDir ?? null,
    imageSize: folder ? pick('imageSize', config.imageSize, [...FOLDER_IMAGE_SIZES], 32) : null,
    channels: folder ? pick('channels', config.channels, [1, 3], 3) : null,
  };
}

/** Images in a data set known by name before loading it; null when only loading tells. */
function knownDatasetSize(dataset: string): number | null {
  return dataset === 'mnist' ? 10_000 : dataset === 'fashion-mnist' ? 60_000 : null;
}

/** Classes of a data set known by name before loading it; null when only loading tells. */
function knownClasses(dataset: string): number | null {
  return dataset === 'mnist' || dataset === 'fashion-mnist' ? 10 : null;
}

/**
 * `conditional` and the class count: a conditional run needs two or more
 * classes, checked once the data is loaded (`classes` given) or, before, for
 * a data set known by name.
 */
function resolveConditional(config: TrainConfig, dataset: string, classes: number | undefined): Pick<ResolvedConfig, 'conditional' | 'classes'> {
  if (!flag('conditional', config.conditional, false)) return { conditional: false, classes: 0 };
  const known = classes ?? knownClasses(dataset);
  if (known !== null && known < 2) throw conditionalUnlabeled(dataset, known);
  return { conditional: true, classes: known ?? 0 };
}

/**
 * Validates `config` and fills in defaults. `datasetSize` (images available)
 * turns `epochs` into steps and bounds the batch size; `imageShape` is recorded;
 * `classes` (the loaded set's class count, 0 without labels) decides whether a
 * conditional run can go ahead. Without `datasetSize` (before the data is
 * loaded) it checks everything it can: the size of a data set known by name,
 * or no upper bound on the batch.
 */
export function resolveConfig(
  config: TrainConfig, datasetSize?: number, imageShape: [number, number, number] | null = null, classes?: number,
): ResolvedConfig {
  const { dataset, dataDir, imageSize, channels } = resolveDataset(config);
  datasetSize ??= knownDatasetSize(dataset) ?? 1e9;
  const model = oneOf('model', config.model, MODEL_NAMES, defaultModel(dataset, imageShape));
  const loss = oneOf('loss', config.loss, GAN_LOSSES, DEFAULT_GAN_LOSS);
  const conditional = resolveConditional(config, dataset, classes);
  const workers = int('workers', config.workers, 1, 256, availableParallelism());
  const batchSize = int('batchSize', config.batchSize, 1, datasetSize, DEFAULT_BATCH_SIZE);
  if (batchSize < workers) throw badValue('batchSize', batchSize, `at least the number of workers (${workers}), so every worker gets a shard`);
  if (config.steps !== undefined && config.epochs !== undefined) throw conflictingFields('steps', 'epochs');
  const epochs = config.epochs === undefined ? null : int('epochs', config.epochs, 1, 1_000_000, 1);
  const stepsPerEpoch = Math.floor(datasetSize / batchSize);
  const steps = epochs === null ? int('steps', config.steps, 1, 1e9, DEFAULT_STEPS) : epochs * stepsPerEpoch;
  const positive = (x: number): boolean => x > 0;
  const unit = (x: number): boolean => x >= 0 && x < 1;
  const lr = config.lr === undefined ? undefined : real('lr', config.lr, positive, 'a positive number', 2e-4);
  const backendChoice = oneOf<BackendChoice>('backend', config.backend, ['auto', ...BACKEND_NAMES], 'auto');
  const backend = resolveBackend(backendChoice);
  if (backend === 'tensorflow' && workers > 1) throw tensorflowNeedsOneWorker(workers);
  if (backend === 'tensorflow' && !tfjsNodeAvailable()) throw tensorflowMissing();
  if (backend === 'onnx') {
    const onnx = onnxAvailability();
    if (!onnx.ok) throw onnxUnavailable(onnx.reason);
  }
  return {
    dataset, dataDir, imageSize, channels, datasetSize, imageShape, model, loss, ...conditional, workers, batchSize, steps, epochs,
    lrG: real('lrG', config.lrG, positive, 'a positive number', lr ?? defaultLrG(model, conditional.conditional)),
    lrD: real('lrD', config.lrD, positive, 'a positive number', lr ?? 2e-4),
    beta1: real('beta1', config.beta1, unit, 'a number in [0, 1)', 0.5),
    beta2: real('beta2', config.beta2, unit, 'a number in [0, 1)', 0.999),
    ema: real('ema', config.ema, unit, 'a number in [0, 1) (0 turns the EMA off)', defaultEma(model)),
    epsilon: 1e-7,
    seed: int('seed', config.seed, 0, 2 ** 32 - 1, 1),
    sampleEvery: int('sampleEvery', config.sampleEvery, 1, 1e9, 500),
    checkpointEvery: int('checkpointEvery', config.checkpointEvery, 1, 1e9, 1000),
    evalEvery: config.evalEvery === undefined ? null : int('evalEvery', config.evalEvery, 1, 1e9, 1),
    evalN: int('evalN', config.evalN, 2, 1_000_000, 2000),
    finalEval: flag('finalEval', config.finalEval, shippedClassifierDir(dataset) !== null),
    maxSkips: int('maxSkips', config.maxSkips, 1, 1_000_000, 5),
    maxRetries: int('maxRetries', config.maxRetries, 0, 100, 2),
    barrierTimeout: real('barrierTimeout', config.barrierTimeout, (x) => x > 0 && x <= 86_400, 'a number of seconds in (0, 86400]', 120),
    out: config.out ?? defaultOutDir(),
    backend,
  };
}
