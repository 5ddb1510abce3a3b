/**
 * A sweep on disk: DIR/sweep.json lists the runs (name, settings, config),
 * and each run lives in DIR/<name>/ as an ordinary run folder. A run's state
 * comes from its folder alone, so every executor (and a re-run of the same
 * SPEC) agrees on what is finished.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveConfig, type TrainConfig } from '../config.js';
import { writeFileAtomic } from '../util/atomic.js';
import { sweepFileBad, sweepSpecError } from '../errors.js';
import { CHECKPOINT_DIR, MANIFEST } from '../run/checkpoint.js';
import { SUMMARY_FILE } from '../run/layout.js';

/** A SPEC value: a number, a word, or a switch. */
export type SweepSetting = string | number | boolean;

/** One run of a sweep: one configuration with one seed. */
export interface SweepRun {
  /** Its position in the sweep (the Slurm array index). */
  index: number;
  /** Its folder's name under DIR, from the settings that tell it apart, e.g. `lr=0.0002_loss=hinge_seed=1`. */
  name: string;
  /** The configuration without the seed: runs of one group differ only in their seed. */
  group: string;
  /** The settings that tell runs apart (SPEC flag names), and the seed. */
  settings: Record<string, SweepSetting>;
  /** Its train config (without `out`: that is DIR/name). */
  config: TrainConfig;
}

/** DIR/sweep.json. */
export interface SweepFile {
  format: 1;
  /** Worker threads of each run (its Slurm --cpus-per-task). */
  workers: number;
  /** Extra #SBATCH lines from the SPEC. */
  sbatch: string[];
  runs: SweepRun[];
}

/** The sweep's list of runs, inside DIR. */
export const SWEEP_FILE = 'sweep.json';
/** One row per run, inside DIR. */
export const RESULTS_FILE = 'results.csv';
/** The sbatch scripts, inside DIR. */
export const SLURM_DIR = 'slurm';
/** The Slurm tasks' logs, inside DIR. */
export const LOGS_DIR = 'logs';

/**
 * Gives every run `workers` worker threads (unless its SPEC set `workers`)
 * and checks the result resolves (a batch smaller than the workers is refused).
 */
export function withWorkers(runs: SweepRun[], workers: number): SweepRun[] {
  return runs.map((run) => {
    const config = { ...run.config, workers: run.config.workers ?? workers };
    try {
      resolveConfig(config);
    } catch (e) {
      throw sweepSpecError(`run ${run.name}`, (e as Error).message);
    }
    return { ...run, config };
  });
}

/** Writes DIR/sweep.json (atomically). */
export async function writeSweepFile(dir: string, sweep: SweepFile): Promise<void> {
  await writeFileAtomic(join(dir, SWEEP_FILE), JSON.stringify(sweep, null, 2) + '\n');
}

/** Reads DIR/sweep.json; a GanpoolDataError naming it when missing or malformed. */
export function readSweepFile(dir: string): SweepFile {
  const file = join(dir, SWEEP_FILE);
  let sweep: SweepFile;
  try {
    sweep = JSON.parse(readFileSync(file, 'utf8')) as SweepFile;
  } catch (e) {
    throw sweepFileBad(file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message);
  }
  if (sweep.format !== 1 || !Array.isArray(sweep.runs)) throw sweepFileBad(file, 'expected format 1 with a list of runs');
  return sweep;
}

/** The folder of one run. */
export function runDir(dir: string, run: SweepRun): string {
  return resolve(dir, run.name);
}

/** Where a run stands: done, can continue from its checkpoint, left without a checkpoint, or not started. */
export type RunState = 'finished' | 'resumable' | 'restart' | 'new';

/** What summary.json says about how a run ended. */
interface SummaryEnd {
  steps: number;
  stoppedEarly: boolean;
  stopReason?: string;
}

/** The state of `run` in `dir`, from its folder. */
export function runState(dir: string, run: SweepRun): RunState {
  const out = runDir(dir, run);
  if (!existsSync(out)) return 'new';
  try {
    const s = JSON.parse(readFileSync(join(out, SUMMARY_FILE), 'utf8')) as SummaryEnd;
    if (!s.stoppedEarly && s.stopReason === undefined && (run.config.steps === undefined || s.steps >= run.config.steps)) return 'finished';
  } catch {
    // no summary yet
  }
  return existsSync(join(out, CHECKPOINT_DIR, MANIFEST)) ? 'resumable' : 'restart';
}
