/**
 * Evaluation during training (`evalEvery`: every K steps and at the end;
 * `finalEval`: at the end only): scores `evalN` images from the current generator (`trainer.sample`, the
 * run's seed) with the data set's classifier on the main thread, and appends
 * `{"step": S, "eval": {...}}` to OUT/metrics.jsonl.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRICS_FILE } from '../run/layout.js';
import type { GanTrainer } from '../training/trainer.js';
import type { ResolvedConfig } from '../config.js';
import { balancedLabels, Evaluator } from '../eval/evaluate.js';
import type { EvalMetrics } from '../metrics/frechet.js';
import { checkGeneratorShape } from '../generator/load.js';

/** What one evaluation during training logged. */
export interface EvalEvent {
  step: number;
  eval: EvalMetrics & { ms: number };
  /** The real held-out split scored the same way: the floor a generator can hope for. */
  floor: EvalMetrics;
}

/** Runs the scheduled evaluations of one training run. */
export class TrainingEval {
  private lastStep = -1;
  /** The newest evaluation, once one ran. */
  latest: EvalEvent | null = null;

  private constructor(private readonly evaluator: Evaluator, private readonly every: number, private readonly n: number) {}

  /**
   * An evaluator for `config` when it asks for one (`evalEvery` or `finalEval`), else null.
   * Loads the classifier (the cached one, else the shipped one, else trains and caches one).
   */
  static async create(config: ResolvedConfig, given?: Evaluator, log?: (message: string) => void): Promise<TrainingEval | null> {
    if (config.evalEvery === null && !config.finalEval) return null;
    const evaluator = given ?? await Evaluator.create(config.dataset, {
      ...(config.dataDir !== null ? { dataDir: config.dataDir } : {}),
      workers: config.workers,
      ...(log ? { log } : {}),
    });
    return new TrainingEval(evaluator, config.evalEvery ?? Infinity, config.evalN);
  }

  /** Evaluates when `trainer` sits on a scheduled step (or always, with `force`) and logs to OUT/metrics.jsonl. */
  async maybe(trainer: GanTrainer, force = false): Promise<EvalEvent | null> {
    const step = trainer.stepsDone;
    if (step === this.lastStep || (!force && step % this.every !== 0)) return null;
    checkGeneratorShape({ imageShape: trainer.imageShape }, this.evaluator.imageShape, 'generator');
    const t0 = performance.now();
    // A conditional generator is scored on balanced classes, and on how often its images read as their class.
    const labels = trainer.classes > 0 ? balancedLabels(this.n, trainer.classes) : undefined;
    const images = await trainer.sample(this.n, trainer.config.seed, labels);
    const metrics = this.evaluator.metrics(images, this.n, labels);
    const event: EvalEvent = { step, eval: { ...metrics, ms: performance.now() - t0 }, floor: this.evaluator.floor };
    appendFileSync(join(trainer.config.out, METRICS_FILE), JSON.stringify(event) + '\n');
    this.lastStep = step;
    this.latest = event;
    return event;
  }
}

/** Evaluation options of `train()`. */
export interface TrainEvalOptions {
  /** The evaluator to use for `evalEvery` (default: the data set's cached classifier, trained first if missing). */
  evaluator?: Evaluator;
  /** Called after each evaluation during training. */
  onEval?: (event: EvalEvent) => void | Promise<void>;
  /** One-line notices, e.g. that the classifier is being trained first. */
  onLog?: (message: string) => void;
}
