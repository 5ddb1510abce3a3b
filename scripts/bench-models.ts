/**
 * Training throughput of the model presets with 1 and 2 workers, against
 * PyTorch measured live in the same sitting for the probe models, plus
 * (optionally) the onnx backend against wasm on dcgan, and the project's
 * throughput targets with their measured values.
 *
 *   npx tsx scripts/bench-models.ts [--models mlp,dcgan,probe-mlp,probe-dcgan] [--batches 64,256]
 *       [--backend onnx] [--rounds 5] [--steps N] [--warmup N] [--round-ms 600] [--warmup-ms 1500]
 *       [--no-torch] [--torch-steps 20] [--torch-rounds 3]
 *       [--compare-wasm] [--wasm-rounds 3] [--wasm-steps 6] [--wasm-warmup 8] [--json PATH]
 *
 * 1. ganpool: each (model, batch) is measured by `runTrainerBench`
 *    (src/bench.ts): its 1- and 2-worker trainers run interleaved round by
 *    round, figures are medians of the step times. Pairs run one after
 *    another, so at most three worker threads are alive at a time. Unless
 *    --steps / --warmup fix them, a short calibration run (2 workers, 5 +
 *    5 steps) sizes each pair's steps per round to about --round-ms of work per
 *    trainer (at least 12) and its warm-up to about --warmup-ms (at least
 *    10 steps): onnx steps of the small models take a few ms, so fixed
 *    counts would make their rounds too short to ride out a blip.
 * 2. PyTorch (scripts/torch-reference.ts): the probe models at the same
 *    batches as t1 (1 thread), t2 (2 threads) and ddp2 (2 DDP processes × 1
 *    thread), after ganpool's rows (never concurrently). Without torch the
 *    PyTorch columns read '—' and a note says why.
 * 3. `--compare-wasm`: dcgan at batch 64 with 2 workers on onnx and on wasm,
 *    alternating round by round (a fresh trainer per backend per round).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runTrainerBench, type BenchRow } from '../src/bench/bench.js';
import { onnxAvailability, type BackendName } from '../src/engines/backend.js';
import { loadEmbeddedMnist } from '../src/data/mnist.js';
import { MODEL_NAMES, type ModelName } from '../src/models/presets.js';
import { createProgress } from '../src/util/progress.js';
import {
  runTorchReference, torchAvailable, torchMarkdown, type TorchConfig, type TorchReference,
} from './torch-reference.js';

/** The models PyTorch mirrors (scripts/bench-torch.py). */
export const PROBE_MODELS: readonly ModelName[] = ['probe-mlp', 'probe-dcgan'];

/** The backends this benchmark can measure (tfjs-node runs one worker only). */
export const MODEL_BENCH_BACKENDS: readonly BackendName[] = ['onnx', 'wasm', 'cpu'];

/** How to get PyTorch on Debian, for the note when it is missing. */
export const TORCH_INSTALL = 'apt-get install python3-torch libopenblas0-openmp';

/** Targets (issue 17): ganpool 2 workers over PyTorch, by mean throughput. */
export const TARGET_VS_T1 = 1.5;
export const STRETCH_VS_T1 = 2;
export const TARGET_VS_BEST_2CORE = 1.2;
/** Targets: 2 workers over 1 (mean throughput), by model and batch. */
export const TARGET_SPEEDUP: readonly { model: ModelName; batch: number; goal: number }[] = [
  { model: 'probe-mlp', batch: 64, goal: 1.7 },
  { model: 'mlp', batch: 256, goal: 1.85 },
  { model: 'probe-dcgan', batch: 64, goal: 1.85 },
];
/** Target: p95 step time ÷ median, probe-mlp batch 64, 2 workers. */
export const TARGET_TAIL = 1.25;
/** Targets: share of a step outside the workers (2 workers): dcgan (every batch), and mlp at batch 64. */
export const TARGET_OUTSIDE_SHARE: readonly { model: ModelName; batch: number | null; goal: number }[] = [
  { model: 'dcgan', batch: null, goal: 0.05 },
  { model: 'mlp', batch: 64, goal: 0.1 },
];

/** Fewest measured steps per round, and fewest warm-up steps, when sized by calibration. */
export const MIN_STEPS = 12;
export const MIN_WARMUP = 10;
/** Most steps per round or warm-up when sized by calibration. */
export const MAX_STEPS = 400;

