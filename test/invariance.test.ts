import test from 'ava';
import { GanTrainer } from '../src/index.js';
import { maxAbsDiff, mnistData } from './helpers.js';

async function paramsAfter(workers: number, steps: number): Promise<{ g: Float32Array; d: Float32Array; losses: number[] }> {
  const trainer = await GanTrainer.create({ model: 'mlp', workers, batchSize: 60, seed: 3, backend: 'wasm' }, { data: mnistData() });
  try {
    const losses: number[] = [];
    for (let i = 0; i < steps; i++) losses.push((await trainer.step()).dLoss);
    return { ...trainer.parameters(), losses };
  } finally {
    await trainer.close();
  }
}

test('5 steps with 1, 2 and 3 workers from one seed give the same parameters', async (t) => {
  const start = await GanTrainer.create({ model: 'mlp', workers: 1, batchSize: 60, seed: 3, backend: 'wasm' }, { data: mnistData() });
  const initial = start.parameters();
  await start.close();
  const one = await paramsAfter(1, 5);
  const moved = maxAbsDiff(one.g, initial.g);
  t.true(moved > 1e-4, `training moved the generator (max change ${moved})`);
  for (const workers of [2, 3]) {
    const other = await paramsAfter(workers, 5);
    const dG = maxAbsDiff(other.g, one.g), dD = maxAbsDiff(other.d, one.d);
    t.log(`${workers} vs 1 worker: max |Δ| G ${dG.toExponential(2)}, D ${dD.toExponential(2)}; D losses ${other.losses.map((l) => l.toFixed(4)).join(' ')}`);
    t.true(dG <= 1e-4, `G differs by ${dG}`);
    t.true(dD <= 1e-4, `D differs by ${dD}`);
  }
});

test('a different seed gives different parameters (the comparison above can fail)', async (t) => {
  const a = await GanTrainer.create({ model: 'mlp', workers: 1, batchSize: 60, seed: 3, backend: 'wasm' }, { data: mnistData() });
  const b = await GanTrainer.create({ model: 'mlp', workers: 1, batchSize: 60, seed: 4, backend: 'wasm' }, { data: mnistData() });
  t.true(maxAbsDiff(a.parameters().g, b.parameters().g) > 1e-3);
  await Promise.all([a.close(), b.close()]);
});
