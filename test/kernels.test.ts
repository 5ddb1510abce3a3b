/**
 * Wasm training kernels (src/engines/tfjs/kernels) against the cpu backend, a
 * second-order gradient check, and leak checks.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from '../src/engines/tfjs/kernels/index.js';

type Arr = Float32Array | Int32Array | Uint8Array;
type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

/** max|a-b| / max(|b|, 1e-6) */
function relErr(a: Arr, b: Arr): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  let mb = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    mb = Math.max(mb, Math.abs(b[i]));
  }
  return m / Math.max(mb, 1e-6);
}

/** Runs f on wasm (new kernels) and on cpu; returns the relative error and shapes. */
async function compare(f: () => tf.Tensor): Promise<{ err: number; shape: number[]; cpuShape: number[] }> {
  await tf.setBackend('cpu');
  const r = tf.tidy(f);
  const ref = r.dataSync().slice();
  const cpuShape = r.shape;
  r.dispose();
  await tf.setBackend('wasm');
  const o = tf.tidy(f);
  const got = o.dataSync().slice();
  const shape = o.shape;
  o.dispose();
  return { err: relErr(got, ref), shape, cpuShape };
}

const rnd = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed);
const TOL = 1e-4;

test.before(async () => {
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  registerWasmTrainingKernels();
  registerWasmTrainingKernels(); // idempotent
  await tf.setBackend('wasm');
});

const convCases: { x: number[]; f: number[]; s: number | [number, number]; p: Pad }[] = [
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], s: 2, p: 'same' },
  { x: [2, 8, 8, 3], f: [4, 4, 3, 5], s: 2, p: 'same' },
  { x: [1, 7, 7, 2], f: [3, 3, 2, 2], s: 1, p: 'valid' },
  { x: [1, 7, 6, 2], f: [3, 2, 2, 3], s: 1, p: 'same' },
  { x: [2, 10, 9, 3], f: [4, 3, 3, 2], s: 2, p: 'valid' },
  { x: [3, 7, 7, 1], f: [4, 4, 1, 6], s: 2, p: 'same' },
  { x: [2, 9, 8, 2], f: [3, 3, 2, 3], s: [1, 2], p: [[0, 0], [2, 1], [0, 3], [0, 0]] },
  { x: [2, 7, 7, 2], f: [1, 1, 2, 3], s: 3, p: 'same' },
  { x: [2, 14, 14, 8], f: [4, 4, 8, 16], s: 2, p: 'same' },
  { x: [2, 11, 13, 5], f: [5, 5, 5, 7], s: 3, p: 'same' },
  // >= 8 input channels: the phase-decomposition / batch-as-channels conv paths
  { x: [2, 9, 8, 8], f: [3, 3, 8, 3], s: [1, 2], p: [[0, 0], [2, 1], [0, 3], [0, 0]] },
  { x: [2, 11, 13, 9], f: [5, 5, 9, 4], s: 3, p: 'same' },
  { x: [1, 7, 7, 8], f: [3, 3, 8, 2], s: 1, p: 'valid' },
  { x: [1, 7, 6, 8], f: [3, 2, 8, 3], s: 1, p: 'same' },
  { x: [2, 10, 9, 8], f: [4, 3, 8, 2], s: 2, p: 'valid' },
  { x: [2, 7, 7, 8], f: [1, 1, 8, 3], s: 3, p: 'same' },
  { x: [2, 6, 6, 8], f: [3, 3, 8, 4], s: 2, p: [[0, 0], [4, 0], [0, 5], [0, 0]] },
];

for (const c of convCases) {
  const tag = `x${c.x.join('x')} f${c.f.join('x')} s${JSON.stringify(c.s)} ${JSON.stringify(c.p)}`;
  const x = () => rnd(c.x, 1) as tf.Tensor4D;
  const w = () => rnd(c.f, 2) as tf.Tensor4D;
  test.serial(`Conv2DBackpropFilter ${tag}`, async (t) => {
    const ys = tf.tidy(() => tf.conv2d(x(), w(), c.s, c.p).shape);
    const { err, shape, cpuShape } = await compare(() =>
      tf.grad((f: tf.Tensor) => tf.conv2d(x(), f as tf.Tensor4D, c.s, c.p).mul(rnd(ys, 3)).sum())(w()));
    t.deepEqual(shape, cpuShape);
    t.log(`rel err ${err.toExponential(2)}`);
    t.true(err <= TOL, `rel err ${err}`);
  });
  test.serial(`Conv2DBackpropInput ${tag}`, async (t) => {
    const ys = tf.tidy(() => tf.conv2d(x(), w(), c.s, c.p).shape);
    const { err, shape, cpuShape } = await compare(() =>
      tf.grad((xx: tf.Tensor) => tf.conv2d(xx as tf.Tensor4D, w(), c.s, c.p).mul(rnd(ys, 3)).sum())(x()));
    t.deepEqual(shape, cpuShape);
    t.log(`rel err ${err.toExponential(2)}`);
    t.true(err <= TOL, `rel err ${err}`);
  });
}

