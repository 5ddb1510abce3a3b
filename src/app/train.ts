/**
 * `train(config)`: one call that validates, trains and leaves config,
 * metrics, sample grids, checkpoints, the exported generator and a summary
 * in the output directory; with `resume` it continues such a run.
 */
import { join } from 'node:path';
import { GanTrainer, type TrainerOptions, type TrainSummary } from '../training/trainer.js';
import { RunFiles } from '../run/files.js';
import { defaultOutDir, type ResolvedConfig, type TrainConfig } from '../config.js';
import { CHECKPOINT_DIR, checkCheckpointModel, loadCheckpoint, writeCheckpoint, type Checkpoint } from '../run/checkpoint.js';
import { GENERATOR_DIR, GENERATOR_ONNX, writeGenerator, writeGeneratorOnnx, type GeneratorMetadata } from '../generator/export.js';
import { resumeConfig } from '../run/resume.js';
import { acquireRunLock, assertNotLocked } from '../run/lock.js';
import { checkpointDamagedError, resumeDatasetChanged, resumeStepsTooFew, semiNeedsTrainSemi } from '../errors.js';
import { TrainingEval, type TrainEvalOptions } from './train-eval.js';
import { REPORT_FILE } from '../run/layout.js';
import { writeReport } from '../view/report.js';

/** A summary plus where the run's files went. */
export interface TrainResult extends TrainSummary {
  /** The output directory. */
  out: string;
  /** The last sample grid written. */
  latestGrid: string | null;
  /** The checkpoint folder (OUT/checkpoint). */
  checkpoint: string;
  /** The exported generator folder (OUT/generator), a TensorFlow.js LayersModel. */
  generator: string;
  /** The exported generator as an ONNX model (OUT/generator.onnx). */
  generatorOnnx: string;
  /** The run's static page (OUT/report.html; `ganpool view OUT` serves the live one). */
  report: string;
  /** The step the run resumed from, or null for a fresh run. */
  resumedFrom: number | null;
}

/** Callbacks of {@link train} beyond the trainer's own. */
export interface TrainRunOptions {
  /** Called once the data is loaded and the config resolved (and a checkpoint restored), before the first step. */
  onStart?: (config: ResolvedConfig, firstStep: number) => void;
}

/** What a run will do before it starts: its config (merged with the checkpoint's when resuming) and the checkpoint. */
export interface RunPlan {
  config: TrainConfig;
  checkpoint: Checkpoint | null;
}

/**
 * Decides the run's config: for `resume: OUT` loads OUT's checkpoint (a damaged one is a
 * GanpoolDataError) and merges the given fields into its config (conflicts are usage errors).
 */
export function planRun(config: TrainConfig): RunPlan {
  if (config.semiSupervised !== undefined || config.labels !== undefined || config.unlabelled !== undefined) throw semiNeedsTrainSemi();
  if (config.resume === undefined) {
    const out = config.out ?? defaultOutDir();
    assertNotLocked(out); // a live run's folder: name the run
    RunFiles.check(out); // before anything is written (checked again under the lock)
    return { config: { ...config, out }, checkpoint: null };
  }
  assertNotLocked(config.resume); // a live run's checkpoint may be mid-swap: name the run instead of reading it
  RunFiles.checkResumable(config.resume);
  const checkpoint = loadCheckpoint(config.resume);
  checkCheckpointModel(checkpoint);
  return { config: resumeConfig(checkpoint.config, config, config.resume, checkpoint.state.stepsDone), checkpoint };
}

/** Writes OUT/checkpoint, OUT/generator and OUT/generator.onnx for the trainer's current state. */
async function saveCheckpoint(trainer: GanTrainer): Promise<void> {
  const { config, preset } = trainer;
  await writeCheckpoint(config.out, config, trainer.exportState());
  const weights = trainer.generatorWeights();
  const metadata: GeneratorMetadata = {
    seed: config.seed, step: trainer.stepsDone, model: config.model, dataset: config.dataset,
    imageShape: trainer.imageShape, latentDim: trainer.latentDim, classes: preset.classes,
  };
  await writeGenerator(join(config.out, GENERATOR_DIR), preset, weights, metadata);
  await writeGeneratorOnnx(join(config.out, GENERATOR_ONNX), preset, weights, metadata);
}

