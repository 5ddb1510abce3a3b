import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GanTrainer, type TrainConfig } from '../src/index.js';
import { INJECT_FAULT_ENV, faultFromEnv } from '../src/training/faults.js';
import { loadCheckpoint } from '../src/run/checkpoint.js';
import { mnistData } from './helpers.js';

const config: TrainConfig = { model: 'seed', workers: 2, batchSize: 16, seed: 4 };

async function run(steps: number, fault?: string): Promise<{ params: { g: Float32Array; d: Float32Array }; infos: Awaited<ReturnType<GanTrainer['step']>>[]; t: number; gT: number }> {
  if (fault) process.env[INJECT_FAULT_ENV] = fault;
  try {
    const trainer = await GanTrainer.create(config, { data: mnistData() });
    try {
      const infos = [];
      for (let i = 0; i < steps; i++) infos.push(await trainer.step());
      const state = trainer.exportState();
      return { params: trainer.parameters(), infos, t: state.d.t, gT: state.g.t };
    } finally {
      await trainer.close();
    }
  } finally {
    delete process.env[INJECT_FAULT_ENV];
  }
}

const same = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));

test.serial('nan@3: step 3 is refused with its parameters untouched, so 3 injected steps equal 2 clean ones bit for bit', async (t) => {
  const injected = await run(3, 'nan@3');
  const clean = await run(2);
  t.deepEqual(injected.infos.map((i) => i.skipped ?? null), [null, null, { phase: 'd', reason: 'non-finite gradient' }]);
  t.true(same(injected.params.g, clean.params.g) && same(injected.params.d, clean.params.d), 'parameters after the refused step are those before it');
  t.is(injected.t, 2, 'Adam did not count the refused step');
  t.true(injected.params.d.every(Number.isFinite));
  const cleanThree = await run(3);
  t.false(same(cleanThree.params.d, clean.params.d), 'an unrefused step 3 moves D (the comparison above can fail)');
});

test.serial('nan-grad@3 (one NaN in the middle of a D gradient, the loss finite): step 3 is refused all the same, parameters untouched', async (t) => {
  const injected = await run(3, 'nan-grad@3');
  const clean = await run(2);
  const third = injected.infos[2];
  t.deepEqual(third.skipped, { phase: 'd', reason: 'non-finite gradient' });
  t.true(Number.isFinite(third.dLoss), `the loss stayed finite (${third.dLoss}): the gradient check caught it`);
  t.true(same(injected.params.g, clean.params.g) && same(injected.params.d, clean.params.d), 'parameters after the refused step are those before it');
  t.is(injected.t, 2);
});

test.serial('nan@3:g (a refused G phase): D\'s update of step 3 stands, G keeps the parameters of step 2, and the step is logged as refused in G', async (t) => {
  const injected = await run(3, 'nan@3:g');
  const two = await run(2), three = await run(3);
  const third = injected.infos[2];
  t.deepEqual(third.skipped, { phase: 'g', reason: 'non-finite gradient' });
  t.true(Number.isFinite(third.dLoss) && Number.isNaN(third.gLoss));
  t.true(same(injected.params.d, three.params.d), 'D as after 3 clean steps');
  t.true(same(injected.params.g, two.params.g), 'G as after 2 clean steps');
  t.false(same(three.params.g, two.params.g), 'a clean step 3 moves G (the comparison above can fail)');
  t.is(injected.t, 3, 'D counted its update');
  t.is(injected.gT, 2, 'G did not count the refused one');
  t.true(injected.params.g.every(Number.isFinite));
});

test.serial('nan@1+ with --max-skips 3: the run stops with advice to lower the learning rate, exit 1, a finite checkpoint, a summary with the reason, and the skips logged', (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-nan-')), 'run');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', '--final-eval', 'off', '--model', 'seed', '--workers', '2', '--batch-size', '16',
    '--steps', '50', '--max-skips', '3', '--out', out], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, [INJECT_FAULT_ENV]: 'nan@1+' } });
  t.is(r.status, 1, r.stderr);
  t.regex(r.stderr, /training diverged: 3 steps in a row up to step 3 .* Try a lower learning rate \(--lr\)/);
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
  t.deepEqual(lines, [1, 2, 3].map((step) => ({ step, skipped: 'non-finite gradient', phase: 'd' })));
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { stoppedEarly: boolean; stopReason: string };
  t.true(summary.stoppedEarly);
  t.regex(summary.stopReason, /training diverged/);
  const ck = loadCheckpoint(out);
  t.is(ck.state.stepsDone, 3);
  t.true(ck.state.g.params.every(Number.isFinite) && ck.state.d.params.every(Number.isFinite), 'the checkpoint holds finite parameters');
  t.is(ck.state.d.t, 0, 'no update was applied');
});

test('GANPOOL_INJECT_FAULT values: KIND@K[+][:d|:g] parses; anything else is a usage error naming the variable', (t) => {
  t.deepEqual(faultFromEnv({ [INJECT_FAULT_ENV]: 'nan@12' }), { kind: 'nan', step: 12, repeat: false, phase: 'd' });
  t.deepEqual(faultFromEnv({ [INJECT_FAULT_ENV]: 'nan@1+' }), { kind: 'nan', step: 1, repeat: true, phase: 'd' });
  t.deepEqual(faultFromEnv({ [INJECT_FAULT_ENV]: 'nan-grad@2+:g' }), { kind: 'nan-grad', step: 2, repeat: true, phase: 'g' });
  t.deepEqual(faultFromEnv({ [INJECT_FAULT_ENV]: 'apply-mid@3:g' }), { kind: 'apply-mid', step: 3, repeat: false, phase: 'g' });
  t.deepEqual(faultFromEnv({ [INJECT_FAULT_ENV]: 'exit-mid@4:d' }), { kind: 'exit-mid', step: 4, repeat: false, phase: 'd' });
  t.is(faultFromEnv({}), null);
  for (const bad of ['nan@0', 'nan', 'boom@3', 'nan@3++', 'grad@3+', 'apply-mid@3+', 'grad@3:x', 'grad@3:', 'apply-half@3', 'nan@3:g+']) {
    t.throws(() => faultFromEnv({ [INJECT_FAULT_ENV]: bad }), { message: new RegExp(`invalid ${INJECT_FAULT_ENV}: "${bad.replace(/\+/g, '\\+')}"`) });
  }
});
