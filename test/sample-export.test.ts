/**
 * `ganpool sample --per-class N --out DIR --format png|idx`: a generated,
 * labelled data set that reads back through ganpool's own loaders
 * (`folder:DIR`, `idx:DIR/images-idx3-ubyte`) with its classes, each image
 * equal to the generator's output for its class and noise, quantised to 8 bits
 * (round((v + 1) · 127.5), computed here independently), plus the manifest;
 * an unconditional generator, a bad --format and a folder of someone else's
 * files are refused, writing nothing.
 *
 * The run: 2 steps of a conditional probe-mlp on 3 class folders of 32×32
 * grey images (32 is a size `folder:` decodes to, so PNGs round-trip exactly).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { train } from '../src/app/train.js';
import { writeGeneratorOnnx } from '../src/generator/export.js';
import { bnStatsSize, initParams, modelPreset, paramCount } from '../src/models/presets.js';
import { loadDataset } from '../src/data/dataset.js';
import { generateImages, loadGenerator } from '../src/generator/load.js';
import { perClassLabels } from '../src/models/conditioning.js';
import { parseSampleArgs } from '../src/cli/commands/sample.js';
import { runSampleExport } from '../src/generator/sample.js';
import { checkExportable, IDX_IMAGES_NAME, IDX_LABELS_NAME, MANIFEST_NAME, type ExportManifest } from '../src/generator/sample-export.js';
import { GanpoolUsageError } from '../src/errors.js';
import { openFileAtomic } from '../src/util/atomic.js';
import type { ImageSet } from '../src/data/image-set.js';

const tmp = mkdtempSync(join(tmpdir(), 'ganpool-export-'));
const CLASSES = 3, PER_CLASS = 3, SIZE = 32, RUN_SEED = 7, STEPS = 2;
const data = join(tmp, 'classes');
const run = join(tmp, 'run'), plainOnnx = join(tmp, 'plain.onnx');
const onnx = join(run, 'generator.onnx'), folderGen = join(run, 'generator');
const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

/** A generated value as the byte an export stores (written out here, not imported). */
const toByte = (v: number): number => Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));

/** `ganpool sample ARGS` in a child process: its exit code and stderr. */
function cli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'sample', ...args], { encoding: 'utf8', timeout: 120_000 }, (_e, _out, stderr) => {
      done({ code: child.exitCode, stderr });
    });
  });
}

const unconditionalOut = join(tmp, 'unconditional');
/** The CLI on an unconditional generator, started in before() so its start-up overlaps the training run. */
let unconditional: Promise<{ code: number | null; stderr: string }>;

test.before(async () => {
  await writeUnconditional();
  unconditional = cli(['--generator', plainOnnx, '--per-class', '3', '--out', unconditionalOut, '--format', 'png']);
  for (let k = 0; k < CLASSES; k++) {
    mkdirSync(join(data, `class-${k}`), { recursive: true });
    for (let j = 0; j < 4; j++) {
      const v = 30 + 90 * k + 5 * j;
      await sharp({ create: { width: SIZE, height: SIZE, channels: 3, background: { r: v, g: v, b: v } } }).png().toFile(join(data, `class-${k}`, `${j}.png`));
    }
  }
  await train({
    dataset: `folder:${data}`, channels: 1, model: 'probe-mlp', conditional: true, backend: 'onnx', workers: 1, batchSize: 6, steps: STEPS,
    seed: RUN_SEED, sampleEvery: 1000, checkpointEvery: 1000, finalEval: false, out: run,
  });
});

/** An unconditional generator of the same shape: its initial weights, exported as a run would. */
async function writeUnconditional(): Promise<void> {
  const preset = modelPreset('probe-mlp', [SIZE, SIZE, 1]);
  const params = new Float32Array(paramCount(preset.generator));
  initParams(preset.generator, RUN_SEED, 1, params);
  await writeGeneratorOnnx(plainOnnx, preset, { params, bn: new Float32Array(bnStatsSize(preset.generator)) }, {
    seed: RUN_SEED, step: 0, model: 'probe-mlp', dataset: `folder:${data}`, imageShape: [SIZE, SIZE, 1], latentDim: 100,
  });
}

