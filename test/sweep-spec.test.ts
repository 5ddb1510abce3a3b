/**
 * `ganpool sweep` SPECs: the grid × variants × seeds become named runs, and
 * every bad key or value is a usage error naming the key (exit 2, nothing written).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSweepSpec } from '../src/cli/sweep-spec.js';
import { GanpoolUsageError } from '../src/errors.js';

test('the issue\'s YAML form: a 2 × 2 grid × 2 seeds gives 8 runs with stable, readable names and checked configs', (t) => {
  const spec = parseSweepSpec('base: { model: mlp, steps: 20, batch-size: 64 }\ngrid: { lr: [1e-4, 2e-4], loss: [ns, hinge] }\nseeds: [1, 2]\n', 'spec.yaml');
  t.deepEqual(spec.runs.map((r) => r.name), [
    'lr=0.0001_loss=ns_seed=1', 'lr=0.0001_loss=ns_seed=2', 'lr=0.0001_loss=hinge_seed=1', 'lr=0.0001_loss=hinge_seed=2',
    'lr=0.0002_loss=ns_seed=1', 'lr=0.0002_loss=ns_seed=2', 'lr=0.0002_loss=hinge_seed=1', 'lr=0.0002_loss=hinge_seed=2',
  ]);
  t.deepEqual(spec.runs.map((r) => r.index), [0, 1, 2, 3, 4, 5, 6, 7]);
  t.deepEqual(spec.runs[3].config, { model: 'mlp', steps: 20, batchSize: 64, lr: 1e-4, loss: 'hinge', seed: 2 });
  t.deepEqual(spec.runs[3].settings, { lr: 1e-4, loss: 'hinge', seed: 2 });
  t.is(spec.runs[3].group, 'lr=0.0001_loss=hinge');
  // The same text as JSON gives the same runs.
  const json = parseSweepSpec(JSON.stringify({ base: { model: 'mlp', steps: 20, 'batch-size': 64 }, grid: { lr: [1e-4, 2e-4], loss: ['ns', 'hinge'] }, seeds: [1, 2] }), 'spec.json');
  t.deepEqual(json.runs, spec.runs);
});

test('variants × grid, a seed count, switches and named variants', (t) => {
  const spec = parseSweepSpec([
    'base: { model: mlp, steps: 5 }',
    'variants:',
    '  - { name: small, batch-size: 32 }',
    '  - { batch-size: 128, conditional: true }',
    'grid: { lr: [1e-4] }',
    'seeds: 2',
    'sbatch: [--partition=cpu, --time=00:10:00]',
  ].join('\n'), 'spec.yaml');
  t.deepEqual(spec.runs.map((r) => r.name), [
    'small_lr=0.0001_seed=1', 'small_lr=0.0001_seed=2',
    'lr=0.0001_batch-size=128_conditional=true_seed=1', 'lr=0.0001_batch-size=128_conditional=true_seed=2',
  ]);
  t.like(spec.runs[2].config, { batchSize: 128, conditional: true, seed: 1, steps: 5 });
  t.like(spec.runs[0].config, { batchSize: 32 });
  t.deepEqual(spec.sbatch, ['--partition=cpu', '--time=00:10:00']);
});

const bad: [string, string, RegExp][] = [
  ['an unknown train key', 'base: { lrr: 1 }', /base\.lrr: unknown key/],
  ['an unknown top-level key', 'gird: { lr: [1] }', /gird: unknown key/],
  ['a bad grid value', 'grid: { loss: [ns, wasserstein] }', /grid\.loss: .*wasserstein/],
  ['a non-number', 'grid: { lr: [fast] }', /grid\.lr\[0\]: expected a number/],
  ['a negative learning rate', 'base: { lr: -1 }', /base\.lr: .*positive/],
  ['an empty grid', 'grid: {}', /grid: is empty/],
  ['an empty value list', 'grid: { lr: [] }', /grid\.lr: is an empty list/],
  ['a seed set outside seeds', 'base: { seed: 3 }', /base\.seed: .*seeds/],
  ['out set in the spec', 'base: { out: x }', /base\.out: cannot be set/],
  ['a bad seed count', 'seeds: 0', /seeds: expected a count/],
  ['a key in both grid and a variant', 'grid: { lr: [1e-4] }\nvariants: [ { lr: 2e-4 } ]', /variants\[0\]\.lr: is also a grid key/],
  ['a bad value in a variant', 'variants: [ { model: mlp }, { model: resnet } ]', /variants\[1\]\.model: .*resnet/],
];
for (const [what, text, message] of bad) {
  test(`a SPEC with ${what} is a usage error naming the key`, (t) => {
    const e = t.throws(() => parseSweepSpec(text, 'spec.yaml'), { instanceOf: GanpoolUsageError });
    t.regex(e.message, message);
  });
}

test('ganpool sweep with a bad SPEC exits 2, names the key and writes nothing', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ganpool-sweep-spec-'));
  const spec = join(dir, 'spec.yaml');
  writeFileSync(spec, 'base: { model: mlp, steps: 5 }\ngrid: { loss: [ns, hinge, wgan] }\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'sweep', spec, '--out', join(dir, 'out')], { encoding: 'utf8', timeout: 120_000 });
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /grid\.loss: .*"wgan"/);
  t.false(existsSync(join(dir, 'out')));
});

test('--executor slurm --dry-run prints the array script (one task per run, --cpus-per-task, logs, extra #SBATCH lines) and writes nothing', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ganpool-sweep-dry-'));
  const spec = join(dir, 'spec.yaml');
  writeFileSync(spec, 'base: { model: mlp, steps: 5 }\ngrid: { lr: [1e-4, 2e-4] }\nseeds: 2\nsbatch: [--time=00:30:00]\n');
  const out = join(dir, 'out');
  const r = spawnSync(process.execPath, [
    '--import', 'tsx', 'src/cli/main.ts', 'sweep', spec, '--out', out, '--executor', 'slurm', '--workers', '2', '--parallel', '3',
    '--sbatch=--partition=cpu', '--sbatch=--account=lab', '--dry-run',
  ], { encoding: 'utf8', timeout: 120_000 });
  t.is(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  t.is(lines[0], '#!/bin/bash');
  for (const line of ['#SBATCH --array=0-3%3', '#SBATCH --cpus-per-task=2', `#SBATCH --output=${join(out, 'logs', '%A_%a.log')}`,
    '#SBATCH --time=00:30:00', '#SBATCH --partition=cpu', '#SBATCH --account=lab']) t.true(lines.includes(line), line);
  t.regex(r.stdout, /sweep --task "\$SLURM_ARRAY_TASK_ID" --out '.*\/out'\n$/);
  t.false(existsSync(out), 'nothing written');
});
