import test from 'ava';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GanTrainer } from '../src/trainer.js';
import { train } from '../src/train.js';
import { writeGenerator, GENERATOR_DIR } from '../src/export.js';
import { latentNoise, NoiseStream } from '../src/rng.js';
import { maxAbsDiff } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'ganpool-export-'));

test.before(async () => {
  await tf.setBackend('cpu');
});

/** Loads a LayersModel folder with tfjs's own fromMemory handler from the two files (no ganpool loader). */
async function loadPlain(dir: string): Promise<tfl.LayersModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const bin = readFileSync(join(dir, json.weightsManifest[0].paths[0]));
  return tfl.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest[0].weights,
    weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
  }));
}

test.serial('the exported generator, loaded by plain tfjs, reproduces trainer.sample() for the same latent vectors', async (t) => {
  const trainer = await GanTrainer.create({ model: 'seed', workers: 2, batchSize: 16, steps: 3, seed: 5 });
  try {
    for (let i = 0; i < 3; i++) await trainer.step();
    const dir = join(tmp, 'gen');
    await writeGenerator(dir, await trainer.exportGenerator(), {
      seed: 5, step: 3, model: 'seed', dataset: 'mnist', imageShape: trainer.imageShape, latentDim: trainer.latentDim,
    });
    t.deepEqual(readdirSync(dir).sort(), ['model.json', 'weights.bin']);
    const model = await loadPlain(dir);
    t.deepEqual(model.inputs[0]!.shape, [null, 100]);
    t.deepEqual(model.outputs[0]!.shape, [null, 28, 28, 1]);
    const n = 8, seed = 11;
    const z = latentNoise(new Float32Array(n * 100), seed, 0, NoiseStream.Sample, 0, 100);
    const mine = tf.tidy(() => (model.predict(tf.tensor2d(z, [n, 100])) as tf.Tensor).dataSync() as Float32Array);
    const theirs = await trainer.sample(n, seed);
    const diff = maxAbsDiff(mine, theirs);
    t.log(`max |exported (cpu) - trainer.sample (wasm worker)| = ${diff.toExponential(2)} over ${mine.length} pixels`);
    t.true(diff <= 1e-5, `diff ${diff}`);
    const meta = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).userDefinedMetadata.ganpool;
    t.like(meta, { seed: 5, step: 3, model: 'seed', latentDim: 100, imageShape: [28, 28, 1] });
  } finally {
    await trainer.close();
  }
});

test.serial('train() writes OUT/generator at every checkpoint and at the end', async (t) => {
  const out = join(tmp, 'run');
  const stepsSeen: number[] = [];
  const metaStep = (): number => JSON.parse(readFileSync(join(out, GENERATOR_DIR, 'model.json'), 'utf8')).userDefinedMetadata.ganpool.step;
  await train({ model: 'seed', workers: 2, batchSize: 16, steps: 5, checkpointEvery: 2, out }, {
    onStep: (s) => { if (s.step >= 2) stepsSeen.push(metaStep()); },
  });
  t.deepEqual(stepsSeen, [2, 2, 4, 4]);
  t.is(metaStep(), 5);
  t.true((await loadPlain(join(out, GENERATOR_DIR))).outputs[0]!.shape.length === 4);
});
