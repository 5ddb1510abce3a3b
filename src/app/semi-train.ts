/**
 * `train({ semiSupervised: true, labels: N })`: one semi-supervised GAN run
 * (Salimans et al. 2016, src/models/semi.ts) from start to end: the label
 * split, the trainer, held-out accuracy as it goes (`evalEvery`), and at the
 * end OUT/classifier.onnx, OUT/classifier/ (TensorFlow.js), OUT/samples.png (G's images), OUT/metrics.jsonl,
 * OUT/config.json and OUT/summary.json.
 *
 * The held-out split is the one `ganpool eval` and the evaluation classifier
 * use (src/eval/splits.ts); labels are drawn from the training split only.
 */
import { join } from 'node:path';
import { appendFileSync, mkdirSync } from 'node:fs';
import { resolveConfig, type TrainConfig } from '../config.js';
import { RunFiles } from '../run/files.js';
import { acquireRunLock } from '../run/lock.js';
import { CONFIG_FILE, METRICS_FILE, SUMMARY_FILE } from '../run/layout.js';
import { machineFacts } from '../run/machine.js';
import { loadSplit } from '../eval/splits.js';
import { SemiTrainer, type SemiAccuracy, type SemiStepInfo } from '../eval/semi-train.js';
import { writeSemiClassifier, SEMI_CLASSIFIER_DIR, SEMI_CLASSIFIER_ONNX } from '../eval/semi-export.js';
import { writeSemiSamples } from '../eval/semi-samples.js';
import { limitUnlabelled, parseLabelCount, splitLabels, type LabelCount } from '../data/label-split.js';
import { classCount } from '../data/image-set.js';
import { semiSpec, SEMI_BN_GROUP } from '../models/semi.js';
import { measuredBaseline, type MeasuredBaseline } from '../eval/semi-baselines.js';
import type { BackendName } from '../engines/backend.js';
import { writeFileAtomic } from '../util/atomic.js';
import { GanpoolUsageError, datasetUnlabeled, semiLabelsPairing, semiUnlabeled, semiUnsupportedField, semiBatchNotGroups, unlabelledBadValue } from '../errors.js';

/** Rows of each part (labelled, unlabelled, fake) per step, as the recipe. */
export const SEMI_DEFAULT_BATCH = 100;
/** Adam's learning rate of both networks, as the recipe. */
export const SEMI_DEFAULT_LR = 0.003;
/** Steps of a run without `steps`: the measured recipe (docs/experiments/semi-supervised.md), about 10 minutes on 2 cores. */
export const SEMI_DEFAULT_STEPS = 6000;

/** TrainConfig fields a semi-supervised run takes; any other set field is a usage error. */
const SEMI_FIELDS = new Set<keyof TrainConfig>([
  'semiSupervised', 'labels', 'unlabelled', 'dataset', 'dataDir', 'imageSize', 'channels', 'workers', 'batchSize', 'steps', 'lr', 'beta1', 'beta2',
  'seed', 'evalEvery', 'out', 'backend',
]);

/** A semi-supervised run's settings, decided. */
export interface SemiConfig {
  semiSupervised: true;
  labels: LabelCount;
  /** Unlabelled training rows to use (a seeded subset), or null for all. */
  unlabelled: number | null;
  dataset: string;
  dataDir: string | null;
  workers: number;
  batchSize: number;
  steps: number;
  lr: number;
  beta1: number;
  beta2: number;
  seed: number;
  evalEvery: number | null;
  out: string;
  backend: BackendName;
}

/** One held-out evaluation. */
export interface SemiEvalEvent {
  step: number;
  accuracy: SemiAccuracy;
}

/** Callbacks of {@link trainSemi}. */
export interface SemiRunHooks {
  onStart?: (config: SemiConfig, info: { labelled: number; unlabelled: number; classes: number; heldOut: number; description: string }) => void;
  onStep?: (info: SemiStepInfo & { seconds: number }) => void;
  onEval?: (event: SemiEvalEvent) => void;
  signal?: AbortSignal;
}

/** What a semi-supervised run did and where its files are. */
export interface SemiRunResult {
  out: string;
  steps: number;
  wallSeconds: number;
  /** Held-out accuracy at the end. */
  accuracy: SemiAccuracy;
  /** The real-only baseline measured for this data set and label count (docs/experiments/augmentation.md), or null. */
  baseline: MeasuredBaseline | null;
  classifierOnnx: string;
  classifierTfjs: string;
  /** OUT/samples.png, 100 images of G (null with `labels: 'all'`: no G is trained). */
  samples: string | null;
  stoppedEarly: boolean;
}

/**
 * The learning-rate factor of step `step` (0-based) of `steps`, as the recipe's schedule: 1 for the
 * first two thirds, then linear down to 0 at the end (Salimans et al.'s lr · min(3 − 3·t/T, 1)).
 */
export function semiLrScale(step: number, steps: number): number {
  return Math.min(1, 3 * (1 - step / steps));
}

