/**
 * Resuming a run: the config comes from the checkpoint; the caller may change
 * only the step target and the cadences (and the worker count, which keeps
 * results equal to float rounding, ~1e-6, rather than bit-for-bit).
 */
import { resolve } from 'node:path';
import { resolveBackend } from '../engines/backend.js';
import type { ResolvedConfig, TrainConfig } from '../config.js';
import { resumeConflict, resumeStepsTooFew } from '../errors.js';
import { DEFAULT_GAN_LOSS, type GanLoss } from '../models/losses.js';

/** The fields a resumed run may set to new values. */
export const RESUME_CHANGEABLE = [
  'steps', 'epochs', 'sampleEvery', 'checkpointEvery', 'workers', 'maxSkips', 'maxRetries', 'barrierTimeout', 'evalEvery', 'evalN', 'finalEval',
] as const;

/**
 * Fields compared as given against the checkpoint's resolved value. A checkpoint written before a
 * field existed (no value recorded, e.g. `ema` before format 3) accepts any given value.
 */
const SAME_FIELDS = ['dataset', 'dataDir', 'imageSize', 'channels', 'model', 'batchSize', 'lrG', 'lrD', 'beta1', 'beta2', 'ema', 'seed'] as const;

/** The loss a checkpoint trained with: checkpoints written before `loss` existed trained with the default. */
function savedLoss(saved: ResolvedConfig): GanLoss {
  return (saved as Partial<ResolvedConfig>).loss ?? DEFAULT_GAN_LOSS;
}

/** Throws when a field `given` differs from the checkpoint's value. */
function checkSame(saved: ResolvedConfig, given: TrainConfig, resumeDir: string): void {
  for (const field of SAME_FIELDS) {
    const g = given[field];
    if (g !== undefined && saved[field] !== undefined && g !== saved[field]) throw resumeConflict(field, g, saved[field], RESUME_CHANGEABLE);
  }
  if (given.lr !== undefined && (given.lr !== saved.lrG || given.lr !== saved.lrD)) {
    throw resumeConflict('lr', given.lr, saved.lrG === saved.lrD ? saved.lrG : { lrG: saved.lrG, lrD: saved.lrD }, RESUME_CHANGEABLE);
  }
  if (given.loss !== undefined && given.loss !== savedLoss(saved)) throw resumeConflict('loss', given.loss, savedLoss(saved), RESUME_CHANGEABLE);
  if (given.backend !== undefined && resolveBackend(given.backend) !== saved.backend) {
    throw resumeConflict('backend', given.backend, saved.backend, RESUME_CHANGEABLE);
  }
  if (given.conditional !== undefined && given.conditional !== (saved.conditional ?? false)) {
    throw resumeConflict('conditional', given.conditional, saved.conditional ?? false, RESUME_CHANGEABLE);
  }
  if (given.out !== undefined && resolve(given.out) !== resolve(resumeDir)) throw resumeConflict('out', given.out, resumeDir, RESUME_CHANGEABLE);
}

/**
 * The config of a resumed run: the checkpoint's `saved` config with the
 * changeable fields of `given` applied. `stepsDone` bounds the new step target.
 */
export function resumeConfig(saved: ResolvedConfig, given: TrainConfig, resumeDir: string, stepsDone: number): TrainConfig {
  checkSame(saved, given, resumeDir);
  if (given.steps !== undefined && given.steps < stepsDone) throw resumeStepsTooFew(given.steps, stepsDone);
  const config: TrainConfig = {
    dataset: saved.dataset, model: saved.model, loss: savedLoss(saved), batchSize: saved.batchSize,
    lrG: saved.lrG, lrD: saved.lrD, beta1: saved.beta1, beta2: saved.beta2, seed: saved.seed, backend: saved.backend,
    workers: given.workers ?? saved.workers,
    sampleEvery: given.sampleEvery ?? saved.sampleEvery,
    checkpointEvery: given.checkpointEvery ?? saved.checkpointEvery,
    maxSkips: given.maxSkips ?? saved.maxSkips,
    maxRetries: given.maxRetries ?? saved.maxRetries,
    barrierTimeout: given.barrierTimeout ?? saved.barrierTimeout,
    evalN: given.evalN ?? saved.evalN,
    // Checkpoints from before finalEval existed: its default for the data set.
    ...(given.finalEval ?? saved.finalEval) !== undefined ? { finalEval: given.finalEval ?? saved.finalEval } : {},
    out: resumeDir,
  };
  const evalEvery = given.evalEvery ?? saved.evalEvery;
  if (evalEvery !== null && evalEvery !== undefined) config.evalEvery = evalEvery;
  if (saved.conditional) config.conditional = true;
  if (saved.dataDir !== null) config.dataDir = saved.dataDir;
  if (saved.imageSize !== null) config.imageSize = saved.imageSize;
  if (saved.channels !== null) config.channels = saved.channels;
  // A checkpoint from before the EMA (no `ema` recorded) takes the given value or the preset's default.
  const ema = (saved.ema as number | undefined) ?? given.ema;
  if (ema !== undefined) config.ema = ema;
  if (given.epochs !== undefined) config.epochs = given.epochs;
  else config.steps = given.steps ?? saved.steps;
  return config;
}
