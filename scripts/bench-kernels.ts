/**
 * Benchmark of the wasm training kernels (src/engines/tfjs/kernels) against the stock
 * wasm kernels and against the plain fast wasm path (forward Conv2D / a
 * non-transposed matmul of the same size) measured in the same run.
 *
 *   npx tsx scripts/bench-kernels.ts [--batches 64,256] [--rounds 3] [--json PATH]
 *
 * One thread (WASM_HAS_MULTITHREAD_SUPPORT=false). Rounds are interleaved
 * (ours, stock, reference per case per round) and medians reported.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { registerWasmTrainingKernels, stockWasmKernel, WASM_TRAINING_KERNELS } from '../src/engines/tfjs/kernels/index.js';

/** Options of `runKernelBench`. */
export interface KernelBenchOptions {
  /** Batch sizes to benchmark (default [64, 256]). */
  batches?: number[];
  /** Interleaved timing rounds per case; the median is reported (default 3). */
  rounds?: number;
  /** Skip the stock kernel when one call would exceed this many GFLOP at 2 GFLOP/s... (default 30). */
  maxStockGflop?: number;
  /** Print the table to stdout (default true). */
  print?: boolean;
}

/** One benchmarked kernel invocation. */
export interface KernelBenchRow {
  /** Kernel name (BatchMatMul, Conv2DBackpropInput, ...). */
  kernel: string;
  /** Human-readable case (layer, shapes, transposes). */
  label: string;
  /** Useful floating-point operations of one call. */
  flops: number;
  /** GFLOP/s of the registered (new) kernel. */
  ours: number;
  /** GFLOP/s of the stock wasm kernel; null when it does not exist or was skipped. */
  stock: number | null;
  /** Why `stock` is null, if it is. */
  stockNote?: string;
  /** GFLOP/s of the plain fast wasm op of the same size (forward Conv2D / non-transposed matmul). */
  reference: number;
  /** ours / reference. */
  ratioToReference: number;
  /** ours / best reference of the whole run (the wasm peak). */
  ratioToPeak: number;
}

/** Result of `runKernelBench`. */
export interface KernelBenchResult {
  /** tfjs version, backend and thread setup. */
  env: { tfjs: string; backend: string; threads: number };
  /** Best reference GFLOP/s of the run, per family. */
  peak: { conv2d: number; matmul: number };
  /** One row per case. */
  rows: KernelBenchRow[];
}

type Info = { dataId: object; shape: number[]; dtype: string };
type Fn = () => Info;

