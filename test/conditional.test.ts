/**
 * Conditional GANs outside the engines: labels from a `folder:` data set
 * reach the rows they belong to, fake labels are keyed like the noise (worker
 * count and resume do not change them), the exported [z, label] generators
 * reproduce trainer.sample, `ganpool sample --per-class/--label` draw the
 * classes asked for, and `--conditional` on unlabelled data is a usage error.
 *
 * The data set: 3 class subfolders of solid grey 32×32 images whose grey
 * level encodes the class (30 + 90k + 5j for image j of class k), so the
 * class of any row can be read back from its pixels, independently of the
 * labels ganpool loaded.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as ort from 'onnxruntime-node';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { GanTrainer } from '../src/training/trainer.js';
import { train } from '../src/app/train.js';
import { loadDataset } from '../src/data/dataset.js';
import { loadImageFolder } from '../src/data/image-folder.js';
import { resolveConfig, type TrainConfig } from '../src/config.js';
import { loadCheckpoint } from '../src/run/checkpoint.js';
import { resumeConfig } from '../src/run/resume.js';
import { writeGenerator, writeGeneratorOnnx, type GeneratorMetadata } from '../src/generator/export.js';
import { generateImages, loadGenerator } from '../src/generator/load.js';
import { parseSampleArgs } from '../src/cli/commands/sample.js';
import { runSample, samplePlan } from '../src/generator/sample.js';
import { conditionedInput, perClassLabels } from '../src/models/conditioning.js';
import { epochPermutation, latentNoise, NoiseStream, randomLabels } from '../src/util/rng.js';
import { createEngine } from '../src/engines/index.js';
import { initBackend } from '../src/engines/tfjs/tf-backend.js';
import { paramCount } from '../src/models/presets.js';
import { gridSize } from '../src/generator/grid.js';
import { GanpoolUsageError } from '../src/errors.js';
import type { ImageSet } from '../src/data/image-set.js';
import { maxAbsDiff, relErr, type ModelJson } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'ganpool-cond-'));
const CLASSES = 3, PER_CLASS = 6, SIZE = 32, LATENT = 100;
const folder = join(tmp, 'classes');
const flat = join(tmp, 'flat');
const base: TrainConfig = {
  dataset: `folder:${folder}`, channels: 1, model: 'probe-mlp', conditional: true, backend: 'onnx',
  workers: 2, batchSize: 12, seed: 7, sampleEvery: 1000, checkpointEvery: 1000,
};

/** Grey level of image j of class k. */
const grey = (k: number, j: number): number => 30 + 90 * k + 5 * j;
/** The class an image's first pixel encodes (the inverse of {@link grey}; 5j stays below 90). */
const classOfPixel = (v: number): number => Math.floor((v - 30 + 2) / 90);

/** A solid grey RGB PNG. */
async function solidPng(file: string, v: number): Promise<void> {
  await sharp({ create: { width: SIZE, height: SIZE, channels: 3, background: { r: v, g: v, b: v } } }).png().toFile(file);
}

test.before(async () => {
  await initBackend('cpu'); // the exports are written, and the plain LayersModel run, on this thread's cpu backend
  // Subfolders deliberately not in class order on disk creation; the class is the sorted subfolder name.
  for (const [k, name] of [[2, 'c-third'], [0, 'a-first'], [1, 'b-second']] as const) {
    mkdirSync(join(folder, name), { recursive: true });
    for (let j = 0; j < PER_CLASS; j++) await solidPng(join(folder, name, `img-${j}.png`), grey(k, j));
  }
  mkdirSync(flat, { recursive: true });
  for (let j = 0; j < 4; j++) await solidPng(join(flat, `img-${j}.png`), grey(j % CLASSES, j));
});

/** Each image's class as its pixels tell it. */
function classesFromPixels(data: ImageSet): Int32Array {
  const per = data.height * data.width * data.channels;
  return Int32Array.from({ length: data.count }, (_, i) => classOfPixel(data.images[i * per]));
}

