import test from 'ava';
import { bnStatsSize, outputShape, paramShapes, sizeOf, type LayerSpec, type NetSpec } from '../src/models/presets.js';
import { BATCH, GraphBuilder } from '../src/engines/onnx/graph.js';
import { GAN_LOSS_TERMS, backwardNet, forwardNet, fromTf, gradFromTf, toTf, type BnMode } from '../src/engines/onnx/layers.js';
import { relErr } from './helpers.js';
import { feed, flatValues, normal, refBce, refForward, session, tf, uniform } from './onnx-reference.js';

const TOL = 1e-5;
const N = 3;

test.before(async () => { await tf.setBackend('cpu'); });

function finalShape(net: NetSpec): number[] {
  return net.layers.reduce((s, l) => outputShape(l, s), [...net.inputShape]);
}

/** Feeds of one case: x, parameters (gammas near 1) and the output gradient dy. */
function caseData(net: NetSpec, seed: number): { x: Float32Array; params: Float32Array[]; dy: Float32Array } {
  const shapes = paramShapes(net);
  return {
    x: uniform(N * sizeOf(net.inputShape), seed),
    params: shapes.map((p, i) => {
      const v = uniform(sizeOf(p.shape), seed + 10 + i, -0.5, 0.5);
      return p.role === 'gamma' ? v.map((a) => 1 + a) : v;
    }),
    dy: uniform(N * sizeOf(finalShape(net)), seed + 99),
  };
}

/**
 * One network alone: ONNX forward y, the input gradient and every parameter
 * gradient of sum(y·dy), against tfjs autograd on the same plain ops.
 */
async function checkNet(t: import('ava').ExecutionContext, label: string, layers: LayerSpec[], inputShape: number[], infer = false): Promise<void> {
  const net: NetSpec = { inputShape, layers, init: 'glorot' };
  const shapes = paramShapes(net);
  const out = finalShape(net);
  const { x, params, dy } = caseData(net, label.length * 7 + layers.length);
  const bnSize = bnStatsSize(net);
  const moving = Float32Array.from(uniform(bnSize, 5, 0.5, 1.5).map((v, i) => (Math.floor(i / (bnSize / 2 || 1)) % 2 === 0 ? v - 1 : v)));

  const g = new GraphBuilder();
  const xIn = g.input('x', [BATCH, ...inputShape]);
  const pIn = shapes.map((p, i) => g.input(`p.${i}`, p.shape));
  const mode: BnMode = infer ? { kind: 'infer', moving: g.input('moving', [bnSize]) } : { kind: 'train' };
  const pass = forwardNet(g, net, fromTf(xIn, inputShape), pIn, mode);
  g.output('y', toTf(g, pass.out));
  const feeds: Record<string, import('onnxruntime-node').Tensor> = { x: feed(x, [N, ...inputShape]) };
  shapes.forEach((p, i) => { feeds[`p.${i}`] = feed(params[i], p.shape); });
  if (infer) feeds.moving = feed(moving, [bnSize]);
  const dyIn = g.input('dy', [BATCH, ...out]);
  const b = backwardNet(pass, gradFromTf(g, dyIn, pass.out), shapes.length, { input: true, params: true });
  g.output('dx', b.dx!);
  b.grads.forEach((v, i) => g.output(`grad.${i}`, v!));
  if (pass.stats) g.output('stats', pass.stats);
  feeds.dy = feed(dy, [N, ...out]);
  const res = await (await session(g.toModel())).run(feeds);

  const xv = tf.variable(tf.tensor(x, [N, ...inputShape]));
  const pv = shapes.map((p, i) => tf.variable(tf.tensor(params[i], p.shape)));
  const dyT = tf.tensor(dy, [N, ...out]);
  const stats: tf.Tensor[] = [];
  let yRef!: tf.Tensor;
  const { grads } = tf.variableGrads(() => {
    const y = refForward(net, pv, xv, infer ? { training: false, moving } : { training: true, stats });
    yRef = tf.keep(y);
    return tf.sum(tf.mul(y, dyT));
  }, [xv, ...pv]);

  const errs: string[] = [];
  const check = (what: string, a: ArrayLike<number>, b: ArrayLike<number>): void => {
    const e = relErr(a, b);
    errs.push(`${what} ${e.toExponential(1)}`);
    t.true(e <= TOL, `${label} ${what}: ${e}`);
  };
  check('y', res.y.data as Float32Array, yRef.dataSync());
  // Inference mode too: the moving statistics are constants, the gradient flows through γ·invstd.
  check('dx', res.dx.data as Float32Array, grads[xv.name].dataSync());
  shapes.forEach((p, i) => {
    t.deepEqual(res[`grad.${i}`].dims, p.shape, `${label} grad.${i} shape`);
    check(p.role, res[`grad.${i}`].data as Float32Array, grads[pv[i].name].dataSync());
  });
  if (!infer && stats.length > 0) check('stats', res.stats.data as Float32Array, flatValues(stats));
  t.log(`${label}: ${errs.join(', ')}`);
  tf.dispose([xv, ...pv, dyT, yRef, ...stats, ...Object.values(grads)]);
}

const dense = (units: number, activation: 'linear' | 'relu' | 'tanh' | 'sigmoid', useBias = true): LayerSpec => ({ kind: 'dense', units, activation, useBias });
const conv = (filters: number, kernelSize: number, strides: number, activation: 'linear' | 'relu' | 'tanh' | 'sigmoid' = 'linear', useBias = true): LayerSpec =>
  ({ kind: 'conv2d', filters, kernelSize, strides, activation, useBias });
