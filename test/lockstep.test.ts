import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GanTrainer, type StepInfo, type TrainConfig, type TrainingState } from '../src/index.js';
import { train } from '../src/app/train.js';
import { loadCheckpoint } from '../src/run/checkpoint.js';
import { INJECT_FAULT_ENV } from '../src/training/faults.js';
import { abortBarrier, arrive, type BarrierWords } from '../src/training/barrier.js';
import { LOOP_ABORTED } from '../src/errors.js';
import type { RetryInfo } from '../src/training/coordinator.js';
import { mnistData } from './helpers.js';
import { resolveConfig } from '../src/config.js';
import { asFlagError, parseTrainArgs } from '../src/cli/args.js';

const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Parameters, Adam moments and counts, moving statistics and G's EMA of two states are equal bit for bit. */
function sameState(t: ExecutionContext, a: TrainingState, b: TrainingState, what: string): void {
  t.is(a.stepsDone, b.stepsDone, `${what}: steps`);
  for (const net of ['g', 'd'] as const) {
    for (const vec of ['params', 'm', 'v', 'bn'] as const) {
      t.true(a[net][vec].length > 0 || vec === 'bn', `${net}.${vec} is not empty`);
      t.true(bytes(a[net][vec]).equals(bytes(b[net][vec])), `${what}: ${net}.${vec} bit-identical`);
    }
    t.is(a[net].t, b[net].t, `${what}: ${net}.t`);
  }
  t.true(bytes(a.g.ema ?? new Float32Array(0)).equals(bytes(b.g.ema ?? new Float32Array(0))), `${what}: g.ema bit-identical`);
}

const WORDS: BarrierWords = { count: 0, generation: 1, abort: 2 };

test('barrier: one party passes at once and runs the leader action; the abort flag makes every arrival throw', (t) => {
  const ctl = new Int32Array(new SharedArrayBuffer(12));
  let led = 0;
  arrive(ctl, WORDS, 1, 1000, 'here', () => { led += 1; });
  arrive(ctl, WORDS, 1, 1000, 'here', () => { led += 1; });
  t.is(led, 2);
  t.is(ctl[WORDS.generation], 2);
  t.is(ctl[WORDS.count], 0);
  abortBarrier(ctl, WORDS);
  const e = t.throws(() => arrive(ctl, WORDS, 1, 1000, 'here'));
  t.true(e.message.startsWith(LOOP_ABORTED), e.message);
});

test('barrier timeout: an arrival the others never join throws after the timeout, naming where, and aborts the loop', (t) => {
  const ctl = new Int32Array(new SharedArrayBuffer(12));
  const t0 = performance.now();
  const e = t.throws(() => arrive(ctl, WORDS, 2, 150, 'after the gradients of the D phase of step 7'));
  const waited = performance.now() - t0;
  t.is(e.message, 'barrier timeout: waited 150 ms after the gradients of the D phase of step 7 for the other workers');
  t.true(waited >= 140 && waited < 5000, `waited ${waited.toFixed(0)} ms`);
  t.is(ctl[WORDS.abort], 1, 'the abort flag is up, so the other workers stop too');
});

const base: TrainConfig = { model: 'dcgan', workers: 2, batchSize: 16, seed: 5, sampleEvery: 1000, finalEval: false };

test.serial('1, 2 and 3 workers on the loop: the same losses and parameters to float rounding over 6 steps, and every worker on its own thread', async (t) => {
  const data = mnistData();
  const runs: { losses: number[]; params: { g: Float32Array; d: Float32Array }; threads: number }[] = [];
  for (const workers of [1, 2, 3]) {
    // mlp has no batch norm, whose per-shard batch statistics would depend on the split (as in DDP without SyncBatchNorm).
    const trainer = await GanTrainer.create({ ...base, model: 'mlp', workers, steps: 6 }, { data });
    const losses: number[] = [];
    try {
      // Two loop runs of 3 steps: the loop stops at a pause point and starts again.
      for (let i = 0; i < 2; i++) for (const info of await collect(trainer, 3)) losses.push(info.dLoss, info.gLoss);
      runs.push({ losses, params: trainer.parameters(), threads: trainer.workerTensors().size });
    } finally {
      await trainer.close();
    }
  }
  for (const [k, r] of runs.entries()) {
    t.is(r.threads, k + 1, `${k + 1} worker(s) reported from ${r.threads} distinct threads`);
    t.is(r.losses.length, 12);
    t.true(r.losses.every(Number.isFinite));
  }
  for (const k of [1, 2]) {
    const a = runs[0], b = runs[k];
    const dLoss = Math.max(...a.losses.map((x, i) => Math.abs(x - b.losses[i])));
    t.true(dLoss < 1e-4, `${k + 1} vs 1 worker: max |Δloss| ${dLoss}`);
    for (const net of ['g', 'd'] as const) {
      let worst = 0;
      a.params[net].forEach((x, i) => { worst = Math.max(worst, Math.abs(x - b.params[net][i])); });
      t.true(worst < 1e-4 && !Number.isNaN(worst), `${k + 1} vs 1 worker: max |Δ${net}| ${worst}`);
      t.log(`${k + 1} vs 1 worker: max |Δ${net}| ${worst.toExponential(2)}`);
    }
  }
});