/** Checks that the resumed trainer sees the same data and step target, then imports the checkpoint's state. */
function restore(trainer: GanTrainer, checkpoint: Checkpoint): void {
  const saved = checkpoint.config, now = trainer.config;
  const shape = (s: [number, number, number] | null, n: number): string => `${n} images of ${s?.join('×') ?? '?'}`;
  if (saved.datasetSize !== now.datasetSize || String(saved.imageShape) !== String(now.imageShape)) {
    throw resumeDatasetChanged(now.dataset, shape(now.imageShape, now.datasetSize), shape(saved.imageShape, saved.datasetSize));
  }
  if (now.steps < checkpoint.state.stepsDone) throw resumeStepsTooFew(now.steps, checkpoint.state.stepsDone);
  try {
    trainer.importState(checkpoint.state);
  } catch (e) {
    throw checkpointDamagedError(join(checkpoint.dir, 'manifest.json'), `does not fit model '${now.model}': ${(e as Error).message}`);
  }
}

/**
 * Trains with `config`, writing the run's files; resolves to the summary.
 * A checkpoint and the exported generator are written every `checkpointEvery`
 * steps and at the end (also when stopped by the signal), then the summary
 * and OUT/report.html (the static page of `ganpool view`). With `resume: OUT`
 * the run in OUT continues from its checkpoint until `steps` in total. The
 * run holds OUT/.lock throughout: a second run into OUT is refused while
 * this one lives (see run-lock.ts).
 */
export async function train(
  config: TrainConfig = {}, options: TrainerOptions & TrainEvalOptions & TrainRunOptions = {}, plan: RunPlan = planRun(config),
): Promise<TrainResult> {
  const { checkpoint } = plan;
  config = plan.config;
  const lock = acquireRunLock(config.out!, options.onWarning);
  try {
    if (!checkpoint) RunFiles.check(config.out!);
    return await trainLocked(config, checkpoint, options);
  } finally {
    lock.release();
  }
}

/** {@link train} once the output folder's lock is held. */
async function trainLocked(
  config: TrainConfig, checkpoint: Checkpoint | null, options: TrainerOptions & TrainEvalOptions & TrainRunOptions,
): Promise<TrainResult> {
  let files: RunFiles | null = null;
  let trainer: GanTrainer | null = null;
  let evals: TrainingEval | null = null;
  let savedAt = checkpoint?.state.stepsDone ?? -1;
  const trainerOptions: TrainerOptions = {
    ...options,
    onStep: async (info) => {
      files?.step(info);
      const evaluated = trainer && evals ? await evals.maybe(trainer) : null;
      if (evaluated) await options.onEval?.(evaluated);
      if (trainer && info.step % trainer.config.checkpointEvery === 0 && info.step < trainer.config.steps) {
        await saveCheckpoint(trainer);
        savedAt = info.step;
      }
      await options.onStep?.(info);
    },
    onSample: async (event) => {
      await files?.sample(event);
      await options.onSample?.(event);
    },
  };
  trainer = await GanTrainer.create(config, trainerOptions);
  try {
    if (checkpoint) restore(trainer, checkpoint);
    files = await RunFiles.open(trainer.config, checkpoint?.state.stepsDone);
    evals = await TrainingEval.create(trainer.config, options.evaluator, options.onLog);
    options.onStart?.(trainer.config, trainer.stepsDone);
    const summary = await trainer.run();
    if (evals) {
      const last = await evals.maybe(trainer, true);
      if (last) await options.onEval?.(last);
      summary.eval = evals.latest?.eval ?? null;
      summary.evalFloor = evals.latest?.floor ?? null;
    }
    // After a fault midway through a step the last periodic checkpoint stays the last good one.
    if (savedAt !== trainer.stepsDone && trainer.atStepBoundary) await saveCheckpoint(trainer);
    await files.summary(summary);
    await writeReport(files.dir, join(files.dir, REPORT_FILE));
    // Diverged or a persistent fault: the checkpoint and the summary are written; the caller learns why.
    if (trainer.stopError) throw trainer.stopError;
    const out = files.dir;
    return {
      ...summary, out, latestGrid: files.latestGrid,
      checkpoint: join(out, CHECKPOINT_DIR), generator: join(out, GENERATOR_DIR), generatorOnnx: join(out, GENERATOR_ONNX),
      report: join(out, REPORT_FILE),
      resumedFrom: checkpoint?.state.stepsDone ?? null,
    };
  } finally {
    await trainer.close();
  }
}
