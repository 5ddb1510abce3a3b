#!/usr/bin/env node
/**
 * The `ganpool` command: a thin layer over the API. Each subcommand lives in
 * src/commands/. Exit codes: 0 done, 2 bad usage (nothing written), 1 any
 * other failure, 130 forced stop.
 */
import { packageVersion } from '../package-info.js';
import { asFlagError } from './args.js';
import { GanpoolDataError, GanpoolDivergedError, GanpoolFaultError, GanpoolUsageError, unknownCommand } from '../errors.js';
import { trainCommand } from './commands/train.js';
import { sampleCommand } from './commands/sample.js';
import { classifierCommand } from './commands/classifier.js';
import { evalCommand } from './commands/eval.js';
import { benchCommand } from './commands/bench.js';
import { viewCommand } from './commands/view.js';
import { scoreCommand } from './commands/score.js';
import { sweepCommand } from './commands/sweep.js';

/** A subcommand: one help line and its runner. */
interface Command {
  summary: string;
  run: (argv: string[]) => Promise<number>;
}

/** The commands, in help order. A Map, so a word like `constructor` or `__proto__` finds nothing. */
const COMMANDS = new Map<string, Command>(Object.entries({
  train: { summary: 'train a GAN and write samples, metrics and a summary', run: trainCommand },
  sample: { summary: 'draw images from an exported generator (OUT/generator)', run: sampleCommand },
  classifier: { summary: 'train the evaluation classifier of a data set (classifier train)', run: classifierCommand },
  eval: { summary: 'score a generator: FCD, classifier score, class coverage', run: evalCommand },
  score: { summary: 'anomaly scores of a data set\'s images with a trained GAN (JSON lines)', run: scoreCommand },
  bench: { summary: 'measure how training scales with the worker count (table, JSON, plot)', run: benchCommand },
  sweep: { summary: 'train a grid of runs (SPEC) here or as a Slurm array job; results.csv and a table', run: sweepCommand },
  view: { summary: 'watch a run in the browser: live curves, grids, its generator; --export a static report', run: viewCommand },
} satisfies Record<string, Command>));

function mainHelp(): string {
  const rows = [...COMMANDS].map(([name, c]) => `  ${name.padEnd(11)}${c.summary} (ganpool ${name} --help)`);
  return [
    'Usage: ganpool <command> [flags]', '',
    'Data-parallel GAN training on every core: a piscina worker pool, ONNX Runtime, shared-memory gradients.', '',
    'Commands:', ...rows, '',
    'Flags:', '  -h, --help     show this help', '  -v, --version  print the version', '',
  ].join('\n');
}

/** Runs the CLI with `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(mainHelp());
      return command === undefined ? 2 : 0;
    }
    if (command === '--version' || command === '-v') { process.stdout.write(`${packageVersion()}\n`); return 0; }
    const cmd = COMMANDS.get(command);
    if (!cmd) {
      process.stderr.write(`ganpool: ${unknownCommand(command, [...COMMANDS.keys()]).message}\n\n${mainHelp()}`);
      return 2;
    }
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof GanpoolUsageError) {
      process.stderr.write(`ganpool: ${asFlagError(e).message}\n`);
      return 2;
    }
    if (e instanceof GanpoolDataError || e instanceof GanpoolDivergedError || e instanceof GanpoolFaultError) {
      process.stderr.write(`ganpool: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`ganpool: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