/** The bytes the export must hold: the generator's images for `labels` with the sample noise of `seed`, quantised. */
async function expected(generator: string, seed: number, labels: Int32Array): Promise<Uint8Array> {
  const gen = await loadGenerator(generator, 'cpu');
  try {
    return Uint8Array.from(await generateImages(gen, labels.length, seed, labels), toByte);
  } finally {
    await gen.dispose();
  }
}

/** Pixels that differ between two byte arrays of equal length. */
function differing(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

/** The manifest fields every export shares. */
function checkManifest(t: import('ava').ExecutionContext, m: ExportManifest, generator: string, format: string, seed: number): void {
  t.like(m, {
    kind: 'ganpool generated data set', ganpoolVersion: version, format, seed, perClass: PER_CLASS, classes: CLASSES,
    count: CLASSES * PER_CLASS, imageShape: [SIZE, SIZE, 1],
    generator: { path: resolve(generator), seed: RUN_SEED, step: STEPS, model: 'probe-mlp', dataset: `folder:${data}`, latentDim: 100 },
  });
}

const labels = perClassLabels(CLASSES, PER_CLASS); // [0,0,0,1,1,1,2,2,2]

test.serial('--format png: DIR/<class>/<i>.png reads back through folder:DIR with its classes and the generator\'s exact bytes; the manifest comes last', async (t) => {
  const dir = join(tmp, 'png'), seed = 5;
  const args = parseSampleArgs(['--generator', onnx, '--per-class', String(PER_CLASS), '--out', dir, '--format', 'png', '--seed', String(seed)])!;
  let calls = 0;
  const m = await runSampleExport(args, (done, total) => {
    calls++;
    t.is(total, CLASSES * PER_CLASS);
    t.false(existsSync(join(dir, MANIFEST_NAME)), 'no manifest while images are being written');
    t.true(done <= total);
  });
  t.true(calls >= 1);
  checkManifest(t, m, onnx, 'png', seed);
  t.like(m, { generator: { format: 'onnx' }, classFolders: ['0', '1', '2'], readBack: { dataset: `folder:${resolve(dir)}`, channels: 1, imageSize: SIZE, exact: true } });
  t.deepEqual(m.files, ['0/0.png', '0/1.png', '0/2.png', '1/0.png', '1/1.png', '1/2.png', '2/0.png', '2/1.png', '2/2.png']);
  t.deepEqual(JSON.parse(readFileSync(join(dir, MANIFEST_NAME), 'utf8')), m);
  t.deepEqual(readdirSync(dir).sort(), ['0', '1', '2', MANIFEST_NAME]);

  const want = await expected(onnx, seed, labels);
  const back = await loadDataset(`folder:${dir}`, { channels: 1, imageSize: SIZE });
  t.like(back, { count: CLASSES * PER_CLASS, height: SIZE, width: SIZE, channels: 1, classes: CLASSES });
  t.deepEqual(Array.from(back.labels!), Array.from(labels));
  t.is(differing(back.images, want), 0, 'the PNGs hold the generator\'s bytes');
  // The labels matter: the same noise drawn as other classes gives other images (so the check above can fail).
  const shifted = await expected(onnx, seed, labels.map((y) => (y + 1) % CLASSES));
  t.true(differing(back.images, shifted) > want.length / 10, 'another class would have given other pixels');
  t.log(`png: ${back.count} images, exact; with the classes shifted ${differing(back.images, shifted)} of ${want.length} bytes differ`);
  // The PNGs themselves: greyscale files at the generator's size, decoded without the folder reader.
  const file = join(dir, '2', '1.png');
  t.like(await sharp(file).metadata(), { format: 'png', width: SIZE, height: SIZE, channels: 1 });
  const one = await sharp(file).extractChannel(0).raw().toBuffer();
  t.is(differing(new Uint8Array(one), want.subarray(7 * SIZE * SIZE, 8 * SIZE * SIZE)), 0);
});

test.serial('--format idx: images-idx3-ubyte + labels-idx1-ubyte read back through idx: with their labels and the generator\'s exact bytes; the run seed by default; over a png export', async (t) => {
  const dir = join(tmp, 'png'); // over the png export above, which ganpool's manifest marks as its own
  const args = parseSampleArgs(['--generator', folderGen, '--per-class', String(PER_CLASS), '--out', dir, '--format', 'idx', '--backend', 'cpu'])!;
  const m = await runSampleExport(args);
  checkManifest(t, m, folderGen, 'idx', RUN_SEED);
  t.like(m, { generator: { format: 'tfjs' }, readBack: { dataset: `idx:${resolve(dir, IDX_IMAGES_NAME)}`, exact: true } });
  t.deepEqual(m.files, [IDX_IMAGES_NAME, IDX_LABELS_NAME]);
  t.is(m.classFolders, undefined);
  // The png export's files and class folders are gone; the folder reader's cache file (not the export's) stays.
  t.deepEqual(readdirSync(dir).filter((f) => !f.startsWith('.ganpool-cache-')).sort(), [IDX_IMAGES_NAME, IDX_LABELS_NAME, MANIFEST_NAME]);
  t.true(readdirSync(dir).some((f) => f.startsWith('.ganpool-cache-')));

  const back: ImageSet = await loadDataset(`idx:${join(dir, IDX_IMAGES_NAME)}`);
  t.like(back, { count: CLASSES * PER_CLASS, height: SIZE, width: SIZE, channels: 1 });
  t.deepEqual(Array.from(back.labels!), Array.from(labels));
  const want = await expected(folderGen, RUN_SEED, labels);
  t.is(differing(back.images, want), 0, 'the IDX file holds the generator\'s bytes');
  const otherSeed = await expected(folderGen, RUN_SEED + 1, labels);
  t.true(differing(back.images, otherSeed) > want.length / 10, 'another seed would have given other pixels');
  // The header, byte for byte: ubyte, 3 dims, 9 × 32 × 32; the labels file: ubyte, 1 dim, 9.
  const raw = readFileSync(join(dir, IDX_IMAGES_NAME));
  t.deepEqual([...raw.subarray(0, 16)], [0, 0, 8, 3, 0, 0, 0, 9, 0, 0, 0, 32, 0, 0, 0, 32]);
  t.is(raw.length, 16 + 9 * SIZE * SIZE);
  t.deepEqual([...readFileSync(join(dir, IDX_LABELS_NAME))], [0, 0, 8, 1, 0, 0, 0, 9, ...labels]);
});

test.serial('an unconditional generator with --per-class --format is a usage error naming --per-class (CLI exit 2), nothing written', async (t) => {
  const r = await unconditional;
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /^ganpool: invalid --per-class: the generator is not conditional/);
  t.false(existsSync(unconditionalOut), 'nothing written');
  await t.throwsAsync(runSampleExport(parseSampleArgs(['--generator', plainOnnx, '--per-class', '3', '--out', unconditionalOut, '--format', 'idx'])!), {
    instanceOf: GanpoolUsageError, message: /^invalid --per-class/,
  });
  t.false(existsSync(unconditionalOut), 'nothing written');
});

