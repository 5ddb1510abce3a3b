import test from 'ava';
import { GanTrainer, resolveConfig, GanpoolUsageError } from '../src/index.js';
import { mnistData, relErr } from './helpers.js';
import { DISABLE_ONNX_ENV, resolveBackendWithNotice } from '../src/engines/backend.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

test('auto picks onnx where onnxruntime-node loads, else wasm with a notice; tensorflow with several workers is refused with the upstream reason', (t) => {
  t.is(resolveConfig({ backend: 'auto', workers: 2 }).backend, 'onnx');
  process.env[DISABLE_ONNX_ENV] = '1';
  try {
    t.is(resolveConfig({ backend: 'auto', workers: 2 }).backend, 'wasm');
    const { notice } = resolveBackendWithNotice('auto');
    t.regex(notice ?? '', /onnxruntime-node cannot be loaded \(GANPOOL_DISABLE_ONNX is set\); training on the wasm backend/);
    const e = t.throws(() => resolveConfig({ backend: 'onnx' }), { instanceOf: GanpoolUsageError });
    t.is(e.field, 'backend');
  } finally {
    delete process.env[DISABLE_ONNX_ENV];
  }
  const e = t.throws(() => resolveConfig({ backend: 'tensorflow', workers: 2 }), { instanceOf: GanpoolUsageError });
  t.regex(e.message, /3463/);
  t.regex(e.message, /--workers 1/);
});

test('CLI: with onnxruntime-node unloadable, --backend auto trains on wasm and prints the notice', (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-fallback-')), 'run');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', '--final-eval', 'off', '--steps', '3', '--batch-size', '8', '--workers', '2', '--model', 'seed', '--out', out],
    { encoding: 'utf8', timeout: 240_000, env: { ...process.env, [DISABLE_ONNX_ENV]: '1' } });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /warning: onnxruntime-node cannot be loaded \(GANPOOL_DISABLE_ONNX is set\); training on the wasm backend/);
  t.regex(r.stderr, /backend wasm/);
  t.is((JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { backend: string }).backend, 'wasm');
});
