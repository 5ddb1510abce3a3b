/**
 * Data-parallel training of the evaluation classifier on ganpool's worker
 * pool, the same way the GAN trainer works: each step's batch is split into
 * one shard per worker, each shard's mean gradient goes into its slot in
 * shared memory, Adam is applied once to the shard-weighted average (each
 * worker updating one range of the parameters), and the parameter version is
 * bumped so workers reload their weights.
 */
import { splitRange, type AdamOptions } from '../optim/adam.js';
import { splitBatch } from '../training/coordinator.js';
import { createPoolExecutor, workerFile, type Executor } from '../training/executor.js';
import { hashInts } from '../util/rng.js';
import { allocSharedNet, averageSlots, paramsView, type SharedNetBuffers } from '../training/shared-params.js';
import type { BackendName } from '../engines/backend.js';
import type { ImageSet } from '../data/image-set.js';
import { classifierParamCount, initClassifierParams } from './classifier-spec.js';
import { type DataSplit, type SplitPart } from './splits.js';
import { sharedLabels } from '../data/image-set.js';
import { generatedPerEpoch, mixedEpochRows, type GeneratedRows } from './augment-mix.js';
import { augmentRatioTooSmall, augmentShapeError } from '../errors.js';
import type {
  ClassifierApplyTask, ClassifierGradResult, ClassifierGradTask, ClassifierInit, ClassifierPredictResult, ClassifierTask,
} from './classifier-protocol.js';

/** How to train the classifier. */
export interface ClassifierTrainOptions {
  /** Worker threads (default 2). */
  workers?: number;
  /** Global batch size (default 128). */
  batchSize?: number;
  /** Adam learning rate (default 1e-3). */
  lr?: number;
  /** Seed for initialisation and shuffling (default 1). */
  seed?: number;
  /** Backend of the workers (default wasm). */
  backend?: BackendName;
  /** Train on only the first `trainLimit` training rows (tests use a small subset). */
  trainLimit?: number;
  /** Shift training images by up to ±2 pixels (default true). */
  augment?: boolean;
  /**
   * Generated labelled images to mix into the training rows (the test split
   * stays real): each epoch trains on all real training rows plus
   * `round(ratio × realCount)` of these, drawn and shuffled with the seed
   * (see src/eval/augment-mix.ts).
   */
  generated?: GeneratedMix;
}

/** Generated images mixed into the classifier's training rows ({@link ClassifierTrainOptions.generated}). */
export interface GeneratedMix {
  /** The generated images, labelled with classes of the real set, of the real set's image shape. */
  set: ImageSet & { labels: Uint8Array };
  /** Generated images per real training image in each epoch (default 1). */
  ratio?: number;
  /** Where they came from, for classifier.json (default: the set's name). */
  source?: string;
}

/** What one classifier step did. */
export interface ClassifierStepInfo {
  step: number;
  epoch: number;
  loss: number;
}

/** Accuracy and mean loss over some rows. */
export interface Accuracy {
  accuracy: number;
  loss: number;
  count: number;
}

/** Trains the classifier data-parallel on a piscina pool. Create with {@link ClassifierTrainer.start}. */
export class ClassifierTrainer {
  private executor!: Executor<ClassifierTask>;
  private readonly net: SharedNetBuffers;
  private readonly params: Float32Array;
  private readonly adam: AdamOptions;
  private t = 0;
  private version = 0;
  private perm: { epoch: number; order: Uint32Array } | null = null;
  /** The generated rows mixed into each epoch, or null. */
  private readonly mix: GeneratedRows | null;
  /** Index of the generated set in the workers' sets (rows past the training set's end continue into it), or undefined. */
  private readonly generatedSet: number | undefined;
  /** Steps completed. */
  stepsDone = 0;
  readonly workers: number;
  readonly batchSize: number;
  readonly imageShape: [number, number, number];
  private readonly trainIndices: Uint32Array;
  private readonly seed: number;
  private readonly sets: ImageSet[];
  private readonly augment: boolean;

  private constructor(readonly split: DataSplit, options: ClassifierTrainOptions) {
    this.workers = options.workers ?? 2;
    this.batchSize = options.batchSize ?? 128;
    this.seed = options.seed ?? 1;
    this.augment = options.augment ?? true;
    const { set } = split.train;
    this.imageShape = [set.height, set.width, set.channels];
    this.trainIndices = split.train.indices.subarray(0, options.trainLimit ?? split.train.indices.length);
    this.net = allocSharedNet(classifierParamCount(this.imageShape), this.workers);
    this.params = paramsView(this.net);
    initClassifierParams(this.imageShape, this.seed, this.params);
    this.adam = { lr: options.lr ?? 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };
    this.sets = split.test.set === set ? [set] : [set, split.test.set];
    const gen = options.generated;
    if (gen) {
      const shape = [gen.set.height, gen.set.width, gen.set.channels];
      if (shape.some((d, i) => d !== this.imageShape[i])) throw augmentShapeError(gen.source ?? gen.set.name, shape, this.imageShape);
      const ratio = gen.ratio ?? 1;
      const perEpoch = generatedPerEpoch(ratio, this.trainIndices.length);
      if (perEpoch === 0) throw augmentRatioTooSmall(ratio, this.trainIndices.length);
      this.mix = { setCount: gen.set.count, perEpoch, base: set.count };
      this.generatedSet = this.sets.push(gen.set) - 1;
    } else {
      this.mix = null;
      this.generatedSet = undefined;
    }
  }

