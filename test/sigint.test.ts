import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('Ctrl-C (SIGINT) stops after the current step, writes samples and summary, exits 0', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-sigint-')), 'run');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', '--final-eval', 'off', '--steps', '100000', '--batch-size', '16',
    '--workers', '2', '--model', 'seed', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '', stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/train 1\//.test(stderr)) resolve();
    });
  });
  child.kill('SIGINT');
  const code = await exited;
  t.is(code, 0, stderr);
  t.regex(stderr, /stopping after the current step/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { stoppedEarly: boolean; steps: number };
  t.true(summary.stoppedEarly);
  t.true(summary.steps >= 1 && summary.steps < 100000);
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
  t.is(lines.length, summary.steps, 'one metrics line per completed step');
  t.true(existsSync(join(out, 'samples', 'latest.png')));
  t.regex(stdout, new RegExp(`stopped after ${summary.steps} steps`));
});
