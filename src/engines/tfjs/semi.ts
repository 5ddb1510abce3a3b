/**
 * The tfjs backends' semi-supervised engine: the model of src/models/semi.ts
 * written as plain tf ops, differentiated by tf.variableGrads (autograd). It
 * is also the reference the onnx engine's hand-written backward is tested against.
 */
import type { Scalar, Tensor, Variable } from '@tensorflow/tfjs-core';
import { initBackend, type Tf } from './tf-backend.js';
import { SEMI_BN_EPSILON, semiFeatureWidth, semiNoiseWidth, semiParams, type SemiNet, type SemiSpec, type WnLayerSpec } from '../../models/semi.js';
import type { BackendName } from '../backend.js';
import type { SemiDInput, SemiDOutput, SemiEngine, SemiGInput } from '../semi-engine.js';
import { oneHotRows } from '../one-hot.js';

/** Per-layer parameter tensors: V, b and (trained scale) s. */
type LayerParams = { v: Tensor; b: Tensor; s: Tensor | null };

function layerParams(spec: SemiSpec, net: SemiNet, vars: readonly Tensor[]): LayerParams[] {
  const out: LayerParams[] = [];
  let k = 0;
  for (const l of spec[net]) {
    const scaled = l.trainScale && !l.batchNorm;
    out.push({ v: vars[k], b: vars[k + 1], s: scaled ? vars[k + 2] : null });
    k += scaled ? 3 : 2;
  }
  return out;
}

function activate(tf: Tf, x: Tensor, a: WnLayerSpec['activation']): Tensor {
  switch (a) {
    case 'relu': return tf.relu(x);
    case 'softplus': return tf.softplus(x);
    case 'tanh': return tf.tanh(x);
    case 'linear': return x;
  }
}

/** y = x · (s · V/‖V‖) + b, the norm per column. */
function wnDense(tf: Tf, x: Tensor, p: LayerParams): Tensor {
  const w = tf.div(p.v, tf.sqrt(tf.sum(tf.square(p.v), 0, true)));
  return tf.add(tf.matMul(x, p.s ? tf.mul(w, p.s) : w), p.b);
}

/**
 * D's forward pass on flat images x [N, P] in [-1, 1] (`eps` [N, semiNoiseWidth]
 * standard normals, or null for inference): the logits and the last hidden layer's features.
 */
export function semiDForward(tf: Tf, spec: SemiSpec, params: readonly Tensor[], x: Tensor, eps: Tensor | null): { logits: Tensor; features: Tensor } {
  const layers = layerParams(spec, 'd', params);
  let at = 0;
  const noisy = (h: Tensor, sigma: number): Tensor => {
    const width = h.shape[1]!;
    if (!eps) { at += width; return h; }
    const e = tf.slice(eps, [0, at], [-1, width]);
    at += width;
    return tf.add(h, tf.mul(e, sigma));
  };
  let h = noisy(tf.add(tf.mul(x, 0.5), 0.5), spec.inputNoise);
  let features = h;
  spec.d.forEach((l, i) => {
    h = activate(tf, wnDense(tf, h, layers[i]), l.activation);
    if (i < spec.d.length - 1) {
      if (i === spec.d.length - 2) features = h;
      h = noisy(h, spec.hiddenNoise);
    }
  });
  return { logits: h, features };
}

/** G's forward pass: z [N, latentDim] → flat images [N, P] on D's input scale. */
export function semiGForward(tf: Tf, spec: SemiSpec, params: readonly Tensor[], z: Tensor): Tensor {
  const layers = layerParams(spec, 'g', params);
  let h = z;
  spec.g.forEach((l, i) => {
    let pre: Tensor;
    if (l.batchNorm) {
      // Group batch norm: statistics over consecutive groups of spec.bnGroup rows, no scale, then the bias.
      const x = tf.reshape(tf.matMul(h, layers[i].v), [-1, spec.bnGroup, l.units]);
      const { mean, variance } = tf.moments(x, 1, true);
      pre = tf.add(tf.reshape(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, SEMI_BN_EPSILON))), [-1, l.units]), layers[i].b);
    } else pre = wnDense(tf, h, layers[i]);
    h = activate(tf, pre, l.activation);
  });
  return spec.gOutputFrom01 ? tf.sub(tf.mul(h, 2), 1) : h;
}

/** The semi-supervised loss terms as tf ops on logits [N, K], each a mean over rows (see src/models/semi.ts). */
export const semiLossTerms = {
  crossEntropy: (tf: Tf, logits: Tensor, y: Tensor): Scalar => tf.mean(tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1))),
  unlabelledReal: (tf: Tf, logits: Tensor): Scalar => {
    const lz = tf.logSumExp(logits, 1);
    return tf.mean(tf.sub(tf.softplus(lz), lz));
  },
  fake: (tf: Tf, logits: Tensor): Scalar => tf.mean(tf.softplus(tf.logSumExp(logits, 1))),
};

