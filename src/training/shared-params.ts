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
 * Byte offsets of the copies the lockstep loop's Adam stage takes of a worker's parameter range
 * before writing to it: parameters, Adam moments, the EMA (when the network keeps one), gradient
 * slot 0 (with three or more slots, which the Adam kernel folds into slot 0) and the batch-norm
 * moving statistics (which worker 0 folds in the same stage). `flags` holds one int32 per range,
 * plus one for the statistics: the mark of the phase whose values the copy holds, once the copy is
 * complete (from then on the range may be written), 0 while it is being taken.
 */
export interface UndoRegion {
  params: number;
  m: number;
  v: number;
  ema: number | null;
  slot0: number | null;
  bn: number;
  flags: number;
}

const PAGE = 65536;

/**
 * Allocates parameter, moment and gradient memory for a network of `size`
 * scalars, `bnSize` floats of moving statistics (means 0, variances 1), and
 * with `ema` a region of `size` floats for the parameters' moving average
 * (zeros; the coordinator fills it), 16-byte aligned after the statistics.
 * With `undo`, an {@link UndoRegion} follows, so a failed Adam stage can be undone.
 */
export function allocSharedNet(size: number, slots: number, bnSize = 0, ema = false, undo = false): SharedNetBuffers {
  const stride = Math.ceil((size * 4) / 16) * 16;
  const bnBytes = Math.ceil((bnSize * 4) / 16) * 16;
  const bn = (3 + slots) * stride;
  const emaAt = bn + bnBytes;
  let end = emaAt + (ema ? stride : 0);
  const take = (bytes: number): number => { const at = end; end += bytes; return at; };
  const undoRegion: UndoRegion | null = undo
    ? {
      params: take(stride), m: take(stride), v: take(stride), ema: ema ? take(stride) : null, slot0: slots > 2 ? take(stride) : null,
      bn: take(bnBytes), flags: take(Math.ceil(((slots + 1) * 4) / 16) * 16),
    }
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

/** The (live, saved) pairs of byte offsets a range's undo copies. */
function undoPairs(net: SharedNetBuffers, undo: UndoRegion): [number, number][] {
  const pairs: [number, number][] = [[net.params, undo.params], [net.m, undo.m], [net.v, undo.v]];
  if (net.ema !== null && undo.ema !== null) pairs.push([net.ema, undo.ema]);
  if (undo.slot0 !== null) pairs.push([net.grads[0], undo.slot0]);
  return pairs;
}

/** The flags: one per range (`slots` of them), then the moving statistics' flag. */
function undoFlags(net: SharedNetBuffers, undo: UndoRegion): Int32Array {
  return new Int32Array(net.memory.buffer, undo.flags, net.slots + 1);
}

/**
 * Called by the worker of range `range` before it writes: copies floats [lo, hi) of everything
 * its Adam stage writes into the undo region, then stores `mark` (non-zero: the phase the copy is
 * for) as the range's flag. A no-op without an undo region.
 */
export function saveApplyRange(net: SharedNetBuffers, range: number, lo: number, hi: number, mark: number): void {
  if (!net.undo) return;
  const flags = undoFlags(net, net.undo);
  Atomics.store(flags, range, 0);
  const f32 = new Float32Array(net.memory.buffer);
  for (const [live, saved] of undoPairs(net, net.undo)) f32.copyWithin(saved / 4 + lo, live / 4 + lo, live / 4 + hi);
  Atomics.store(flags, range, mark);
}

/**
 * After the phase `mark` failed (a thread may have died part-way through its range): when range
 * `range` was saved for that phase, writes the saved values back, so the range is as before the
 * phase, and returns true. A range saved for an earlier phase, or not completely, was not written
 * in this one: returns false.
 */
export function undoApplyRange(net: SharedNetBuffers, range: number, lo: number, hi: number, mark: number): boolean {
  if (!net.undo) return false;
  const flags = undoFlags(net, net.undo);
  if (Atomics.load(flags, range) !== mark) return false;
  const f32 = new Float32Array(net.memory.buffer);
  for (const [live, saved] of undoPairs(net, net.undo)) f32.copyWithin(live / 4 + lo, saved / 4 + lo, saved / 4 + hi);
  Atomics.store(flags, range, 0);
  return true;
}

/** Copies the moving statistics into the undo region and marks them saved for phase `mark` (a no-op without one). */
export function saveBnStats(net: SharedNetBuffers, mark: number): void {
  if (!net.undo || net.bnSize === 0) return;
  const flags = undoFlags(net, net.undo);
  Atomics.store(flags, net.slots, 0);
  new Float32Array(net.memory.buffer, net.undo.bn, net.bnSize).set(bnView(net));
  Atomics.store(flags, net.slots, mark);
}

/** Puts back the moving statistics saved for phase `mark`; returns false when none were. */
export function undoBnStats(net: SharedNetBuffers, mark: number): boolean {
  if (!net.undo || net.bnSize === 0) return false;
  const flags = undoFlags(net, net.undo);
  if (Atomics.load(flags, net.slots) !== mark) return false;
  bnView(net).set(new Float32Array(net.memory.buffer, net.undo.bn, net.bnSize));
  Atomics.store(flags, net.slots, 0);
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
