/**
 * One run of a sweep, the same way under every executor: a finished run is
 * left alone, a run with a checkpoint continues from it (bit-exact), and a
 * run folder left without a checkpoint (it failed before its first one) has
 * the files ganpool wrote cleared, and starts again.
 */
import { train, type TrainResult } from '../app/train.js';
import type { TrainerOptions } from '../training/trainer.js';
import type { TrainEvalOptions } from '../app/train-eval.js';
import type { TrainRunOptions } from '../app/train.js';
import { RESUME_CHANGEABLE } from '../run/resume.js';
import { RunFiles } from '../run/files.js';
import type { TrainConfig } from '../config.js';
import { runDir, runState, type SweepRun } from './plan.js';

/** Options passed through to {@link train}. */
export type RunOptions = TrainerOptions & TrainEvalOptions & TrainRunOptions;

/** Trains (or finishes) `run` in DIR/<name>/; null when it was already finished. */
export async function runOne(dir: string, run: SweepRun, options: RunOptions = {}): Promise<TrainResult | null> {
  const out = runDir(dir, run);
  const state = runState(dir, run);
  if (state === 'finished') return null;
  if (state === 'restart') RunFiles.clearUnstarted(out);
  if (state === 'resumable') {
    const changeable: TrainConfig = {};
    for (const field of RESUME_CHANGEABLE) {
      if (run.config[field] !== undefined) (changeable as Record<string, unknown>)[field] = run.config[field];
    }
    return train({ ...changeable, resume: out }, options);
  }
  return train({ ...run.config, out }, options);
}
