/**
 * The tfjs engine: TensorFlow.js (wasm with ganpool's training kernels, cpu,
 * or tfjs-node) computes a phase with `tf.variableGrads` over the plain-ops
 * forward pass (ops-forward.ts) on its own tf variables.
 */
import type { Scalar, Tensor, Variable } from '@tensorflow/tfjs-core';
import { initBackend, type Tf } from './tf-backend.js';
import { opsForward } from './ops-forward.js';
import { bnLayers, paramShapes, splitDiscriminator, type ModelPreset, type NetSpec } from '../../models/presets.js';
import type { BackendName } from '../backend.js';
import type { BnPassStats, Discrimination, Engine, EngineOptions, LatentInput, LatentOutput, NetName, PhaseInput, PhaseOutput } from '../engine.js';
import { oneHotRows, phaseLabels } from '../one-hot.js';
import { TF_GAN_LOSSES, type TfLossTerm } from './losses.js';

/** A view of a tensor's values without a copy where the backend allows (wasm heap), else a copy. */
function valuesOf(tf: Tf, t: Tensor): Float32Array {
  const backend = tf.backend() as unknown as { typedArrayFromHeap?: (t: Tensor) => Float32Array };
  return backend.typedArrayFromHeap ? backend.typedArrayFromHeap(t) : (t.dataSync() as Float32Array);
}

interface TfNet {
  spec: NetSpec;
  vars: Variable[];
  hasBn: boolean;
}

function buildVars(tf: Tf, spec: NetSpec, name: string): TfNet {
  const vars = paramShapes(spec).map((p) => tf.variable(tf.zeros(p.shape), true, `${name}/${p.name}`));
  return { spec, vars, hasBn: bnLayers(spec).length > 0 };
}

function assign(tf: Tf, net: TfNet, params: Float32Array): void {
  let offset = 0;
  for (const v of net.vars) {
    const t = tf.tensor(params.subarray(offset, offset + v.size), v.shape);
    v.assign(t);
    t.dispose();
    offset += v.size;
  }
}

