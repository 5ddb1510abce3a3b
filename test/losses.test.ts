import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { GAN_LOSSES, type GanLoss } from '../src/models/losses.js';
import { GAN_LOSS_TERMS, type LossTerm } from '../src/engines/onnx/layers.js';
import { TF_GAN_LOSSES, type TfLossTerm } from '../src/engines/tfjs/losses.js';
import { initBackend } from '../src/engines/tfjs/tf-backend.js';
import { createEngine } from '../src/engines/index.js';
import type { PhaseInput } from '../src/engines/engine.js';
import { BATCH, GraphBuilder } from '../src/engines/onnx/graph.js';
import { initParams, modelPreset, paramCount, paramShapes, sizeOf, type ModelPreset } from '../src/models/presets.js';
import type { BackendName } from '../src/engines/backend.js';
import { resolveConfig, type TrainConfig } from '../src/config.js';
import { resumeConfig } from '../src/run/resume.js';
import { asFlagError, parseTrainArgs } from '../src/cli/args.js';
import { GanpoolUsageError } from '../src/errors.js';
import { train } from '../src/app/train.js';
import { loadCheckpoint } from '../src/run/checkpoint.js';
import { opsForward } from '../src/engines/tfjs/ops-forward.js';
import { feed, normal, session, uniform, useFastConv2DBackpropFilter } from './onnx-reference.js';
import { maxAbsDiff, tensorErrors, tensorsOf, worstTensors, type TensorTol } from './helpers.js';

// Every test here is serial: the tfjs engines select their backend (cpu, wasm) for the whole thread.

test.before(() => {
  // tfjs-cpu's own conv filter gradient reads every value through TensorBuffer.get (seconds per dcgan
  // layer); the same sum over plain arrays, checked against it in onnx-compile.test.ts.
  useFastConv2DBackpropFilter();
});

// ---------------------------------------------------------------------------
// The formulas, in plain JS (float64), from the logits.
// ---------------------------------------------------------------------------

type Term = 'dReal' | 'dFake' | 'g';
const TERMS: Term[] = ['dReal', 'dFake', 'g'];

const softplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Per-row value of each term and its derivative in the logit (the loss is the mean of the values). */
const PLAIN: Record<GanLoss, Record<Term, { value(l: number): number; slope(l: number): number }>> = {
  ns: {
    dReal: { value: (r) => softplus(-r), slope: (r) => sigmoid(r) - 1 },
    dFake: { value: (f) => softplus(f), slope: (f) => sigmoid(f) },
    g: { value: (f) => softplus(-f), slope: (f) => sigmoid(f) - 1 },
  },
  hinge: {
    // relu'(0) = 0: at the margin itself the row contributes no gradient.
    dReal: { value: (r) => Math.max(0, 1 - r), slope: (r) => (1 - r > 0 ? -1 : 0) },
    dFake: { value: (f) => Math.max(0, 1 + f), slope: (f) => (1 + f > 0 ? 1 : 0) },
    g: { value: (f) => -f, slope: () => -1 },
  },
  lsgan: {
    dReal: { value: (r) => 0.5 * (r - 1) ** 2, slope: (r) => r - 1 },
    dFake: { value: (f) => 0.5 * f * f, slope: (f) => f },
    g: { value: (f) => 0.5 * (f - 1) ** 2, slope: (f) => f - 1 },
  },
};

/** A term's mean over `logits` and its gradient (slope / N per row). */
function plainTerm(loss: GanLoss, term: Term, logits: ArrayLike<number>): { value: number; grad: number[] } {
  const t = PLAIN[loss][term], n = logits.length;
  let value = 0;
  const grad: number[] = [];
  for (let i = 0; i < n; i++) {
    value += t.value(logits[i]) / n;
    grad.push(t.slope(logits[i]) / n);
  }
  return { value, grad };
}

/** |a − b| ≤ tol·max(1, |b|). */
function close(a: number, b: number, tol: number): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}

// ---------------------------------------------------------------------------
// 1. Each loss term on its own: onnx graph and tf ops against the plain formulas.
// ---------------------------------------------------------------------------

/**
 * Logits on both sides of every kink and target: the hinge margins ±1 exactly (subgradient 0),
 * between and beyond them, the lsgan targets 0 and 1, and far tails (softplus stays finite).
 */
