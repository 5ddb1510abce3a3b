/**
 * Nothing of the user's is touched: `train --out` refuses a folder that is not
 * a ganpool run, `--resume` accepts only ganpool runs, and every removal
 * (checkpoint swap and staging folders, generator swap, `sample --out`
 * re-exports) reaches only names ganpool writes, through no link. Each case
 * snapshots the folder and a folder outside it, byte for byte, and compares.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../src/app/train.js';
import { resolveConfig } from '../src/config.js';
import { RunFiles } from '../src/run/files.js';
import { CHECKPOINT_ASIDE, CHECKPOINT_DIR, loadCheckpoint, writeCheckpoint } from '../src/run/checkpoint.js';
import { prepareExportFolder, MANIFEST_KIND, MANIFEST_NAME } from '../src/generator/sample-export.js';
import { GanpoolDataError, GanpoolUsageError } from '../src/errors.js';
import type { TrainingState } from '../src/training/coordinator.js';

const tmp = mkdtempSync(join(tmpdir(), 'ganpool-owned-'));

/** Every path under `dir` (links not followed) with its bytes, or `->target` for a link, `/` for a folder. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name, p = join(dir, r), st = lstatSync(p);
      if (st.isSymbolicLink()) out[r] = `->${readlinkSync(p)}`;
      else if (st.isDirectory()) { out[r] = '/'; walk(r); } else out[r] = readFileSync(p).toString('base64');
    }
  };
  walk('');
  return out;
}

/** A folder laid out from `files` (name → text; a name ending in / is a folder). */
function folder(name: string, files: Record<string, string>): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) {
    if (f.endsWith('/')) mkdirSync(join(dir, f), { recursive: true });
    else { mkdirSync(join(dir, f, '..'), { recursive: true }); writeFileSync(join(dir, f), text); }
  }
  return dir;
}

/** The user's own ML project: a checkpoint/ and a generator/ that ganpool did not write. */
const USER_PROJECT = {
  'checkpoint/model.pt': 'torch weights', 'checkpoint/manifest.json': '{"epoch": 12}', 'generator/model.json': '{"mine": true}',
  'generator/weights.bin': 'bytes', 'notes.txt': 'keep me', 'metrics.csv': 'step,loss\n1,0.5\n',
};

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 120_000 }, (_e, stdout, stderr) => {
      done({ code: child.exitCode, stdout, stderr });
    });
  });
}

test('CLI: train --out on a folder of the user\'s own checkpoint/ and generator/ exits 2 naming --out, every byte left as it was', async (t) => {
  const dir = folder('user-project', USER_PROJECT);
  const before = snapshot(dir);
  const r = await cli(['train', '--model', 'seed', '--steps', '2', '--out', dir]);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /invalid --out: .*is not empty \(4 entries\) and is not a ganpool run/);
  t.deepEqual(snapshot(dir), before);
  // --resume on it: not a ganpool run (its checkpoint/manifest.json is someone else's), exit 2 naming --resume.
  const resumed = await cli(['train', '--resume', dir, '--steps', '4']);
  t.is(resumed.code, 2, resumed.stderr);
  t.regex(resumed.stderr, /invalid --resume: .*is not a ganpool run/);
  t.deepEqual(snapshot(dir), before);
});

const fakeConfig = resolveConfig({ model: 'seed', workers: 1, batchSize: 8, seed: 7, out: 'x' }, 10_000, [28, 28, 1]);
function fakeState(tag: number, n = 6): TrainingState {
  const vec = (k: number): Float32Array => Float32Array.from({ length: n }, (_, i) => tag * 100 + k * 10 + i);
  return { stepsDone: tag, g: { params: vec(1), m: vec(2), v: vec(3), t: tag, bn: vec(4) }, d: { params: vec(5), m: vec(6), v: vec(7), t: tag, bn: vec(8) } };
}

