import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../src/app/train.js';
import { loadCheckpoint } from '../src/run/checkpoint.js';
import { INJECT_FAULT_ENV } from '../src/training/faults.js';
import type { TrainConfig } from '../src/config.js';
import type { RetryInfo, StepInfo, TrainingState } from '../src/training/coordinator.js';

const tmp = mkdtempSync(join(tmpdir(), 'ganpool-faults-'));
// EMA on, so that a fault part-way through G's Adam range also leaves part of the EMA written.
const base: TrainConfig = { model: 'seed', workers: 2, batchSize: 16, seed: 8, steps: 6, sampleEvery: 1000, ema: 0.9 };
const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

async function runWith(fault: string | null, name: string, extra: TrainConfig = {}): Promise<string> {
  const out = join(tmp, name);
  if (fault) process.env[INJECT_FAULT_ENV] = fault;
  try {
    await train({ finalEval: false, ...base, ...extra, out });
  } finally {
    delete process.env[INJECT_FAULT_ENV];
  }
  return out;
}

/** Parameters, Adam moments, Adam step counts, moving statistics and G's EMA of two runs are equal bit for bit. */
function sameState(t: ExecutionContext, a: TrainingState, b: TrainingState): void {
  for (const net of ['g', 'd'] as const) {
    for (const vec of ['params', 'm', 'v', 'bn'] as const) t.true(bytes(a[net][vec]).equals(bytes(b[net][vec])), `${net}.${vec} bit-identical`);
    t.is(a[net].t, b[net].t);
  }
  t.true(a.g.ema!.length > 0 && bytes(a.g.ema!).equals(bytes(b.g.ema!)), 'g.ema bit-identical');
}

/** The one step of a 6-step run that logged retries, and those retries. */
function retriesOf(t: ExecutionContext, out: string): { step: number; retries: RetryInfo[] } {
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as StepInfo);
  t.deepEqual(lines.map((l) => l.step), [1, 2, 3, 4, 5, 6]);
  const retried = lines.filter((l): l is StepInfo & { retries: RetryInfo[] } => Boolean(l.retries));
  t.is(retried.length, 1);
  return retried[0];
}

let clean: string;
test.before(async () => {
  clean = await runWith(null, 'clean');
});

/**
 * Each fault, the retry record it must leave (phase, task, and the error text that tells it from
 * the others). `exit` and `exit-mid` kill the thread: its error is piscina's, naming the exit code
 * (the phase and task tell them apart).
 */
const FAULTS: { fault: string; phase: 'd' | 'g'; task: 'grad' | 'apply'; error: RegExp }[] = [
  { fault: 'grad@3', phase: 'd', task: 'grad', error: /^injected fault: grad task of the D phase of step 3$/ },
  { fault: 'grad@3:g', phase: 'g', task: 'grad', error: /^injected fault: grad task of the G phase of step 3$/ },
  { fault: 'apply@3', phase: 'd', task: 'apply', error: /^injected fault: apply task of the D phase of step 3, before writing$/ },
  { fault: 'apply@3:g', phase: 'g', task: 'apply', error: /^injected fault: apply task of the G phase of step 3, before writing$/ },
  { fault: 'apply-mid@3', phase: 'd', task: 'apply', error: /^injected fault: apply task of the D phase of step 3, after writing \d+ of its \d+ parameters$/ },
  { fault: 'apply-mid@3:g', phase: 'g', task: 'apply', error: /^injected fault: apply task of the G phase of step 3, after writing \d+ of its \d+ parameters$/ },
  { fault: 'exit@3', phase: 'd', task: 'grad', error: /^worker exited with code: 1$/ },
  { fault: 'exit-mid@3', phase: 'd', task: 'apply', error: /^worker exited with code: 1$/ },
  { fault: 'exit-mid@3:g', phase: 'g', task: 'apply', error: /^worker exited with code: 1$/ },
];

for (const { fault, phase, task, error } of FAULTS) {
  test.serial(`${fault}: the run recovers, logs the retry with its error, and ends bit-identical to a run without the fault`, async (t) => {
    const out = await runWith(fault, fault.replace(/[@:]/g, '-'));
    const retried = retriesOf(t, out);
    t.is(retried.step, 3);
    t.is(retried.retries.length, 1);
    t.like(retried.retries[0], { phase, task, tasks: 1 });
    t.regex(retried.retries[0].error, error);
    t.log(`${fault}: retry logged as ${JSON.stringify(retried.retries)}`);
    sameState(t, loadCheckpoint(out).state, loadCheckpoint(clean).state);
  });
}

test.serial('apply-mid@3:g with 3 workers (Adam folds slot 2 into slot 0 in place): the retried step is bit-identical too', async (t) => {
  const three = { workers: 3 };
  const ref = await runWith(null, 'clean-3', three);
  const out = await runWith('apply-mid@3:g', 'apply-mid-g-3', three);
  const retried = retriesOf(t, out);
  t.like(retried.retries[0], { phase: 'g', task: 'apply', tasks: 1 });
  sameState(t, loadCheckpoint(out).state, loadCheckpoint(ref).state);
});

test.serial('a fault that outlasts --max-retries stops the run: exit 1 naming step, task and error; summary with the reason; the checkpoint of the last good step', (t) => {
  const out = join(tmp, 'persistent');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', '--final-eval', 'off', '--model', 'seed', '--workers', '2', '--batch-size', '16',
    '--steps', '6', '--max-retries', '0', '--out', out], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, [INJECT_FAULT_ENV]: 'grad@3' } });
  t.is(r.status, 1, r.stderr);
  t.regex(r.stderr, /step 3: a grad task of the D phase failed 1 times \(last error: injected fault: grad task of the D phase of step 3\); the run stopped/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { stoppedEarly: boolean; stopReason: string };
  t.true(summary.stoppedEarly);
  t.regex(summary.stopReason, /step 3: a grad task/);
  const ck = loadCheckpoint(out);
  t.is(ck.state.stepsDone, 2, 'the last good step');
  t.is(ck.state.d.t, 2, 'no update of step 3 was applied');
});
