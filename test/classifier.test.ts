import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ClassifierTrainer } from '../src/eval/classifier-train.js';
import { classifierParamCount, classifierParamShapes, FEATURES_DIM } from '../src/eval/classifier-spec.js';
import { buildClassifier } from '../src/eval/classifier-net.js';
import { holdout } from '../src/eval/splits.js';
import { loadClassifier, saveClassifier, type ClassifierInfo } from '../src/eval/classifier-store.js';
import { classify, toFloatImages } from '../src/eval/evaluate.js';
import { GanpoolUsageError } from '../src/errors.js';
import { initBackend } from '../src/engines/tfjs/tf-backend.js';
import { mnistData, relErr } from './helpers.js';

const split = () => holdout(mnistData() as ReturnType<typeof mnistData> & { labels: Uint8Array });

test('held-out split: 8,000 train + 2,000 test rows, disjoint, the same every time', (t) => {
  const a = split(), b = split();
  t.is(a.train.indices.length, 8000);
  t.is(a.test.indices.length, 2000);
  const seen = new Set(a.train.indices);
  t.true(Array.from(a.test.indices).every((i) => !seen.has(i)));
  t.deepEqual(a.test.indices, b.test.indices);
});

test('classifier spec matches the tf.layers model (shapes, order, feature size)', async (t) => {
  await initBackend('cpu');
  const model = buildClassifier([28, 28, 1], true);
  t.deepEqual(model.trainableWeights.map((w) => w.shape), classifierParamShapes([28, 28, 1]).map((p) => p.shape));
  t.is(model.countParams(), classifierParamCount([28, 28, 1]));
  t.is(model.layers[model.layers.length - 2].outputShape.at(-1), FEATURES_DIM);
  model.dispose();
  t.throws(() => classifierParamShapes([6, 6, 1]), { instanceOf: GanpoolUsageError, message: /at least 7×7/ });
});

test('data-parallel classifier gradient: 2 workers (shard-weighted) = 1 worker full batch', async (t) => {
  const s = split();
  const rows = s.train.indices.slice(0, 67); // uneven shards: 34 + 33
  const grads: Float32Array[] = [];
  for (const workers of [1, 2]) {
    const trainer = await ClassifierTrainer.start(s, { workers, seed: 3 });
    try {
      grads.push(await trainer.gradient(rows));
    } finally {
      await trainer.close();
    }
  }
  const err = relErr(grads[1], grads[0]);
  t.log(`relative difference 2 vs 1 worker: ${err.toExponential(2)} over ${grads[0].length} parameters`);
  t.true(err <= 1e-5, `rel err ${err}`);
  t.true(grads[0].some((g) => g !== 0));
});

test('saved classifier reloads with the trained weights and predicts like the parameters say', async (t) => {
  const s = split();
  const trainer = await ClassifierTrainer.start(s, { workers: 2, seed: 5 });
  let params: Float32Array;
  try {
    for (let i = 0; i < 3; i++) await trainer.step();
    params = trainer.parameters();
  } finally {
    await trainer.close();
  }
  const dir = join(mkdtempSync(join(tmpdir(), 'ganpool-cls-')), 'mnist');
  // Every field classifier.json must hold (loadClassifier type-checks them all).
  const info: ClassifierInfo = {
    format: 1, dataset: 'mnist', imageShape: [28, 28, 1], classes: 10, featuresDim: 128, accuracy: 0, testLoss: 0,
    testCount: s.test.indices.length, trainCount: s.train.indices.length, split: 'test', epochs: 0, batchSize: 64, workers: 2, seed: 5, trainSeconds: 0,
  };
  await saveClassifier(dir, params, info);
  const loaded = (await loadClassifier(dir))!;
  t.like(loaded.info, { dataset: 'mnist' });
  const rows = s.test.indices.slice(0, 20);
  const { probs } = classify(loaded.extractor, toFloatImages(s.test.set, rows), rows.length);
  // Reference: the same weights in a fresh softmax model.
  const ref = buildClassifier([28, 28, 1], false);
  let offset = 0;
  ref.setWeights(classifierParamShapes([28, 28, 1]).map((p) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    return tf.tensor(params.subarray(offset, (offset += n)), p.shape);
  }));
  const expected = tf.tidy(() => (ref.predict(tf.tensor4d(toFloatImages(s.test.set, rows), [20, 28, 28, 1])) as tf.Tensor).dataSync());
  t.true(relErr(probs, expected) < 1e-5);
  t.is(await loadClassifier(join(dir, 'nothing-here')), null);
});
