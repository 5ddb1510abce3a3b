/**
 * Semi-supervised GAN training (src/models/semi.ts) data-parallel on a
 * piscina pool, the way the GAN trainer and the classifier trainer work:
 * each phase's batch is split into one shard per worker, each shard writes
 * its mean gradient into its slot in shared memory, Adam is applied once to
 * the shard-weighted average (each worker one range), and a version bump
 * makes the workers reload.
 *
 * One step: D's phase (labelled, unlabelled and fake rows); then, with
 * unlabelled rows, G's statistics pass (feature sums per shard, added here
 * into the batch means m_real, m_fake) and G's phase with δ = 2(m_fake −
 * m_real)/F, so G's gradient is that of the whole batch's feature-matching
 * loss for any worker count.
 */
import { splitRange, type AdamOptions } from '../optim/adam.js';
import { splitBatch } from '../training/coordinator.js';
import { createPoolExecutor, workerFile, type Executor } from '../training/executor.js';
import { allocSharedNet, paramsView, type SharedNetBuffers } from '../training/shared-params.js';
import type { BackendName } from '../engines/backend.js';
import { sharedLabels } from '../data/image-set.js';
import { initSemiParams, semiFeatureWidth, semiParamCount, type SemiSpec } from '../models/semi.js';
import type { LabelSplit } from '../data/label-split.js';
import type { SplitPart } from './splits.js';
import type { SemiApplyTask, SemiDResult, SemiInit, SemiStatsResult, SemiTask } from './semi-protocol.js';

/** How to train. */
export interface SemiTrainOptions {
  backend: BackendName;
  workers: number;
  /** Rows of each part (labelled, unlabelled, fake) per step. */
  batchSize: number;
  seed: number;
  /** Adam for both networks. */
  adam: AdamOptions;
}

/** What one step did. */
export interface SemiStepInfo {
  step: number;
  /** D's batch-mean loss and its parts. */
  dLoss: number;
  supervised: number;
  unsupervised: number;
  /** G's feature-matching loss, mean_j (m_fake − m_real)_j² (0 without unlabelled rows). */
  gLoss: number;
}

/** Held-out accuracy, overall and per class. */
export interface SemiAccuracy {
  accuracy: number;
  perClass: number[];
  /** Images per class. */
  counts: number[];
  count: number;
}

/** Trains the semi-supervised pair. Create with {@link SemiTrainer.start}. */
export class SemiTrainer {
  private executor!: Executor<SemiTask>;
  readonly d: SharedNetBuffers;
  readonly g: SharedNetBuffers;
  private version = { d: 0, g: 0 };
  private t = { d: 0, g: 0 };
  /** Steps completed. */
  stepsDone = 0;
  private readonly sets: SplitPart['set'][];

  private constructor(readonly spec: SemiSpec, readonly split: LabelSplit, train: SplitPart, private readonly test: SplitPart, private readonly options: SemiTrainOptions) {
    this.d = allocSharedNet(semiParamCount(spec, 'd'), options.workers);
    this.g = allocSharedNet(semiParamCount(spec, 'g'), options.workers);
    initSemiParams(spec, 'd', options.seed, paramsView(this.d));
    initSemiParams(spec, 'g', options.seed, paramsView(this.g));
    this.sets = test.set === train.set ? [train.set] : [train.set, test.set];
  }

  /** Whether G is trained (there are unlabelled rows). */
  get semiSupervised(): boolean {
    return this.split.unlabelled.length > 0;
  }

  /** Allocates the shared parameters and starts the workers. */
  static async start(spec: SemiSpec, split: LabelSplit, train: SplitPart, test: SplitPart, options: SemiTrainOptions): Promise<SemiTrainer> {
    const s = new SemiTrainer(spec, split, train, test, options);
    const init: SemiInit = {
      backend: options.backend, spec, seed: options.seed, batchSize: options.batchSize, split,
      sets: s.sets.map((set) => ({
        pixels: set.images.buffer as SharedArrayBuffer, labels: sharedLabels(set).buffer as SharedArrayBuffer, count: set.count,
      })),
      d: s.d, g: s.g,
    };
    s.executor = await createPoolExecutor<SemiTask, SemiInit>(init, options.workers, workerFile('semi-entry.mjs', 'semi-worker.js'));
    return s;
  }

  /** The step's shards: whole groups of G's batch norm (spec.bnGroup rows), spread as evenly as the groups allow. */
  private shards(): { first: number; count: number }[] {
    const group = this.spec.bnGroup, groups = this.options.batchSize / group;
    return splitBatch(groups, Math.min(this.options.workers, groups)).map((s) => ({ first: s.first * group, count: s.count * group }));
  }

