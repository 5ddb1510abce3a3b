/**
 * Throughput benchmark of the trainer: each configuration runs in its own
 * trainer, after a warm-up, with configurations interleaved round by round
 * so a noisy machine hurts all alike; results are medians over rounds.
 */
import { GanTrainer } from './trainer.js';
import type { ExecutorKind, StepInfo } from './coordinator.js';
import type { ModelName } from './models.js';
import type { ImageSet } from './datasets/image-set.js';

/** One configuration to measure. `workers: 0` means the main thread with no pool. */
export interface BenchCase {
  model: ModelName;
  batchSize: number;
  workers: number;
}

/** Median figures of one configuration. */
export interface BenchRow extends BenchCase {
  msPerStep: number;
  samplesPerSec: number;
  /** Share of a step outside the workers, and its parts (ms per step). */
  outsideShare: number;
  outsideMs: number;
  adamMs: number;
  reloadMs: number;
  /** Task round trips and everything else outside the workers. */
  overheadMs: number;
}

/** What to run. */
export interface BenchOptions {
  cases: BenchCase[];
  /** Steps per configuration per round. */
  steps: number;
  rounds: number;
  warmup: number;
  data: ImageSet;
  backend?: 'wasm' | 'cpu';
  onRound?: (round: number) => void;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function open(c: BenchCase, opts: BenchOptions): Promise<GanTrainer> {
  const executor: ExecutorKind = c.workers === 0 ? 'inline' : 'pool';
  return GanTrainer.create(
    { model: c.model, batchSize: c.batchSize, workers: Math.max(1, c.workers), seed: 1, backend: opts.backend ?? 'wasm', steps: 1e9 },
    { data: opts.data, executor },
  );
}

function summarise(c: BenchCase, steps: StepInfo[]): BenchRow {
  const ms = median(steps.map((s) => s.ms));
  const outsideMs = median(steps.map((s) => s.outsideMs));
  const adamMs = median(steps.map((s) => s.adamMs));
  const reloadMs = median(steps.map((s) => s.reloadMs));
  return {
    ...c, msPerStep: ms, samplesPerSec: (c.batchSize * 1000) / ms,
    outsideShare: outsideMs / ms, outsideMs, adamMs, reloadMs, overheadMs: Math.max(0, outsideMs - adamMs - reloadMs),
  };
}

/** Runs the benchmark and returns one row per case, in the order given. */
export async function runTrainerBench(opts: BenchOptions): Promise<BenchRow[]> {
  const trainers: GanTrainer[] = [];
  try {
    for (const c of opts.cases) {
      const t = await open(c, opts);
      trainers.push(t);
      for (let i = 0; i < opts.warmup; i++) await t.step();
    }
    const samples: StepInfo[][] = opts.cases.map(() => []);
    for (let round = 0; round < opts.rounds; round++) {
      for (let k = 0; k < trainers.length; k++) {
        for (let i = 0; i < opts.steps; i++) samples[k]!.push(await trainers[k]!.step());
      }
      opts.onRound?.(round + 1);
    }
    return opts.cases.map((c, k) => summarise(c, samples[k]!));
  } finally {
    await Promise.all(trainers.map((t) => t.close()));
  }
}