test.serial('conv2dTranspose (Conv2DBackpropInput) DCGAN shapes and odd output sizes', async (t) => {
  const cases: [number[], number[], number[], number, 'same' | 'valid'][] = [
    [[2, 7, 7, 16], [4, 4, 8, 16], [2, 14, 14, 8], 2, 'same'],
    [[2, 14, 14, 8], [4, 4, 1, 8], [2, 28, 28, 1], 2, 'same'],
    [[2, 4, 4, 3], [3, 3, 2, 3], [2, 9, 9, 2], 2, 'valid'],
    [[2, 4, 5, 3], [3, 3, 2, 3], [2, 7, 9, 2], 2, 'same'],
    [[1, 3, 3, 2], [5, 5, 3, 2], [1, 9, 9, 3], 3, 'same'],
    [[1, 3, 3, 2], [2, 2, 3, 2], [1, 8, 8, 3], 3, 'valid'],
    [[2, 4, 5, 3], [3, 3, 9, 3], [2, 7, 9, 9], 2, 'same'],
    [[1, 3, 3, 2], [5, 5, 8, 2], [1, 9, 9, 8], 3, 'same'],
    [[1, 3, 3, 2], [2, 2, 8, 2], [1, 8, 8, 8], 3, 'valid'],
  ];
  for (const [dyS, fS, outS, s, p] of cases) {
    const { err, shape } = await compare(() =>
      tf.conv2dTranspose(rnd(dyS, 4) as tf.Tensor4D, rnd(fS, 5) as tf.Tensor4D, outS as [number, number, number, number], s, p));
    t.deepEqual(shape, outS);
    t.log(`convT dy${dyS.join('x')} f${fS.join('x')} -> ${outS.join('x')} s${s} ${p}: rel err ${err.toExponential(2)}`);
    t.true(err <= TOL);
  }
});

test.serial('NCHW conv gradients', async (t) => {
  // NCHW conv2d is not supported by the wasm forward kernel, so call the gradient kernels directly.
  const x = [2, 3, 9, 8];
  const f = [3, 3, 3, 4];
  const attrs = { strides: [2, 2], pad: 'same', dataFormat: 'NCHW', dimRoundingMode: 'floor' } as unknown as tf.NamedAttrMap;
  const dyShape = [2, 4, 5, 4];
  for (const name of ['Conv2DBackpropFilter', 'Conv2DBackpropInput'] as const) {
    const { err } = await compare(() => {
      const inputs: tf.NamedTensorMap = name === 'Conv2DBackpropFilter'
        ? { x: rnd(x, 1), dy: rnd(dyShape, 2) }
        : { dy: rnd(dyShape, 2), filter: rnd(f, 3) };
      const a = name === 'Conv2DBackpropFilter' ? { ...attrs, filterShape: f } : { ...attrs, inputShape: x };
      return tf.engine().runKernel<tf.Tensor>(name, inputs, a);
    });
    t.log(`${name} NCHW rel err ${err.toExponential(2)}`);
    t.true(err <= TOL);
  }
});

test.serial('BatchMatMul: all transpose combinations, 2-D, batched and broadcast', async (t) => {
  const shapes: [number, number, number, number, number][] = [
    // [batchA, batchB, M, K, N]
    [1, 1, 5, 7, 3], [1, 1, 64, 100, 33], [1, 1, 17, 1, 9], [1, 1, 1, 31, 1],
    [3, 3, 5, 7, 3], [4, 1, 6, 9, 5], [1, 3, 6, 9, 5], [2, 2, 33, 17, 20],
  ];
  for (const [bA, bB, M, K, N] of shapes) {
    for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const aS = [...(bA > 1 || bB > 1 ? [bA] : []), ...(tA ? [K, M] : [M, K])];
      const bS = [...(bA > 1 || bB > 1 ? [bB] : []), ...(tB ? [N, K] : [K, N])];
      const { err, shape, cpuShape } = await compare(() => tf.matMul(rnd(aS, 1), rnd(bS, 2), tA, tB));
      t.deepEqual(shape, cpuShape);
      t.true(err <= TOL, `${aS.join()}·${bS.join()} ${tA} ${tB}: rel err ${err}`);
      if (tA && tB) t.log(`${aS.join()}·${bS.join()} TT rel err ${err.toExponential(2)}`);
    }
  }
});

