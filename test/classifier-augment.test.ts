import anyTest from 'ava';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { ClassifierTrainer } from '../src/eval/classifier-train.js';
import { classifierModel, trainClassifier } from '../src/eval/classifier-store.js';
import { buildClassifier, classifierVars } from '../src/eval/classifier-net.js';
import { generatedPerEpoch, mixedEpochRows } from '../src/eval/augment-mix.js';
import { augmentTarget, loadAugmentSet } from '../src/eval/augment-set.js';
import { holdout } from '../src/eval/splits.js';
import { toFloatImages } from '../src/eval/evaluate.js';
import { sharedBytes, type ImageSet } from '../src/data/image-set.js';
import { epochPermutation } from '../src/util/rng.js';
import { GanpoolUsageError } from '../src/errors.js';
import { classifierCommand } from '../src/cli/commands/classifier.js';
import { initBackend } from '../src/engines/tfjs/tf-backend.js';
import { mnistData, relErr } from './helpers.js';

const test = anyTest.serial;
type Labelled = ImageSet & { labels: Uint8Array };
const SIZE = 28 * 28;
const REAL = 1000, GEN = 1000;
/** The generated images' sentinel: every pixel 255 (no MNIST digit is a white square). */
const SENTINEL = 255;
const GEN_CLASS = 3;

/** Every tenth embedded digit (they are stored by class) as their own set: 800 training + 200 held-out rows. */
function realSet(): Labelled {
  const m = mnistData() as Labelled;
  const images = sharedBytes(REAL * SIZE), labels = new Uint8Array(REAL);
  for (let i = 0; i < REAL; i++) {
    images.set(m.images.subarray(10 * i * SIZE, (10 * i + 1) * SIZE), i * SIZE);
    labels[i] = m.labels[10 * i]!;
  }
  return { images, labels, count: REAL, height: 28, width: 28, channels: 1, name: 'mnist-1000' };
}

/** 1000 "generated" white squares, all labelled 3. */
function sentinelSet(): Labelled {
  const images = sharedBytes(GEN * SIZE).fill(SENTINEL);
  return { images, labels: new Uint8Array(GEN).fill(GEN_CLASS), count: GEN, height: 28, width: 28, channels: 1, name: 'sentinel' };
}

/** True when `row` (real rows first, then generated rows from `base`) is a sentinel image, read from the pixels themselves. */
function isSentinel(real: Labelled, gen: Labelled, row: number): boolean {
  const [set, at] = row < real.count ? [real, row] : [gen, row - real.count];
  return set.images.subarray(at * SIZE, (at + 1) * SIZE).every((p) => p === SENTINEL);
}

const tmp = mkdtempSync(join(tmpdir(), 'ganpool-augment-'));

/** IDX bytes: magic 00 00 08 ndims, big-endian dims, data. */
function idx(dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

/** A `ganpool sample --per-class N --format idx` folder: manifest.json plus an IDX pair. */
function idxExport(name: string, side: number, labels: number[]): { dir: string; pixels: Uint8Array } {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const pixels = Uint8Array.from({ length: labels.length * side * side }, (_, i) => (i * 37) % 256);
  writeFileSync(join(dir, 'images-idx3-ubyte'), idx([labels.length, side, side], pixels));
  writeFileSync(join(dir, 'labels-idx1-ubyte'), idx([labels.length], Uint8Array.from(labels)));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ kind: 'ganpool generated data set', format: 'idx', files: ['images-idx3-ubyte', 'labels-idx1-ubyte'] }));
  return { dir, pixels };
}

