import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GanTrainer, type TrainConfig } from '../src/index.js';
import { train } from '../src/app/train.js';
import { defaultEma, resolveConfig } from '../src/config.js';
import { CHECKPOINT_DIR, loadCheckpoint } from '../src/run/checkpoint.js';
import { resumeConfig } from '../src/run/resume.js';
import { writeGeneratorOnnx, GENERATOR_ONNX, type GeneratorMetadata } from '../src/generator/export.js';
import { generateImages, loadGenerator } from '../src/generator/load.js';
import { INJECT_FAULT_ENV } from '../src/training/faults.js';
import { GanpoolUsageError } from '../src/errors.js';
import { asFlagError, parseTrainArgs, trainHelp } from '../src/cli/args.js';
import { allocSharedNet, emaView, gradSlot, momentViews, paramsView, type SharedNetBuffers } from '../src/training/shared-params.js';
import { MODEL_NAMES, modelPreset, paramCount } from '../src/models/presets.js';
import { splitRange } from '../src/optim/adam.js';
import { emaDecayAt } from '../src/optim/ema.js';
import { adamRange } from '../src/training/lockstep.js';
import { wasmAdam } from '../src/optim/adam-wasm.js';
import { maxAbsDiff, mnistData } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'ganpool-ema-'));
const base: TrainConfig = { model: 'seed', workers: 2, batchSize: 16, seed: 7, backend: 'onnx', sampleEvery: 1000, checkpointEvery: 1000 };

const same = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/**
 * The EMA definition in plain JS, as ema.ts states it: start at G's initial parameters; after G's
 * t-th Adam update, ema ← β_t·ema + (1 − β_t)·θ with β_t = min(decay, (1 + t)/(10 + t)).
 */
function referenceEma(initial: Float32Array, thetas: Float32Array[], decay: number): Float32Array {
  const ema = Float64Array.from(initial);
  thetas.forEach((theta, k) => {
    const t = k + 1;
    const b = Math.min(decay, (1 + t) / (10 + t));
    for (let i = 0; i < ema.length; i++) ema[i] = Math.fround(b * ema[i] + (1 - b) * theta[i]);
  });
  return Float32Array.from(ema);
}

/** Trains `steps` steps and returns G's initial parameters, its parameters after each step, and the EMA after each step. */
async function trace(config: TrainConfig, steps: number): Promise<{ initial: Float32Array; thetas: Float32Array[]; emas: (Float32Array | null)[] }> {
  const trainer = await GanTrainer.create(config, { data: mnistData() });
  try {
    const initial = trainer.parameters().g;
    const thetas: Float32Array[] = [], emas: (Float32Array | null)[] = [];
    for (let i = 0; i < steps; i++) {
      await trainer.step();
      thetas.push(trainer.parameters().g);
      emas.push(trainer.emaParameters());
    }
    return { initial, thetas, emas };
  } finally {
    await trainer.close();
  }
}

// decay 0.3 reaches the cap at t = 3 ((1+3)/(10+3) ≈ 0.31 > 0.3), so both branches of the min are used; 0.999 stays in warm-up.
for (const decay of [0.3, 0.999]) {
  test.serial(`ema ${decay}: the coordinator's EMA equals the plain-JS recurrence over 5 steps`, async (t) => {
    const { initial, thetas, emas } = await trace({ ...base, ema: decay }, 5);
    let worst = 0;
    for (let k = 0; k < 5; k++) {
      const want = referenceEma(initial, thetas.slice(0, k + 1), decay);
      const d = maxAbsDiff(emas[k]!, want);
      worst = Math.max(worst, d);
      t.true(d <= 1e-6, `step ${k + 1}: max |EMA − reference| ${d}`);
    }
    const last = emas[4]!;
    t.log(`max |EMA − JS reference| over 5 steps: ${worst.toExponential(2)}; bitwise equal at step 5: ${same(last, referenceEma(initial, thetas, decay))}`);
    // The comparison can fail: the EMA is neither the raw weights nor the start.
    const fromTheta = maxAbsDiff(last, thetas[4]), fromStart = maxAbsDiff(last, initial);
    t.log(`max |EMA − θ_5| ${fromTheta.toExponential(2)}, max |EMA − θ_0| ${fromStart.toExponential(2)}`);
    t.true(fromTheta > 1e-4 && fromStart > 1e-4);
  });
}