test.serial('a bad --format, a missing --per-class or --out, and --individual with --format are usage errors naming the flag', (t) => {
  const usage = (argv: string[], field: string, message: RegExp): void => {
    const e = t.throws(() => parseSampleArgs(['--generator', onnx, ...argv]), { instanceOf: GanpoolUsageError, message });
    t.is(e?.field, field);
  };
  usage(['--per-class', '3', '--out', join(tmp, 'x'), '--format', 'jpeg'], '--format', /^invalid --format: "jpeg"; expected one of png, idx/);
  usage(['--out', join(tmp, 'x'), '--format', 'idx'], '--per-class', /^missing --per-class/);
  usage(['--per-class', '3', '--format', 'idx'], '--out', /^missing --out/);
  usage(['--per-class', '3', '--out', join(tmp, 'x'), '--format', 'png', '--individual', join(tmp, 'y')], '--format', /--individual or --format/);
  // Without --format, --per-class keeps the grid's limit; with it, a data set may be larger.
  usage(['--per-class', '1001'], '--per-class', /from 1 to 1000/);
  t.is(parseSampleArgs(['--generator', onnx, '--per-class', '5000', '--out', join(tmp, 'x'), '--format', 'idx'])!.perClass, 5000);
  // At most 1,000,000 images in all, whatever the class count; at most 256 classes (one byte per label).
  t.notThrows(() => checkExportable({ classes: 20 }, 50_000));
  t.is(t.throws(() => checkExportable({ classes: 20 }, 50_001), { instanceOf: GanpoolUsageError, message: /^invalid --per-class: 50001; expected at most 50000 \(20 classes/ })?.field, '--per-class');
  t.throws(() => checkExportable({ classes: 257 }, 1), { instanceOf: GanpoolUsageError, message: /at most 256 classes/ });
  t.false(existsSync(join(tmp, 'x')));
});

test.serial('--out holding other files and no ganpool manifest (or someone else\'s manifest.json) is refused, naming --out, and left untouched', async (t) => {
  for (const [name, files] of [['mine', { 'notes.txt': 'keep me' }], ['foreign', { [MANIFEST_NAME]: '{"name":"my data"}', 'a.png': 'x' }]] as const) {
    const dir = join(tmp, name);
    mkdirSync(dir);
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    const args = parseSampleArgs(['--generator', onnx, '--per-class', '1', '--out', dir, '--format', 'idx'])!;
    const e = await t.throwsAsync(runSampleExport(args), { instanceOf: GanpoolUsageError, message: /^invalid --out: .*(is not empty|not a ganpool export manifest)/ });
    t.is(e?.field, '--out');
    t.deepEqual(readdirSync(dir).sort(), Object.keys(files).sort(), 'nothing added or removed');
    for (const [f, text] of Object.entries(files)) t.is(readFileSync(join(dir, f), 'utf8'), text);
  }
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'data');
  await t.throwsAsync(runSampleExport(parseSampleArgs(['--generator', onnx, '--per-class', '1', '--out', file, '--format', 'png'])!), { message: /^invalid --out: .*is a file/ });
  t.is(readFileSync(file, 'utf8'), 'data');
});