test('(a) each epoch is all real training rows once plus round(R × 800) generated rows, for R = 0.5 and 2', (t) => {
  const real = realSet(), gen = sentinelSet();
  const split = holdout(real);
  const train = split.train.indices;
  t.is(train.length, 800);
  const testRows = new Set(split.test.indices);
  for (const [ratio, expected] of [[0.5, 400], [2, 1600]] as const) {
    const perEpoch = generatedPerEpoch(ratio, train.length);
    t.is(perEpoch, expected);
    for (const epoch of [0, 1]) {
      const rows = mixedEpochRows(train, 7, epoch, { setCount: GEN, perEpoch, base: REAL });
      t.is(rows.length, 800 + expected);
      // Counted from the pixels, not the row numbers: the sentinel images are exactly the generated rows.
      t.is(Array.from(rows).filter((r) => isSentinel(real, gen, r)).length, expected);
      t.is(Array.from(rows).filter((r) => r >= REAL).length, expected);
      // Every real training row exactly once; no held-out row.
      t.deepEqual(Array.from(rows).filter((r) => r < REAL).sort((a, b) => a - b), Array.from(train).sort((a, b) => a - b));
      t.false(Array.from(rows).some((r) => testRows.has(r)));
      // Generated images are drawn evenly: R = 0.5 uses 400 distinct ones, R = 2 each one 1 or 2 times (1600 of 1000).
      const uses = new Map<number, number>();
      for (const r of rows) if (r >= REAL) uses.set(r, (uses.get(r) ?? 0) + 1);
      t.is(uses.size, Math.min(expected, GEN));
      t.true([...uses.values()].every((n) => n === Math.floor(expected / GEN) || n === Math.ceil(expected / GEN)));
      // Shuffled together: the generated rows are spread over the epoch (about R/(1+R) of each half).
      const firstHalf = Array.from(rows.subarray(0, rows.length / 2)).filter((r) => r >= REAL).length;
      t.true(Math.abs(firstHalf / (rows.length / 2) - expected / rows.length) < 0.1, `${firstHalf} generated rows in the first half`);
    }
    const [e0, e1] = [0, 1].map((e) => mixedEpochRows(train, 7, e, { setCount: GEN, perEpoch, base: REAL }));
    t.notDeepEqual(e0, e1);
  }
  // Without generated rows: the trainer's old shuffle, bit for bit.
  t.deepEqual(mixedEpochRows(train, 7, 3), epochPermutation(train.length, 7, 3).map((i) => train[i]));
});

/** Reference on the tfjs cpu backend: the mean cross-entropy gradient over `rows` of (real rows, then generated rows) at `params`. */
async function cpuGradient(params: Float32Array, real: Labelled, gen: Labelled, rows: Uint32Array): Promise<Float32Array> {
  await initBackend('cpu');
  const model = buildClassifier([28, 28, 1], true);
  const vars = classifierVars(model);
  let offset = 0;
  for (const v of vars) {
    v.assign(tf.tensor(params.subarray(offset, offset + v.size), v.shape));
    offset += v.size;
  }
  // Gathered by hand from the two sets' pixels: row < 1000 is a real image, else generated image row − 1000.
  const x = new Float32Array(rows.length * SIZE), ys: number[] = [];
  rows.forEach((row, r) => {
    const [set, at] = row < REAL ? [real, row] : [gen, row - REAL];
    for (let i = 0; i < SIZE; i++) x[r * SIZE + i] = set.images[at * SIZE + i] / 127.5 - 1;
    ys.push(set.labels[at]);
  });
  const out = tf.tidy(() => {
    const { grads } = tf.variableGrads(() => {
      const logits = model.apply(tf.tensor4d(x, [rows.length, 28, 28, 1]), { training: true }) as tf.Tensor;
      const y = tf.cast(tf.oneHot(tf.tensor1d(ys, 'int32'), 10), 'float32');
      return tf.mean<tf.Scalar>(tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1)));
    }, vars);
    const flat = new Float32Array(params.length);
    let at = 0;
    for (const v of vars) {
      flat.set(grads[v.name].dataSync(), at);
      at += v.size;
    }
    return flat;
  });
  model.dispose();
  return out;
}