test.serial('folder:DIR with one subfolder per class loads labels that match the image content, also from the cache', async (t) => {
  const data = await loadDataset(`folder:${folder}`, { channels: 1 });
  t.is(data.count, CLASSES * PER_CLASS);
  t.is(data.classes, CLASSES);
  t.deepEqual(Array.from(data.labels!), Array.from(classesFromPixels(data)));
  t.deepEqual([...new Set(classesFromPixels(data))].sort(), [0, 1, 2], 'the pixels encode all three classes');
  const cached = await loadImageFolder(folder, { size: 32, channels: 1 });
  t.true(cached.fromCache);
  t.deepEqual(cached.classNames, ['a-first', 'b-second', 'c-third']);
  t.deepEqual(Array.from(cached.labels!), Array.from(data.labels!));
  const unlabelled = await loadDataset(`folder:${flat}`, { channels: 1 });
  t.is(unlabelled.labels, undefined, 'images at the top level: no classes');
});

test.serial('labels reach the right rows: the D and G gradients of a 2-worker step equal a cpu engine driven with labels read from the pixels', async (t) => {
  const data = await loadDataset(`folder:${folder}`, { channels: 1 });
  const trainer = await GanTrainer.create({ ...base, backend: 'cpu', steps: 1 }); // the reference's backend: equal to float rounding
  try {
    t.is(trainer.classes, CLASSES);
    const preset = trainer.preset;
    t.is(preset.generator.inputShape[0], LATENT + CLASSES);
    const { g, d } = trainer.parameters();
    const ours = { d: await trainer.gradients('d'), g: await trainer.gradients('g') };
    const n = base.batchSize!, seed = base.seed!;
    const rows = epochPermutation(data.count, seed, 0).subarray(0, n);
    const per = SIZE * SIZE;
    const real = new Float32Array(n * per);
    rows.forEach((row, r) => { for (let i = 0; i < per; i++) real[r * per + i] = data.images[row * per + i] / 127.5 - 1; });
    const fromPixels = classesFromPixels(data);
    const realLabels = Int32Array.from(rows, (row) => fromPixels[row]);
    const engine = await createEngine('cpu', preset, { loss: 'ns' });
    engine.setParams('g', g);
    engine.setParams('d', d);
    const run = async (phase: 'd' | 'g', labels: Int32Array | null): Promise<Float32Array> => {
      const stream = phase === 'd' ? NoiseStream.Discriminator : NoiseStream.Generator;
      const fake = randomLabels(new Int32Array(n), seed, 0, stream, 0, CLASSES);
      const z = conditionedInput(latentNoise(new Float32Array(n * LATENT), seed, 0, stream, 0, LATENT), LATENT, fake, CLASSES);
      const grad = new Float32Array(paramCount(phase === 'd' ? preset.discriminator : preset.generator));
      await engine.phase({ phase, count: n, z, real: phase === 'd' ? real : null, realLabels: labels, fakeLabels: fake }, grad);
      return grad;
    };
    const refD = await run('d', realLabels), refG = await run('g', null);
    const wrongD = await run('d', realLabels.map((y) => (y + 1) % CLASSES));
    const eD = relErr(ours.d, refD), eG = relErr(ours.g, refG), eWrong = relErr(wrongD, refD);
    t.log(`D gradient vs reference ${eD.toExponential(2)}, G ${eG.toExponential(2)}; with each real label shifted by one ${eWrong.toExponential(2)}`);
    t.true(eD <= 1e-5, `D gradient differs by ${eD}`);
    t.true(eG <= 1e-5, `G gradient differs by ${eG}`);
    t.true(eWrong > 1e-3, 'wrong real labels give a visibly different gradient (the check can fail)');
    t.true(new Set(realLabels).size > 1, 'the batch holds several classes');
  } finally {
    await trainer.close();
  }
});

