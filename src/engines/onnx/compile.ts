/**
 * Compiles a model preset into ONNX graphs: each training phase's whole
 * forward and backward pass on one shard, the generator's inference pass, and
 * the self-contained generator file users run in ONNX Runtime.
 *
 * Naming: inputs `z` [N, G's input width: latentDim, plus classes for a
 * conditional preset's one-hot label], `real` [N,H,W,C] (NHWC, [-1, 1]),
 * `y.real`/`y.fake` (conditional presets only: the real and fake rows'
 * one-hot labels, float [N, classes]),
 * `g.0..`/`d.0..` (each network's parameters in paramShapes order and
 * tf.layers shapes), `g.bn` (G's moving statistics, bnLayers layout);
 * outputs `loss` (scalar), `grad.0..` (the trained network's parameter
 * gradients, tf.layers shapes), `stats.0..` (one flat batch-statistics vector
 * per training-mode pass through a network with batch norm, see
 * `statsPasses`), `images` [N,H,W,C]. The batch dimension is symbolic ('N').
 */
import { bnStatsSize, paramShapes, sizeOf, splitDiscriminator, type ModelPreset, type NetSpec } from '../../models/presets.js';
import { attr, BATCH, GraphBuilder } from './graph.js';
import { DEFAULT_GAN_LOSS, type GanLoss } from '../../models/losses.js';
import { GAN_LOSS_TERMS, backwardNet, forwardNet, fromTf, gradFromTf, hasBatchNorm, toLayout, toTf, type Act, type BnMode } from './layers.js';

/** A compiled training phase. */
export interface PhaseGraph {
  model: Uint8Array;
  /** Which network each stats output (`stats.0`, `stats.1`, …) belongs to, in order. */
  statsPasses: ('g' | 'd')[];
  /** Number of `grad.*` outputs (the trained network's parameter tensors). */
  gradCount: number;
}

const TRAIN = { kind: 'train' } as const;

function paramInputs(g: GraphBuilder, net: NetSpec, prefix: 'g' | 'd'): string[] {
  return paramShapes(net).map((p, i) => g.input(`${prefix}.${i}`, p.shape));
}

function latentInput(g: GraphBuilder, preset: ModelPreset): Act {
  const width = preset.generator.inputShape[0];
  return fromTf(g.input('z', [BATCH, width]), [width]);
}

/** A conditional preset's one-hot label input `y.<which>` [N, classes]; undefined for an unconditional one. */
function labelInput(g: GraphBuilder, preset: ModelPreset, which: 'real' | 'fake'): string | undefined {
  return preset.classes > 0 ? g.input(`y.${which}`, [BATCH, preset.classes]) : undefined;
}

/**
 * The D phase: G(z) in training mode (no gradients through G), D on `real`
 * and on the fake images, `ganLoss`'s D loss (its real term on D(real) plus
 * its fake term on D(fake); src/losses.ts), and the gradient of every D parameter. Stats outputs: G's pass, D on real, D on
 * fake (those networks with batch norm). Without batch norm in D, real and
 * fake go through D as one batch (the same math, one pass).
 */
