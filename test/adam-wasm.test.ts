import test from 'ava';
import { adamUpdate } from '../src/optim/adam.js';
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
