import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { gridSize } from '../src/generator/grid.js';

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('ganpool train --steps 20 --workers 2 writes config, 20 metrics lines, a summary and a grid PNG', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-cli-')), 'run');
  const r = cli(['train', '--final-eval', 'off', '--steps', '20', '--workers', '2', '--batch-size', '32', '--sample-every', '10', '--out', out]);
  t.is(r.code, 0, r.stderr);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  t.like(config, { steps: 20, workers: 2, batchSize: 32, model: 'dcgan', dataset: 'mnist', backend: 'onnx' });
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  t.is(lines.length, 20);
  t.deepEqual(lines.map((l) => l.step), Array.from({ length: 20 }, (_, i) => i + 1));
  for (const key of ['step', 'epoch', 'dLoss', 'gLoss', 'ms', 'samplesPerSec']) t.true(Number.isFinite(lines[19][key]), key);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { samplesPerSec: number; wallSeconds: number };
  t.like(summary, { steps: 20, backend: 'onnx', workers: 2, model: 'dcgan', batchSize: 32, stoppedEarly: false });
  t.true(summary.samplesPerSec > 0 && summary.wallSeconds > 0);
  t.deepEqual(readdirSync(join(out, 'samples')).sort(), ['latest.png', 'step-000010.png', 'step-000020.png']);
  const meta = await sharp(join(out, 'samples', 'latest.png')).metadata();
  t.like(meta, { format: 'png', ...gridSize(64, 28, 28, { cols: 8, pad: 2 }) });
  t.regex(r.stdout, /sample grid: +.*step-000020\.png/);
});

const bad: [string[], RegExp][] = [
  [['train', '--workers', 'two'], /--workers.*"two".*number/],
  [['train', '--batch-size', '0'], /--batch-size.*0.*whole number/],
  [['train', '--model', 'resnet'], /--model.*"resnet".*mlp, seed/],
  [['train', '--frobnicate'], /Unknown option '--frobnicate'.*ganpool train --help/],
  [['train', '--steps', '5', '--epochs', '1'], /steps or epochs/],
  [['train', '--backend', 'tensorflow', '--workers', '2'], /3463.*--workers 1/s],
  [['fly'], /unknown command 'fly'/],
];
for (const [args, message] of bad) {
  test(`bad usage exits 2 with a helpful message and writes nothing: ${args.join(' ')}`, (t) => {
    const out = join(mkdtempSync(join(tmpdir(), 'ganpool-bad-')), 'run');
    const r = cli([...args, '--out', out]);
    t.is(r.code, 2);
    t.regex(r.stderr, message);
    t.false(existsSync(out), 'nothing written');
  });
}

test('--help, train --help and --version', (t) => {
  const help = cli(['--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /Usage: ganpool <command>/);
  const trainHelp = cli(['train', '--help']);
  t.is(trainHelp.code, 0);
  for (const flag of ['--workers', '--batch-size', '--steps', '--epochs', '--backend', '--sample-every']) t.true(trainHelp.stdout.includes(flag), flag);
  const version = cli(['--version']);
  t.is(version.code, 0);
  t.is(version.stdout.trim(), (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
});

test('a command word that is not a command, Object.prototype\'s names included, prints the usage and exits 2', async (t) => {
  const words = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'fly'];
  const runs = await Promise.all(words.map((word) => new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', word], { encoding: 'utf8', timeout: 120_000 }, (_e, stdout, stderr) => {
      done({ code: child.exitCode, stdout, stderr });
    });
  })));
  runs.forEach((r, i) => {
    t.is(r.code, 2, `${words[i]}: ${r.stderr}`);
    t.true(r.stderr.includes(`ganpool: unknown command '${words[i]}'; expected one of: train, sample`), words[i]);
    t.regex(r.stderr, /Usage: ganpool <command> \[flags\][\s\S]*Commands:/, `${words[i]}: the usage`);
    t.false(/\n\s+at /.test(r.stderr), `${words[i]}: a message, not a stack trace`);
  });
});
