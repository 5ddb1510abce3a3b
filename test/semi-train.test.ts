import test from 'ava';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import { limitUnlabelled, parseLabelCount, semiShardInputs, splitLabels, type SemiBatchPlan } from '../src/data/label-split.js';
import { holdout } from '../src/eval/splits.js';
import { GanpoolUsageError } from '../src/errors.js';
import { asFlagError, parseTrainArgs } from '../src/cli/args.js';
import { resolveSemiConfig, trainSemi } from '../src/app/semi-train.js';
import { planRun } from '../src/app/train.js';
import { SemiTrainer } from '../src/eval/semi-train.js';
import { paramsView } from '../src/training/shared-params.js';
import { evaluateClassifierOnnx } from '../src/eval/semi-eval.js';
import { createOnnxSemiEngine } from '../src/engines/onnx/semi-engine.js';
import { foldSemiClassifier, semiSpec, type SemiSpec } from '../src/models/semi.js';
import { loadLayersModel } from '../src/engines/tfjs/model-io.js';
import { initBackend } from '../src/engines/tfjs/tf-backend.js';
import { assertTensorsClose, mnistData } from './helpers.js';
import { fillZigguratNormals, zigguratNormal } from '../src/util/ziggurat.js';
import { hashInts, sfc32 } from '../src/util/rng.js';

const labelled = (): ReturnType<typeof holdout> => holdout(mnistData() as ReturnType<typeof holdout>['train']['set']);

test('splitLabels: N/K per class from the training split only, disjoint, the rest unlabelled, keyed by the seed', (t) => {
  const split = labelled();
  const { labels } = split.train.set;
  const a = splitLabels(labels, split.train.indices, 10, 100, 1);
  t.is(a.labelled.length, 100);
  const perClass = new Array<number>(10).fill(0);
  for (const row of a.labelled) perClass[labels[row]] += 1;
  t.deepEqual(perClass, new Array<number>(10).fill(10));
  const train = new Set(split.train.indices), test_ = new Set(split.test.indices), lab = new Set(a.labelled);
  t.true([...a.labelled].every((r) => train.has(r) && !test_.has(r)));
  t.true([...a.unlabelled].every((r) => train.has(r) && !test_.has(r) && !lab.has(r)));
  t.is(a.labelled.length + a.unlabelled.length, split.train.indices.length);
  t.deepEqual(splitLabels(labels, split.train.indices, 10, 100, 1), a, 'the same seed draws the same rows');
  t.notDeepEqual(splitLabels(labels, split.train.indices, 10, 100, 2).labelled, a.labelled, 'another seed draws others');
  const all = splitLabels(labels, split.train.indices, 10, 'all', 1);
  t.deepEqual([...all.labelled], [...split.train.indices]);
  t.is(all.unlabelled.length, 0);
});

test('limitUnlabelled keeps N of the unlabelled rows, drawn by the seed, the labelled rows untouched; more than there are is a usage error naming --unlabelled', (t) => {
  const split = labelled();
  const a = splitLabels(split.train.set.labels, split.train.indices, 10, 100, 1);
  const small = limitUnlabelled(a, 500, 1);
  t.is(small.labelled, a.labelled);
  t.is(small.unlabelled.length, 500);
  const pool = new Set(a.unlabelled);
  t.is(new Set(small.unlabelled).size, 500, 'no row twice');
  t.true([...small.unlabelled].every((r) => pool.has(r)));
  t.deepEqual(limitUnlabelled(a, 500, 1), small, 'the same seed keeps the same rows');
  t.notDeepEqual(limitUnlabelled(a, 500, 2).unlabelled, small.unlabelled, 'another seed keeps others');
  const whole = limitUnlabelled(a, a.unlabelled.length, 1).unlabelled;
  t.true(whole.length === pool.size && whole.every((r) => pool.has(r)), 'all of them is the whole pool');
  const e = t.throws(() => limitUnlabelled(a, a.unlabelled.length + 1, 1), { instanceOf: GanpoolUsageError, message: new RegExp(`only ${a.unlabelled.length} training images are unlabelled`) });
  t.regex(asFlagError(e).message, /^invalid --unlabelled:/);
});

