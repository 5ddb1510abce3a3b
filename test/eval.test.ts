import test from 'ava';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { holdout, type DataSplit } from '../src/eval/splits.js';
import { loadClassifier } from '../src/eval/classifier-store.js';
import { shippedClassifierDir } from '../src/data/shipped-classifiers.js';
import { Evaluator, toFloatImages } from '../src/eval/evaluate.js';
import { evalCommand, type EvalReport } from '../src/cli/commands/eval.js';
import { saveLayersModel } from '../src/engines/tfjs/model-io.js';
import { train } from '../src/app/train.js';
import { GanpoolUsageError } from '../src/errors.js';
import { hashInts, sfc32 } from '../src/util/rng.js';
import type { EvalMetrics } from '../src/metrics/frechet.js';
import { mnistData } from './helpers.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'ganpool-eval-'));
let shared: Promise<{ evaluator: Evaluator; split: DataSplit }> | null = null;

/**
 * The shipped MNIST classifier (see shipped-classifier.test.ts for its accuracy and a retrain),
 * with reference statistics over 4,000 training digits. `cacheDir` stays empty: the commands find the shipped one.
 */
function testEvaluator(): Promise<{ evaluator: Evaluator; split: DataSplit }> {
  shared ??= (async () => {
    const split = holdout(mnistData() as ReturnType<typeof mnistData> & { labels: Uint8Array });
    const loaded = (await loadClassifier(shippedClassifierDir('mnist')!))!;
    return { evaluator: Evaluator.fromClassifier(loaded, split, 4000), split };
  })();
  return shared;
}

/** Runs a command, capturing what it writes to stdout. */
async function captured(run: () => Promise<number>): Promise<{ code: number; stdout: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let stdout = '';
  process.stdout.write = ((chunk: string) => { stdout += chunk; return true; });
  try {
    return { code: await run(), stdout };
  } finally {
    process.stdout.write = write;
  }
}

/** A tiny untrained generator (latent 8 → 28×28×1 tanh) saved as a LayersModel folder. */
async function tinyGenerator(side = 28): Promise<string> {
  const model = tfl.sequential({ layers: [
    tfl.layers.dense({ inputShape: [8], units: side * side, activation: 'tanh' }),
    tfl.layers.reshape({ targetShape: [side, side, 1] }),
  ] });
  const dir = join(mkdtempSync(join(tmpdir(), 'ganpool-gen-')), 'generator');
  await saveLayersModel(model, dir);
  return dir;
}

test('FCD: held-out real images are close to the training images, uniform noise is far', async (t) => {
  const { evaluator } = await testEvaluator();
  const real = evaluator.floor;
  const n = 2000, next = sfc32(hashInts(7));
  const noise = Float32Array.from({ length: n * 784 }, () => 2 * next() - 1);
  const fake = evaluator.metrics(noise, n);
  t.log(`FCD held-out ${real.fcd.toFixed(3)} (n ${real.n}), uniform noise ${fake.fcd.toFixed(3)} (n ${n}): ratio ${(fake.fcd / real.fcd).toFixed(0)}`);
  t.true(real.fcd > 0);
  t.true(fake.fcd >= 20 * real.fcd);
});

test('classifier score: high for real digits, 1 for one repeated image', async (t) => {
  const { evaluator, split } = await testEvaluator();
  const real = evaluator.floor;
  t.log(`classifier score of the held-out digits ${real.classifierScore.toFixed(3)}; classes covered ${real.classesCovered}; histogram ${real.histogram.join(' ')}`);
  t.true(real.classifierScore >= 7);
  t.is(real.classesCovered, 10);
  const one = toFloatImages(split.test.set, new Uint32Array(500).fill(split.test.indices[0]));
  const same = evaluator.metrics(one, 500);
  t.true(Math.abs(same.classifierScore - 1) < 1e-3, `score ${same.classifierScore}`);
  t.is(same.classesCovered, 1);
});

test('ganpool eval --json on a saved generator: parses, has both metric sets', async (t) => {
  await testEvaluator(); // starts the tfjs backend that tinyGenerator builds on
  const gen = await tinyGenerator();
  const { code, stdout } = await captured(() => evalCommand(['--generator', gen, '--dataset', 'mnist', '--n', '300', '--seed', '4', '--json', '--cache-dir', cacheDir]));
  t.is(code, 0);
  const report = JSON.parse(stdout) as EvalReport;
  t.like(report, { dataset: 'mnist', seed: 4, generated: { n: 300 }, heldOut: { n: 2000 } });
  t.is(report.generated.histogram.reduce((a, b) => a + b, 0), 300);
  t.true(report.generated.fcd > report.heldOut.fcd);
  const human = await captured(() => evalCommand(['--generator', gen, '--n', '300', '--cache-dir', cacheDir]));
  t.regex(human.stdout, /generated: +FCD +[\d.]+ +score [\d.]+ +classes \d+\/10 +n 300/);
  t.regex(human.stdout, /held-out: +FCD/);
});

