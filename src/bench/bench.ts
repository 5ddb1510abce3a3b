/**
 * Throughput benchmark of the trainer: each configuration runs in its own
 * trainer, after a warm-up, with configurations interleaved round by round
 * so a noisy machine hurts all alike; results are medians over rounds.
 */
import { availableParallelism } from 'node:os';
import { GanTrainer } from '../training/trainer.js';
import type { ExecutorKind, StepInfo } from '../training/coordinator.js';
import type { ModelName } from '../models/presets.js';
import { resolveBackend, type BackendName } from '../engines/backend.js';
import type { ImageSet } from '../data/image-set.js';

/** One configuration to measure. `workers: 0` means the main thread with no pool. */
export interface BenchCase {
  model: ModelName;
  batchSize: number;
  workers: number;
}

/** Figures of one configuration: medians over its steps, unless said otherwise. */
export interface BenchRow extends BenchCase {
  msPerStep: number;
  /** Mean throughput: samples of every measured step ÷ their total time (what a run of many steps gets). */
  samplesPerSec: number;
  /** The 95th percentile of the step times: with {@link msPerStep}, how long the slow tail is. */
  p95MsPerStep: number;
  /** Share of a step outside the workers, and its parts (ms per step). */
  outsideShare: number;
  outsideMs: number;
  adamMs: number;
  reloadMs: number;
  /** Everything else outside the gradient stages: waiting at the lockstep loop's barriers, and a loop's start. */
  overheadMs: number;
  /** Median ms/step of each round, in round order: how much the machine's noise moved the figure. */
  roundMsPerStep: number[];
}