interface Case {
  kernel: string;
  label: string;
  flops: number;
  ours: Fn;
  stock: Fn | null;
  stockNote?: string;
  ref: Fn;
  family: 'conv2d' | 'matmul';
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Runs the kernel benchmark on the wasm backend (one thread) and returns the
 * table; prints it unless `print: false`.
 */
export async function runKernelBench(opts: KernelBenchOptions = {}): Promise<KernelBenchResult> {
  const batches = opts.batches ?? [64, 256];
  const rounds = opts.rounds ?? 3;
  const maxStockGflop = opts.maxStockGflop ?? 30;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  registerWasmTrainingKernels();
  await tf.setBackend('wasm');
  await tf.ready();
  const backend = tf.backend() as unknown as { disposeData(d: object): void };
  const keep: tf.Tensor[] = [];
  const rnd = (shape: number[]) => { const t = tf.randomUniform(shape, -1, 1); keep.push(t); return t; };
  const kf = (fn: tf.KernelFunc | undefined, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>): Fn =>
    () => fn!({ inputs, backend: tf.backend(), attrs: attrs as tf.NamedAttrMap }) as Info;
  const conv2dFn = tf.getKernel('Conv2D', 'wasm').kernelFunc;
  const stockMM = stockWasmKernel('BatchMatMul');
  const cases: Case[] = [];

  const addMatmul = (label: string, M: number, K: number, N: number, tA: boolean, tB: boolean) => {
    const a = rnd(tA ? [K, M] : [M, K]);
    const b = rnd(tB ? [N, K] : [K, N]);
    const a0 = rnd([M, K]);
    const b0 = rnd([K, N]);
    const attrs = { transposeA: tA, transposeB: tB };
    const flops = 2 * M * K * N;
    cases.push({
      kernel: 'BatchMatMul', family: 'matmul', flops,
      label: `${label} [${M}x${K}]·[${K}x${N}] ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'}`,
      ours: kf(WASM_TRAINING_KERNELS['BatchMatMul'], { a, b }, attrs),
      stock: flops / 2e9 > maxStockGflop ? null : kf(stockMM, { a, b }, attrs),
      ref: kf(stockMM, { a: a0, b: b0 }, { transposeA: false, transposeB: false }),
    });
  };

  for (const B of batches) {
    // DCGAN dense layers: forward (NN), dW = xᵀ·dy (TN), dx = dy·Wᵀ (NT).
    for (const [name, inp, out] of [['G dense 100→6272', 100, 6272], ['D dense 6272→1', 6272, 1]] as const) {
      addMatmul(`B${B} ${name} fwd`, B, inp, out, false, false);
      addMatmul(`B${B} ${name} dW`, inp, B, out, true, false);
      addMatmul(`B${B} ${name} dX`, B, out, inp, false, true);
    }
    // Fused dense forward (bias + relu) as tf.layers emits it.
    {
      const a = rnd([1, B, 784]); const w = rnd([1, 784, 512]); const bias = rnd([512]);
      const aT = rnd([1, 784, B]);
      const fused = WASM_TRAINING_KERNELS['_FusedMatMul'];
      const stockF = stockWasmKernel('_FusedMatMul');
      const flops = 2 * B * 784 * 512;
      for (const tA of [false, true]) {
        const attrs = { transposeA: tA, transposeB: false, activation: 'relu', leakyreluAlpha: 0 };
        const inputs = { a: tA ? aT : a, b: w, bias };
        cases.push({
          kernel: '_FusedMatMul', family: 'matmul', flops,
          label: `B${B} fused 784→512 bias+relu ${tA ? 'TN' : 'NN'}`,
          ours: kf(fused, inputs, attrs), stock: kf(stockF, inputs, attrs),
          ref: kf(stockF, { a, b: w, bias }, { ...attrs, transposeA: false }),
        });
      }
    }
    // Batched matmul (attention-like) — stock is slow for any batch > 1.
    {
      const a = rnd([8, B, 64]); const b = rnd([8, 64, B]); const a2 = rnd([8 * B, 64]); const b2 = rnd([64, B]);
      const flops = 2 * 8 * B * 64 * B;
      cases.push({
        kernel: 'BatchMatMul', family: 'matmul', flops, label: `batched 8×[${B}x64]·[64x${B}] NN`,
        ours: kf(WASM_TRAINING_KERNELS['BatchMatMul'], { a, b }, { transposeA: false, transposeB: false }),
        stock: kf(stockMM, { a, b }, { transposeA: false, transposeB: false }),
        ref: kf(stockMM, { a: a2, b: b2 }, { transposeA: false, transposeB: false }),
      });
    }
    // MLP dense layers, every transpose combination.
    for (const [inp, out] of [[784, 512], [512, 256], [100, 256], [256, 512], [512, 784]] as const) {
      for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        addMatmul(`B${B} mlp ${inp}→${out}`, B, inp, out, tA, tB);
      }
    }
    // DCGAN convolutions (k4 s2 'same').
    const convs = [
      // [label, x shape, filter shape] of the forward conv whose gradients we need
      ['G convT 128→64 7→14 / D conv 64→128 14→7', [B, 14, 14, 64], [4, 4, 64, 128]],
      ['G convT 64→1 14→28 / D conv 1→64 28→14', [B, 28, 28, 1], [4, 4, 1, 64]],
    ] as const;
    for (const [label, xs, fs] of convs) {
      const x = rnd([...xs]); const w = rnd([...fs]);
      const OH = Math.ceil(xs[1] / 2); const OW = Math.ceil(xs[2] / 2);
      const dy = rnd([B, OH, OW, fs[3]]);
      const flops = 2 * B * OH * OW * fs[0] * fs[1] * fs[2] * fs[3];
      const cattrs = { strides: [2, 2], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: 'floor' };
      const ref = kf(conv2dFn, { x, filter: w }, { ...cattrs, dilations: [1, 1] });
      cases.push({
        kernel: 'Conv2DBackpropInput', family: 'conv2d', flops, label: `B${B} ${label} (dx / convT fwd)`,
        ours: kf(WASM_TRAINING_KERNELS['Conv2DBackpropInput'], { dy, filter: w }, { ...cattrs, inputShape: [...xs] }),
        stock: flops / 2e9 > maxStockGflop ? null : kf(stockWasmKernel('Conv2DBackpropInput'), { dy, filter: w }, { ...cattrs, inputShape: [...xs] }),
        ref,
      });
      cases.push({
        kernel: 'Conv2DBackpropFilter', family: 'conv2d', flops, label: `B${B} ${label} (dW)`,
        ours: kf(WASM_TRAINING_KERNELS['Conv2DBackpropFilter'], { x, dy }, { ...cattrs, filterShape: [...fs] }),
        stock: null, stockNote: 'not registered in stock wasm', ref,
      });
    }
  }

