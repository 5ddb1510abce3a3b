import { onnxMetadataProps } from '../src/engines/onnx/proto.js';
import test, { type ExecutionContext } from 'ava';
import {
  MODEL_NAMES, PRESET_IMAGE_SIZE, bnLayers, bnStatsSize, initParams, modelPreset, paramCount, paramShapes, sizeOf,
  type ModelName, type ModelPreset, type NetSpec,
} from '../src/models/presets.js';
import { compileDPhase, compileGPhase, compileInference, generatorOnnx } from '../src/engines/onnx/compile.js';
import { relErr } from './helpers.js';
import {
  fastConv2DBackpropFilter, feed, flatOutputs, flatValues, normal, ort, refBce, refForward, session, tf, uniform, useFastConv2DBackpropFilter,
} from './onnx-reference.js';

const TOL = 1e-5;
let originalFilterGrad!: tf.KernelFunc;

test.before(async () => {
  await tf.setBackend('cpu');
  // tfjs-cpu's own filter gradient would take minutes on dcgan64; the swap is checked below.
  originalFilterGrad = useFastConv2DBackpropFilter();
});

test('the reference\'s fast Conv2DBackpropFilter equals tfjs-backend-cpu\'s', (t) => {
  const cases: [number[], number[], number, 'same' | 'valid'][] = [
    [[2, 7, 5, 3], [4, 4, 3, 4], 2, 'same'], [[2, 8, 8, 2], [3, 3, 2, 5], 1, 'same'], [[1, 9, 6, 2], [2, 2, 2, 3], 3, 'valid'],
  ];
  for (const [xShape, filterShape, s, pad] of cases) {
    const x = tf.tensor4d(uniform(sizeOf(xShape), 1), xShape as [number, number, number, number]);
    const y = tf.conv2d(x, tf.zeros(filterShape as [number, number, number, number]), s, pad);
    const dy = tf.tensor(uniform(y.size, 2), y.shape);
    const args = { inputs: { x, dy }, backend: tf.backend(), attrs: { strides: s, pad, filterShape, dataFormat: 'NHWC' } };
    const run = (k: tf.KernelFunc): Float32Array => {
      const info = k(args) as tf.TensorInfo;
      const out = tf.engine().makeTensorFromTensorInfo(info);
      const v = out.dataSync() as Float32Array;
      out.dispose();
      return v;
    };
    const e = relErr(run(fastConv2DBackpropFilter), run(originalFilterGrad));
    t.true(e <= 1e-7, `${xShape.join()} ${filterShape.join()} s${s} ${pad}: ${e}`);
    tf.dispose([x, y, dy]);
  }
});

function presetOf(model: ModelName, channels = 1): ModelPreset {
  const size = PRESET_IMAGE_SIZE[model] ?? 28;
  return modelPreset(model, [size, size, channels]);
}

/** Seeded initial parameters of a network, one array per paramShapes entry. */
function params(net: NetSpec, stream: number): Float32Array[] {
  const flat = new Float32Array(paramCount(net));
  initParams(net, 11, stream, flat);
  let o = 0;
  return paramShapes(net).map((p) => flat.slice(o, (o += sizeOf(p.shape))));
}

/** Moving statistics with means N(0, 0.1²) and variances in [0.5, 1.5), bnLayers layout. */
function movingStats(net: NetSpec, seed: number): Float32Array {
  const out = new Float32Array(bnStatsSize(net));
  let o = 0;
  for (const l of bnLayers(net)) {
    out.set(normal(l.channels, seed + o, 0.1), o);
    out.set(uniform(l.channels, seed + o + 1, 0.5, 1.5), o + l.channels);
    o += 2 * l.channels;
  }
  return out;
}

function paramFeeds(prefix: 'g' | 'd', net: NetSpec, values: Float32Array[]): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  paramShapes(net).forEach((p, i) => { feeds[`${prefix}.${i}`] = feed(values[i], p.shape); });
  return feeds;
}

function vars(net: NetSpec, values: Float32Array[]): tf.Variable[] {
  return paramShapes(net).map((p, i) => tf.variable(tf.tensor(values[i], p.shape)));
}