/** Options of {@link runModelBench}. */
export interface ModelBenchOptions {
  /** Presets to measure (default mlp, dcgan, probe-mlp, probe-dcgan). */
  models?: ModelName[];
  /** Global batch sizes (default 64 and 256). */
  batches?: number[];
  /** ganpool's backend (default onnx). */
  backend?: BackendName;
  /** Interleaved rounds per (model, batch) (default 5). */
  rounds?: number;
  /** Measured steps per trainer per round (default: sized by calibration, see {@link roundMs}). */
  steps?: number;
  /** Warm-up steps per trainer, not measured (default: sized by calibration, see {@link warmupMs}; a fresh pool's first steps run slower). */
  warmup?: number;
  /** Without `steps`: measured work per trainer per round, ms (default 600; at least {@link MIN_STEPS} steps). */
  roundMs?: number;
  /** Without `warmup`: warm-up work per trainer, ms (default 1500; at least {@link MIN_WARMUP} steps). */
  warmupMs?: number;
  /** Measure PyTorch on the probe models (default true). */
  torch?: boolean;
  /** PyTorch timed steps per round (default 20) and rounds (default 3). */
  torchSteps?: number;
  torchRounds?: number;
  /** Also compare onnx with wasm on dcgan, batch 64, 2 workers (default false). */
  compareWasm?: boolean;
  /** Rounds (default 3), measured steps (default 6) and warm-up steps (default 8) per backend per round of that comparison. */
  wasmRounds?: number;
  wasmSteps?: number;
  wasmWarmup?: number;
  /** Print the markdown to stdout (default true). */
  print?: boolean;
}

/** PyTorch's samples/s for one (model, batch), per configuration. */
export type TorchSamples = Partial<Record<TorchConfig, number>>;

/** One (model, batch) row of the result. */
export interface ModelBenchRow {
  model: ModelName;
  batchSize: number;
  /** Measured steps per trainer per round, and warm-up steps, used for this pair. */
  steps: number;
  warmup: number;
  /** ms/step of the calibration run (2 workers, 5 warm-up + 5 steps) that sized them, or null when both were fixed. */
  calibrationMs: number | null;
  oneWorker: BenchRow;
  twoWorkers: BenchRow;
  /** Samples/s with 2 workers ÷ with 1. */
  speedup: number;
  /** PyTorch samples/s per config (probe rows with torch measured), else null. */
  torch: TorchSamples | null;
  /** p95 ÷ median step time with 2 workers. */
  tail: number;
  /** ganpool 2 workers samples/s ÷ PyTorch t1's (target ≥ {@link TARGET_VS_T1}). */
  vsT1: number | null;
  /** The fastest of t1, t2 and ddp2 (the best PyTorch on 2 cores), and ganpool 2 workers ÷ it (target ≥ {@link TARGET_VS_BEST_2CORE}). */
  best2Core: TorchConfig | null;
  vsBest2Core: number | null;
}

/** One backend's figures in the onnx-vs-wasm comparison. */
export interface BackendFigures {
  backend: BackendName;
  /** Median over rounds of each round's median ms/step. */
  msPerStep: number;
  samplesPerSec: number;
  /** Each round's row, in round order. */
  rounds: BenchRow[];
}

/** onnx vs wasm on one configuration, rounds alternating between them. */
export interface WasmComparison {
  model: ModelName;
  batchSize: number;
  workers: number;
  /** Per backend per round: a fresh trainer, `warmup` unmeasured steps, then `steps` measured ones. */
  settings: { rounds: number; steps: number; warmup: number };
  onnx: BackendFigures;
  wasm: BackendFigures;
  /** onnx samples/s ÷ wasm's. */
  speedup: number;
}

/** One target with what was measured. */
export interface TargetCheck {
  target: string;
  /** The goal as text, e.g. `≥ 1.5× (stretch 2×)`. */
  goal: string;
  threshold: number;
  /** Whether the measured value must be at least (`min`) or at most (`max`) the threshold. */
  direction: 'min' | 'max';
  /** null when not measured (model or batch not run, torch missing). */
  measured: number | null;
  met: boolean | null;
  /** Why nothing was measured, or a stretch goal reached. */
  note?: string;
}

