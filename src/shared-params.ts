/**
 * Parameters and gradient slots of one network in SharedArrayBuffer memory.
 *
 * The coordinator owns the parameters and writes them only between phases,
 * when no task is running; workers copy them into their tf variables when the
 * network's version has moved. Each shard of a phase writes its gradient into
 * its own slot (slots are indexed by shard, not by thread: piscina does not
 * pin tasks to threads), and the coordinator averages the slots.
 */
import type { AdamVectors } from './adam.js';

/** The shared buffers of one network, as passed to workers in workerData. */
export interface SharedNetBuffers {
  /** Number of trainable scalars. */
  size: number;
  /** Number of gradient slots (= the most shards a phase uses). */
  slots: number;
  params: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  /** Adam's first and second moment estimates. */
  m: SharedArrayBuffer;
  v: SharedArrayBuffer;
}

/** Allocates parameter and gradient memory for a network of `size` scalars. */
export function allocSharedNet(size: number, slots: number): SharedNetBuffers {
  return {
    size,
    slots,
    params: new SharedArrayBuffer(size * 4),
    grads: new SharedArrayBuffer(size * slots * 4),
    m: new SharedArrayBuffer(size * 4),
    v: new SharedArrayBuffer(size * 4),
  };
}

/** The parameter vector of a network. */
export function paramsView(net: SharedNetBuffers): Float32Array {
  return new Float32Array(net.params, 0, net.size);
}

/** The vectors Adam updates for this network, over the first `slots` gradient slots. */
export function adamVectors(net: SharedNetBuffers, slots = net.slots): AdamVectors {
  return {
    params: paramsView(net),
    m: new Float32Array(net.m, 0, net.size),
    v: new Float32Array(net.v, 0, net.size),
    slots: Array.from({ length: slots }, (_, k) => gradSlot(net, k)),
  };
}

/** The gradient slot of shard `k`. */
export function gradSlot(net: SharedNetBuffers, k: number): Float32Array {
  if (k < 0 || k >= net.slots) throw new RangeError(`gradient slot ${k} out of range 0..${net.slots - 1}`);
  return new Float32Array(net.grads, k * net.size * 4, net.size);
}

/**
 * Writes Σ_k weights[k] · slot_k into `out` (accumulating in float64), where
 * weights[k] is shard k's share of the batch. With shard-mean gradients this
 * is exactly the full-batch mean gradient, however unevenly the batch split.
 */
export function averageSlots(net: SharedNetBuffers, weights: readonly number[], out: Float32Array): void {
  const slots = weights.map((_, k) => gradSlot(net, k));
  const n = net.size;
  if (slots.length === 1) {
    const s0 = slots[0]!, w0 = weights[0]!;
    for (let i = 0; i < n; i++) out[i] = w0 * s0[i]!;
    return;
  }
  if (slots.length === 2) {
    const s0 = slots[0]!, s1 = slots[1]!, w0 = weights[0]!, w1 = weights[1]!;
    for (let i = 0; i < n; i++) out[i] = w0 * s0[i]! + w1 * s1[i]!;
    return;
  }
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let k = 0; k < slots.length; k++) acc += weights[k]! * slots[k]![i]!;
    out[i] = acc;
  }
}