  /** Allocates the shared parameters and starts the workers. */
  static async start(split: DataSplit, options: ClassifierTrainOptions = {}): Promise<ClassifierTrainer> {
    const c = new ClassifierTrainer(split, options);
    const init: ClassifierInit = {
      backend: options.backend ?? 'wasm',
      imageShape: c.imageShape,
      sets: c.sets.map((s) => ({
        pixels: s.images.buffer as SharedArrayBuffer,
        labels: sharedLabels(s as ImageSet & { labels: Uint8Array }).buffer as SharedArrayBuffer,
        count: s.count,
      })),
      net: c.net,
    };
    c.executor = await createPoolExecutor<ClassifierTask, ClassifierInit>(init, c.workers, workerFile('classifier-entry.mjs', 'classifier-worker.js'));
    return c;
  }

  /** Steps in one pass over an epoch's rows (the last incomplete batch is dropped). */
  get stepsPerEpoch(): number {
    return Math.max(1, Math.floor(this.rowsPerEpoch / this.batchSize));
  }

  /** Real training rows used (all of the split's, or `trainLimit`). */
  get trainCount(): number {
    return this.trainIndices.length;
  }

  /** Generated rows mixed into each epoch (0 without {@link ClassifierTrainOptions.generated}). */
  get generatedPerEpoch(): number {
    return this.mix?.perEpoch ?? 0;
  }

  /** Rows in one epoch: the real training rows plus the generated ones. */
  get rowsPerEpoch(): number {
    return this.trainIndices.length + this.generatedPerEpoch;
  }

  /**
   * Epoch `epoch`'s rows in training order (see {@link mixedEpochRows}): real
   * training rows are rows of the split's training set; a row ≥ that set's
   * image count is generated image `row − count`.
   */
  epochRows(epoch: number): Uint32Array {
    if (this.perm?.epoch !== epoch) this.perm = { epoch, order: mixedEpochRows(this.trainIndices, this.seed, epoch, this.mix ?? undefined) };
    return this.perm.order;
  }

  /** Rows of step `t`'s batch: a slice of that epoch's rows ({@link epochRows}). */
  batchRows(t: number): Uint32Array {
    const start = (t % this.stepsPerEpoch) * this.batchSize;
    return this.epochRows(Math.floor(t / this.stepsPerEpoch)).subarray(start, start + this.batchSize);
  }

  /** Runs one grad task per shard of `rows` (shifted when `augment` is a seed); returns the batch-mean loss and the shards' weights. */
  private async shardGradients(rows: Uint32Array, augment?: number): Promise<{ loss: number; weights: number[] }> {
    const shards = splitBatch(rows.length, Math.min(this.workers, rows.length));
    const results = await Promise.all(shards.map((s, k) => {
      const task: ClassifierGradTask = { kind: 'grad', set: 0, indices: rows.slice(s.first, s.first + s.count), slot: k, version: this.version };
      if (augment !== undefined) task.augment = augment;
      if (this.generatedSet !== undefined) task.overflow = this.generatedSet;
      return this.executor.run<ClassifierGradResult>(task);
    }));
    const weights = shards.map((s) => s.count / rows.length);
    return { loss: results.reduce((a, r, k) => a + weights[k] * r.loss, 0), weights };
  }

  /** The batch-mean gradient over training `rows` (numbered as in {@link epochRows}) at the current parameters (no augmentation), without applying it. */
  async gradient(rows: Uint32Array): Promise<Float32Array> {
    const { weights } = await this.shardGradients(rows);
    const out = new Float32Array(this.net.size);
    averageSlots(this.net, weights, out);
    return out;
  }

  /**
   * One step: shard gradients, then Adam applied once (each worker one
   * range), then a version bump. `lrScale` multiplies the learning rate
   * (trainClassifier decays it linearly to 0).
   */
  async step(lrScale = 1): Promise<ClassifierStepInfo> {
    const t = this.stepsDone;
    const { loss, weights } = await this.shardGradients(this.batchRows(t), this.augment ? hashInts(this.seed, 0xa09, t) : undefined);
    this.t += 1;
    const opts = { ...this.adam, lr: this.adam.lr * lrScale };
    await Promise.all(splitRange(this.net.size, this.workers).map(([lo, hi]) => {
      const task: ClassifierApplyTask = { kind: 'apply', t: this.t, lo, hi, weights, opts };
      return this.executor.run(task);
    }));
    this.version += 1;
    this.stepsDone = t + 1;
    return { step: t + 1, epoch: Math.floor(t / this.stepsPerEpoch), loss };
  }

  /** Accuracy and mean cross-entropy on a part of the split (default: the test part), spread over the workers. */
  async accuracy(part: SplitPart = this.split.test): Promise<Accuracy> {
    const set = this.sets.indexOf(part.set);
    if (set < 0) throw new Error('internal: that image set was not given to the workers');
    const shards = splitBatch(part.indices.length, this.workers).filter((s) => s.count > 0);
    const results = await Promise.all(shards.map((s) => this.executor.run<ClassifierPredictResult>({
      kind: 'predict', set, indices: part.indices.slice(s.first, s.first + s.count), version: this.version,
    })));
    const correct = results.reduce((a, r) => a + r.correct, 0), lossSum = results.reduce((a, r) => a + r.lossSum, 0);
    return { accuracy: correct / part.indices.length, loss: lossSum / part.indices.length, count: part.indices.length };
  }

  /** A copy of the parameter vector. */
  parameters(): Float32Array {
    return this.params.slice();
  }

  /** Stops the workers. */
  close(): Promise<void> {
    return this.executor.close();
  }
}
