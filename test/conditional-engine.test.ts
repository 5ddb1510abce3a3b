/**
 * Conditional presets in the engines: D's projection layer and the labels of
 * each pass. A plain-JS model of the projection layer checks the engines'
 * losses and projection gradients (and that a row's label moves exactly that
 * row's logit); the onnx and wasm engines are compared with cpu's on
 * conditional presets with and without batch norm.
 */
import test from 'ava';
import { GraphBuilder, BATCH } from '../src/engines/onnx/graph.js';
import { backwardNet, forwardNet, fromTf } from '../src/engines/onnx/layers.js';
import { opsForward } from '../src/engines/tfjs/ops-forward.js';
import { createEngine } from '../src/engines/index.js';
import type { Engine, PhaseInput } from '../src/engines/engine.js';
import { modelPreset, paramShapes, sizeOf, type ModelName, type ModelPreset, type NetSpec } from '../src/models/presets.js';
import type { BackendName } from '../src/engines/backend.js';
import { oneHotRows } from '../src/engines/one-hot.js';
import { assertTensorsClose, maxAbsDiff, tensorsOf, worstTensors, type TensorTol } from './helpers.js';
import { feed, normal, seededParams, session, tf, uniform, useFastConv2DBackpropFilter } from './onnx-reference.js';

const CLASSES = 10;
const TOL = 1e-5;
/** Gradients, per tensor: max |Δ| ≤ rel·(that tensor's max |grad|) + abs. */
const GRAD_TOL: TensorTol = { rel: 1e-4, abs: 1e-7 };

/** G's input rows: seeded latent noise, then each row's one-hot label. */
function gInput(preset: ModelPreset, labels: Int32Array, seed: number): Float32Array {
  const n = labels.length, latent = preset.latentDim, width = latent + preset.classes;
  const noise = normal(n * latent, seed), hot = oneHotRows(labels, preset.classes);
  const z = new Float32Array(n * width);
  for (let i = 0; i < n; i++) {
    z.set(noise.subarray(i * latent, (i + 1) * latent), i * width);
    z.set(hot.subarray(i * preset.classes, (i + 1) * preset.classes), i * width + latent);
  }
  return z;
}

interface Case { preset: ModelPreset; g: Float32Array; d: Float32Array; inputs: PhaseInput[] }
interface PhaseResult { loss: number; grad: Float32Array; bn: Float32Array[] }

const paramCount = (net: NetSpec): number => paramShapes(net).reduce((n, p) => n + sizeOf(p.shape), 0);

/**
 * Runs every input of `c` on a fresh engine of `backend`, then samples G (no
 * batch norm) for the inputs at `sampled`. One engine at a time: tfjs has one
 * active backend and one set of variable names per thread.
 */
async function runCase(backend: BackendName, c: Case, sampled: number[] = []): Promise<{ phases: PhaseResult[]; samples: Float32Array[]; leaked: number }> {
  const engine: Engine = await createEngine(backend, c.preset, { loss: 'ns' });
  engine.setParams('g', c.g);
  engine.setParams('d', c.d);
  const live = engine.liveObjects();
  const phases: PhaseResult[] = [];
  const samples: Float32Array[] = [];
  for (const input of c.inputs) {
    const grad = new Float32Array(paramCount(input.phase === 'd' ? c.preset.discriminator : c.preset.generator));
    const { loss, bnStats } = await engine.phase(input, grad);
    phases.push({ loss, grad, bn: bnStats.map((s) => Float32Array.from(s.values)) });
  }
  const leaked = engine.liveObjects() - live;
  for (const i of sampled) samples.push(Float32Array.from(await engine.sample(c.inputs[i].z, c.inputs[i].count, new Float32Array(0))));
  if (backend !== 'onnx') tf.disposeVariables();
  return { phases, samples, leaked };
}

// ---------------------------------------------------------------------------
// The projection layer against a plain-JS model, through whole engines.
// ---------------------------------------------------------------------------

/**
 * probe-mlp's D (flatten, dense 256, lrelu, dense 256, lrelu, projection)
 * with its hidden layers set to pass pixels through: the first dense picks
 * the first 256 pixels, the second is the identity, both biases 0. Then
 * φ = lrelu(lrelu(the first 256 pixels)) is known in plain JS, and so is
 * every logit φ·w + b + ⟨E_y, φ⟩.
 */
