/**
 * ganpool's public API. Everything a user imports comes from here; other
 * modules are internal.
 */
export { shippedClassifierDir, SHIPPED_CLASSIFIER_COMMAND } from './data/shipped-classifiers.js';
export { train, planRun, type TrainResult, type RunPlan, type TrainRunOptions } from './app/train.js';
export {
  loadCheckpoint, writeCheckpoint, CHECKPOINT_DIR, CHECKPOINT_FORMAT_VERSION, type Checkpoint,
} from './run/checkpoint.js';
export {
  GENERATOR_DIR, GENERATOR_ONNX, writeGenerator, writeGeneratorOnnx, type GeneratorMetadata, type GeneratorWeights,
} from './generator/export.js';
export { runSample, runSampleExport, samplePlan, type SampleArgs } from './generator/sample.js';
export {
  exportDataset, EXPORT_FORMATS, MANIFEST_NAME, IDX_IMAGES_NAME, IDX_LABELS_NAME,
  type ExportFormat, type ExportManifest, type ExportOptions,
} from './generator/sample-export.js';
export { loadDataset, parseDatasetSpec, type DatasetSpec, type DatasetOptions } from './data/dataset.js';
export { RESUME_CHANGEABLE } from './run/resume.js';
export {
  GanTrainer, GRID_SAMPLES, GRID_COLUMNS,
  type TrainerOptions, type TrainSummary, type StepInfo, type SampleEvent, type TrainingState, type NetSnapshot,
} from './training/trainer.js';
export { resolveConfig, DATASET_NAMES, type TrainConfig, type ResolvedConfig } from './config.js';
export { MODEL_NAMES, type ModelName } from './models/presets.js';
export { GAN_LOSSES, DEFAULT_GAN_LOSS, type GanLoss } from './models/losses.js';
export { BACKEND_NAMES, DISABLE_ONNX_ENV, onnxAvailability, resolveBackendWithNotice, type BackendName, type BackendChoice, type BackendResolution } from './engines/backend.js';
export type { ImageSet } from './data/image-set.js';
export { gridPng } from './generator/grid.js';
export { Evaluator, classify, DEFAULT_REAL_N } from './eval/evaluate.js';
export type { EvalMetrics } from './metrics/frechet.js';
export {
  loadOrTrainClassifier, loadClassifier, trainClassifier, saveClassifier, classifierDir, DEFAULT_CACHE_DIR,
  classifierReady, augmentedClassifierDir,
  type ClassifierInfo, type ClassifierAugmentInfo, type LoadedClassifier, type ClassifierSource, type TrainClassifierOptions,
} from './eval/classifier-store.js';
export type { GeneratedMix } from './eval/classifier-train.js';
export { loadAugmentSet, augmentTarget, parseAugmentSpec, type AugmentSpec, type AugmentTarget } from './eval/augment-set.js';
export { mixedEpochRows, generatedDraw, generatedPerEpoch, type GeneratedRows } from './eval/augment-mix.js';
export { loadSplit, type DataSplit } from './eval/splits.js';
export { loadGenerator, generateImages, imageBatches, type LoadedGenerator, type GeneratorProvenance, type ImageBatch } from './generator/load.js';
export { conditionedInput, perClassLabels } from './models/conditioning.js';
export { randomLabels } from './util/rng.js';
export type { EvalEvent, TrainEvalOptions } from './app/train-eval.js';
export { featureStats, frechetDistance, classifierScore, classHistogram, type FeatureStats, type ClassHistogram } from './metrics/frechet.js';
export { runTrainerBench, benchSweep, type BenchCase, type BenchRow, type ScalingRow, type SweepOptions } from './bench/bench.js';
export { runBenchCommand, type BenchCommandOptions } from './bench/run.js';
export {
  startViewServer, DEFAULT_VIEW_PORT, DEFAULT_VIEW_HOST, type ViewServer, type ViewServerOptions,
} from './view/server.js';
export { buildReport, writeReport, type ReportLimits, type ReportData, type ReportRun } from './view/report.js';
export { findRuns, runFacts, runSamples, readMetrics, type RunEntry, type RunFacts, type RunSamples, type MetricsChunk } from './view/run-folder.js';
export {
  scoreImages, SCORE_DEFAULTS, SCORE_CHUNK, CALIBRATION_ROWS,
  type ScoreOptions, type ScoreRow, type ScoreReport, type ScoreMoments,
} from './anomaly/score.js';
export { scoreLines, writeScores, topGrid, topRows, SCORE_FIELDS } from './anomaly/score-file.js';
export { runScore, parseScoreArgs, type ScoreArgs } from './anomaly/run.js';
export {
  readSweepFile, writeSweepFile, runState, withWorkers, SWEEP_FILE, RESULTS_FILE,
  type SweepFile, type SweepRun, type SweepSetting, type RunState,
} from './sweep/plan.js';
export { runOne } from './sweep/run-one.js';
export { runLocal, type LocalOptions, type RunOutcome, type SweepProgress } from './sweep/local.js';
export { sbatchScript, submit, followJob, type SbatchOptions } from './sweep/slurm.js';
export { sweepRows, resultsCsv, runsTable, summaryTable, type SweepRow } from './sweep/results.js';
export { GanpoolUsageError, GanpoolDataError, GanpoolDivergedError, GanpoolFaultError } from './errors.js';
/** Semi-supervised GAN training (`ganpool train --semi-supervised --labels N`, docs/semi-supervised.md): the run, its config and hooks. */
export { trainSemi, resolveSemiConfig, semiLrScale, SEMI_DEFAULT_BATCH, SEMI_DEFAULT_LR, SEMI_DEFAULT_STEPS, type SemiConfig, type SemiRunHooks, type SemiRunResult, type SemiEvalEvent } from './app/semi-train.js';
/** The semi-supervised trainer itself, and held-out accuracy. */
export { SemiTrainer, accuracyOf, type SemiTrainOptions, type SemiStepInfo, type SemiAccuracy } from './eval/semi-train.js';
/** `ganpool classifier eval`: a classifier file's held-out accuracy in ONNX Runtime. */
export { evaluateClassifierOnnx } from './eval/semi-eval.js';
/** The picture a semi-supervised run writes: 100 images of its G (OUT/samples.png). */
export { semiSamples, writeSemiSamples, SEMI_SAMPLES, SEMI_SAMPLES_PNG } from './eval/semi-samples.js';
/** The classifier a semi-supervised run writes: file names, input and output names. */
export { writeSemiClassifier, SEMI_CLASSIFIER_ONNX, SEMI_CLASSIFIER_DIR, SEMI_INPUT, SEMI_OUTPUT, type SemiClassifierMetadata } from './eval/semi-export.js';
/** Which rows are labelled, and one shard's semi-supervised inputs as a pure function of (seed, step, first row, count). */
export { splitLabels, limitUnlabelled, parseLabelCount, semiShardInputs, type LabelSplit, type LabelCount, type SemiBatchPlan, type SemiShardInputs, type SemiPhase } from './data/label-split.js';
/** The Salimans et al. 2016 MNIST recipe as data. */
export { semiSpec, semiParams, semiParamCount, semiNoiseWidth, semiFeatureWidth, initSemiParams, foldSemiClassifier, SEMI_BN_GROUP, type SemiSpec, type WnLayerSpec } from './models/semi.js';
/** The real-only baselines a semi-supervised run prints its accuracy beside. */
export { measuredBaseline, type MeasuredBaseline } from './eval/semi-baselines.js';
