/**
 * Parsers bound what they allocate: each hostile header is refused (or, for an image folder, the
 * file skipped or the cache rebuilt) from the header alone, before its data are read or inflated,
 * with a GanpoolDataError that names the file and the field.
 */
import test from 'ava';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { loadIdxImages, readIdx } from '../src/data/idx.js';
import { ByteBudget, cacheLayout, cachePath, loadImageFolder, MAX_INPUT_PIXELS } from '../src/data/image-folder.js';
import { GanpoolDataError, GanpoolUsageError } from '../src/errors.js';
import { loadLayersModel, saveLayersModel } from '../src/engines/tfjs/model-io.js';
import { loadClassifier } from '../src/eval/classifier-store.js';
import { loadGenerator } from '../src/generator/load.js';
import { loadScoringModel } from '../src/anomaly/run-model.js';
import { planRun } from '../src/app/train.js';
import { writeCheckpoint } from '../src/run/checkpoint.js';
import { resolveConfig } from '../src/config.js';
import { modelPreset, paramCount, bnStatsSize } from '../src/models/presets.js';
import type { TrainingState } from '../src/training/coordinator.js';
import { greyPng, idxFile } from './hostile-input-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'ganpool-hostile-'));
let serial = 0;
function file(name: string, bytes: Uint8Array): string {
  const dir = join(root, `f${serial++}`);
  mkdirSync(dir);
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

test('IDX gzip: a small .gz that inflates past its header\'s size is refused at that size, naming the file', (t) => {
  // Header: 10 images of 28×28 (7,840 bytes); the stream inflates to 32 MB.
  const bomb = gzipSync(idxFile([10, 28, 28], new Uint8Array(32 * 1024 * 1024)));
  t.true(bomb.length < 64 * 1024);
  const p = file('bomb-images-idx3-ubyte.gz', bomb);
  const e = t.throws(() => loadIdxImages(p), { instanceOf: GanpoolDataError });
  t.regex(e.message, /bomb-images-idx3-ubyte\.gz: gzip data inflates to more than the 7856 bytes its IDX header declares/);
});

test('IDX gzip: a header declaring more than the data cap is refused before inflating', (t) => {
  const p = file('huge-images-idx3-ubyte.gz', gzipSync(idxFile([0xffffffff, 64, 64, 3], new Uint8Array(100))));
  const e = t.throws(() => loadIdxImages(p), { instanceOf: GanpoolDataError });
  t.regex(e.message, /huge-images-idx3-ubyte\.gz: IDX header field dimensions \[4294967295, 64, 64, 3\] is \d+ bytes of data; expected at most 4000000000 bytes/);
});

test('IDX: channels other than 1 or 3 are refused naming the file and the field', (t) => {
  const p = file('c5-images-idx3-ubyte', idxFile([2, 4, 4, 5], new Uint8Array(2 * 4 * 4 * 5)));
  const e = t.throws(() => loadIdxImages(p), { instanceOf: GanpoolDataError });
  t.regex(e.message, /c5-images-idx3-ubyte: IDX header field dimension 3 \(channels\) is 5; expected 1 \(grey\) or 3 \(RGB\)/);
});

test('IDX: sides beyond the largest preset (64) are refused naming the field, raw and gzip', (t) => {
  const data = new Uint8Array(1 * 65 * 8);
  for (const [name, bytes] of [['tall', idxFile([1, 65, 8], data)], ['wide.gz', gzipSync(idxFile([1, 8, 65], data))]] as const) {
    const p = file(`${name}-images`, bytes);
    const e = t.throws(() => loadIdxImages(p), { instanceOf: GanpoolDataError });
    t.regex(e.message, name === 'tall' ? /IDX header field dimension 1 \(height\) is 65; expected at most 64/ : /dimension 2 \(width\) is 65/);
  }
});

test('IDX: a labels file whose count differs is refused from its header, before inflating', (t) => {
  const images = file('ok-images-idx3-ubyte', idxFile([3, 2, 2], new Uint8Array(12)));
  const labels = file('bad-labels.gz', gzipSync(idxFile([4], new Uint8Array(16 * 1024 * 1024))));
  const e = t.throws(() => loadIdxImages(images, labels), { instanceOf: GanpoolDataError });
  t.regex(e.message, /bad-labels\.gz: has 4 labels but .*ok-images-idx3-ubyte has 3 images/);
  // readIdx without expectations still reads any well-formed file.
  t.deepEqual(readIdx(images).dims, [3, 2, 2]);
});

test(`image folders: an image declaring more than MAX_INPUT_PIXELS (${MAX_INPUT_PIXELS}) is skipped unread`, async (t) => {
  const dir = join(root, 'big-png');
  mkdirSync(dir);
  writeFileSync(join(dir, 'huge.png'), greyPng(8000, 8000)); // 64 MP of zeros: 64 KB compressed
  writeFileSync(join(dir, 'ok.png'), greyPng(30, 30));
  const set = await loadImageFolder(dir, { size: 28, channels: 1 });
  t.is(set.count, 1);
  t.deepEqual(set.skippedNames, ['huge.png']);
});

test('image folders: decoding keeps the estimated bytes in flight within the budget', async (t) => {
  const budget = new ByteBudget(100);
  const jobs = [60, 30, 50, 20, 150, 10, 90].map(async (bytes, i) => {
    await budget.take(bytes);
    await new Promise((r) => setTimeout(r, 1 + (i % 3)));
    budget.give(bytes);
  });
  await Promise.all(jobs);
  t.is(budget.peak, 150); // only the job larger than the budget exceeds it, and it ran alone
  const b2 = new ByteBudget(100);
  await Promise.all([60, 30, 50, 20, 10, 90].map(async (bytes) => { await b2.take(bytes); await new Promise((r) => setTimeout(r, 2)); b2.give(bytes); }));
  t.true(b2.peak <= 100 && b2.peak >= 90, `peak ${b2.peak}`);
  // A whole folder decodes correctly under a budget smaller than one image.
  const dir = join(root, 'budget');
  mkdirSync(dir);
  for (let i = 0; i < 6; i++) {
    await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 40 * i, g: 10, b: 200 } } }).png().toFile(join(dir, `${i}.png`));
  }
  const tight = await loadImageFolder(dir, { size: 28, channels: 3, decodeBudget: 1 });
  const loose = await loadImageFolder(join(dir), { size: 32, channels: 3 });
  t.is(tight.count, 6);
  t.is(loose.count, 6);
  t.is(tight.images[0], 0);
  t.is(tight.images[5 * 28 * 28 * 3], 200);
});