const LOGITS = Float32Array.from([-40, -3, -1, -0.75, 0, 0.5, 1, 1.25, 2.5, 40]);

async function onnxTerm(term: LossTerm, logits: Float32Array): Promise<{ value: number; grad: Float32Array }> {
  const g = new GraphBuilder();
  const l = g.input('l', [BATCH, 1]);
  g.output('loss', term.forward(g, l), []);
  g.output('dl', term.backward(g, l));
  const out = await (await session(g.toModel())).run({ l: feed(logits, [logits.length, 1]) });
  return { value: (out.loss.data as Float32Array)[0], grad: out.dl.data as Float32Array };
}

function tfTerm(term: TfLossTerm, logits: Float32Array): { value: number; grad: Float32Array } {
  const l = tf.variable(tf.tensor2d(logits, [logits.length, 1]));
  const { value, grads } = tf.variableGrads(() => term(tf, l) as tf.Scalar, [l]);
  const out = { value: value.dataSync()[0], grad: grads[l.name].dataSync() as Float32Array };
  tf.dispose([l, value, ...Object.values(grads)]);
  return out;
}

function checkTerm(t: ExecutionContext, label: string, got: { value: number; grad: ArrayLike<number> }, want: { value: number; grad: number[] }): void {
  t.true(close(got.value, want.value, 1e-6), `${label}: loss ${got.value} vs ${want.value}`);
  t.is(got.grad.length, want.grad.length);
  for (let i = 0; i < want.grad.length; i++) {
    t.true(close(got.grad[i], want.grad[i], 1e-6), `${label}: d/dlogit[${i}] (logit ${LOGITS[i]}) ${got.grad[i]} vs ${want.grad[i]}`);
  }
}

test.serial('every loss term on onnx, tfjs cpu and tfjs wasm equals the plain-JS formula, subgradient 0 at the hinge margins', async (t) => {
  for (const loss of GAN_LOSSES) {
    for (const term of TERMS) {
      const want = plainTerm(loss, term, LOGITS);
      checkTerm(t, `onnx ${loss}.${term}`, await onnxTerm(GAN_LOSS_TERMS[loss][term], LOGITS), want);
    }
  }
  for (const backend of ['cpu', 'wasm'] as const) {
    await initBackend(backend);
    for (const loss of GAN_LOSSES) {
      for (const term of TERMS) checkTerm(t, `${backend} ${loss}.${term}`, tfTerm(TF_GAN_LOSSES[loss][term], LOGITS), plainTerm(loss, term, LOGITS));
    }
  }
  // The analytic hinge values themselves, so the plain formulas above are checked too: real rows below the
  // margin 1 pull (−1/N), at or above it nothing; fake rows above −1 push (+1/N), at or below it nothing.
  const n = LOGITS.length;
  t.deepEqual(plainTerm('hinge', 'dReal', LOGITS).grad, [-1, -1, -1, -1, -1, -1, 0, 0, 0, 0].map((x) => x / n));
  t.deepEqual(plainTerm('hinge', 'dFake', LOGITS).grad, [0, 0, 0, 1, 1, 1, 1, 1, 1, 1].map((x) => x / n));
  t.is(plainTerm('hinge', 'dReal', [0.5, 1, 3]).value, 0.5 / 3);
  t.is(plainTerm('lsgan', 'dFake', [2, -2]).value, 2);
  t.is(plainTerm('ns', 'dFake', [0, 0]).value, Math.LN2);
  t.deepEqual(plainTerm('ns', 'g', [0, 0]).grad, [-0.25, -0.25]);
});

// ---------------------------------------------------------------------------
// 2. Whole engines on a linear pair whose logits and gradients are known in closed form.
// ---------------------------------------------------------------------------

/**
 * G: z(3) → dense 4 (linear) → 2×2×1; D: flatten → dense 1 (linear). All values are multiples of
 * 1/64, so every product and sum is exact in float32 on every backend: the logits land exactly on
 * the hinge margins where the test puts them.
 */