test('API: train into foreign folders refuses with a usage error naming out; nothing changes', async (t) => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['only-files', { 'a.txt': 'x', 'sub/b.bin': 'y' }, /is not empty \(2 entries\) and is not a ganpool run/],
    ['foreign-config', { 'config.json': '{"name": "my experiment", "lr": 0.1}' }, /is not a ganpool run/],
    ['lone-manifest', { 'checkpoint/manifest.json': '{"format": "mine"}' }, /is not a ganpool run/],
    ['stale-lock-and-file', { '.lock': '{"pid": 1, "host": "elsewhere"}', 'data.csv': '1,2' }, /in use by another ganpool run|is not a ganpool run/],
  ];
  for (const [name, files, message] of cases) {
    const dir = folder(`api-${name}`, files);
    const before = snapshot(dir);
    const e = await t.throwsAsync(train({ model: 'seed', workers: 1, batchSize: 8, steps: 2, out: dir }), { instanceOf: GanpoolUsageError }, name);
    t.regex(e.message, message, name);
    t.is(e.field, 'out', name);
    t.deepEqual(snapshot(dir), before, name);
  }
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'data');
  await t.throwsAsync(train({ model: 'seed', steps: 2, out: file }), { instanceOf: GanpoolUsageError, message: /invalid out: .*is a file, not a folder/ });
  t.is(readFileSync(file, 'utf8'), 'data');
});

test('API: a ganpool run that has trained (a checkpoint, no metrics) is refused for a fresh run; one that stopped before its first step is reused', async (t) => {
  const trained = join(tmp, 'trained');
  await writeCheckpoint(trained, fakeConfig, fakeState(3));
  const before = snapshot(trained);
  await t.throwsAsync(train({ model: 'seed', workers: 1, batchSize: 8, steps: 2, out: trained }), { instanceOf: GanpoolUsageError, message: /already holds a ganpool run \(checkpoint exists\)/ });
  t.deepEqual(snapshot(trained), before);
  // config.json and samples/ only (the run failed before its first step): a fresh run may use it.
  const started = folder('started', { 'config.json': JSON.stringify(fakeConfig), 'samples/': '' });
  const result = await train({ finalEval: false, model: 'seed', workers: 1, batchSize: 8, steps: 2, out: started });
  t.is(result.steps, 2);
});

test('API: --resume of a folder with a ganpool checkpoint but a generator/ of other files, or a linked generator.onnx, is a data error naming it; nothing changes', async (t) => {
  const dir = join(tmp, 'resume-foreign-generator');
  await writeCheckpoint(dir, fakeConfig, fakeState(2));
  folder('resume-foreign-generator', { 'generator/model.json': '{}', 'generator/weights.bin': '', 'generator/README.md': 'mine' });
  const before = snapshot(dir);
  const e = await t.throwsAsync(train({ resume: dir, steps: 4 }), { instanceOf: GanpoolDataError });
  t.is(e.file, join(dir, 'generator'));
  t.deepEqual(snapshot(dir), before);
  // generator.onnx as a link to a file outside: refused too, the link and its target kept.
  const linked = join(tmp, 'resume-linked-onnx');
  await writeCheckpoint(linked, fakeConfig, fakeState(2));
  const target = folder('outside-onnx', { 'model.onnx': 'not ganpool\'s' });
  symlinkSync(join(target, 'model.onnx'), join(linked, 'generator.onnx'));
  const linkedBefore = snapshot(linked);
  const e2 = await t.throwsAsync(train({ resume: linked, steps: 4 }), { instanceOf: GanpoolDataError });
  t.is(e2.file, join(linked, 'generator.onnx'));
  t.deepEqual(snapshot(linked), linkedBefore);
  t.is(readFileSync(join(target, 'model.onnx'), 'utf8'), 'not ganpool\'s');
});