test.serial('1 and 2 workers: each run\'s EMA is bitwise the reference of its parameters, and the runs agree', async (t) => {
  const one = await trace({ ...base, ema: 0.9, workers: 1 }, 4);
  const two = await trace({ ...base, ema: 0.9, workers: 2 }, 4);
  t.true(same(one.initial, two.initial));
  // The EMA is an elementwise function of the parameter sequence: each run's EMA is bitwise the
  // reference of its own parameters, however the Adam ranges were split across workers.
  for (const r of [one, two]) t.true(same(r.emas[3]!, referenceEma(r.initial, r.thetas, 0.9)), 'EMA bitwise equal to the reference of its run');
  const dTheta = maxAbsDiff(one.thetas[3], two.thetas[3]), dEma = maxAbsDiff(one.emas[3]!, two.emas[3]!);
  t.log(`1 vs 2 workers after 4 steps: max |Δθ| ${dTheta.toExponential(2)}, max |ΔEMA| ${dEma.toExponential(2)}, EMA bitwise equal: ${same(one.emas[3]!, two.emas[3]!)}`);
  if (same(one.thetas[3], two.thetas[3])) t.true(same(one.emas[3]!, two.emas[3]!), 'same parameters, same EMA bit for bit');
  t.true(dEma <= Math.max(dTheta, 1e-6), `EMA differs by ${dEma}, parameters by ${dTheta}`);
});

test.serial('the Adam stage of 1 and 2 workers (one range vs two) leaves bitwise the same parameters and EMA', (t) => {
  const preset = modelPreset('seed', [28, 28, 1]);
  const size = paramCount(preset.generator);
  /** G's shared memory with the same pseudo-random parameters, moments, gradient and EMA. */
  const net = (): SharedNetBuffers => {
    const shared = allocSharedNet(size, 1, 0, true);
    const fill = (v: Float32Array, k: number, positive = false): void => {
      for (let i = 0; i < v.length; i++) { const x = Math.sin(i * 12.9898 + k * 78.233) * 0.05; v[i] = positive ? x * x : x; }
    };
    fill(paramsView(shared), 1);
    fill(momentViews(shared).m, 2);
    fill(momentViews(shared).v, 3, true);
    fill(gradSlot(shared, 0), 4);
    fill(emaView(shared)!, 5);
    return shared;
  };
  const run = (parts: number): { params: Float32Array; ema: Float32Array } => {
    const g = net();
    const adam = wasmAdam(g.memory);
    const opts = { lr: 2e-4, beta1: 0.5, beta2: 0.999, epsilon: 1e-7 };
    for (const [lo, hi] of splitRange(size, parts)) adamRange(g, adam, [1], 5, opts, lo, hi, emaDecayAt(0.999, 5));
    return { params: paramsView(g).slice(), ema: emaView(g)!.slice() };
  };
  const before = net();
  const one = run(1), two = run(2);
  t.is(splitRange(size, 2).length, 2);
  t.true(same(one.params, two.params), 'parameters bit for bit');
  t.true(same(one.ema, two.ema), 'EMA bit for bit');
  // And the EMA is the definition's update of the updated parameters (the comparison can fail: both moved).
  const b = emaDecayAt(0.999, 5);
  t.is(b, 6 / 15);
  const want = Float32Array.from(emaView(before)!, (e, i) => b * e + (1 - b) * one.params[i]);
  t.true(same(one.ema, want));
  t.true(maxAbsDiff(one.params, paramsView(before)) > 1e-5 && maxAbsDiff(one.ema, emaView(before)!) > 1e-5);
});

test.serial('a refused step (nan@3, D phase refused so no G update) makes no EMA update: the EMA after step 3 is bit for bit that after step 2', async (t) => {
  process.env[INJECT_FAULT_ENV] = 'nan@3';
  let injected;
  try {
    injected = await trace({ ...base, ema: 0.5 }, 3);
  } finally {
    delete process.env[INJECT_FAULT_ENV];
  }
  t.true(same(injected.emas[2]!, injected.emas[1]!), 'the refused step left the EMA as it was');
  t.true(same(injected.thetas[2], injected.thetas[1]));
  t.false(same(injected.emas[1]!, injected.emas[0]!), 'an applied step moves the EMA (the comparison above can fail)');
});