/** Compares one phase's outputs with the tfjs reference; returns a log line. */
function compare(t: ExecutionContext, label: string, out: ort.InferenceSession.OnnxValueMapType, gradCount: number,
  loss: number, grads: tf.Tensor[], stats: Float32Array[]): string {
  const parts: string[] = [];
  const eLoss = Math.abs((out.loss.data as Float32Array)[0] - loss) / Math.abs(loss);
  t.true(eLoss <= TOL, `${label} loss ${eLoss}`);
  parts.push(`loss ${eLoss.toExponential(1)}`);
  t.is(gradCount, grads.length);
  let worst = 0;
  grads.forEach((g, i) => {
    const o = out[`grad.${i}`];
    t.deepEqual(o.dims, g.shape, `${label} grad.${i} shape`);
    const e = relErr(o.data as Float32Array, g.dataSync());
    worst = Math.max(worst, e);
    t.true(e <= TOL, `${label} grad.${i}: ${e}`);
  });
  const all = relErr(flatOutputs(out, grads.map((_, i) => `grad.${i}`)), flatValues(grads));
  t.true(grads.some((g) => g.dataSync().some((v) => v !== 0)), `${label}: gradients not all zero`);
  parts.push(`grads ${all.toExponential(1)} (worst tensor ${worst.toExponential(1)})`);
  stats.forEach((s, i) => {
    const e = relErr(out[`stats.${i}`].data as Float32Array, s);
    t.true(e <= TOL, `${label} stats.${i}: ${e}`);
    parts.push(`stats.${i} ${e.toExponential(1)}`);
  });
  t.is(Object.keys(out).filter((k) => k.startsWith('stats.')).length, stats.length, `${label}: stats outputs`);
  return parts.join(', ');
}

/** D and G phases of `preset` at batch `n` against plain tfjs ops + tf.variableGrads. */
async function checkPhases(t: ExecutionContext, preset: ModelPreset, n: number): Promise<void> {
  const G = preset.generator, D = preset.discriminator;
  const gp = params(G, 0), dp = params(D, 1);
  const z = normal(n * preset.latentDim, 1 + n);
  const real = uniform(n * sizeOf(preset.imageShape), 2 + n);
  const base = { z: feed(z, [n, preset.latentDim]), ...paramFeeds('g', G, gp), ...paramFeeds('d', D, dp) };
  const dGraph = compileDPhase(preset), gGraph = compileGPhase(preset);
  const gBn = bnStatsSize(G) > 0, dBn = bnStatsSize(D) > 0;
  t.deepEqual(dGraph.statsPasses, [...(gBn ? ['g'] : []), ...(dBn ? ['d', 'd'] : [])]);
  t.deepEqual(gGraph.statsPasses, [...(gBn ? ['g'] : []), ...(dBn ? ['d'] : [])]);
  const dOut = await (await session(dGraph.model)).run({ ...base, real: feed(real, [n, ...preset.imageShape]) });
  const gOut = await (await session(gGraph.model)).run(base);

  const gv = vars(G, gp), dv = vars(D, dp);
  const zT = tf.tensor2d(z, [n, preset.latentDim]), realT = tf.tensor(real, [n, ...preset.imageShape]);
  const label = `${preset.name} ${preset.imageShape.join('×')} batch ${n}`;

  // D phase: G(z) without gradients, D on real and on fake as two calls (each its own batch statistics).
  const sG: tf.Tensor[] = [], sReal: tf.Tensor[] = [], sFake: tf.Tensor[] = [];
  const fake = tf.tidy(() => refForward(G, gv, zT, { training: true, stats: sG }));
  const d = tf.variableGrads(() => tf.add<tf.Scalar>(
    refBce(refForward(D, dv, realT, { training: true, stats: sReal }), 1),
    refBce(refForward(D, dv, fake, { training: true, stats: sFake }), 0)), dv);
  const dStats = [...(gBn ? [flatValues(sG)] : []), ...(dBn ? [flatValues(sReal), flatValues(sFake)] : [])];
  const dLog = compare(t, `${label} D phase`, dOut, dGraph.gradCount, d.value.dataSync()[0], dv.map((v) => d.grads[v.name]), dStats);

  // G phase: through D (training-mode batch norm) into G's parameters.
  const sG2: tf.Tensor[] = [], sD2: tf.Tensor[] = [];
  const g = tf.variableGrads(() => refBce(refForward(D, dv, refForward(G, gv, zT, { training: true, stats: sG2 }), { training: true, stats: sD2 }), 1), gv);
  const gStats = [...(gBn ? [flatValues(sG2)] : []), ...(dBn ? [flatValues(sD2)] : [])];
  const gLog = compare(t, `${label} G phase`, gOut, gGraph.gradCount, g.value.dataSync()[0], gv.map((v) => g.grads[v.name]), gStats);
  t.log(`${label}\n  D: ${dLog}\n  G: ${gLog}`);
  tf.dispose([...gv, ...dv, zT, realT, fake, d.value, g.value, ...Object.values(d.grads), ...Object.values(g.grads), ...sG, ...sReal, ...sFake, ...sG2, ...sD2]);
}