const F = 256, PIXELS = 784, ALPHA = 0.2;

function passThroughD(preset: ModelPreset, seed: number): { d: Float32Array; w: Float32Array; b: number; e: Float32Array } {
  const shapes = paramShapes(preset.discriminator).map((p) => p.name);
  const d = new Float32Array(paramCount(preset.discriminator));
  // paramShapes order: layer1 kernel [784,256], bias; layer3 kernel [256,256], bias; layer5 kernel [256,1], bias [1], embedding [10,256].
  if (shapes.join() !== 'layer1/kernel,layer1/bias,layer3/kernel,layer3/bias,layer5/kernel,layer5/bias,layer5/embedding') throw new Error(`unexpected layout ${shapes.join()}`);
  for (let k = 0; k < F; k++) d[k * F + k] = 1;
  const second = PIXELS * F + F;
  for (let k = 0; k < F; k++) d[second + k * F + k] = 1;
  const proj = second + F * F + F;
  const w = uniform(F, seed, -0.1, 0.1), b = 0.3, e = uniform(CLASSES * F, seed + 1, -0.1, 0.1);
  d.set(w, proj);
  d[proj + F] = b;
  d.set(e, proj + F + 1);
  return { d, w, b, e };
}

const softplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const lrelu = (x: number): number => (x > 0 ? x : ALPHA * x);

/** φ of each image row (the first F pixels through two LeakyReLUs). */
function features(images: Float32Array, n: number): Float64Array[] {
  return Array.from({ length: n }, (_, i) => Float64Array.from(images.subarray(i * PIXELS, i * PIXELS + F), (x) => lrelu(lrelu(x))));
}

function logit(phi: Float64Array, y: number, p: { w: Float32Array; b: number; e: Float32Array }): number {
  let s = p.b;
  for (let k = 0; k < F; k++) s += phi[k] * (p.w[k] + p.e[y * F + k]);
  return s;
}

/**
 * The D phase in plain JS: loss mean softplus(−l_real) + mean softplus(l_fake)
 * and the projection's gradients [dW (F), db, dE (classes × F)].
 */
function refDPhase(real: Float64Array[], yReal: Int32Array, fake: Float64Array[], yFake: Int32Array, p: { w: Float32Array; b: number; e: Float32Array }): { loss: number; grad: Float64Array; logits: number[] } {
  const n = real.length;
  const grad = new Float64Array(F + 1 + CLASSES * F);
  let loss = 0;
  const logits: number[] = [];
  const rows: [Float64Array, number, 0 | 1][] = [...real.map((f, i) => [f, yReal[i], 1] as [Float64Array, number, 1]), ...fake.map((f, i) => [f, yFake[i], 0] as [Float64Array, number, 0])];
  for (const [phi, y, label] of rows) {
    const l = logit(phi, y, p);
    logits.push(l);
    loss += softplus(label === 1 ? -l : l) / n;
    const g = (sigmoid(l) - label) / n;
    for (let k = 0; k < F; k++) {
      grad[k] += g * phi[k];
      grad[F + 1 + y * F + k] += g * phi[k];
    }
    grad[F] += g;
  }
  return { loss, grad, logits };
}

function analyticCase(): { c: Case; p: ReturnType<typeof passThroughD>; real: Float32Array; yReal: Int32Array; yFake: Int32Array } {
  const preset = modelPreset('probe-mlp', [28, 28, 1], CLASSES);
  const n = 3;
  const yReal = Int32Array.from([4, 7, 4]), yFake = Int32Array.from([1, 4, 9]);
  const p = passThroughD(preset, 21);
  const real = uniform(n * PIXELS, 22);
  const z = gInput(preset, yFake, 23);
  const d: PhaseInput = { phase: 'd', count: n, z, real, realLabels: yReal, fakeLabels: yFake };
  // The same D phase with one real row's and then one fake row's label changed.
  const realMoved: PhaseInput = { ...d, realLabels: Int32Array.from([4, 2, 4]) };
  const fakeLabels = Int32Array.from([1, 4, 0]);
  const fakeMoved: PhaseInput = { ...d, z: gInput(preset, fakeLabels, 23), fakeLabels };
  const g: PhaseInput = { phase: 'g', count: n, z, real: null, realLabels: null, fakeLabels: yFake };
  return { c: { preset, g: seededParams(preset.generator, 24), d: p.d, inputs: [d, realMoved, fakeMoved, g] }, p, real, yReal, yFake };
}

