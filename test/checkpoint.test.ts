import test from 'ava';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../src/app/train.js';
import { resolveConfig, type TrainConfig } from '../src/config.js';
import {
  loadCheckpoint, moveCheckpointAside, stageCheckpoint, writeCheckpoint, CHECKPOINT_ASIDE, CHECKPOINT_DIR,
} from '../src/run/checkpoint.js';
import { resumeConfig } from '../src/run/resume.js';
import type { TrainingState } from '../src/training/coordinator.js';
import { GanpoolDataError, GanpoolUsageError } from '../src/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'ganpool-ckpt-'));
const base: TrainConfig = { model: 'seed', workers: 2, batchSize: 16, seed: 7, sampleEvery: 1000, checkpointEvery: 1000 };

/** Asserts two checkpoints hold bit-identical parameters and Adam states. */
function assertSameState(t: import('ava').ExecutionContext, a: TrainingState, b: TrainingState): void {
  t.is(a.stepsDone, b.stepsDone);
  for (const net of ['g', 'd'] as const) {
    t.is(a[net].t, b[net].t, `${net}.t`);
    for (const vec of ['params', 'm', 'v', 'bn'] as const) {
      t.true(Buffer.from(a[net][vec].buffer).equals(Buffer.from(b[net][vec].buffer)), `${net}.${vec} bit-identical`);
    }
  }
}

/** A small synthetic state, distinct per `tag`. */
function fakeState(tag: number, n = 10): TrainingState {
  const vec = (k: number): Float32Array => Float32Array.from({ length: n }, (_, i) => tag * 100 + k * 10 + i + 0.5);
  return { stepsDone: tag, g: { params: vec(1), m: vec(2), v: vec(3), t: tag, bn: vec(7) }, d: { params: vec(4), m: vec(5), v: vec(6), t: tag, bn: vec(8) } };
}
const fakeConfig = resolveConfig({ ...base, out: 'x' }, 10_000, [28, 28, 1]);

test.serial('API: 20 steps in one go equal 10 steps + resume + 10 steps, bit for bit (params, m, v, t)', async (t) => {
  const one = join(tmp, 'one'), two = join(tmp, 'two');
  await train({ finalEval: false, ...base, steps: 20, out: one });
  const first = await train({ finalEval: false, ...base, steps: 10, out: two });
  t.is(first.steps, 10);
  const resumed = await train({ finalEval: false, resume: two, steps: 20 });
  t.is(resumed.resumedFrom, 10);
  t.is(resumed.steps, 20);
  const a = loadCheckpoint(one), b = loadCheckpoint(two);
  assertSameState(t, b.state, a.state);
  t.is(a.state.g.t, 20);
  // metrics.jsonl continues: steps 1..20 once each, same losses as the single run.
  const steps = (dir: string): { step: number; dLoss: number }[] =>
    readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; dLoss: number });
  t.deepEqual(steps(two).map((l) => l.step), Array.from({ length: 20 }, (_, i) => i + 1));
  t.deepEqual(steps(two).map((l) => l.dLoss), steps(one).map((l) => l.dLoss));
  t.is((JSON.parse(readFileSync(join(two, 'config.json'), 'utf8')) as { steps: number }).steps, 20);
});

test.serial('onnx, dcgan (batch norm): 10 steps + resume + 10 equal 20 in one go, bit for bit, moving statistics included', async (t) => {
  const bnBase: TrainConfig = { ...base, model: 'dcgan', backend: 'onnx', batchSize: 8 };
  const one = join(tmp, 'bn-one'), two = join(tmp, 'bn-two');
  await train({ finalEval: false, ...bnBase, steps: 20, out: one });
  await train({ finalEval: false, ...bnBase, steps: 10, out: two });
  const resumed = await train({ finalEval: false, resume: two, steps: 20 });
  t.is(resumed.backend, 'onnx');
  const a = loadCheckpoint(one), b = loadCheckpoint(two);
  assertSameState(t, b.state, a.state);
  t.true(a.state.g.bn.length > 0 && a.state.d.bn.length > 0, 'dcgan has moving statistics in both networks');
  t.true(a.state.g.bn.some((x) => x !== 0 && x !== 1), 'statistics moved from their start (means 0, variances 1)');
});

