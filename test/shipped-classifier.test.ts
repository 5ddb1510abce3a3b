import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadClassifier, loadOrTrainClassifier, trainClassifier, classifierReady } from '../src/eval/classifier-store.js';
import { SHIPPED_CLASSIFIER_COMMAND, shippedClassifierDir } from '../src/data/shipped-classifiers.js';
import { classify, toFloatImages } from '../src/eval/evaluate.js';
import { loadSplit } from '../src/eval/splits.js';
import { CLASSES } from '../src/eval/classifier-spec.js';

/** Share of the split's rows whose most probable class is their label. */
function accuracyOf(probs: Float32Array, labels: ArrayLike<number>, rows: ArrayLike<number>): number {
  let right = 0;
  for (let r = 0; r < rows.length; r++) {
    let best = 0;
    for (let k = 1; k < CLASSES; k++) if (probs[r * CLASSES + k] > probs[r * CLASSES + best]) best = k;
    if (best === labels[rows[r]]) right++;
  }
  return right / rows.length;
}

test.serial('the shipped MNIST classifier loads without training, and its weights score the accuracy its classifier.json records', async (t) => {
  const emptyCache = mkdtempSync(join(tmpdir(), 'ganpool-nocache-'));
  t.true(classifierReady('mnist', emptyCache));
  t.false(classifierReady('fashion-mnist', emptyCache));
  t.is(shippedClassifierDir('fashion-mnist'), null);
  const logged: string[] = [];
  const loaded = await loadOrTrainClassifier('mnist', { cacheDir: emptyCache, log: (m) => logged.push(m) });
  t.deepEqual(logged, [], 'nothing was trained');
  const { info, extractor } = loaded;
  t.is(info.dataset, 'mnist');
  const split = await loadSplit('mnist');
  const { test: held } = split;
  const { probs } = classify(extractor, toFloatImages(held.set, held.indices), held.indices.length);
  const accuracy = accuracyOf(probs, held.set.labels, held.indices);
  t.log(`shipped classifier: ${(accuracy * 100).toFixed(2)}% on ${held.indices.length} held-out digits (classifier.json: ${(info.accuracy * 100).toFixed(2)}%)`);
  t.true(Math.abs(accuracy - info.accuracy) <= 0.5 / held.indices.length + 1e-9, 'the weights are the ones the metadata describes');
  t.true(info.accuracy >= 0.97);
  t.true(SHIPPED_CLASSIFIER_COMMAND.includes(`--epochs ${info.epochs}`) && SHIPPED_CLASSIFIER_COMMAND.includes(`--batch-size ${info.batchSize}`) &&
    SHIPPED_CLASSIFIER_COMMAND.includes(`--workers ${info.workers}`) && SHIPPED_CLASSIFIER_COMMAND.includes(`--seed ${info.seed}`));
});

test.serial('retraining the classifier with the shipped settings reaches the shipped accuracy within 1 point', async (t) => {
  const shipped = (await loadClassifier(shippedClassifierDir('mnist')!))!.info;
  const split = await loadSplit('mnist');
  const { info } = await trainClassifier('mnist', split, {
    workers: shipped.workers, batchSize: shipped.batchSize, epochs: shipped.epochs, seed: shipped.seed,
  });
  t.log(`retrained: ${(info.accuracy * 100).toFixed(2)}% in ${info.trainSeconds.toFixed(0)} s; shipped ${(shipped.accuracy * 100).toFixed(2)}%`);
  t.is(info.split, shipped.split);
  t.true(Math.abs(info.accuracy - shipped.accuracy) <= 0.01);
});