for (const backend of ['cpu', 'wasm', 'onnx'] as const) {
  test.serial(`${backend}: a conditional D's loss and projection gradients equal the plain-JS projection, and a row's label moves that row's logit by ⟨E_new − E_old, φ⟩`, async (t) => {
    const { c, p, real, yReal, yFake } = analyticCase();
    const n = 3;
    const { phases, samples, leaked } = await runCase(backend, c, [0, 2]);
    t.is(leaked, 0, 'the phases leave no tensors behind (labels included)');
    const phiReal = features(real, n), phiFake = features(samples[0], n);
    const projOffset = paramCount(c.preset.discriminator) - (F + 1 + CLASSES * F);
    // The projection's kernel, bias and class embedding: the last three tensors of D.
    const projection = tensorsOf(c.preset.discriminator).slice(-3);
    t.is(projection.reduce((n, p) => n + p.size, 0), F + 1 + CLASSES * F);
    const check = (what: string, r: PhaseResult, ref: { loss: number; grad: Float64Array }): void => {
      const eLoss = Math.abs(r.loss - ref.loss);
      t.true(eLoss <= TOL, `${what} loss ${r.loss} vs ${ref.loss}`);
      const e = assertTensorsClose(t, `${backend} ${what} projection gradients`, r.grad.subarray(projOffset), ref.grad, projection, GRAD_TOL);
      t.log(`${backend} ${what}: loss ${r.loss.toFixed(6)} (|Δ| ${eLoss.toExponential(1)}), projection grads per tensor: ${worstTensors(e)}`);
    };
    const base = refDPhase(phiReal, yReal, phiFake, yFake, p);
    check('D phase', phases[0], base);
    t.true(base.grad.some((v, i) => i > F && Math.abs(v) > 1e-3), 'the embedding gradient is not all zero');

    // Real row 1: class 7 -> 2. Its logit moves by ⟨E_2 − E_7, φ_1⟩; no other logit moves.
    const movedReal = refDPhase(phiReal, Int32Array.from([4, 2, 4]), phiFake, yFake, p);
    let delta = 0;
    for (let k = 0; k < F; k++) delta += (p.e[2 * F + k] - p.e[7 * F + k]) * phiReal[1][k];
    t.true(Math.abs(delta) > 0.05, `the label change matters (δ ${delta})`);
    t.true(Math.abs(movedReal.logits[1] - base.logits[1] - delta) < 1e-9);
    const expected = (softplus(-(base.logits[1] + delta)) - softplus(-base.logits[1])) / n;
    t.true(Math.abs(phases[1].loss - phases[0].loss - expected) <= TOL, `real label change: Δloss ${phases[1].loss - phases[0].loss} vs ${expected}`);
    check('D phase, real row 1 relabelled', phases[1], movedReal);

    // Fake row 2: class 9 -> 0 (G's one-hot input changes too, so its image and φ are recomputed).
    const phiFake2 = features(samples[1], n);
    check('D phase, fake row 2 relabelled', phases[2], refDPhase(phiReal, yReal, phiFake2, Int32Array.from([1, 4, 0]), p));

    // G phase: mean softplus(−l_fake).
    const gLoss = phiFake.reduce((s, phi, i) => s + softplus(-logit(phi, yFake[i], p)) / n, 0);
    t.log(`${backend} G phase: loss ${phases[3].loss.toFixed(6)} vs ${gLoss.toFixed(6)}`);
    t.true(Math.abs(phases[3].loss - gLoss) <= TOL, `G loss ${phases[3].loss} vs ${gLoss}`);
    t.true(phases[3].grad.some((v) => v !== 0));
  });
}

// ---------------------------------------------------------------------------
// The projection layer alone: onnx's forward and backward and tfjs autograd against plain JS.
// ---------------------------------------------------------------------------

