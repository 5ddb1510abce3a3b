import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { GraphBuilder, BATCH } from '../src/engines/onnx/graph.js';
import { CROSS_ENTROPY, FAKE, UNLABELLED_REAL, WN_DENSE, FEATURE_MATCHING, type SemiLossTerm } from '../src/engines/onnx/semi-layers.js';
import { createOnnxSemiEngine } from '../src/engines/onnx/semi-engine.js';
import { createTfjsSemiEngine, semiLossTerms } from '../src/engines/tfjs/semi.js';
import { initSemiParams, semiFeatureWidth, semiNoiseWidth, semiParamCount, semiParams, type SemiNet, type SemiSpec } from '../src/models/semi.js';
import type { SemiDInput, SemiGInput } from '../src/engines/semi-engine.js';
import { feed, normal, session, uniform } from './onnx-reference.js';
import { assertTensorsClose, type TensorSlice } from './helpers.js';

// Serial: the tfjs engine selects the cpu backend for the whole thread.

/** A small model of the recipe's shape: 4×4 images, 3 classes, two hidden layers in D, G with a group batch norm (groups of 2 rows). */
const SPEC: SemiSpec = {
  imageShape: [4, 4, 1], classes: 3, latentDim: 5,
  d: [
    { units: 7, trainScale: false, activation: 'relu' },
    { units: 6, trainScale: false, activation: 'relu' },
    { units: 3, trainScale: true, activation: 'linear' },
  ],
  g: [{ units: 8, trainScale: false, batchNorm: true, activation: 'softplus' }, { units: 16, trainScale: true, activation: 'softplus' }],
  gOutputFrom01: true,
  inputNoise: 0.3, hiddenNoise: 0.5, unlabelledWeight: 1, bnGroup: 2,
};
const P = 16, N = 6;

function tensorsOfSemi(spec: SemiSpec, net: SemiNet): TensorSlice[] {
  return semiParams(spec, net).map((p, i) => ({ name: `${net}.${i} ${p.role} [${p.shape.join('×')}]`, size: p.shape.reduce((a, b) => a * b, 1) }));
}

/** Seeded parameters: V near the init's scale, b small, s near 1 (so every gradient is nonzero). */
function params(net: SemiNet, seed: number): Float32Array {
  const out = initSemiParams(SPEC, net, seed, new Float32Array(semiParamCount(SPEC, net)));
  const jitter = uniform(out.length, seed + 7, -0.05, 0.05);
  let offset = 0;
  for (const p of semiParams(SPEC, net)) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (p.role !== 'v') for (let i = offset; i < offset + n; i++) out[i] += jitter[i];
    offset += n;
  }
  return out;
}

function labels(seed: number): Int32Array {
  return Int32Array.from(uniform(N, seed, 0, SPEC.classes), (x) => Math.floor(x));
}

function dInput(seed: number): SemiDInput {
  const W = semiNoiseWidth(SPEC);
  return {
    count: N, labelled: uniform(N * P, seed), labels: labels(seed + 1), unlabelled: uniform(N * P, seed + 2),
    z: uniform(N * SPEC.latentDim, seed + 3, 0, 1),
    noise: { labelled: normal(N * W, seed + 4), unlabelled: normal(N * W, seed + 5), fake: normal(N * W, seed + 6) },
  };
}

function gInput(seed: number, count = N, first = 0): SemiGInput {
  const W = semiNoiseWidth(SPEC);
  const all = dInput(seed);
  return {
    count, unlabelled: all.unlabelled.slice(first * P, (first + count) * P), z: all.z.slice(first * SPEC.latentDim, (first + count) * SPEC.latentDim),
    noise: { unlabelled: all.noise.unlabelled.slice(first * W, (first + count) * W), fake: all.noise.fake.slice(first * W, (first + count) * W) },
  };
}

const TOL = { rel: 1e-4, abs: 1e-6 };

