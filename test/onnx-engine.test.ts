import test from 'ava';
import { GanTrainer, type TrainConfig } from '../src/index.js';
import { MODEL_NAMES, PRESET_IMAGE_SIZE, bnLayers, modelPreset, type ModelName } from '../src/models/presets.js';
import { sharedBytes, type ImageSet } from '../src/data/image-set.js';
import { assertTensorsClose, maxAbsDiff, mnistData, relErr, tensorsOf, worstTensors, type TensorTol } from './helpers.js';
import { sfc32 } from '../src/util/rng.js';

/**
 * A tiny seeded noise image set of `size`×`size`×`channels` (for presets built for 32/64-pixel images).
 * Noise, not a regular pattern: a pattern can make a batch-norm channel nearly constant, and then
 * float rounding decides the signs of its normalised values (and of the LeakyReLU after it).
 */
function syntheticImages(size: number, channels: number, count = 16): ImageSet {
  const images = sharedBytes(count * size * size * channels);
  const next = sfc32(size * 31 + channels);
  for (let i = 0; i < images.length; i++) images[i] = Math.floor(256 * next());
  return { images, count, height: size, width: size, channels, name: `synthetic ${size}×${size}×${channels}` };
}

function dataFor(model: ModelName, channels = 1): ImageSet {
  const size = PRESET_IMAGE_SIZE[model] ?? 28;
  return size === 28 && channels === 1 ? mnistData() : syntheticImages(size, channels);
}

interface OneStep { d: Float32Array; g: Float32Array; bn: { g: Float32Array; d: Float32Array } }

/** D and G gradients at the initial parameters, then the moving statistics after one step. */
async function oneStep(model: ModelName, backend: 'onnx' | 'cpu', channels = 1): Promise<OneStep> {
  const trainer = await GanTrainer.create({ model, workers: 1, batchSize: 2, seed: 5, backend }, { data: dataFor(model, channels) });
  try {
    const d = await trainer.gradients('d');
    const g = await trainer.gradients('g');
    const hasBn = trainer.bnStatistics().g.length + trainer.bnStatistics().d.length > 0;
    if (hasBn) await trainer.step();
    return { d, g, bn: trainer.bnStatistics() };
  } finally {
    await trainer.close();
  }
}

/** onnx against cpu, per tensor: max |Δ| ≤ rel·(that tensor's max |grad|) + abs. */
const GRAD_TOL: TensorTol = { rel: 1e-4, abs: 1e-7 };
/** The same for the moving statistics, per layer's means and variances. */
const BN_TOL: TensorTol = { rel: 1e-5, abs: 1e-7 };

// dcgan32 and dcgan64 (1 and 3 channels) are compared at graph level in onnx-compile.test.ts: tfjs-cpu's
// conv weight gradient makes a trainer-level run of them cost ~40 s (dcgan32) to minutes (dcgan64), and
// what this level adds (the engine behind the pool, shared statistics) does not depend on the preset.
for (const model of MODEL_NAMES.filter((m) => m !== 'dcgan64' && m !== 'dcgan32')) {
  test(`${model}: D and G gradients (tensor by tensor), moving statistics and one step on onnx equal the cpu backend's`, async (t) => {
    const preset = modelPreset(model, [PRESET_IMAGE_SIZE[model] ?? 28, PRESET_IMAGE_SIZE[model] ?? 28, 1]);
    const onnx = await oneStep(model, 'onnx');
    const cpu = await oneStep(model, 'cpu');
    t.true(cpu.d.some((x) => x !== 0) && cpu.g.some((x) => x !== 0), 'gradients are not all zero');
    const eD = assertTensorsClose(t, `${model} D gradient`, onnx.d, cpu.d, tensorsOf(preset.discriminator), GRAD_TOL);
    const eG = assertTensorsClose(t, `${model} G gradient`, onnx.g, cpu.g, tensorsOf(preset.generator), GRAD_TOL);
    const parts = [`worst D grad tensors ${worstTensors(eD, 2)}`, `worst G grad tensors ${worstTensors(eG, 2)}`];
    for (const net of ['g', 'd'] as const) {
      if (cpu.bn[net].length === 0) continue;
      const spec = net === 'g' ? preset.generator : preset.discriminator;
      const stats = bnLayers(spec).flatMap((l, i) => [{ name: `bn${i} mean`, size: l.channels }, { name: `bn${i} variance`, size: l.channels }]);
      const e = assertTensorsClose(t, `${model} ${net} moving statistics`, onnx.bn[net], cpu.bn[net], stats, BN_TOL);
      parts.push(`worst ${net.toUpperCase()} moving stats ${worstTensors(e, 1)}`);
    }
    // Parameters after the step are not compared: Adam's first update is ±lr wherever a gradient is nonzero,
    // so a float-rounding sign flip of a near-zero gradient moves a parameter by 2·lr on one backend only.
    t.log(`${model} onnx vs cpu rel err: ${parts.join(', ')}`);
  });
}