/** What to run. */
export interface BenchOptions {
  cases: BenchCase[];
  /** Steps per configuration per round. */
  steps: number;
  rounds: number;
  warmup: number;
  data: ImageSet;
  /** Compute backend (default onnx where it loads, else wasm). */
  backend?: BackendName;
  /**
   * `sweep` (default): every configuration keeps one trainer (one pool) for
   * the whole run, warmed up once. `round`: each round opens a fresh trainer
   * per configuration, warms it up, measures it and closes it, so only one
   * pool is alive at a time (less memory, but the start-up and warm-up are
   * paid every round).
   */
  lifetime?: 'sweep' | 'round';
  onRound?: (round: number) => void;
  /** Called after each unit of work (a configuration's warm-up or measured steps): `done` of `total`. */
  onProgress?: (done: number, total: number) => void;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function open(c: BenchCase, opts: BenchOptions): Promise<GanTrainer> {
  const executor: ExecutorKind = c.workers === 0 ? 'inline' : 'pool';
  return GanTrainer.create(
    { model: c.model, batchSize: c.batchSize, workers: Math.max(1, c.workers), seed: 1, backend: opts.backend ?? resolveBackend('auto'), steps: 1e9 },
    { data: opts.data, executor },
  );
}

function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

function summarise(c: BenchCase, rounds: StepInfo[][]): BenchRow {
  const steps = rounds.flat();
  const ms = median(steps.map((s) => s.ms));
  const totalMs = steps.reduce((a, s) => a + s.ms, 0);
  const outsideMs = median(steps.map((s) => s.outsideMs));
  const adamMs = median(steps.map((s) => s.adamMs));
  const reloadMs = median(steps.map((s) => s.reloadMs));
  return {
    ...c, msPerStep: ms, samplesPerSec: (c.batchSize * steps.length * 1000) / totalMs, p95MsPerStep: percentile(steps.map((s) => s.ms), 0.95),
    outsideShare: outsideMs / ms, outsideMs, adamMs, reloadMs, overheadMs: Math.max(0, outsideMs - adamMs - reloadMs),
    roundMsPerStep: rounds.map((r) => median(r.map((s) => s.ms))),
  };
}

/** `steps` steps in one run of the lockstep loop, as training runs them between pause points. */
function measure(t: GanTrainer, steps: number): Promise<StepInfo[]> {
  return t.runSteps(steps);
}

/** Runs the benchmark and returns one row per case, in the order given. */
export async function runTrainerBench(opts: BenchOptions): Promise<BenchRow[]> {
  const samples = opts.lifetime === 'round' ? await perRound(opts) : await perSweep(opts);
  return opts.cases.map((c, k) => summarise(c, samples[k]));
}

/** One trainer per case for the whole run; returns the steps of each case, per round. */
async function perSweep(opts: BenchOptions): Promise<StepInfo[][][]> {
  const total = opts.cases.length * (opts.rounds + 1);
  let done = 0;
  const trainers: GanTrainer[] = [];
  try {
    for (const c of opts.cases) {
      const t = await open(c, opts);
      trainers.push(t);
      await measure(t, opts.warmup);
      opts.onProgress?.(++done, total);
    }
    const samples: StepInfo[][][] = opts.cases.map(() => []);
    for (let round = 0; round < opts.rounds; round++) {
      for (let k = 0; k < trainers.length; k++) {
        samples[k].push(await measure(trainers[k], opts.steps));
        opts.onProgress?.(++done, total);
      }
      opts.onRound?.(round + 1);
    }
    return samples;
  } finally {
    await Promise.all(trainers.map((t) => t.close()));
  }
}

/** A fresh trainer per case per round, warmed up each time; returns the steps of each case, per round. */
async function perRound(opts: BenchOptions): Promise<StepInfo[][][]> {
  const total = opts.cases.length * opts.rounds;
  let done = 0;
  const samples: StepInfo[][][] = opts.cases.map(() => []);
  for (let round = 0; round < opts.rounds; round++) {
    for (let k = 0; k < opts.cases.length; k++) {
      const t = await open(opts.cases[k], opts);
      try {
        await measure(t, opts.warmup);
        samples[k].push(await measure(t, opts.steps));
      } finally {
        await t.close();
      }
      opts.onProgress?.(++done, total);
    }
    opts.onRound?.(round + 1);
  }
  return samples;
}

/** A scaling sweep: every (model, batch size) with every worker count, plus the main thread with no pool. */
export interface SweepOptions extends Omit<BenchOptions, 'cases' | 'lifetime'> {
  models: ModelName[];
  /** Worker counts (≥ 1); 1 is always measured, as the reference for speedup. */
  workers: number[];
  batchSizes: number[];
  /** Cores available, for the oversubscribed flag; default `os.availableParallelism()`. */
  cores?: number;
  /** Which pools are alive at once; see {@link PoolLifetime}. Default `all`. */
  pools?: PoolLifetime;
}

/**
 * Which pools a sweep keeps alive. `all`: one pool per configuration, all
 * alive for the whole sweep, every configuration interleaved with every
 * other. `group`: the same for one (model, batch size) group at a time, so
 * the configurations compared with each other still take turns while the
 * memory held is one group's. `round`: a fresh pool per configuration per
 * round (one alive at a time; start-up and warm-up paid every round).
 */
export type PoolLifetime = 'all' | 'group' | 'round';

/** A measured configuration with its scaling figures. */
export interface ScalingRow extends BenchRow {
  /** Throughput over 1 worker of the same model and batch size (1 for that row itself). */
  speedup: number;
  /** speedup ÷ threads computing (the worker count; 1 for the main thread). */
  efficiency: number;
  /** Throughput over the main thread with no pool, same model and batch size. */
  vsMainThread: number;
  /** More workers than available cores. */
  oversubscribed: boolean;
}

/**
 * The cases of a sweep, grouped by model then batch size; in each group the
 * main thread (workers 0) first, then ascending worker counts, 1 included.
 */
export function sweepCases(models: ModelName[], workers: number[], batchSizes: number[]): BenchCase[] {
  const counts = [...new Set([0, 1, ...workers])].sort((a, b) => a - b);
  return [...new Set(models)].flatMap((model) =>
    [...new Set(batchSizes)].flatMap((batchSize) => counts.map((w) => ({ model, batchSize, workers: w }))));
}

/** Adds speedup, efficiency, vsMainThread and oversubscribed to rows that hold, per (model, batch), a 0- and a 1-worker row. */
export function scalingRows(rows: BenchRow[], cores: number): ScalingRow[] {
  const find = (r: BenchRow, workers: number): BenchRow => {
    const hit = rows.find((x) => x.model === r.model && x.batchSize === r.batchSize && x.workers === workers);
    if (!hit) throw new Error(`internal: no ${workers}-worker row for ${r.model}, batch ${r.batchSize}`);
    return hit;
  };
  return rows.map((r) => {
    const speedup = r.samplesPerSec / find(r, 1).samplesPerSec;
    return {
      ...r, speedup, efficiency: speedup / Math.max(1, r.workers),
      vsMainThread: r.samplesPerSec / find(r, 0).samplesPerSec, oversubscribed: r.workers > cores,
    };
  });
}

/** Runs a scaling sweep (configurations interleaved round by round) and returns its rows in {@link sweepCases} order. */
export async function benchSweep(opts: SweepOptions): Promise<ScalingRow[]> {
  const { models, workers, batchSizes, cores, pools = 'all', ...rest } = opts;
  const cases = sweepCases(models, workers, batchSizes);
  const groups = pools === 'group' ? groupCases(cases) : [cases];
  const total = sweepWork(cases.length, opts.rounds, pools);
  const rows: BenchRow[] = [];
  let offset = 0;
  for (const group of groups) {
    const done = offset;
    rows.push(...await runTrainerBench({
      ...rest, cases: group, lifetime: pools === 'round' ? 'round' : 'sweep',
      onProgress: (n) => opts.onProgress?.(done + n, total),
    }));
    offset += sweepWork(group.length, opts.rounds, pools);
  }
  return scalingRows(rows, cores ?? availableParallelism());
}

/** Progress units of a sweep ({@link SweepOptions.onProgress}'s `total`): one per configuration per round, plus one per warm-up unless pools are fresh each round. */
export function sweepWork(cases: number, rounds: number, pools: PoolLifetime): number {
  return cases * (rounds + (pools === 'round' ? 0 : 1));
}

/** Cases split into runs of the same (model, batch size), order kept. */
function groupCases(cases: BenchCase[]): BenchCase[][] {
  const groups: BenchCase[][] = [];
  for (const c of cases) {
    const last = groups[groups.length - 1];
    if (last && last[0].model === c.model && last[0].batchSize === c.batchSize) last.push(c);
    else groups.push([c]);
  }
  return groups;
}