test.serial('weight-normalised dense: forward equals plain JS, backward equals tfjs autograd (trained and fixed scale)', async (t) => {
  await tf.setBackend('cpu');
  const inW = 5, out = 4, rows = 3;
  for (const trainScale of [false, true]) {
    const x = uniform(rows * inW, 1), v = normal(inW * out, 2, 0.3), b = uniform(out, 3), s = uniform(out, 4, 0.5, 1.5), dy = uniform(rows * out, 5);
    const g = new GraphBuilder();
    const [xi, vi, bi, si, dyi] = [g.input('x', [BATCH, inW]), g.input('v', [inW, out]), g.input('b', [out]), trainScale ? g.input('s', [out]) : '', g.input('dy', [BATCH, out])];
    const { y, saved } = WN_DENSE.forward(g, xi, trainScale ? [vi, bi, si] : [vi, bi]);
    const { dx, grads } = WN_DENSE.backward(g, dyi, saved, trainScale, { dx: true, params: true });
    g.output('y', y);
    g.output('dx', dx!);
    grads.forEach((gr, i) => g.output(`g${i}`, gr));
    const sess = await session(g.toModel());
    const feeds: Record<string, ReturnType<typeof feed>> = { x: feed(x, [rows, inW]), v: feed(v, [inW, out]), b: feed(b, [out]), dy: feed(dy, [rows, out]) };
    if (trainScale) feeds.s = feed(s, [out]);
    const res = await sess.run(feeds);
    // Plain JS forward (float64).
    const want = new Float64Array(rows * out);
    for (let j = 0; j < out; j++) {
      let sq = 0;
      for (let i = 0; i < inW; i++) sq += v[i * out + j] ** 2;
      const scale = (trainScale ? s[j] : 1) / Math.sqrt(sq);
      for (let r = 0; r < rows; r++) {
        let acc = b[j];
        for (let i = 0; i < inW; i++) acc += x[r * inW + i] * v[i * out + j] * scale;
        want[r * out + j] = acc;
      }
    }
    assertTensorsClose(t, `forward (trainScale ${trainScale})`, res.y.data as Float32Array, want, [{ name: 'y', size: rows * out }], TOL);
    // tfjs autograd of Σ y·dy.
    const vars = [tf.tensor2d(x, [rows, inW]), tf.tensor2d(v, [inW, out]), tf.tensor1d(b), tf.tensor1d(s)];
    const f = (xx: tf.Tensor, vv: tf.Tensor, bb: tf.Tensor, ss: tf.Tensor): tf.Scalar => {
      const w = tf.div(vv, tf.sqrt(tf.sum(tf.square(vv), 0, true)));
      return tf.sum(tf.mul(tf.add(tf.matMul(xx, trainScale ? tf.mul(w, ss) : w), bb), tf.tensor2d(dy, [rows, out])));
    };
    const ref = trainScale ? tf.grads(f)(vars) : tf.grads((xx: tf.Tensor, vv: tf.Tensor, bb: tf.Tensor) => f(xx, vv, bb, vars[3]))(vars.slice(0, 3));
    const got = [res.dx.data, ...grads.map((_, i) => res[`g${i}`].data)] as Float32Array[];
    const names = ['dx', 'dV', 'db', ...(trainScale ? ['ds'] : [])];
    names.forEach((name, i) => {
      assertTensorsClose(t, `${name} (trainScale ${trainScale})`, got[i], ref[i].dataSync(), [{ name, size: got[i].length }], TOL);
    });
  }
});

/** Plain-JS (float64) value of each loss term per row, and its derivative in the logits, from the formulas in src/models/semi.ts. */
function plainLoss(term: 'ce' | 'unl' | 'fake', logits: Float32Array, K: number, y: Int32Array): { value: number; grad: Float64Array } {
  const rows = logits.length / K;
  const grad = new Float64Array(logits.length);
  let value = 0;
  const softplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
  const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
  for (let r = 0; r < rows; r++) {
    const l = Array.from(logits.subarray(r * K, (r + 1) * K));
    const m = Math.max(...l);
    const lse = m + Math.log(l.reduce((a, v) => a + Math.exp(v - m), 0));
    const soft = l.map((v) => Math.exp(v - lse));
    if (term === 'ce') {
      value += (lse - l[y[r]]) / rows;
      soft.forEach((p, k) => { grad[r * K + k] = (p - (k === y[r] ? 1 : 0)) / rows; });
    } else if (term === 'unl') {
      value += (softplus(lse) - lse) / rows;
      soft.forEach((p, k) => { grad[r * K + k] = ((sigmoid(lse) - 1) * p) / rows; });
    } else {
      value += softplus(lse) / rows;
      soft.forEach((p, k) => { grad[r * K + k] = (sigmoid(lse) * p) / rows; });
    }
  }
  return { value, grad };
}