test('splitLabels and --labels refuse N < K, N not a multiple of K, more labels than a class has, and junk (usage errors naming --labels)', (t) => {
  const split = labelled();
  const { labels } = split.train.set;
  const cases: [unknown, RegExp][] = [[5, /fewer than the data set's 10 classes/], [105, /not a multiple of the 10 classes.*try 100 or 110/], [100_000, /class \d has only \d+ training images/]];
  for (const [n, re] of cases) {
    const e = t.throws(() => splitLabels(labels, split.train.indices, 10, parseLabelCount(n), 1), { instanceOf: GanpoolUsageError, message: re });
    t.regex(asFlagError(e).message, /^invalid --labels:/);
  }
  for (const junk of ['ten', '0', '-10', '2.5', '']) {
    const e = t.throws(() => parseLabelCount(junk), { instanceOf: GanpoolUsageError });
    t.regex(asFlagError(e).message, /^invalid --labels:/);
  }
  t.is(parseLabelCount('all'), 'all');
  t.is(parseLabelCount('100'), 100);
});

test('semiShardInputs: any sharding of a step reads the same rows, latent vectors and noise as the whole batch', (t) => {
  const split = labelled();
  const plan: SemiBatchPlan = { split: splitLabels(split.train.set.labels, split.train.indices, 10, 100, 3), batchSize: 12, latentDim: 5, noiseWidth: 7 };
  for (const phase of ['d', 'g'] as const) {
    for (const step of [0, 9, 700]) {
      const whole = semiShardInputs(plan, 3, step, phase, 0, 12);
      const parts = [[0, 5], [5, 4], [9, 3]].map(([first, count]) => semiShardInputs(plan, 3, step, phase, first, count));
      const cat = <T extends Float32Array | Uint32Array>(pick: (p: typeof whole) => T): number[] => parts.flatMap((p) => [...pick(p)]);
      t.deepEqual(cat((p) => p.labelledRows), [...whole.labelledRows]);
      t.deepEqual(cat((p) => p.unlabelledRows), [...whole.unlabelledRows]);
      t.deepEqual(cat((p) => p.z), [...whole.z]);
      for (const k of ['labelled', 'unlabelled', 'fake'] as const) t.deepEqual(cat((p) => p.noise[k]), [...whole.noise[k]]);
    }
  }
  // Epochs over the labelled rows: 100 labelled rows, batch 12 → every row once per 100 draws.
  const seen = new Map<number, number>();
  for (let step = 0; step < 25; step++) for (const r of semiShardInputs(plan, 3, step, 'd', 0, 12).labelledRows) seen.set(r, (seen.get(r) ?? 0) + 1);
  t.is(seen.size, 100);
  t.true([...seen.values()].every((n) => n === 3), 'batches 0..24 cover exactly 3 epochs');
  const d = semiShardInputs(plan, 3, 4, 'd', 0, 12), g = semiShardInputs(plan, 3, 4, 'g', 0, 12);
  t.deepEqual(g.unlabelledRows, d.unlabelledRows, 'the G phase reads the D phase\'s unlabelled rows');
  t.deepEqual(g.z, d.z, '… and latent vectors');
  t.notDeepEqual(g.noise.fake, d.noise.fake, 'with fresh noise');
  t.is(g.labelledRows.length, 0);
});

test('the semi config refuses a missing pairing, GAN-only fields and a batch that is not whole batch-norm groups', (t) => {
  t.throws(() => resolveSemiConfig({ semiSupervised: true }), { instanceOf: GanpoolUsageError, message: /needs labels/ });
  t.throws(() => resolveSemiConfig({ labels: 100 }), { instanceOf: GanpoolUsageError, message: /only applies with semiSupervised/ });
  t.throws(() => resolveSemiConfig({ semiSupervised: true, labels: 100, loss: 'hinge' }), { instanceOf: GanpoolUsageError, message: /invalid loss/ });
  const e = t.throws(() => resolveSemiConfig({ semiSupervised: true, labels: 100, batchSize: 64 }), { instanceOf: GanpoolUsageError });
  t.regex(asFlagError(e).message, /^invalid --batch-size: 64; .*multiple of 50/);
  const { config } = parseTrainArgs(['--semi-supervised', '--labels', 'all']);
  t.deepEqual(config, { semiSupervised: true, labels: 'all' });
  t.throws(() => planRun({ semiSupervised: true, labels: 100 }), { instanceOf: GanpoolUsageError, message: /call trainSemi\(\)/ }, 'train() refuses a semi-supervised config');
});

test('the CLI exits 2 naming the flag: --labels 5, --labels 15, an unlabelled data set, a bad --unlabelled', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ganpool-semi-cli-'));
  const run = (...args: string[]): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', ...args, '--out', join(dir, 'out')], { encoding: 'utf8' });
  const a = run('--semi-supervised', '--labels', '5');
  t.is(a.status, 2);
  t.regex(String(a.stderr), /invalid --labels: 5 is fewer than/);
  const b = run('--semi-supervised', '--labels', '15');
  t.is(b.status, 2);
  t.regex(String(b.stderr), /invalid --labels: 15 is not a multiple/);
  const c = run('--semi-supervised');
  t.is(c.status, 2);
  t.regex(String(c.stderr), /invalid --semi-supervised: it needs labels/);
  // An IDX file without its labels beside it.
  const idx = join(dir, 'images-idx3-ubyte');
  const header = Buffer.from([0, 0, 8, 3, 0, 0, 0, 20, 0, 0, 0, 28, 0, 0, 0, 28]);
  writeFileSync(idx, Buffer.concat([header, Buffer.alloc(20 * 28 * 28)]));
  const d = run('--semi-supervised', '--labels', '100', '--dataset', `idx:${idx}`);
  t.is(d.status, 2);
  t.regex(String(d.stderr), /invalid --semi-supervised: dataset .* has no class labels/);
  for (const [args, re] of [
    [['--semi-supervised', '--labels', '100', '--unlabelled', '0'], /invalid --unlabelled: 0; expected a positive integer/],
    [['--semi-supervised', '--labels', '100', '--unlabelled', '2.5'], /invalid --unlabelled: 2.5; expected a positive integer/],
    [['--semi-supervised', '--labels', '100', '--unlabelled', '8000'], /invalid --unlabelled: 8000, but only 7900 training images are unlabelled/],
    [['--semi-supervised', '--labels', 'all', '--unlabelled', '10'], /invalid --unlabelled: --labels all leaves no unlabelled images/],
    [['--unlabelled', '10'], /invalid --unlabelled: it only applies with semiSupervised/],
  ] as const) {
    const r = run(...args);
    t.is(r.status, 2, args.join(' '));
    t.regex(String(r.stderr), re);
  }
  t.false(existsSync(join(dir, 'out', 'metrics.jsonl')));
});

/** A trainer on the embedded MNIST with 100 labels (the recipe's model), `workers` threads. */
async function mnistTrainer(workers: number, seed: number, labels: number | 'all' = 100): Promise<{ trainer: SemiTrainer; spec: SemiSpec; split: ReturnType<typeof labelled> }> {
  const split = labelled();
  const spec = semiSpec([28, 28, 1], 10);
  const trainer = await SemiTrainer.start(spec, splitLabels(split.train.set.labels, split.train.indices, 10, labels, seed), split.train, split.test,
    { backend: 'onnx', workers, batchSize: 100, seed, adam: { lr: 0.003, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 } });
  return { trainer, spec, split };
}

function paramsOf(t: SemiTrainer): { d: Float32Array; g: Float32Array } {
  return { d: t.dParams(), g: paramsView(t.g).slice() };
}

test.serial('results do not depend on the worker count: 1 and 2 workers give the same D and G after 3 steps; another seed does not', async (t) => {
  const runs: { d: Float32Array; g: Float32Array; losses: number[] }[] = [];
  for (const [workers, seed] of [[1, 5], [2, 5], [2, 6]]) {
    const { trainer } = await mnistTrainer(workers, seed);
    const losses: number[] = [];
    try {
      for (let i = 0; i < 3; i++) { const s = await trainer.step(); losses.push(s.dLoss, s.gLoss); }
      runs.push({ ...paramsOf(trainer), losses });
    } finally {
      await trainer.close();
    }
  }
  const tol = { rel: 1e-4, abs: 1e-6 };
  assertTensorsClose(t, 'D, 1 vs 2 workers', runs[1].d, runs[0].d, [{ name: 'D', size: runs[0].d.length }], tol);
  assertTensorsClose(t, 'G, 1 vs 2 workers', runs[1].g, runs[0].g, [{ name: 'G', size: runs[0].g.length }], tol);
  assertTensorsClose(t, 'losses, 1 vs 2 workers', runs[1].losses, runs[0].losses, [{ name: 'losses', size: 6 }], tol);
  t.true(runs[0].losses.every((l) => l > 0));
  t.true(runs[2].d.some((v, i) => Math.abs(v - runs[1].d[i]) > 1e-3), 'seed 6 trains another D');
});

test.serial('classifier.onnx and the TensorFlow.js classifier give the engine\'s inference logits; classifier eval scores the file as the trainer scores D', async (t) => {
  const { trainer, spec, split } = await mnistTrainer(2, 7);
  const out = mkdtempSync(join(tmpdir(), 'ganpool-semi-export-'));
  try {
    for (let i = 0; i < 20; i++) await trainer.step();
    const d = trainer.dParams();
    const { writeSemiClassifier } = await import('../src/eval/semi-export.js');
    await writeSemiClassifier(out, spec, d, { dataset: 'mnist', labels: 100, seed: 7, step: 20, heldOutAccuracy: 0, split: split.description });
    const n = 64;
    const set = split.test.set, P = 784;
    const x = new Float32Array(n * P);
    for (let r = 0; r < n; r++) for (let i = 0; i < P; i++) x[r * P + i] = set.images[split.test.indices[r] * P + i] / 127.5 - 1;
    const engine = await createOnnxSemiEngine(spec, false);
    engine.setParams('d', d);
    const want = await engine.logits(x, n);
    const session = await ort.InferenceSession.create(readFileSync(join(out, 'classifier.onnx')));
    t.deepEqual(session.inputNames, ['images']);
    t.deepEqual(session.outputNames, ['logits']);
    const res = await session.run({ images: new ort.Tensor('float32', x, [n, 28, 28, 1]) });
    t.deepEqual(res.logits.dims, [n, 10]);
    const tol = { rel: 1e-4, abs: 1e-5 };
    assertTensorsClose(t, 'classifier.onnx logits', res.logits.data as Float32Array, want, [{ name: 'logits', size: n * 10 }], tol);
    const tf = await initBackend('cpu');
    const model = await loadLayersModel(join(out, 'classifier'));
    const tfOut = tf.tidy(() => (model.predict(tf.tensor4d(x, [n, 28, 28, 1])) as import('@tensorflow/tfjs-core').Tensor).dataSync());
    model.dispose();
    assertTensorsClose(t, 'TensorFlow.js classifier logits', tfOut, want, [{ name: 'logits', size: n * 10 }], tol);
    const folded = foldSemiClassifier(spec, d);
    t.is(folded.net.layers.length, spec.d.length + 1);
    const fromFile = await evaluateClassifierOnnx(join(out, 'classifier.onnx'), split.test, 10);
    const fromTrainer = await trainer.accuracy();
    t.is(fromFile.count, 2000);
    t.true(Math.abs(fromFile.accuracy - fromTrainer.accuracy) <= 1 / 2000, `file ${fromFile.accuracy} vs trainer ${fromTrainer.accuracy}`);
    t.true(fromTrainer.accuracy > 0.3, `20 steps on 100 labels learn something (${fromTrainer.accuracy})`);
    const cli = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'classifier', 'eval', '--model', join(out, 'classifier.onnx'), '--dataset', 'mnist'], { encoding: 'utf8' });
    t.is(cli.status, 0, String(cli.stderr));
    t.regex(String(cli.stdout), new RegExp(`accuracy: ${(fromFile.accuracy * 100).toFixed(2)}% on 2000 held-out images`));
    t.is(String(cli.stdout).split('\n').filter((l) => /^class +\d: /.test(l)).length, 10, 'one line per class');
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'classifier', 'eval', '--model', join(out, 'classifier', 'model.json')], { encoding: 'utf8' });
    t.is(bad.status, 2);
    t.regex(String(bad.stderr), /is not a classifier ganpool can score/);
    t.is(fromTrainer.counts.reduce((a, b) => a + b, 0), 2000);
  } finally {
    await trainer.close();
  }
});

