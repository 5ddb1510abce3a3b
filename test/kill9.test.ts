import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../src/app/train.js';
import { loadCheckpoint } from '../src/run/checkpoint.js';
import { hashInts, sfc32 } from '../src/util/rng.js';

const ROUNDS = 6;
/** The kill delays come from this seed: random, or GANPOOL_KILL9_SEED to replay a failed run. */
const SEED_ENV = 'GANPOOL_KILL9_SEED';
const seed = process.env[SEED_ENV] ? Number(process.env[SEED_ENV]) : Math.floor(Math.random() * 2 ** 31);
if (!Number.isInteger(seed) || seed < 0) throw new Error(`${SEED_ENV} must be a non-negative integer, got ${JSON.stringify(process.env[SEED_ENV])}`);
/** The delay of each round (ms after the round's first checkpoint exists), a pure function of the seed. */
const next = sfc32(hashInts(seed, 0x6b11));
const delays = Array.from({ length: ROUNDS }, () => Math.floor(next() * 300));
const STEPS = 200;
const flags = ['--model', 'seed', '--workers', '2', '--batch-size', '16', '--seed', '12', '--sample-every', '100000'];
const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Runs the CLI; with `killAfterMs`, SIGKILLs it that long after its first checkpoint exists (or it ends first). */
async function cli(args: string[], out: string, killAfterMs: number | null): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdout.resume();
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  if (killAfterMs !== null) {
    let done = false;
    void exited.then(() => { done = true; });
    while (!done && !(/train \d+\//.test(stderr) && existsSync(join(out, 'checkpoint')))) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, killAfterMs));
    child.kill('SIGKILL');
  }
  return { ...(await exited), stderr };
}

test(`kill -9 at random moments, ${ROUNDS} rounds with --checkpoint-every 1: every checkpoint loads, and the resumed chain equals an uninterrupted run bit for bit`, async (t) => {
  t.log(`seed ${seed}, kill delays ${delays.join(', ')} ms (replay: ${SEED_ENV}=${seed} npx ava test/kill9.test.ts)`);
  const tmp = mkdtempSync(join(tmpdir(), 'ganpool-kill9-'));
  const straight = join(tmp, 'straight'), chain = join(tmp, 'chain');
  await train({ finalEval: false, model: 'seed', workers: 2, batchSize: 16, seed: 12, sampleEvery: 100000, steps: STEPS, out: straight });
  const stoppedAt: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const args = round === 0
      ? ['train', '--final-eval', 'off', ...flags, '--steps', String(STEPS), '--checkpoint-every', '1', '--out', chain]
      : ['train', '--resume', chain, '--steps', String(STEPS), '--checkpoint-every', '1'];
    const r = await cli(args, chain, delays[round]);
    t.true(r.signal === 'SIGKILL' || r.code === 0, `round ${round} (seed ${seed}, delay ${delays[round]} ms): ${r.stderr.slice(-1500)}`);
    stoppedAt.push(loadCheckpoint(chain).state.stepsDone); // throws if the checkpoint does not load
  }
  const last = await cli(['train', '--resume', chain, '--steps', String(STEPS)], chain, null);
  t.is(last.code, 0, last.stderr.slice(-1500));
  t.log(`checkpoint step after each kill: ${stoppedAt.join(', ')}`);
  t.true(stoppedAt[0] < STEPS, 'the first kill struck mid-run');
  const a = loadCheckpoint(chain).state, b = loadCheckpoint(straight).state;
  t.is(a.stepsDone, STEPS);
  for (const net of ['g', 'd'] as const) {
    for (const vec of ['params', 'm', 'v'] as const) t.true(bytes(a[net][vec]).equals(bytes(b[net][vec])), `${net}.${vec} bit-identical`);
    t.is(a[net].t, b[net].t);
  }
  const steps = readFileSync(join(chain, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
  t.deepEqual(steps, Array.from({ length: STEPS }, (_, i) => i + 1), 'metrics.jsonl holds every step once');
});