test.serial('_FusedMatMul: bias + activations, all transpose combinations, batched', async (t) => {
  const acts = ['relu', 'linear', 'relu6', 'leakyrelu', 'prelu', 'elu', 'sigmoid'] as const;
  let worst = 0;
  for (const batch of [0, 3]) {
    for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      for (const activation of acts) {
        const M = 13, K = 21, N = 11;
        const pre = batch ? [batch] : [];
        const { err, shape, cpuShape } = await compare(() => tf.fused.matMul({
          a: rnd([...pre, ...(tA ? [K, M] : [M, K])], 1),
          b: rnd([...pre, ...(tB ? [N, K] : [K, N])], 2),
          transposeA: tA, transposeB: tB, bias: rnd([N], 3), activation,
          ...(activation === 'prelu' ? { preluActivationWeights: rnd([N], 4) } : {}),
          ...(activation === 'leakyrelu' ? { leakyreluAlpha: 0.3 } : {}),
        }));
        t.deepEqual(shape, cpuShape);
        t.true(err <= TOL, `batch ${batch} ${tA} ${tB} ${activation}: ${err}`);
        worst = Math.max(worst, err);
      }
    }
  }
  t.log(`worst rel err ${worst.toExponential(2)}`);
});

test.serial('Dense layer forward/backward with the new kernels matches cpu', async (t) => {
  const { err } = await compare(() => {
    const x = rnd([16, 20], 1);
    const w = rnd([20, 12], 2);
    const b = rnd([12], 3);
    const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor) =>
      tf.fused.matMul({ a: xx, b: ww, bias: b, activation: 'relu' }).square().sum());
    const [dx, dw] = g([x, w]);
    return tf.concat([dx.flatten(), dw.flatten()]);
  });
  t.log(`rel err ${err.toExponential(2)}`);
  t.true(err <= TOL);
});

test.serial('UnsortedSegmentSum and gather gradient', async (t) => {
  const cases: [number[], number[], number][] = [
    [[6, 4], [0, 2, 2, 1, 4, 0], 5],
    [[6], [3, 3, 3, 0, 1, 2], 4],
    [[5, 2, 3], [1, -1, 7, 1, 0], 3], // out-of-range ids are dropped
    [[6, 2, 3], [2, 1, 1, 0, 2, 2], 3],
    [[100, 16], Array.from({ length: 100 }, (_, i) => (i * 7) % 13), 13],
    [[8, 3], [1, 1, 1, 1, 1, 1, 1, 1], 2],
  ];
  for (const [xs, ids, n] of cases) {
    const { err, shape, cpuShape } = await compare(() =>
      tf.unsortedSegmentSum(rnd(xs, 1), tf.tensor1d(ids, 'int32'), n));
    t.deepEqual(shape, cpuShape);
    t.true(err <= TOL, `${xs.join()} ${ids.join()}: ${err}`);
  }
  const { err } = await compare(() =>
    tf.grad((e: tf.Tensor) => tf.gather(e, tf.tensor1d([1, 3, 1, 0, 9, 1], 'int32')).square().sum())(rnd([10, 4], 2)));
  t.log(`gather grad rel err ${err.toExponential(2)}`);
  t.true(err <= TOL);
});

