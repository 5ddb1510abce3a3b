import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../src/app/train.js';
import { acquireRunLock, LOCK_FILE, takeRunLock, UNREADABLE_LIVE_MS, type LockEnv, type TakeoverStep } from '../src/run/lock.js';
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

/** A stale lock file in a new folder: a dead pid of this host. */
function staleLockFolder(name: string): { out: string; stale: string } {
  const out = join(mkdtempSync(join(tmpdir(), `ganpool-${name}-`)), 'run');
  mkdirSync(out);
  const stale = JSON.stringify({ pid: 999_999_999, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z' });
  writeFileSync(join(out, LOCK_FILE), stale);
  return { out, stale };
}

test('takeover is exact: at every point of one run\'s takeover a second (and inside it a third) runs whole; exactly one holds the lock', (t) => {
  const steps: TakeoverStep[] = ['judged-stale', 'claimed', 'renamed-aside', 'removed'];
  const live = new Set([1001, 1002, 1003]);
  const env = (pid: number, step?: (s: TakeoverStep) => void): LockEnv => ({ pid, host: hostname(), alive: (p) => live.has(p), step });
  let schedules = 0;
  for (const k of [...steps, null]) {
    for (const j of [...steps, null]) {
      const { out } = staleLockFolder('takeover');
      const won: number[] = [];
      const attempt = (pid: number, step?: (s: TakeoverStep) => void): void => {
        try {
          takeRunLock(out, env(pid, step));
          won.push(pid);
        } catch (e) {
          if (!(e instanceof GanpoolUsageError)) throw e;
        }
      };
      // Run 1001 pauses at step k; there run 1002 takes over whole, except that it pauses at step j, where run 1003 runs whole.
      const third = (s: TakeoverStep): void => { if (s === j) attempt(1003); };
      const second = (s: TakeoverStep): void => { if (s === k) attempt(1002, third); };
      attempt(1001, second);
      t.is(won.length, 1, `pause at ${k}, then ${j}: winners ${won.join(', ')}`);
      const holder = JSON.parse(readFileSync(join(out, LOCK_FILE), 'utf8')) as { pid: number };
      t.deepEqual([holder.pid], won, 'the lock file names the one winner');
      t.deepEqual(readdirSync(out).filter((n) => n !== LOCK_FILE), [], `no claim or aside file left (${k}, ${j})`);
      schedules++;
    }
  }
  t.is(schedules, 25);
});

test('takeover race in child processes: 8 processes released at once on one stale lock, 3 rounds, exactly one wins each round', async (t) => {
  const script = `
    import { existsSync, writeFileSync } from 'node:fs';
    import { acquireRunLock } from ${JSON.stringify(join(process.cwd(), 'src/run/lock.ts'))};
    const [out, go, done] = process.argv.slice(1);
    process.stdout.write('ready\\n');
    while (!existsSync(go)) { /* released together */ }
    let result;
    try { acquireRunLock(out); result = 'won'; } catch (e) { result = 'lost: ' + e.message; }
    process.stdout.write(result + '\\n');
    while (!existsSync(done)) await new Promise((r) => setTimeout(r, 5));
  `;
  for (let round = 0; round < 3; round++) {
    const { out } = staleLockFolder('race');
    const go = `${out}.go`, done = `${out}.done`;
    const children = Array.from({ length: 8 }, () => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, out, go, done], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      const lines = (n: number): Promise<string[]> => new Promise((resolve) => {
        const check = (): void => { const l = text.split('\n').filter(Boolean); if (l.length >= n) resolve(l); };
        child.stdout.on('data', (d) => { text += d; check(); });
        check();
      });
      return { child, lines, exited: new Promise<void>((resolve) => child.on('exit', () => resolve())) };
    });
    await Promise.all(children.map((c) => c.lines(1)));
    writeFileSync(go, '');
    const results = (await Promise.all(children.map((c) => c.lines(2)))).map((l) => l[1]);
    writeFileSync(done, '');
    await Promise.all(children.map((c) => c.exited));
    const winners = results.filter((r) => r === 'won');
    t.is(winners.length, 1, `round ${round}: ${results.join(' | ')}`);
    for (const r of results.filter((x) => x !== 'won')) t.regex(r, /in use by another ganpool run|being locked by another ganpool run/);
  }
});

test('a lock file that exists but is empty counts as live for a few seconds, then is taken over as unreadable', (t) => {
  const { out } = staleLockFolder('empty');
  writeFileSync(join(out, LOCK_FILE), '');
  const e = t.throws(() => acquireRunLock(out), { instanceOf: GanpoolUsageError });
  t.regex(e.message, /being locked by another ganpool run right now/);
  t.is(readFileSync(join(out, LOCK_FILE), 'utf8'), '', 'left as it was');
  const old = new Date(Date.now() - UNREADABLE_LIVE_MS - 1000);
  utimesSync(join(out, LOCK_FILE), old, old);
  const notices: string[] = [];
  const lock = acquireRunLock(out, (m) => notices.push(m));
  t.deepEqual(notices, [`taking over the stale lock of ${out} (unreadable)`]);
  t.is((JSON.parse(readFileSync(join(out, LOCK_FILE), 'utf8')) as { pid: number }).pid, process.pid);
  lock.release();
  t.deepEqual(readdirSync(out), []);
});