test.serial('resume drops metrics lines past the checkpoint (crash after a checkpoint) and a torn last line', async (t) => {
  const dir = join(tmp, 'torn');
  await train({ finalEval: false, ...base, steps: 4, checkpointEvery: 2, out: dir });
  appendFileSync(join(dir, 'metrics.jsonl'), JSON.stringify({ step: 5, dLoss: 0 }) + '\n{"step": 6, "dLo');
  await train({ finalEval: false, resume: dir, steps: 6 });
  const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; dLoss: number });
  t.deepEqual(lines.map((l) => l.step), [1, 2, 3, 4, 5, 6]);
  t.not(lines[4].dLoss, 0, 'the stale step-5 line was replaced by the real one');
});

test.serial('CLI: train --steps 4, then --resume --steps 8 equals one 8-step run', (t) => {
  const cli = (args: string[]): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', '--final-eval', 'off', ...args], { encoding: 'utf8', timeout: 240_000 });
  const flags = ['--model', 'seed', '--workers', '2', '--batch-size', '16', '--seed', '3'];
  const one = join(tmp, 'cli-one'), two = join(tmp, 'cli-two');
  for (const r of [cli([...flags, '--steps', '8', '--out', one]), cli([...flags, '--steps', '4', '--out', two]), cli(['--resume', two, '--steps', '8'])]) {
    t.is(r.status, 0, String(r.stderr));
  }
  assertSameState(t, loadCheckpoint(two).state, loadCheckpoint(one).state);
  const conflict = cli(['--resume', two, '--steps', '9', '--batch-size', '128']);
  t.is(conflict.status, 2);
  t.regex(String(conflict.stderr), /invalid --batch-size: 128 conflicts with the checkpoint's batchSize 16/);
});

test('a crash between staging and the rename leaves the previous checkpoint loadable', async (t) => {
  const dir = join(tmp, 'crash');
  await writeCheckpoint(dir, fakeConfig, fakeState(1));
  // Crash after the new one is staged, before any rename: checkpoint/ is the old one.
  await stageCheckpoint(dir, fakeConfig, fakeState(2));
  assertSameState(t, loadCheckpoint(dir).state, fakeState(1));
  // Crash after the old one moved aside, before the new one moved in: the aside copy loads.
  await stageCheckpoint(dir, fakeConfig, fakeState(3));
  moveCheckpointAside(dir);
  t.false(existsSync(join(dir, CHECKPOINT_DIR)));
  const c = loadCheckpoint(dir);
  t.true(c.dir.endsWith(CHECKPOINT_ASIDE));
  assertSameState(t, c.state, fakeState(1));
  // The next write recovers: temps and the aside copy are gone, the new state loads.
  await writeCheckpoint(dir, fakeConfig, fakeState(4));
  assertSameState(t, loadCheckpoint(dir).state, fakeState(4));
  t.deepEqual(readdirSync(dir), [CHECKPOINT_DIR]);
});

/** Writes a fresh synthetic checkpoint into a new dir, applies `damage` to it and returns the load error. */
async function damaged(name: string, damage: (ck: string) => void): Promise<GanpoolDataError> {
  const dir = join(tmp, `damaged-${name}`);
  await writeCheckpoint(dir, fakeConfig, fakeState(5));
  damage(join(dir, CHECKPOINT_DIR));
  try {
    loadCheckpoint(dir);
  } catch (e) {
    return e as GanpoolDataError;
  }
  throw new Error('loaded a damaged checkpoint');
}

const damages: [string, (ck: string) => void, RegExp][] = [
  ['bad-json', (ck) => writeFileSync(join(ck, 'manifest.json'), '{"format": "ganpool-checkpoint", '), /manifest\.json: damaged checkpoint: not valid JSON/],
  ['version', (ck) => {
    const m = JSON.parse(readFileSync(join(ck, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(ck, 'manifest.json'), JSON.stringify({ ...m, version: 99 }));
  }, /manifest\.json: .*unknown format version 99/],
  ['size', (ck) => writeFileSync(join(ck, 'g-m.f32'), readFileSync(join(ck, 'g-m.f32')).subarray(0, 12)), /g-m\.f32: .*expected 40 bytes .*found 12/],
  ['checksum', (ck) => {
    const b = readFileSync(join(ck, 'd-v.f32'));
    b[3] ^= 1;
    writeFileSync(join(ck, 'd-v.f32'), b);
  }, /d-v\.f32: .*SHA-256 checksum does not match/],
  ['missing-file', (ck) => writeFileSync(join(ck, 'manifest.json'), readFileSync(join(ck, 'manifest.json'), 'utf8').replace('"g-params.f32"', '"g-params.bin"')), /manifest\.json: .*no valid entry for g-params\.f32/],
];
for (const [name, damage, message] of damages) {
  test(`a damaged checkpoint is a GanpoolDataError naming the file: ${name}`, async (t) => {
    const e = await damaged(name, damage);
    t.true(e instanceof GanpoolDataError, String(e));
    t.regex(e.message, message);
  });
}

test('resume with a damaged checkpoint fails, never restarts silently; a missing one is a usage error', async (t) => {
  const dir = join(tmp, 'resume-damaged');
  await writeCheckpoint(dir, fakeConfig, fakeState(5));
  writeFileSync(join(dir, CHECKPOINT_DIR, 'manifest.json'), '{');
  await t.throwsAsync(train({ resume: dir, steps: 10 }), { instanceOf: GanpoolDataError });
  t.false(existsSync(join(dir, 'metrics.jsonl')));
  await t.throwsAsync(train({ resume: join(tmp, 'nothing-here') }), { instanceOf: GanpoolUsageError, message: /holds no checkpoint/ });
});

test('resume config: changeable fields apply, others conflict naming the field', (t) => {
  const saved = resolveConfig({ ...base, steps: 10, out: '/r' }, 10_000, [28, 28, 1]);
  t.like(resumeConfig(saved, { steps: 30, sampleEvery: 5, workers: 1 }, '/r', 10), { steps: 30, sampleEvery: 5, workers: 1, batchSize: 16, seed: 7, model: 'seed', out: '/r' });
  t.like(resumeConfig(saved, { batchSize: 16, seed: 7 }, '/r', 10), { steps: 10 });
  const conflicts: [TrainConfig, RegExp][] = [
    [{ batchSize: 128 }, /invalid batchSize: 128 conflicts with the checkpoint's batchSize 16/],
    [{ seed: 8 }, /seed: 8 conflicts/],
    [{ model: 'mlp' }, /model: "mlp" conflicts with the checkpoint's model "seed"/],
    [{ lr: 0.1 }, /lr: 0.1 conflicts/],
    [{ dataset: 'fashion-mnist' }, /dataset: "fashion-mnist" conflicts/],
    [{ backend: 'cpu' }, /backend: "cpu" conflicts with the checkpoint's backend "onnx"/],
    [{ steps: 5 }, /invalid steps: 5.*at least the checkpoint's 10 steps/],
  ];
  for (const [given, message] of conflicts) {
    const e = t.throws(() => resumeConfig(saved, given, '/r', 10), { instanceOf: GanpoolUsageError });
    t.regex(e.message, message);
  }
});

test.serial('a stopped run (AbortSignal, as Ctrl-C) still writes its final checkpoint and generator', async (t) => {
  const dir = join(tmp, 'aborted');
  const controller = new AbortController();
  const r = await train({ finalEval: false, ...base, steps: 50, out: dir }, { signal: controller.signal, onStep: (s) => { if (s.step === 3) controller.abort(); } });
  t.true(r.stoppedEarly);
  // The lockstep loop runs ahead of the main thread's onStep, so it stops at the first step
  // boundary after the abort: step 3 or a little later, never before, and the files agree on it.
  const at = loadCheckpoint(dir).state.stepsDone;
  t.true(at >= 3 && at < 50, `stopped at step ${at}`);
  t.is(r.steps, at);
  const steps = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step?: number }).step);
  t.deepEqual(steps, Array.from({ length: at }, (_, i) => i + 1));
  t.true(existsSync(join(dir, 'generator', 'model.json')));
});