test.serial('second order: grad of ||∂L/∂x||² w.r.t. weights of a LeakyReLU MLP (WGAN-GP style)', async (t) => {
  // f(x) = W2 · leaky(W1 x + b1); penalty = sum(||∂f/∂x||²) over the batch.
  const X = [[0.3, -0.7, 0.2], [-0.5, 0.4, 0.9], [0.8, 0.1, -0.6], [-0.2, -0.9, 0.4]];
  const W1 = [[0.5, -0.3, 0.8, 0.1], [-0.6, 0.4, 0.2, -0.7], [0.3, 0.9, -0.4, 0.6]];
  const b1 = [0.05, -0.1, 0.2, -0.02];
  const W2 = [[0.7], [-0.5], [0.3], [0.9]];
  const alpha = 0.2;
  const penaltyTf = (w1: tf.Tensor, w2: tf.Tensor) => {
    const x = tf.tensor2d(X);
    const gradX = tf.grad((xx: tf.Tensor) => {
      const h = tf.leakyRelu(tf.add(tf.matMul(xx as tf.Tensor2D, w1 as tf.Tensor2D), tf.tensor1d(b1)), alpha);
      return tf.matMul(h as tf.Tensor2D, w2 as tf.Tensor2D).sum();
    })(x);
    return gradX.square().sum();
  };
  const run = () => tf.tidy(() => {
    const [g1, g2] = tf.grads(penaltyTf)([tf.tensor2d(W1), tf.tensor2d(W2)]);
    return tf.concat([g1.flatten(), g2.flatten()]);
  });
  await tf.setBackend('wasm');
  const got = run();
  const wasmVals = got.dataSync().slice();
  got.dispose();
  // Float64 reference: penalty(W1, W2) in plain JS, central finite differences.
  const penalty64 = (w1: number[][], w2: number[][]) => {
    let p = 0;
    for (const x of X) {
      const dx = [0, 0, 0];
      for (let j = 0; j < 4; j++) {
        let z = b1[j];
        for (let i = 0; i < 3; i++) z += x[i] * w1[i][j];
        const slope = z > 0 ? 1 : alpha;
        for (let i = 0; i < 3; i++) dx[i] += w2[j][0] * slope * w1[i][j];
      }
      p += dx.reduce((s, v) => s + v * v, 0);
    }
    return p;
  };
  const fd: number[] = [];
  const h = 1e-6;
  const clone = (m: number[][]) => m.map((r) => [...r]);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) {
    const p = clone(W1); const m = clone(W1);
    p[i][j] += h; m[i][j] -= h;
    fd.push((penalty64(p, W2) - penalty64(m, W2)) / (2 * h));
  }
  for (let j = 0; j < 4; j++) {
    const p = clone(W2); const m = clone(W2);
    p[j][0] += h; m[j][0] -= h;
    fd.push((penalty64(W1, p) - penalty64(W1, m)) / (2 * h));
  }
  const err = relErr(wasmVals, Float32Array.from(fd));
  t.log(`second-order rel err vs float64 finite differences: ${err.toExponential(2)}`);
  t.true(err <= 1e-4, `rel err ${err}`);
  // And against the cpu backend.
  await tf.setBackend('cpu');
  const ref = run();
  const cpuErr = relErr(wasmVals, ref.dataSync());
  ref.dispose();
  await tf.setBackend('wasm');
  t.log(`second-order rel err vs cpu: ${cpuErr.toExponential(2)}`);
  t.true(cpuErr <= 1e-4);
});