/** Parameters before and after `steps` steps with `workers` workers. */
async function paramsAfter(workers: number, steps: number): Promise<{ g: Float32Array; d: Float32Array; initialD: Float32Array }> {
  const trainer = await GanTrainer.create({ ...base, workers, steps });
  try {
    const initialD = trainer.parameters().d;
    for (let i = 0; i < steps; i++) await trainer.step();
    return { ...trainer.parameters(), initialD };
  } finally {
    await trainer.close();
  }
}

/*
 * Not bit for bit: 1 worker takes the batch mean in one reduction, 2 workers
 * average two shard means, so the sums round differently (~1e-6 after Adam;
 * resume.ts says the same of any worker-count change). A label keyed by the
 * shard instead of the batch row would move Adam's first step by ~lr = 2e-4.
 */
test.serial('a 2-worker conditional run gives the parameters of a 1-worker run (to float rounding)', async (t) => {
  const one = await paramsAfter(1, 3), two = await paramsAfter(2, 3);
  const dG = maxAbsDiff(two.g, one.g), dD = maxAbsDiff(two.d, one.d), moved = maxAbsDiff(one.d, one.initialD);
  const bitwise = Buffer.from(two.g.buffer).equals(Buffer.from(one.g.buffer)) && Buffer.from(two.d.buffer).equals(Buffer.from(one.d.buffer));
  t.log(`2 vs 1 worker after 3 steps: max |Δ| G ${dG.toExponential(2)}, D ${dD.toExponential(2)} (bitwise: ${bitwise}); D moved ${moved.toExponential(2)}`);
  t.true(moved > 1e-4, 'training moved D');
  t.true(dG <= 1e-5 && dD <= 1e-5, `G differs by ${dG}, D by ${dD}`);
});

