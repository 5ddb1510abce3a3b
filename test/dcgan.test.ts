import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { GanTrainer, GanpoolUsageError } from '../src/index.js';
import { MODEL_NAMES, PRESET_IMAGE_SIZE, initParams, modelPreset, paramCount, paramShapes, sizeOf, type ModelName } from '../src/models/presets.js';
import { initBackend } from '../src/engines/tfjs/tf-backend.js';
import { buildNet } from '../src/engines/tfjs/build-model.js';
import { gridSize } from '../src/generator/grid.js';
import { assertTensorsClose, mnistData, tensorsOf, worstTensors, type TensorTol } from './helpers.js';

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function gradients(model: ModelName, backend: 'wasm' | 'cpu'): Promise<{ d: Float32Array; g: Float32Array }> {
  const trainer = await GanTrainer.create({ model, workers: 1, batchSize: 4, seed: 3, backend }, { data: mnistData() });
  try {
    return { d: await trainer.gradients('d'), g: await trainer.gradients('g') };
  } finally {
    await trainer.close();
  }
}

/** wasm against cpu, per tensor: max |Δ| ≤ rel·(that tensor's max |grad|) + abs. */
const WASM_TOL: TensorTol = { rel: 1e-4, abs: 1e-7 };

for (const model of ['dcgan', 'probe-dcgan'] as const) {
  test(`${model}: one step of D and G gradients on wasm matches the cpu backend, tensor by tensor`, async (t) => {
    const preset = modelPreset(model, [28, 28, 1]);
    const wasm = await gradients(model, 'wasm');
    const cpu = await gradients(model, 'cpu');
    t.true(cpu.d.some((x) => x !== 0) && cpu.g.some((x) => x !== 0), 'gradients are not all zero');
    const eD = assertTensorsClose(t, `${model} D`, wasm.d, cpu.d, tensorsOf(preset.discriminator), WASM_TOL);
    const eG = assertTensorsClose(t, `${model} G`, wasm.g, cpu.g, tensorsOf(preset.generator), WASM_TOL);
    t.log(`${model} wasm vs cpu, worst tensors: D ${worstTensors(eD, 2)}; G ${worstTensors(eG, 2)}`);
  });
}

test('every preset lists its trainable weights in tf.layers order (built on cpu, 1 and 3 channels)', async (t) => {
  await initBackend('cpu');
  for (const name of MODEL_NAMES) {
    const size = PRESET_IMAGE_SIZE[name] ?? 28;
    for (const channels of [1, 3]) {
      const preset = modelPreset(name, [size, size, channels]);
      for (const [net, spec] of [['generator', preset.generator], ['discriminator', preset.discriminator]] as const) {
        const built = buildNet(spec, net);
        const fromModel = built.model.trainableWeights.map((w) => w.shape.join('x'));
        t.deepEqual(paramShapes(spec).map((p) => p.shape.join('x')), fromModel, `${name} ${net} ${channels}ch`);
        const out = built.model.outputs[0].shape.slice(1);
        t.deepEqual(out, net === 'generator' ? [size, size, channels] : [1], `${name} ${net} output`);
        built.model.dispose();
      }
    }
  }
});

test('dcgan presets start from N(0, 0.02) kernels and N(1, 0.02) batch-norm scales; probes keep Glorot', (t) => {
  const stats = (xs: Float32Array): { mean: number; std: number } => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    return { mean, std: Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length) };
  };
  const g = modelPreset('dcgan', [28, 28, 1]).generator;
  const params = new Float32Array(paramCount(g));
  initParams(g, 1, 0, params);
  let offset = 0;
  for (const p of paramShapes(g)) {
    const s = stats(params.subarray(offset, offset + sizeOf(p.shape)));
    if (p.role === 'kernel' && sizeOf(p.shape) > 1000) {
      t.true(Math.abs(s.mean) < 2e-3 && Math.abs(s.std - 0.02) < 2e-3, `${p.name} ${JSON.stringify(s)}`);
    }
    if (p.role === 'gamma') t.true(Math.abs(s.mean - 1) < 5e-3 && Math.abs(s.std - 0.02) < 5e-3, `${p.name} ${JSON.stringify(s)}`);
    if (p.role === 'beta' || p.role === 'bias') t.is(s.std + Math.abs(s.mean), 0, p.name);
    offset += sizeOf(p.shape);
  }
  const probe = modelPreset('probe-dcgan', [28, 28, 1]).discriminator;
  const probeParams = new Float32Array(paramCount(probe));
  initParams(probe, 1, 1, probeParams);
  const first = paramShapes(probe)[0]; // conv 4×4×1×32: Glorot limit sqrt(6 / (16 + 512))
  const limit = Math.sqrt(6 / (first.fanIn + first.fanOut));
  const kernel = probeParams.subarray(0, sizeOf(first.shape));
  t.true(kernel.every((x) => Math.abs(x) <= limit) && kernel.some((x) => Math.abs(x) > 0.9 * limit));
});

test('a preset built for another image size is a usage error naming model and both shapes', (t) => {
  const e = t.throws(() => modelPreset('dcgan', [32, 32, 3]), { instanceOf: GanpoolUsageError });
  t.is(e.field, 'model');
  t.regex(e.message, /invalid model: "dcgan" expects 28×28×C images, but the data are 32×32×3/);
  t.throws(() => modelPreset('dcgan64', [28, 28, 1]), { message: /"dcgan64" expects 64×64×C.*28×28×1/ });
  t.notThrows(() => modelPreset('mlp', [64, 64, 3]));
});

test('no tensors leak in the workers over 20 DCGAN steps', async (t) => {
  const trainer = await GanTrainer.create({ model: 'dcgan', workers: 2, batchSize: 8, seed: 5, backend: 'wasm' }, { data: mnistData() });
  try {
    let at5 = new Map<number, number>();
    for (let i = 1; i <= 20; i++) {
      await trainer.step();
      if (i === 5) at5 = trainer.workerTensors();
      if (i % 10 === 0) await trainer.sample(8);
    }
    const at20 = trainer.workerTensors();
    t.log(`tensors by thread at step 5: ${JSON.stringify([...at5])}, at step 20: ${JSON.stringify([...at20])}`);
    t.true(at5.size >= 1);
    for (const [thread, n] of at20) {
      t.true(n > 0, 'counts are real');
      if (at5.has(thread)) t.is(n, at5.get(thread)!, `thread ${thread}`);
    }
  } finally {
    await trainer.close();
  }
});

test('ganpool train --model dcgan --workers 2 --steps 5 writes a 28×28 sample grid', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-dcgan-')), 'run');
  const r = cli(['train', '--final-eval', 'off', '--model', 'dcgan', '--workers', '2', '--steps', '5', '--batch-size', '16', '--out', out]);
  t.is(r.code, 0, r.stderr);
  const meta = await sharp(join(out, 'samples', 'latest.png')).metadata();
  t.like(meta, { format: 'png', ...gridSize(64, 28, 28, { cols: 8, pad: 2 }) });
});

test('--model dcgan64 on 28×28 MNIST exits 2 naming --model and both shapes, and writes nothing', (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-dcgan-bad-')), 'run');
  const r = cli(['train', '--final-eval', 'off', '--model', 'dcgan64', '--steps', '5', '--out', out]);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /--model.*"dcgan64" expects 64×64×C images, but the data are 28×28×1/);
  t.false(existsSync(out), 'nothing written');
});
