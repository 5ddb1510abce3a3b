/**
 * The public training API: {@link GanTrainer} drives the coordinator step by
 * step, fires events and honours an AbortSignal; it writes no files.
 */
import { resolveConfig, type ResolvedConfig, type TrainConfig } from '../config.js';
import { loadDataset } from '../data/dataset.js';
import { resolveBackendWithNotice } from '../engines/backend.js';
import { GanpoolDivergedError, GanpoolFaultError } from '../errors.js';
import { Coordinator, type ExecutorKind, type StepInfo, type TrainingState } from './coordinator.js';
import { classCount, type ImageSet } from '../data/image-set.js';
import { GRID_COLUMNS, perClassLabels } from '../models/conditioning.js';
import { NoiseStream, randomLabels } from '../util/rng.js';
import { sampleLabelsError } from '../errors.js';
import type { EvalMetrics } from '../metrics/frechet.js';
import type { ModelPreset } from '../models/presets.js';
import type { ProbeResult } from './protocol.js';

export type { StepInfo, TrainingState, NetSnapshot } from './coordinator.js';

/** A batch of generated images handed to `onSample`. */
export interface SampleEvent {
  /** Steps completed when the images were drawn. */
  step: number;
  /** NHWC pixels in [-1, 1]. */
  images: Float32Array;
  /** Image shape: height, width, channels. */
  shape: [number, number, number];
}

/** Callbacks and cancellation for a training run. */
export interface TrainerOptions {
  /**
   * Called after every step, in order. During {@link GanTrainer.run} the workers run on while it is
   * called, so the trainer's state (parameters, samples, checkpoints) is that of the step only at a
   * pause point: a multiple of `sampleEvery`, `checkpointEvery` or `evalEvery`, and the last step.
   */
  onStep?: (info: StepInfo) => void | Promise<void>;
  /** Called with the fixed latent batch every `sampleEvery` steps and at the end. */
  onSample?: (event: SampleEvent) => void | Promise<void>;
  /** Aborting stops {@link GanTrainer.run} after the current step. */
  signal?: AbortSignal;
  /** Images to train on instead of loading `config.dataset`. */
  data?: ImageSet;
  /** Run tasks on the main thread instead of a worker pool (the no-pool baseline). */
  executor?: ExecutorKind;
  /** Decoding progress while an image folder loads (not called when its cache serves it). */
  onDataProgress?: (done: number, total: number) => void;
  /** One-line warnings while loading the data (e.g. unreadable images skipped). */
  onWarning?: (message: string) => void;
}

/** What a finished (or stopped) run did. */
export interface TrainSummary {
  steps: number;
  wallSeconds: number;
  /** Throughput over the steps after the first (which pays for warm-up): batch × steps / time. */
  samplesPerSec: number;
  /** Mean share of a step not spent computing gradients (Adam, weight reload, waiting at barriers). */
  outsideShare: number;
  backend: string;
  workers: number;
  model: string;
  dataset: string;
  /** Images in the data set. */
  datasetSize: number;
  /** Height, width, channels of the images. */
  imageShape: [number, number, number];
  batchSize: number;
  seed: number;
  dLoss: number | null;
  gLoss: number | null;
  /** True when the run was aborted before reaching `steps`. */
  stoppedEarly: boolean;
  /** Why the run stopped early when it was not asked to (e.g. it diverged: too many non-finite steps in a row). */
  stopReason?: string;
  /** The last evaluation (`evalEvery`; see `ganpool eval`), when the run evaluated. */
  eval?: EvalMetrics | null;
  /** The real held-out split scored like {@link eval}: the floor a generator can hope for. */
  evalFloor?: EvalMetrics | null;
}

/** Number of images in the fixed sample grid. */
export const GRID_SAMPLES = 64;
export { GRID_COLUMNS };

/** Trains a GAN data-parallel on a worker pool. Create with {@link GanTrainer.create}. */
export class GanTrainer {
  private readonly history: StepInfo[] = [];

  private constructor(
    /** The resolved configuration of this run. */
    readonly config: ResolvedConfig,
    private readonly coordinator: Coordinator,
    private readonly options: TrainerOptions,
  ) {}

  /** Validates the config, loads the data and starts the workers. */
  static async create(config: TrainConfig = {}, options: TrainerOptions = {}): Promise<GanTrainer> {
    const early = resolveConfig(config); // fail on bad fields before loading anything
    const data = options.data ?? await loadDataset(early.dataset, {
      dataDir: early.dataDir, imageSize: early.imageSize, channels: early.channels,
      ...(options.onDataProgress ? { onProgress: options.onDataProgress } : {}),
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    });
    const resolved = resolveConfig(config, data.count, [data.height, data.width, data.channels], classCount(data));
    const { notice } = resolveBackendWithNotice(config.backend ?? 'auto');
    if (notice) options.onWarning?.(notice);
    const coordinator = await Coordinator.start(resolved, data, options.executor ?? 'pool');
    return new GanTrainer(resolved, coordinator, options);
  }

  /** Steps completed so far. */
  get stepsDone(): number {
    return this.coordinator.stepsDone;
  }

