/**
 * The cost model of one lockstep training step (docs/cost-model.md): its
 * terms measured one by one on this machine, checked against a `ganpool
 * bench` sweep, and its predictions for more cores.
 *
 *   npx tsx scripts/cost-model.ts [--bench docs/bench.json] [--models mlp,dcgan]
 *                                 [--bandwidth 100] [--barrier-us 5]
 *
 * One step, W workers on W cores, global batch B, P parameters (G + D), per worker:
 *
 *   T(W, B) = E(B/W) + r·B/W + (ρ + γ)·P + A(P/W, W) + 4·β(W) + J(W)
 *
 *   E(b)      ONNX Runtime's D and G phases on a shard of b rows: E(b) ≈ e0 + e1·b, where
 *             e0 is what a run costs whatever the shard (kernel launches, and packing every
 *             weight matrix for its GEMMs: O(P) work that every worker repeats);
 *   r·b       the shard's rows in JS: latent noise and image scaling;
 *   ρ·P       reloading both networks into the worker's engine (ONNX Runtime refuses shared memory);
 *   γ·P       copying its gradients into its slot and checking them for non-finite values;
 *   A(n, W)   its Adam stage: n = P/W floats of parameters, moments and EMA, reading all W slots;
 *   β(W)      one barrier: β(2) is taken from the sweep's 2-worker waits, and grows with
 *             log2(W) beyond (an arrival counter and a futex wake per waiter, waiters spin
 *             first); `--barrier-us` sets the per-doubling growth;
 *   J(W)      waiting for the slowest worker: σ_E·√(2 ln W), σ_E the spread of E measured here
 *             (the expected maximum of W normal draws).
 *
 * A memory-bandwidth floor applies on top: every worker moves about 3·P floats a step
 * (reload, slot write, its Adam range reading W slots of P/W), so W·12·P bytes a step share
 * `--bandwidth` GB/s (default 100, a typical many-core server; the 2-core VM measures far less
 * per core, which the terms above already contain).
 *
 * Everything but β and J is measured here, in this process, before the model is compared
 * with the sweep's measured 1- and 2-worker rows (and its oversubscribed 3- and 4-worker
 * rows, where W workers time-slice C cores: T·W/C).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { modelPreset, paramCount, paramShapes, type ModelName } from '../src/models/presets.js';
import { compileDPhase, compileGPhase } from '../src/engines/onnx/compile.js';
import { ONNX_SESSION_OPTIONS } from '../src/engines/onnx/engine.js';
import { sharedMemory, wasmAdam } from '../src/optim/adam-wasm.js';
import { latentNoise, NoiseStream } from '../src/util/rng.js';
import type { BenchReport } from '../src/bench/report.js';

const { values } = parseArgs({
  options: {
    bench: { type: 'string', default: 'docs/bench.json' }, models: { type: 'string', default: 'mlp,dcgan' },
    bandwidth: { type: 'string', default: '100' }, 'barrier-us': { type: 'string', default: '5' },
  },
});
const report = JSON.parse(readFileSync(values.bench, 'utf8')) as BenchReport;
const cores = report.machine.cores;
const bandwidth = Number(values.bandwidth) * 1e9;
const barrierGrowthMs = Number(values['barrier-us']) / 1000;

/** Relative spread of the last {@link median} call: (p75 − p25) / 1.35 / median, a robust σ / median. */
let lastSpread = 0;

/** Median ms of `f` over `n` runs after `warm` unmeasured ones. */
async function median(f: () => unknown, n: number, warm = 3): Promise<number> {
  for (let i = 0; i < warm; i++) await f();
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    xs.push(performance.now() - t0);
  }
  xs.sort((a, b) => a - b);
  const m = xs[xs.length >> 1];
  lastSpread = (xs[Math.floor(xs.length * 0.75)] - xs[Math.floor(xs.length * 0.25)]) / 1.35 / m;
  return m;
}

const mid = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/**
 * y = a + b·x by Theil–Sen: b the median of the pairwise slopes, a the median of y − b·x (at
 * least 0). One slow run on a busy machine moves a least-squares line a lot, this one little.
 */
function line(pts: [number, number][]): { a: number; b: number } {
  const slopes: number[] = [];
  for (let i = 0; i < pts.length; i++) for (let j = i + 1; j < pts.length; j++) slopes.push((pts[j][1] - pts[i][1]) / (pts[j][0] - pts[i][0]));
  const b = mid(slopes);
  return { a: Math.max(0, mid(pts.map(([x, y]) => y - b * x))), b };
}

