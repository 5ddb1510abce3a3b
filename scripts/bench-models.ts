/**
 * Training throughput of the model presets on the wasm backend, 1 and 2
 * workers, against a PyTorch reference for the probe models, with a
 * per-kernel profile of one probe step when a probe falls short of the target.
 *
 *   npx tsx scripts/bench-models.ts [--models mlp,dcgan,probe-mlp,probe-dcgan] [--batches 64,256]
 *                                   [--rounds 3] [--steps 4] [--warmup 10] [--profile] [--compare-forward] [--json PATH]
 *
 * Each (model, batch) pair is measured by `runTrainerBench` (src/bench.ts):
 * its 1- and 2-worker trainers run interleaved round by round, figures are
 * medians of the step times. Pairs run one after another, so at most three
 * worker threads are alive at a time.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Scalar, Tensor, Variable } from '@tensorflow/tfjs-core';
import { runTrainerBench, type BenchRow } from '../src/bench.js';
import { opsForward } from '../workers/ops-forward.js';
import { loadEmbeddedMnist } from '../src/datasets/mnist.js';
import { initParams, modelPreset, paramCount, type ModelName, type NetSpec } from '../src/models.js';
import { createProgress } from '../src/progress.js';
import { initBackend, type Tf } from '../src/tf-backend.js';
import { buildNet, type BuiltNet } from '../workers/build-model.js';

/**
 * PyTorch 1.13, one CPU thread, ms per training step (a D and a G update) of
 * the probe models, measured by the lead on the reference machine.
 */
export const PYTORCH_MS_PER_STEP: Readonly<Record<string, Readonly<Record<number, number>>>> = {
  'probe-mlp': { 64: 4.85, 256: 12 },
  'probe-dcgan': { 64: 34, 256: 131 },
};

/** Target throughput of ganpool with 2 workers relative to PyTorch on one thread. */
export const TARGET_RATIO = 0.5;

/** Options of {@link runModelBench}. */
export interface ModelBenchOptions {
  /** Presets to measure (default mlp, dcgan, probe-mlp, probe-dcgan). */
  models?: ModelName[];
  /** Global batch sizes (default 64 and 256). */
  batches?: number[];
  /** Interleaved rounds per (model, batch) (default 3). */
  rounds?: number;
  /** Measured steps per trainer per round (default 4). */
  steps?: number;
  /** Warm-up steps per trainer, not measured (default 10: the first steps of a fresh pool run slower until V8 has optimised tfjs's JS). */
  warmup?: number;
  /** Profile one probe step per kernel: `auto` (default) when a probe misses the target, or always / never. */
  profile?: 'auto' | boolean;
  /** Also time the probes' step with the forward pass as plain tf ops instead of tf.layers (default false). */
  compareForward?: boolean;
  /** Print the markdown tables to stdout (default true). */
  print?: boolean;
}

/** One (model, batch) row of the result. */
export interface ModelBenchRow {
  model: ModelName;
  batchSize: number;
  oneWorker: BenchRow;
  twoWorkers: BenchRow;
  /** PyTorch ms per step on one thread, for the probes. */
  pytorchMsPerStep: number | null;
  /** Samples/s with 2 workers ÷ PyTorch's on one thread (target ≥ {@link TARGET_RATIO}). */
  ratio: number | null;
}

/** Kernel time of one probe step, by kernel name. */
export interface KernelProfile {
  model: ModelName;
  batchSize: number;
  /** Median wall time of an unprofiled step (same thread, same tensors). */
  stepMs: number;
  /** Wall time of the profiled step. */
  wallMs: number;
  kernels: { name: string; ms: number; calls: number; share: number }[];
}

/** What {@link runModelBench} measured. */
export interface ModelBenchResult {
  rows: ModelBenchRow[];
  profiles: KernelProfile[];
  forward: ForwardComparison[];
}

/** Runs the benchmark; see {@link ModelBenchOptions}. */
export async function runModelBench(opts: ModelBenchOptions = {}): Promise<ModelBenchResult> {
  const models = opts.models ?? ['mlp', 'dcgan', 'probe-mlp', 'probe-dcgan'];
  const batches = opts.batches ?? [64, 256];
  const data = loadEmbeddedMnist();
  const pairs = models.flatMap((model) => batches.map((batchSize) => ({ model, batchSize })));
  const progress = createProgress('bench-models', pairs.length);
  const rows: ModelBenchRow[] = [];
  for (const { model, batchSize } of pairs) {
    const [oneWorker, twoWorkers] = await runTrainerBench({
      cases: [{ model, batchSize, workers: 1 }, { model, batchSize, workers: 2 }],
      steps: opts.steps ?? 4, rounds: opts.rounds ?? 3, warmup: opts.warmup ?? 10, data, backend: 'wasm',
    });
    const pytorch = PYTORCH_MS_PER_STEP[model]?.[batchSize] ?? null;
    rows.push({
      model, batchSize, oneWorker: oneWorker!, twoWorkers: twoWorkers!, pytorchMsPerStep: pytorch,
      ratio: pytorch === null ? null : pytorch / twoWorkers!.msPerStep,
    });
    progress.update(rows.length, { [`${model}@${batchSize}`]: `${twoWorkers!.msPerStep.toFixed(0)} ms` });
  }
  progress.done();
  const short = rows.filter((r) => r.ratio !== null && r.ratio < TARGET_RATIO);
  const wanted = opts.profile === true ? rows.filter((r) => r.pytorchMsPerStep !== null) : opts.profile === false ? [] : short;
  const profiles: KernelProfile[] = [];
  for (const r of wanted) profiles.push(await profileStep(r.model, r.batchSize));
  const forward: ForwardComparison[] = [];
  if (opts.compareForward) {
    for (const r of rows.filter((r) => r.model.startsWith('probe-'))) forward.push(await compareForward(r.model, r.batchSize));
  }
  const result = { rows, profiles, forward };
  if (opts.print ?? true) process.stdout.write(markdown(result));
  return result;
}