  /** Image shape (height, width, channels). */
  get imageShape(): [number, number, number] {
    return this.coordinator.preset.imageShape;
  }

  /**
   * Runs one training step (a D update then a G update) and fires `onStep`. A
   * step with a non-finite loss or gradient is refused and reported in
   * `info.skipped`; after `maxSkips` such steps in a row it throws
   * GanpoolDivergedError (the parameters stay finite).
   */
  async step(): Promise<StepInfo> {
    const before = this.coordinator.skipsInARow;
    const info = await this.coordinator.step();
    await this.afterStep(info, info.skipped ? before + 1 : 0);
    return info;
  }

  /**
   * Runs `n` steps in lockstep on the workers (one loop, no sample grids) and returns their infos.
   * `onStep` (and the trainer's own) fires for each as the loop reports it, while the loop runs on;
   * when this resolves the loop has stopped at a step boundary. Stops early on divergence
   * (GanpoolDivergedError) or a persistent worker fault (GanpoolFaultError), as {@link step}.
   */
  async runSteps(n: number, onStep?: (info: StepInfo) => void | Promise<void>): Promise<StepInfo[]> {
    const infos: StepInfo[] = [];
    let skips = this.coordinator.skipsInARow;
    await this.coordinator.run(n, async (info) => {
      infos.push(info);
      await onStep?.(info);
      await this.afterStep(info, (skips = info.skipped ? skips + 1 : 0));
    });
    return infos;
  }

  /** Records a step, fires `onStep`, and throws GanpoolDivergedError once `skips` (refused steps in a row) reaches `maxSkips`. */
  private async afterStep(info: StepInfo, skips: number): Promise<void> {
    if (!info.skipped) this.history.push(info);
    await this.options.onStep?.(info);
    if (skips >= this.config.maxSkips) throw new GanpoolDivergedError(info.step, skips);
  }

  /**
   * Runs steps in lockstep on the workers up to the next pause point (a multiple of `sampleEvery`,
   * `checkpointEvery` or `evalEvery`, or `config.steps`), where the loop stops so that samples,
   * checkpoints and evaluations see the state of a step boundary.
   */
  private async runToPause(): Promise<void> {
    const c = this.config, done = this.stepsDone;
    const next = (every: number | null): number => (every === null ? Infinity : (Math.floor(done / every) + 1) * every);
    const pause = Math.min(c.steps, next(c.sampleEvery), next(c.checkpointEvery), next(c.evalEvery));
    let skips = this.coordinator.skipsInARow;
    await this.coordinator.run(pause - done, (info) => this.afterStep(info, (skips = info.skipped ? skips + 1 : 0)));
  }

  /**
   * `n` generated images (NHWC, [-1, 1]) from latent noise keyed by `seed`
   * (default: the run's seed); image i uses the same noise vector whatever the
   * labels. A conditional run draws image i of class `labels[i]` (n labels in
   * [0, classes)); without `labels` the classes are drawn uniformly, keyed by
   * `seed` (as `generateImages` draws them from an exported generator). From
   * the EMA weights when `ema` is on. An unconditional run takes no labels.
   * Throws a GanpoolUsageError naming `labels` on labels that do not fit.
   */
  sample(n = GRID_SAMPLES, seed = this.config.seed, labels?: ArrayLike<number>): Promise<Float32Array> {
    const classes = this.preset.classes;
    if (labels !== undefined && classes === 0) throw sampleLabelsError('this run is not conditional; give no labels');
    if (classes === 0) return this.coordinator.sample(n, seed);
    if (labels === undefined) return this.coordinator.sample(n, seed, randomLabels(new Int32Array(n), seed, 0, NoiseStream.Sample, 0, classes));
    if (labels.length !== n) throw sampleLabelsError(`expected ${n} labels (one per image), got ${labels.length}`);
    const ys = Int32Array.from(labels);
    if (ys.some((y, i) => y !== labels[i] || y < 0 || y >= classes)) throw sampleLabelsError(`expected classes from 0 to ${classes - 1}`);
    return this.coordinator.sample(n, seed, ys);
  }

  /**
   * The sample grid's images: {@link GRID_SAMPLES} images, or for a conditional
   * run {@link GRID_COLUMNS} of each class, class k filling row k.
   */
  gridSample(): Promise<Float32Array> {
    const classes = this.preset.classes;
    if (classes === 0) return this.sample();
    const labels = perClassLabels(classes, GRID_COLUMNS);
    return this.sample(labels.length, this.config.seed, labels);
  }

  /** Classes of a conditional run (G draws an image of a given class); 0 for an unconditional run. */
  get classes(): number {
    return this.preset.classes;
  }

  /** Copies of the generator's and discriminator's parameter vectors. */
  parameters(): { g: Float32Array; d: Float32Array } {
    return this.coordinator.parameters();
  }

  /** The batch-mean gradient of one phase at the current parameters, without applying it. */
  async gradients(phase: 'd' | 'g'): Promise<Float32Array> {
    return this.coordinator.gradients(phase);
  }