interface Terms {
  model: ModelName;
  params: number;
  /** E(b) = e0 + e1·b, ms; and the measured points. */
  e0: number;
  e1: number;
  points: [number, number][];
  /** σ of E relative to E (median over the batch sizes). */
  spread: number;
  /** ms per row of JS (noise, image scaling). */
  r: number;
  /** ms per parameter: reload, gradient copy + check. */
  rho: number;
  gamma: number;
  /** Adam stage, ms per float of range, by W slots read. */
  adam: (w: number) => number;
}

async function measure(model: ModelName): Promise<Terms> {
  const preset = modelPreset(model, [28, 28, 1]);
  const params = paramCount(preset.generator) + paramCount(preset.discriminator);
  const sd = await ort.InferenceSession.create(compileDPhase(preset, 'ns').model, ONNX_SESSION_OPTIONS);
  const sg = await ort.InferenceSession.create(compileGPhase(preset, 'ns').model, ONNX_SESSION_OPTIONS);
  const feeds: Record<string, ort.Tensor> = {};
  for (const net of ['g', 'd'] as const) {
    paramShapes(net === 'g' ? preset.generator : preset.discriminator).forEach((p, i) => {
      const n = p.shape.reduce((a, b) => a * b, 1);
      feeds[`${net}.${i}`] = new ort.Tensor('float32', Float32Array.from({ length: n }, (_, k) => Math.sin(k) * 0.05), p.shape);
    });
  }
  const conv = model !== 'mlp' && !model.endsWith('mlp');
  const batches = conv ? [4, 8, 16, 32, 64] : [8, 16, 32, 64, 128, 256];
  const points: [number, number][] = [];
  const spreads: number[] = [];
  for (const b of batches) {
    const d = { ...feeds, z: new ort.Tensor('float32', new Float32Array(b * 100).fill(0.1), [b, 100]), real: new ort.Tensor('float32', new Float32Array(b * 784).fill(0.2), [b, 28, 28, 1]) };
    const g: Record<string, ort.Tensor> = { ...d };
    delete g.real;
    points.push([b, await median(async () => { await sd.run(d); await sg.run(g); }, conv ? 7 : 41)]);
    spreads.push(lastSpread);
  }
  const spread = mid(spreads);
  const { a: e0, b: e1 } = line(points);

  // JS per row: two phases of latent noise, one of image scaling (table lookup).
  const table = Float32Array.from({ length: 256 }, (_, p) => p / 127.5 - 1);
  const pixels = new Uint8Array(64 * 784).map((_, i) => i & 255), img = new Float32Array(64 * 784), noise = new Float32Array(64 * 100);
  const r = await median(() => {
    latentNoise(noise, 1, 2, NoiseStream.Discriminator, 0, 100);
    latentNoise(noise, 1, 2, NoiseStream.Generator, 0, 100);
    for (let i = 0; i < img.length; i++) img[i] = table[pixels[i]];
  }, 101) / 64;

  // O(P) passes of a worker, measured on this model's P.
  const shared = new Float32Array(new SharedArrayBuffer(4 * params)), own = new Float32Array(params).fill(1e-3);
  const rho = await median(() => own.set(shared), 51) / params;
  const gamma = await median(() => {
    shared.set(own);
    let s0 = 0, s1 = 0;
    for (let i = 0; i < params; i += 2) { s0 += shared[i]; s1 += shared[i + 1] ?? 0; }
    if (!Number.isFinite(s0 + s1)) throw new Error('non-finite');
  }, 51) / params;

  // Adam stage over n floats reading w slots, out of place, with an EMA (G's case).
  const adamAt = new Map<number, number>();
  for (const w of [1, 2, 4, 8]) {
    const n = Math.ceil(params / w / 16) * 16;
    const mem = sharedMemory(Math.ceil(((8 + w) * n * 4) / 65536) + 1);
    const at = (k: number): number => k * n * 4;
    const kernel = wasmAdam(mem);
    const opts = { lr: 2e-4, beta1: 0.5, beta2: 0.999, epsilon: 1e-7 };
    const slots = Array.from({ length: w }, (_, k) => at(8 + k));
    const weights = Array.from({ length: w }, () => 1 / w);
    const ms = await median(() => {
      kernel.update({ params: at(0), m: at(1), v: at(2), slots, out: { params: at(3), m: at(4), v: at(5) } }, weights, 3, opts, 0, n);
      kernel.ema({ ema: at(6), from: at(7), params: at(3) }, 0.999, 0, n);
    }, 31);
    adamAt.set(w, ms / n);
  }
  const adam = (w: number): number => adamAt.get(w) ?? adamAt.get(8)! * (1 + Math.log2(w / 8) * 0.5);
  return { model, params, e0, e1, points, spread, r, rho, gamma, adam };
}