export function compileDPhase(preset: ModelPreset, ganLoss: GanLoss = DEFAULT_GAN_LOSS): PhaseGraph {
  const { dReal, dFake } = GAN_LOSS_TERMS[ganLoss];
  const G = preset.generator, D = preset.discriminator;
  const g = new GraphBuilder('ganpool-d-phase');
  const z = latentInput(g, preset);
  const real = fromTf(g.input('real', [BATCH, ...preset.imageShape]), [...preset.imageShape]);
  const yReal = labelInput(g, preset, 'real'), yFake = labelInput(g, preset, 'fake');
  const gp = paramInputs(g, G, 'g'), dp = paramInputs(g, D, 'd');
  const gPass = forwardNet(g, G, z, gp, TRAIN);
  const fake = gPass.out;
  const dCount = dp.length;
  const stats: ['g' | 'd', string | null][] = [['g', gPass.stats]];
  let loss: string, grads: (string | null)[];
  if (hasBatchNorm(D)) {
    const onReal = forwardNet(g, D, real, dp, TRAIN, yReal), onFake = forwardNet(g, D, fake, dp, TRAIN, yFake);
    loss = g.node('Add', [dReal.forward(g, onReal.out.name), dFake.forward(g, onFake.out.name)]);
    const need = { input: false, params: true };
    const r = backwardNet(onReal, dReal.backward(g, onReal.out.name), dCount, need);
    const f = backwardNet(onFake, dFake.backward(g, onFake.out.name), dCount, need);
    grads = r.grads.map((v, i) => g.node('Add', [v!, f.grads[i]!]));
    stats.push(['d', onReal.stats], ['d', onFake.stats]);
  } else {
    const realAs = toLayout(g, null, real, fake.layout);
    const both: Act = { ...fake, name: g.node('Concat', [realAs.name, fake.name], { axis: attr.int(0) }) };
    // The labels of the rows, concatenated as the rows are.
    const yBoth = yReal && yFake ? g.node('Concat', [yReal, yFake], { axis: attr.int(0) }) : undefined;
    const pass = forwardNet(g, D, both, dp, TRAIN, yBoth);
    const [onReal, onFake] = g.nodeN('Split', [pass.out.name], 2, { axis: attr.int(0) }) as [string, string];
    loss = g.node('Add', [dReal.forward(g, onReal), dFake.forward(g, onFake)]);
    const dLogits = g.node('Concat', [dReal.backward(g, onReal), dFake.backward(g, onFake)], { axis: attr.int(0) });
    grads = backwardNet(pass, dLogits, dCount, { input: false, params: true }).grads;
  }
  return finishPhase(g, preset, D, loss, grads, stats);
}

/**
 * The G phase: G(z) and D(G(z)) in training mode, `ganLoss`'s G loss on
 * D(G(z)), back through D (input gradients only) and G (parameter
 * gradients). Stats outputs: G's pass, then D's (those networks with batch norm).
 */
export function compileGPhase(preset: ModelPreset, ganLoss: GanLoss = DEFAULT_GAN_LOSS): PhaseGraph {
  const term = GAN_LOSS_TERMS[ganLoss].g;
  const G = preset.generator, D = preset.discriminator;
  const g = new GraphBuilder('ganpool-g-phase');
  const z = latentInput(g, preset);
  const yFake = labelInput(g, preset, 'fake');
  const gp = paramInputs(g, G, 'g'), dp = paramInputs(g, D, 'd');
  const gPass = forwardNet(g, G, z, gp, TRAIN);
  const dPass = forwardNet(g, D, gPass.out, dp, TRAIN, yFake);
  const loss = term.forward(g, dPass.out.name);
  const dFake = backwardNet(dPass, term.backward(g, dPass.out.name), dp.length, { input: true, params: false }).dx!;
  const grads = backwardNet(gPass, dFake, gp.length, { input: false, params: true }).grads;
  return finishPhase(g, preset, G, loss, grads, [['g', gPass.stats], ['d', dPass.stats]]);
}

function finishPhase(g: GraphBuilder, preset: ModelPreset, trained: NetSpec, loss: string, grads: (string | null)[],
  stats: ['g' | 'd', string | null][]): PhaseGraph {
  g.output('loss', loss, []);
  const shapes = paramShapes(trained);
  grads.forEach((v, i) => {
    if (!v) throw new Error(`internal: no gradient for parameter ${i}`);
    g.output(`grad.${i}`, v, shapes[i].shape);
  });
  const statsPasses: ('g' | 'd')[] = [];
  for (const [which, v] of stats) {
    if (!v) continue;
    g.output(`stats.${statsPasses.length}`, v, [bnStatsSize(which === 'g' ? preset.generator : preset.discriminator)]);
    statsPasses.push(which);
  }
  return { model: g.toModel(), statsPasses, gradCount: grads.length };
}

/**
 * G's inference pass (batch norm with the moving statistics `moving`, when G
 * has batch norm) to the `images` output, from `input` (default: the `z` input).
 */