/** Checks a semi-supervised config and fills in its defaults (usage errors name the field). */
export function resolveSemiConfig(config: TrainConfig): SemiConfig {
  if (config.semiSupervised !== true || config.labels === undefined) throw semiLabelsPairing(config.semiSupervised === true ? null : config.labels !== undefined ? 'labels' : config.unlabelled !== undefined ? 'unlabelled' : null);
  for (const [field, value] of Object.entries(config)) {
    if (value !== undefined && !SEMI_FIELDS.has(field as keyof TrainConfig)) throw semiUnsupportedField(field);
  }
  const labels = parseLabelCount(config.labels);
  const unlabelled = config.unlabelled ?? null;
  if (unlabelled !== null && (labels === 'all' || !Number.isInteger(unlabelled) || unlabelled < 1)) throw unlabelledBadValue(unlabelled, labels === 'all');
  const base = resolveConfig({ ...config, batchSize: config.batchSize ?? SEMI_DEFAULT_BATCH, lr: config.lr ?? SEMI_DEFAULT_LR, steps: config.steps ?? SEMI_DEFAULT_STEPS });
  if (base.batchSize % SEMI_BN_GROUP !== 0) throw semiBatchNotGroups(base.batchSize, SEMI_BN_GROUP);
  return {
    semiSupervised: true, labels, unlabelled, dataset: base.dataset, dataDir: base.dataDir, workers: base.workers, batchSize: base.batchSize,
    steps: base.steps, lr: base.lrD, beta1: base.beta1, beta2: base.beta2, seed: base.seed, evalEvery: base.evalEvery, out: base.out,
    backend: base.backend,
  };
}

/** Runs a semi-supervised training (see the module comment). */
export async function trainSemi(config: TrainConfig, hooks: SemiRunHooks = {}): Promise<SemiRunResult> {
  const c = resolveSemiConfig(config);
  RunFiles.check(c.out);
  let split;
  try {
    split = await loadSplit(c.dataset, c.dataDir ?? undefined);
  } catch (e) {
    if (e instanceof GanpoolUsageError && e.message === datasetUnlabeled(c.dataset).message) throw semiUnlabeled(c.dataset);
    throw e;
  }
  const set = split.train.set;
  const classes = classCount(set);
  if (classes < 2) throw semiUnlabeled(c.dataset);
  const drawn = splitLabels(set.labels, split.train.indices, classes, c.labels, c.seed);
  const labels = c.unlabelled === null ? drawn : limitUnlabelled(drawn, c.unlabelled, c.seed);
  const spec = semiSpec([set.height, set.width, set.channels], classes);
  mkdirSync(c.out, { recursive: true });
  const lock = acquireRunLock(c.out);
  const trainer = await SemiTrainer.start(spec, labels, split.train, split.test, {
    backend: c.backend, workers: c.workers, batchSize: c.batchSize, seed: c.seed,
    adam: { lr: c.lr, beta1: c.beta1, beta2: c.beta2, epsilon: 1e-8 },
  });
  try {
    await writeFileAtomic(join(c.out, CONFIG_FILE), JSON.stringify({ ...c, model: 'semi-mlp', imageShape: spec.imageShape, classes }, null, 2) + '\n');
    hooks.onStart?.(c, { labelled: labels.labelled.length, unlabelled: labels.unlabelled.length, classes, heldOut: split.test.indices.length, description: split.description });
    const metrics = join(c.out, METRICS_FILE);
    const started = performance.now();
    let stoppedEarly = false;
    for (let s = 0; s < c.steps; s++) {
      if (hooks.signal?.aborted) { stoppedEarly = true; break; }
      const t0 = performance.now();
      const info = await trainer.step(semiLrScale(s, c.steps));
      const seconds = (performance.now() - t0) / 1000;
      appendFileSync(metrics, JSON.stringify({ ...info, ms: seconds * 1000 }) + '\n');
      hooks.onStep?.({ ...info, seconds });
      if (c.evalEvery !== null && info.step % c.evalEvery === 0 && info.step < c.steps) {
        const acc = await trainer.accuracy();
        appendFileSync(metrics, JSON.stringify({ step: info.step, heldOutAccuracy: acc.accuracy }) + '\n');
        hooks.onEval?.({ step: info.step, accuracy: acc });
      }
    }
    const wallSeconds = (performance.now() - started) / 1000;
    const accuracy = await trainer.accuracy();
    appendFileSync(metrics, JSON.stringify({ step: trainer.stepsDone, heldOutAccuracy: accuracy.accuracy, perClass: accuracy.perClass }) + '\n');
    hooks.onEval?.({ step: trainer.stepsDone, accuracy });
    const classifierOnnx = join(c.out, SEMI_CLASSIFIER_ONNX), classifierTfjs = join(c.out, SEMI_CLASSIFIER_DIR);
    const samples = trainer.semiSupervised ? await writeSemiSamples(c.out, spec, trainer.gParams(), c.seed) : null;
    await writeSemiClassifier(c.out, spec, trainer.dParams(), {
      dataset: c.dataset, labels: c.labels, seed: c.seed, step: trainer.stepsDone, heldOutAccuracy: accuracy.accuracy, split: split.description,
    });
    await writeFileAtomic(join(c.out, SUMMARY_FILE), JSON.stringify({
      semiSupervised: true, labels: c.labels, labelled: labels.labelled.length, unlabelled: labels.unlabelled.length,
      steps: trainer.stepsDone, wallSeconds, heldOutAccuracy: accuracy.accuracy, perClass: accuracy.perClass, heldOut: accuracy.count,
      baseline: measuredBaseline(c.dataset, c.labels), split: split.description, machine: machineFacts(),
    }, null, 2) + '\n');
    return { out: c.out, steps: trainer.stepsDone, wallSeconds, accuracy, baseline: measuredBaseline(c.dataset, c.labels), classifierOnnx, classifierTfjs, samples, stoppedEarly };
  } finally {
    await trainer.close();
    lock.release();
  }
}
