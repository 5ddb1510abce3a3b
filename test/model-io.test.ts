import test from 'ava';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dirLoader, dirSaver, loadLayersModel, saveLayersModel } from '../src/engines/tfjs/model-io.js';
import { GanpoolDataError } from '../src/errors.js';
import type { ModelJson } from './helpers.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

/** A small MNIST-shaped generator: 100-d noise → 64 relu → 784 tanh → 28×28×1. */
function buildGenerator(): tfl.Sequential {
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ inputShape: [100], units: 64, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }));
  model.add(tfl.layers.dense({ units: 784, activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }), biasInitializer: 'randomNormal' }));
  model.add(tfl.layers.reshape({ targetShape: [28, 28, 1] }));
  return model;
}

/** A fixed noise batch. */
function noise(): tf.Tensor {
  return tf.tensor2d(Array.from({ length: 4 * 100 }, (_, i) => Math.sin(i * 0.37)), [4, 100]);
}

/** Runs the model on the fixed noise and returns the values. */
function outputs(model: tfl.LayersModel): Float32Array {
  return tf.tidy(() => (model.predict(noise()) as tf.Tensor).dataSync() as Float32Array);
}

const tmp = mkdtempSync(join(tmpdir(), 'ganpool-model-'));

test('saves the standard model.json + weights.bin and loads it back identically', async (t) => {
  const model = buildGenerator();
  const dir = join(tmp, 'gen');
  const result = await saveLayersModel(model, dir);
  t.deepEqual(readdirSync(dir).sort(), ['model.json', 'weights.bin']);
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ModelJson;
  t.is(json.format, 'layers-model');
  t.is(json.convertedBy, null);
  t.regex(json.generatedBy, /TensorFlow\.js/);
  t.is(json.modelTopology.class_name, 'Sequential');
  t.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
  t.is(json.weightsManifest[0].weights.length, 4);
  const params = (100 * 64 + 64 + 64 * 784 + 784);
  t.is(readFileSync(join(dir, 'weights.bin')).length, params * 4);
  t.is(result.modelArtifactsInfo.weightDataBytes, params * 4);

  const expected = outputs(model);
  const viaLoader = await tfl.loadLayersModel(dirLoader(dir));
  t.deepEqual(outputs(viaLoader), expected);
  t.deepEqual(outputs(await loadLayersModel(dir)), expected);

  // No ganpool code: tfjs's own fromMemory handler built from the two files.
  const bin = readFileSync(join(dir, 'weights.bin'));
  const plain = await tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0].weights,
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
    }),
  );
  t.deepEqual(outputs(plain), expected);
});

test('saving over a model folder it wrote replaces it and leaves no temp folders; a folder holding anything else is refused and kept', async (t) => {
  const dir = join(tmp, 'replace');
  await saveLayersModel(buildGenerator(), dir);
  const second = buildGenerator();
  second.layers[0].setWeights(second.layers[0].getWeights().map((w) => tf.onesLike(w)));
  await second.save(dirSaver(dir));
  t.deepEqual(outputs(await loadLayersModel(dir)), outputs(second));
  t.deepEqual(readdirSync(tmp).filter((n) => n.includes('replace')), ['replace']);
  // A file ganpool did not write in the folder: the save is refused naming the folder, and nothing in it changes.
  writeFileSync(join(dir, 'notes.txt'), 'mine');
  const before = readFileSync(join(dir, 'weights.bin'));
  await t.throwsAsync(buildGenerator().save(dirSaver(dir)), { instanceOf: GanpoolDataError, message: /replace: is not what ganpool writes there/ });
  t.is(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'mine');
  t.true(readFileSync(join(dir, 'weights.bin')).equals(before));
  t.deepEqual(readdirSync(tmp).filter((n) => n.includes('replace')), ['replace']);
});

test('loads weights split across several shard files', async (t) => {
  const src = join(tmp, 'gen-sharded-src');
  const model = buildGenerator();
  await saveLayersModel(model, src);
  const json = JSON.parse(readFileSync(join(src, 'model.json'), 'utf8')) as tf.io.ModelJSON;
  const bin = readFileSync(join(src, 'weights.bin'));
  const dir = mkdtempSync(join(tmp, 'sharded-'));
  const cut = 10000;
  writeFileSync(join(dir, 'group1-shard1of2.bin'), bin.subarray(0, cut));
  writeFileSync(join(dir, 'group1-shard2of2.bin'), bin.subarray(cut));
  json.weightsManifest[0].paths = ['group1-shard1of2.bin', 'group1-shard2of2.bin'];
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  t.deepEqual(outputs(await loadLayersModel(dir)), outputs(model));
});

test('missing or corrupt model.json and wrong-length weights fail clearly', async (t) => {
  const dir = join(tmp, 'broken');
  await saveLayersModel(buildGenerator(), dir);
  const good = readFileSync(join(dir, 'model.json'), 'utf8');
  const bin = readFileSync(join(dir, 'weights.bin'));

  writeFileSync(join(dir, 'weights.bin'), bin.subarray(0, 1000));
  const e1 = await t.throwsAsync(loadLayersModel(dir), { instanceOf: GanpoolDataError });
  t.regex(e1.message, /weights\.bin: expected 229696 bytes of weights \(from model\.json's weightsManifest\), found 1000 \(file truncated\?\)/);
  writeFileSync(join(dir, 'weights.bin'), bin);

  writeFileSync(join(dir, 'model.json'), good.slice(0, 200));
  const e2 = await t.throwsAsync(loadLayersModel(dir), { instanceOf: GanpoolDataError });
  t.regex(e2.message, /model\.json: not a TensorFlow\.js model\.json: not valid JSON/);

  writeFileSync(join(dir, 'model.json'), JSON.stringify({ hello: 'world' }));
  await t.throwsAsync(loadLayersModel(dir), { message: /model\.json: not a TensorFlow\.js model\.json: no modelTopology object/ });

  const e3 = await t.throwsAsync(loadLayersModel(join(tmp, 'nowhere')), { instanceOf: GanpoolDataError });
  t.regex(e3.message, /nowhere\/model\.json: not found; expected a TensorFlow\.js LayersModel folder/);

  writeFileSync(join(dir, 'model.json'), good);
  const { rmSync } = await import('node:fs');
  rmSync(join(dir, 'weights.bin'));
  await t.throwsAsync(loadLayersModel(dir), { message: /weights\.bin: weights file listed in model\.json is missing/ });
});