/** What {@link runModelBench} measured. */
export interface ModelBenchResult {
  backend: BackendName;
  settings: { models: ModelName[]; batches: number[]; rounds: number; steps: number | 'auto'; warmup: number | 'auto'; roundMs: number; warmupMs: number };
  /** CPUs of the machine (os.availableParallelism()). */
  cpus: number;
  /** 1-minute load average at the start (includes whatever ran just before, e.g. another bench section). */
  loadAvgBefore: number;
  /**
   * Share of all CPUs' time used by other processes while this ran (Linux:
   * /proc/stat busy time minus this process's and its children's); above
   * {@link NOISY_OTHER_SHARE} the figures are noisy. null where /proc is missing.
   */
  otherCpuShare: number | null;
  startedAt: string;
  totalSeconds: number;
  rows: ModelBenchRow[];
  /** The PyTorch measurement with its machine facts, or null with {@link torchSkipped}. */
  torch: TorchReference | null;
  torchSkipped: string | null;
  /** The onnx-vs-wasm comparison, or null with {@link wasmSkipped}. */
  wasm: WasmComparison | null;
  wasmSkipped: string | null;
  targets: TargetCheck[];
}

/** {@link ModelBenchResult.otherCpuShare} above this marks the figures as noisy. */
export const NOISY_OTHER_SHARE = 0.05;

