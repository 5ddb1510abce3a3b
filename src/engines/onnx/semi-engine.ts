/**
 * The onnx backend's semi-supervised engine: the graphs of semi-compile.ts
 * in ONNX Runtime sessions, one thread each (the pool supplies the parallelism).
 */
import type * as Ort from 'onnxruntime-node';
import { semiNoiseWidth, semiParams, type SemiNet, type SemiSpec } from '../../models/semi.js';
import type { SemiDInput, SemiDOutput, SemiEngine, SemiGInput } from '../semi-engine.js';
import { compileSemiDPhase, compileSemiGPhase, compileSemiGStats, compileSemiLogits } from './semi-compile.js';
import { ONNX_SESSION_OPTIONS } from './engine.js';
import { oneHotRows } from '../one-hot.js';

/** Loads onnxruntime-node and creates the sessions of `spec`'s graphs (D's phase with unlabelled rows when `unlabelled`). */
export async function createOnnxSemiEngine(spec: SemiSpec, unlabelled: boolean): Promise<SemiEngine> {
  const ort = await import('onnxruntime-node');
  const create = (model: Uint8Array): Promise<Ort.InferenceSession> => ort.InferenceSession.create(model, ONNX_SESSION_OPTIONS);
  const [dSession, statsSession, gSession, logitsSession] = await Promise.all([
    create(compileSemiDPhase(spec, unlabelled).model),
    unlabelled ? create(compileSemiGStats(spec).model) : null,
    unlabelled ? create(compileSemiGPhase(spec).model) : null,
    create(compileSemiLogits(spec).model),
  ]);
  const feeds: Record<string, Ort.Tensor> = {};
  const buffers: Record<SemiNet, Float32Array[]> = { d: [], g: [] };
  for (const net of ['d', 'g'] as const) {
    semiParams(spec, net).forEach((p, i) => {
      const b = new Float32Array(p.shape.reduce((a, c) => a * c, 1));
      buffers[net].push(b);
      feeds[`${net}.${i}`] = new ort.Tensor('float32', b, p.shape);
    });
  }
  const W = semiNoiseWidth(spec);
  const images = (data: Float32Array, n: number): Ort.Tensor => new ort.Tensor('float32', data, [n, ...spec.imageShape]);
  const noise = (data: Float32Array, n: number): Ort.Tensor => new ort.Tensor('float32', data, [n, W]);
  const run = async (session: Ort.InferenceSession, extra: Record<string, Ort.Tensor>): Promise<Ort.InferenceSession.OnnxValueMapType> => {
    const all: Record<string, Ort.Tensor> = { ...extra };
    for (const name of session.inputNames) if (feeds[name]) all[name] = feeds[name]!;
    return session.run(all);
  };
  const floats = (out: Ort.InferenceSession.OnnxValueMapType, name: string): Float32Array => {
    const t = out[name];
    if (!t) throw new Error(`internal: the onnx graph has no output '${name}'`);
    return t.data as Float32Array;
  };
  const writeGrads = (out: Ort.InferenceSession.OnnxValueMapType, net: SemiNet, grad: Float32Array): void => {
    let offset = 0;
    for (let i = 0; i < buffers[net].length; i++) {
      const g = floats(out, `grad.${i}`);
      grad.set(g, offset);
      offset += g.length;
    }
  };
  const gFeeds = (input: SemiGInput): Record<string, Ort.Tensor> => ({
    z: new ort.Tensor('float32', input.z, [input.count, spec.latentDim]),
    'eps.fake': noise(input.noise.fake, input.count),
  });
  return {
    backend: 'onnx',
    setParams(net, params) {
      let offset = 0;
      for (const b of buffers[net]) {
        b.set(params.subarray(offset, offset + b.length));
        offset += b.length;
      }
    },
    async dPhase(input: SemiDInput, grad: Float32Array): Promise<SemiDOutput> {
      const n = input.count;
      const extra: Record<string, Ort.Tensor> = {
        lab: images(input.labelled, n),
        y: new ort.Tensor('float32', oneHotRows(input.labels, spec.classes), [n, spec.classes]),
        'eps.lab': noise(input.noise.labelled, n),
      };
      if (unlabelled) {
        extra.unl = images(input.unlabelled, n);
        extra.z = new ort.Tensor('float32', input.z, [n, spec.latentDim]);
        extra['eps.unl'] = noise(input.noise.unlabelled, n);
        extra['eps.fake'] = noise(input.noise.fake, n);
      }
      const out = await run(dSession, extra);
      writeGrads(out, 'd', grad);
      return { loss: floats(out, 'loss')[0], supervised: floats(out, 'supervised')[0], unsupervised: floats(out, 'unsupervised')[0] };
    },
    async features(input) {
      if (!statsSession) throw new Error('internal: G phases need unlabelled rows');
      const out = await run(statsSession, { ...gFeeds(input), unl: images(input.unlabelled, input.count), 'eps.unl': noise(input.noise.unlabelled, input.count) });
      return { real: floats(out, 'feat.real').slice(), fake: floats(out, 'feat.fake').slice() };
    },
    async gPhase(input, delta, grad) {
      if (!gSession) throw new Error('internal: G phases need unlabelled rows');
      const out = await run(gSession, { ...gFeeds(input), delta: new ort.Tensor('float32', delta, [delta.length]) });
      writeGrads(out, 'g', grad);
      return floats(out, 'loss')[0];
    },
    async logits(data, n) {
      const out = await run(logitsSession, { images: images(data, n) });
      return floats(out, 'logits').slice();
    },
  };
}