test('image folders: a cache header is checked against the file size before anything is allocated', async (t) => {
  const meta = { count: 10, size: 28, channels: 1, classes: 0, namesLength: 2 };
  t.deepEqual(cacheLayout(meta, 72 + 2 + 10 * 784), { names: 2, pixels: 7840, labels: 0 });
  t.is(cacheLayout(meta, 72 + 2 + 10 * 784 - 1), undefined);
  t.is(cacheLayout({ ...meta, count: 0xffffffff }, 72 + 2 + 10 * 784), undefined);
  t.is(cacheLayout({ ...meta, namesLength: 0xffffffff }, 72 + 0xffffffff + 10 * 784), undefined);
  t.deepEqual(cacheLayout({ ...meta, classes: 3 }, 72 + 2 + 10 * 785), { names: 2, pixels: 7840, labels: 10 });
  // A cache whose header claims 2^32 - 1 images is rebuilt from the images.
  const dir = join(root, 'cache');
  mkdirSync(dir);
  writeFileSync(join(dir, 'a.png'), greyPng(28, 28));
  await loadImageFolder(dir, { size: 28, channels: 1 });
  const cache = readFileSync(cachePath(dir, 28, 1));
  cache.writeUInt32LE(0xffffffff, 12);
  writeFileSync(cachePath(dir, 28, 1), cache);
  const again = await loadImageFolder(dir, { size: 28, channels: 1 });
  t.false(again.fromCache);
  t.is(again.count, 1);
});

test.before(async () => {
  await tf.setBackend('cpu');
});

/** A tiny saved LayersModel folder and its model.json as an object. */
async function savedModel(name: string): Promise<{ dir: string; json: Record<string, unknown> & { weightsManifest: { paths: string[]; weights: Record<string, unknown>[] }[] } }> {
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ inputShape: [4], units: 3 }));
  const dir = join(root, name);
  await saveLayersModel(model, dir);
  model.dispose();
  return { dir, json: JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as never };
}