/** Busy CPU ticks of the whole machine, and of this process plus its waited-for children (Linux), or null. */
function cpuTicks(): { all: number; total: number; self: number } | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu;
    const own = readFileSync('/proc/self/stat', 'utf8');
    const f = own.slice(own.lastIndexOf(')') + 2).split(' ').map(Number);
    // After the comm field: f[0] is field 3 (state), so utime, stime, cutime, cstime (fields 14-17) are f[11..14].
    return {
      all: user + nice + system + irq + softirq + steal, total: user + nice + system + idle + iowait + irq + softirq + steal,
      self: f[11] + f[12] + f[13] + f[14],
    };
  } catch {
    return null;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs the benchmark; see {@link ModelBenchOptions}. */
export async function runModelBench(opts: ModelBenchOptions = {}): Promise<ModelBenchResult> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const loadAvgBefore = loadavg()[0];
  const ticks0 = cpuTicks();
  const models = opts.models ?? ['mlp', 'dcgan', 'probe-mlp', 'probe-dcgan'];
  const batches = opts.batches ?? [64, 256];
  const backend = opts.backend ?? 'onnx';
  const rounds = opts.rounds ?? 5, roundMs = opts.roundMs ?? 600, warmupMs = opts.warmupMs ?? 1500;
  if (backend === 'onnx') {
    const onnx = onnxAvailability();
    if (!onnx.ok) throw new Error(`bench-models: the onnx backend cannot be loaded (${onnx.reason}); pass --backend wasm`);
  }
  const data = loadEmbeddedMnist();

  // 1. ganpool, 1 and 2 workers, one (model, batch) at a time.
  const pairs = models.flatMap((model) => batches.map((batchSize) => ({ model, batchSize })));
  const calibrate = opts.steps === undefined || opts.warmup === undefined;
  const perPair = 2 * (rounds + 1) + (calibrate ? 1 : 0);
  const progress = createProgress(`bench-models (${backend})`, pairs.length * perPair);
  const measured: { model: ModelName; batchSize: number; steps: number; warmup: number; calibrationMs: number | null; one: BenchRow; two: BenchRow }[] = [];
  const clamp = (n: number, min: number): number => Math.min(MAX_STEPS, Math.max(min, Math.ceil(n)));
  for (const { model, batchSize } of pairs) {
    const base = measured.length * perPair;
    const label = `${model}@${batchSize}`;
    let calibrationMs: number | null = null;
    if (calibrate) {
      const [c] = await runTrainerBench({ cases: [{ model, batchSize, workers: 2 }], steps: 5, rounds: 1, warmup: 5, data, backend });
      calibrationMs = c.msPerStep;
      progress.update(base + 1, { [label]: 'calibrated' });
    }
    const steps = opts.steps ?? clamp(roundMs / calibrationMs!, MIN_STEPS);
    const warmup = opts.warmup ?? clamp(warmupMs / calibrationMs!, MIN_WARMUP);
    const [one, two] = await runTrainerBench({
      cases: [{ model, batchSize, workers: 1 }, { model, batchSize, workers: 2 }],
      steps, rounds, warmup, data, backend,
      onProgress: (done) => progress.update(base + (calibrate ? 1 : 0) + done, { [label]: `${steps} steps × ${rounds} rounds` }),
    });
    measured.push({ model, batchSize, steps, warmup, calibrationMs, one: one, two: two });
  }
  progress.done();

  // 2. PyTorch on the probes, after ganpool's rows.
  let torch: TorchReference | null = null;
  let torchSkipped: string | null = null;
  const probes = models.filter((m) => PROBE_MODELS.includes(m));
  if (opts.torch === false) torchSkipped = 'not requested (--no-torch)';
  else if (probes.length === 0) torchSkipped = 'no probe model among --models';
  else {
    const avail = torchAvailable();
    if (!avail.ok) torchSkipped = `${avail.reason}; install with \`${TORCH_INSTALL}\` (Debian)`;
    else {
      try {
        torch = await runTorchReference({ models: probes, batches, steps: opts.torchSteps ?? 20, rounds: opts.torchRounds ?? 3 });
        if (torch === null) torchSkipped = `PyTorch not available; install with \`${TORCH_INSTALL}\` (Debian)`;
      } catch (e) {
        torchSkipped = `the PyTorch run failed: ${(e as Error).message}`;
      }
    }
  }

  const rows = measured.map(({ model, batchSize, steps, warmup, calibrationMs, one, two }): ModelBenchRow => {
    const samples = torchSamples(torch, model, batchSize);
    const t1 = samples?.t1;
    const best = samples ? bestTwoCore(samples) : null;
    return {
      model, batchSize, steps, warmup, calibrationMs, oneWorker: one, twoWorkers: two, speedup: two.samplesPerSec / one.samplesPerSec,
      tail: two.p95MsPerStep / two.msPerStep,
      torch: samples, vsT1: t1 === undefined ? null : two.samplesPerSec / t1,
      best2Core: best?.config ?? null, vsBest2Core: best ? two.samplesPerSec / best.samplesPerSec : null,
    };
  });

  // 3. onnx vs wasm.
  let wasm: WasmComparison | null = null;
  let wasmSkipped: string | null = null;
  if (!opts.compareWasm) wasmSkipped = 'not requested (--compare-wasm)';
  else if (!onnxAvailability().ok) wasmSkipped = `onnxruntime-node cannot be loaded (${(onnxAvailability() as { reason: string }).reason})`;
  else {
    wasm = await compareWasm(data, opts.wasmRounds ?? 3, opts.wasmSteps ?? 6, opts.wasmWarmup ?? 8);
  }

  const result: ModelBenchResult = {
    backend, settings: { models, batches, rounds, steps: opts.steps ?? 'auto', warmup: opts.warmup ?? 'auto', roundMs, warmupMs },
    cpus: availableParallelism(), loadAvgBefore, otherCpuShare: otherShare(ticks0, cpuTicks()), startedAt, totalSeconds: Math.round((performance.now() - t0) / 1000),
    rows, torch, torchSkipped, wasm, wasmSkipped, targets: [],
  };
  result.targets = targets(result);
  if (opts.print ?? true) process.stdout.write(markdown(result));
  return result;
}

function otherShare(a: ReturnType<typeof cpuTicks>, b: ReturnType<typeof cpuTicks>): number | null {
  if (!a || !b || b.total <= a.total) return null;
  return Math.max(0, (b.all - a.all) - (b.self - a.self)) / (b.total - a.total);
}

function torchSamples(ref: TorchReference | null, model: ModelName, batch: number): TorchSamples | null {
  if (!ref) return null;
  const out: TorchSamples = {};
  for (const r of ref.rows) if (r.model === model && r.batch === batch) out[r.config] = r.samplesPerSec;
  return Object.keys(out).length > 0 ? out : null;
}

function bestTwoCore(s: TorchSamples): { config: TorchConfig; samplesPerSec: number } | null {
  let best: { config: TorchConfig; samplesPerSec: number } | null = null;
  for (const config of ['t1', 't2', 'ddp2'] as const) {
    const v = s[config];
    if (v !== undefined && (best === null || v > best.samplesPerSec)) best = { config, samplesPerSec: v };
  }
  return best;
}

