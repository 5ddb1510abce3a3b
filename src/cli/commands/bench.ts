/**
 * `ganpool bench`: measures how the trainer scales with the number of
 * workers. Flags → validated options → a sweep (every configuration in its
 * own pool, interleaved round by round, medians) → a table on the terminal
 * and DIR/bench.json, DIR/bench.md, DIR/scaling.png.
 */
import { onnxAvailability, resolveBackend, type BackendName } from '../../engines/backend.js';
import { parseFlags } from '../args.js';
import { availableParallelism } from 'node:os';
import { benchSweep, sweepCases, sweepWork, type PoolLifetime } from '../../bench/bench.js';
import { benchCommandLine, benchNotes, benchTable, writeBenchReport, type BenchReport, type BenchSettings } from '../../bench/report.js';
import { defaultOutDir } from '../../config.js';
import { loadEmbeddedMnist } from '../../data/mnist.js';
import type { ImageSet } from '../../data/image-set.js';
import { badValue, benchBatchBelowWorkers } from '../../errors.js';
import { describeMachine, machineFacts } from '../../run/machine.js';
import { MODEL_NAMES, modelPreset, type ModelName } from '../../models/presets.js';
import { createProgress } from '../../util/progress.js';

/** The flags of `ganpool bench`: value name and help line. */
/** The backends a sweep can measure (tfjs-node is left out: it runs one worker only). */
const BENCH_BACKENDS: readonly BackendName[] = ['onnx', 'wasm', 'cpu'];

const BENCH_FLAGS: Record<string, [value: string, help: string]> = {
  model: ['M,…', `model presets to measure, comma-separated: ${MODEL_NAMES.join(' | ')} [mlp]`],
  workers: ['N,…', 'worker counts, whole numbers ≥ 1; 1 is always measured as the reference [1,2]'],
  'batch-size': ['B,…', 'global batch sizes, each ≥ the largest worker count [256]'],
  steps: ['N', 'measured steps per configuration per round [8]'],
  rounds: ['R', 'rounds; configurations take turns each round [5]'],
  warmup: ['W', 'unmeasured steps before measuring each configuration (fresh pools start slow) [10]'],
  backend: ['X', 'onnx | wasm | cpu [onnx where onnxruntime-node loads, else wasm]'],
  pools: ['X', 'all: every configuration keeps its pool | group: one model/batch group alive at a time |\n' +
    `${' '.repeat(23)}round: fresh pools every round [all; group when all would hold > 2 worker threads per core]`],
  out: ['DIR', 'where bench.json, bench.md and scaling.png go [runs/bench-<timestamp>]'],
};

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

function splitList(raw: string | undefined): string[] | undefined {
  return raw === undefined ? undefined : raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function numbers(flag: string, raw: string | undefined): number[] | undefined {
  const parts = splitList(raw);
  if (parts === undefined) return undefined;
  const values = parts.map(Number);
  if (parts.length === 0 || values.some((v) => !Number.isFinite(v))) throw badValue(flag, raw, 'a comma-separated list of numbers, e.g. 1,2,4');
  return values;
}

function number(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const v = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(v)) throw badValue(flag, raw, 'a number');
  return v;
}

/** Parses `ganpool bench` arguments; throws GanpoolUsageError on an unknown flag or a value that is not a number. */
export function parseBenchArgs(argv: string[]): { options: BenchCommandOptions; help: boolean } {
  const options = Object.fromEntries(Object.entries(BENCH_FLAGS).map(([k, [value]]) => [k, { type: value === '' ? 'boolean' as const : 'string' as const }]));
  const v = parseFlags('bench', argv, { ...options, help: { type: 'boolean', short: 'h' } }) as Record<string, string | boolean | undefined>;
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  return {
    help: v.help === true,
    options: {
      models: splitList(str('model')), workers: numbers('--workers', str('workers')), batchSizes: numbers('--batch-size', str('batch-size')),
      steps: number('--steps', str('steps')), rounds: number('--rounds', str('rounds')), warmup: number('--warmup', str('warmup')),
      backend: str('backend'), pools: str('pools'), out: str('out'),
    },
  };
}

/** The help text of `ganpool bench`. */
export function benchHelp(): string {
  const rows = Object.entries(BENCH_FLAGS).map(([flag, [value, help]]) => `  --${`${flag} ${value}`.trimEnd().padEnd(18)} ${help}`);
  return ['Usage: ganpool bench [flags]', '',
    'Measures training throughput with each worker count and on the main thread with no pool, each configuration',
    `in its own pool, interleaved round by round; reports medians, speedup and parallel efficiency against 1 worker.`,
    `This machine has ${availableParallelism()} cores; more workers than that are measured and flagged as oversubscribed.`, '',
    'Flags:', ...rows, '  -h, --help           show this help', '',
    'Example: ganpool bench --model mlp,dcgan --workers 1,2,3,4 --batch-size 64,256', ''].join('\n');
}

/** Runs `ganpool bench ARGS`; resolves to the exit code. */
export async function benchCommand(argv: string[]): Promise<number> {
  const { options, help } = parseBenchArgs(argv);
  if (help) { process.stdout.write(benchHelp()); return 0; }
  await runBenchCommand(options);
  return 0;
}