const convT = (filters: number, kernelSize: number, strides: number, activation: 'linear' | 'relu' | 'tanh' | 'sigmoid' = 'linear', useBias = true): LayerSpec =>
  ({ kind: 'conv2dTranspose', filters, kernelSize, strides, activation, useBias });
const bn: LayerSpec = { kind: 'batchNorm', momentum: 0.9, epsilon: 1e-5 };

test('dense: forward, input and parameter gradients (each activation, with and without bias)', async (t) => {
  for (const a of ['linear', 'relu', 'tanh', 'sigmoid'] as const) await checkNet(t, `dense ${a}`, [dense(5, a)], [7]);
  await checkNet(t, 'dense no bias', [dense(6, 'linear', false)], [4]);
});

test('conv2d: k4 s2 same, odd and non-square sizes (asymmetric pads), k3 s1, k2 s3', async (t) => {
  await checkNet(t, 'conv k4s2 8x8', [conv(4, 4, 2, 'relu')], [8, 8, 3]);
  await checkNet(t, 'conv k4s2 7x5 no bias', [conv(3, 4, 2, 'linear', false)], [7, 5, 2]);
  await checkNet(t, 'conv k3s1 6x6 tanh', [conv(2, 3, 1, 'tanh')], [6, 6, 2]);
  await checkNet(t, 'conv k2s3 7x7 sigmoid', [conv(2, 2, 3, 'sigmoid')], [7, 7, 1]);
});

test('conv2dTranspose: k4 s2 same (out = in·s), k3 s2, k2 s3 (output padding)', async (t) => {
  await checkNet(t, 'convT k4s2 4x4', [convT(2, 4, 2, 'tanh')], [4, 4, 3]);
  await checkNet(t, 'convT k4s2 3x5 no bias', [convT(3, 4, 2, 'linear', false)], [3, 5, 2]);
  await checkNet(t, 'convT k3s2 3x3 relu', [convT(2, 3, 2, 'relu')], [3, 3, 2]);
  await checkNet(t, 'convT k2s3 3x2', [convT(2, 2, 3)], [3, 2, 2]);
});

test('batchNorm: training mode (batch mean, biased variance) on 4-D and 2-D inputs, inference mode with moving statistics (forward and backward)', async (t) => {
  await checkNet(t, 'bn 4D train', [bn], [4, 3, 5]);
  await checkNet(t, 'bn 2D train', [bn], [6]);
  // A conv in front keeps the batch norm's input NCHW inside the graph.
  await checkNet(t, 'conv+bn 4D train', [conv(4, 4, 2, 'linear', false), bn], [6, 6, 2]);
  await checkNet(t, 'bn 4D infer', [bn], [4, 3, 5], true);
  await checkNet(t, 'bn 2D infer', [bn], [6], true);
  // The backward through an inference-mode batch norm (the latent search of ganpool score), NCHW inside the graph.
  await checkNet(t, 'conv+bn 4D infer', [conv(4, 4, 2, 'linear', false), bn], [6, 6, 2], true);
});

test('activations: relu, tanh, sigmoid, leakyRelu', async (t) => {
  for (const a of ['relu', 'tanh', 'sigmoid'] as const) await checkNet(t, a, [{ kind: 'activation', activation: a }], [3, 4, 2]);
  await checkNet(t, 'leakyRelu 0.2', [{ kind: 'leakyRelu', alpha: 0.2 }], [3, 4, 2]);
  await checkNet(t, 'leakyRelu 0.3 after conv', [conv(3, 4, 2, 'linear'), { kind: 'leakyRelu', alpha: 0.3 }], [4, 4, 2]);
});

test('flatten and reshape in tf.layers (NHWC) order', async (t) => {
  await checkNet(t, 'flatten', [{ kind: 'flatten' }, dense(3, 'linear')], [3, 4, 2]);
  await checkNet(t, 'conv+flatten+dense', [conv(3, 4, 2), { kind: 'flatten' }, dense(2, 'linear')], [6, 4, 2]);
  await checkNet(t, 'reshape+convT', [dense(12, 'linear'), { kind: 'reshape', shape: [2, 2, 3] }, convT(2, 4, 2)], [5]);
  await checkNet(t, 'reshape to flat', [{ kind: 'reshape', shape: [24] }, dense(2, 'linear')], [3, 4, 2]);
});

test('bce with logits (the ns loss\'s terms): loss and logit gradient for labels 1 and 0', async (t) => {
  const logits = normal(7, 3, 4);
  logits[0] = 40; logits[1] = -40; // far into the tails: stays finite
  for (const label of [1, 0] as const) {
    const g = new GraphBuilder();
    const l = g.input('l', [BATCH, 1]);
    const term = label === 1 ? GAN_LOSS_TERMS.ns.dReal : GAN_LOSS_TERMS.ns.dFake;
    g.output('loss', term.forward(g, l), []);
    g.output('dl', term.backward(g, l));
    const res = await (await session(g.toModel())).run({ l: feed(logits, [7, 1]) });
    const lv = tf.variable(tf.tensor(logits, [7, 1]));
    const { value, grads } = tf.variableGrads(() => refBce(lv, label), [lv]);
    const eLoss = relErr(res.loss.data as Float32Array, value.dataSync());
    const eGrad = relErr(res.dl.data as Float32Array, grads[lv.name].dataSync());
    t.deepEqual(res.loss.dims, []);
    t.true(eLoss <= TOL && eGrad <= TOL, `label ${label}: loss ${eLoss}, grad ${eGrad}`);
    t.log(`bce label ${label}: loss ${eLoss.toExponential(1)}, grad ${eGrad.toExponential(1)}`);
    tf.dispose([lv, value, ...Object.values(grads)]);
  }
});
