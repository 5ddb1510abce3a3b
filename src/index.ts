/**
 * ganpool's public API. Everything a user imports comes from here; other
 * modules are internal.
 */
export { train, type TrainResult } from './train.js';
export {
  GanTrainer, GRID_SAMPLES,
  type TrainerOptions, type TrainSummary, type StepInfo, type SampleEvent,
} from './trainer.js';
export { resolveConfig, DATASET_NAMES, type TrainConfig, type ResolvedConfig } from './config.js';
export { MODEL_NAMES, type ModelName } from './models.js';
export { BACKEND_NAMES, type BackendName, type BackendChoice } from './backend.js';
export type { ImageSet } from './datasets/image-set.js';
export { gridPng } from './grid.js';
export { GanpoolUsageError, GanpoolDataError } from './errors.js';