function loaded(tf: Tf, net: NetSpec, stream: number, name: string): BuiltNet {
  const built = buildNet(net, name);
  const params = new Float32Array(paramCount(net));
  initParams(net, 1, stream, params);
  let offset = 0;
  for (const v of built.vars) {
    tf.tidy(() => v.assign(tf.tensor(params.subarray(offset, offset + v.size), v.shape)));
    offset += v.size;
  }
  return built;
}

/** How the forward pass is written: tf.layers `model.apply` (what the workers do) or plain tf ops on the variables. */
export type ForwardKind = 'layers' | 'ops';

/**
 * One training step of `model` at `batchSize` on this thread, computed as a
 * worker computes it (D phase then G phase, gradients by `tf.variableGrads`,
 * the same loss), with the forward pass written as `forward` says. Returns
 * the step (which returns D and G losses) and a disposer.
 */
async function stepRunner(model: ModelName, batchSize: number): Promise<{
  step: (forward: ForwardKind) => [number, number]; dispose: () => void; tf: Tf;
}> {
  const tf = await initBackend('wasm');
  const preset = modelPreset(model, [28, 28, 1]);
  const g = loaded(tf, preset.generator, 0, 'generator'), d = loaded(tf, preset.discriminator, 1, 'discriminator');
  const z = tf.randomNormal([batchSize, preset.latentDim], 0, 1, 'float32', 1);
  const real = tf.randomUniform([batchSize, 28, 28, 1], -1, 1, 'float32', 2);
  const bce = (logits: Tensor, label: 0 | 1): Scalar => tf.tidy(() => {
    const signed = label === 1 ? tf.neg(logits) : logits;
    return tf.mean(tf.add(tf.relu(signed), tf.log1p(tf.exp(tf.neg(tf.abs(signed)))))) as Scalar;
  });
  const grads = (loss: () => Scalar, vars: Variable[]): number => {
    const { value, grads } = tf.variableGrads(loss, vars);
    for (const t of Object.values(grads)) t.dataSync();
    const v = value.dataSync()[0]!;
    tf.dispose([value, ...Object.values(grads)]);
    return v;
  };
  const step = (forward: ForwardKind): [number, number] => {
    const run = (net: BuiltNet, spec: NetSpec, x: Tensor): Tensor =>
      forward === 'layers' ? net.model.apply(x, { training: true }) as Tensor : opsForward(tf, spec, net.vars, x);
    const G = (x: Tensor): Tensor => run(g, preset.generator, x), D = (x: Tensor): Tensor => run(d, preset.discriminator, x);
    const fake = tf.tidy(() => G(z));
    const dLoss = grads(() => tf.add(bce(D(real), 1), bce(D(fake), 0)) as Scalar, d.vars);
    fake.dispose();
    return [dLoss, grads(() => bce(D(G(z)), 1), g.vars)];
  };
  const dispose = (): void => {
    tf.dispose([z, real]);
    g.model.dispose();
    d.model.dispose();
  };
  return { step, dispose, tf };
}

function medianMs(f: () => void, n: number): number {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    f();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[n >> 1]!;
}

/**
 * One training step of `model` at `batchSize` on the main thread with wasm
 * (ganpool's kernels registered), computed as a worker computes it
 * (tf.layers `apply` inside `tf.variableGrads`), under `tf.profile`; kernel
 * times summed by kernel name (op-level wrapper entries, which contain their
 * kernel's time, are left out).
 */
export async function profileStep(model: ModelName, batchSize: number): Promise<KernelProfile> {
  const { step, dispose, tf } = await stepRunner(model, batchSize);
  for (let i = 0; i < 3; i++) step('layers');
  const stepMs = medianMs(() => step('layers'), 7);
  const t0 = performance.now();
  const info = await tf.profile(() => { step('layers'); });
  const wallMs = performance.now() - t0;
  const by = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    if (k.name.endsWith('__op')) continue;
    const e = by.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += Number(k.kernelTimeMs);
    e.calls++;
    by.set(k.name, e);
  }
  const total = [...by.values()].reduce((a, e) => a + e.ms, 0);
  dispose();
  return {
    model, batchSize, stepMs, wallMs,
    kernels: [...by].map(([name, e]) => ({ name, ...e, share: e.ms / total })).sort((a, b) => b.ms - a.ms),
  };
}