test.serial('the projection layer alone: value and φ/W/b/E gradients on onnx and tfjs (cpu) equal plain JS', async (t) => {
  const n = 4, f = 5, k = 3;
  const labels = Int32Array.from([2, 0, 2, 1]);
  const net: NetSpec = { inputShape: [f], layers: [{ kind: 'projection', classes: k }], init: 'glorot' };
  t.deepEqual(paramShapes(net).map((p) => `${p.name}:${p.shape.join()}`), ['layer0/kernel:5,1', 'layer0/bias:1', 'layer0/embedding:3,5']);
  const x = uniform(n * f, 31), w = uniform(f, 32), b = uniform(1, 33), e = uniform(k * f, 34), dy = uniform(n, 35);
  const hot = oneHotRows(labels, k);

  // Plain JS (float64): y_i = φ_i·w + b + ⟨E_{y_i}, φ_i⟩ and the gradients of Σ y_i·dy_i.
  const y = new Float64Array(n), dx = new Float64Array(n * f), dw = new Float64Array(f), de = new Float64Array(k * f);
  let db = 0;
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    y[i] = b[0]!;
    for (let j = 0; j < f; j++) {
      const phi = x[i * f + j];
      y[i] += phi * (w[j] + e[c * f + j]);
      dx[i * f + j] = dy[i] * (w[j] + e[c * f + j]);
      dw[j] += phi * dy[i];
      de[c * f + j] += phi * dy[i];
    }
    db += dy[i];
  }
  const ref = { y, dx, dw, db: Float64Array.of(db), de };

  // onnx: forwardNet/backwardNet with the labels as an input.
  const g = new GraphBuilder();
  const xIn = g.input('x', [BATCH, f]), yIn = g.input('labels', [BATCH, k]), dyIn = g.input('dy', [BATCH, 1]);
  const pIn = paramShapes(net).map((p, i) => g.input(`p.${i}`, p.shape));
  const pass = forwardNet(g, net, fromTf(xIn, [f]), pIn, { kind: 'train' }, yIn);
  g.output('y', pass.out.name);
  const back = backwardNet(pass, dyIn, 3, { input: true, params: true });
  g.output('dx', back.dx!);
  back.grads.forEach((v, i) => g.output(`grad.${i}`, v!));
  const res = await (await session(g.toModel())).run({
    x: feed(x, [n, f]), labels: feed(hot, [n, k]), dy: feed(dy, [n, 1]), 'p.0': feed(w, [f, 1]), 'p.1': feed(b, [1]), 'p.2': feed(e, [k, f]),
  });
  const onnx = { y: res.y.data, dx: res.dx.data, dw: res['grad.0'].data, db: res['grad.1'].data, de: res['grad.2'].data } as Record<keyof typeof ref, Float32Array>;

  // tfjs autograd through opsForward on the cpu backend.
  await tf.setBackend('cpu');
  const xv = tf.variable(tf.tensor2d(x, [n, f])), pv = [tf.variable(tf.tensor2d(w, [f, 1])), tf.variable(tf.tensor1d(b)), tf.variable(tf.tensor2d(e, [k, f]))];
  let yT!: tf.Tensor;
  const { grads } = tf.variableGrads(() => {
    const out = opsForward(tf, net, pv, xv, undefined, tf.tensor2d(hot, [n, k]));
    yT = tf.keep(out);
    return tf.sum(tf.mul(out, tf.tensor2d(dy, [n, 1])));
  }, [xv, ...pv]);
  const tfjs = { y: yT.dataSync(), dx: grads[xv.name].dataSync(), dw: grads[pv[0].name].dataSync(), db: grads[pv[1].name].dataSync(), de: grads[pv[2].name].dataSync() } as Record<keyof typeof ref, Float32Array>;
  tf.disposeVariables();

  for (const [engine, got] of [['onnx', onnx], ['tfjs', tfjs]] as const) {
    for (const key of Object.keys(ref) as (keyof typeof ref)[]) {
      const err = maxAbsDiff(got[key], ref[key]);
      t.true(err <= 1e-6, `${engine} ${key}: max |Δ| ${err}`);
    }
  }
  // Each class's embedding row collects exactly its rows' φ·dy: class 1 has row 3 alone.
  t.true(maxAbsDiff(onnx.de.subarray(f, 2 * f), Array.from(x.subarray(3 * f, 4 * f), (v) => v * dy[3])) <= 1e-6);
});