test('(a) the trainer batches the mixed rows and its workers read generated rows from the generated set (gradient = cpu reference)', async (t) => {
  const real = realSet(), gen = sentinelSet();
  const split = holdout(real);
  const trainer = await ClassifierTrainer.start(split, { workers: 2, batchSize: 64, seed: 5, generated: { set: gen, ratio: 0.5 } });
  try {
    t.is(trainer.trainCount, 800);
    t.is(trainer.generatedPerEpoch, 400);
    t.is(trainer.rowsPerEpoch, 1200);
    t.is(trainer.stepsPerEpoch, Math.floor(1200 / 64));
    t.deepEqual(trainer.epochRows(1), mixedEpochRows(split.train.indices, 5, 1, { setCount: GEN, perEpoch: 400, base: REAL }));
    t.deepEqual(trainer.batchRows(trainer.stepsPerEpoch + 2), trainer.epochRows(1).subarray(128, 192));
    // The epoch's first 4 real and first 4 generated rows, alternating: both shards of 4 mix the two sets (the cpu reference costs ~0.2 s a row).
    const epoch0 = Array.from(trainer.epochRows(0));
    const [firstReal, firstGen] = [epoch0.filter((r) => r < REAL).slice(0, 4), epoch0.filter((r) => r >= REAL).slice(0, 4)];
    const rows = Uint32Array.from(firstReal.flatMap((r, i) => [r, firstGen[i]]));
    const got = await trainer.gradient(rows);
    const expected = await cpuGradient(trainer.parameters(), real, gen, rows);
    const err = relErr(got, expected);
    t.log(`workers vs cpu reference over 4 real + 4 generated rows: relative difference ${err.toExponential(2)} over ${got.length} parameters`);
    t.true(err < 1e-4, `rel err ${err}`);
    // The generated rows count: the gradient of the real rows alone is another one.
    t.true(relErr(await trainer.gradient(rows.filter((r) => r < REAL)), expected) > 1e-2);
  } finally {
    await trainer.close();
  }
});

test('(b, c) trained on real + generated rows; held-out rows stay the real ones, and accuracy and loss are on them alone', async (t) => {
  const real = realSet(), gen = sentinelSet();
  const split = holdout(real);
  const heldOut = split.test.indices.slice();
  const { params, info } = await trainClassifier('mnist-1000', split, {
    workers: 1, batchSize: 64, epochs: 1, seed: 3, generated: { set: gen, ratio: 2, source: 'sentinel-squares' },
  });
  t.deepEqual(info.augment, { source: 'sentinel-squares', ratio: 2, generatedCount: GEN, generatedPerEpoch: 1600 });
  t.like(info, { trainCount: 800, testCount: 200, epochs: 1 });
  // (b) The test split is untouched: the same 200 real rows, none of them a sentinel image.
  t.is(split.test.set, real);
  t.deepEqual(split.test.indices, heldOut);
  t.deepEqual(heldOut, holdout(realSet()).test.indices);
  t.false(Array.from(heldOut).some((r) => isSentinel(real, gen, r)));
  // (c) Reference on the tfjs cpu backend: the same weights over the 200 real held-out rows.
  await initBackend('cpu');
  const model = classifierModel([28, 28, 1], params);
  const score = (set: Labelled, rows: Uint32Array): { correct: number; lossSum: number } => tf.tidy(() => {
    const logits = model.predict(tf.tensor4d(toFloatImages(set, rows), [rows.length, 28, 28, 1])) as tf.Tensor;
    const probs = logits.dataSync() as Float32Array;
    let correct = 0, lossSum = 0;
    rows.forEach((r, i) => {
      const p = probs.subarray(i * 10, i * 10 + 10);
      if (p.indexOf(Math.max(...p)) === set.labels[r]) correct++;
      lossSum -= Math.log(p[set.labels[r]]);
    });
    return { correct, lossSum };
  });
  const ref = score(real, heldOut);
  t.log(`held-out accuracy ${(info.accuracy * 100).toFixed(1)}% (reference ${ref.correct}/200), loss ${info.testLoss.toFixed(4)} (reference ${(ref.lossSum / 200).toFixed(4)})`);
  t.true(Math.abs(info.accuracy * 200 - ref.correct) <= 1, `${info.accuracy * 200} vs ${ref.correct} correct`);
  t.true(Math.abs(info.testLoss - ref.lossSum / 200) < 1e-4 * ref.lossSum / 200);
  // The generated rows were trained on (the white square reads as class 3), and counting them would change the loss a lot.
  const genRef = score(gen, Uint32Array.from({ length: 100 }, (_, i) => i));
  t.is(genRef.correct, 100);
  const mixedLoss = (ref.lossSum + genRef.lossSum) / 300;
  t.true(Math.abs(mixedLoss - info.testLoss) > 0.1 * info.testLoss, `loss with generated rows ${mixedLoss} vs ${info.testLoss}`);
  model.dispose();
});

