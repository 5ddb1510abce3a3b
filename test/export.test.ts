import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as ort from 'onnxruntime-node';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GanTrainer } from '../src/training/trainer.js';
import { train } from '../src/app/train.js';
import { writeGenerator, writeGeneratorOnnx, GENERATOR_DIR, GENERATOR_ONNX, type GeneratorMetadata } from '../src/generator/export.js';
import { onnxMetadataProps } from '../src/engines/onnx/proto.js';
import { latentNoise, NoiseStream } from '../src/util/rng.js';
import type { BackendName } from '../src/engines/backend.js';
import { initBackend } from '../src/engines/tfjs/tf-backend.js';
import { bnLayers, type ModelName } from '../src/models/presets.js';
import { maxAbsDiff, type ModelJson } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'ganpool-export-'));

test.before(async () => {
  await initBackend('cpu'); // the exports are written on, and the LayersModel run by, this thread's cpu backend
});

/** Loads a LayersModel folder with tfjs's own fromMemory handler from the two files (no ganpool loader). */
async function loadPlain(dir: string): Promise<tfl.LayersModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
  const bin = readFileSync(join(dir, json.weightsManifest[0].paths[0]));
  return tfl.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest[0].weights,
    weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
  }));
}

/** Runs an ONNX generator with plain onnxruntime-node (no ganpool code): z in, images out. */
async function runOnnx(file: string, z: Float32Array, n: number, latent: number): Promise<{ images: Float32Array; dims: readonly number[]; session: ort.InferenceSession }> {
  const session = await ort.InferenceSession.create(file);
  const out = await session.run({ z: new ort.Tensor('float32', z, [n, latent]) });
  const images = out.images;
  return { images: new Float32Array(images.data as Float32Array), dims: images.dims, session };
}

/** Whether a moving-statistics vector (bnLayers layout) still holds its start: every mean 0 and variance 1. */
function atStart(bn: Float32Array, channels: number[]): boolean {
  let offset = 0;
  for (const c of channels) {
    for (let i = 0; i < c; i++) if (bn[offset + i] !== 0 || bn[offset + c + i] !== 1) return false;
    offset += 2 * c;
  }
  return true;
}

const cases: { model: ModelName; backend: BackendName }[] = [
  { model: 'dcgan', backend: 'onnx' }, // batch norm in G: the moving statistics must travel with the export
  { model: 'dcgan', backend: 'wasm' },
  { model: 'probe-dcgan', backend: 'onnx' }, // conv, no batch norm
  { model: 'seed', backend: 'onnx' }, // MLP, no batch norm
];

for (const { model, backend } of cases) {
  test.serial(`${model} (${backend}): OUT/generator in plain tfjs and OUT/generator.onnx in plain ONNX Runtime reproduce trainer.sample()`, async (t) => {
    const trainer = await GanTrainer.create({ model, workers: 2, batchSize: 8, steps: 3, seed: 5, backend });
    try {
      for (let i = 0; i < 3; i++) await trainer.step();
      const weights = trainer.generatorWeights();
      const bnChannels = bnLayers(trainer.preset.generator).map((l) => l.channels);
      if (model === 'dcgan') {
        t.true(bnChannels.length > 0 && weights.bn.length > 0);
        t.false(atStart(weights.bn, bnChannels), 'the moving statistics moved off their start (means 0, variances 1)');
      } else {
        t.is(weights.bn.length, 0);
      }
      const meta: GeneratorMetadata = {
        seed: 5, step: 3, model, dataset: 'mnist', imageShape: trainer.imageShape, latentDim: trainer.latentDim,
      };
      const dir = join(tmp, `${model}-${backend}`), file = join(tmp, `${model}-${backend}.onnx`);
      await writeGenerator(dir, trainer.preset, weights, meta);
      await writeGeneratorOnnx(file, trainer.preset, weights, meta);
      t.deepEqual(readdirSync(dir).sort(), ['model.json', 'weights.bin']);

      const n = 8, seed = 11, latent = trainer.latentDim;
      const z = latentNoise(new Float32Array(n * latent), seed, 0, NoiseStream.Sample, 0, latent);
      const theirs = await trainer.sample(n, seed);

      const layers = await loadPlain(dir);
      t.deepEqual(layers.inputs[0].shape, [null, 100]);
      t.deepEqual(layers.outputs[0].shape, [null, 28, 28, 1]);
      const fromTfjs = tf.tidy(() => (layers.predict(tf.tensor2d(z, [n, latent])) as tf.Tensor).dataSync() as Float32Array);
      layers.dispose();
      const dTfjs = maxAbsDiff(fromTfjs, theirs);

      const { images: fromOnnx, dims, session } = await runOnnx(file, z, n, latent);
      t.deepEqual(session.inputNames, ['z']);
      t.deepEqual(session.outputNames, ['images']);
      await session.release();
      t.deepEqual(dims, [n, 28, 28, 1]);
      const dOnnx = maxAbsDiff(fromOnnx, theirs);

      t.log(`max |export − trainer.sample (${backend} workers)| over ${theirs.length} pixels: ` +
        `LayersModel (tfjs cpu) ${dTfjs.toExponential(2)}, ONNX ${dOnnx.toExponential(2)}`);
      t.true(dTfjs <= 1e-5, `tfjs diff ${dTfjs}`);
      t.true(dOnnx <= 1e-5, `onnx diff ${dOnnx}`);
      t.true(theirs.some((v) => Math.abs(v) > 1e-3), 'the images are not all zero');

      const layersMeta = (JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ModelJson).userDefinedMetadata.ganpool;
      t.like(layersMeta, { seed: 5, step: 3, model, latentDim: 100, imageShape: [28, 28, 1] });
      const props = onnxMetadataProps(new Uint8Array(readFileSync(file)));
      t.deepEqual(JSON.parse(props.get('ganpool')!), layersMeta);
      t.regex(props.get('input')!, /^z: float32 \[N, 100\]/);
      t.regex(props.get('output')!, /^images: float32 \[N, 28, 28, 1\]/);
    } finally {
      await trainer.close();
    }
  });
}

test.serial('train() writes OUT/generator and OUT/generator.onnx at every checkpoint and at the end', async (t) => {
  const out = join(tmp, 'run');
  const stepsSeen: [number, number][] = [];
  const metaStep = (): number => (JSON.parse(readFileSync(join(out, GENERATOR_DIR, 'model.json'), 'utf8')) as ModelJson).userDefinedMetadata.ganpool.step;
  const onnxStep = (): number => (JSON.parse(onnxMetadataProps(new Uint8Array(readFileSync(join(out, GENERATOR_ONNX)))).get('ganpool')!) as GeneratorMetadata).step;
  const result = await train({ finalEval: false, model: 'seed', workers: 2, batchSize: 16, steps: 5, checkpointEvery: 2, out, backend: 'onnx' }, {
    onStep: (s) => { if (s.step >= 2) stepsSeen.push([metaStep(), onnxStep()]); },
  });
  t.deepEqual(stepsSeen, [[2, 2], [2, 2], [4, 4], [4, 4]]);
  t.is(metaStep(), 5);
  t.is(onnxStep(), 5);
  t.is(result.generator, join(out, GENERATOR_DIR));
  t.is(result.generatorOnnx, join(out, GENERATOR_ONNX));
  t.true(existsSync(result.generatorOnnx));
  t.false(readdirSync(out).some((f) => f.includes('.tmp-')), 'no temp files left');
  t.true((await loadPlain(join(out, GENERATOR_DIR))).outputs[0].shape.length === 4);
});
