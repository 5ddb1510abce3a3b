/**
 * The semi-supervised GAN's ONNX graphs (src/models/semi.ts): D's training
 * phase, G's two (the feature statistics, then the feature-matching
 * gradient), D's inference logits, and the self-contained classifier file.
 *
 * Inputs: `lab`, `unl` [N,H,W,C] ([-1, 1]), `y` [N,K] one-hot labels of `lab`,
 * `z` [N, latentDim], `eps.lab`, `eps.unl`, `eps.fake` [N, semiNoiseWidth]
 * (standard normals), `delta` [F], `d.0..`, `g.0..` (semiParams order),
 * `images` [N,H,W,C]. Outputs: `loss`, `supervised`, `unsupervised`
 * (scalars), `grad.0..`, `feat.real`, `feat.fake` ([F], sums over rows),
 * `logits` [N,K].
 */
import { attr, BATCH, GraphBuilder } from './graph.js';
import { semiFeatureWidth, semiNoiseWidth, semiParams, type SemiNet, type SemiSpec } from '../../models/semi.js';
import { CROSS_ENTROPY, FAKE, FEATURE_MATCHING, UNLABELLED_REAL, backwardSemi, forwardSemi } from './semi-layers.js';

function params(g: GraphBuilder, spec: SemiSpec, net: SemiNet): string[] {
  return semiParams(spec, net).map((p, i) => g.input(`${net}.${i}`, p.shape));
}

/** An image input [N,H,W,C], flattened to [N, H·W·C] (NHWC order, as the dense layer's rows). */
function imagesInput(g: GraphBuilder, spec: SemiSpec, name: string): string {
  return g.node('Reshape', [g.input(name, [BATCH, ...spec.imageShape]), g.int64Const([0, -1])]);
}

function outputGrads(g: GraphBuilder, spec: SemiSpec, net: SemiNet, grads: (string | null)[]): void {
  const shapes = semiParams(spec, net);
  grads.forEach((v, i) => {
    if (!v) throw new Error(`internal: no gradient for ${net} parameter ${i}`);
    g.output(`grad.${i}`, v, shapes[i].shape);
  });
}

/**
 * D's training phase on one shard: labelled rows (cross-entropy), and with
 * `unlabelled` the unlabelled real rows and G(z)'s fake rows (the
 * unsupervised terms, weighted w/2); outputs the loss, its two parts and
 * D's gradient. All rows go through D as one batch.
 */
export function compileSemiDPhase(spec: SemiSpec, unlabelled: boolean): { model: Uint8Array } {
  const g = new GraphBuilder('ganpool-semi-d');
  const noise = (name: string): string => g.input(name, [BATCH, semiNoiseWidth(spec)]);
  const lab = imagesInput(g, spec, 'lab');
  const y = g.input('y', [BATCH, spec.classes]);
  const epsLab = noise('eps.lab');
  const dp = params(g, spec, 'd');
  let rows = lab, eps = epsLab;
  if (unlabelled) {
    const unl = imagesInput(g, spec, 'unl');
    const z = g.input('z', [BATCH, spec.latentDim]);
    const epsUnl = noise('eps.unl'), epsFake = noise('eps.fake');
    const gp = params(g, spec, 'g');
    const fake = forwardSemi(g, spec.g, z, gp, { gFrom01: spec.gOutputFrom01, bnGroup: spec.bnGroup }).out;
    rows = g.node('Concat', [lab, unl, fake], { axis: attr.int(0) });
    eps = g.node('Concat', [epsLab, epsUnl, epsFake], { axis: attr.int(0) });
  }
  const pass = forwardSemi(g, spec.d, rows, dp, { d: { noise: { eps, spec } } });
  let loss: string, dLogits: string;
  if (unlabelled) {
    const [lL, lU, lF] = g.nodeN('Split', [pass.out], 3, { axis: attr.int(0) }) as [string, string, string];
    const w = g.floatConst(spec.unlabelledWeight / 2);
    const supervised = CROSS_ENTROPY.forward(g, lL, y);
    const unsupervised = g.node('Mul', [w, g.node('Add', [UNLABELLED_REAL.forward(g, lU), FAKE.forward(g, lF)])]);
    loss = g.node('Add', [supervised, unsupervised]);
    g.output('supervised', supervised, []);
    g.output('unsupervised', unsupervised, []);
    dLogits = g.node('Concat', [
      CROSS_ENTROPY.backward(g, lL, y), g.node('Mul', [w, UNLABELLED_REAL.backward(g, lU)]), g.node('Mul', [w, FAKE.backward(g, lF)]),
    ], { axis: attr.int(0) });
  } else {
    loss = CROSS_ENTROPY.forward(g, pass.out, y);
    g.output('supervised', loss, []);
    g.output('unsupervised', g.floatConst(0), []);
    dLogits = CROSS_ENTROPY.backward(g, pass.out, y);
  }
  g.output('loss', loss, []);
  outputGrads(g, spec, 'd', backwardSemi(pass, dLogits, dp.length, { input: false, params: true }).grads);
  return { model: g.toModel() };
}