test.serial('no leaks: tensors, bytes and wasm heap flat over 20 calls of every kernel', async (t) => {
  await tf.setBackend('wasm');
  const be = tf.backend() as unknown as { numDataIds(): number; wasm: { HEAPU8: Uint8Array } };
  const x = rnd([2, 9, 9, 3], 1) as tf.Tensor4D;
  const w = rnd([3, 3, 3, 4], 2) as tf.Tensor4D;
  const dy = rnd([2, 5, 5, 4], 3) as tf.Tensor4D;
  const a = rnd([3, 13, 7], 4);
  const b = rnd([3, 7, 5], 5);
  const a2 = rnd([7, 13], 6);
  const b2 = rnd([5, 7], 7);
  const bias = rnd([5], 8);
  const seg = rnd([6, 4], 9);
  const ids = tf.tensor1d([0, 2, 2, 1, 4, 0], 'int32');
  const calls: Record<keyof typeof WASM_TRAINING_KERNELS, () => void> = {
    Conv2DBackpropFilter: () => tf.engine().runKernel<tf.Tensor>('Conv2DBackpropFilter', { x, dy }, {
      strides: [2, 2], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: 'floor', filterShape: [3, 3, 3, 4],
    }).dispose(),
    Conv2DBackpropInput: () => {
      tf.conv2dTranspose(dy, w, [2, 9, 9, 3], 2, 'same').dispose();
      tf.conv2dTranspose(dy, w, [2, 9, 9, 3], 2, [[0, 0], [1, 1], [1, 1], [0, 0]] as never).dispose();
    },
    BatchMatMul: () => {
      for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        tf.matMul(tA ? a2 : a2.transpose(), tB ? b2 : b2.transpose(), tA, tB).dispose();
      }
      tf.matMul(a, b).dispose();
      tf.matMul(a, b.transpose([0, 2, 1]), false, true).dispose();
    },
    _FusedMatMul: () => {
      tf.fused.matMul({ a: a2, b: b2, transposeA: true, transposeB: true, bias, activation: 'relu' }).dispose();
      tf.fused.matMul({ a, b, bias, activation: 'sigmoid' }).dispose();
    },
    UnsortedSegmentSum: () => tf.unsortedSegmentSum(seg, ids, 5).dispose(),
  };
  for (const [name, f] of Object.entries(calls)) {
    tf.tidy(f); // warm-up (operator caches, heap growth)
    const m0 = tf.memory();
    const ids0 = be.numDataIds();
    const heap0 = be.wasm.HEAPU8.length;
    for (let i = 0; i < 20; i++) tf.tidy(f);
    const m1 = tf.memory();
    t.is(m1.numTensors, m0.numTensors, `${name} numTensors`);
    t.is(m1.numBytes, m0.numBytes, `${name} numBytes`);
    t.is(be.numDataIds(), ids0, `${name} wasm data ids`);
    t.is(be.wasm.HEAPU8.length, heap0, `${name} wasm heap size`);
  }
  // A full training-style gradient with all kernels involved.
  const step = () => tf.tidy(() => {
    const g = tf.grads((ww: tf.Tensor, aa: tf.Tensor) =>
      tf.conv2d(x, ww as tf.Tensor4D, 2, 'same').sum().add(tf.matMul(aa, b2, true, true).sum()))([w, a2]);
    tf.dispose(g);
  });
  step();
  const n0 = tf.memory().numTensors;
  const d0 = be.numDataIds();
  for (let i = 0; i < 20; i++) step();
  t.is(tf.memory().numTensors, n0);
  t.is(be.numDataIds(), d0);
  tf.dispose([x, w, dy, a, b, a2, b2, bias, seg, ids]);
});

test.serial('DCGAN-style training step runs on wasm (no missing kernels)', async (t) => {
  await tf.setBackend('wasm');
  const G = tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [8], units: 7 * 7 * 8, useBias: false }), tf.layers.batchNormalization(), tf.layers.leakyReLU(),
    tf.layers.reshape({ targetShape: [7, 7, 8] }),
    tf.layers.conv2dTranspose({ filters: 4, kernelSize: 4, strides: 2, padding: 'same', useBias: false }),
    tf.layers.batchNormalization(), tf.layers.leakyReLU(),
    tf.layers.conv2dTranspose({ filters: 1, kernelSize: 4, strides: 2, padding: 'same', activation: 'tanh' })] });
  const D = tf.sequential({ layers: [
    tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 4, strides: 2, padding: 'same' }), tf.layers.leakyReLU(),
    tf.layers.conv2d({ filters: 8, kernelSize: 4, strides: 2, padding: 'same' }), tf.layers.batchNormalization(), tf.layers.leakyReLU(),
    tf.layers.flatten(), tf.layers.dense({ units: 1 })] });
  const opt = tf.train.adam(2e-4, 0.5);
  const z = tf.randomNormal([4, 8]);
  const real = tf.randomUniform([4, 28, 28, 1], -1, 1);
  let n0 = 0;
  for (let step = 0; step < 3; step++) {
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
      const fake = G.apply(z, { training: true }) as tf.Tensor;
      const lr = D.apply(real, { training: true }) as tf.Tensor;
      const lf = D.apply(fake, { training: true }) as tf.Tensor;
      return tf.losses.sigmoidCrossEntropy(tf.onesLike(lr), lr).add<tf.Scalar>(tf.losses.sigmoidCrossEntropy(tf.zerosLike(lf), lf));
    }));
    t.true(Number.isFinite(value.dataSync()[0]));
    t.is(Object.keys(grads).length, G.trainableWeights.length + D.trainableWeights.length);
    opt.applyGradients(grads as unknown as Parameters<typeof opt.applyGradients>[0]);
    tf.dispose(grads);
    value.dispose();
    if (step === 1) n0 = tf.memory().numTensors;
  }
  t.is(tf.memory().numTensors, n0);
  tf.dispose([z, real]);
  G.dispose();
  D.dispose();
});
