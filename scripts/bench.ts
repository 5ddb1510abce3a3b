/**
 * `npm run bench`: everything ganpool measures, in one run (~6 minutes on 2
 * cores: trainer ~10 s, kernels ~30 s, models ~5 min, of which PyTorch takes
 * ~1¼ min and onnx vs wasm ~½ min).
 *
 * 1. trainer — `ganpool bench` defaults: the mlp model at batch 256 with 1 and
 *    2 workers and on the main thread with no pool, interleaved over rounds,
 *    on the default backend (onnx where it loads); samples/s, the speedup of
 *    2 workers over 1 (target ≥ 1.85×), and where each step's time goes
 *    outside the workers (Adam, weight reload, barrier waits; target ≤ 10%).
 *    Writes runs/bench-<timestamp>/{bench.json, bench.md, scaling.png}.
 * 2. kernels — GFLOP/s of ganpool's wasm kernels vs the stock path and the
 *    plain Conv2D/matmul peak of the same run (scripts/bench-kernels.ts).
 * 3. models — scripts/bench-models.ts on onnx: ms/step and samples/s of mlp,
 *    dcgan and the probe models at batch 64 and 256 with 1 and 2 workers;
 *    PyTorch measured live on the probes (1 thread, 2 threads, DDP 2×1;
 *    skipped with a note when torch is not installed); onnx vs wasm on
 *    dcgan, batch 64, 2 workers; the throughput targets, met or not.
 *
 * `--only trainer,kernels,models` picks sections.
 */
import { parseArgs } from 'node:util';
import { runBenchCommand } from '../src/bench/run.js';
import type { ScalingRow } from '../src/bench/bench.js';
import { printTable, runKernelBench } from './bench-kernels.js';
import { markdown, runModelBench } from './bench-models.js';

const SECTIONS = ['trainer', 'kernels', 'models'] as const;
const { values } = parseArgs({ options: { only: { type: 'string', default: SECTIONS.join(',') } } });
const only = new Set(values.only.split(','));
for (const s of only) {
  if (!(SECTIONS as readonly string[]).includes(s)) {
    console.error(`invalid --only: "${s}"; expected a comma-separated list of ${SECTIONS.join(', ')}`);
    process.exit(2);
  }
}

function trainerSummary(rows: ScalingRow[]): string {
  const find = (w: number): ScalingRow | undefined => rows.find((r) => r.workers === w);
  const main = find(0), one = find(1), two = find(2);
  if (!main || !one || !two) return '';
  const overhead = one.msPerStep - main.msPerStep;
  return [
    `speedup, 2 workers over 1: ${(two.samplesPerSec / one.samplesPerSec).toFixed(2)}× (target ≥ 1.85×)`,
    `time outside the workers with 2 workers: ${(two.outsideShare * 100).toFixed(1)}% of a step (target ≤ 10%): ` +
      `Adam ${two.adamMs.toFixed(2)} ms, reload ${two.reloadMs.toFixed(2)} ms, barrier waits ${two.overheadMs.toFixed(2)} ms`,
    `pool overhead, 1 worker vs the same loop on the main thread: ${overhead.toFixed(2)} ms/step (${((overhead / main.msPerStep) * 100).toFixed(1)}%)`,
  ].join('\n');
}

if (only.has('trainer')) {
  console.log('## Trainer: mlp, batch 256, 1 and 2 workers vs the main thread\n');
  const report = await runBenchCommand({});
  console.log(`\n${trainerSummary(report.rows)}\n`);
}
if (only.has('kernels')) {
  console.log('## Kernels (wasm, one thread)\n');
  printTable(await runKernelBench({ rounds: 5, print: false }));
  console.log('');
}
if (only.has('models')) {
  console.log('## Models\n');
  console.log(markdown(await runModelBench({ print: false, compareWasm: true })));
}