const LINEAR: ModelPreset = {
  name: 'linear-test', latentDim: 3, classes: 0, imageShape: [2, 2, 1],
  generator: { inputShape: [3], layers: [{ kind: 'dense', units: 4, activation: 'linear', useBias: true }, { kind: 'reshape', shape: [2, 2, 1] }], init: 'glorot' },
  discriminator: { inputShape: [2, 2, 1], layers: [{ kind: 'flatten' }, { kind: 'dense', units: 1, activation: 'linear', useBias: true }], init: 'glorot' },
};
const N = 5;
const W_D = [1, 0.5, -0.25, 0.125], B_D = 0.25;
const W_G = [[1, 0, 0, 0], [0.5, -0.5, 0.25, 1], [-0.25, 0.75, 0.5, -0.5]], B_G = [0.125, -0.25, 0.5, 0.25];
/** Real logits: above, at and below the hinge margin 1; fake logits: below, at and above −1. */
const REAL_LOGITS = [2, 1, 0.5, -1.5, 1.25], FAKE_LOGITS = [-2, -1, -0.5, 1.5, -1.25];

const dot = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + x * b[i], 0);

/** The linear pair's inputs: the first column of each real row and of each z row is solved for the wanted logit. */
function linearCase(): { real: number[][]; z: number[][]; fake: number[][] } {
  const real = REAL_LOGITS.map((r, i) => {
    const rest = [0, (i % 3) / 4 - 0.25, ((i * 5) % 4) / 8, (i % 2) / 2 - 0.5];
    rest[0] = r - B_D - dot(rest, W_D);
    return rest;
  });
  const gOut = (zr: number[]): number[] => B_G.map((b, j) => b + zr.reduce((s, x, k) => s + x * W_G[k][j], 0));
  const z = FAKE_LOGITS.map((f, i) => {
    const row = [0, ((i * 3) % 4) / 4 - 0.5, (i % 2) / 4];
    row[0] = f - B_D - dot(gOut(row), W_D); // W_G[0] = e1 and W_D[0] = 1: z's first column moves the logit one for one
    return row;
  });
  const fake = z.map(gOut);
  fake.forEach((x, i) => { if (dot(x, W_D) + B_D !== FAKE_LOGITS[i]) throw new Error('test setup: fake logit'); });
  real.forEach((x, i) => { if (dot(x, W_D) + B_D !== REAL_LOGITS[i]) throw new Error('test setup: real logit'); });
  return { real, z, fake };
}

/** The closed-form D-phase and G-phase loss and gradients (paramShapes order: kernel, bias). */
function linearReference(loss: GanLoss): { d: { loss: number; grad: number[] }; g: { loss: number; grad: number[] } } {
  const { real, z, fake } = linearCase();
  const r = plainTerm(loss, 'dReal', REAL_LOGITS), f = plainTerm(loss, 'dFake', FAKE_LOGITS), gl = plainTerm(loss, 'g', FAKE_LOGITS);
  const dW = W_D.map((_, j) => real.reduce((s, x, i) => s + r.grad[i] * x[j], 0) + fake.reduce((s, x, i) => s + f.grad[i] * x[j], 0));
  const db = r.grad.reduce((s, x) => s + x, 0) + f.grad.reduce((s, x) => s + x, 0);
  // G: d logit_i / d fake_i = W_D; fake_i = z_i·W_G + b_G.
  const dFake = gl.grad.map((d) => W_D.map((w) => d * w));
  const dWg = W_G.flatMap((row, k) => row.map((_, j) => z.reduce((s, zr, i) => s + zr[k] * dFake[i][j], 0)));
  const dbg = B_G.map((_, j) => dFake.reduce((s, row) => s + row[j], 0));
  return { d: { loss: r.value + f.value, grad: [...dW, db] }, g: { loss: gl.value, grad: [...dWg, ...dbg] } };
}

interface PhaseResult { loss: number; grad: Float32Array }

/** Runs the D and G phases of a fresh `backend` engine for `loss` on the given parameters and inputs. */
async function runEngine(backend: BackendName, preset: ModelPreset, loss: GanLoss, params: { g: Float32Array; d: Float32Array },
  z: Float32Array, real: Float32Array, count: number): Promise<{ d: PhaseResult; g: PhaseResult }> {
  // A tfjs engine names its variables after the networks: drop the previous engine's first.
  if (backend !== 'onnx') tf.disposeVariables();
  const engine = await createEngine(backend, preset, { loss });
  engine.setParams('g', params.g);
  engine.setParams('d', params.d);
  const input = (phase: 'd' | 'g'): PhaseInput => ({ phase, count, z, real: phase === 'd' ? real : null, realLabels: null, fakeLabels: null });
  const dGrad = new Float32Array(paramCount(preset.discriminator)), gGrad = new Float32Array(paramCount(preset.generator));
  const d = await engine.phase(input('d'), dGrad);
  const g = await engine.phase(input('g'), gGrad);
  return { d: { loss: d.loss, grad: dGrad }, g: { loss: g.loss, grad: gGrad } };
}

