/**
 * Adam as a tiny hand-assembled WebAssembly SIMD kernel over shared memory.
 *
 * The JS loop in adam.ts runs at ~7–10 ns per parameter (seven float32
 * streams, a square root and a division each); this kernel does four lanes
 * per instruction. It works in place on a shared `WebAssembly.Memory` that
 * holds the parameters, gradient slots and moments, so no data is copied.
 * The arithmetic is float32 throughout (tf.train.adam is float32 too).
 */
import type { AdamOptions } from './adam.js';

/** A WebAssembly memory, as far as ganpool uses it (Node's lib types leave WebAssembly out). */
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
}

/** The part of the global WebAssembly API used here. */
interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}

const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** A shared WebAssembly memory of `pages` 64 KiB pages; its buffer is a SharedArrayBuffer. */
export function sharedMemory(pages: number): WasmMemory {
  return new wasm.Memory({ initial: pages, maximum: pages, shared: true });
}

const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(s: string): number[] {
  const bytes = [...Buffer.from(s, 'utf8')];
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

const get = (i: number): number[] => [0x20, ...uleb(i)];
const set = (i: number): number[] => [0x21, ...uleb(i)];
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const LOAD = [...simd(0), 2, 0];
const STORE = [...simd(11), 2, 0];
const SPLAT = simd(19), SQRT = simd(227), ADD = simd(228), SUB = simd(229), MUL = simd(230), DIV = simd(231);
const I32_ADD = [0x6a];
/** Address `base + off` of the current 16-byte group. */
const at = (base: number, off: number): number[] => [...get(base), ...get(off), ...I32_ADD];

/** Loop `off` from 0 to `end` bytes in steps of 16, running `body` each time. */
function loop16(off: number, end: number, body: number[]): number[] {
  return [
    0x41, 0, ...set(off),
    0x02, 0x40, 0x03, 0x40,
    ...get(off), ...get(end), 0x4f, 0x0d, 1,
    ...body,
    ...get(off), 0x41, 16, ...I32_ADD, ...set(off),
    0x0c, 0, 0x0b, 0x0b,
  ];
}

/**
 * adam(p, m, v, s0, s1, n, pOut, mOut, vOut, w0, w1, b1, b1c, b2, b2c, c1, c2, eps): for n floats (n % 4 == 0)
 *   g = w0·s0 + w1·s1; mOut = b1·m + b1c·g; vOut = b2·v + b2c·g²; pOut = p − c1·mOut / (√(c2·vOut) + eps)
 * (in place when the out pointers equal the in pointers).
 */
function adamBody(): number[] {
  const [P, M, V, S0, S1, N, PO, MO, VO] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const OFF = 18, END = 19, SPL = 20, G = 29, MV = 30, VV = 31; // SPL..SPL+8: splats of params 9..17
  const splats = Array.from({ length: 9 }, (_, k) => [...get(9 + k), ...SPLAT, ...set(SPL + k)]).flat();
  const [W0, W1, B1, B1C, B2, B2C, C1, C2, EPS] = Array.from({ length: 9 }, (_, k) => SPL + k);
  const body = [
    ...get(W0), ...at(S0, OFF), ...LOAD, ...MUL, ...get(W1), ...at(S1, OFF), ...LOAD, ...MUL, ...ADD, ...set(G),
    ...get(B1), ...at(M, OFF), ...LOAD, ...MUL, ...get(B1C), ...get(G), ...MUL, ...ADD, ...set(MV),
    ...at(MO, OFF), ...get(MV), ...STORE,
    ...get(B2), ...at(V, OFF), ...LOAD, ...MUL, ...get(B2C), ...get(G), ...MUL, ...get(G), ...MUL, ...ADD, ...set(VV),
    ...at(VO, OFF), ...get(VV), ...STORE,
    ...at(PO, OFF),
    ...at(P, OFF), ...LOAD,
    ...get(C1), ...get(MV), ...MUL,
    ...get(VV), ...get(C2), ...MUL, ...SQRT, ...get(EPS), ...ADD,
    ...DIV, ...SUB, ...STORE,
  ];
  const code = [...get(N), 0x41, 2, 0x74, ...set(END), ...splats, ...loop16(OFF, END, body), 0x0b];
  return [...vec([[2, I32], [12, V128]]), ...code];
}

/** accumulate(dst, src, n, w): dst += w·src for n floats (n % 4 == 0). */
function accumulateBody(): number[] {
  const [DST, SRC, N, W, OFF, END, WS] = [0, 1, 2, 3, 4, 5, 6];
  const body = [...at(DST, OFF), ...at(DST, OFF), ...LOAD, ...get(WS), ...at(SRC, OFF), ...LOAD, ...MUL, ...ADD, ...STORE];
  const code = [...get(N), 0x41, 2, 0x74, ...set(END), ...get(W), ...SPLAT, ...set(WS), ...loop16(OFF, END, body), 0x0b];
  return [...vec([[2, I32], [1, V128]]), ...code];
}

/**
 * ema(dst, from, p, n, decay, keep): for n floats (n % 2 == 0) dst = decay·from + keep·p, each value
 * promoted to float64, multiplied and added there, and rounded once to float32: the same arithmetic
 * as the plain-JS `updateEma` (ema.ts), bit for bit, two lanes at a time.
 */
function emaBody(): number[] {
  const [DST, FROM, P, N, DECAY, KEEP, OFF, END, DS, KS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const LOAD64_ZERO = [...simd(93), 3, 0], STORE64_LANE = [...simd(91), 3, 0, 0];
  const PROMOTE = simd(95), DEMOTE = simd(94), F64_SPLAT = simd(20), F64_ADD = simd(240), F64_MUL = simd(242);
  const body = [
    ...at(DST, OFF),
    ...get(DS), ...at(FROM, OFF), ...LOAD64_ZERO, ...PROMOTE, ...F64_MUL,
    ...get(KS), ...at(P, OFF), ...LOAD64_ZERO, ...PROMOTE, ...F64_MUL,
    ...F64_ADD, ...DEMOTE, ...STORE64_LANE,
  ];
  const loop8 = [
    0x41, 0, ...set(OFF),
    0x02, 0x40, 0x03, 0x40,
    ...get(OFF), ...get(END), 0x4f, 0x0d, 1,
    ...body,
    ...get(OFF), 0x41, 8, ...I32_ADD, ...set(OFF),
    0x0c, 0, 0x0b, 0x0b,
  ];
  const code = [...get(N), 0x41, 2, 0x74, ...set(END), ...get(DECAY), ...F64_SPLAT, ...set(DS), ...get(KEEP), ...F64_SPLAT, ...set(KS), ...loop8, 0x0b];
  return [...vec([[2, I32], [2, V128]]), ...code];
}

function moduleBytes(): Uint8Array {
  const adamType = [0x60, ...vec([...Array<number[]>(9).fill([I32]), ...Array<number[]>(9).fill([F32])]), 0];
  const accType = [0x60, ...vec([[I32], [I32], [I32], [F32]]), 0];
  const emaType = [0x60, ...vec([[I32], [I32], [I32], [I32], [0x7c], [0x7c]]), 0];
  const memoryImport = [...name('env'), ...name('memory'), 0x02, 0x03, 0, ...uleb(65536)];
  const bodies = [adamBody(), accumulateBody(), emaBody()].map((b) => [...uleb(b.length), ...b]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([adamType, accType, emaType])),
    ...section(2, vec([memoryImport])),
    ...section(3, vec([[0], [1], [2]])),
    ...section(7, vec([[...name('adam'), 0x00, 0], [...name('accumulate'), 0x00, 1], [...name('ema'), 0x00, 2]])),
    ...section(10, vec(bodies)),
  ]);
}

