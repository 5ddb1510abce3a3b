import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CHECKPOINT_DIR, loadCheckpoint, writeCheckpoint } from '../src/run/checkpoint.js';
import { resolveConfig } from '../src/config.js';
import { openFileAtomic, setFsyncSpy, writeFileAtomic, type FsyncKind } from '../src/util/atomic.js';
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

/** Records the fsyncs under `root` while `body` runs, with what `probe` saw on disk at each. */
async function recordFsyncs<T>(root: string, probe: (kind: FsyncKind, path: string) => T, body: () => Promise<void>): Promise<{ kind: FsyncKind; path: string; seen: T }[]> {
  const calls: { kind: FsyncKind; path: string; seen: T }[] = [];
  setFsyncSpy((kind, path) => { if (path.startsWith(root)) calls.push({ kind, path, seen: probe(kind, path) }); });
  try {
    await body();
  } finally {
    setFsyncSpy(null);
  }
  return calls;
}

test.serial('writeFileAtomic and openFileAtomic: the complete temp file is fsynced before the rename, the folder after it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ganpool-fsync-'));
  const target = join(dir, 'summary.json');
  writeFileSync(target, 'old');
  const data = randomBytes(3 << 20);
  const probe = (kind: FsyncKind, path: string): { size: number; target: string } =>
    ({ size: kind === 'file' ? statSync(path).size : -1, target: readFileSync(target).subarray(0, 3).toString('latin1') });
  for (const [name, write] of [
    ['writeFileAtomic', () => writeFileAtomic(target, data)],
    ['openFileAtomic', async () => {
      const f = await openFileAtomic(target);
      await f.write(data.subarray(0, 1000));
      await f.write(data.subarray(1000));
      await f.commit();
    }],
  ] as const) {
    writeFileSync(target, 'old');
    const calls = await recordFsyncs(dir, probe, write);
    t.deepEqual(calls.map((c) => c.kind), ['file', 'dir'], name);
    t.is(dirname(calls[0].path), dir, `${name}: the temp file is beside the target`);
    t.not(calls[0].path, target);
    t.is(calls[0].seen.size, data.length, `${name}: every byte is in the temp file when it is synced`);
    t.is(calls[0].seen.target, 'old', `${name}: before the rename`);
    t.is(calls[1].path, dir);
    t.is(calls[1].seen.target, data.subarray(0, 3).toString('latin1'), `${name}: the folder is synced after the rename`);
    t.true(readFileSync(target).equals(data), `${name}: the file is complete`);
    t.deepEqual(readdirSync(dir), ['summary.json'], `${name}: no temp file left`);
  }
});

test.serial('writeCheckpoint: every file and the staging folder are fsynced before the renames, the run folder after the new checkpoint is in', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'ganpool-fsync-ckpt-'));
  const config = resolveConfig({ model: 'seed', workers: 1, batchSize: 8, out }, 10_000, [28, 28, 1]);
  const state = (step: number) => {
    const v = (k: number): Float32Array => Float32Array.from({ length: 5 }, (_, i) => step + k + i);
    return { stepsDone: step, g: { params: v(1), m: v(2), v: v(3), t: step, bn: v(4) }, d: { params: v(5), m: v(6), v: v(7), t: step, bn: v(8) } };
  };
  await writeCheckpoint(out, config, state(1));
  const probe = (): number | null => {
    try {
      return (JSON.parse(readFileSync(join(out, CHECKPOINT_DIR, 'manifest.json'), 'utf8')) as { step: number }).step;
    } catch {
      return null;
    }
  };
  const calls = await recordFsyncs(out, probe, () => writeCheckpoint(out, config, state(2)));
  const files = calls.filter((c) => c.kind === 'file');
  t.is(files.length, 10, 'eight vectors, the EMA and the manifest');
  t.true(files.every((c) => /\.checkpoint\.tmp-/.test(c.path) && c.seen === 1), 'written into the staging folder while checkpoint/ is the old one');
  t.is(files.at(-1)!.path.endsWith('manifest.json'), true, 'the manifest last');
  const dirs = calls.filter((c) => c.kind === 'dir');
  t.deepEqual(dirs.map((c) => c.path === out ? 'out' : /\.checkpoint\.tmp-/.test(c.path) ? 'staging' : c.path), ['staging', 'out']);
  t.is(calls.indexOf(dirs[0]), files.length, 'the staging folder after all its files');
  t.is(dirs[1].seen, 2, 'the run folder is synced once checkpoint/ is the new one');
  t.is(loadCheckpoint(out).state.stepsDone, 2);
});