/**
 * dcgan, batch 64, 2 workers on onnx and on wasm: each round runs a fresh
 * trainer per backend (warm-up, then the measured steps), the order
 * alternating from round to round so drift hits both alike.
 */
async function compareWasm(data: ReturnType<typeof loadEmbeddedMnist>, rounds: number, steps: number, warmup: number): Promise<WasmComparison> {
  const model: ModelName = 'dcgan', batchSize = 64, workers = 2;
  const per: Record<'onnx' | 'wasm', BenchRow[]> = { onnx: [], wasm: [] };
  const progress = createProgress('bench-models (onnx vs wasm)', 2 * rounds);
  for (let r = 0; r < rounds; r++) {
    const order: ('onnx' | 'wasm')[] = r % 2 === 0 ? ['onnx', 'wasm'] : ['wasm', 'onnx'];
    for (const backend of order) {
      const [row] = await runTrainerBench({ cases: [{ model, batchSize, workers }], steps, rounds: 1, warmup, data, backend });
      per[backend].push(row);
      progress.update(per.onnx.length + per.wasm.length, { [backend]: `${row.msPerStep.toFixed(0)} ms/step` });
    }
  }
  progress.done();
  const figures = (backend: 'onnx' | 'wasm'): BackendFigures => {
    const ms = median(per[backend].map((x) => x.msPerStep));
    return { backend, msPerStep: ms, samplesPerSec: (batchSize * 1000) / ms, rounds: per[backend] };
  };
  const onnx = figures('onnx'), wasm = figures('wasm');
  return { model, batchSize, workers, settings: { rounds, steps, warmup }, onnx, wasm, speedup: onnx.samplesPerSec / wasm.samplesPerSec };
}

/** The targets, each with its measured value from `res`. */
export function targets(res: Omit<ModelBenchResult, 'targets'>): TargetCheck[] {
  const out: TargetCheck[] = [];
  const check = (target: string, goal: string, threshold: number, direction: 'min' | 'max', measured: number | null, missing: string): TargetCheck => {
    const t: TargetCheck = {
      target, goal, threshold, direction, measured,
      met: measured === null ? null : direction === 'min' ? measured >= threshold : measured <= threshold,
    };
    if (measured === null) t.note = missing;
    return t;
  };
  const row = (model: ModelName, batch: number): ModelBenchRow | undefined => res.rows.find((r) => r.model === model && r.batchSize === batch);
  const noTorch = `no PyTorch figures: ${res.torchSkipped ?? 'not measured'}`;
  for (const { model, batch, goal } of TARGET_SPEEDUP) {
    out.push(check(`${model}, batch ${batch}: 2 workers ÷ 1 worker (mean samples/s)`, `≥ ${goal}×`, goal, 'min',
      row(model, batch)?.speedup ?? null, `${model} at batch ${batch} not measured`));
  }
  for (const r of res.rows.filter((x) => PROBE_MODELS.includes(x.model))) {
    const t = check(`${r.model}, batch ${r.batchSize}: 2 workers ÷ PyTorch t1 (samples/s)`, `≥ ${TARGET_VS_T1}× (stretch ${STRETCH_VS_T1}×)`,
      TARGET_VS_T1, 'min', r.vsT1, noTorch);
    if (r.vsT1 !== null && r.vsT1 >= STRETCH_VS_T1) t.note = 'stretch goal met';
    out.push(t);
  }
  for (const r of res.rows.filter((x) => PROBE_MODELS.includes(x.model) && x.batchSize === 64)) {
    out.push(check(`${r.model}, batch 64: 2 workers ÷ best of PyTorch t1/t2/ddp2 (samples/s)`, `≥ ${TARGET_VS_BEST_2CORE}×`,
      TARGET_VS_BEST_2CORE, 'min', r.vsBest2Core, noTorch));
  }
  out.push(check('probe-mlp, batch 64: p95 ÷ median step time (2 workers)', `≤ ${TARGET_TAIL}`, TARGET_TAIL, 'max',
    row('probe-mlp', 64)?.tail ?? null, 'probe-mlp at batch 64 not measured'));
  for (const { model, batch, goal } of TARGET_OUTSIDE_SHARE) {
    const rows = res.rows.filter((r) => r.model === model && (batch === null || r.batchSize === batch));
    if (rows.length === 0) out.push(check(`${model}${batch === null ? '' : `, batch ${batch}`}: time outside the workers (2 workers)`, `≤ ${goal * 100}%`, goal, 'max', null, `${model} not measured`));
    for (const r of rows) {
      out.push(check(`${r.model}, batch ${r.batchSize}: time outside the workers (2 workers), share of a step`, `≤ ${goal * 100}%`, goal, 'max', r.twoWorkers.outsideShare, ''));
    }
  }
  return out;
}