const ENGINES: BackendName[] = ['onnx', 'cpu', 'wasm'];

test.serial('engines on a linear pair: each loss\'s D and G loss and gradients equal the closed form, logits on the hinge margins included', async (t) => {
  const { real, z } = linearCase();
  const params = { d: Float32Array.from([...W_D, B_D]), g: Float32Array.from([...W_G.flat(), ...B_G]) };
  t.deepEqual(paramShapes(LINEAR.generator).map((p) => p.shape), [[3, 4], [4]]);
  for (const loss of GAN_LOSSES) {
    const want = linearReference(loss);
    for (const backend of ENGINES) {
      const got = await runEngine(backend, LINEAR, loss, params, Float32Array.from(z.flat()), Float32Array.from(real.flat()), N);
      for (const phase of ['d', 'g'] as const) {
        const label = `${backend} ${loss} ${phase.toUpperCase()} phase`;
        t.true(close(got[phase].loss, want[phase].loss, 1e-6), `${label}: loss ${got[phase].loss} vs ${want[phase].loss}`);
        const e = maxAbsDiff(got[phase].grad, want[phase].grad);
        t.true(e <= 1e-6, `${label}: gradient max |Δ| ${e} (${[...got[phase].grad].join()} vs ${want[phase].grad.join()})`);
      }
    }
  }
  // The hinge case really masks: only the real rows below 1 and the fake rows above −1 count, the ones on the margins do not.
  t.deepEqual(plainTerm('hinge', 'dReal', REAL_LOGITS).grad, [0, 0, -1 / N, -1 / N, 0]);
  t.deepEqual(plainTerm('hinge', 'dFake', FAKE_LOGITS).grad, [0, 0, 1 / N, 1 / N, 0]);
});

// ---------------------------------------------------------------------------
// 3. Real presets: onnx and wasm against the cpu backend.
// ---------------------------------------------------------------------------

/** Seeded parameters; D's last kernel scaled by `dScale` and its bias set to `dBias` so its logits spread past the hinge margins ±1. */
function presetParams(preset: ModelPreset, seed: number, dScale: number, dBias: number): { g: Float32Array; d: Float32Array } {
  const g = new Float32Array(paramCount(preset.generator)), d = new Float32Array(paramCount(preset.discriminator));
  initParams(preset.generator, seed, 0, g);
  initParams(preset.discriminator, seed, 1, d);
  const shapes = paramShapes(preset.discriminator);
  let offset = 0, last = -1, lastSize = 0;
  for (const p of shapes) {
    if (p.role === 'kernel') { last = offset; lastSize = sizeOf(p.shape); }
    offset += sizeOf(p.shape);
  }
  for (let i = last; i < last + lastSize; i++) d[i] *= dScale;
  if (shapes[shapes.length - 1].role !== 'bias') throw new Error(`test setup: ${preset.name}'s D does not end in a bias`);
  d[d.length - 1] = dBias;
  return { g, d };
}

/** D's logits on the real rows and on G's fake rows (training-mode batch norm), on the cpu backend. */
async function logitsOf(preset: ModelPreset, params: { g: Float32Array; d: Float32Array }, z: Float32Array, real: Float32Array, n: number): Promise<{ r: Float32Array; f: Float32Array }> {
  await initBackend('cpu');
  const vars = (flat: Float32Array, net: ModelPreset['generator']): tf.Tensor[] => {
    let o = 0;
    return paramShapes(net).map((p) => tf.tensor(flat.subarray(o, (o += sizeOf(p.shape))), p.shape));
  };
  return tf.tidy(() => {
    const gv = vars(params.g, preset.generator), dv = vars(params.d, preset.discriminator);
    const fake = opsForward(tf, preset.generator, gv, tf.tensor2d(z, [n, preset.latentDim]), { training: true, stats: [] });
    const r = opsForward(tf, preset.discriminator, dv, tf.tensor(real, [n, ...preset.imageShape]), { training: true, stats: [] });
    const f = opsForward(tf, preset.discriminator, dv, fake, { training: true, stats: [] });
    return { r: r.dataSync() as Float32Array, f: f.dataSync() as Float32Array };
  });
}

