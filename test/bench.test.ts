import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { scalingRows, sweepCases, type BenchRow } from '../src/bench/bench.js';
import { benchTable, SCALING_PLOT_SIZE, type BenchReport } from '../src/bench/report.js';
import { MODEL_NAMES } from '../src/models/presets.js';
import { parseBenchArgs } from '../src/cli/commands/bench.js';
import { resolveBenchOptions } from '../src/bench/run.js';
import { asFlagError } from '../src/cli/args.js';
import { GanpoolUsageError } from '../src/errors.js';
import { loadEmbeddedMnist } from '../src/data/mnist.js';

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const NUMERIC = ['msPerStep', 'samplesPerSec', 'outsideShare', 'outsideMs', 'speedup', 'efficiency', 'vsMainThread'] as const;

test('ganpool bench: a 1- and 2-worker sweep plus the main thread writes bench.json, bench.md and a PNG plot', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-bench-')), 'bench');
  const r = cli(['bench', '--model', 'seed', '--workers', '1,2', '--batch-size', '16', '--steps', '2', '--rounds', '1', '--warmup', '1', '--out', out]);
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as BenchReport;
  t.deepEqual(report.rows.map((row: BenchRow) => [row.model, row.batchSize, row.workers]), [['seed', 16, 0], ['seed', 16, 1], ['seed', 16, 2]]);
  for (const row of report.rows) {
    for (const key of NUMERIC) t.true(Number.isFinite(row[key]) && row[key] > 0, `${key} of ${row.workers} workers: ${row[key]}`);
    for (const key of ['adamMs', 'reloadMs', 'overheadMs'] as const) t.true(Number.isFinite(row[key]) && row[key] >= 0, key);
    t.true(row.outsideMs <= row.msPerStep, 'outside the workers is part of a step');
    t.true(Math.abs(row.samplesPerSec - (16 * 1000) / row.msPerStep) < 1e-6, 'samples/s = batch / step time');
    t.is(row.roundMsPerStep.length, 1);
    t.is(row.oversubscribed, row.workers > report.machine.cores);
  }
  const one = report.rows.find((row: BenchRow) => row.workers === 1)!;
  t.is(one.speedup, 1);
  t.is(one.efficiency, 1);
  const two = report.rows.find((row: BenchRow) => row.workers === 2)!;
  t.true(Math.abs(two.efficiency - two.speedup / 2) < 1e-12);
  const m = report.machine;
  t.true(typeof m.cpuModel === 'string' && m.cpuModel.length > 0);
  t.true(Number.isInteger(m.cores) && m.cores >= 1 && m.totalMemoryBytes > 0);
  t.is(m.node, process.version);
  t.is(m.versions.ganpool, (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
  for (const key of ['tfjsCore', 'tfjsBackendWasm', 'piscina', 'onnxruntimeNode'] as const) t.regex(m.versions[key], /^\d+\.\d+\.\d+/, key);
  t.like(report.options, { models: ['seed'], workers: [1, 2], batchSizes: [16], steps: 2, rounds: 1, warmup: 1, backend: 'onnx', out });
  t.true(!Number.isNaN(Date.parse(report.date)));
  t.regex(report.command, /^ganpool bench --model seed --workers 1,2 --batch-size 16 /);
  const meta = await sharp(join(out, 'scaling.png')).metadata();
  t.like(meta, { format: 'png', ...SCALING_PLOT_SIZE });
  const md = readFileSync(join(out, 'bench.md'), 'utf8');
  t.true(md.includes('| model |') && md.includes('scaling.png'));
  t.regex(r.stdout, /\| seed +\| +16 \| +main \|/);
  t.regex(r.stdout, /results: .*bench\.json/);
});

test('the table flags oversubscribed rows and the speedups are relative to 1 worker of the same group', (t) => {
  const row = (model: 'mlp' | 'seed', workers: number, ms: number): BenchRow => ({
    model, batchSize: 64, workers, msPerStep: ms, samplesPerSec: 64_000 / ms, p95MsPerStep: ms * 1.2, outsideShare: 0.1, outsideMs: ms / 10,
    adamMs: 1, reloadMs: 1, overheadMs: ms / 10 - 2, roundMsPerStep: [ms * 0.9, ms * 1.1],
  });
  const rows = scalingRows([row('mlp', 0, 90), row('mlp', 1, 100), row('mlp', 4, 40), row('seed', 0, 10), row('seed', 1, 10), row('seed', 4, 20)], 2);
  t.deepEqual(rows.map((r) => Number(r.speedup.toFixed(6))), [100 / 90, 1, 2.5, 1, 1, 0.5].map((x) => Number(x.toFixed(6))));
  t.deepEqual(rows.map((r) => r.oversubscribed), [false, false, true, false, false, true]);
  t.is(rows[2].efficiency, 2.5 / 4);
  t.is(rows[2].vsMainThread, 90 / 40);
  const table = benchTable(rows).split('\n');
  t.is(new Set(table.map((l) => l.length)).size, 1, 'every line as wide as the others');
  t.regex(table[4], /\| +4 \|.*2\.50×.*62\.5%.*±10\.0%.*oversubscribed/);
  t.regex(table[2], /main thread, no pool/);
});

test('sweepCases: 0 and 1 worker always measured, counts sorted and unique, grouped by model then batch', (t) => {
  t.deepEqual(sweepCases(['mlp', 'seed'], [4, 2, 2], [64, 256]).map((c) => `${c.model}/${c.batchSize}/${c.workers}`), [
    'mlp/64/0', 'mlp/64/1', 'mlp/64/2', 'mlp/64/4', 'mlp/256/0', 'mlp/256/1', 'mlp/256/2', 'mlp/256/4',
    'seed/64/0', 'seed/64/1', 'seed/64/2', 'seed/64/4', 'seed/256/0', 'seed/256/1', 'seed/256/2', 'seed/256/4',
  ]);
});

const bad: [string[], RegExp][] = [
  [['--model', 'resnet'], new RegExp(`--model.*"resnet".*${MODEL_NAMES.slice(0, 2).join(', ')}`)],
  [['--model', 'dcgan64'], /--model.*64/],
  [['--workers', '0,2'], /--workers.*"0,2".*whole numbers from 1/],
  [['--workers', '1.5'], /--workers.*"1.5".*whole numbers/],
  [['--workers', 'two'], /--workers.*"two".*numbers/],
  [['--batch-size', '2', '--workers', '1,4'], /--batch-size: 2.*largest --workers value \(4\)/],
  [['--steps', '0'], /--steps.*0.*whole number ≥ 1/],
  [['--warmup=-1'], /--warmup.*-1.*whole number ≥ 0/],
  [["--backend", "tensorflow"], /--backend.*"tensorflow".*onnx, wasm, cpu/],
  [['--pools', 'some'], /--pools.*"some".*all, group, round/],
  [['--frobnicate'], /Unknown option '--frobnicate'.*ganpool bench --help/],
];

test('bad bench flags are refused with a message naming the flag', (t) => {
  const data = loadEmbeddedMnist();
  for (const [args, message] of bad) {
    const e = t.throws(() => resolveBenchOptions(parseBenchArgs(args).options, data), { instanceOf: GanpoolUsageError }, args.join(' '));
    t.regex(asFlagError(e).message, message, args.join(' '));
  }
});

for (const args of [['--workers', '0,2'], ['--model', 'dcgan64'], ['--frobnicate']]) {
  test(`ganpool bench with bad flags exits 2 and writes nothing: ${args.join(' ')}`, (t) => {
    const out = join(mkdtempSync(join(tmpdir(), 'ganpool-bench-bad-')), 'bench');
    const r = cli(['bench', ...args, '--out', out]);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, new RegExp(`^ganpool: .*${args[0]}`));
    t.false(existsSync(out), 'nothing written');
  });
}