/** The fake rows' D features [N, F] in training mode (noise on), and the pass's records. */
function fakeFeatures(g: GraphBuilder, spec: SemiSpec): { gPass: ReturnType<typeof forwardSemi>; dPass: ReturnType<typeof forwardSemi>; gp: string[]; dp: string[] } {
  const z = g.input('z', [BATCH, spec.latentDim]);
  const epsFake = g.input('eps.fake', [BATCH, semiNoiseWidth(spec)]);
  const gp = params(g, spec, 'g'), dp = params(g, spec, 'd');
  const gPass = forwardSemi(g, spec.g, z, gp, { gFrom01: spec.gOutputFrom01, bnGroup: spec.bnGroup });
  const dPass = forwardSemi(g, spec.d, gPass.out, dp, { d: { noise: { eps: epsFake, spec } }, upTo: spec.d.length - 1 });
  return { gPass, dPass, gp, dp };
}

/** G's statistics pass: the sums over the shard's rows of D's features of the unlabelled real rows and of G(z) (`feat.real`, `feat.fake`). */
export function compileSemiGStats(spec: SemiSpec): { model: Uint8Array } {
  const g = new GraphBuilder('ganpool-semi-g-stats');
  const { dPass, dp } = fakeFeatures(g, spec);
  const unl = imagesInput(g, spec, 'unl');
  const epsUnl = g.input('eps.unl', [BATCH, semiNoiseWidth(spec)]);
  const real = forwardSemi(g, spec.d, unl, dp, { d: { noise: { eps: epsUnl, spec } }, upTo: spec.d.length - 1 });
  const F = semiFeatureWidth(spec);
  const sum = (x: string): string => g.node('ReduceSum', [x, g.int64Const([0])], { keepdims: attr.int(0) });
  g.output('feat.real', sum(real.features!), [F]);
  g.output('feat.fake', sum(dPass.features!), [F]);
  return { model: g.toModel() };
}

/**
 * G's training phase on one shard, given `delta` = 2(m_fake − m_real)/F from
 * the statistics pass: the loss ⟨δ, mean_rows f(G(z))⟩ (see FEATURE_MATCHING)
 * and G's gradient through D's feature layers.
 */
export function compileSemiGPhase(spec: SemiSpec): { model: Uint8Array } {
  const g = new GraphBuilder('ganpool-semi-g');
  const { gPass, dPass, gp, dp } = fakeFeatures(g, spec);
  const delta = g.input('delta', [semiFeatureWidth(spec)]);
  const feats = dPass.features!;
  g.output('loss', FEATURE_MATCHING.forward(g, feats, delta), []);
  const dFeat = FEATURE_MATCHING.backward(g, feats, delta);
  const dFake = backwardSemi(dPass, dFeat, dp.length, { input: true, params: false }).dx!;
  outputGrads(g, spec, 'g', backwardSemi(gPass, dFake, gp.length, { input: false, params: true }).grads);
  return { model: g.toModel() };
}

/** D's inference logits (noise off): input `images`, parameters `d.*` as inputs; output `logits` [N,K]. */
export function compileSemiLogits(spec: SemiSpec): { model: Uint8Array } {
  const g = new GraphBuilder('ganpool-semi-logits');
  const x = imagesInput(g, spec, 'images');
  const pass = forwardSemi(g, spec.d, x, params(g, spec, 'd'), { d: { noise: null } });
  g.output('logits', pass.out, [BATCH, spec.classes]);
  return { model: g.toModel() };
}

/**
 * The self-contained classifier: D's inference graph with `dParams` as
 * initializers; input `images` float32 [N,H,W,C] in [-1, 1], output
 * `logits` [N,K]; `metadata` as metadata_props.
 */
export function semiClassifierOnnx(spec: SemiSpec, dParams: Float32Array, metadata: Record<string, string>): Uint8Array {
  const g = new GraphBuilder('ganpool-classifier');
  const x = imagesInput(g, spec, 'images');
  let offset = 0;
  const ps = semiParams(spec, 'd').map((p, i) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const name = g.initializer(`d.${i}`, dParams.subarray(offset, offset + n), p.shape);
    offset += n;
    return name;
  });
  if (offset !== dParams.length) throw new Error(`semiClassifierOnnx: ${dParams.length} parameters, the classifier has ${offset}`);
  const pass = forwardSemi(g, spec.d, x, ps, { d: { noise: null } });
  g.output('logits', pass.out, [BATCH, spec.classes]);
  return g.toModel(metadata);
}