const n0 = (x: number): string => Math.round(x).toLocaleString('en-US');
const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const times = (x: number | null): string => (x === null ? '—' : `${x.toFixed(2)}×`);
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** The result as markdown: ganpool's table, PyTorch's, the wasm comparison, the targets. */
export function markdown(res: ModelBenchResult): string {
  const s = res.settings;
  const lines: string[] = [
    `### ganpool (${res.backend}), 1 and 2 workers`, '',
    '| model | batch | 1w ms/step | 1w samples/s | 2w ms/step | 2w samples/s | 2w/1w | 2w p95/median | outside (2w) | Adam / reload / other ms (2w) ' +
      '| PyTorch t1 samples/s | best 2-core samples/s | 2w ÷ t1 | 2w ÷ best 2-core |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of res.rows) {
    const one = r.oneWorker, two = r.twoWorkers;
    const t1 = r.torch?.t1, best = r.best2Core ? r.torch?.[r.best2Core] : undefined;
    lines.push(`| ${r.model} | ${r.batchSize} | ${ms(one.msPerStep)} | ${n0(one.samplesPerSec)} | ${ms(two.msPerStep)} | ${n0(two.samplesPerSec)} | ` +
      `${r.speedup.toFixed(2)}× | ${r.tail.toFixed(2)} | ${pct(two.outsideShare)} | ${two.adamMs.toFixed(2)} / ${two.reloadMs.toFixed(2)} / ${two.overheadMs.toFixed(2)} | ` +
      `${t1 === undefined ? '—' : n0(t1)} | ${best === undefined ? '—' : `${n0(best)} (${r.best2Core})`} | ${times(r.vsT1)} | ${times(r.vsBest2Core)} |`);
  }
  const sizing = [
    s.steps === 'auto' ? `steps per round sized to ≈ ${s.roundMs} ms per trainer (≥ ${MIN_STEPS})` : null,
    s.warmup === 'auto' ? `warm-up to ≈ ${s.warmupMs} ms (≥ ${MIN_WARMUP} steps)` : null,
  ].filter(Boolean).join(', ');
  lines.push('', `Medians of ${s.rounds} interleaved rounds per pair; steps per round (warm-up): ` +
    `${res.rows.map((r) => `${r.model}@${r.batchSize} ${r.steps} (${r.warmup})`).join(', ')}` +
    `${sizing ? ` — ${sizing}, by a 2-worker calibration run` : ''}. ` +
    'ms/step are medians; samples/s are mean throughput (every measured step\'s samples ÷ their total time), and 2w/1w and the PyTorch ratios use them. ' +
    '"outside" = share of a step not spent computing gradients (Adam, weight reload, barrier waits; "other" is the waits).');

  lines.push('', '### PyTorch reference (same sitting)', '');
  if (res.torch) lines.push(torchMarkdown(res.torch));
  else lines.push(`Not measured: ${res.torchSkipped}. The PyTorch columns read '—'.`);

  if (res.wasm || (res.wasmSkipped && !res.wasmSkipped.startsWith('not requested'))) {
    lines.push('', '### onnx vs wasm', '');
    const w = res.wasm;
    if (w) {
      lines.push(`| backend | ${w.model} batch ${w.batchSize}, ${w.workers} workers: ms/step | samples/s | per round ms/step |`, '|---|---:|---:|---|');
      for (const f of [w.onnx, w.wasm]) {
        lines.push(`| ${f.backend} | ${ms(f.msPerStep)} | ${n0(f.samplesPerSec)} | ${f.rounds.map((x) => ms(x.msPerStep)).join(', ')} |`);
      }
      lines.push('', `onnx is ${w.speedup.toFixed(2)}× wasm's throughput. ${w.settings.rounds} rounds alternating between the backends, ` +
        `each a fresh trainer per backend with ${w.settings.warmup} warm-up and ${w.settings.steps} measured steps; median of the round medians.`);
    } else lines.push(`Not measured: ${res.wasmSkipped}.`);
  }

  lines.push('', '### Targets', '', '| target | goal | measured | status |', '|---|---|---:|---|');
  for (const t of res.targets) {
    const value = t.measured === null ? '—' : t.target.includes('outside') ? pct(t.measured) : t.target.includes('p95') ? t.measured.toFixed(2) : `${t.measured.toFixed(2)}×`;
    const status = t.met === null ? `n/a (${t.note})` : `${t.met ? 'met' : 'not met'}${t.note ? ` (${t.note})` : ''}`;
    lines.push(`| ${t.target} | ${t.goal} | ${value} | ${status} |`);
  }
  const other = res.otherCpuShare;
  lines.push('', `${res.totalSeconds} s in all on ${res.cpus} CPUs; load average ${res.loadAvgBefore.toFixed(2)} at the start; ` +
    (other === null ? 'CPU use of other processes unknown (no /proc).' : `other processes used ${pct(other)} of the CPU time meanwhile` +
      `${other > NOISY_OTHER_SHARE ? ' — the machine was busy, the figures are noisy' : ''}.`));
  return `${lines.join('\n')}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      models: { type: 'string' }, batches: { type: 'string' }, backend: { type: 'string' },
      rounds: { type: 'string' }, steps: { type: 'string' }, warmup: { type: 'string' }, 'round-ms': { type: 'string' }, 'warmup-ms': { type: 'string' },
      'no-torch': { type: 'boolean' }, 'torch-steps': { type: 'string' }, 'torch-rounds': { type: 'string' },
      'compare-wasm': { type: 'boolean' }, 'wasm-rounds': { type: 'string' }, 'wasm-steps': { type: 'string' }, 'wasm-warmup': { type: 'string' },
      json: { type: 'string' },
    },
  });
  const fail = (msg: string): never => {
    console.error(`bench-models: ${msg}`);
    process.exit(2);
  };
  const whole = (flag: string, min: number): number | undefined => {
    const v = values[flag as keyof typeof values];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) fail(`invalid --${flag}: "${String(v)}"; expected a whole number ≥ ${min}`);
    return n;
  };
  const opts: ModelBenchOptions = { torch: !values['no-torch'], compareWasm: values['compare-wasm'] === true };
  if (values.models !== undefined) {
    const models = values.models.split(',').filter(Boolean);
    for (const m of models) if (!(MODEL_NAMES as readonly string[]).includes(m)) fail(`invalid --models: "${m}"; expected some of ${MODEL_NAMES.join(', ')}`);
    opts.models = models as ModelName[];
  }
  if (values.batches !== undefined) {
    opts.batches = values.batches.split(',').filter(Boolean).map((b) => {
      const n = Number(b);
      return Number.isInteger(n) && n >= 2 && n % 2 === 0 ? n : fail(`invalid --batches: "${b}"; expected even whole numbers ≥ 2`);
    });
  }
  if (values.backend !== undefined) {
    if (!(MODEL_BENCH_BACKENDS as readonly string[]).includes(values.backend)) fail(`invalid --backend: "${values.backend}"; expected ${MODEL_BENCH_BACKENDS.join(', ')}`);
    opts.backend = values.backend as BackendName;
  }
  const numeric = { rounds: 'rounds', steps: 'steps', warmup: 'warmup', roundMs: 'round-ms', warmupMs: 'warmup-ms', torchSteps: 'torch-steps', torchRounds: 'torch-rounds',
    wasmRounds: 'wasm-rounds', wasmSteps: 'wasm-steps', wasmWarmup: 'wasm-warmup' } as const;
  for (const [key, flag] of Object.entries(numeric) as [keyof typeof numeric, string][]) {
    const v = whole(flag, flag.endsWith('warmup') ? 0 : 1);
    if (v !== undefined) opts[key] = v;
  }
  try {
    const res = await runModelBench(opts);
    if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify(res, null, 2)}\n`);
  } catch (e) {
    fail((e as Error).message);
  }
}