/** Starts TensorFlow.js on `backend` and makes variables for both networks. */
export async function createTfjsSemiEngine(backend: BackendName, spec: SemiSpec, unlabelled: boolean): Promise<SemiEngine> {
  const tf = await initBackend(backend);
  const vars: Record<SemiNet, Variable[]> = {
    d: semiParams(spec, 'd').map((p, i) => tf.variable(tf.zeros(p.shape), true, `semi-d/${i}`)),
    g: semiParams(spec, 'g').map((p, i) => tf.variable(tf.zeros(p.shape), true, `semi-g/${i}`)),
  };
  const P = spec.imageShape[0] * spec.imageShape[1] * spec.imageShape[2];
  const W = semiNoiseWidth(spec);
  const writeGrads = (grads: Record<string, Tensor>, net: SemiNet, out: Float32Array): void => {
    let offset = 0;
    for (const v of vars[net]) {
      out.set(grads[v.name].dataSync(), offset);
      offset += v.size;
    }
  };
  const fakeFeatures = (input: SemiGInput): Tensor => {
    const fake = semiGForward(tf, spec, vars.g, tf.tensor2d(input.z, [input.count, spec.latentDim]));
    return semiDForward(tf, spec, vars.d, fake, tf.tensor2d(input.noise.fake, [input.count, W])).features;
  };
  return {
    backend,
    setParams(net, params) {
      let offset = 0;
      for (const v of vars[net]) {
        const t = tf.tensor(params.subarray(offset, offset + v.size), v.shape);
        v.assign(t);
        t.dispose();
        offset += v.size;
      }
    },
    async dPhase(input: SemiDInput, grad: Float32Array): Promise<SemiDOutput> {
      const n = input.count;
      const parts = { supervised: 0, unsupervised: 0 };
      const { value, grads } = tf.variableGrads(() => {
        const y = tf.tensor2d(oneHotRows(input.labels, spec.classes), [n, spec.classes]);
        const lab = semiDForward(tf, spec, vars.d, tf.tensor2d(input.labelled, [n, P]), tf.tensor2d(input.noise.labelled, [n, W])).logits;
        const supervised = semiLossTerms.crossEntropy(tf, lab, y);
        if (!unlabelled) return supervised;
        const fake = semiGForward(tf, spec, vars.g, tf.tensor2d(input.z, [n, spec.latentDim]));
        const unl = semiDForward(tf, spec, vars.d, tf.tensor2d(input.unlabelled, [n, P]), tf.tensor2d(input.noise.unlabelled, [n, W])).logits;
        const fakeLogits = semiDForward(tf, spec, vars.d, fake, tf.tensor2d(input.noise.fake, [n, W])).logits;
        const unsupervised = tf.mul(tf.add(semiLossTerms.unlabelledReal(tf, unl), semiLossTerms.fake(tf, fakeLogits)), spec.unlabelledWeight / 2);
        parts.unsupervised = unsupervised.dataSync()[0];
        parts.supervised = supervised.dataSync()[0];
        return tf.add(supervised, unsupervised);
      }, vars.d);
      writeGrads(grads, 'd', grad);
      const loss = value.dataSync()[0];
      tf.dispose([value, ...Object.values(grads)]);
      return { loss, supervised: unlabelled ? parts.supervised : loss, unsupervised: parts.unsupervised };
    },
    async features(input) {
      return tf.tidy(() => {
        const real = semiDForward(tf, spec, vars.d, tf.tensor2d(input.unlabelled, [input.count, P]), tf.tensor2d(input.noise.unlabelled, [input.count, W])).features;
        return { real: tf.sum(real, 0).dataSync() as Float32Array, fake: tf.sum(fakeFeatures(input), 0).dataSync() as Float32Array };
      });
    },
    async gPhase(input, delta, grad) {
      if (delta.length !== semiFeatureWidth(spec)) throw new Error(`internal: δ has ${delta.length} values`);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.mean(fakeFeatures(input), 0), tf.tensor1d(delta))), vars.g);
      writeGrads(grads, 'g', grad);
      const loss = value.dataSync()[0];
      tf.dispose([value, ...Object.values(grads)]);
      return loss;
    },
    async logits(images, n) {
      return tf.tidy(() => semiDForward(tf, spec, vars.d, tf.tensor2d(images, [n, P]), null).logits.dataSync() as Float32Array);
    },
  };
}