test.serial('resume: 3 steps + checkpoint + resume to 6 equals 6 straight steps, EMA bit for bit', async (t) => {
  const one = join(tmp, 'straight'), two = join(tmp, 'resumed');
  await train({ ...base, ema: 0.8, steps: 6, out: one });
  await train({ ...base, ema: 0.8, steps: 3, out: two });
  const mid = loadCheckpoint(two);
  t.is(mid.state.g.ema!.length, mid.state.g.params.length);
  t.is(mid.state.d.ema!.length, 0, 'D keeps no EMA');
  t.false(same(mid.state.g.ema!, mid.state.g.params));
  t.is((JSON.parse(readFileSync(join(two, CHECKPOINT_DIR, 'manifest.json'), 'utf8')) as { version: number }).version, 3);
  await train({ resume: two, steps: 6 });
  const a = loadCheckpoint(one).state, b = loadCheckpoint(two).state;
  t.is(b.stepsDone, 6);
  t.true(same(b.g.ema!, a.g.ema!), 'EMA bit for bit');
  t.true(same(b.g.params, a.g.params), 'parameters bit for bit');
  t.false(same(a.g.ema!, mid.state.g.ema!), 'the EMA moved after the resume (the comparison above can fail)');
  // The checkpoint's config records ema; a resume asking for another value is refused naming the field.
  t.is(loadCheckpoint(two).config.ema, 0.8);
  await t.throwsAsync(train({ resume: two, steps: 8, ema: 0.9 }), { instanceOf: GanpoolUsageError, message: /invalid ema: 0.9 conflicts with the checkpoint's ema 0.8/ });
});

test.serial('a format-2 checkpoint (no EMA, no ema in its config) resumes with EMA on: the EMA starts at its parameters', async (t) => {
  const dir = join(tmp, 'format2');
  await train({ ...base, ema: 0, steps: 2, out: dir });
  const manifestFile = join(dir, CHECKPOINT_DIR, 'manifest.json');
  const m = JSON.parse(readFileSync(manifestFile, 'utf8')) as { files: Record<string, unknown>; config: Record<string, unknown> };
  delete m.files['g-ema.f32'];
  delete m.config.ema;
  writeFileSync(manifestFile, JSON.stringify({ ...m, version: 2 }));
  const old = loadCheckpoint(dir);
  t.is(old.state.g.ema!.length, 0);
  t.is(resumeConfig(old.config, { ema: 0.6 }, dir, 2).ema, 0.6, 'an old checkpoint accepts a given ema');
  const trainer = await GanTrainer.create({ ...base, ema: 0.6 }, { data: mnistData() });
  try {
    trainer.importState(old.state);
    t.true(same(trainer.emaParameters()!, old.state.g.params), 'EMA = the checkpoint parameters');
    await trainer.step();
    // One update from there, with t = 3 (the checkpoint's G step count 2, plus one).
    const b = Math.min(0.6, 4 / 13);
    const theta = trainer.parameters().g;
    const want = Float32Array.from(old.state.g.params, (p, i) => b * p + (1 - b) * theta[i]);
    t.true(maxAbsDiff(trainer.emaParameters()!, want) <= 1e-6);
    t.true(maxAbsDiff(trainer.emaParameters()!, old.state.g.params) > 1e-6, 'the step moved the EMA (the comparison above can fail)');
  } finally {
    await trainer.close();
  }
});

test.serial('ema 0: no EMA region, generatorWeights are the raw parameters, samples equal the raw generator\'s', async (t) => {
  const trainer = await GanTrainer.create({ ...base, ema: 0 }, { data: mnistData() });
  try {
    for (let i = 0; i < 3; i++) await trainer.step();
    t.is(trainer.emaParameters(), null);
    t.is(trainer.exportState().g.ema!.length, 0);
    const raw = trainer.parameters().g;
    t.true(same(trainer.generatorWeights().params, raw));
    const n = 8, seed = 11;
    const file = join(tmp, 'raw-off.onnx');
    await writeGeneratorOnnx(file, trainer.preset, { params: raw, bn: trainer.generatorWeights().bn }, meta(trainer));
    const gen = await loadGenerator(file);
    const want = await generateImages(gen, n, seed);
    await gen.dispose();
    const d = maxAbsDiff(await trainer.sample(n, seed), want);
    t.log(`max |sample − raw generator| ${d.toExponential(2)}`);
    t.true(d <= 1e-5);
  } finally {
    await trainer.close();
  }
});

function meta(trainer: GanTrainer): GeneratorMetadata {
  return { seed: trainer.config.seed, step: trainer.stepsDone, model: trainer.config.model, dataset: 'mnist', imageShape: trainer.imageShape, latentDim: trainer.latentDim };
}

test.serial('ema on: sample grids and the exported generator use the EMA weights, not the raw ones', async (t) => {
  const out = join(tmp, 'export');
  const n = 8, seed = 7;
  // train() writes OUT/generator.onnx from generatorWeights(); grab the trainer's weights at the end through onSample.
  let images: Float32Array | null = null;
  await train({ ...base, ema: 0.5, steps: 4, out }, { onSample: (e) => { images = e.images; } });
  const state = loadCheckpoint(out).state;
  const exported = await loadGenerator(join(out, GENERATOR_ONNX));
  const fromExport = await generateImages(exported, n, seed);
  await exported.dispose();
  // Forward passes on the EMA and on the raw weights of the checkpoint, through the same exporter.
  const forward = async (params: Float32Array, name: string): Promise<Float32Array> => {
    const trainer = await GanTrainer.create({ ...base, ema: 0.5 }, { data: mnistData() });
    const file = join(tmp, name);
    try {
      await writeGeneratorOnnx(file, trainer.preset, { params, bn: state.g.bn }, meta(trainer));
    } finally {
      await trainer.close();
    }
    const gen = await loadGenerator(file);
    try {
      return await generateImages(gen, n, seed);
    } finally {
      await gen.dispose();
    }
  };
  const onEma = await forward(state.g.ema!, 'ema.onnx'), onRaw = await forward(state.g.params, 'raw.onnx');
  const dEma = maxAbsDiff(fromExport, onEma), dRaw = maxAbsDiff(fromExport, onRaw);
  t.log(`exported generator vs forward pass: on the EMA weights ${dEma.toExponential(2)}, on the raw weights ${dRaw.toExponential(2)}`);
  t.true(dEma <= 1e-6, `export differs from the EMA forward pass by ${dEma}`);
  t.true(dRaw > 1e-3, `export should differ from the raw weights' output (${dRaw})`);
  // The run's last sample grid (64 images, the run's seed) is the EMA generator's too.
  const grid = images as Float32Array | null;
  t.truthy(grid);
  const gen = await loadGenerator(join(out, GENERATOR_ONNX));
  const want = await generateImages(gen, 64, base.seed!);
  await gen.dispose();
  const dGrid = maxAbsDiff(grid!, want);
  t.log(`last sample grid vs exported EMA generator: ${dGrid.toExponential(2)}`);
  t.true(dGrid <= 1e-5);

  // Sampling with the EMA leaves the workers' raw weights for training: a resumed run still matches.
  const trainer = await GanTrainer.create({ ...base, ema: 0.5 }, { data: mnistData() });
  try {
    trainer.importState(state);
    const before = await trainer.sample(n, seed);
    t.true(maxAbsDiff(before, onEma) <= 1e-5, 'sample() uses the EMA weights');
    await trainer.step();
    const other = await GanTrainer.create({ ...base, ema: 0.5 }, { data: mnistData() });
    try {
      other.importState(state);
      await other.step();
      t.true(same(trainer.parameters().g, other.parameters().g), 'a sample between steps does not change training');
      t.true(same(trainer.emaParameters()!, other.emaParameters()!));
    } finally {
      await other.close();
    }
  } finally {
    await trainer.close();
  }
});

test('config: ema must be in [0, 1), the error names ema; defaults 0.999 for the conv presets, 0 for the others', (t) => {
  for (const ema of [1, -0.1, 1.5, Number.NaN]) {
    const e = t.throws(() => resolveConfig({ ema }), { instanceOf: GanpoolUsageError });
    t.regex(e.message, /^invalid ema: /);
    t.is(e.field, 'ema');
  }
  t.is(resolveConfig({ ema: 0 }).ema, 0);
  t.is(resolveConfig({ ema: 0.95, model: 'dcgan' }).ema, 0.95);
  const want: Record<string, number> = { mlp: 0, seed: 0, dcgan: 0.999, dcgan32: 0.999, dcgan64: 0.999, 'probe-mlp': 0, 'probe-dcgan': 0 };
  t.deepEqual(Object.keys(want).sort(), [...MODEL_NAMES].sort());
  for (const model of MODEL_NAMES) {
    t.is(defaultEma(model), want[model], model);
    t.is(resolveConfig({ model }).ema, want[model], model);
  }
});

test('CLI: --ema parses as a number, --ema 1 is a usage error naming --ema, the help gives the per-preset default', (t) => {
  t.is(parseTrainArgs(['--ema', '0']).config.ema, 0);
  t.is(parseTrainArgs(['--ema', '0.99']).config.ema, 0.99);
  const e = t.throws(() => resolveConfig(parseTrainArgs(['--ema', '1']).config), { instanceOf: GanpoolUsageError });
  t.regex(asFlagError(e).message, /^invalid --ema: 1; expected a number in \[0, 1\)/);
  t.regex(trainHelp(), /--ema N +.*\[0\.999 for dcgan, dcgan32, dcgan64; else 0\]/);
});
