import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GanTrainer } from '../src/index.js';
import { loadCheckpoint } from '../src/run/checkpoint.js';
import { mnistData } from './helpers.js';

const ROUNDS = 5;

/** Starts a 2-worker dcgan run on onnx, sends `signal` at a random moment once steps are running; resolves to its exit code and output. */
async function signalRun(signal: 'SIGINT' | 'SIGTERM', round: number): Promise<{ code: number | null; stderr: string; out: string; delay: number }> {
  const out = join(mkdtempSync(join(tmpdir(), `ganpool-${signal}-`)), 'run');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', '--final-eval', 'off', '--model', 'dcgan', '--workers', '2', '--backend', 'onnx',
    '--batch-size', '64', '--steps', '100000', '--seed', String(round + 1), '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? -1 : null))));
  child.stdout.resume();
  await new Promise<void>((resolve) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/train \d+\//.test(stderr)) resolve();
    });
    void exited.then(() => resolve());
  });
  // A random moment while steps run back to back (a dcgan step at batch 64 takes tens of ms).
  const delay = Math.floor(Math.random() * 400);
  await new Promise((r) => setTimeout(r, delay));
  child.kill(signal);
  return { code: await exited, stderr, out, delay };
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test.serial(`${signal} at a random moment inside a step, ${ROUNDS} rounds: exit code 0 (never 134), the checkpoint loads`, async (t) => {
    const delays: number[] = [], steps: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const r = await signalRun(signal, round);
      t.is(r.code, 0, `round ${round} (signal after ${r.delay} ms): ${r.stderr.slice(-2000)}`);
      const ck = loadCheckpoint(r.out);
      const summary = JSON.parse(readFileSync(join(r.out, 'summary.json'), 'utf8')) as { stoppedEarly: boolean; steps: number };
      t.true(summary.stoppedEarly, `round ${round}`);
      t.is(ck.state.stepsDone, summary.steps, `round ${round}: checkpoint at the last step`);
      delays.push(r.delay);
      steps.push(summary.steps);
    }
    t.log(`${signal} after ${delays.join(', ')} ms; stopped at steps ${steps.join(', ')}`);
  });
}

test.serial('close() while a step is in flight resolves once the step is done, and the pool takes no new task', async (t) => {
  const trainer = await GanTrainer.create({ model: 'dcgan', workers: 2, batchSize: 64, seed: 2, backend: 'onnx' }, { data: mnistData() });
  const stepping = trainer.step();
  await new Promise((r) => setTimeout(r, 5));
  const closed = trainer.close();
  const [step, close] = await Promise.allSettled([stepping, closed]);
  t.is(close.status, 'fulfilled');
  // The step either finished (its tasks were in flight) or was refused cleanly at a phase boundary.
  if (step.status === 'fulfilled') t.is(step.value.step, 1);
  else t.regex(String((step.reason as Error).message), /worker pool is closing/);
  await t.throwsAsync(() => trainer.step(), { message: /worker pool is closing/ });
});
