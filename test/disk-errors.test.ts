import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint } from '../src/run/checkpoint.js';
import { writeFileAtomic } from '../src/util/atomic.js';
import { GanpoolDataError } from '../src/errors.js';

// Root ignores read-only permissions (CI runs as root), so the failing write is made another way:
// a file takes the place of the samples folder mid-run, and the next grid cannot be written: ENOTDIR, or
// ENOENT when the grid's temp file was written into the folder just before it was removed (a race the test cannot rule out).
test('a write that fails mid-run stops the run with exit 1 naming the file, and the previous checkpoint loads', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-disk-')), 'run');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', '--final-eval', 'off', '--model', 'seed', '--workers', '2', '--batch-size', '16',
    '--steps', '100000', '--checkpoint-every', '20', '--sample-every', '50', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const samples = join(out, 'samples');
  while (!(existsSync(join(out, 'checkpoint')) && existsSync(samples) && readdirSync(samples).some((f) => f.startsWith('step-')))) {
    await new Promise((r) => setTimeout(r, 20));
  }
  rmSync(samples, { recursive: true, force: true });
  writeFileSync(samples, 'not a folder');
  const code = await exited;
  t.is(code, 1, stderr.slice(-1500));
  t.regex(stderr, new RegExp(`${samples.replace(/[/.]/g, '\\$&')}/(step-\\d{6}|latest)\\.png: could not write \\((a part of the path is not a folder, ENOTDIR|its folder does not exist, or was removed while writing, ENOENT)\\)`));
  t.false(/\n\s+at /.test(stderr), 'a message, not a stack trace');
  const ck = loadCheckpoint(out);
  t.true(ck.state.stepsDone >= 20 && ck.state.stepsDone % 20 === 0, `checkpoint at step ${ck.state.stepsDone}`);
});

test('writeFileAtomic: a file-system failure is a GanpoolDataError naming the file and leaves no temp file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ganpool-atomic-'));
  writeFileSync(join(dir, 'blocker'), '');
  const target = join(dir, 'blocker', 'x.json');
  const e = await t.throwsAsync(() => writeFileAtomic(target, '{}'), { instanceOf: GanpoolDataError });
  t.is(e.file, target);
  t.regex(e.message, /could not write \(a part of the path is not a folder, ENOTDIR\)/);
  t.deepEqual(readdirSync(dir), ['blocker']);
});

test('writeFileAtomic: a missing folder is named as one (ENOENT), and nothing is created', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ganpool-atomic-'));
  const target = join(dir, 'missing', 'x.json');
  const e = await t.throwsAsync(() => writeFileAtomic(target, '{}'), { instanceOf: GanpoolDataError });
  t.is(e.file, target);
  t.regex(e.message, /could not write \(its folder does not exist, or was removed while writing, ENOENT\)/);
  t.deepEqual(readdirSync(dir), []);
});
