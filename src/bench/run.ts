/**
 * A scaling sweep as `ganpool bench` runs it, for the CLI and for scripts:
 * options → validated settings (nothing written when they are bad) → the
 * sweep with a progress display → the table and notes on the terminal and
 * DIR/bench.json, DIR/bench.md, DIR/scaling.png.
 */
import { availableParallelism } from 'node:os';
import { onnxAvailability, resolveBackend, type BackendName } from '../engines/backend.js';
import { benchSweep, sweepCases, sweepWork, type PoolLifetime } from './bench.js';
import { benchCommandLine, benchNotes, benchTable, writeBenchReport, type BenchReport, type BenchSettings } from './report.js';
import { defaultOutDir } from '../config.js';
import { loadEmbeddedMnist } from '../data/mnist.js';
import type { ImageSet } from '../data/image-set.js';
import { badValue, benchBatchBelowWorkers } from '../errors.js';
import { describeMachine, machineFacts } from '../run/machine.js';
import { MODEL_NAMES, modelPreset, type ModelName } from '../models/presets.js';
import { createProgress } from '../util/progress.js';

/** The backends a sweep can measure (tfjs-node is left out: it runs one worker only). */
const BENCH_BACKENDS: readonly BackendName[] = ['onnx', 'wasm', 'cpu'];

/** Options of a bench run; anything left out takes the `ganpool bench` default. */
export interface BenchCommandOptions {
  models?: string[];
  workers?: number[];
  batchSizes?: number[];
  steps?: number;
  rounds?: number;
  warmup?: number;
  backend?: string;
  /** Which pools are alive at once (see PoolLifetime); default `all`, or `group` when `all` would hold more than 2 worker threads per core. */
  pools?: string;
  out?: string;
  /** Images to train on; default the embedded MNIST digits. */
  data?: ImageSet;
  /** Where the table, notes and progress go; default process.stdout / process.stderr. */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WriteStream;
}

/** The most workers a configuration may ask for (as `--workers` of `ganpool train`). */
const MAX_WORKERS = 256;

function wholeNumber(flag: string, v: number | undefined, min: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < min) throw badValue(flag, v, `a whole number ≥ ${min}`);
  return v;
}

function numberList(flag: string, v: number[] | undefined, min: number, max: number, fallback: number[]): number[] {
  if (v === undefined) return fallback;
  if (v.length === 0 || v.some((x) => !Number.isInteger(x) || x < min || x > max)) {
    throw badValue(flag, v.join(','), `a comma-separated list of whole numbers from ${min} to ${max}, e.g. 1,2,4`);
  }
  return [...new Set(v)].sort((a, b) => a - b);
}

function modelList(v: string[] | undefined, data: ImageSet): ModelName[] {
  if (v === undefined) return ['mlp'];
  const known = MODEL_NAMES as readonly string[];
  if (v.length === 0 || v.some((m) => !known.includes(m))) {
    throw badValue('--model', v.join(','), `a comma-separated list of: ${MODEL_NAMES.join(', ')}`);
  }
  const models = [...new Set(v)] as ModelName[];
  for (const m of models) modelPreset(m, [data.height, data.width, data.channels]);
  return models;
}

/** `all` keeps every configuration's pool alive: up to this many worker threads per core, else `group` by default. */
const AUTO_ALL_THREADS_PER_CORE = 2;

function poolLifetime(v: string | undefined, models: ModelName[], workers: number[], batchSizes: number[]): PoolLifetime {
  const allowed: PoolLifetime[] = ['all', 'group', 'round'];
  if (v !== undefined) {
    if (!(allowed as string[]).includes(v)) throw badValue('--pools', v, allowed.join(', '));
    return v as PoolLifetime;
  }
  const threads = sweepCases(models, workers, batchSizes).reduce((sum, c) => sum + c.workers, 0);
  return threads <= AUTO_ALL_THREADS_PER_CORE * availableParallelism() ? 'all' : 'group';
}