/** Tolerance of the backend comparison of a loss: |Δ| ≤ TOL·max(1, |cpu loss|). */
const TOL = 1e-5;
/** Tolerance of the backend comparison of a gradient, per tensor (see tensorErrors). */
const GRAD_TOL: TensorTol = { rel: 1e-4, abs: 1e-7 };

const CASES: { model: 'dcgan' | 'probe-mlp'; n: number; seed: number; zSeed: number; dScale: number; dBias: number }[] = [
  { model: 'dcgan', n: 4, seed: 12, zSeed: 21, dScale: 1, dBias: 0 }, // batch norm in G and D
  { model: 'probe-mlp', n: 6, seed: 11, zSeed: 21, dScale: 8, dBias: -1.2 }, // no batch norm: real and fake through D as one batch on onnx
];

for (const { model, n, seed, zSeed, dScale, dBias } of CASES) {
  test.serial(`${model}: each loss's D and G phase loss and gradients on onnx and wasm equal the cpu backend's`, async (t) => {
    const preset = modelPreset(model, [28, 28, 1]);
    const params = presetParams(preset, seed, dScale, dBias);
    const z = normal(n * preset.latentDim, zSeed), real = uniform(n * sizeOf(preset.imageShape), zSeed + 1);
    // The hinge terms are exercised on both sides of their margins, not only in their linear part.
    const { r, f } = await logitsOf(preset, params, z, real, n);
    t.log(`D logits: real ${[...r].map((x) => x.toFixed(2)).join()}, fake ${[...f].map((x) => x.toFixed(2)).join()}`);
    t.true(r.some((x) => x > 1) && r.some((x) => x < 1), `real logits straddle 1: ${[...r].map((x) => x.toFixed(2)).join()}`);
    t.true(f.some((x) => x > -1) && f.some((x) => x < -1), `fake logits straddle −1: ${[...f].map((x) => x.toFixed(2)).join()}`);
    const lines: string[] = [];
    const failures: string[] = [];
    for (const loss of GAN_LOSSES) {
      const cpu = await runEngine('cpu', preset, loss, params, z, real, n);
      // The G-phase loss is the plain formula of the cpu engine's own logits (same params, same batch norm).
      t.true(close(cpu.g.loss, plainTerm(loss, 'g', f).value, 1e-5), `${loss}: cpu G loss ${cpu.g.loss} from its logits`);
      t.true(close(cpu.d.loss, plainTerm(loss, 'dReal', r).value + plainTerm(loss, 'dFake', f).value, 1e-5), `${loss}: cpu D loss ${cpu.d.loss} from its logits`);
      t.true(cpu.d.grad.some((x) => x !== 0) && cpu.g.grad.some((x) => x !== 0), `${loss}: gradients are not all zero`);
      for (const backend of ['onnx', 'wasm'] as const) {
        const got = await runEngine(backend, preset, loss, params, z, real, n);
        const parts: string[] = [];
        for (const phase of ['d', 'g'] as const) {
          const eLoss = Math.abs(got[phase].loss - cpu[phase].loss);
          if (!close(got[phase].loss, cpu[phase].loss, TOL)) failures.push(`${backend} ${loss} ${phase} loss |Δ| ${eLoss}`);
          const net = phase === 'd' ? preset.discriminator : preset.generator;
          const grad = tensorErrors(got[phase].grad, cpu[phase].grad, tensorsOf(net), GRAD_TOL);
          failures.push(...grad.failures.map((f) => `${backend} ${loss} ${phase} gradient ${f}`));
          parts.push(`${phase.toUpperCase()} loss ${eLoss.toExponential(1)}, worst gradient tensors ${worstTensors(grad.errors, 2)}`);
        }
        lines.push(`${loss} ${backend} vs cpu: ${parts.join(', ')}`);
      }
    }
    t.log(`${model} batch ${n}:\n  ${lines.join('\n  ')}`);
    t.deepEqual(failures, []);
  });
}

// ---------------------------------------------------------------------------
// 4. Config, resume, CLI and a short training run.
// ---------------------------------------------------------------------------

