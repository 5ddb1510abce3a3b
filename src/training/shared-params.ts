/**
 * Parameters, Adam moments and gradient slots of one network in shared memory.
 *
 * The coordinator owns the parameters and writes them only between phases,
 * when no task is running; workers copy them into their tf variables when the
 * network's version has moved. Each shard of a phase writes its gradient into
 * its own slot (slots are indexed by shard, not by thread: piscina does not
 * pin tasks to threads), and the coordinator averages the slots.
 */
import { sharedMemory, type WasmMemory } from '../optim/adam-wasm.js';

/**
 * The shared memory of one network, as passed to workers in workerData: one
 * shared `WebAssembly.Memory` (its buffer is a SharedArrayBuffer) holding the
 * parameters, Adam's moments and the gradient slots at 16-byte aligned
 * offsets, so the SIMD Adam kernel (adam-wasm.ts) works on them in place.
 */
export interface SharedNetBuffers {
  /** Number of trainable scalars. */
  size: number;
  /** Number of gradient slots (= the most shards a phase uses). */
  slots: number;
  memory: WasmMemory;
  /** Byte offsets into `memory`. */
  params: number;
  /** Adam's first and second moment estimates. */
  m: number;
  v: number;
  grads: number[];
  /** Floats of batch-norm moving statistics (0 without batch norm) and their byte offset. */
  bnSize: number;
  bn: number;
  /**
   * Byte offset of the exponential moving average of the parameters (`size` floats; see
   * {@link emaView}), or null when the network keeps none (EMA off, or the discriminator).
   */
  ema: number | null;
  /** Where apply tasks save the values they are about to overwrite (see {@link saveApplyRange}), or null when there is none. */
  undo: UndoRegion | null;
}

/**
 * Byte offsets of the copies an apply task takes of its parameter range before writing to it:
 * parameters, Adam moments, the EMA (when the network keeps one) and gradient slot 0 (with three
 * or more slots, which the Adam kernel folds into slot 0). `flags` holds one int32 per range:
 * 1 once that range's copy is complete (from then on the task may write), 0 before.
 */
export interface UndoRegion {
  params: number;
  m: number;
  v: number;
  ema: number | null;
  slot0: number | null;
  flags: number;
}

const PAGE = 65536;

/**
 * Allocates parameter, moment and gradient memory for a network of `size`
 * scalars, `bnSize` floats of moving statistics (means 0, variances 1), and
 * with `ema` a region of `size` floats for the parameters' moving average
 * (zeros; the coordinator fills it), 16-byte aligned after the statistics.
 * With `undo`, an {@link UndoRegion} follows, so a failed Adam task can be undone.
 */
export function allocSharedNet(size: number, slots: number, bnSize = 0, ema = false, undo = false): SharedNetBuffers {
  const stride = Math.ceil((size * 4) / 16) * 16;
  const bnBytes = Math.ceil((bnSize * 4) / 16) * 16;
  const bn = (3 + slots) * stride;
  const emaAt = bn + bnBytes;
  let end = emaAt + (ema ? stride : 0);
  const take = (bytes: number): number => { const at = end; end += bytes; return at; };
  const undoRegion: UndoRegion | null = undo
    ? { params: take(stride), m: take(stride), v: take(stride), ema: ema ? take(stride) : null, slot0: slots > 2 ? take(stride) : null, flags: take(Math.ceil((slots * 4) / 16) * 16) }
    : null;
  const memory = sharedMemory(Math.ceil(end / PAGE) || 1);
  const net: SharedNetBuffers = {
    size, slots, memory,
    params: 0, m: stride, v: 2 * stride,
    grads: Array.from({ length: slots }, (_, k) => (3 + k) * stride),
    bnSize, bn,
    ema: ema ? emaAt : null,
    undo: undoRegion,
  };
  return net;
}