test('model.json: a weights path that leaves the model folder is refused, by .. or by a link', async (t) => {
  const { dir, json } = await savedModel('m-dotdot');
  writeFileSync(join(root, 'outside.bin'), readFileSync(join(dir, 'weights.bin')));
  json.weightsManifest[0].paths = ['../outside.bin'];
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  const e = await t.throwsAsync(loadLayersModel(dir), { instanceOf: GanpoolDataError });
  t.regex(e.message, /model\.json: weightsManifest path "\.\.\/outside\.bin" leaves the model's folder/);
  const linked = await savedModel('m-link');
  const bin = join(linked.dir, 'weights.bin');
  writeFileSync(join(root, 'outside2.bin'), readFileSync(bin));
  const { rmSync } = await import('node:fs');
  rmSync(bin);
  symlinkSync(join(root, 'outside2.bin'), bin);
  const e2 = await t.throwsAsync(loadLayersModel(linked.dir), { instanceOf: GanpoolDataError });
  t.regex(e2.message, /weightsManifest path "weights\.bin" leaves the model's folder/);
  for (const abs of ['/etc/passwd', join(root, 'outside.bin')]) {
    json.weightsManifest[0].paths = [abs];
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    await t.throwsAsync(loadLayersModel(dir), { instanceOf: GanpoolDataError, message: /leaves the model's folder/ });
  }
});

test('model.json: every field is type-checked, and a topology TensorFlow.js cannot build is a GanpoolDataError', async (t) => {
  const { dir, json } = await savedModel('m-fields');
  const good = JSON.stringify(json);
  const cases: [string, (j: typeof json) => void, RegExp][] = [
    ['shape', (j) => { j.weightsManifest[0].weights[0].shape = 'abc'; }, /weights\[0\]\.shape is not a list/],
    ['dtype', (j) => { j.weightsManifest[0].weights[0].dtype = 'string'; }, /weights\[0\]\.dtype is "string"/],
    ['paths', (j) => { j.weightsManifest[0].paths = [5 as unknown as string]; }, /paths is not a list of file names/],
    ['weights', (j) => { j.weightsManifest[0].weights = {} as never; }, /weights is not a list/],
    ['name', (j) => { j.weightsManifest[0].weights[0].name = null; }, /name is not a string/],
    ['quantization', (j) => { j.weightsManifest[0].weights[0].quantization = { dtype: 'int8' }; }, /quantization is not/],
    ['metadata', (j) => { j.userDefinedMetadata = 'x'; }, /userDefinedMetadata is not an object/],
    ['topology', (j) => { j.modelTopology = { class_name: 'Sequential', config: { layers: [{ class_name: 'NoSuchLayer', config: {} }] } }; }, /TensorFlow\.js cannot build it/],
    ['huge shape', (j) => { j.weightsManifest[0].weights[0].shape = [65536, 65536]; }, /bytes; ganpool reads at most|expected \d+ bytes of weights/],
  ];
  for (const [what, edit, message] of cases) {
    const j = JSON.parse(good) as typeof json;
    edit(j);
    writeFileSync(join(dir, 'model.json'), JSON.stringify(j));
    const e = await t.throwsAsync(loadLayersModel(dir), { instanceOf: GanpoolDataError }, what);
    t.regex(e.message, message, what);
  }
});

test('classifier.json: every field is type-checked before the model is loaded', async (t) => {
  const dir = join(root, 'clf');
  mkdirSync(dir);
  const info = {
    format: 1, dataset: 'mnist', imageShape: [28, 28, 1], classes: 10, featuresDim: 128, accuracy: 0.98, testLoss: 0.05, testCount: 2000,
    trainCount: 8000, split: 's', epochs: 19, batchSize: 128, workers: 2, seed: 1, trainSeconds: 94.7,
  };
  for (const [field, value, message] of [
    ['imageShape', [28, 28, 5], /imageShape is not \[height, width, 1 or 3\]/], ['imageShape', [1e9, 28, 1], /imageShape/],
    ['accuracy', 'high', /accuracy is not a number/], ['classes', -1, /classes is not a whole number/],
    ['augment', { source: 3 }, /augment is not/], ['dataset', null, /dataset is not a string/],
  ] as const) {
    writeFileSync(join(dir, 'classifier.json'), JSON.stringify({ ...info, [field]: value }));
    const e = await t.throwsAsync(loadClassifier(dir), { instanceOf: GanpoolDataError }, field);
    t.regex(e.message, message, field);
  }
});

/** A protobuf field: key, then a varint or length-delimited bytes. */
function pb(num: number, value: number | Uint8Array | string): Buffer {
  const varint = (v: number): number[] => { const out: number[] = []; while (v >= 0x80) { out.push((v & 0x7f) | 0x80); v = Math.floor(v / 128); } out.push(v); return out; };
  if (typeof value === 'number') return Buffer.from([...varint(num * 8), ...varint(value)]);
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([Buffer.from([...varint(num * 8 + 2), ...varint(bytes.length)]), bytes]);
}

test('.onnx: a model whose tensors live in external data files is refused naming --generator and the tensor', async (t) => {
  const entry = Buffer.concat([pb(1, 'location'), pb(2, 'weights.bin')]);
  const viaExternalData = Buffer.concat([pb(1, 64), pb(2, 1), pb(8, 'w'), pb(13, entry)]);
  const viaLocation = Buffer.concat([pb(1, 64), pb(2, 1), pb(8, 'w2'), pb(14, 1)]);
  const cases: [string, Buffer][] = [
    ['initializer', pb(7, Buffer.concat([pb(2, 'g'), pb(5, viaExternalData)]))],
    ['data_location', pb(7, Buffer.concat([pb(2, 'g'), pb(5, viaLocation)]))],
    // A Constant node's tensor attribute, inside an If node's subgraph.
    ['subgraph', pb(7, pb(1, pb(5, Buffer.concat([pb(1, 'then_branch'), pb(6, pb(1, pb(5, Buffer.concat([pb(1, 'value'), pb(5, viaLocation)]))))]))))],
  ];
  for (const [what, graph] of cases) {
    const p = file(`${what}.onnx`, Buffer.concat([pb(1, 8), graph]));
    const e = await t.throwsAsync(loadGenerator(p), { instanceOf: GanpoolUsageError }, what);
    t.regex(e.message, /invalid --generator: .* stores tensor "w2?" in an external data file/, what);
  }
});

/** A training state of the right lengths for `config`'s preset, or `params` values each where given. */
function state(config: ReturnType<typeof resolveConfig>, params?: number): TrainingState {
  const preset = modelPreset(config.model, config.imageShape!, 0);
  const net = (spec: typeof preset.generator, ema: boolean): TrainingState['g'] => {
    const n = params ?? paramCount(spec);
    return { params: new Float32Array(n), m: new Float32Array(n), v: new Float32Array(n), t: 1, bn: new Float32Array(bnStatsSize(spec)), ...(ema ? { ema: new Float32Array(n) } : {}) };
  };
  return { stepsDone: 1, g: net(preset.generator, true), d: net(preset.discriminator, false) };
}

test('checkpoints: vectors of the wrong length, or a model/shape no preset has, are refused by score and resume before use', async (t) => {
  const config = (out: string): ReturnType<typeof resolveConfig> => resolveConfig({ model: 'seed', dataset: 'mnist', out, steps: 10 }, 10_000, [28, 28, 1]);
  const okRun = join(root, 'ck-ok');
  await writeCheckpoint(okRun, config(okRun), state(config(okRun)));
  t.is(loadScoringModel(okRun).preset.name, 'seed');
  const shortRun = join(root, 'ck-short');
  await writeCheckpoint(shortRun, config(shortRun), state(config(shortRun), 12));
  const e = t.throws(() => loadScoringModel(shortRun), { instanceOf: GanpoolDataError });
  t.regex(e.message, /ck-short\/checkpoint\/manifest\.json: checkpoint does not fit its model: g-params\.f32 holds 12 values but model 'seed' for 28×28×1 images has \d+ G parameters; refusing to pad or truncate it/);
  t.throws(() => planRun({ resume: shortRun }), { instanceOf: GanpoolDataError, message: /g-params\.f32 holds 12 values/ });
  for (const [field, value, message] of [
    ['model', 'bogus', /config\.model "bogus" is not one of mlp, seed/], ['model', 'constructor', /config\.model "constructor"/],
    ['imageShape', [28, 28, 7], /config\.imageShape \[28,28,7\] is not/], ['imageShape', null, /config\.imageShape null/],
    ['model', 'dcgan32', /built for 32×32 images|32/],
  ] as const) {
    const run = join(root, `ck-${field}-${String(value)}`);
    await writeCheckpoint(run, { ...config(run), [field]: value }, state(config(run)));
    const err = t.throws(() => loadScoringModel(run), { instanceOf: GanpoolDataError }, `${field} ${String(value)}`);
    t.regex(err.message, message, `${field} ${String(value)}`);
    t.throws(() => planRun({ resume: run }), { instanceOf: GanpoolDataError }, `resume: ${field} ${String(value)}`);
  }
});
