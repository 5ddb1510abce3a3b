#!/usr/bin/env node
/**
 * The `ganpool` command: a thin layer over the API. Exit codes: 0 done,
 * 2 bad usage (nothing written), 1 any other failure, 130 forced stop.
 */
import { packageVersion } from './package-info.js';
import { train } from './train.js';
import { parseTrainArgs, trainHelp, asFlagError } from './cli-args.js';
import { createProgress } from './progress.js';
import { resolveConfig } from './config.js';
import { GanpoolUsageError, unknownCommand } from './errors.js';

const COMMANDS = ['train'] as const;

function mainHelp(): string {
  return [
    'Usage: ganpool <command> [flags]', '',
    'Data-parallel GAN training on every core: a piscina worker pool, TensorFlow.js, shared-memory gradients.', '',
    'Commands:',
    '  train      train a GAN and write samples, metrics and a summary (ganpool train --help)', '',
    'Flags:', '  -h, --help     show this help', '  -v, --version  print the version', '',
  ].join('\n');
}

/** Ctrl-C once: stop after the current step. Twice: exit now. */
function stopOnSigint(): AbortController {
  const controller = new AbortController();
  process.on('SIGINT', () => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write('\nstopping after the current step (Ctrl-C again to quit now)…\n');
    controller.abort();
  });
  return controller;
}

async function runTrain(argv: string[]): Promise<number> {
  const { config, help } = parseTrainArgs(argv);
  if (help) { process.stdout.write(trainHelp()); return 0; }
  const resolved = resolveConfig(config);
  const controller = stopOnSigint();
  process.stderr.write(`ganpool: model ${resolved.model}, ${resolved.workers} worker(s), backend ${resolved.backend}, ` +
    `batch ${resolved.batchSize}, ${resolved.steps} steps\n`);
  const progress = createProgress('train', resolved.steps);
  const result = await train(config, {
    signal: controller.signal,
    onStep: (s) => progress.update(s.step, {
      'samples/s': s.samplesPerSec.toFixed(0), D: s.dLoss.toFixed(3), G: s.gLoss.toFixed(3),
    }),
  });
  progress.done();
  process.stdout.write(`${result.stoppedEarly ? 'stopped' : 'done'} after ${result.steps} steps in ${result.wallSeconds.toFixed(1)} s ` +
    `(${result.samplesPerSec.toFixed(0)} samples/s, ${(result.outsideShare * 100).toFixed(1)}% of each step outside the workers)\n` +
    `run:          ${result.out}\nsample grid:  ${result.latestGrid}\n`);
  return 0;
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
    if (command === 'train') return await runTrain(rest);
    throw unknownCommand(command, COMMANDS);
  } catch (e) {
    if (e instanceof GanpoolUsageError) {
      process.stderr.write(`ganpool: ${asFlagError(e).message}\n`);
      return 2;
    }
    process.stderr.write(`ganpool: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