/** A conditional probe-mlp generator of `shape` with its initial weights (seed 3), exported as a run would. */
async function initialGenerator(file: string, shape: [number, number, number]): Promise<void> {
  const preset = modelPreset('probe-mlp', shape, CLASSES);
  const params = new Float32Array(paramCount(preset.generator));
  initParams(preset.generator, 3, 1, params);
  await writeGeneratorOnnx(file, preset, { params, bn: new Float32Array(bnStatsSize(preset.generator)) }, {
    seed: 3, step: 0, model: 'probe-mlp', dataset: 'mnist', imageShape: shape, latentDim: 100, classes: CLASSES,
  });
}

test.serial('a 28×28 (MNIST-sized) generator: png reads back through folder: --image-size 28 exactly; a 24×24 one resized (the manifest says so); idx exactly', async (t) => {
  const file = join(tmp, 'g28.onnx'), shape: [number, number, number] = [28, 28, 1];
  await initialGenerator(file, shape);
  const want = await expected(file, 3, labels);
  const png = await runSampleExport(parseSampleArgs(['--generator', file, '--per-class', String(PER_CLASS), '--out', join(tmp, 'png28'), '--format', 'png'])!);
  t.like(png.readBack, { channels: 1, imageSize: 28, exact: true });
  const fromPng = await loadDataset(png.readBack.dataset, { channels: 1, imageSize: 28 });
  t.like(fromPng, { count: CLASSES * PER_CLASS, height: 28, width: 28, classes: CLASSES });
  t.deepEqual(Array.from(fromPng.labels!), Array.from(labels));
  t.is(differing(fromPng.images, want), 0);
  const idx = await runSampleExport(parseSampleArgs(['--generator', file, '--per-class', String(PER_CLASS), '--out', join(tmp, 'idx28'), '--format', 'idx'])!);
  t.like(idx, { seed: 3, imageShape: shape, readBack: { exact: true } });
  const back = await loadDataset(idx.readBack.dataset);
  t.like(back, { count: CLASSES * PER_CLASS, height: 28, width: 28, channels: 1 });
  t.deepEqual(Array.from(back.labels!), Array.from(labels));
  t.is(differing(back.images, want), 0);
  t.true(new Set(want).size > 50, 'the images are not flat (the comparisons can fail)');
  // A size folder: does not decode to reads back resized to 32, and the manifest says so.
  const file24 = join(tmp, 'g24.onnx');
  await initialGenerator(file24, [24, 24, 1]);
  const png24 = await runSampleExport(parseSampleArgs(['--generator', file24, '--per-class', String(PER_CLASS), '--out', join(tmp, 'png24'), '--format', 'png'])!);
  t.like(png24.readBack, { channels: 1, imageSize: 32, exact: false });
  t.regex(png24.readBack.note!, /24×24 images read back resized/);
  const resized = await loadDataset(`folder:${join(tmp, 'png24')}`, { channels: 1, imageSize: 32 });
  t.like(resized, { count: CLASSES * PER_CLASS, height: 32, width: 32, classes: CLASSES });
});

