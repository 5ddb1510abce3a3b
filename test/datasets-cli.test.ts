import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { loadDataset, parseDatasetSpec } from '../src/data/dataset.js';
import { resolveConfig } from '../src/config.js';
import { SYSTEM_FASHION_MNIST_DIR } from '../src/data/idx.js';
import { GanpoolUsageError } from '../src/errors.js';
import { gridSize } from '../src/generator/grid.js';
import { requireOrSkip } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'ganpool-data-'));
const haveFashion = existsSync(join(SYSTEM_FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', '--final-eval', 'off', ...args], { encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const small = ['--steps', '3', '--workers', '2', '--batch-size', '8', '--sample-every', '1000'];
const json = (p: string): Record<string, unknown> => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;

test('dataset specs are checked before anything loads', (t) => {
  t.deepEqual(parseDatasetSpec('idx:/a/b'), { kind: 'idx', path: '/a/b' });
  t.deepEqual(parseDatasetSpec('folder:imgs'), { kind: 'folder', dir: 'imgs' });
  for (const bad of ['cifar', 'idx:', 'folder:', 'Mnist']) {
    t.throws(() => resolveConfig({ dataset: bad }), { instanceOf: GanpoolUsageError, message: /invalid dataset.*mnist, fashion-mnist, idx:PATH .*folder:DIR/ });
  }
  t.throws(() => resolveConfig({ imageSize: 32 }), { message: /invalid imageSize: 32; it applies only to folder:DIR/ });
  t.throws(() => resolveConfig({ dataset: 'folder:x', imageSize: 48 }), { message: /invalid imageSize: 48; expected 28 or 32 or 64/ });
  t.throws(() => resolveConfig({ dataset: 'folder:x', channels: 2 }), { message: /invalid channels: 2; expected 1 or 3/ });
  t.like(resolveConfig({ dataset: 'folder:x' }), { imageSize: 32, channels: 3 });
});

test('fashion-mnist from --data-dir (a tiny gzip IDX pair), labels read beside it', async (t) => {
  const dir = join(tmp, 'fm');
  mkdirSync(dir);
  const n = 12;
  const header = (dims: number[]): Buffer => {
    const b = Buffer.alloc(4 + 4 * dims.length);
    b[2] = 0x08; b[3] = dims.length;
    dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
    return b;
  };
  writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(Buffer.concat([header([n, 28, 28]), Buffer.alloc(n * 784, 7)])));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), Buffer.concat([header([n]), Buffer.alloc(n, 3)]));
  const set = await loadDataset('fashion-mnist', { dataDir: dir });
  t.like(set, { count: n, height: 28, width: 28, channels: 1 });
  t.is(set.labels?.length, n);
  t.true(set.images.buffer instanceof SharedArrayBuffer);
  const idx = await loadDataset(`idx:${join(dir, 'train-images-idx3-ubyte.gz')}`);
  t.is(idx.count, n);
});

const fashionTest = requireOrSkip(haveFashion, `${SYSTEM_FASHION_MNIST_DIR} is absent (apt-get install dataset-fashion-mnist): train --dataset fashion-mnist`, test.serial);

fashionTest('ganpool train --dataset fashion-mnist: 3 steps on the real 60,000 images', (t) => {
  const out = join(tmp, 'fashion');
  const r = cli(['--dataset', 'fashion-mnist', '--model', 'seed', ...small, '--out', out]);
  t.is(r.code, 0, r.stderr);
  t.like(json(join(out, 'config.json')), { dataset: 'fashion-mnist', datasetSize: 60000, imageShape: [28, 28, 1] });
  t.like(json(join(out, 'summary.json')), { steps: 3, datasetSize: 60000, imageShape: [28, 28, 1] });
});

test.serial('ganpool train --dataset folder:DIR --image-size 32 --channels 3: trains, warns once about the unreadable file', async (t) => {
  const dir = join(tmp, 'imgs');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  for (let i = 0; i < 24; i++) {
    const img = sharp({ create: { width: 40 + i, height: 36 + 2 * i, channels: 3, background: { r: i * 10, g: 255 - i * 10, b: 128 } } });
    await img.toFormat(i % 2 ? 'png' : 'jpeg').toFile(join(i % 3 ? dir : join(dir, 'sub'), `im${i}.${i % 2 ? 'png' : 'jpg'}`));
  }
  writeFileSync(join(dir, 'broken.png'), 'not a png');
  writeFileSync(join(dir, 'notes.txt'), 'ignored');
  const out = join(tmp, 'folder-run');
  const r = cli(['--dataset', `folder:${dir}`, '--image-size', '32', '--channels', '3', '--model', 'mlp', ...small, '--out', out]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr.match(/warning: skipped 1 unreadable image file\(s\) in .*: broken\.png/g)?.length, 1, r.stderr);
  t.like(json(join(out, 'config.json')), { datasetSize: 24, imageShape: [32, 32, 3], imageSize: 32, channels: 3 });
  t.like(await sharp(join(out, 'samples', 'latest.png')).metadata(), { channels: 3, ...gridSize(64, 32, 32, { cols: 8, pad: 2 }) });
});

test('bad data sets: usage errors exit 2, an empty folder exits 1; nothing is written', (t) => {
  const empty = join(tmp, 'empty');
  mkdirSync(empty);
  writeFileSync(join(empty, 'readme.txt'), 'no images here');
  const cases: [string[], number, RegExp][] = [
    [['--dataset', 'cifar'], 2, /invalid --dataset: "cifar"; expected mnist, fashion-mnist, idx:PATH/],
    [['--image-size', '32'], 2, /invalid --image-size: 32; it applies only to folder:DIR/],
    [['--dataset', `folder:${empty}`], 1, /no usable images: found no \.png, \.jpg, \.jpeg or \.webp files/],
    [['--dataset', `idx:${join(tmp, 'missing.idx')}`], 2, /dataset 'idx:.*missing\.idx' not found/],
  ];
  for (const [args, code, message] of cases) {
    const out = join(tmp, `bad-${Math.random().toString(36).slice(2)}`);
    const r = cli([...args, ...small, '--out', out]);
    t.is(r.code, code, r.stderr);
    t.regex(r.stderr, message);
    t.false(existsSync(out), 'nothing written');
  }
});
