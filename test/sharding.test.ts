import test from 'ava';
import { GanTrainer } from '../src/index.js';
import { splitBatch } from '../src/training/coordinator.js';
import { mnistData, relErr } from './helpers.js';

test('splitBatch covers the batch with shards differing by at most one', (t) => {
  const shards = splitBatch(100, 3);
  t.deepEqual(shards, [{ first: 0, count: 34 }, { first: 34, count: 33 }, { first: 67, count: 33 }]);
  t.is(splitBatch(7, 7).length, 7);
});

async function phaseGradients(workers: number, batchSize: number): Promise<{ d: Float32Array; g: Float32Array }> {
  const trainer = await GanTrainer.create({ model: 'mlp', workers, batchSize, seed: 7, backend: 'wasm' }, { data: mnistData() });
  try {
    return { d: await trainer.gradients('d'), g: await trainer.gradients('g') };
  } finally {
    await trainer.close();
  }
}

for (const batchSize of [100, 101]) {
  test(`shard-weighted average of 2 and 3 workers equals the full-batch gradient (batch ${batchSize})`, async (t) => {
    const full = await phaseGradients(1, batchSize);
    t.true(full.d.some((x) => x !== 0) && full.g.some((x) => x !== 0), 'gradients are not all zero');
    for (const workers of [2, 3]) {
      const sharded = await phaseGradients(workers, batchSize);
      const eD = relErr(sharded.d, full.d), eG = relErr(sharded.g, full.g);
      t.log(`${workers} workers, shards ${splitBatch(batchSize, workers).map((s) => s.count).join('/')}: rel err D ${eD.toExponential(2)}, G ${eG.toExponential(2)}`);
      t.true(eD <= 1e-5, `D gradient rel err ${eD}`);
      t.true(eG <= 1e-5, `G gradient rel err ${eG}`);
    }
  });
}
