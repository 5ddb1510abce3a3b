/**
 * Parameters, Adam moments and gradient slots of one network in shared memory.
 *
 * Each worker writes its shard's gradient into its own slot. In training, the
 * parameters, moments and EMA are double-buffered: two banks, and the one
 * holding the current values is the network's Adam step count t mod 2. The
 * lockstep loop's Adam stage reads bank t mod 2 and writes bank (t + 1) mod 2
 * (each worker its own range), so a phase that fails part-way has written
 * only into the bank nobody reads: nothing needs to be put back, and nothing
 * is copied on the way. Workers copy the current bank into their engine when
 * the network has moved.
 */
import { sharedMemory, type WasmMemory } from '../optim/adam-wasm.js';

/** Byte offsets of one bank: parameters, Adam's moments and (when kept) the EMA. */
export interface NetBank {
  params: number;
  /** Adam's first and second moment estimates. */
  m: number;
  v: number;
  /** The exponential moving average of the parameters (see ema.ts), or null when the network keeps none. */
  ema: number | null;
}

/**
 * The shared memory of one network, as passed to workers in workerData: one
 * shared `WebAssembly.Memory` (its buffer is a SharedArrayBuffer) holding the
 * banks, the gradient slots and the moving statistics at 16-byte aligned
 * offsets, so the SIMD Adam kernel (adam-wasm.ts) works on them directly.
 */
export interface SharedNetBuffers {
  /** Number of trainable scalars. */
  size: number;
  /** Number of gradient slots (= the most shards a phase uses). */
  slots: number;
  memory: WasmMemory;
  /** Byte offsets into `memory` of bank 0 (the only one without double-buffering), and bank 1 (or null). */
  banks: [NetBank, NetBank | null];
  /** Byte offset of the int32 that says which bank is current (0 or 1). */
  bankWord: number;
  grads: number[];
  /** Floats of batch-norm moving statistics (0 without batch norm) and their byte offset. */
  bnSize: number;
  bn: number;
  /** Whether the network keeps an EMA of its parameters. */
  hasEma: boolean;
  /**
   * With double-buffering: byte offsets of a copy of the moving statistics taken before a phase
   * folds new batch statistics in, and of its int32 flag (the mark of the phase it was taken for).
   */
  bnUndo: { copy: number; flag: number } | null;
}

const PAGE = 65536;

/**
 * Allocates memory for a network of `size` scalars: parameters and moments (zeros), `slots`
 * gradient slots, `bnSize` floats of moving statistics (means 0, variances 1 are the caller's to
 * set), with `ema` a region for the parameters' moving average (zeros; the coordinator fills it),
 * and with `double` a second bank (see the module comment) and the statistics' undo copy.
 */
export function allocSharedNet(size: number, slots: number, bnSize = 0, ema = false, double = false): SharedNetBuffers {
  const stride = Math.ceil((size * 4) / 16) * 16;
  const bnBytes = Math.ceil((bnSize * 4) / 16) * 16;
  let end = 0;
  const take = (bytes: number): number => { const at = end; end += bytes; return at; };
  const bank = (): NetBank => ({ params: take(stride), m: take(stride), v: take(stride), ema: ema ? take(stride) : null });
  const bank0 = bank();
  const grads = Array.from({ length: slots }, () => take(stride));
  const bn = take(bnBytes);
  const bank1 = double ? bank() : null;
  const bnUndo = double ? { copy: take(bnBytes), flag: take(16) } : null;
  const bankWord = take(16);
  return {
    size, slots, memory: sharedMemory(Math.ceil(end / PAGE) || 1),
    banks: [bank0, bank1], bankWord, grads, bnSize, bn, hasEma: ema, bnUndo,
  };
}

/** The bank holding the current values (0 or 1). */
export function currentBank(net: SharedNetBuffers): 0 | 1 {
  return Atomics.load(new Int32Array(net.memory.buffer, net.bankWord, 1), 0) === 1 ? 1 : 0;
}

/**
 * Makes bank `b` current: after Adam update t of a double-buffered network, b = t mod 2. The
 * lockstep loop's commit sets it; the coordinator sets it from the committed step count.
 */
export function setCurrentBank(net: SharedNetBuffers, b: number): void {
  if (b !== 0 && net.banks[1] === null) throw new Error('internal: bank 1 of a network without double-buffering');
  Atomics.store(new Int32Array(net.memory.buffer, net.bankWord, 1), 0, b & 1);
}

/** Byte offsets of bank `b`. */
export function bankOf(net: SharedNetBuffers, b: number): NetBank {
  const bank = net.banks[b & 1];
  if (!bank) throw new Error('internal: bank 1 of a network without double-buffering');
  return bank;
}

/** Copies the moving statistics aside and marks the copy as taken for phase `mark` (a no-op without double-buffering). */
export function saveBnStats(net: SharedNetBuffers, mark: number): void {
  if (!net.bnUndo || net.bnSize === 0) return;
  const flag = new Int32Array(net.memory.buffer, net.bnUndo.flag, 1);
  Atomics.store(flag, 0, 0);
  new Float32Array(net.memory.buffer, net.bnUndo.copy, net.bnSize).set(bnView(net));
  Atomics.store(flag, 0, mark);
}

/**
 * After phase `mark` failed: when the moving statistics were copied aside for it (so the phase may
 * have folded its batch statistics in, in part or whole), puts the copy back and returns true.
 */
export function undoBnStats(net: SharedNetBuffers, mark: number): boolean {
  if (!net.bnUndo || net.bnSize === 0) return false;
  const flag = new Int32Array(net.memory.buffer, net.bnUndo.flag, 1);
  if (Atomics.load(flag, 0) !== mark) return false;
  bnView(net).set(new Float32Array(net.memory.buffer, net.bnUndo.copy, net.bnSize));
  Atomics.store(flag, 0, 0);
  return true;
}

/** The batch-norm moving statistics of a network (bnLayers layout; empty without batch norm). */
export function bnView(net: SharedNetBuffers): Float32Array {
  return new Float32Array(net.memory.buffer, net.bn, net.bnSize);
}

function view(net: SharedNetBuffers, byteOffset: number): Float32Array {
  return new Float32Array(net.memory.buffer, byteOffset, net.size);
}

/** The parameter vector of a network (in bank `bank`; default: the current one). */
export function paramsView(net: SharedNetBuffers, bank: number = currentBank(net)): Float32Array {
  return view(net, bankOf(net, bank).params);
}

/** The moving average of a network's parameters (see ema.ts; bank as {@link paramsView}), or null when it keeps none. */
export function emaView(net: SharedNetBuffers, bank: number = currentBank(net)): Float32Array | null {
  const at = bankOf(net, bank).ema;
  return at === null ? null : view(net, at);
}

/** Adam's moment vectors of a network (bank as {@link paramsView}). */
export function momentViews(net: SharedNetBuffers, bank: number = currentBank(net)): { m: Float32Array; v: Float32Array } {
  const b = bankOf(net, bank);
  return { m: view(net, b.m), v: view(net, b.v) };
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