/** ms per step with the forward pass through tf.layers vs plain ops, and how far their losses differ. */
export interface ForwardComparison {
  model: ModelName;
  batchSize: number;
  layersMs: number;
  opsMs: number;
  /** max |loss(layers) - loss(ops)| over the D and G losses of one step: the two compute the same thing. */
  lossDiff: number;
}

/**
 * Times one training step of a model without batch norm (the probes) with
 * the forward pass written through tf.layers (as the workers do) and as
 * plain tf ops on the same variables, interleaved over `rounds` rounds of 5.
 */
export async function compareForward(model: ModelName, batchSize: number, rounds = 3): Promise<ForwardComparison> {
  const { step, dispose } = await stepRunner(model, batchSize);
  const a = step('layers'), b = step('ops');
  const lossDiff = Math.max(Math.abs(a[0] - b[0]), Math.abs(a[1] - b[1]));
  for (let i = 0; i < 2; i++) { step('layers'); step('ops'); }
  const layers: number[] = [], ops: number[] = [];
  for (let r = 0; r < rounds; r++) {
    layers.push(medianMs(() => step('layers'), 5));
    ops.push(medianMs(() => step('ops'), 5));
  }
  dispose();
  const mid = (xs: number[]): number => xs.sort((x, y) => x - y)[xs.length >> 1]!;
  return { model, batchSize, layersMs: mid(layers), opsMs: mid(ops), lossDiff };
}

const n0 = (x: number): string => Math.round(x).toLocaleString('en-US');

/** The result as markdown: the throughput table, then one table per profile. */
export function markdown(res: ModelBenchResult): string {
  const lines = [
    '| model | batch | 1 worker ms/step | 1 worker samples/s | 2 workers ms/step | 2 workers samples/s | speedup | PyTorch 1 thread ms/step (samples/s) | ours 2w / PyTorch |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of res.rows) {
    const py = r.pytorchMsPerStep === null ? '—' : `${r.pytorchMsPerStep} (${n0((r.batchSize * 1000) / r.pytorchMsPerStep)})`;
    const ratio = r.ratio === null ? '—' : `${r.ratio.toFixed(2)} ${r.ratio >= TARGET_RATIO ? '✓' : `✗ (target ≥ ${TARGET_RATIO})`}`;
    lines.push(`| ${r.model} | ${r.batchSize} | ${r.oneWorker.msPerStep.toFixed(1)} | ${n0(r.oneWorker.samplesPerSec)} | ` +
      `${r.twoWorkers.msPerStep.toFixed(1)} | ${n0(r.twoWorkers.samplesPerSec)} | ` +
      `${(r.twoWorkers.samplesPerSec / r.oneWorker.samplesPerSec).toFixed(2)} | ${py} | ${ratio} |`);
  }
  for (const p of res.profiles) {
    const total = p.kernels.reduce((a, k) => a + k.ms, 0);
    lines.push('', `Kernel profile of one ${p.model} step at batch ${p.batchSize} (main thread, wasm, 1 thread): ` +
      `${total.toFixed(1)} ms in kernels, ${p.wallMs.toFixed(1)} ms wall under tf.profile, ` +
      `${p.stepMs.toFixed(1)} ms per step unprofiled (median of 7)`, '',
    '| kernel | ms | calls | share |', '|---|---:|---:|---:|');
    for (const k of p.kernels.filter((k) => k.share >= 0.005)) {
      lines.push(`| ${k.name} | ${k.ms.toFixed(1)} | ${k.calls} | ${(k.share * 100).toFixed(1)}% |`);
    }
  }
  if (res.forward.length > 0) {
    lines.push('', 'One step on the main thread (wasm, 1 thread), forward pass through tf.layers vs plain tf ops on the same variables:', '',
      '| model | batch | tf.layers ms/step | plain ops ms/step | ops / layers | loss difference |', '|---|---:|---:|---:|---:|---:|');
    for (const f of res.forward) {
      lines.push(`| ${f.model} | ${f.batchSize} | ${f.layersMs.toFixed(1)} | ${f.opsMs.toFixed(1)} | ${(f.opsMs / f.layersMs).toFixed(2)} | ${f.lossDiff.toExponential(1)} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const get = (k: string): string | undefined => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : undefined; };
  const list = (k: string): string[] | undefined => get(k)?.split(',');
  const num = (k: string): number | undefined => (get(k) === undefined ? undefined : Number(get(k)));
  const opts: ModelBenchOptions = { profile: args.includes('--profile') ? true : 'auto', compareForward: args.includes('--compare-forward') };
  const models = list('--models'), batches = list('--batches')?.map(Number);
  if (models) opts.models = models as ModelName[];
  if (batches) opts.batches = batches;
  for (const k of ['rounds', 'steps', 'warmup'] as const) { const v = num(`--${k}`); if (v !== undefined) opts[k] = v; }
  const res = await runModelBench(opts);
  const json = get('--json');
  if (json !== undefined) writeFileSync(json, JSON.stringify(res, null, 2));
}