/** Starts TensorFlow.js on `backend` in this thread and makes variables for both networks; the phases compute `options.loss`. */
export async function createTfjsEngine(backend: BackendName, preset: ModelPreset, options: EngineOptions): Promise<Engine> {
  const tf = await initBackend(backend);
  const nets: Record<NetName, TfNet> = {
    g: buildVars(tf, preset.generator, 'generator'),
    d: buildVars(tf, preset.discriminator, 'discriminator'),
  };
  /** G's input width: the latent noise, plus the one-hot label of a conditional preset. */
  const gIn = preset.generator.inputShape[0];

  /** D split before its last dense layer (ganpool score's features); unconditional presets only. */
  const discriminatorSplit = (): ReturnType<typeof splitDiscriminator> => {
    if (preset.classes > 0) throw new Error('internal: discriminate and latent support unconditional presets only');
    return splitDiscriminator(preset.discriminator);
  };

  const lossTerms = TF_GAN_LOSSES[options.loss];
  const term = (fn: TfLossTerm, logits: Tensor): Tensor => tf.tidy(() => fn(tf, logits));

  /**
   * A training-mode pass that records its BN statistics (when the net has BN) as pass `passes.length`;
   * `labels` (one-hot rows) are the classes of a conditional D pass's images.
   */
  const passes: { net: NetName; stats: Tensor[] }[] = [];
  const train = (which: NetName, x: Tensor, labels?: Tensor): Tensor => {
    const net = nets[which];
    if (!net.hasBn) return opsForward(tf, net.spec, net.vars, x, undefined, labels);
    const stats: Tensor[] = [];
    passes.push({ net: which, stats });
    return opsForward(tf, net.spec, net.vars, x, { training: true, stats }, labels);
  };

  /** `labels` as one-hot rows (null for an unconditional preset); checked before the phase makes any tensor. */
  const oneHot = (labels: Int32Array | null, count: number, what: string): Float32Array | null => {
    const l = phaseLabels(labels, count, preset.classes, what);
    return l ? oneHotRows(l, preset.classes) : null;
  };
  const labelTensor = (rows: Float32Array | null, count: number): Tensor | undefined =>
    rows ? tf.tensor2d(rows, [count, preset.classes]) : undefined;

  const collect = (): BnPassStats[] => {
    const out = passes.map(({ net, stats }) => {
      const layers = bnLayers(nets[net].spec);
      const values = new Float32Array(layers.reduce((n, l) => n + 2 * l.channels, 0));
      let offset = 0;
      for (let i = 0; i < layers.length; i++) {
        const c = layers[i].channels;
        values.set(stats[2 * i].dataSync(), offset);
        values.set(stats[2 * i + 1].dataSync(), offset + c);
        offset += 2 * c;
      }
      tf.dispose(stats);
      return { net, values };
    });
    passes.length = 0;
    return out;
  };

  return {
    backend,
    setParams: (which, params) => assign(tf, nets[which], params),

    async phase(input: PhaseInput, grad: Float32Array): Promise<PhaseOutput> {
      // Labels are checked before any tensor is made, so a refused phase leaks none.
      const fakeHot = oneHot(input.fakeLabels, input.count, 'fake rows');
      const realHot = input.phase === 'd' ? oneHot(input.realLabels, input.count, 'real rows') : null;
      const z = tf.tensor2d(input.z, [input.count, gIn]);
      const yFake = labelTensor(fakeHot, input.count);
      const owned: Tensor[] = [z, ...(yFake ? [yFake] : [])];
      let lossFn: () => Scalar;
      if (input.phase === 'd') {
        const real = tf.tensor4d(input.real!, [input.count, ...preset.imageShape]);
        const yReal = labelTensor(realHot, input.count);
        const fake = tf.tidy(() => train('g', z));
        owned.push(real, fake, ...(yReal ? [yReal] : []));
        lossFn = () => tf.add<Scalar>(term(lossTerms.dReal, train('d', real, yReal)), term(lossTerms.dFake, train('d', fake, yFake)));
      } else {
        lossFn = () => term(lossTerms.g, train('d', train('g', z), yFake)) as Scalar;
      }
      const net = nets[input.phase];
      const { value, grads } = tf.variableGrads(lossFn, net.vars);
      let offset = 0;
      for (const v of net.vars) {
        grad.set(valuesOf(tf, grads[v.name]), offset);
        offset += v.size;
      }
      const loss = value.dataSync()[0];
      tf.dispose([value, ...Object.values(grads), ...owned]);
      return { loss, bnStats: collect() };
    },

    async sample(zValues: Float32Array, n: number, gBn: Float32Array): Promise<Float32Array> {
      const g = nets.g;
      const images = tf.tidy(() => opsForward(tf, g.spec, g.vars, tf.tensor2d(zValues, [n, gIn]), { training: false, moving: gBn }));
      const out = images.dataSync() as Float32Array;
      images.dispose();
      return out;
    },

    async discriminate(images: Float32Array, n: number, dBn: Float32Array): Promise<Discrimination> {
      const split = discriminatorSplit();
      const d = nets.d;
      const [logits, features] = tf.tidy(() => {
        const x = tf.tensor4d(images, [n, ...preset.imageShape]);
        const f = opsForward(tf, split.features, d.vars.slice(0, split.featureParams), x, { training: false, moving: dBn });
        return [opsForward(tf, split.head, d.vars.slice(split.featureParams), f), f];
      });
      const out = { logits: logits.dataSync() as Float32Array, features: features.dataSync() as Float32Array };
      tf.dispose([logits, features]);
      return out;
    },

    async latent(input: LatentInput, gBn: Float32Array, dBn: Float32Array): Promise<LatentOutput> {
      const split = discriminatorSplit();
      const g = nets.g, d = nets.d;
      const n = input.count;
      const kept: Tensor[] = [];
      const dz = tf.tidy(() => {
        const target = tf.tensor4d(input.target, [n, ...preset.imageShape]);
        const targetFeatures = tf.tensor2d(input.targetFeatures, [n, split.featureSize]);
        const objective = (z: Tensor): Tensor => {
          const images = opsForward(tf, g.spec, g.vars, z, { training: false, moving: gBn });
          const f = opsForward(tf, split.features, d.vars.slice(0, split.featureParams), images, { training: false, moving: dBn });
          const pixel = tf.mean(tf.square(tf.sub(images, target)), [1, 2, 3]);
          const feature = tf.mean(tf.square(tf.sub(f, targetFeatures)), 1);
          const recon = tf.add(tf.mul(1 - input.lambda, pixel), tf.mul(input.lambda, feature));
          kept.push(tf.keep(recon), tf.keep(pixel), tf.keep(feature), tf.keep(images));
          return tf.sum(recon);
        };
        return tf.grad(objective)(tf.tensor2d(input.z, [n, gIn]));
      });
      const [recon, pixel, feature, images] = kept.map((t) => t.dataSync() as Float32Array) as [Float32Array, Float32Array, Float32Array, Float32Array];
      const out = { recon, pixel, feature, images, dz: dz.dataSync() as Float32Array };
      tf.dispose([dz, ...kept]);
      return out;
    },

    liveObjects: () => tf.memory().numTensors,
  };
}
