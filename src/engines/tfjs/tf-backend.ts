/**
 * Loads TensorFlow.js into the current thread (a worker, or the main thread
 * for the no-pool baseline and for sampling from an exported generator) and
 * selects a backend. wasm runs single-threaded (the pool supplies the
 * parallelism), with ganpool's training kernels registered (src/engines/tfjs/kernels).
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers registers every op's gradient (tfjs-core alone registers none).
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendName } from '../backend.js';
import { backendInitFailed } from '../../errors.js';
import { registerWasmTrainingKernels } from './kernels/index.js';

/** The TensorFlow.js core namespace, as loaded by ganpool. */
export type Tf = typeof tf;

/** The calls of this thread, one at a time: two runs in one process (a sweep) must not race tf.setBackend. */
let queue: Promise<unknown> = Promise.resolve();

/** Loads and selects `name` in this thread; returns the tf namespace. Concurrent calls run one after the other. */
export function initBackend(name: BackendName): Promise<Tf> {
  const next = queue.then(() => initBackendNow(name));
  queue = next.catch(() => {});
  return next;
}

async function initBackendNow(name: BackendName): Promise<Tf> {
  if (name === 'tensorflow') {
    const spec = '@tensorflow/tfjs-node';
    await import(spec);
  }
  if (name === 'wasm') {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    registerWasmTrainingKernels();
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
    await tf.ready();
  } catch (e) {
    throw backendInitFailed(name, e);
  }
  if (!ok || tf.getBackend() !== name) throw backendInitFailed(name, undefined);
  // The cpu backend greets Node users with an "install tfjs-node" banner on first use; ganpool already chose.
  if (name === 'cpu') (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
  return tf;
}
