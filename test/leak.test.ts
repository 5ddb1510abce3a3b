import test from 'ava';
import { GanTrainer } from '../src/index.js';
import { mnistData } from './helpers.js';

test('worker tensor counts are the same after step 10 and step 50', async (t) => {
  const trainer = await GanTrainer.create({ model: 'seed', workers: 2, batchSize: 16, seed: 5, backend: 'wasm' }, { data: mnistData() });
  try {
    let at10 = new Map<number, number>();
    for (let i = 1; i <= 50; i++) {
      await trainer.step();
      if (i === 10) at10 = trainer.workerTensors();
      if (i % 10 === 0) await trainer.sample(8);
    }
    const at50 = trainer.workerTensors();
    t.log(`tensors by thread at step 10: ${JSON.stringify([...at10])}, at step 50: ${JSON.stringify([...at50])}`);
    t.true(at10.size >= 1);
    for (const [thread, n] of at50) {
      t.true(n > 0, 'counts are real');
      if (at10.has(thread)) t.is(n, at10.get(thread)!, `thread ${thread}`);
    }
  } finally {
    await trainer.close();
  }
});
