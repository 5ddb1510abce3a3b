import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../src/app/train.js';
import { acquireRunLock, LOCK_FILE } from '../src/run/lock.js';
import { GanpoolUsageError } from '../src/errors.js';

const cliArgs = (args: string[]): string[] => ['--import', 'tsx', 'src/cli/main.ts', ...args];

test.serial('a second train or --resume into a folder a live run holds exits 2 naming its pid; the first run is unharmed', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-lock-')), 'run');
  const first = spawn(process.execPath, cliArgs(['train', '--final-eval', 'off', '--model', 'seed', '--workers', '2', '--batch-size', '16', '--steps', '100000',
    '--checkpoint-every', '1', '--out', out]), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => first.on('exit', (code) => resolve(code)));
  first.stdout.resume();
  await new Promise<void>((resolve) => {
    first.stderr.on('data', (d) => {
      stderr += d;
      if (/train \d+\//.test(stderr) && existsSync(join(out, 'checkpoint'))) resolve();
    });
  });
  const lock = JSON.parse(readFileSync(join(out, LOCK_FILE), 'utf8')) as { pid: unknown; host: string };
  t.is(lock.pid, first.pid);
  t.is(lock.host, hostname());
  for (const args of [['train', '--model', 'seed', '--steps', '5', '--out', out], ['train', '--resume', out, '--steps', '200000']]) {
    const second = spawnSync(process.execPath, cliArgs(args), { encoding: 'utf8', timeout: 120_000 });
    t.is(second.status, 2, `${args.join(' ')}: ${second.stderr}`);
    t.regex(second.stderr, new RegExp(`in use by another ganpool run \\(pid ${first.pid} on `));
  }
  first.kill('SIGINT');
  t.is(await exited, 0, stderr.slice(-2000));
  t.false(existsSync(join(out, LOCK_FILE)), 'the lock is released at the end');
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { stoppedEarly: boolean; steps: number };
  t.true(summary.stoppedEarly && summary.steps >= 1);
});

test.serial('a stale lock (its process is gone) is taken over with a one-line notice', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-stale-')), 'run');
  mkdirSync(out);
  const gone = spawnSync(process.execPath, ['-e', 'process.pid'], { encoding: 'utf8' }).pid;
  writeFileSync(join(out, LOCK_FILE), JSON.stringify({ pid: gone, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z' }));
  const notices: string[] = [];
  const result = await train({ finalEval: false, model: 'seed', workers: 1, batchSize: 8, steps: 2, out }, { onWarning: (m) => notices.push(m) });
  t.is(result.steps, 2);
  t.deepEqual(notices.filter((n) => /stale lock/.test(n)), [`taking over the stale lock of ${out} (pid ${gone}, no longer running)`]);
  t.false(existsSync(join(out, LOCK_FILE)));
});

test('in one process: a second lock on a held folder is refused; release frees it; a failed run leaves no folder behind', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-lock-api-')), 'run');
  const lock = acquireRunLock(out);
  const e = t.throws(() => acquireRunLock(out), { instanceOf: GanpoolUsageError });
  t.regex(e.message, new RegExp(`pid ${process.pid} `));
  t.is(e.field, 'out');
  lock.release();
  acquireRunLock(out).release();
  // A run that fails before writing anything (the model does not fit the data) leaves no folder.
  const fresh = join(mkdtempSync(join(tmpdir(), 'ganpool-lock-fail-')), 'run');
  await t.throwsAsync(() => train({ model: 'dcgan64', workers: 1, batchSize: 8, steps: 2, out: fresh }), { instanceOf: GanpoolUsageError });
  t.false(existsSync(fresh));
});
