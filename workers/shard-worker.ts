/**
 * One shard worker's state and task handling, independent of how it is
 * hosted: piscina runs it in a worker thread (gan-worker.ts), and the no-pool
 * baseline runs it on the main thread.
 */
import type { io, Scalar, Tensor, Variable } from '@tensorflow/tfjs-core';
import { initBackend, type Tf } from '../src/tf-backend.js';
import { latentNoise, NoiseStream } from '../src/rng.js';
import { paramsView, gradSlot, type SharedNetBuffers } from '../src/shared-params.js';
import { wasmAdam, type WasmAdam } from '../src/adam-wasm.js';
import type {
  ApplyResult, ApplyTask, ExportResult, ExportTask, GradResult, GradTask, ProbeResult, SampleResult, SampleTask, Task, WorkerInit,
} from '../src/protocol.js';
import { buildNet, type BuiltNet } from './build-model.js';
import { opsForward, opsForwardSupports } from './ops-forward.js';

/** A worker that runs tasks against its own tf copies of G and D. */
export interface ShardWorker {
  run(task: Task): GradResult | ApplyResult | SampleResult | ProbeResult | Promise<ExportResult>;
}

interface Net extends BuiltNet {
  shared: SharedNetBuffers;
  version: number;
  adam: WasmAdam | null;
}

function reload(tf: Tf, net: Net, version: number): void {
  if (net.version === version) return;
  const params = paramsView(net.shared);
  let offset = 0;
  for (const v of net.vars) {
    const n = v.size;
    const t = tf.tensor(params.subarray(offset, offset + n), v.shape);
    v.assign(t);
    t.dispose();
    offset += n;
  }
  net.version = version;
}

/** A view of a tensor's values without a copy where the backend allows (wasm heap), else a copy. */
function valuesOf(tf: Tf, t: Tensor): Float32Array {
  const backend = tf.backend() as unknown as { typedArrayFromHeap?: (t: Tensor) => Float32Array };
  return backend.typedArrayFromHeap ? backend.typedArrayFromHeap(t) : (t.dataSync() as Float32Array);
}

function writeGrads(tf: Tf, grads: Record<string, Tensor>, vars: Variable[], slot: Float32Array): void {
  let offset = 0;
  for (const v of vars) {
    slot.set(valuesOf(tf, grads[v.name]!), offset);
    offset += v.size;
  }
}

