import test from 'ava';
import { GanTrainer, resolveConfig, GanpoolUsageError } from '../src/index.js';
import { mnistData, relErr } from './helpers.js';

async function gradients(backend: 'wasm' | 'cpu'): Promise<{ d: Float32Array; g: Float32Array }> {
  const trainer = await GanTrainer.create({ model: 'mlp', workers: 1, batchSize: 16, seed: 11, backend }, { data: mnistData() });
  try {
    const d = await trainer.gradients('d');
    const g = await trainer.gradients('g');
    return { d, g };
  } finally {
    await trainer.close();
  }
}

test('one step of gradients on wasm matches the cpu reference backend', async (t) => {
  const wasm = await gradients('wasm');
  const cpu = await gradients('cpu');
  const eD = relErr(wasm.d, cpu.d), eG = relErr(wasm.g, cpu.g);
  t.log(`wasm vs cpu rel err: D ${eD.toExponential(2)}, G ${eG.toExponential(2)}`);
  t.true(eD <= 1e-4, `D ${eD}`);
  t.true(eG <= 1e-4, `G ${eG}`);
});

test('auto picks wasm when tfjs-node is not usable; tensorflow with several workers is refused with the upstream reason', (t) => {
  t.is(resolveConfig({ backend: 'auto', workers: 2 }).backend, 'wasm');
  const e = t.throws(() => resolveConfig({ backend: 'tensorflow', workers: 2 }), { instanceOf: GanpoolUsageError });
  t.regex(e!.message, /3463/);
  t.regex(e!.message, /--workers 1/);
});