test.serial('trainSemi end to end: --labels all trains D alone; the run writes its classifier, metrics with held-out accuracy and a summary', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-semi-run-')), 'run');
  const evals: number[] = [];
  const r = await trainSemi({ semiSupervised: true, labels: 'all', steps: 4, evalEvery: 2, workers: 2, seed: 3, out, backend: 'onnx' }, { onEval: (e) => evals.push(e.step) });
  t.deepEqual(evals, [2, 4]);
  t.is(r.steps, 4);
  t.is(r.baseline, null);
  for (const f of ['classifier.onnx', 'classifier/model.json', 'classifier/weights.bin', 'metrics.jsonl', 'summary.json', 'config.json']) t.true(existsSync(join(out, f)), f);
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  t.is(lines.filter((l) => 'dLoss' in l).length, 4);
  t.true(lines.filter((l) => 'dLoss' in l).every((l) => l.gLoss === 0 && l.unsupervised === 0), 'no G without unlabelled rows');
  t.is(lines.filter((l) => 'heldOutAccuracy' in l).length, 2);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { labelled: number; unlabelled: number; heldOutAccuracy: number };
  t.is(summary.labelled, 8000);
  t.is(summary.unlabelled, 0);
  t.is(summary.heldOutAccuracy, r.accuracy.accuracy);
  await t.throwsAsync(() => trainSemi({ semiSupervised: true, labels: 100, steps: 1, out }), { instanceOf: GanpoolUsageError }, 'a finished run\'s folder is refused');
});