  /** Copies of the step count and both networks' parameters and Adam states (m, v, t): what a checkpoint holds. */
  exportState(): TrainingState {
    return this.coordinator.exportState();
  }

  /**
   * Continues from `state` (from {@link exportState} or a checkpoint): writes it into the shared
   * buffers (parameters, Adam states and batch-norm moving statistics) and makes every worker
   * reload. The continued run is bit-identical to an uninterrupted one.
   */
  importState(state: TrainingState): void {
    this.coordinator.importState(state);
  }

  /**
   * Copies of the generator's parameters and batch-norm moving statistics: what an exported generator
   * holds. With `ema` on these are the EMA weights (see {@link emaParameters}); the moving statistics
   * are the ones training keeps, shared by raw and EMA weights.
   */
  generatorWeights(): { params: Float32Array; bn: Float32Array } {
    return this.coordinator.generatorWeights();
  }

  /**
   * A copy of the exponential moving average of the generator's parameters (paramShapes order), or
   * null when `ema` is 0. It starts at G's initial parameters and after G's t-th Adam update becomes
   * β_t·ema + (1 − β_t)·θ with β_t = min(ema, (1 + t)/(10 + t)). Sample grids, evaluations and the
   * exported generator use it; {@link parameters} and checkpoints keep the raw weights (checkpoints
   * store the EMA too).
   */
  emaParameters(): Float32Array | null {
    return this.coordinator.emaParameters();
  }

  /** Copies of both networks' batch-norm moving statistics (bnLayers layout; empty for a network without batch norm). */
  bnStatistics(): { g: Float32Array; d: Float32Array } {
    return this.coordinator.bnStatistics();
  }

  /** The model preset being trained (layer lists of G and D). */
  get preset(): ModelPreset {
    return this.coordinator.preset;
  }

  /** The generator's latent vector length. */
  get latentDim(): number {
    return this.coordinator.preset.latentDim;
  }

  /** Asks one worker (whichever is free) for its thread id, live tensors and V8 heap in use. */
  probe(): Promise<ProbeResult> {
    return this.coordinator.probe();
  }

  /** Live tensor counts last reported by each worker thread, by thread id. */
  workerTensors(): Map<number, number> {
    return new Map(this.coordinator.workerTensors);
  }

  private async emitSample(): Promise<void> {
    if (!this.options.onSample) return;
    const images = await this.gridSample();
    await this.options.onSample({ step: this.stepsDone, images, shape: this.imageShape });
  }

  /**
   * Trains until `config.steps` or until the signal aborts (at the next step boundary); samples on
   * schedule; returns the summary. The workers run whole steps in lockstep between pause points
   * (see {@link TrainerOptions.onStep}).
   */
  async run(): Promise<TrainSummary> {
    const t0 = performance.now();
    const { signal } = this.options;
    let stopReason: string | null = null;
    // An abort stops the running loop at its next step boundary.
    const stop = (): void => this.coordinator.requestStop();
    signal?.addEventListener('abort', stop);
    try {
      while (this.stepsDone < this.config.steps && !signal?.aborted) {
        try {
          await this.runToPause();
        } catch (e) {
          if (!(e instanceof GanpoolDivergedError || e instanceof GanpoolFaultError)) throw e;
          stopReason = e.message;
          this.stopError = e;
          break;
        }
        if (this.stepsDone % this.config.sampleEvery === 0 && this.stepsDone < this.config.steps) await this.emitSample();
      }
    } finally {
      signal?.removeEventListener('abort', stop);
    }
    await this.emitSample();
    const summary = this.summary((performance.now() - t0) / 1000);
    if (stopReason !== null) summary.stopReason = stopReason;
    return summary;
  }

  private summary(wallSeconds: number): TrainSummary {
    const c = this.config;
    const later = this.history.slice(1);
    const laterMs = later.reduce((a, s) => a + s.ms, 0);
    const last = this.history[this.history.length - 1];
    return {
      steps: this.stepsDone,
      wallSeconds,
      samplesPerSec: laterMs > 0 ? (c.batchSize * later.length * 1000) / laterMs : 0,
      outsideShare: laterMs > 0 ? later.reduce((a, s) => a + s.outsideMs, 0) / laterMs : 0,
      backend: c.backend, workers: c.workers, model: c.model, dataset: c.dataset,
      datasetSize: c.datasetSize, imageShape: this.imageShape, batchSize: c.batchSize, seed: c.seed,
      dLoss: last?.dLoss ?? null,
      gLoss: last?.gLoss ?? null,
      stoppedEarly: this.stepsDone < c.steps,
    };
  }

  /** Why {@link run} stopped early on its own (divergence or a persistent worker fault), or null. */
  stopError: GanpoolDivergedError | GanpoolFaultError | null = null;

  /**
   * False after a worker fault stopped the run midway through a step (some of the step's updates
   * applied): the state is then not one to checkpoint.
   */
  get atStepBoundary(): boolean {
    return !this.coordinator.midStep;
  }

  /** Stops the workers. The trainer cannot be used afterwards. */
  close(): Promise<void> {
    return this.coordinator.close();
  }
}