test('ganpool eval: clear errors for a missing generator folder and an image-shape mismatch', async (t) => {
  await testEvaluator(); // starts the tfjs backend that tinyGenerator builds on
  await t.throwsAsync(evalCommand(['--generator', join(cacheDir, 'nope'), '--cache-dir', cacheDir]), { instanceOf: GanpoolUsageError, message: /--generator.*not a folder/ });
  await t.throwsAsync(evalCommand(['--dataset', 'mnist']), { instanceOf: GanpoolUsageError, message: /missing --generator/ });
  const small = await tinyGenerator(14);
  await t.throwsAsync(evalCommand(['--generator', small, '--cache-dir', cacheDir]), { instanceOf: GanpoolUsageError, message: /image shape mismatch.*14×14×1.*28×28×1/ });
});

test('train --eval-every logs eval lines in metrics.jsonl and the final values in summary.json; its exported generator evaluates', async (t) => {
  const { evaluator } = await testEvaluator();
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-evalrun-')), 'run');
  const events: number[] = [];
  const result = await train({ finalEval: false, steps: 5, workers: 2, batchSize: 32, evalEvery: 2, evalN: 200, out }, { evaluator, onEval: (e) => { events.push(e.step); } });
  t.deepEqual(events, [2, 4, 5]);
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; eval?: EvalMetrics });
  const evals = lines.filter((l): l is { step: number; eval: EvalMetrics } => Boolean(l.eval));
  t.deepEqual(evals.map((l) => l.step), [2, 4, 5]);
  for (const l of evals) t.true(Number.isFinite(l.eval.fcd) && l.eval.n === 200 && l.eval.histogram.length === 10);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { eval: EvalMetrics };
  t.deepEqual(summary.eval, evals[2].eval);
  t.deepEqual(result.eval, evals[2].eval);
  t.log(`after 5 steps: FCD ${summary.eval.fcd.toFixed(2)}, score ${summary.eval.classifierScore.toFixed(2)}`);
  // train always exports the generator: a missing model.json is a failure, not a reason to skip the rest.
  t.true(existsSync(join(out, 'generator', 'model.json')), 'train wrote generator/model.json');
  const { stdout } = await captured(() => evalCommand(['--generator', join(out, 'generator'), '--n', '200', '--json', '--cache-dir', cacheDir]));
  const report = JSON.parse(stdout) as EvalReport;
  // Same generator, same noise (seed 1 = the run's seed), same classifier: the same predictions as the run's last eval
  // (FCD differs: the command's reference statistics use all 8,000 training images, the test evaluator 4,000).
  t.deepEqual(report.generated.histogram, summary.eval.histogram);
  t.true(Math.abs(report.generated.classifierScore - summary.eval.classifierScore) <= 1e-4 * summary.eval.classifierScore);
});

test('class agreement: held-out digits scored with their true labels agree as often as the classifier is right; shifted labels almost never', async (t) => {
  const { evaluator, split } = await testEvaluator();
  const rows = split.test.indices;
  const images = toFloatImages(split.test.set, rows);
  const labels = Int32Array.from(rows, (r) => split.test.set.labels[r]);
  const right = evaluator.metrics(images, rows.length, labels).classAgreement!;
  const drawn = Array.from({ length: 10 }, (_, k) => labels.filter((y) => y === k).length);
  const overall = right.perClass.reduce((n, share, k) => n + share * drawn[k], 0); // images classified as their label
  t.log(`agreement ${(right.mean * 100).toFixed(2)}% (per class ${right.perClass.map((x) => (x * 100).toFixed(0)).join(' ')})`);
  t.true(Math.abs(overall / rows.length - evaluator.info.accuracy) < 1e-9, 'the per-class shares add up to the classifier accuracy');
  t.true(right.perClass.every((x) => x > 0.9));
  const shifted = evaluator.metrics(images, rows.length, labels.map((y) => (y + 1) % 10)).classAgreement!;
  t.true(shifted.mean < 0.05, `shifted ${shifted.mean}`);
  t.is(evaluator.metrics(images, rows.length).classAgreement, undefined);
});