test.serial('a colour generator: RGB PNGs read back through folder: --channels 3 exactly, and idx as N×H×W×3', async (t) => {
  const file = join(tmp, 'g-rgb.onnx'), shape: [number, number, number] = [SIZE, SIZE, 3];
  await initialGenerator(file, shape);
  const want = await expected(file, 3, labels);
  const png = await runSampleExport(parseSampleArgs(['--generator', file, '--per-class', String(PER_CLASS), '--out', join(tmp, 'rgb-png'), '--format', 'png'])!);
  t.like(png.readBack, { channels: 3, imageSize: SIZE, exact: true });
  t.like(await sharp(join(tmp, 'rgb-png', '1', '0.png')).metadata(), { channels: 3, width: SIZE });
  const fromPng = await loadDataset(png.readBack.dataset, { channels: 3, imageSize: SIZE });
  t.like(fromPng, { count: CLASSES * PER_CLASS, channels: 3, classes: CLASSES });
  t.deepEqual(Array.from(fromPng.labels!), Array.from(labels));
  t.is(differing(fromPng.images, want), 0);
  const idx = await runSampleExport(parseSampleArgs(['--generator', file, '--per-class', String(PER_CLASS), '--out', join(tmp, 'rgb-idx'), '--format', 'idx'])!);
  const fromIdx = await loadDataset(idx.readBack.dataset);
  t.like(fromIdx, { count: CLASSES * PER_CLASS, height: SIZE, width: SIZE, channels: 3 });
  t.deepEqual(Array.from(fromIdx.labels!), Array.from(labels));
  t.is(differing(fromIdx.images, want), 0);
  t.true(new Set(want).size > 50, 'the images are not flat (the comparisons can fail)');
});

test('openFileAtomic (the IDX images file): nothing under its name until commit, then every byte; abort leaves nothing', async (t) => {
  const dir = join(tmp, 'atomic');
  mkdirSync(dir);
  const path = join(dir, 'f.bin');
  const f = await openFileAtomic(path);
  await f.write(Uint8Array.from([1, 2, 3]));
  await f.write(new Uint8Array(100_000).fill(7));
  t.false(existsSync(path), 'not visible before commit');
  await f.commit();
  const bytes = readFileSync(path);
  t.is(bytes.length, 100_003);
  t.deepEqual([...bytes.subarray(0, 4)], [1, 2, 3, 7]);
  t.true(bytes.subarray(3).every((b) => b === 7));
  const g = await openFileAtomic(join(dir, 'g.bin'));
  await g.write(Uint8Array.from([9]));
  await g.abort();
  t.deepEqual(readdirSync(dir), ['f.bin'], 'no temp file, no g.bin');
});
