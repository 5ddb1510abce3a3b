import test from 'ava';
import { readFileSync, mkdtempSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTrainArgs } from '../src/cli/args.js';
import { DEFAULT_BATCH_SIZE, DEFAULT_STEPS, defaultModel, resolveConfig, type TrainConfig } from '../src/config.js';
import type { EvalMetrics } from '../src/metrics/frechet.js';
import { GanpoolUsageError } from '../src/errors.js';

const MNIST: [number, number, number] = [28, 28, 1];

/** The `ganpool train` arguments of package.json's `npm start`. */
function startArgs(): string[] {
  const start = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start;
  const m = /^tsx src\/cli\/main\.ts train(?<rest>(?: \S+)*)$/.exec(start);
  if (!m) throw new Error(`npm start is not 'tsx src/cli/main.ts train [flags]': ${start}`);
  return m.groups!.rest.trim().split(/\s+/).filter(Boolean);
}

const resolved = (config: TrainConfig) => ({ ...resolveConfig({ ...config, out: 'x' }, 10_000, MNIST) });

test('npm start trains with the documented CLI defaults, and the README states them', (t) => {
  const { config } = parseTrainArgs(startArgs());
  const fromStart = resolved(config), fromDefaults = resolved({});
  t.deepEqual(fromStart, fromDefaults, 'npm start = `ganpool train` with no flags');
  t.like(fromDefaults, { model: 'dcgan', batchSize: DEFAULT_BATCH_SIZE, steps: DEFAULT_STEPS, finalEval: true, evalN: 2000, dataset: 'mnist' });
  const readme = readFileSync('README.md', 'utf8');
  const m = /`npm start` runs `ganpool train` with its defaults: model `(\w+)`, (\d+) steps at batch (\d+)/.exec(readme);
  t.truthy(m, 'the README says what npm start trains');
  t.deepEqual([m![1], Number(m![2]), Number(m![3])], [fromDefaults.model, fromDefaults.steps, fromDefaults.batchSize]);
  const help = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', '--help'], { encoding: 'utf8' }).stdout;
  t.regex(help, new RegExp(`--batch-size N +.*\\[${DEFAULT_BATCH_SIZE}\\]`));
  t.regex(help, new RegExp(`--steps N +.*\\[${DEFAULT_STEPS}\\]`));
  t.regex(help, /--model X +.*\[dcgan for 28×28 images, mlp for other sizes\]/);
});

test('the default model: dcgan for 28×28 data, mlp for other sizes', (t) => {
  t.is(defaultModel('mnist', null), 'dcgan');
  t.is(defaultModel('fashion-mnist', null), 'dcgan');
  t.is(defaultModel('folder:x', null), 'mlp');
  t.is(defaultModel('idx:x', [28, 28, 1]), 'dcgan');
  t.is(defaultModel('idx:x', [32, 32, 1]), 'mlp');
  t.is(resolveConfig({ dataset: 'idx:x' }, 500, [16, 16, 1]).model, 'mlp');
  t.is(resolveConfig({ dataset: 'folder:x' }, 500, [32, 32, 3]).model, 'mlp');
  t.is(resolveConfig({ dataset: 'fashion-mnist' }, 60_000, [28, 28, 1]).model, 'dcgan');
  t.is(resolveConfig({ dataset: 'folder:x', model: 'dcgan32' }, 500, [32, 32, 3]).model, 'dcgan32');
});

test('the final evaluation is on by default only where the classifier ships (mnist), and --final-eval takes on|off', (t) => {
  t.true(resolveConfig({}).finalEval);
  t.false(resolveConfig({ dataset: 'fashion-mnist' }).finalEval);
  t.true(resolveConfig({ dataset: 'fashion-mnist', finalEval: true }).finalEval);
  t.false(parseTrainArgs(['--final-eval', 'off']).config.finalEval!);
  t.true(parseTrainArgs(['--final-eval', 'on']).config.finalEval!);
  t.throws(() => parseTrainArgs(['--final-eval', 'maybe']), { instanceOf: GanpoolUsageError, message: /--final-eval.*"maybe".*on, off/ });
  t.throws(() => resolveConfig({ finalEval: 'yes' as unknown as boolean }), { message: /finalEval/ });
});

test.serial('a run with the final evaluation logs its scores beside the real held-out floor, and the CLI prints both', (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-final-')), 'run');
  const c = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', '--model', 'seed', '--workers', '2', '--batch-size', '16',
    '--steps', '3', '--eval-n', '300', '--out', out], { encoding: 'utf8', timeout: 120_000 });
  t.is(c.status, 0, c.stderr);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { eval: EvalMetrics; evalFloor: EvalMetrics };
  t.is(summary.eval.n, 300);
  t.is(summary.evalFloor.n, 2000, 'the floor: the 2,000 held-out digits');
  t.true(summary.evalFloor.fcd < 5 && summary.eval.fcd > 10 * summary.evalFloor.fcd, `3 steps of training are far above the floor (${summary.eval.fcd} vs ${summary.evalFloor.fcd})`);
  t.is(summary.evalFloor.classesCovered, 10);
  const logged = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step?: number; eval?: EvalMetrics })
    .filter((l) => l.eval);
  t.is(logged.length, 1);
  t.is(logged[0].step, 3);
  t.is(logged[0].eval!.fcd, summary.eval.fcd);
  const row = (m: EvalMetrics): string => `FCD +${m.fcd.toFixed(2)} +classifier score +${m.classifierScore.toFixed(2)} +classes ${m.classesCovered}/10`;
  t.regex(c.stdout, new RegExp(`quality: +${row(summary.eval)} +\\(n 300`));
  t.regex(c.stdout, new RegExp(`real floor: +${row(summary.evalFloor)} +\\(n 2000 held-out`));
});
