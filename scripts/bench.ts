/**
 * `npm run bench`: the mlp model at batch 256 with 1 and 2 workers and on the
 * main thread with no pool, interleaved over several rounds; prints
 * samples/s, the speedup of 2 workers over 1, and where each step's time
 * goes outside the workers. Flags: --rounds R --steps N --batch-size B --model M.
 */
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { runTrainerBench, type BenchRow } from '../src/bench.js';
import { loadEmbeddedMnist } from '../src/datasets/mnist.js';
import type { ModelName } from '../src/models.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    steps: { type: 'string', default: '8' },
    'batch-size': { type: 'string', default: '256' },
    model: { type: 'string', default: 'mlp' },
  },
});
const model = values.model as ModelName;
const batchSize = Number(values['batch-size']);
const label = (r: BenchRow): string => (r.workers === 0 ? 'main thread, no pool' : `pool, ${r.workers} worker${r.workers > 1 ? 's' : ''}`);

console.log(`ganpool bench: ${model}, batch ${batchSize}, ${values.rounds} rounds × ${values.steps} steps, ${cpus().length} cores (${cpus()[0]?.model ?? '?'})`);
const rows = await runTrainerBench({
  cases: [0, 1, 2].map((workers) => ({ model, batchSize, workers })),
  steps: Number(values.steps), rounds: Number(values.rounds), warmup: 3,
  data: loadEmbeddedMnist(),
  onRound: (r) => process.stderr.write(`  round ${r}/${values.rounds}\n`),
});
console.log('\n| configuration | ms/step | samples/s | outside workers | of which Adam | reload | task overhead |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${label(r)} | ${r.msPerStep.toFixed(1)} | ${r.samplesPerSec.toFixed(0)} | ${r.outsideMs.toFixed(2)} ms (${(r.outsideShare * 100).toFixed(1)}%) | ` +
    `${r.adamMs.toFixed(2)} | ${r.reloadMs.toFixed(2)} | ${r.overheadMs.toFixed(2)} |`);
}
const [main, one, two] = rows as [BenchRow, BenchRow, BenchRow];
console.log(`\nspeedup, 2 workers over 1: ${(two.samplesPerSec / one.samplesPerSec).toFixed(2)}× (target ≥ 1.8×)`);
console.log(`time outside the workers with 2 workers: ${(two.outsideShare * 100).toFixed(1)}% of a step (target ≤ 5%)`);
console.log(`pool overhead, 1 worker vs the main thread: ${(one.msPerStep - main.msPerStep).toFixed(2)} ms/step ` +
  `(${(((one.msPerStep - main.msPerStep) / main.msPerStep) * 100).toFixed(1)}%)`);
