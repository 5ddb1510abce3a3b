/**
 * What survives, measured (issue 9): a soak, the cost of a recovery, and the
 * injected faults with their outcome.
 *
 *   npx tsx scripts/faults-report.ts [--soak-steps 10000] [--every 500]
 *
 * 1. soak: `mlp`, batch 64, 2 workers, --soak-steps steps; every --every steps
 *    the process RSS and each worker thread's V8 heap. Goal: flat (< 5% growth).
 * 2. recovery: step time of the step in which a fault struck (its phase retried,
 *    or a worker thread replaced) against the median step, mlp and dcgan, in one
 *    40-step run of the lockstep loop.
 * 3. faults: each injectable fault on a 2-worker run, and whether the run
 *    completed bit-identical to the same run without it.
 */
import { parseArgs } from 'node:util';
import { GanTrainer, type StepInfo, type TrainConfig } from '../src/index.js';
import { loadEmbeddedMnist } from '../src/data/mnist.js';
import { INJECT_FAULT_ENV } from '../src/training/faults.js';
import { createProgress } from '../src/util/progress.js';

const { values } = parseArgs({ options: { 'soak-steps': { type: 'string', default: '10000' }, every: { type: 'string', default: '500' } } });
const soakSteps = Number(values['soak-steps']), every = Number(values.every);
const data = loadEmbeddedMnist();
const mb = (b: number): string => (b / 2 ** 20).toFixed(1);

async function withFault<T>(fault: string | null, fn: () => Promise<T>): Promise<T> {
  if (fault) process.env[INJECT_FAULT_ENV] = fault;
  try {
    return await fn();
  } finally {
    delete process.env[INJECT_FAULT_ENV];
  }
}

/** Each worker thread's V8 heap (several probes so that every thread answers). */
async function workerHeaps(trainer: GanTrainer, workers: number): Promise<Map<number, number>> {
  const heaps = new Map<number, number>();
  for (let i = 0; i < 8 && heaps.size < workers; i++) {
    const rs = await Promise.all(Array.from({ length: workers }, () => trainer.probe()));
    for (const r of rs) heaps.set(r.threadId, r.heapUsed);
  }
  return heaps;
}

console.log(`## Soak: mlp, batch 64, 2 workers, ${soakSteps} steps\n`);
{
  const trainer = await GanTrainer.create({ model: 'mlp', workers: 2, batchSize: 64, seed: 1, steps: soakSteps }, { data });
  const rows: string[] = ['| step | process RSS MiB | worker heaps MiB |', '|---:|---:|---|'];
  const first = { rss: 0, heaps: [] as number[] };
  const progress = createProgress('soak', soakSteps);
  try {
    // The lockstep loop runs `every` steps at a time (one loop per chunk, as training between pause points).
    for (let s = 0; s < soakSteps;) {
      const n = s === 0 ? 1 : Math.min(every - (s % every), soakSteps - s);
      await trainer.runSteps(n);
      s += n;
      progress.update(s);
      if (s === 1 || s % every === 0) {
        const rss = process.memoryUsage().rss, heaps = [...(await workerHeaps(trainer, 2)).values()];
        if (s === every) Object.assign(first, { rss, heaps });
        rows.push(`| ${s} | ${mb(rss)} | ${heaps.map(mb).join(', ')} |`);
      }
    }
    progress.done();
    const lastRss = process.memoryUsage().rss, lastHeaps = [...(await workerHeaps(trainer, 2)).values()];
    console.log(rows.join('\n'));
    const heapGrowth = lastHeaps.reduce((a, b) => a + b, 0) / first.heaps.reduce((a, b) => a + b, 0) - 1;
    console.log(`\nfrom step ${every} to ${soakSteps}: RSS ${mb(first.rss)} → ${mb(lastRss)} MiB (${((lastRss / first.rss - 1) * 100).toFixed(1)}%), ` +
      `worker heaps ${((heapGrowth) * 100).toFixed(1)}% (goal: < 5% growth)\n`);
  } finally {
    await trainer.close();
  }
}

console.log('## Recovery: the step in which a fault struck, against the median step (2 workers, batch 64)\n');
console.log('| model | fault | median step ms | faulted step ms | extra ms |\n|---|---|---:|---:|---:|');
for (const model of ['mlp', 'dcgan'] as const) {
  for (const fault of ['grad@30', 'exit@30']) {
    const infos: StepInfo[] = await withFault(fault, async () => {
      const trainer = await GanTrainer.create({ model, workers: 2, batchSize: 64, seed: 1 }, { data });
      try {
        return await trainer.runSteps(40);
      } finally {
        await trainer.close();
      }
    });
    const sorted = infos.slice(10).filter((i) => !i.retries).map((i) => i.ms).sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)], hit = infos[29];
    console.log(`| ${model} | ${fault} (${hit.retries?.[0]?.error ?? 'no retry?'}) | ${median.toFixed(1)} | ${hit.ms.toFixed(1)} | ${(hit.ms - median).toFixed(1)} |`);
  }
}

console.log('\n## Faults injected (seed, 2 workers, batch 16, 8 steps)\n');
console.log('| fault | outcome | parameters vs the same run without it |\n|---|---|---|');
const config: TrainConfig = { model: 'seed', workers: 2, batchSize: 16, seed: 3 };
async function run(fault: string | null): Promise<{ params: Float32Array; outcome: string }> {
  return withFault(fault, async () => {
    const trainer = await GanTrainer.create(config, { data });
    const notes: string[] = [];
    try {
      for (let s = 0; s < 8; s++) {
        const info = await trainer.step();
        if (info.retries) notes.push(`step ${info.step}: ${info.retries.map((r) => `${r.task} task retried (${r.error})`).join('; ')}`);
        if (info.skipped) notes.push(`step ${info.step}: refused (${info.skipped.reason}, ${info.skipped.phase} phase)`);
      }
      notes.push('completed 8 steps');
    } catch (e) {
      notes.push(`stopped: ${(e as Error).message}`);
    } finally {
      await trainer.close();
    }
    const { g, d } = trainer.parameters();
    const params = new Float32Array(g.length + d.length);
    params.set(g);
    params.set(d, g.length);
    return { params, outcome: notes.join('; ') };
  });
}
const clean = await run(null);
for (const fault of ['grad@4', 'apply@4', 'exit@4', 'nan@4', 'nan@4+']) {
  const r = await run(fault);
  const same = Buffer.from(r.params.buffer).equals(Buffer.from(clean.params.buffer));
  const finite = r.params.every(Number.isFinite);
  console.log(`| \`${fault}\` | ${r.outcome} | ${same ? 'bit-identical' : `differ (step refused)${finite ? ', all finite' : ', NOT finite'}`} |`);
}