for (const model of MODEL_NAMES) {
  test(`${model}: D and G phase loss, gradients and batch statistics equal plain tfjs autograd`, async (t) => {
    await checkPhases(t, presetOf(model), model === 'dcgan64' ? 2 : 3);
  });
}

// dcgan64 3-channel shares every code path with dcgan32's and costs ~9 s of tfjs cpu time more.
test('dcgan32 with 3 channels: D and G phases equal plain tfjs autograd', async (t) => {
  await checkPhases(t, presetOf('dcgan32', 3), 2);
});

test('dynamic batch: phases at batch 1 and 5 (batch norm in G and D; concatenated real+fake D pass)', async (t) => {
  for (const model of ['dcgan', 'probe-mlp', 'probe-dcgan'] as const) {
    for (const n of [1, 5]) await checkPhases(t, presetOf(model), n);
  }
});

/** G's images for `z` with batch norm in inference mode, as plain tfjs ops. */
function refImages(preset: ModelPreset, gp: Float32Array[], moving: Float32Array, z: Float32Array, n: number): Float32Array {
  return tf.tidy(() => refForward(preset.generator, gp.map((v, i) => tf.tensor(v, paramShapes(preset.generator)[i].shape)),
    tf.tensor2d(z, [n, preset.latentDim]), { training: false, moving }).dataSync() as Float32Array);
}

/** ModelProto.metadata_props read back from the encoded bytes (the reader `ganpool sample` uses). */
function readMetadata(bytes: Uint8Array): Record<string, string> {
  return Object.fromEntries(onnxMetadataProps(bytes));
}

for (const model of MODEL_NAMES) {
  test(`${model}: inference graph and generatorOnnx equal the reference with moving statistics, at batch 1, 3 and 5`, async (t) => {
    const preset = presetOf(model);
    const G = preset.generator;
    const gp = params(G, 0);
    // Moving statistics away from the batch statistics, so inference mode is really exercised.
    const moving = movingStats(G, 7);
    const inf = await session(compileInference(preset).model);
    t.deepEqual([...inf.inputNames].sort(), ['z', ...paramShapes(G).map((_, i) => `g.${i}`), ...(moving.length > 0 ? ['g.bn'] : [])].sort());
    const flat = new Float32Array(paramCount(G));
    let o = 0;
    for (const v of gp) { flat.set(v, o); o += v.length; }
    const metadata = { 'ganpool.model': model, 'ganpool.note': 'äöü ✓' };
    const bytes = generatorOnnx(preset, flat, moving, metadata);
    t.deepEqual(readMetadata(bytes), metadata);
    const standalone = await session(bytes);
    t.deepEqual(standalone.inputNames, ['z']);
    t.deepEqual(standalone.outputNames, ['images']);
    const errs: string[] = [];
    for (const n of [1, 3, 5]) {
      const z = normal(n * preset.latentDim, 30 + n);
      const want = refImages(preset, gp, moving, z, n);
      const feeds: Record<string, ort.Tensor> = { z: feed(z, [n, preset.latentDim]), ...paramFeeds('g', G, gp) };
      if (moving.length > 0) feeds['g.bn'] = feed(moving, [moving.length]);
      const a = (await inf.run(feeds)).images;
      const b = (await standalone.run({ z: feed(z, [n, preset.latentDim]) })).images;
      t.deepEqual(a.dims, [n, ...preset.imageShape]);
      t.deepEqual(b.dims, [n, ...preset.imageShape]);
      const eA = relErr(a.data as Float32Array, want), eB = relErr(b.data as Float32Array, want);
      t.true(eA <= TOL && eB <= TOL, `batch ${n}: inference ${eA}, generatorOnnx ${eB}`);
      errs.push(`batch ${n}: inference ${eA.toExponential(1)}, generatorOnnx ${eB.toExponential(1)}`);
    }
    t.log(`${model}: ${errs.join('; ')}`);
  });
}

test('generatorOnnx rejects parameter and statistics vectors of the wrong length', (t) => {
  const preset = presetOf('dcgan');
  const G = preset.generator;
  t.throws(() => generatorOnnx(preset, new Float32Array(3), new Float32Array(bnStatsSize(G)), {}), { message: /parameters/ });
  t.throws(() => generatorOnnx(preset, new Float32Array(paramCount(G)), new Float32Array(1), {}), { message: /moving statistics/ });
});
