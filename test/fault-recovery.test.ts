import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../src/app/train.js';
import { loadCheckpoint } from '../src/run/checkpoint.js';
import { INJECT_FAULT_ENV } from '../src/training/faults.js';
import type { TrainConfig } from '../src/config.js';
import type { RetryInfo, StepInfo } from '../src/training/coordinator.js';

const tmp = mkdtempSync(join(tmpdir(), 'ganpool-faults-'));
const base: TrainConfig = { model: 'seed', workers: 2, batchSize: 16, seed: 8, steps: 6, sampleEvery: 1000 };
const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

async function runWith(fault: string | null, name: string): Promise<string> {
  const out = join(tmp, name);
  if (fault) process.env[INJECT_FAULT_ENV] = fault;
  try {
    await train({ finalEval: false, ...base, out });
  } finally {
    delete process.env[INJECT_FAULT_ENV];
  }
  return out;
}

let clean: string;
test.before(async () => {
  clean = await runWith(null, 'clean');
});

for (const [fault, task] of [['grad@3', 'grad'], ['apply@3', 'apply'], ['exit@3', 'grad']] as const) {
  test.serial(`${fault}: the run recovers, logs the retry, and ends bit-identical to a run without the fault`, async (t) => {
    const out = await runWith(fault, fault.replace('@', '-'));
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as StepInfo);
    t.deepEqual(lines.map((l) => l.step), [1, 2, 3, 4, 5, 6]);
    const retried = lines.filter((l): l is StepInfo & { retries: RetryInfo[] } => Boolean(l.retries));
    t.is(retried.length, 1);
    t.is(retried[0].step, 3);
    t.like(retried[0].retries[0], { phase: 'd', task, tasks: 1 });
    t.log(`${fault}: retry logged as ${JSON.stringify(retried[0].retries)}`);
    const a = loadCheckpoint(out).state, b = loadCheckpoint(clean).state;
    for (const net of ['g', 'd'] as const) {
      for (const vec of ['params', 'm', 'v'] as const) t.true(bytes(a[net][vec]).equals(bytes(b[net][vec])), `${net}.${vec} bit-identical`);
      t.is(a[net].t, b[net].t);
    }
  });
}

test.serial('a fault that outlasts --max-retries stops the run: exit 1 naming step, task and error; summary with the reason; the checkpoint of the last good step', (t) => {
  const out = join(tmp, 'persistent');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', '--final-eval', 'off', '--model', 'seed', '--workers', '2', '--batch-size', '16',
    '--steps', '6', '--max-retries', '0', '--out', out], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, [INJECT_FAULT_ENV]: 'grad@3' } });
  t.is(r.status, 1, r.stderr);
  t.regex(r.stderr, /step 3: a grad task of the D phase failed 1 times \(last error: injected fault: grad task of step 3\); the run stopped/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { stoppedEarly: boolean; stopReason: string };
  t.true(summary.stoppedEarly);
  t.regex(summary.stopReason, /step 3: a grad task/);
  const ck = loadCheckpoint(out);
  t.is(ck.state.stepsDone, 2, 'the last good step');
  t.is(ck.state.d.t, 2, 'no update of step 3 was applied');
});