/** Runs `n` steps of `trainer` through the loop and returns their infos, checking the listener saw the same ones. */
async function collect(trainer: GanTrainer, n: number): Promise<StepInfo[]> {
  const heard: StepInfo[] = [];
  const out = await trainer.runSteps(n, (info) => { heard.push(info); });
  if (heard.length !== out.length || heard.some((h, i) => h !== out[i])) throw new Error('runSteps: listener and result differ');
  return out;
}

test.serial('stop at a step boundary: an abort while the loop runs leaves the exact state of the step it stopped at', async (t) => {
  const data = mnistData();
  const controller = new AbortController();
  const seen: number[] = [];
  const config: TrainConfig = { ...base, ema: 0.9, steps: 400 };
  const trainer = await GanTrainer.create(config, {
    data, signal: controller.signal,
    onStep: (info) => { seen.push(info.step); if (info.step === 5) controller.abort(); },
  });
  let stopped: TrainingState;
  try {
    const summary = await trainer.run();
    t.true(summary.stoppedEarly);
    stopped = trainer.exportState();
  } finally {
    await trainer.close();
  }
  const at = stopped.stepsDone;
  t.true(at >= 5 && at < 400, `stopped after step ${at}`);
  t.deepEqual(seen, Array.from({ length: at }, (_, i) => i + 1), 'onStep saw every step once, in order');
  // A run asked for exactly `at` steps ends in the same state, bit for bit.
  const straight = await GanTrainer.create({ ...config, steps: at }, { data });
  try {
    await straight.run();
    sameState(t, stopped, straight.exportState(), `stopped at ${at} vs ${at} straight steps`);
  } finally {
    await straight.close();
  }
});

test.serial('stall@3 with --barrier-timeout 0.5: the waiting workers time out, the phase is retried, and the run ends bit-identical to a clean one', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'ganpool-lockstep-'));
  const config: TrainConfig = { ...base, model: 'seed', steps: 5, ema: 0.9, barrierTimeout: 0.5 };
  await train({ ...config, out: join(tmp, 'clean') });
  process.env[INJECT_FAULT_ENV] = 'stall@3';
  try {
    await train({ ...config, out: join(tmp, 'stall') });
  } finally {
    delete process.env[INJECT_FAULT_ENV];
  }
  const lines = readFileSync(join(tmp, 'stall', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as StepInfo);
  t.deepEqual(lines.map((l) => l.step), [1, 2, 3, 4, 5]);
  const retried = lines.filter((l): l is StepInfo & { retries: RetryInfo[] } => Boolean(l.retries));
  t.is(retried.length, 1);
  t.is(retried[0].step, 3);
  t.like(retried[0].retries[0], { phase: 'd', task: 'grad', tasks: 1 });
  t.regex(retried[0].retries[0].error, /^barrier timeout: waited 500 ms after the gradients of the D phase of step 3 for the other workers$/);
  sameState(t, loadCheckpoint(join(tmp, 'stall')).state, loadCheckpoint(join(tmp, 'clean')).state, 'stalled vs clean');
});

test.serial('exit@2 with 3 workers: the dead thread is replaced, the loop runs on 3 distinct threads again, and the parameters equal a clean run\'s', async (t) => {
  const data = mnistData();
  const config: TrainConfig = { ...base, model: 'seed', workers: 3, steps: 4 };
  const clean = await GanTrainer.create(config, { data });
  let want: TrainingState;
  try {
    await clean.run();
    want = clean.exportState();
  } finally {
    await clean.close();
  }
  process.env[INJECT_FAULT_ENV] = 'exit@2';
  let trainer: GanTrainer;
  try {
    trainer = await GanTrainer.create(config, { data });
  } finally {
    delete process.env[INJECT_FAULT_ENV];
  }
  try {
    t.is((await collect(trainer, 1)).length, 1);
    const before = new Set(trainer.workerTensors().keys());
    t.is(before.size, 3);
    const infos = await collect(trainer, 3);
    t.deepEqual(infos.map((i) => i.step), [2, 3, 4]);
    t.like(infos[0].retries?.[0], { phase: 'd', task: 'grad', error: 'worker exited with code: 1' });
    const threads = [...trainer.workerTensors().keys()];
    t.true(threads.some((id) => !before.has(id)), `a new thread took the dead one's place: ${threads.join(', ')}`);
    sameState(t, trainer.exportState(), want, 'exit@2 vs clean');
  } finally {
    await trainer.close();
  }
});

test('--barrier-timeout: seconds in (0, 86400], anything else a usage error naming the flag; resolves to 120 by default', (t) => {
  t.is(resolveConfig({}).barrierTimeout, 120);
  t.is(resolveConfig(parseTrainArgs(['--barrier-timeout', '0.25']).config).barrierTimeout, 0.25);
  for (const bad of ['0', '-1', '1e9', 'soon']) {
    const e = t.throws(() => resolveConfig(parseTrainArgs([`--barrier-timeout=${bad}`]).config));
    t.regex(asFlagError(e).message, /^invalid --barrier-timeout: /, bad);
  }
});