let compiled: object | null = null;

/** The Adam kernel bound to one shared memory. */
export interface WasmAdam {
  /**
   * Applies update `t` to floats [lo, hi) of the vectors at the given byte
   * offsets; the gradient is Σ weights[k]·slot k. Slots 2+ are folded into
   * slot 0 first (they are scratch space, rewritten every phase). With `out`,
   * the updated parameters and moments go there and the inputs are only read
   * (double-buffering); without it the update is in place.
   */
  update(offsets: { params: number; m: number; v: number; slots: number[]; out?: { params: number; m: number; v: number } }, weights: readonly number[],
    t: number, opts: AdamOptions, lo: number, hi: number): void;
  /**
   * The EMA update of ema.ts over floats [lo, hi): ema[i] = decay·from[i] + (1 − decay)·params[i] in
   * float64, rounded once to float32 (bit for bit `updateEma`), at byte offsets `ema`, `from`, `params`.
   */
  ema(offsets: { ema: number; from: number; params: number }, decay: number, lo: number, hi: number): void;
}

/** Instantiates the kernel on `memory` (a shared WebAssembly memory from {@link sharedMemory}). */
export function wasmAdam(memory: WasmMemory): WasmAdam {
  compiled ??= new wasm.Module(moduleBytes());
  const exports = new wasm.Instance(compiled, { env: { memory } }).exports as unknown as {
    adam: (...args: number[]) => void;
    accumulate: (dst: number, src: number, n: number, w: number) => void;
    ema: (dst: number, from: number, p: number, n: number, decay: number, keep: number) => void;
  };
  const f32 = new Float32Array(memory.buffer);
  return {
    ema(off, decay, lo, hi) {
      const keep = 1 - decay;
      const pairs = lo + Math.floor((hi - lo) / 2) * 2;
      exports.ema(off.ema + lo * 4, off.from + lo * 4, off.params + lo * 4, pairs - lo, decay, keep);
      for (let i = pairs; i < hi; i++) f32[off.ema / 4 + i] = decay * f32[off.from / 4 + i] + keep * f32[off.params / 4 + i];
    },
    update(off, weights, t, opts, lo, hi) {
      const { lr, beta1, beta2, epsilon } = opts;
      const c1 = lr / (1 - beta1 ** t), c2 = 1 / (1 - beta2 ** t);
      const w0 = weights[0];
      const s1 = off.slots[1] ?? off.slots[0], w1 = weights.length > 1 ? weights[1] : 0;
      const vecEnd = lo + Math.floor((hi - lo) / 4) * 4;
      const byte = (base: number, i: number): number => base + i * 4;
      for (let k = 2; k < weights.length; k++) {
        exports.accumulate(byte(off.slots[0], lo), byte(off.slots[k], lo), hi - lo - ((hi - lo) % 4), weights[k] / w0);
        for (let i = vecEnd; i < hi; i++) f32[off.slots[0] / 4 + i] += (weights[k] / w0) * f32[off.slots[k] / 4 + i];
      }
      const out = off.out ?? off;
      exports.adam(byte(off.params, lo), byte(off.m, lo), byte(off.v, lo), byte(off.slots[0], lo), byte(s1, lo), vecEnd - lo,
        byte(out.params, lo), byte(out.m, lo), byte(out.v, lo), w0, w1, beta1, 1 - beta1, beta2, 1 - beta2, c1, c2, epsilon);
      for (let i = vecEnd; i < hi; i++) {
        const g = w0 * f32[off.slots[0] / 4 + i] + w1 * f32[s1 / 4 + i];
        const mi = (f32[out.m / 4 + i] = beta1 * f32[off.m / 4 + i] + (1 - beta1) * g);
        const vi = (f32[out.v / 4 + i] = beta2 * f32[off.v / 4 + i] + (1 - beta2) * g * g);
        f32[out.params / 4 + i] = f32[off.params / 4 + i] - (c1 * mi) / (Math.sqrt(vi * c2) + epsilon);
      }
    },
  };
}