test.serial('the exported [z, label] generators (LayersModel and ONNX) reproduce trainer.sample for given labels; sample --per-class/--label draw those classes', async (t) => {
  const trainer = await GanTrainer.create({ ...base, steps: 3 });
  const dir = join(tmp, 'generator'), file = join(tmp, 'generator.onnx');
  const n = 9, seed = 11;
  const labels = Int32Array.from([0, 1, 2, 2, 1, 0, 1, 1, 2]);
  let theirs: Float32Array, uniform: Float32Array;
  try {
    for (let i = 0; i < 3; i++) await trainer.step();
    const meta: GeneratorMetadata = {
      seed, step: 3, model: 'probe-mlp', dataset: base.dataset!, imageShape: trainer.imageShape, latentDim: LATENT, classes: CLASSES,
    };
    await writeGenerator(dir, trainer.preset, trainer.generatorWeights(), meta);
    await writeGeneratorOnnx(file, trainer.preset, trainer.generatorWeights(), meta);
    theirs = await trainer.sample(n, seed, labels);
    uniform = await trainer.sample(n, seed);
    const other = await trainer.sample(n, seed, labels.map((y) => (y + 1) % CLASSES));
    t.true(maxAbsDiff(other, theirs) > 1e-2, 'the label changes the image (the comparisons can fail)');
  } finally {
    await trainer.close();
  }
  const z = latentNoise(new Float32Array(n * LATENT), seed, 0, NoiseStream.Sample, 0, LATENT);

  // Plain TensorFlow.js, no ganpool loader.
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ModelJson;
  t.like(json.userDefinedMetadata.ganpool, { classes: CLASSES, latentDim: LATENT });
  t.is(json.userDefinedMetadata.ganpool.inputs.length, 2);
  const layers = await loadPlain(dir);
  t.deepEqual(layers.inputs.map((i) => i.shape), [[null, LATENT], [null, 1]]);
  const fromTfjs = tf.tidy(() => (layers.predict([tf.tensor2d(z, [n, LATENT]), tf.tensor2d(labels, [n, 1], 'int32')]) as tf.Tensor).dataSync() as Float32Array);
  layers.dispose();

  // Plain ONNX Runtime.
  const session = await ort.InferenceSession.create(file);
  t.deepEqual(session.inputNames, ['z', 'label']);
  const out = await session.run({
    z: new ort.Tensor('float32', z, [n, LATENT]), label: new ort.Tensor('int64', BigInt64Array.from(labels, BigInt), [n]),
  });
  const fromOnnx = new Float32Array(out.images.data as Float32Array);
  await session.release();

  const dTfjs = maxAbsDiff(fromTfjs, theirs), dOnnx = maxAbsDiff(fromOnnx, theirs);
  t.log(`max |export − trainer.sample| over ${theirs.length} pixels: LayersModel ${dTfjs.toExponential(2)}, ONNX ${dOnnx.toExponential(2)}`);
  t.true(dTfjs <= 1e-5, `tfjs diff ${dTfjs}`);
  t.true(dOnnx <= 1e-5, `onnx diff ${dOnnx}`);

  // ganpool's loader, both formats; without labels the classes are drawn from the seed (what `ganpool eval` does), as trainer.sample draws them.
  for (const path of [dir, file]) {
    const gen = await loadGenerator(path, 'cpu');
    try {
      t.is(gen.classes, CLASSES);
      const given = maxAbsDiff(await generateImages(gen, n, seed, labels), theirs);
      const drawn = maxAbsDiff(await generateImages(gen, n, seed), uniform);
      t.true(given <= 1e-5 && drawn <= 1e-5, `${gen.format}: given labels ${given}, drawn labels ${drawn}`);
    } finally {
      await gen.dispose();
    }
  }

  // ganpool sample --per-class 2: image i is class floor(i / 2), one class per grid row.
  const perClass = 2, individual = join(tmp, 'per-class');
  const args = parseSampleArgs(['--generator', dir, '--per-class', String(perClass), '--out', join(tmp, 'per-class.png'), '--individual', individual, '--backend', 'cpu'])!;
  const r = await runSample(args);
  t.is(r.n, CLASSES * perClass);
  t.deepEqual(Array.from(r.labels!), [0, 0, 1, 1, 2, 2]);
  t.like(await sharp(r.grid).metadata(), gridSize(CLASSES * perClass, SIZE, SIZE, { cols: perClass, pad: 2 }));
  const direct = await loadPlainForward(dir, r.n, r.seed, perClassLabels(CLASSES, perClass));
  const wrong = await loadPlainForward(dir, r.n, r.seed, new Int32Array(r.n));
  let worst = 0, wrongWorst = 0;
  for (let i = 0; i < r.n; i++) {
    const png = await sharp(r.individual[i]).extractChannel(0).raw().toBuffer(); // grey, whatever channels sharp decodes to
    for (let p = 0; p < SIZE * SIZE; p++) {
      worst = Math.max(worst, Math.abs(png[p] - toByte(direct[i * SIZE * SIZE + p])));
      wrongWorst = Math.max(wrongWorst, Math.abs(png[p] - toByte(wrong[i * SIZE * SIZE + p])));
    }
  }
  t.log(`--per-class PNGs vs a direct forward with labels [0,0,1,1,2,2]: max ${worst} grey levels; with all labels 0: ${wrongWorst}`);
  t.true(worst <= 1, `the PNGs differ from the direct forward by ${worst} levels`);
  t.true(wrongWorst > 1, 'other labels would have given other images');

  const one = await runSample(parseSampleArgs(['--generator', file, '--label', '2', '--n', '4', '--out', join(tmp, 'label.png')])!);
  t.deepEqual(Array.from(one.labels!), [2, 2, 2, 2]);
  t.throws(() => samplePlan(parseSampleArgs(['--generator', file, '--label', '3'])!, CLASSES), { instanceOf: GanpoolUsageError, message: /--label.*0 to 2/ });
  t.throws(() => samplePlan(parseSampleArgs(['--generator', file, '--label', '0'])!, 0), { instanceOf: GanpoolUsageError, message: /--label.*not conditional/ });
  t.throws(() => parseSampleArgs(['--generator', file, '--label', '0', '--per-class', '2']), { instanceOf: GanpoolUsageError });
});

