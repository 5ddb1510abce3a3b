import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { train } from '../src/app/train.js';
import { parseSampleArgs } from '../src/cli/commands/sample.js';
import { GanpoolUsageError } from '../src/errors.js';
import { gridSize } from '../src/generator/grid.js';
import { generateImages, loadGenerator } from '../src/generator/load.js';
import { maxAbsDiff } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'ganpool-sample-'));
const run = join(tmp, 'run');
const generator = join(run, 'generator');
const generatorOnnx = join(run, 'generator.onnx');

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'sample', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test.before(async () => {
  await train({ finalEval: false, model: 'seed', workers: 2, batchSize: 16, steps: 3, seed: 4, out: run });
});

test.serial('same seed → identical PNG bytes; another seed → different; the run seed reproduces the run grid', async (t) => {
  const a = join(tmp, 'a.png'), b = join(tmp, 'b.png'), c = join(tmp, 'c.png'), ind = join(tmp, 'ind');
  for (const [out, extra] of [[a, []], [b, ['--individual', ind, '--n', '64']], [c, ['--seed', '9']]] as const) {
    const r = cli(['--generator', generator, '--out', out, ...extra]);
    t.is(r.code, 0, r.stderr);
  }
  t.true(readFileSync(a).equals(readFileSync(b)), 'same seed, same bytes');
  t.false(readFileSync(a).equals(readFileSync(c)), 'other seed, other image');
  t.like(await sharp(a).metadata(), { format: 'png', ...gridSize(64, 28, 28, { cols: 8, pad: 2 }) });
  // Default seed = the run's seed (from the model metadata): the grid matches the trainer's last grid.
  const raw = async (p: string): Promise<Buffer> => (await sharp(p).raw().toBuffer());
  const [mine, trainers] = [await raw(a), await raw(join(run, 'samples', 'latest.png'))];
  t.is(mine.length, trainers.length);
  let worst = 0;
  for (let i = 0; i < mine.length; i++) worst = Math.max(worst, Math.abs(mine[i] - trainers[i]));
  t.log(`largest pixel difference vs the trainer's grid: ${worst}/255`);
  t.true(worst <= 1);
  const files = readdirSync(ind).sort();
  t.is(files.length, 64);
  t.is(files[0], 'sample-0000.png');
  t.like(await sharp(join(ind, files[5])).metadata(), { width: 28, height: 28 });
});

test.serial('--generator OUT/generator.onnx: the run seed by default, and the same images as the folder', async (t) => {
  const folder = join(tmp, 'folder.png'), onnx = join(tmp, 'onnx.png');
  const a = cli(['--generator', generator, '--out', folder]);
  t.is(a.code, 0, a.stderr);
  const r = cli(['--generator', generatorOnnx, '--out', onnx]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /wrote 64 samples \(28×28×1, seed 4\)/);
  t.like(await sharp(onnx).metadata(), { format: 'png', ...gridSize(64, 28, 28, { cols: 8, pad: 2 }) });
  const [mine, folders] = [await sharp(onnx).raw().toBuffer(), await sharp(folder).raw().toBuffer()];
  t.is(mine.length, folders.length);
  let worst = 0, differ = 0;
  for (let i = 0; i < mine.length; i++) {
    const d = Math.abs(mine[i] - folders[i]);
    worst = Math.max(worst, d);
    if (d) differ++;
  }
  t.log(`onnx vs folder grid: ${differ} of ${mine.length} bytes differ, by at most ${worst}/255`);
  t.true(worst <= 1);

  // In process: both formats load, describe themselves the same, and agree to float precision.
  const [g1, g2] = [await loadGenerator(generator, 'cpu'), await loadGenerator(generatorOnnx)];
  try {
    t.like(g1, { format: 'tfjs', latentDim: 100, imageShape: [28, 28, 1], seed: 4 });
    t.like(g2, { format: 'onnx', latentDim: 100, imageShape: [28, 28, 1], seed: 4 });
    const n = 600; // more than one batch of 500
    const diff = maxAbsDiff(await generateImages(g2, n, 7), await generateImages(g1, n, 7));
    t.log(`max |onnx − folder (tfjs cpu)| over ${n} images: ${diff.toExponential(2)}`);
    t.true(diff <= 1e-5);
  } finally {
    await g1.dispose();
    await g2.dispose();
  }
});

test('bad flags are usage errors naming the flag', (t) => {
  const bad: [string[], RegExp][] = [
    [[], /missing --generator/],
    [['--generator', 'g', '--n', '0'], /invalid --n: "0"; expected a whole number from 1 to 10000/],
    [['--generator', 'g', '--n', 'ten'], /invalid --n: "ten"/],
    [['--generator', 'g', '--seed=-1'], /invalid --seed: "-1"/],
    [['--generator', 'g', '--seed', '1.5'], /invalid --seed: "1.5"/],
    [['--generator', 'g', '--backend', 'gpu'], /invalid --backend: "gpu"; expected one of auto, onnx, wasm, cpu, tensorflow/],
    [['--generator', 'g', '--frobnicate'], /Unknown option '--frobnicate'.*ganpool sample --help/],
  ];
  for (const [args, message] of bad) {
    const e = t.throws(() => parseSampleArgs(args), { instanceOf: GanpoolUsageError });
    t.regex(e.message, message);
  }
  t.like(parseSampleArgs(['--generator', 'g']), { n: 64, seed: undefined, out: 'grid.png', individual: null, backend: 'auto' });
});

test('CLI: bad flag, a missing path or a file that is not an ONNX model exits 2; a corrupt generator exits 1 with the file named; nothing written', (t) => {
  const out = join(tmp, 'never.png');
  const flag = cli(['--generator', generator, '--n', '0', '--out', out]);
  t.is(flag.code, 2);
  t.regex(flag.stderr, /--n/);
  const missing = cli(['--generator', join(tmp, 'nope'), '--out', out]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /invalid --generator: ".*nope" does not exist \(not a folder nor a file\); expected .*folder.*ONNX file/);
  for (const file of [join(generator, 'model.json'), join(generator, 'weights.bin')]) {
    const notOnnx = cli(['--generator', file, '--out', out]);
    t.is(notOnnx.code, 2, file);
    t.regex(notOnnx.stderr, /invalid --generator: ".*generator\/(model\.json|weights\.bin)" is a file but not an ONNX model/);
    t.notRegex(notOnnx.stderr, /\n\s+at /, 'no stack trace');
  }
  const truncated = join(tmp, 'truncated.onnx');
  writeFileSync(truncated, readFileSync(generatorOnnx).subarray(0, 1000));
  const cut = cli(['--generator', truncated, '--out', out]);
  t.is(cut.code, 2);
  t.regex(cut.stderr, /invalid --generator: ".*truncated\.onnx" is a file but not an ONNX model/);
  const corrupt = join(tmp, 'corrupt');
  mkdirSync(corrupt);
  writeFileSync(join(corrupt, 'model.json'), '{"modelTopology": ');
  const bad = cli(['--generator', corrupt, '--out', out]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /corrupt\/model\.json: not a TensorFlow\.js model\.json/);
  t.notRegex(bad.stderr, /\n\s+at /, 'no stack trace');
  t.false(existsSync(out));
});