/** The (live, saved) pairs of byte offsets an apply task's undo copies. */
function undoPairs(net: SharedNetBuffers, undo: UndoRegion): [number, number][] {
  const pairs: [number, number][] = [[net.params, undo.params], [net.m, undo.m], [net.v, undo.v]];
  if (net.ema !== null && undo.ema !== null) pairs.push([net.ema, undo.ema]);
  if (undo.slot0 !== null) pairs.push([net.grads[0], undo.slot0]);
  return pairs;
}

function undoFlags(net: SharedNetBuffers, undo: UndoRegion): Int32Array {
  return new Int32Array(net.memory.buffer, undo.flags, net.slots);
}

/** Marks every range as not saved (the coordinator calls it before dispatching a phase's apply tasks). */
export function clearApplyRanges(net: SharedNetBuffers): void {
  if (net.undo) undoFlags(net, net.undo).fill(0);
}

/**
 * Called by apply task `range` before it writes: copies floats [lo, hi) of everything the task
 * writes into the undo region, then marks the range as saved. A no-op without an undo region.
 */
export function saveApplyRange(net: SharedNetBuffers, range: number, lo: number, hi: number): void {
  if (!net.undo) return;
  const f32 = new Float32Array(net.memory.buffer);
  for (const [live, saved] of undoPairs(net, net.undo)) f32.copyWithin(saved / 4 + lo, live / 4 + lo, live / 4 + hi);
  Atomics.store(undoFlags(net, net.undo), range, 1);
}

/**
 * After apply task `range` failed (its thread may have died part-way): when the task had saved
 * its range, writes the saved values back, so the range is as before the task, and returns true.
 * A task that failed before its copy was complete wrote nothing: returns false.
 */
export function undoApplyRange(net: SharedNetBuffers, range: number, lo: number, hi: number): boolean {
  if (!net.undo) return false;
  const flags = undoFlags(net, net.undo);
  if (Atomics.load(flags, range) !== 1) return false;
  const f32 = new Float32Array(net.memory.buffer);
  for (const [live, saved] of undoPairs(net, net.undo)) f32.copyWithin(live / 4 + lo, saved / 4 + lo, saved / 4 + hi);
  Atomics.store(flags, range, 0);
  return true;
}

/** The batch-norm moving statistics of a network (bnLayers layout; empty without batch norm). */
export function bnView(net: SharedNetBuffers): Float32Array {
  return new Float32Array(net.memory.buffer, net.bn, net.bnSize);
}

function view(net: SharedNetBuffers, byteOffset: number): Float32Array {
  return new Float32Array(net.memory.buffer, byteOffset, net.size);
}

/** The parameter vector of a network. */
export function paramsView(net: SharedNetBuffers): Float32Array {
  return view(net, net.params);
}

/** The moving average of a network's parameters (see ema.ts), or null when it keeps none. */
export function emaView(net: SharedNetBuffers): Float32Array | null {
  return net.ema === null ? null : view(net, net.ema);
}

/** Adam's moment vectors of a network. */
export function momentViews(net: SharedNetBuffers): { m: Float32Array; v: Float32Array } {
  return { m: view(net, net.m), v: view(net, net.v) };
}

/** The gradient slot of shard `k`. */
export function gradSlot(net: SharedNetBuffers, k: number): Float32Array {
  if (k < 0 || k >= net.slots) throw new RangeError(`gradient slot ${k} out of range 0..${net.slots - 1}`);
  return view(net, net.grads[k]);
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
    const s0 = slots[0], w0 = weights[0];
    for (let i = 0; i < n; i++) out[i] = w0 * s0[i];
    return;
  }
  if (slots.length === 2) {
    const s0 = slots[0], s1 = slots[1], w0 = weights[0], w1 = weights[1];
    for (let i = 0; i < n; i++) out[i] = w0 * s0[i] + w1 * s1[i];
    return;
  }
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let k = 0; k < slots.length; k++) acc += weights[k] * slots[k][i];
    out[i] = acc;
  }
}