test('--augment DIR: the sample export manifest picks the IDX pair or the class folders; pixels and labels arrive as written', async (t) => {
  const target = augmentTarget(realSet());
  const labels = [0, 0, 4, 4, 9, 9];
  const { dir, pixels } = idxExport('idx-export', 28, labels);
  const fromIdx = await loadAugmentSet(dir, target);
  t.deepEqual(Array.from(fromIdx.labels), labels);
  t.deepEqual(fromIdx.images, pixels);
  t.like(fromIdx, { count: 6, height: 28, width: 28, channels: 1, name: dir });
  t.deepEqual((await loadAugmentSet(`idx:${join(dir, 'images-idx3-ubyte')}`, target)).images, pixels);

  // PNG layout as the exporter writes it: DIR/<class>/<i>.png with zero-padded class folders, 28×28 grey;
  // classes 1, 2, 7 (not 0, 1, 2: labels come from the folder names). Class 7's files are 1-channel PNGs, the others RGB ones (R = G = B).
  const png = join(tmp, 'png-export');
  const written: { cls: number; data: Buffer }[] = [];
  for (const cls of [1, 2, 7]) {
    const folder = join(png, `0${cls}`);
    mkdirSync(folder, { recursive: true });
    for (let i = 0; i < 2; i++) {
      const data = Buffer.from(Uint8Array.from({ length: SIZE }, (_, p) => (p * (cls + 1) + 50 * i) % 256));
      const img = sharp(data, { raw: { width: 28, height: 28, channels: 1 } });
      await (cls === 7 ? img.toColourspace('b-w') : img).png().toFile(join(folder, `${i}.png`));
      written.push({ cls, data });
    }
  }
  writeFileSync(join(png, 'manifest.json'), JSON.stringify({ kind: 'ganpool generated data set', format: 'png', classFolders: ['01', '02', '07'] }));
  const fromPng = await loadAugmentSet(png, target);
  t.deepEqual(Array.from(fromPng.labels), written.map((w) => w.cls));
  t.deepEqual(Buffer.from(fromPng.images), Buffer.concat(written.map((w) => w.data)));
  // One class folder alone is still labelled by its name.
  const one = join(tmp, 'one-class');
  mkdirSync(join(one, '6'), { recursive: true });
  await sharp(written[0].data, { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(join(one, '6', '0.png'));
  t.deepEqual(Array.from((await loadAugmentSet(`folder:${one}`, target)).labels), [6]);
});

test('--augment refusals name the flag: no manifest, missing path, shape, labels outside the real classes, class folder names', async (t) => {
  const target = augmentTarget(realSet());
  const refuse = async (spec: string, message: RegExp): Promise<void> => {
    await t.throwsAsync(loadAugmentSet(spec, target), { instanceOf: GanpoolUsageError, message });
  };
  const bare = join(tmp, 'bare');
  mkdirSync(bare);
  await refuse(bare, /^invalid --augment: .*has no manifest\.json.*idx:PATH or folder:DIR/);
  await refuse(join(tmp, 'nothing'), /^invalid --augment: .*does not exist/);
  await refuse(`idx:${join(tmp, 'nothing')}`, /^invalid --augment: .*does not exist/);
  await refuse(idxExport('small', 8, [1, 2]).dir, /^invalid --augment: .* holds 8×8×1 images but the data set's are 28×28×1/);
  await refuse(idxExport('label12', 28, [1, 12]).dir, /^invalid --augment: .*labelled 12 but the data set's classes are 0 to 9/);
  const named = join(tmp, 'named');
  mkdirSync(join(named, 'cat'), { recursive: true });
  await sharp(Buffer.alloc(SIZE), { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(join(named, 'cat', '0.png'));
  await refuse(`folder:${named}`, /^invalid --augment: .*subfolder "cat" that is not a class number/);
  const big = join(tmp, 'big');
  mkdirSync(join(big, '1'), { recursive: true });
  await sharp(Buffer.alloc(32 * 32), { raw: { width: 32, height: 32, channels: 1 } }).png().toFile(join(big, '1', '0.png'));
  await refuse(`folder:${big}`, /^invalid --augment: "folder:.*big: 1\/0\.png" holds 32×32×3 images but the data set's are 28×28×1/);
  const real = holdout(realSet());
  await t.throwsAsync(ClassifierTrainer.start(real, { generated: { set: sentinelSet(), ratio: 0.0001 } }), {
    instanceOf: GanpoolUsageError, message: /^invalid --augment-ratio: 0\.0001 mixes round\(0\.0001 × 800 training images\) = 0/,
  });
});

/** Runs the CLI; resolves to its exit code and stderr. */
function cli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'classifier', 'train', '--cache-dir', join(tmp, 'cache'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('close', (code) => resolve({ code, stderr }));
  });
}

test('(d) CLI: a bad --augment-ratio, a missing --augment path and a shape mismatch exit 2 naming the flag', async (t) => {
  const real = idxExport('cli-real', 28, Array.from({ length: 20 }, (_, i) => i % 10)).dir;
  const dataset = `idx:${join(real, 'images-idx3-ubyte')}`;
  const good = idxExport('cli-good', 28, [1, 2]).dir, small = idxExport('cli-small', 8, [1, 2]).dir;
  const runs = await Promise.all([
    cli(['--dataset', dataset, '--augment', good, '--augment-ratio', '0']),
    cli(['--dataset', dataset, '--augment', join(tmp, 'no-such-dir')]),
    cli(['--dataset', dataset, '--augment', small, '--augment-ratio', '0.5']),
  ]);
  const expected = [
    /^ganpool: invalid --augment-ratio: "0"; expected a positive number\n$/,
    /^ganpool: invalid --augment: ".*no-such-dir" does not exist/,
    /^ganpool: invalid --augment: ".*cli-small" holds 8×8×1 images but the data set's are 28×28×1/,
  ];
  runs.forEach((r, i) => {
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, expected[i]);
  });
  // The same checks in-process (the CLI turns any GanpoolUsageError into exit 2).
  for (const [args, message] of [
    [['--augment', good, '--augment-ratio', 'lots'], /^invalid --augment-ratio: "lots"; expected a positive number$/],
    [['--augment', good, '--augment-ratio=-1'], /^invalid --augment-ratio: "-1"; expected a positive number$/],
    [['--augment-ratio', '2'], /^invalid --augment-ratio: it needs --augment/],
    [['--augment', 'idx:'], /^invalid --augment: "idx:" names no file or folder/],
  ] as const) {
    await t.throwsAsync(classifierCommand(['train', '--dataset', dataset, ...args]), { instanceOf: GanpoolUsageError, message });
  }
});