async function afterSteps(config: TrainConfig, steps: number): Promise<{ g: Float32Array; d: Float32Array; bn: { g: Float32Array; d: Float32Array } }> {
  const trainer = await GanTrainer.create({ ...config, backend: 'onnx' }, { data: mnistData() });
  try {
    for (let i = 0; i < steps; i++) await trainer.step();
    return { ...trainer.parameters(), bn: trainer.bnStatistics() };
  } finally {
    await trainer.close();
  }
}

test('onnx: 5 steps with 1, 2 and 3 workers give the same parameters (mlp, no batch norm)', async (t) => {
  const config: TrainConfig = { model: 'mlp', batchSize: 60, seed: 3 };
  const start = await afterSteps({ ...config, workers: 1 }, 0);
  const one = await afterSteps({ ...config, workers: 1 }, 5);
  t.true(maxAbsDiff(one.g, start.g) > 1e-4, 'training moved the generator');
  for (const workers of [2, 3]) {
    const other = await afterSteps({ ...config, workers }, 5);
    const dG = maxAbsDiff(other.g, one.g), dD = maxAbsDiff(other.d, one.d);
    t.log(`${workers} vs 1 worker: max |Δ| G ${dG.toExponential(2)}, D ${dD.toExponential(2)}`);
    t.true(dG <= 1e-5 && dD <= 1e-5, `G ${dG}, D ${dD}`);
  }
});

test('onnx, dcgan (batch norm): the shared moving statistics do not depend on the split where the split cannot matter, nor on thread scheduling', async (t) => {
  // Each shard normalises with its own batch statistics (as PyTorch DDP without SyncBatchNorm), so a BN
  // layer's input, and so its statistics, depend on the split from the second BN layer on. The first BN
  // layer of G sees G's first dense output at the initial G in both of step 1's G passes, whatever the
  // split: there the folded statistics must be those of the whole batch.
  const config: TrainConfig = { model: 'dcgan', batchSize: 12, seed: 9 };
  const first = bnLayers(modelPreset('dcgan', [28, 28, 1]).generator)[0];
  const firstLayer = (bn: Float32Array): Float32Array => bn.subarray(0, 2 * first.channels);
  const one = await afterSteps({ ...config, workers: 1 }, 1);
  t.true(firstLayer(one.bn.g).some((x, i) => Math.abs(x - (i < first.channels ? 0 : 1)) > 1e-3), 'moving statistics moved from their start');
  for (const workers of [2, 3]) {
    const other = await afterSteps({ ...config, workers }, 1);
    const e = relErr(firstLayer(other.bn.g), firstLayer(one.bn.g));
    t.log(`${workers} vs 1 worker: G's first BN layer moving statistics rel err ${e.toExponential(2)}`);
    t.true(e <= 1e-5, `G moving statistics ${e}`);
  }
  // Which thread ran which shard must not matter: two 3-worker runs agree bit for bit.
  const a = await afterSteps({ ...config, workers: 3 }, 3), b = await afterSteps({ ...config, workers: 3 }, 3);
  for (const net of ['g', 'd'] as const) {
    t.true(Buffer.from(a.bn[net].buffer).equals(Buffer.from(b.bn[net].buffer)), `${net} moving statistics bit-identical`);
  }
  t.true(Buffer.from(a.g.buffer).equals(Buffer.from(b.g.buffer)), 'G parameters bit-identical');
});