function inferenceGraph(g: GraphBuilder, preset: ModelPreset, params: string[], moving: string | null, input?: Act): void {
  const G = preset.generator;
  const pass = forwardNet(g, G, input ?? latentInput(g, preset), params, moving ? { kind: 'infer', moving } : TRAIN);
  g.output('images', toTf(g, pass.out), [BATCH, ...preset.imageShape]);
}

/**
 * The generator's inference graph: inputs `z`, `g.*` and `g.bn` (omitted when
 * G has no batch norm); output `images` [N,H,W,C].
 */
export function compileInference(preset: ModelPreset): { model: Uint8Array } {
  const G = preset.generator;
  const g = new GraphBuilder('ganpool-generator');
  const params = paramInputs(g, G, 'g');
  const size = bnStatsSize(G);
  const moving = size > 0 ? g.input('g.bn', [size]) : null;
  inferenceGraph(g, preset, params, moving);
  return { model: g.toModel() };
}

/**
 * A conditional generator's inputs: `z` float [N, latentDim] and `label`
 * int64 [N] (class indices), joined into G's input [z, one-hot(label)]: the
 * one-hot rows are gathered from a K×K identity, so the first layer sees
 * exactly the values it was trained on.
 */
function conditionedInputs(g: GraphBuilder, preset: ModelPreset): Act {
  const { latentDim, classes } = preset;
  const z = g.input('z', [BATCH, latentDim]);
  const label = g.input('label', [BATCH], 'int64');
  const eye = new Float32Array(classes * classes);
  for (let k = 0; k < classes; k++) eye[k * classes + k] = 1;
  const oneHot = g.node('Gather', [g.floatConst(Array.from(eye), [classes, classes]), label], { axis: attr.int(0) });
  return fromTf(g.node('Concat', [z, oneHot], { axis: attr.int(1) }), [latentDim + classes]);
}

/**
 * The self-contained generator: the inference graph with `gParams` (flat,
 * paramShapes order) and `gBn` (moving statistics) as initializers, the
 * input `z` [N, latentDim] (and for a conditional preset `label` int64 [N],
 * the class of each row), the single output `images` [N,H,W,C] (NHWC,
 * [-1, 1]) and `metadata` as metadata_props.
 */
export function generatorOnnx(preset: ModelPreset, gParams: Float32Array, gBn: Float32Array, metadata: Record<string, string>): Uint8Array {
  const G = preset.generator;
  const shapes = paramShapes(G);
  const total = shapes.reduce((n, p) => n + sizeOf(p.shape), 0);
  if (gParams.length !== total) throw new Error(`generatorOnnx: ${gParams.length} parameters, the ${preset.name} generator has ${total}`);
  const size = bnStatsSize(G);
  if (gBn.length !== size) throw new Error(`generatorOnnx: ${gBn.length} moving statistics, the ${preset.name} generator has ${size}`);
  const g = new GraphBuilder('ganpool-generator');
  let offset = 0;
  const params = shapes.map((p, i) => {
    const n = sizeOf(p.shape);
    const name = g.initializer(`g.${i}`, gParams.subarray(offset, offset + n), p.shape);
    offset += n;
    return name;
  });
  const moving = size > 0 ? g.initializer('g.bn', gBn, [size]) : null;
  inferenceGraph(g, preset, params, moving, preset.classes > 0 ? conditionedInputs(g, preset) : undefined);
  return g.toModel(metadata);
}

/** A network's moving statistics input `<prefix>.bn` as a batch-norm mode (training mode, unused, for a network without batch norm). */
function movingInput(g: GraphBuilder, net: NetSpec, prefix: 'g' | 'd'): BnMode {
  const size = bnStatsSize(net);
  return size > 0 ? { kind: 'infer', moving: g.input(`${prefix}.bn`, [size]) } : TRAIN;
}

function unconditionalOnly(preset: ModelPreset, what: string): void {
  if (preset.classes > 0) throw new Error(`internal: ${what} supports unconditional presets only`);
}

/**
 * D in inference mode on `images` [N,H,W,C] (inputs `d.*`, `d.bn` when D has
 * batch norm): outputs `logits` [N,1] and `features` [N,F], D's penultimate
 * activation (see splitDiscriminator). Unconditional presets only.
 */
