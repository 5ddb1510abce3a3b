/**
 * `train(config)`: one call that validates, trains and leaves config,
 * metrics, sample grids and a summary in the output directory.
 */
import { GanTrainer, type TrainerOptions, type TrainSummary } from './trainer.js';
import { RunFiles } from './run-files.js';
import { defaultOutDir, type TrainConfig } from './config.js';

/** A summary plus where the run's files went. */
export interface TrainResult extends TrainSummary {
  /** The output directory. */
  out: string;
  /** The last sample grid written. */
  latestGrid: string | null;
}

/** Trains with `config`, writing the run's files; resolves to the summary. */
export async function train(config: TrainConfig = {}, options: TrainerOptions = {}): Promise<TrainResult> {
  config = { ...config, out: config.out ?? defaultOutDir() };
  RunFiles.check(config.out!);
  let files: RunFiles | null = null;
  const trainer = await GanTrainer.create(config, {
    ...options,
    onStep: async (info) => {
      files?.step(info);
      await options.onStep?.(info);
    },
    onSample: async (event) => {
      await files?.sample(event);
      await options.onSample?.(event);
    },
  });
  try {
    files = await RunFiles.open(trainer.config);
    const summary = await trainer.run();
    await files.summary(summary);
    return { ...summary, out: files.dir, latestGrid: files.latestGrid };
  } finally {
    await trainer.close();
  }
}