test.serial('loss terms: values equal plain JS, gradients equal plain JS and tfjs autograd (logits up to ±30)', async (t) => {
  await tf.setBackend('cpu');
  const K = 4, rows = 5;
  const logits = uniform(rows * K, 11, -30, 30);
  const y = Int32Array.from(uniform(rows, 12, 0, K), Math.floor);
  const onehot = new Float32Array(rows * K);
  y.forEach((c, r) => { onehot[r * K + c] = 1; });
  const terms: [string, 'ce' | 'unl' | 'fake', SemiLossTerm, (l: tf.Tensor) => tf.Scalar][] = [
    ['cross-entropy', 'ce', CROSS_ENTROPY, (l) => semiLossTerms.crossEntropy(tf, l, tf.tensor2d(onehot, [rows, K]))],
    ['unlabelled real', 'unl', UNLABELLED_REAL, (l) => semiLossTerms.unlabelledReal(tf, l)],
    ['fake', 'fake', FAKE, (l) => semiLossTerms.fake(tf, l)],
  ];
  for (const [name, kind, term, tfTerm] of terms) {
    const g = new GraphBuilder();
    const li = g.input('l', [BATCH, K]), yi = g.input('y', [BATCH, K]);
    g.output('value', term.forward(g, li, yi), []);
    g.output('grad', term.backward(g, li, yi));
    const res = await (await session(g.toModel())).run({ l: feed(logits, [rows, K]), y: feed(onehot, [rows, K]) });
    const plain = plainLoss(kind, logits, K, y);
    assertTensorsClose(t, `${name} value`, res.value.data as Float32Array, [plain.value], [{ name: 'value', size: 1 }], TOL);
    assertTensorsClose(t, `${name} gradient vs plain JS`, res.grad.data as Float32Array, plain.grad, [{ name: 'grad', size: rows * K }], TOL);
    const auto = tf.grad(tfTerm)(tf.tensor2d(logits, [rows, K])).dataSync();
    assertTensorsClose(t, `${name} gradient vs tfjs`, res.grad.data as Float32Array, auto, [{ name: 'grad', size: rows * K }], TOL);
  }
});

test.serial('feature matching: ⟨δ, mean f⟩ and its gradient δ/N equal plain JS', async (t) => {
  const F = 4, rows = 3;
  const feats = uniform(rows * F, 21), delta = uniform(F, 22);
  const g = new GraphBuilder();
  const fi = g.input('f', [BATCH, F]), di = g.input('d', [F]);
  g.output('value', FEATURE_MATCHING.forward(g, fi, di), []);
  g.output('grad', FEATURE_MATCHING.backward(g, fi, di));
  const res = await (await session(g.toModel())).run({ f: feed(feats, [rows, F]), d: feed(delta, [F]) });
  let value = 0;
  for (let j = 0; j < F; j++) for (let r = 0; r < rows; r++) value += (delta[j] * feats[r * F + j]) / rows;
  const grad = Float64Array.from({ length: rows * F }, (_, i) => delta[i % F] / rows);
  assertTensorsClose(t, 'value', res.value.data as Float32Array, [value], [{ name: 'value', size: 1 }], TOL);
  assertTensorsClose(t, 'gradient', res.grad.data as Float32Array, grad, [{ name: 'grad', size: rows * F }], TOL);
});

