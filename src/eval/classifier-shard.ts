/**
 * A classifier worker's state and task handling (hosted by
 * workers/classifier-worker.ts): its own tf copy of the classifier, loaded
 * from the shared parameters when their version moves.
 */
import type { Scalar, Tensor, Variable } from '@tensorflow/tfjs-core';
import { initBackend } from '../engines/tfjs/tf-backend.js';
import { gradSlot, paramsView } from '../training/shared-params.js';
import { wasmAdam, type WasmAdam } from '../optim/adam-wasm.js';
import { hashInts, sfc32 } from '../util/rng.js';
import { buildClassifier, classifierVars } from './classifier-net.js';
import { CLASSES } from './classifier-spec.js';
import type {
  ClassifierApplyTask, ClassifierGradResult, ClassifierGradTask, ClassifierInit, ClassifierPredictResult, ClassifierPredictTask, ClassifierTask,
} from './classifier-protocol.js';

/** Rows per forward pass when predicting. */
const PREDICT_BATCH = 500;

/** A worker that runs classifier tasks. */
export interface ClassifierShard {
  run(task: ClassifierTask): unknown;
}

/** Builds the worker: starts the backend and builds the classifier. */
export async function createClassifierShard(init: ClassifierInit): Promise<ClassifierShard> {
  const tf = await initBackend(init.backend);
  const model = buildClassifier(init.imageShape, true);
  const vars = classifierVars(model);
  const params = paramsView(init.net);
  const sets = init.sets.map((s) => ({ pixels: new Uint8Array(s.pixels), labels: new Uint8Array(s.labels) }));
  const imageSize = init.imageShape[0] * init.imageShape[1] * init.imageShape[2];
  let version = -1;
  let adam: WasmAdam | null = null;

  const reload = (v: number): void => {
    if (v === version) return;
    let offset = 0;
    for (const variable of vars) {
      const t = tf.tensor(params.subarray(offset, offset + variable.size), variable.shape);
      variable.assign(t);
      t.dispose();
      offset += variable.size;
    }
    version = v;
  };

  /** Rows of `set` (and past its end, of `overflow`; see ClassifierGradTask) as [-1, 1] images and one-hot labels. */
  const batch = (set: number, indices: Uint32Array, augment?: number, overflow?: number): { x: Tensor; y: Tensor } => {
    const first = sets[set], count = init.sets[set].count;
    const out = new Float32Array(indices.length * imageSize);
    const ys = new Int32Array(indices.length);
    for (let r = 0; r < indices.length; r++) {
      const row = indices[r];
      const inFirst = row < count || overflow === undefined;
      const { pixels, labels } = inFirst ? first : sets[overflow];
      const at = inFirst ? row : row - count;
      const image = pixels.subarray(at * imageSize, (at + 1) * imageSize);
      const target = out.subarray(r * imageSize, (r + 1) * imageSize);
      if (augment === undefined) for (let i = 0; i < imageSize; i++) target[i] = image[i] / 127.5 - 1;
      else shifted(image, target, init.imageShape, sfc32(hashInts(augment, row)));
      ys[r] = labels[at]!;
    }
    // One-hot as int32 then cast: tf.oneHot(…, 'float32') is wrong on the wasm backend.
    const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(ys, 'int32'), CLASSES), 'float32'));
    return { x: tf.tensor4d(out, [indices.length, ...init.imageShape]), y };
  };

  /** Per-row cross-entropy of logits against one-hot labels. */
  const crossEntropy = (logits: Tensor, y: Tensor): Tensor => tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1));

  const grad = (task: ClassifierGradTask): ClassifierGradResult => {
    reload(task.version);
    const { x, y } = batch(task.set, task.indices, task.augment, task.overflow);
    const { value, grads } = tf.variableGrads(
      () => tf.mean<Scalar>(crossEntropy(model.apply(x, { training: true }) as Tensor, y)), vars);
    writeGrads(grads, vars, gradSlot(init.net, task.slot));
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads), x, y]);
    return { loss, numTensors: tf.memory().numTensors };
  };

  const predict = (task: ClassifierPredictTask): ClassifierPredictResult => {
    reload(task.version);
    let correct = 0, lossSum = 0;
    for (let first = 0; first < task.indices.length; first += PREDICT_BATCH) {
      const { x, y } = batch(task.set, task.indices.subarray(first, first + PREDICT_BATCH));
      const [hits, loss] = tf.tidy(() => {
        const logits = model.apply(x, { training: false }) as Tensor;
        const hit = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(y, 1)), 'float32'));
        return [hit.dataSync()[0], tf.sum(crossEntropy(logits, y)).dataSync()[0]];
      });
      correct += hits;
      lossSum += loss;
      tf.dispose([x, y]);
    }
    return { correct, lossSum };
  };

  const apply = (task: ClassifierApplyTask): null => {
    adam ??= wasmAdam(init.net.memory);
    const { params, m, v } = init.net.banks[0];
    adam.update({ params, m, v, slots: init.net.grads }, task.weights, task.t, task.opts, task.lo, task.hi);
    return null;
  };

  return {
    run(task) {
      switch (task.kind) {
        case 'grad': return grad(task);
        case 'predict': return predict(task);
        case 'apply': return apply(task);
        case 'probe': return { numTensors: tf.memory().numTensors, backend: tf.getBackend() };
      }
    },
  };
}

/** Largest shift of the training augmentation, in pixels. */
const MAX_SHIFT = 2;

/** Writes `image` scaled to [-1, 1] into `out`, moved by a random (dx, dy) in ±MAX_SHIFT; uncovered pixels are background (-1). */
function shifted(image: Uint8Array, out: Float32Array, [h, w, c]: readonly number[], next: () => number): void {
  const span = 2 * MAX_SHIFT + 1;
  const dx = Math.floor(next() * span) - MAX_SHIFT, dy = Math.floor(next() * span) - MAX_SHIFT;
  out.fill(-1);
  for (let y = Math.max(0, dy); y < Math.min(h, h + dy); y++) {
    for (let x = Math.max(0, dx); x < Math.min(w, w + dx); x++) {
      const src = ((y - dy) * w + (x - dx)) * c, dst = (y * w + x) * c;
      for (let k = 0; k < c; k++) out[dst + k] = image[src + k] / 127.5 - 1;
    }
  }
}

/** Copies each variable's gradient into its place in the slot. */
function writeGrads(grads: Record<string, Tensor>, vars: Variable[], slot: Float32Array): void {
  let offset = 0;
  for (const v of vars) {
    slot.set(grads[v.name].dataSync(), offset);
    offset += v.size;
  }
}