export function compileDiscriminate(preset: ModelPreset): { model: Uint8Array } {
  unconditionalOnly(preset, 'compileDiscriminate');
  const D = preset.discriminator;
  const split = splitDiscriminator(D);
  const g = new GraphBuilder('ganpool-discriminate');
  const images = fromTf(g.input('images', [BATCH, ...preset.imageShape]), [...preset.imageShape]);
  const dp = paramInputs(g, D, 'd');
  const feat = forwardNet(g, split.features, images, dp.slice(0, split.featureParams), movingInput(g, D, 'd'));
  const head = forwardNet(g, split.head, feat.out, dp.slice(split.featureParams), TRAIN);
  g.output('features', feat.out.name, [BATCH, split.featureSize]);
  g.output('logits', head.out.name, [BATCH, 1]);
  return { model: g.toModel() };
}

/**
 * One evaluation of the latent search (src/engines/engine.ts, LatentOutput):
 * inputs `z` [N,latentDim], `target` [N,H,W,C], `target.features` [N,F],
 * `lambda` [1], `g.*`, `d.*` and the moving statistics `g.bn`, `d.bn` (when
 * the network has batch norm); outputs `recon`, `pixel`, `feature` [N], `dz`
 * [N,latentDim] and `images` [N,H,W,C]. G and D run in inference mode; the
 * gradient of Σ recon flows back from G(z)'s pixels and from D's features of
 * G(z) (only D's feature layers run) to z. Unconditional presets only.
 */
export function compileLatent(preset: ModelPreset): { model: Uint8Array } {
  unconditionalOnly(preset, 'compileLatent');
  const G = preset.generator, D = preset.discriminator;
  const split = splitDiscriminator(D);
  const [h, w, c] = preset.imageShape;
  const pixels = h * w * c, F = split.featureSize;
  const g = new GraphBuilder('ganpool-latent');
  const z = latentInput(g, preset);
  const target = g.input('target', [BATCH, ...preset.imageShape]);
  const targetFeatures = g.input('target.features', [BATCH, F]);
  const lambda = g.input('lambda', [1]);
  // Only D's feature layers run: the head's parameters are no inputs.
  const gp = paramInputs(g, G, 'g'), dp = paramInputs(g, split.features, 'd');
  const gPass = forwardNet(g, G, z, gp, movingInput(g, G, 'g'));
  const images = toTf(g, gPass.out);
  const fPass = forwardNet(g, split.features, gPass.out, dp, movingInput(g, D, 'd'));
  const one = g.floatConst(1);
  const keep = g.node('Sub', [one, lambda]);
  const diff = g.node('Sub', [images, target]);
  const pixel = g.node('ReduceMean', [g.node('Mul', [diff, diff])], { axes: attr.ints([1, 2, 3]), keepdims: attr.int(0) });
  const fdiff = g.node('Sub', [fPass.out.name, targetFeatures]);
  const feature = g.node('ReduceMean', [g.node('Mul', [fdiff, fdiff])], { axes: attr.ints([1]), keepdims: attr.int(0) });
  const recon = g.node('Add', [g.node('Mul', [keep, pixel]), g.node('Mul', [lambda, feature])]);
  // d recon / d G(z) = 2(1−λ)/P · diff (pixels) + D's feature layers' input gradient of 2λ/F · fdiff.
  const dFeat = g.node('Mul', [fdiff, g.node('Mul', [lambda, g.floatConst(2 / F)])]);
  const viaD = backwardNet(fPass, dFeat, split.featureParams, { input: true, params: false }).dx!;
  const viaPixels = gradFromTf(g, g.node('Mul', [diff, g.node('Mul', [keep, g.floatConst(2 / pixels)])]), gPass.out);
  const dImages = g.node('Add', [viaPixels, viaD]);
  const dz = backwardNet(gPass, dImages, gp.length, { input: true, params: false }).dx!;
  g.output('recon', recon, [BATCH]);
  g.output('pixel', pixel, [BATCH]);
  g.output('feature', feature, [BATCH]);
  g.output('dz', dz, [BATCH, G.inputShape[0]]);
  g.output('images', images, [BATCH, ...preset.imageShape]);
  return { model: g.toModel() };
}