/** Builds the worker: starts the backend, builds both networks, loads the shared weights. */
export async function createShardWorker(init: WorkerInit, threadId: number): Promise<ShardWorker> {
  const tf = await initBackend(init.backend);
  const { preset, data } = init;
  const g: Net = { ...buildNet(preset.generator, 'generator'), shared: init.g, version: -1, adam: null };
  const d: Net = { ...buildNet(preset.discriminator, 'discriminator'), shared: init.d, version: -1, adam: null };
  const pixels = new Uint8Array(data.pixels);
  const imageSize = data.shape[0] * data.shape[1] * data.shape[2];
  const latent = preset.latentDim;

  const noise = (task: GradTask): Tensor => {
    const stream = task.phase === 'd' ? NoiseStream.Discriminator : NoiseStream.Generator;
    const z = latentNoise(new Float32Array(task.count * latent), init.seed, task.step, stream, task.first, latent);
    return tf.tensor2d(z, [task.count, latent]);
  };

  const realImages = (indices: Uint32Array): Tensor => {
    const out = new Float32Array(indices.length * imageSize);
    for (let r = 0; r < indices.length; r++) {
      const src = indices[r]! * imageSize, dst = r * imageSize;
      for (let i = 0; i < imageSize; i++) out[dst + i] = pixels[src + i]! / 127.5 - 1;
    }
    return tf.tensor4d(out, [indices.length, ...data.shape]);
  };

  // Training passes use plain ops where the net has no batch norm (same math, fewer gradients computed).
  const ops = { g: opsForwardSupports(preset.generator), d: opsForwardSupports(preset.discriminator) };
  const apply = (net: Net, x: Tensor, training: boolean): Tensor => {
    const spec = net === g ? preset.generator : preset.discriminator;
    if (training && (net === g ? ops.g : ops.d)) return opsForward(tf, spec, net.vars, x);
    return net.model.apply(x, { training }) as Tensor;
  };
  const bce = (logits: Tensor, label: 0 | 1): Tensor =>
    tf.tidy(() => {
      // mean(softplus(-l)) for label 1, mean(softplus(l)) for label 0, in the stable form.
      const signed = label === 1 ? tf.neg(logits) : logits;
      return tf.mean(tf.add(tf.relu(signed), tf.log1p(tf.exp(tf.neg(tf.abs(signed))))));
    });

  const grad = (task: GradTask): GradResult => {
    const r0 = performance.now();
    reload(tf, g, task.gVersion);
    reload(tf, d, task.dVersion);
    const t0 = performance.now();
    const z = noise(task);
    let lossFn: () => Scalar;
    const owned: Tensor[] = [z];
    if (task.phase === 'd') {
      const real = realImages(task.indices!);
      const fake = tf.tidy(() => apply(g, z, true));
      owned.push(real, fake);
      lossFn = () => tf.add(bce(apply(d, real, true), 1), bce(apply(d, fake, true), 0)) as Scalar;
    } else {
      lossFn = () => bce(apply(d, apply(g, z, true), true), 1) as Scalar;
    }
    const net = task.phase === 'd' ? d : g;
    const { value, grads } = tf.variableGrads(lossFn, net.vars);
    writeGrads(tf, grads, net.vars, gradSlot(net.shared, task.slot));
    const loss = value.dataSync()[0]!;
    tf.dispose([value, ...Object.values(grads), ...owned]);
    const t1 = performance.now();
    return { loss, computeMs: t1 - t0, reloadMs: t0 - r0, numTensors: tf.memory().numTensors, threadId };
  };

  const applyAdam = (task: ApplyTask): ApplyResult => {
    const t0 = performance.now();
    const net = task.net === 'd' ? d : g;
    net.adam ??= wasmAdam(net.shared.memory);
    const { params, m, v, grads } = net.shared;
    net.adam.update({ params, m, v, slots: grads }, task.weights, task.t, task.opts, task.lo, task.hi);
    return { ms: performance.now() - t0 };
  };

  const sample = (task: SampleTask): SampleResult => {
    reload(tf, g, task.gVersion);
    const z = latentNoise(new Float32Array(task.n * latent), task.seed, 0, NoiseStream.Sample, 0, latent);
    const images = tf.tidy(() => apply(g, tf.tensor2d(z, [task.n, latent]), false));
    const out = images.dataSync() as Float32Array;
    images.dispose();
    return { images: out };
  };

  const exportGenerator = async (task: ExportTask): Promise<ExportResult> => {
    reload(tf, g, task.gVersion);
    let captured: io.ModelArtifacts | undefined;
    await g.model.save(tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }));
    const a = captured!;
    const weightData = a.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(a.weightData);
    const result: ExportResult = {
      modelTopology: a.modelTopology as {},
      weightSpecs: (a.weightSpecs ?? []).map((w) => ({ name: w.name, shape: w.shape, dtype: w.dtype })),
      weightData,
    };
    if (a.format !== undefined) result.format = a.format;
    if (a.generatedBy !== undefined) result.generatedBy = a.generatedBy;
    return result;
  };

  return {
    run(task: Task) {
      switch (task.kind) {
        case 'grad': return grad(task);
        case 'apply': return applyAdam(task);
        case 'sample': return sample(task);
        case 'probe': return { numTensors: tf.memory().numTensors, threadId, backend: tf.getBackend() };
        case 'export': return exportGenerator(task);
      }
    },
  };
}