// ---------------------------------------------------------------------------
// onnx and wasm against cpu on conditional presets, with and without batch norm.
// ---------------------------------------------------------------------------

function crossCase(model: ModelName, seed: number): Case {
  const preset = modelPreset(model, [28, 28, 1], CLASSES);
  const yReal = Int32Array.from([3, 7, 3, 0]), yFake = Int32Array.from([7, 1, 9, 3]);
  const n = yReal.length;
  const z = gInput(preset, yFake, seed);
  return {
    preset,
    g: seededParams(preset.generator, seed + 1),
    d: seededParams(preset.discriminator, seed + 2),
    inputs: [
      { phase: 'd', count: n, z, real: uniform(n * PIXELS, seed + 3), realLabels: yReal, fakeLabels: yFake },
      { phase: 'g', count: n, z, real: null, realLabels: null, fakeLabels: yFake },
    ],
  };
}

for (const [model, seed] of [['probe-mlp', 41], ['probe-dcgan', 51], ['dcgan', 61]] as const) {
  test.serial(`conditional ${model} (10 classes): D- and G-phase losses and gradients on onnx and wasm equal cpu's`, async (t) => {
    const c = crossCase(model, seed);
    // tfjs-backend-cpu's own conv filter gradient takes seconds per layer; onnx-compile checks the fast one against it.
    const original = useFastConv2DBackpropFilter();
    let cpu: PhaseResult[];
    try {
      cpu = (await runCase('cpu', c)).phases;
    } finally {
      tf.unregisterKernel('Conv2DBackpropFilter', 'cpu');
      tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'cpu', kernelFunc: original });
    }
    t.true(cpu.every((r) => r.grad.some((v) => Math.abs(v) > 1e-4)), 'the reference gradients are not all zero');
    for (const backend of ['onnx', 'wasm'] as const) {
      const other = (await runCase(backend, c)).phases;
      other.forEach((r, i) => {
        const phase = c.inputs[i].phase, what = `${backend} ${phase.toUpperCase()} phase`;
        const eLoss = Math.abs(r.loss - cpu[i].loss);
        const eBn = r.bn.length === 0 ? 0 : Math.max(...r.bn.map((v, p) => maxAbsDiff(v, cpu[i].bn[p])));
        const e = assertTensorsClose(t, `${model} ${what} gradients`, r.grad, cpu[i].grad, tensorsOf(phase === 'd' ? c.preset.discriminator : c.preset.generator), GRAD_TOL);
        t.log(`${model} ${what}: loss |Δ| ${eLoss.toExponential(1)}, worst gradient tensors ${worstTensors(e, 2)}${r.bn.length ? `, BN stats max |Δ| ${eBn.toExponential(1)}` : ''}`);
        t.true(eLoss <= TOL, `${what} loss ${r.loss} vs ${cpu[i].loss}`);
        t.is(r.bn.length, cpu[i].bn.length);
        t.true(eBn <= TOL, `${what} BN stats ${eBn}`);
      });
    }
  });
}

test.serial('a conditional preset\'s phase without its labels is an internal error naming the rows', async (t) => {
  const c = crossCase('probe-mlp', 71);
  for (const backend of ['onnx', 'cpu'] as const) {
    const engine = await createEngine(backend, c.preset, { loss: 'ns' });
    const grad = new Float32Array(paramCount(c.preset.discriminator));
    const live = engine.liveObjects();
    await t.throwsAsync(engine.phase({ ...c.inputs[0], realLabels: null }, grad), { message: /real rows needs 4 labels, got none/ });
    await t.throwsAsync(engine.phase({ ...c.inputs[0], fakeLabels: Int32Array.of(1, 2) }, grad), { message: /fake rows needs 4 labels, got 2/ });
    await t.throwsAsync(engine.phase({ ...c.inputs[0], fakeLabels: Int32Array.of(1, 2, 10, 0) }, grad), { message: /label 10 of row 2 is outside \[0, 10\)/ });
    if (backend === 'cpu') {
      t.is(engine.liveObjects(), live, 'nothing leaked by the refused phases');
      tf.disposeVariables();
    }
  }
});
