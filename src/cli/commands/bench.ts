/**
 * `ganpool bench`: measures how the trainer scales with the number of
 * workers. Flags → validated options → a sweep (every configuration in its
 * own pool, interleaved round by round, medians) → a table on the terminal
 * and DIR/bench.json, DIR/bench.md, DIR/scaling.png.
 */
import { parseFlags } from '../../util/flags.js';
import { availableParallelism } from 'node:os';
import { runBenchCommand, type BenchCommandOptions } from '../../bench/run.js';
import { badValue } from '../../errors.js';
import { MODEL_NAMES } from '../../models/presets.js';

/** The flags of `ganpool bench`: value name and help line. */
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
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k]) : undefined);
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