test.serial('onnx semi engine equals the tfjs engine (autograd): D phase, features, G phase, logits', async (t) => {
  const onnx = await createOnnxSemiEngine(SPEC, true);
  const tfjs = await createTfjsSemiEngine('cpu', SPEC, true);
  const d = params('d', 1), g = params('g', 2);
  for (const e of [onnx, tfjs]) { e.setParams('d', d); e.setParams('g', g); }
  const input = dInput(3);
  const gradO = new Float32Array(d.length), gradT = new Float32Array(d.length);
  const outO = await onnx.dPhase(input, gradO), outT = await tfjs.dPhase(input, gradT);
  assertTensorsClose(t, 'D losses', [outO.loss, outO.supervised, outO.unsupervised], [outT.loss, outT.supervised, outT.unsupervised],
    [{ name: 'loss', size: 1 }, { name: 'supervised', size: 1 }, { name: 'unsupervised', size: 1 }], TOL);
  t.true(outO.unsupervised > 0 && outO.supervised > 0);
  assertTensorsClose(t, 'D gradient', gradO, gradT, tensorsOfSemi(SPEC, 'd'), TOL);
  const gin = gInput(4);
  const fO = await onnx.features(gin), fT = await tfjs.features(gin);
  const F = semiFeatureWidth(SPEC);
  assertTensorsClose(t, 'feature sums', [...fO.real, ...fO.fake], [...fT.real, ...fT.fake], [{ name: 'real', size: F }, { name: 'fake', size: F }], TOL);
  const delta = uniform(F, 5);
  const ggO = new Float32Array(g.length), ggT = new Float32Array(g.length);
  const lO = await onnx.gPhase(gin, delta, ggO), lT = await tfjs.gPhase(gin, delta, ggT);
  assertTensorsClose(t, 'G loss', [lO], [lT], [{ name: 'loss', size: 1 }], TOL);
  assertTensorsClose(t, 'G gradient', ggO, ggT, tensorsOfSemi(SPEC, 'g'), TOL);
  const images = uniform(N * P, 6);
  assertTensorsClose(t, 'logits', await onnx.logits(images, N), await tfjs.logits(images, N), [{ name: 'logits', size: N * SPEC.classes }], TOL);
});

test.serial('G gradient from per-shard δ equals tfjs autograd of the whole batch\'s feature-matching loss', async (t) => {
  await tf.setBackend('cpu');
  const onnx = await createOnnxSemiEngine(SPEC, true);
  const d = params('d', 1), g = params('g', 2);
  onnx.setParams('d', d); onnx.setParams('g', g);
  const F = semiFeatureWidth(SPEC);
  // Two uneven shards of whole batch-norm groups, as the trainer does: feature sums, δ from the batch means, weighted gradients.
  const shards = [{ first: 0, count: 4 }, { first: 4, count: 2 }];
  const stats = await Promise.all(shards.map((s) => onnx.features(gInput(4, s.count, s.first))));
  const delta = new Float32Array(F);
  for (let j = 0; j < F; j++) delta[j] = (2 * ((stats[0].fake[j] + stats[1].fake[j]) - (stats[0].real[j] + stats[1].real[j])) / N) / F;
  const total = new Float32Array(g.length);
  for (const s of shards) {
    const grad = new Float32Array(g.length);
    await onnx.gPhase(gInput(4, s.count, s.first), delta, grad);
    for (let i = 0; i < g.length; i++) total[i] += (s.count / N) * grad[i];
  }
  // Reference: tfjs autograd of mean_j (m_fake − m_real)_j² over the whole batch.
  const { semiDForward, semiGForward } = await import('../src/engines/tfjs/semi.js');
  const full = gInput(4);
  const W = semiNoiseWidth(SPEC);
  const split = (flat: Float32Array, net: SemiNet): tf.Tensor[] => {
    let o = 0;
    return semiParams(SPEC, net).map((p) => { const n = p.shape.reduce((a, b) => a * b, 1); const v = tf.tensor(flat.subarray(o, o + n), p.shape); o += n; return v; });
  };
  const dT = split(d, 'd'), gT = split(g, 'g');
  const real = semiDForward(tf, SPEC, dT, tf.tensor2d(full.unlabelled, [N, P]), tf.tensor2d(full.noise.unlabelled, [N, W])).features;
  const loss = (...gp: tf.Tensor[]): tf.Scalar => {
    const fake = semiGForward(tf, SPEC, gp, tf.tensor2d(full.z, [N, SPEC.latentDim]));
    const ff = semiDForward(tf, SPEC, dT, fake, tf.tensor2d(full.noise.fake, [N, W])).features;
    return tf.mean(tf.square(tf.sub(tf.mean(ff, 0), tf.mean(real, 0))));
  };
  const ref = tf.grads(loss)(gT);
  const want = new Float32Array(g.length);
  let o = 0;
  for (const r of ref) { want.set(r.dataSync(), o); o += r.size; }
  assertTensorsClose(t, 'G gradient', total, want, tensorsOfSemi(SPEC, 'g'), TOL);
});