  private async apply(net: 'd' | 'g', weights: number[], lrScale: number): Promise<void> {
    const buffers = this[net];
    this.t[net] += 1;
    const opts = { ...this.options.adam, lr: this.options.adam.lr * lrScale };
    await Promise.all(splitRange(buffers.size, this.options.workers).map(([lo, hi]) => {
      const task: SemiApplyTask = { kind: 'apply', net, t: this.t[net], lo, hi, weights, opts };
      return this.executor.run(task);
    }));
    this.version[net] += 1;
  }

  /** One step (see the module comment); `lrScale` multiplies both learning rates. */
  async step(lrScale = 1): Promise<SemiStepInfo> {
    const step = this.stepsDone;
    const B = this.options.batchSize;
    const shards = this.shards();
    const weights = shards.map((s) => s.count / B);
    const versions = { dVersion: this.version.d, gVersion: this.version.g };
    const dResults = await Promise.all(shards.map((s, slot) =>
      this.executor.run<SemiDResult>({ kind: 'd', step, slot, first: s.first, count: s.count, ...versions })));
    const mean = (f: (r: SemiDResult) => number): number => dResults.reduce((a, r, k) => a + weights[k] * f(r), 0);
    const info: SemiStepInfo = { step: step + 1, dLoss: mean((r) => r.loss), supervised: mean((r) => r.supervised), unsupervised: mean((r) => r.unsupervised), gLoss: 0 };
    if (![info.dLoss, info.supervised, info.unsupervised].every(Number.isFinite)) throw new Error(`semi-supervised training diverged at step ${step + 1} (D loss ${info.dLoss})`);
    await this.apply('d', weights, lrScale);
    if (this.semiSupervised) {
      const gVersions = { dVersion: this.version.d, gVersion: this.version.g };
      const stats = await Promise.all(shards.map((s) =>
        this.executor.run<SemiStatsResult>({ kind: 'stats', step, first: s.first, count: s.count, ...gVersions })));
      const F = semiFeatureWidth(this.spec);
      const delta = new Float32Array(F);
      let gLoss = 0;
      for (let j = 0; j < F; j++) {
        let real = 0, fake = 0;
        for (const r of stats) { real += r.real[j]; fake += r.fake[j]; }
        const diff = (fake - real) / B;
        gLoss += (diff * diff) / F;
        delta[j] = (2 * diff) / F;
      }
      info.gLoss = gLoss;
      await Promise.all(shards.map((s, slot) =>
        this.executor.run<number>({ kind: 'g', step, slot, first: s.first, count: s.count, delta, ...gVersions })));
      await this.apply('g', weights, lrScale);
    }
    this.stepsDone = step + 1;
    return info;
  }

  /** D's accuracy (inference, noise off) on `part` (default: the held-out split), overall and per class. */
  async accuracy(part: SplitPart = this.test): Promise<SemiAccuracy> {
    const set = this.sets.indexOf(part.set);
    if (set < 0) throw new Error('internal: that image set was not given to the workers');
    const shards = splitBatch(part.indices.length, this.options.workers).filter((s) => s.count > 0);
    const predicted = await Promise.all(shards.map((s) => this.executor.run<Int32Array>({
      kind: 'predict', set, indices: part.indices.slice(s.first, s.first + s.count), dVersion: this.version.d,
    })));
    const truth = part.indices;
    const all = new Int32Array(truth.length);
    shards.forEach((s, k) => all.set(predicted[k], s.first));
    return accuracyOf(all, Int32Array.from(truth, (row) => part.set.labels[row]), this.spec.classes);
  }

  /** A copy of D's parameters (the classifier). */
  dParams(): Float32Array {
    return paramsView(this.d).slice();
  }

  /** A copy of G's parameters (the feature-matching generator). */
  gParams(): Float32Array {
    return paramsView(this.g).slice();
  }

  /** Stops the workers. */
  close(): Promise<void> {
    return this.executor.close();
  }
}

/** Accuracy of `predicted` against `truth`, overall and per class (NaN for a class with no image). */
export function accuracyOf(predicted: Int32Array, truth: Int32Array, classes: number): SemiAccuracy {
  const hits = new Array<number>(classes).fill(0), counts = new Array<number>(classes).fill(0);
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    counts[truth[i]] += 1;
    if (predicted[i] === truth[i]) { hits[truth[i]] += 1; correct += 1; }
  }
  return { accuracy: correct / truth.length, perClass: hits.map((h, k) => h / counts[k]), counts, count: truth.length };
}
