/**
 * Speed probe for the onnx engine's compiled phases (not a test): D-phase and
 * G-phase runs per second on one thread for probe-mlp and probe-dcgan at
 * batch 64 and 256 (the D phase sees batch real + batch fake images).
 *
 *   npx tsx scripts/bench-onnx-phase.ts [--models probe-mlp,probe-dcgan] [--batches 64,256] [--seconds 2]
 */
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { initParams, modelPreset, paramCount, paramShapes, sizeOf, PRESET_IMAGE_SIZE, type ModelName } from '../src/models/presets.js';
import { compileDPhase, compileGPhase } from '../src/engines/onnx/compile.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'probe-mlp,probe-dcgan' },
    batches: { type: 'string', default: '64,256' },
    seconds: { type: 'string', default: '2' },
    optimization: { type: 'string', default: 'all' },
  },
});
const seconds = Number(values.seconds);
const options: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
  graphOptimizationLevel: values.optimization as 'all' | 'basic' | 'extended' | 'disabled',
};

function rand(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 * 2 - 1) * scale;
  });
}

/** Median milliseconds per run of `fn` over about `seconds` (after warm-up). */
async function time(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  const samples: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end || samples.length < 5) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

console.log(`onnxruntime-node ${ort.env.versions.common}, one thread, graph optimization '${options.graphOptimizationLevel}'`);
for (const model of values.models.split(',') as ModelName[]) {
  const size = PRESET_IMAGE_SIZE[model] ?? 28;
  const preset = modelPreset(model, [size, size, 1]);
  const [dSession, gSession] = await Promise.all([
    ort.InferenceSession.create(compileDPhase(preset).model, options),
    ort.InferenceSession.create(compileGPhase(preset).model, options),
  ]);
  const params: Record<string, ort.Tensor> = {};
  for (const [prefix, net, stream] of [['g', preset.generator, 0], ['d', preset.discriminator, 1]] as const) {
    const flat = new Float32Array(paramCount(net));
    initParams(net, 1, stream, flat);
    let o = 0;
    paramShapes(net).forEach((p, i) => {
      const n = sizeOf(p.shape);
      params[`${prefix}.${i}`] = new ort.Tensor('float32', flat.slice(o, o + n), p.shape);
      o += n;
    });
  }
  for (const batch of values.batches.split(',').map(Number)) {
    const z = new ort.Tensor('float32', rand(batch * preset.latentDim, 1), [batch, preset.latentDim]);
    const real = new ort.Tensor('float32', rand(batch * sizeOf(preset.imageShape), 2), [batch, ...preset.imageShape]);
    const d = await time(() => dSession.run({ ...params, z, real }));
    const g = await time(() => gSession.run({ ...params, z }));
    console.log(`${model.padEnd(12)} batch ${String(batch).padStart(4)}: D phase ${d.toFixed(2).padStart(7)} ms, G phase ${g.toFixed(2).padStart(7)} ms, ` +
      `D+G ${(d + g).toFixed(2).padStart(7)} ms = ${(1000 / (d + g)).toFixed(1)} steps/s`);
  }
}