/** Validates options and fills in defaults; throws GanpoolUsageError naming the flag. */
export function resolveBenchOptions(o: BenchCommandOptions, data: ImageSet): BenchSettings {
  const models = modelList(o.models, data);
  const workers = numberList('--workers', o.workers, 1, MAX_WORKERS, [1, 2]);
  const batchSizes = numberList('--batch-size', o.batchSizes, 1, data.count, [256]);
  const most = Math.max(...workers);
  const small = batchSizes.find((b) => b < most);
  if (small !== undefined) throw benchBatchBelowWorkers(small, most);
  if (o.backend !== undefined && !BENCH_BACKENDS.includes(o.backend as BackendName)) throw badValue('--backend', o.backend, BENCH_BACKENDS.join(', '));
  if (o.backend === 'onnx' && !onnxAvailability().ok) throw badValue('--backend', o.backend, 'wasm or cpu (onnxruntime-node cannot be loaded here)');
  if (o.out !== undefined && o.out.trim() === '') throw badValue('--out', o.out, 'a directory path');
  return {
    models, workers, batchSizes,
    steps: wholeNumber('--steps', o.steps, 1, 8),
    rounds: wholeNumber('--rounds', o.rounds, 1, 5),
    warmup: wholeNumber('--warmup', o.warmup, 0, 10),
    backend: (o.backend as BackendName | undefined) ?? resolveBackend('auto'),
    pools: poolLifetime(o.pools, models, workers, batchSizes),
    out: o.out ?? defaultOutDir().replace(/^runs\//, 'runs/bench-'),
  };
}

/** How the header line describes each pool lifetime. */
const POOLS_TEXT: Record<PoolLifetime, string> = {
  all: 'one per configuration, all alive',
  group: 'one per configuration, one model/batch group at a time',
  round: 'a fresh one per configuration per round',
};

/**
 * Runs a scaling sweep the way `ganpool bench` does: validates the options
 * (nothing is written when they are bad), shows progress, prints the table
 * and notes, writes DIR/bench.json, bench.md and scaling.png, and returns the
 * report. For scripts (`scripts/bench.ts`) and the CLI alike.
 */
export async function runBenchCommand(o: BenchCommandOptions = {}): Promise<BenchReport> {
  const data = o.data ?? loadEmbeddedMnist();
  const settings = resolveBenchOptions(o, data);
  const stdout = o.stdout ?? process.stdout;
  const stderr = o.stderr ?? process.stderr;
  const machine = machineFacts();
  const cases = sweepCases(settings.models as ModelName[], settings.workers, settings.batchSizes).length;
  stderr.write(`ganpool bench: ${cases} configurations × ${settings.rounds} rounds × ${settings.steps} steps ` +
    `(${settings.warmup} warm-up), backend ${settings.backend}, pools: ${POOLS_TEXT[settings.pools]}\n` +
    `machine: ${describeMachine(machine)}\n`);
  const progress = createProgress('bench', sweepWork(cases, settings.rounds, settings.pools), stderr);
  const rows = await benchSweep({
    models: settings.models as ModelName[], workers: settings.workers, batchSizes: settings.batchSizes,
    steps: settings.steps, rounds: settings.rounds, warmup: settings.warmup, backend: settings.backend,
    pools: settings.pools, data, cores: machine.cores,
    onProgress: (done) => progress.update(done),
  });
  progress.done();
  const report: BenchReport = {
    date: new Date().toISOString(), command: benchCommandLine(settings), options: settings, machine,
    notes: benchNotes(rows, settings, machine.cores), rows,
  };
  const paths = await writeBenchReport(report, settings.out);
  stdout.write(`\n${benchTable(rows)}\n\n${report.notes.map((n) => `note: ${n}`).join('\n')}\n\n` +
    `results: ${paths.json}\ntable:   ${paths.markdown}\nplot:    ${paths.plot}\n`);
  return report;
}
