/**
 * `npx tsx scripts/digit-coverage.ts`: the digit-coverage experiment
 * (docs/experiments/digit-coverage.md). Each candidate is `npm start`'s run
 * (`ganpool train`, 1200 `dcgan` steps at seed 1) with a few flags changed.
 * It trains on one worker (results do not depend on the worker count), keeps
 * the final evaluation's FCD (n 2000, as `npm start` prints it), then scores
 * the exported generator with `ganpool eval --n 10000 --json` for the share of
 * each digit by the shipped MNIST classifier.
 *
 * One training at a time. A candidate whose run folder already holds
 * summary.json and eval-10000.json is read, not retrained, so the sweep can be
 * stopped and continued. Seconds per step are the median of steps 11 to the
 * end; compare them only as ratios against `old-default` from the same sitting.
 *
 * Flags: --root DIR (/tmp/digits), --only a,b (candidate names), --seed K (1),
 * --n N (10000), --workers W (1), --json FILE (write the rows there).
 * The second-seed check: --seed 2 --root /tmp/digits-seed2 --only old-default,lrG8e-4,lrG1.2e-3.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

/** One candidate: a name (its run folder) and its `ganpool train` flags on top of the defaults. */
interface Candidate {
  name: string;
  flags: string[];
}

// Every rate is given explicitly, so a candidate does not move when a default does. `old-default`
// is npm start before this experiment (2e-4 for both nets); `lrG8e-4` is npm start after it.
const CANDIDATES: Candidate[] = [
  { name: 'old-default', flags: ['--lr', '2e-4'] },
  { name: 'lr4e-4', flags: ['--lr', '4e-4'] },
  { name: 'lrD4e-4', flags: ['--lr-g', '2e-4', '--lr-d', '4e-4'] },
  { name: 'lrG4e-4', flags: ['--lr-g', '4e-4', '--lr-d', '2e-4'] },
  { name: 'hinge-lr4e-4', flags: ['--loss', 'hinge', '--lr', '4e-4'] },
  { name: 'lrG4e-4-lrD1e-4', flags: ['--lr-g', '4e-4', '--lr-d', '1e-4'] },
  { name: 'lrG8e-4', flags: ['--lr-g', '8e-4', '--lr-d', '2e-4'] },
  { name: 'lrG1.2e-3', flags: ['--lr-g', '1.2e-3', '--lr-d', '2e-4'] },
];

const { values } = parseArgs({
  options: {
    root: { type: 'string', default: '/tmp/digits' }, only: { type: 'string' }, n: { type: 'string', default: '10000' },
    workers: { type: 'string', default: '1' }, json: { type: 'string' }, seed: { type: 'string', default: '1' },
  },
});
const root = values.root, n = Number(values.n);
const chosen = values.only ? CANDIDATES.filter((c) => values.only!.split(',').includes(c.name)) : CANDIDATES;
if (!(n >= 2) || chosen.length === 0) {
  console.error('usage: tsx scripts/digit-coverage.ts [--root DIR] [--only name,…] [--n N] [--workers W] [--json FILE]');
  process.exit(2);
}

function ganpool(args: string[]): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`ganpool ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

interface MetricsLine { step?: number; ms?: number }

interface Row {
  name: string;
  command: string;
  /** Final evaluation (n 2000), as `npm start` prints it. */
  fcd2000: number;
  score2000: number;
  /** `ganpool eval --n N`. */
  fcd: number;
  score: number;
  /** Share of each digit 0–9 among the N images, by the shipped classifier. */
  shares: number[];
  minDigit: number;
  minShare: number;
  msPerStep: number;
  trainSeconds: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function runOne(c: Candidate): Row {
  const out = join(root, c.name);
  const trainArgs = ['train', ...c.flags, ...(values.seed === '1' ? [] : ['--seed', values.seed]), '--workers', values.workers, '--out', out];
  if (!existsSync(join(out, 'summary.json'))) {
    const t0 = performance.now();
    ganpool(trainArgs);
    writeFileSync(join(out, 'wall-seconds.txt'), `${((performance.now() - t0) / 1000).toFixed(1)}\n`);
  }
  const evalFile = join(out, `eval-${n}.json`);
  if (!existsSync(evalFile)) writeFileSync(evalFile, ganpool(['eval', '--generator', join(out, 'generator.onnx'), '--n', String(n), '--json', '--workers', values.workers]));
  const report = JSON.parse(readFileSync(evalFile, 'utf8')) as { generated: { fcd: number; classifierScore: number; histogram: number[] } };
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as MetricsLine);
  const steps = lines.filter((s) => s.step !== undefined && s.ms !== undefined && s.step > 10);
  const final = (JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { eval: { fcd: number; classifierScore: number } }).eval;
  const hist = report.generated.histogram;
  const total = hist.reduce((a, b) => a + b, 0);
  const shares = hist.map((h) => h / total);
  const minShare = Math.min(...shares);
  const wall = existsSync(join(out, 'wall-seconds.txt')) ? Number(readFileSync(join(out, 'wall-seconds.txt'), 'utf8')) : Number.NaN;
  return {
    name: c.name, command: `ganpool ${trainArgs.join(' ')}`,
    fcd2000: final.fcd, score2000: final.classifierScore, fcd: report.generated.fcd, score: report.generated.classifierScore,
    shares, minDigit: shares.indexOf(minShare), minShare, msPerStep: median(steps.map((s) => s.ms!)), trainSeconds: wall,
  };
}

const rows: Row[] = [];
for (const c of chosen) {
  const row = runOne(c);
  rows.push(row);
  console.error(`${c.name}: FCD ${row.fcd2000.toFixed(2)} (n 2000), min digit ${row.minDigit} at ${(row.minShare * 100).toFixed(1)}%, ${row.msPerStep.toFixed(0)} ms/step`);
}
const base = rows.find((r) => r.name === 'old-default');
const pct = (x: number): string => (x * 100).toFixed(1);
console.log('| candidate | flags | FCD (n 2,000) | FCD (n 10,000) | score | min digit | ' + [...Array(10).keys()].map((k) => `${k} %`).join(' | ') + ' | s/step vs old default |');
console.log('|---|---|---:|---:|---:|---|' + '---:|'.repeat(10) + '---:|');
for (const r of rows) {
  const flags = CANDIDATES.find((c) => c.name === r.name)!.flags.join(' ') || '(none)';
  const ratio = base ? (r.msPerStep / base.msPerStep).toFixed(2) : 'n/a';
  console.log(`| ${r.name} | \`${flags}\` | ${r.fcd2000.toFixed(2)} | ${r.fcd.toFixed(2)} | ${r.score2000.toFixed(2)} | ${r.minDigit}: ${pct(r.minShare)}% | ${r.shares.map(pct).join(' | ')} | ${ratio} |`);
}
if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 2) + '\n');