  const time = (f: Fn): number => {
    const t0 = performance.now();
    const r = f();
    const dt = performance.now() - t0;
    backend.disposeData(r.dataId);
    return dt;
  };
  const tOurs: number[][] = cases.map(() => []);
  const tStock: number[][] = cases.map(() => []);
  const tRef: number[][] = cases.map(() => []);
  for (const c of cases) { time(c.ours); time(c.ref); } // warm-up (XNNPACK operator creation, heap growth)
  for (let r = 0; r < rounds; r++) {
    cases.forEach((c, i) => {
      tOurs[i].push(time(c.ours));
      if (c.stock !== null) tStock[i].push(time(c.stock));
      tRef[i].push(time(c.ref));
    });
  }
  const gf = (flops: number, ms: number) => flops / ms / 1e6;
  const peak = { conv2d: 0, matmul: 0 };
  const refG = cases.map((c, i) => gf(c.flops, median(tRef[i])));
  cases.forEach((c, i) => { peak[c.family] = Math.max(peak[c.family], refG[i]); });
  const rows: KernelBenchRow[] = cases.map((c, i) => {
    const ours = gf(c.flops, median(tOurs[i]));
    const row: KernelBenchRow = {
      kernel: c.kernel, label: c.label, flops: c.flops, ours,
      stock: c.stock === null ? null : gf(c.flops, median(tStock[i])),
      reference: refG[i], ratioToReference: ours / refG[i], ratioToPeak: ours / peak[c.family],
    };
    if (c.stock === null) row.stockNote = c.stockNote ?? `skipped (> ${maxStockGflop} GFLOP at 2 GFLOP/s)`;
    return row;
  });
  tf.dispose(keep);
  const result: KernelBenchResult = {
    env: { tfjs: tf.version.tfjs, backend: tf.getBackend(), threads: 1 }, peak, rows,
  };
  if (opts.print ?? true) printTable(result);
  return result;
}

/** Prints a `runKernelBench` result as a fixed-width table. */
export function printTable(res: KernelBenchResult): void {
  const f = (x: number | null) => (x === null ? '   —  ' : x.toFixed(1).padStart(6));
  console.log(`wasm, 1 thread, tfjs ${res.env.tfjs}; peak this run: Conv2D ${res.peak.conv2d.toFixed(1)} GFLOP/s, matmul NN ${res.peak.matmul.toFixed(1)} GFLOP/s`);
  console.log(`${'kernel'.padEnd(21)} ${'case'.padEnd(62)}  ours  stock    ref  ours/ref ours/peak`);
  for (const r of res.rows) {
    console.log(`${r.kernel.padEnd(21)} ${r.label.padEnd(62)} ${f(r.ours)} ${f(r.stock)} ${f(r.reference)}   ${r.ratioToReference.toFixed(2).padStart(5)}   ${r.ratioToPeak.toFixed(2).padStart(5)}${r.stockNote ? `  (stock: ${r.stockNote})` : ''}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const get = (k: string) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : undefined; };
  const batches = get('--batches')?.split(',').map(Number);
  const rounds = get('--rounds');
  const res = await runKernelBench({ ...(batches ? { batches } : {}), ...(rounds ? { rounds: Number(rounds) } : {}) });
  const json = get('--json');
  if (json !== undefined) writeFileSync(json, JSON.stringify(res, null, 2));
}