test('fillZigguratNormals draws the same float32 values as zigguratNormal on the closure-based sfc32 stream, tails and wedges included', (t) => {
  for (const key of [1, 7, 0xdeadbeef, 123456789]) {
    const n = 50_000;
    const next = sfc32(key);
    const src = { int32: (): number => (next() * 4294967296) | 0, uniform: (): number => 1 - next() };
    const expected = Float32Array.from({ length: n }, () => zigguratNormal(src));
    const got = new Float32Array(n + 3).fill(Number.NaN);
    fillZigguratNormals(got, 2, n, key);
    t.true(Number.isNaN(got[0]) && Number.isNaN(got[1]) && Number.isNaN(got[n + 2]), 'writes only its range');
    let first = -1;
    for (let i = 0; i < n; i++) if (!Object.is(got[i + 2], expected[i])) { first = i; break; }
    t.is(first, -1, `key ${key}: first difference at draw ${first}`);
    t.true(expected.some((v) => Math.abs(v) > 3.442619855899), 'the tail beyond R was drawn');
  }
});

test('the ziggurat draws standard normals: moments and tail shares match the normal distribution (2,000,000 draws)', (t) => {
  const next = sfc32(hashInts(42, 7));
  const src = { int32: (): number => (next() * 4294967296) | 0, uniform: (): number => 1 - next() };
  const n = 2_000_000;
  let sum = 0, sq = 0, quart = 0;
  const beyond = [0.5, 1, 2, 3, 3.5, 4].map((x) => ({ x, count: 0 }));
  for (let i = 0; i < n; i++) {
    const v = zigguratNormal(src);
    sum += v; sq += v * v; quart += v ** 4;
    for (const b of beyond) if (Math.abs(v) > b.x) b.count++;
  }
  const mean = sum / n, variance = sq / n - mean * mean;
  t.true(Math.abs(mean) < 0.004, `mean ${mean}`);
  t.true(Math.abs(variance - 1) < 0.005, `variance ${variance}`);
  t.true(Math.abs(quart / n - 3) < 0.03, `fourth moment ${quart / n}`);
  // P(|X| > x) = erfc(x/√2), from the complementary error function's continued fraction (float64).
  const erfc = (x: number): number => {
    // Abramowitz & Stegun 7.1.26 is too coarse in the tail; use the series for small x and the continued fraction for large x.
    if (x < 2) { let term = x, s = x; for (let k = 1; k < 60; k++) { term *= -x * x / k; s += term / (2 * k + 1); } return 1 - (2 / Math.sqrt(Math.PI)) * s; }
    let f = 0;
    for (let k = 60; k >= 1; k--) f = (k / 2) / (x + f);
    return Math.exp(-x * x) / Math.sqrt(Math.PI) / (x + f);
  };
  for (const b of beyond) {
    const want = erfc(b.x / Math.SQRT2), got = b.count / n;
    const sd = Math.sqrt((want * (1 - want)) / n);
    t.true(Math.abs(got - want) < 5 * sd + 1e-6, `P(|X| > ${b.x}) = ${got}, normal ${want} (±${sd.toExponential(1)})`);
  }
});
