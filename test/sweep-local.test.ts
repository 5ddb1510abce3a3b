/**
 * `ganpool sweep` with the local executor: run folders and DIR/sweep.json,
 * results.csv and the table, a re-run that touches nothing, unfinished runs
 * refused without --resume and continued bit-exactly with it, and Ctrl-C
 * stopping every run at a step boundary with its checkpoint.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function sweep(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'sweep', ...args], {
    encoding: 'utf8', timeout: 240_000, env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function specFile(text: string): { dir: string; spec: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ganpool-sweep-'));
  const spec = join(dir, 'spec.yaml');
  writeFileSync(spec, text);
  return { dir, spec };
}

const weights = (run: string): Buffer => readFileSync(join(run, 'generator', 'weights.bin'));
const NAMES = ['loss=ns_seed=1', 'loss=hinge_seed=1'];
const SPEC = 'base: { model: mlp, steps: 6, batch-size: 16, final-eval: off, checkpoint-every: 3, max-retries: 0 }\ngrid: { loss: [ns, hinge] }\nseeds: 1\n';

test('a local sweep: run folders, sweep.json, results.csv and the table; a re-run is a no-op; a failed run needs --resume and then continues bit-exactly', (t) => {
  const { dir, spec } = specFile(SPEC);
  const out = join(dir, 'out');
  const r = sweep([spec, '--out', out, '--parallel', '2', '--workers', '1']);
  t.is(r.code, 0, r.stderr);
  const listed = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as { workers: number; runs: { name: string; index: number; config: { loss: string; workers: number } }[] };
  t.deepEqual(listed.runs.map((x) => x.name), NAMES);
  t.is(listed.workers, 1);
  t.like(listed.runs[1].config, { loss: 'hinge', workers: 1 });
  for (const name of NAMES) t.true(existsSync(join(out, name, 'summary.json')), name);
  const csv = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n');
  t.is(csv[0], 'name,configuration,loss,seed,status,steps,fcd,classifier_score,classes_covered,samples_per_s,wall_s');
  t.is(csv.length, 3);
  t.regex(csv[2], /^loss=hinge_seed=1,loss=hinge,hinge,1,finished,6,,,,\d/);
  t.regex(r.stdout, /loss\s+seed\s+status\s+steps\s+FCD/);
  t.regex(r.stdout, /hinge\s+1\s+finished\s+6/);
  t.regex(r.stdout, /per configuration \(mean ± sd over seeds/);
  const straight = NAMES.map((n) => weights(join(out, n)));

  // The same SPEC again: nothing is trained or rewritten.
  const mtimes = NAMES.map((n) => statSync(join(out, n, 'summary.json')).mtimeMs);
  const again = sweep([spec, '--out', out, '--parallel', '2', '--workers', '1']);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stderr, /2 runs in .* \(2 finished before\)/);
  t.deepEqual(NAMES.map((n) => statSync(join(out, n, 'summary.json')).mtimeMs), mtimes);

  // A fault at step 5 (after the checkpoint at step 3) fails both runs of a fresh sweep.
  const out2 = join(dir, 'out2');
  const failed = sweep([spec, '--out', out2, '--parallel', '2', '--workers', '1'], { GANPOOL_INJECT_FAULT: 'grad@5' });
  t.is(failed.code, 1, failed.stderr);
  t.regex(failed.stderr, /run loss=ns_seed=1 failed: .*step 5/);
  t.regex(failed.stdout, /ns\s+1\s+unfinished/);
  // Without --resume the unfinished runs are refused, naming the flag.
  const refused = sweep([spec, '--out', out2, '--workers', '1']);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /unfinished runs of this sweep \(loss=ns_seed=1, loss=hinge_seed=1\); pass --resume/);
  // --resume continues both from their step-3 checkpoints and ends with the straight sweep's weights, bit for bit.
  const resumed = sweep([spec, '--out', out2, '--workers', '1', '--resume']);
  t.is(resumed.code, 0, resumed.stderr);
  for (const [i, n] of NAMES.entries()) {
    const lines = readFileSync(join(out2, n, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number });
    t.deepEqual(lines.map((l) => l.step), [1, 2, 3, 4, 5, 6], n);
    t.true(weights(join(out2, n)).equals(straight[i]), `${n}: resumed weights equal the straight run's`);
  }
});

test('Ctrl-C stops every running run of a sweep at a step boundary with a checkpoint; --resume finishes them', async (t) => {
  const { dir, spec } = specFile('base: { model: mlp, steps: 800, batch-size: 16, final-eval: off, sample-every: 100000, checkpoint-every: 100000 }\ngrid: { loss: [ns, hinge] }\n');
  const out = join(dir, 'out');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'sweep', spec, '--out', out, '--parallel', '2', '--workers', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let signalled = false;
  const code = await new Promise<number | null>((done) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // Both runs are stepping once the sweep's progress (a line every 5% of 1600 steps) passes 80 with 2 running.
      if (!signalled && /sweep [1-9]\d+\/1600 \| runs 0\/2 done \| running 2/.test(stderr)) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    child.on('exit', (c) => done(c));
  });
  t.true(signalled, stderr);
  t.is(code, 0, stderr);
  t.regex(stderr, /stopped; 2 run\(s\) unfinished \(checkpoints written\)/);
  for (const name of ['loss=ns_seed=1', 'loss=hinge_seed=1']) {
    const manifest = JSON.parse(readFileSync(join(out, name, 'checkpoint', 'manifest.json'), 'utf8')) as { step: number };
    const summary = JSON.parse(readFileSync(join(out, name, 'summary.json'), 'utf8')) as { steps: number; stoppedEarly: boolean };
    t.true(manifest.step > 0 && manifest.step < 800, `${name}: ${manifest.step}`);
    t.like(summary, { stoppedEarly: true, steps: manifest.step });
  }
  const resumed = sweep([spec, '--out', out, '--parallel', '2', '--workers', '1', '--resume']);
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stdout, /ns\s+1\s+finished\s+800/);
  t.regex(resumed.stdout, /hinge\s+1\s+finished\s+800/);
});