test.serial('config: loss defaults to ns, a bad loss names the field (and the flag), resume with another loss is refused', (t) => {
  t.is(resolveConfig({ out: 'x' }).loss, 'ns');
  t.is(resolveConfig({ loss: 'lsgan', out: 'x' }).loss, 'lsgan');
  const bad = t.throws(() => resolveConfig({ loss: 'wgan' as GanLoss, out: 'x' }), { instanceOf: GanpoolUsageError });
  t.is(bad.field, 'loss');
  t.is(bad.message, 'invalid loss: "wgan"; expected one of ns, hinge, lsgan');
  t.is(asFlagError(bad).message, 'invalid --loss: "wgan"; expected one of ns, hinge, lsgan');
  t.is(parseTrainArgs(['--loss', 'hinge']).config.loss, 'hinge');

  const base: TrainConfig = { model: 'seed', workers: 1, batchSize: 16, seed: 7, steps: 10, out: '/r' };
  const saved = resolveConfig({ ...base, loss: 'hinge' }, 10_000, [28, 28, 1]);
  t.is(resumeConfig(saved, { steps: 20 }, '/r', 10).loss, 'hinge');
  t.is(resumeConfig(saved, { steps: 20, loss: 'hinge' }, '/r', 10).loss, 'hinge');
  const e = t.throws(() => resumeConfig(saved, { loss: 'ns' }, '/r', 10), { instanceOf: GanpoolUsageError });
  t.is(e.field, 'loss');
  t.regex(e.message, /invalid loss: "ns" conflicts with the checkpoint's loss "hinge"/);
  // A checkpoint from before `loss` existed trained with ns.
  const old = { ...resolveConfig(base, 10_000, [28, 28, 1]) } as Partial<typeof saved>;
  delete old.loss;
  t.is(resumeConfig(old as typeof saved, {}, '/r', 10).loss, 'ns');
  t.throws(() => resumeConfig(old as typeof saved, { loss: 'lsgan' }, '/r', 10), { message: /conflicts with the checkpoint's loss "ns"/ });
});

test.serial('CLI: --loss is in train --help; a bad --loss exits 2 naming the flag and writes nothing', (t) => {
  const cli = (args: string[]): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', ...args], { encoding: 'utf8', timeout: 120_000 });
  const help = cli(['--help']);
  t.is(help.status, 0);
  t.regex(String(help.stdout), /--loss X +GAN loss: ns \(non-saturating\) \| hinge \| lsgan/);
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-loss-cli-')), 'run');
  const bad = cli(['--loss', 'wgan', '--steps', '1', '--out', out]);
  t.is(bad.status, 2);
  t.regex(String(bad.stderr), /invalid --loss: "wgan"; expected one of ns, hinge, lsgan/);
  t.false(existsSync(out), 'nothing written');
});

test.serial('train({ loss: hinge }): 1 and 2 workers give the same parameters, not those of ns, and config.json records the loss', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'ganpool-loss-'));
  const config: TrainConfig = { model: 'seed', batchSize: 16, steps: 4, seed: 3, sampleEvery: 1000, checkpointEvery: 1000 };
  const run = async (name: string, extra: TrainConfig): Promise<{ g: Float32Array; d: Float32Array }> => {
    const out = join(tmp, name);
    await train({ ...config, ...extra, out });
    const { state } = loadCheckpoint(out);
    return { g: state.g.params, d: state.d.params };
  };
  const one = await run('hinge-1', { loss: 'hinge', workers: 1 });
  const two = await run('hinge-2', { loss: 'hinge', workers: 2 });
  const ns = await run('ns-1', { loss: 'ns', workers: 1 });
  const dG = maxAbsDiff(two.g, one.g), dD = maxAbsDiff(two.d, one.d);
  const fromNs = Math.max(maxAbsDiff(ns.g, one.g), maxAbsDiff(ns.d, one.d));
  t.log(`hinge 2 vs 1 worker: max |Δ| G ${dG.toExponential(2)}, D ${dD.toExponential(2)}; hinge vs ns ${fromNs.toExponential(2)}`);
  t.true(dG <= 1e-5 && dD <= 1e-5, `G ${dG}, D ${dD}`);
  t.true(fromNs > 1e-4, 'the loss changes training');
  t.is((JSON.parse(readFileSync(join(tmp, 'hinge-2', 'config.json'), 'utf8')) as { loss: string }).loss, 'hinge');
});