test('checkpoint writes: a link named like a staging folder, checkpoint.old or checkpoint/ never lets a removal reach outside; the links stay', async (t) => {
  const outside = folder('outside-ckpt', { 'g-params.f32': 'precious', 'manifest.json': '{"format": "ganpool-checkpoint"}', 'keep.txt': 'keep' });
  const outsideBefore = snapshot(outside);

  // A link named like a stale staging folder: left alone (with what it points to) by the next checkpoint write.
  const a = join(tmp, 'link-staging');
  await writeCheckpoint(a, fakeConfig, fakeState(1));
  symlinkSync(outside, join(a, '.checkpoint.tmp-123-456'));
  await writeCheckpoint(a, fakeConfig, fakeState(2));
  t.is(loadCheckpoint(a).state.stepsDone, 2);
  t.true(lstatSync(join(a, '.checkpoint.tmp-123-456')).isSymbolicLink(), 'the link is not ganpool\'s: it stays');
  t.deepEqual(snapshot(outside), outsideBefore);

  // checkpoint.old or checkpoint/ as a link: the write is refused naming it, nothing moved or removed.
  for (const name of [CHECKPOINT_ASIDE, CHECKPOINT_DIR]) {
    const dir = join(tmp, `link-${name}`);
    if (name === CHECKPOINT_ASIDE) await writeCheckpoint(dir, fakeConfig, fakeState(1));
    else mkdirSync(dir);
    symlinkSync(outside, join(dir, name));
    const before = snapshot(dir);
    const e = await t.throwsAsync(writeCheckpoint(dir, fakeConfig, fakeState(3)), { instanceOf: GanpoolDataError }, name);
    t.is(e.file, join(dir, name));
    t.regex(e.message, /is not what ganpool writes there/);
    t.deepEqual(snapshot(dir), before, name);
    t.deepEqual(snapshot(outside), outsideBefore, name);
  }

  // A real staging-named folder holding a file of someone else's is left too.
  const b = join(tmp, 'foreign-staging');
  folder('foreign-staging', { '.checkpoint.tmp-1-2/thesis.tex': 'chapter 1' });
  await writeCheckpoint(b, fakeConfig, fakeState(4));
  t.is(readFileSync(join(b, '.checkpoint.tmp-1-2', 'thesis.tex'), 'utf8'), 'chapter 1');
});

test('sample --out re-export: a class folder that is a link, or a manifest listing a name no export writes, removes nothing outside or foreign', async (t) => {
  const outside = folder('outside-export', { '0.png': 'precious png', '1.png': 'another' });
  const outsideBefore = snapshot(outside);
  const manifest = (files: string[], classFolders?: string[]): string => JSON.stringify({ kind: MANIFEST_KIND, files, ...(classFolders ? { classFolders } : {}) });

  const linked = folder('export-linked', { '1/0.png': 'ours', [MANIFEST_NAME]: manifest(['0/0.png', '0/1.png', '1/0.png'], ['0', '1']) });
  symlinkSync(outside, join(linked, '0'));
  await prepareExportFolder(linked);
  t.deepEqual(snapshot(outside), outsideBefore, 'nothing outside removed through the link');
  t.true(lstatSync(join(linked, '0')).isSymbolicLink());
  t.deepEqual(readdirSync(linked).sort(), ['0'], 'the export\'s own files and empty class folder are gone');

  for (const entry of ['notes.txt', '../outside-export/0.png', 'sub/../0.png', '/etc/passwd']) {
    const dir = folder(`export-forged-${readdirSync(tmp).length}`, { 'notes.txt': 'keep me', [MANIFEST_NAME]: manifest([entry]) });
    const before = snapshot(dir);
    await t.throwsAsync(prepareExportFolder(dir), { instanceOf: GanpoolDataError, message: /not a file an export writes/ }, entry);
    t.deepEqual(snapshot(dir), before, entry);
  }
  t.deepEqual(snapshot(outside), outsideBefore);
});

test('a sweep restart (a run that failed before its first checkpoint) clears only what the run wrote; a folder that is no run is refused untouched', (t) => {
  const run = join(tmp, 'restart-run');
  mkdirSync(join(run, 'samples'), { recursive: true });
  writeFileSync(join(run, 'config.json'), JSON.stringify({ ...resolveConfig({ out: run, model: 'mlp', workers: 1, finalEval: false }), out: run }));
  writeFileSync(join(run, 'metrics.jsonl'), '{"step":1}\n');
  writeFileSync(join(run, 'samples', 'step-000001.png'), 'png');
  writeFileSync(join(run, 'samples', 'latest.png'), 'png');
  writeFileSync(join(run, 'notes.txt'), 'the user\'s own');
  RunFiles.clearUnstarted(run);
  t.deepEqual(readdirSync(run).sort(), ['config.json', 'notes.txt']);
  t.is(readFileSync(join(run, 'notes.txt'), 'utf8'), 'the user\'s own');

  const foreign = join(tmp, 'restart-foreign');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'metrics.jsonl'), 'mine\n');
  const before = snapshot(foreign);
  t.throws(() => RunFiles.clearUnstarted(foreign), { instanceOf: GanpoolUsageError, message: /not a ganpool run/ });
  t.deepEqual(snapshot(foreign), before);
});