/** Loads a LayersModel folder with tfjs's own fromMemory handler from its two files (no ganpool loader). */
async function loadPlain(dir: string): Promise<tfl.LayersModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
  const bin = readFileSync(join(dir, json.weightsManifest[0].paths[0]));
  return tfl.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights,
    weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
  }));
}

/** A pixel in [-1, 1] as the grey level a PNG stores. */
const toByte = (v: number): number => Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));

/** G's images from the LayersModel folder with plain tfjs for the sample noise of `seed` and the given labels. */
async function loadPlainForward(dir: string, n: number, seed: number, labels: Int32Array): Promise<Float32Array> {
  const model = await loadPlain(dir);
  const z = latentNoise(new Float32Array(n * LATENT), seed, 0, NoiseStream.Sample, 0, LATENT);
  const out = tf.tidy(() => (model.predict([tf.tensor2d(z, [n, LATENT]), tf.tensor2d(labels, [n, 1], 'int32')]) as tf.Tensor).dataSync() as Float32Array);
  model.dispose();
  return out;
}

test.serial('resume of a conditional run is exact (params, Adam states), and its grid has one row per class', async (t) => {
  const one = join(tmp, 'run-one'), two = join(tmp, 'run-two');
  await train({ ...base, workers: 1, steps: 4, out: one });
  await train({ ...base, workers: 1, steps: 2, out: two });
  const resumed = await train({ resume: two, steps: 4 });
  t.is(resumed.resumedFrom, 2);
  const a = loadCheckpoint(one), b = loadCheckpoint(two);
  t.like(b.config, { conditional: true, classes: CLASSES });
  t.is(a.state.stepsDone, 4);
  for (const net of ['g', 'd'] as const) {
    t.is(b.state[net].t, a.state[net].t);
    for (const vec of ['params', 'm', 'v'] as const) {
      t.true(Buffer.from(b.state[net][vec].buffer).equals(Buffer.from(a.state[net][vec].buffer)), `${net}.${vec} bit-identical`);
    }
  }
  t.like(await sharp(resumed.latestGrid!).metadata(), gridSize(CLASSES * 8, SIZE, SIZE, { cols: 8, pad: 2 }));
  // `ganpool sample` of the exported generator, by default 8 per class with the run's seed, redraws that grid.
  const again = await runSample(parseSampleArgs(['--generator', join(two, 'generator.onnx'), '--out', join(tmp, 'again.png')])!);
  const [mine, runs] = [await sharp(again.grid).raw().toBuffer(), await sharp(resumed.latestGrid!).raw().toBuffer()];
  t.is(mine.length, runs.length);
  let worst = 0;
  for (let i = 0; i < mine.length; i++) worst = Math.max(worst, Math.abs(mine[i] - runs[i]));
  t.true(worst <= 1, `sample's grid differs from the run's by ${worst} levels`);
  t.throws(() => resumeConfig(b.config, { conditional: false }, two, 2), { instanceOf: GanpoolUsageError, message: /^invalid conditional: false conflicts/ });
});

test('--conditional on unlabelled data is a usage error naming --conditional (CLI exit code 2); the API names the field', (t) => {
  t.throws(() => resolveConfig({ ...base, dataset: `folder:${flat}` }, 4, [32, 32, 1], 0), { instanceOf: GanpoolUsageError, message: /^invalid conditional:/ });
  const r = spawnSync(process.execPath, [
    '--import', 'tsx', 'src/cli/main.ts', 'train', '--dataset', `folder:${flat}`, '--channels', '1', '--conditional',
    '--model', 'probe-mlp', '--batch-size', '2', '--workers', '1', '--steps', '1', '--backend', 'cpu', '--out', join(tmp, 'unlabelled-run'),
  ], { encoding: 'utf8', timeout: 120_000 });
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /invalid --conditional: dataset 'folder:.*flat' has no class labels/);
  t.false(existsSync(join(tmp, 'unlabelled-run')), 'nothing written');
});