const models = values.models.split(',') as ModelName[];
const terms: Terms[] = [];
for (const m of models) terms.push(await measure(m));

/** β(2) and the spread of E, from the sweep: the 2-worker rows' waits ("overhead" = outside − Adam − reload). */
function syncFromSweep(model: ModelName): { beta2: number } {
  const rows = report.rows.filter((r) => r.model === model && r.workers === 2);
  const waits = rows.map((r) => r.overheadMs);
  return { beta2: waits.length > 0 ? waits.reduce((a, b) => a + b, 0) / waits.length / 4 : 0.05 };
}

function step(t: Terms, w: number, b: number): { total: number; parts: Record<string, number> } {
  const rows = b / w;
  const { beta2 } = syncFromSweep(t.model);
  const parts = {
    engine: t.e0 + t.e1 * rows,
    rows: t.r * rows,
    'reload + slot': (t.rho + t.gamma) * t.params,
    adam: t.adam(w) * (t.params / w),
    barriers: w === 1 ? 0 : 4 * (beta2 + barrierGrowthMs * Math.max(0, Math.log2(w) - 1)),
    // The expected maximum of W draws of N(E, σ²) exceeds E by about σ·√(2 ln W); two phases a step.
    'slowest worker': w === 1 ? 0 : t.spread * (t.e0 + t.e1 * rows) * Math.sqrt(2 * Math.log(w)),
  };
  const compute = Object.values(parts).reduce((a, x) => a + x, 0);
  const memory = (w * 12 * t.params / bandwidth) * 1000;
  return { total: Math.max(compute, memory), parts: { ...parts, 'bandwidth floor': memory } };
}

const f2 = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const out: string[] = [`Terms measured on this machine (${report.machine.cpuModel}, ${cores} cores), ONNX Runtime one thread per worker:`, ''];
out.push('| model | P (G + D) | e0 ms | e1 ms/row | σ_E / E | r µs/row | (ρ + γ)·P ms | Adam stage, 1 worker ms | E(b) measured: b → ms |', '|---|---:|---:|---:|---:|---:|---:|---:|---|');
for (const t of terms) {
  out.push(`| ${t.model} | ${t.params.toLocaleString('en-US')} | ${f2(t.e0)} | ${t.e1.toFixed(3)} | ${t.spread.toFixed(3)} | ${(t.r * 1000).toFixed(1)} | ${f2((t.rho + t.gamma) * t.params)} | ` +
    `${f2(t.adam(1) * t.params)} | ${t.points.map(([b, ms]) => `${b} → ${f2(ms)}`).join(', ')} |`);
}
out.push('', `Model against the sweep in ${values.bench} (\`${report.command}\`; rows with more workers than cores: T·W/C):`, '');
out.push('| model | batch | workers | measured ms/step | model ms/step |', '|---|---:|---:|---:|---:|');
for (const r of report.rows.filter((x) => x.workers > 0)) {
  const t = terms.find((x) => x.model === r.model);
  if (t) out.push(`| ${r.model} | ${r.batchSize} | ${r.workers} | ${f2(r.msPerStep)} | ${f2(step(t, r.workers, r.batchSize).total * Math.max(1, r.workers / cores))} |`);
}
const ws = [1, 2, 4, 8, 16, 32, 64];
out.push('', `Predicted speedup over 1 worker, one core per worker, ${values.bandwidth} GB/s of memory bandwidth:`, '');
out.push(`| model | batch | ${ws.map((w) => `${w} w`).join(' | ')} | 64 w: where the time goes |`, `|---|---:|${ws.map(() => '---:').join('|')}|---|`);
for (const t of terms) {
  for (const b of [64, 256, 1024]) {
    const at64 = step(t, 64, b);
    const share = Object.entries(at64.parts).filter(([k]) => k !== 'bandwidth floor').sort((x, y) => y[1] - x[1]).slice(0, 3)
      .map(([k, v]) => `${k} ${Math.round((v / at64.total) * 100)}%`).join(', ');
    out.push(`| ${t.model} | ${b} | ${ws.map((w) => `${(step(t, 1, b).total / step(t, w, b).total).toFixed(1)}×`).join(' | ')} | ${share} |`);
  }
}
console.log(out.join('\n'));
