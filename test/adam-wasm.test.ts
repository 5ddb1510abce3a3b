import test from 'ava';
import { adamUpdate } from '../src/optim/adam.js';
import { updateEma } from '../src/optim/ema.js';
import { sharedMemory, wasmAdam } from '../src/optim/adam-wasm.js';
import { relErr } from './helpers.js';

const opts = { lr: 2e-3, beta1: 0.5, beta2: 0.999, epsilon: 1e-7 };

function setup(n: number, slots: number) {
  const memory = sharedMemory(Math.ceil(((3 + slots) * n * 4 + 64) / 65536) + 1);
  const offsets = { params: 16, m: 16 + n * 4, v: 16 + 2 * n * 4, slots: Array.from({ length: slots }, (_, k) => 16 + (3 + k) * n * 4) };
  const view = (byte: number) => new Float32Array(memory.buffer, byte, n);
  return { memory, offsets, params: view(offsets.params), m: view(offsets.m), v: view(offsets.v), slots: offsets.slots.map(view) };
}

for (const slots of [1, 2, 3]) {
  test(`the wasm SIMD Adam kernel matches the JS reference (${slots} slot${slots > 1 ? 's' : ''}, odd length, two ranges, 4 steps)`, (t) => {
    const n = 1003;
    const w = setup(n, slots), js = setup(n, slots);
    const kernel = wasmAdam(w.memory);
    const weights = Array.from({ length: slots }, (_, k) => (k + 1) / ((slots * (slots + 1)) / 2));
    const init = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    w.params.set(init); js.params.set(init);
    for (let step = 1; step <= 4; step++) {
      for (let k = 0; k < slots; k++) {
        const g = Float32Array.from({ length: n }, (_, i) => Math.cos(i * (k + 2) + step) * (i % 11 === 0 ? 1e-4 : 1));
        w.slots[k].set(g); js.slots[k].set(g);
      }
      for (const [lo, hi] of [[0, 512], [512, n]] as const) {
        kernel.update(w.offsets, weights, step, opts, lo, hi);
        adamUpdate(js, weights, step, opts, lo, hi);
      }
    }
    t.true(relErr(js.params, init) > 1e-3, 'parameters moved');
    const e = Math.max(relErr(w.params, js.params), relErr(w.m, js.m), relErr(w.v, js.v));
    t.log(`max rel err (params, m, v) vs JS: ${e.toExponential(2)}`);
    t.true(e <= 2e-6, `rel err ${e}`);
  });
}

test('double-buffered: the kernel writing to out pointers gives bit for bit the in-place result and leaves its inputs untouched', (t) => {
  const n = 1003;
  const inPlace = setup(n, 2), banked = setup(n, 2);
  const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  for (const s of [inPlace, banked]) {
    s.params.set(Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
    s.m.set(Float32Array.from({ length: n }, (_, i) => Math.cos(i) * 1e-3));
    s.v.set(Float32Array.from({ length: n }, (_, i) => (1 + Math.sin(3 * i)) * 1e-6));
    s.slots.forEach((slot, k) => slot.set(Float32Array.from({ length: n }, (_, i) => Math.cos(i * (k + 2)))));
  }
  const before = { params: banked.params.slice(), m: banked.m.slice(), v: banked.v.slice() };
  // The second bank: after the slots, in the spare page setup() allocates.
  const end = banked.offsets.slots[1] + n * 4 + 16;
  const out = { params: end, m: end + n * 4, v: end + 2 * n * 4 };
  const view = (byte: number): Float32Array => new Float32Array(banked.memory.buffer, byte, n);
  wasmAdam(inPlace.memory).update(inPlace.offsets, [0.25, 0.75], 3, opts, 0, n);
  wasmAdam(banked.memory).update({ ...banked.offsets, out }, [0.25, 0.75], 3, opts, 0, n);
  for (const k of ['params', 'm', 'v'] as const) {
    t.true(bytes(view(out[k])).equals(bytes(inPlace[k])), `${k}: the out bank equals the in-place update bit for bit`);
    t.true(bytes(banked[k]).equals(bytes(before[k])), `${k}: the input bank is untouched`);
  }
  t.true(relErr(inPlace.params, before.params) > 1e-4, 'the update moved the parameters');
});

test('the wasm EMA kernel equals the plain-JS updateEma bit for bit (float64 arithmetic, one rounding), odd length and an offset range', (t) => {
  const n = 1001;
  const memory = sharedMemory(1);
  const at = { ema: 16, from: 16 + n * 4 + 16, params: 16 + 2 * (n * 4 + 16) };
  const view = (byte: number): Float32Array => new Float32Array(memory.buffer, byte, n);
  const from = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.3) * (i % 7 === 0 ? 1e-30 : 1));
  const params = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.7) * (i % 5 === 0 ? 1e20 : 1));
  view(at.from).set(from);
  view(at.params).set(params);
  const decay = 0.999, want = new Float32Array(n).fill(7);
  const got = view(at.ema);
  got.fill(7);
  wasmAdam(memory).ema(at, decay, 3, n);
  updateEma(want, params, decay, 3, n, from);
  const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  t.true(bytes(got).equals(bytes(want)), 'bit for bit, the first 3 floats untouched');
  t.is(got[2], 7);
  t.true(Number.isFinite(got[500]) && got[500] !== 7, 'written');
});
