/**
 * `npx tsx scripts/recipes.ts`: the README's recipe table. Each recipe trains
 * for the same wall time (default 5 minutes on this machine) and is scored
 * like `ganpool eval` (FCD, classifier score, classes covered; n = 10,000).
 *
 * Equal wall time, reproducibly: first every recipe's time per step is
 * measured in one sitting (a 40-step run; the mean of steps 11–40), and the
 * step budget is minutes × 60 s / that time. Then each recipe trains that
 * many steps with `ganpool train` (a pure function of the seed and the step
 * count, so the result does not depend on what else the machine did while it
 * trained) and its final evaluation scores it. Results go to
 * docs/recipes.json, grids to docs/recipes/<name>.png, and a markdown table
 * to stdout.
 *
 * Flags: --minutes M (5), --only a,b (recipe names), --n N (10000),
 * --workers W (2), --time-only (measure the step budgets, write them to
 * --budgets FILE, train nothing), --budgets FILE (train with the budgets a
 * --time-only run measured, e.g. while the machine is busy).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

/** One recipe: its name, what it is, and its `ganpool train` flags. */
interface Recipe {
  name: string;
  label: string;
  flags: string[];
}

const RECIPES: Recipe[] = [
  { name: 'dcgan', label: 'plain `dcgan` (no EMA, ns loss)', flags: ['--model', 'dcgan', '--ema', '0'] },
  { name: 'dcgan-ema', label: '`dcgan` + EMA 0.999', flags: ['--model', 'dcgan', '--ema', '0.999'] },
  { name: 'dcgan-ema-hinge', label: '`dcgan` + EMA + hinge loss', flags: ['--model', 'dcgan', '--ema', '0.999', '--loss', 'hinge'] },
  { name: 'cdcgan-ema', label: 'conditional `dcgan` + EMA', flags: ['--model', 'dcgan', '--ema', '0.999', '--conditional'] },
  { name: 'fashion-cdcgan-ema', label: 'Fashion-MNIST: conditional `dcgan` + EMA', flags: ['--dataset', 'fashion-mnist', '--model', 'dcgan', '--ema', '0.999', '--conditional'] },
];

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' }, only: { type: 'string' }, n: { type: 'string', default: '10000' },
    'time-only': { type: 'boolean', default: false }, workers: { type: 'string', default: '2' }, budgets: { type: 'string' },
  },
});
const minutes = Number(values.minutes), n = Number(values.n), workers = values.workers;
const chosen = values.only ? RECIPES.filter((r) => values.only!.split(',').includes(r.name)) : RECIPES;
if (!(minutes > 0) || !(n >= 2) || chosen.length === 0) {
  console.error('usage: tsx scripts/recipes.ts [--minutes M] [--only name,…] [--n N] [--time-only] [--workers W]');
  process.exit(2);
}
// lr 2e-4 for both nets, as when docs/recipes.json was made: the unconditional default for G is
// now 1.2e-3 (docs/experiments/digit-coverage.md), so it is pinned to keep the table reproducible.
const common = ['--workers', workers, '--batch-size', '32', '--seed', '1', '--lr', '2e-4'];

function ganpool(args: string[]): void {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`ganpool ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
}

/** Mean milliseconds per step of steps 11–40 of a 40-step run (start-up and warm-up excluded). */
function msPerStep(recipe: Recipe): number {
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-recipe-time-')), 'run');
  ganpool(['train', ...recipe.flags, ...common, '--steps', '40', '--final-eval', 'off', '--sample-every', '1000', '--out', out]);
  const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step?: number; ms?: number })
    .filter((s) => s.step !== undefined && s.step > 10 && s.ms !== undefined);
  return steps.reduce((a, s) => a + s.ms!, 0) / steps.length;
}

interface Row {
  name: string;
  minutes: number;
  label: string;
  command: string;
  msPerStep: number;
  steps: number;
  trainSeconds: number;
  fcd: number;
  classifierScore: number;
  classesCovered: number;
  /** Conditional recipes: share of each class's images classified as that class. */
  classAgreement?: { perClass: number[]; mean: number };
  grid: string;
  floor: { fcd: number; classifierScore: number } | null;
}

type Budget = { recipe: Recipe; ms: number; steps: number };
let budgets: Budget[];
if (values.budgets && !values['time-only']) {
  const saved = JSON.parse(readFileSync(values.budgets, 'utf8')) as { name: string; ms: number }[];
  budgets = chosen.map((recipe) => {
    const ms = saved.find((b) => b.name === recipe.name)?.ms;
    if (ms === undefined) throw new Error(`${values.budgets} has no budget for ${recipe.name}`);
    return { recipe, ms, steps: Math.floor((minutes * 60_000) / ms) };
  });
} else {
  budgets = chosen.map((recipe) => {
    const ms = msPerStep(recipe);
    return { recipe, ms, steps: Math.floor((minutes * 60_000) / ms) };
  });
}
for (const b of budgets) console.error(`${b.recipe.name}: ${b.ms.toFixed(1)} ms/step → ${b.steps} steps in ${minutes} min`);
if (values['time-only']) {
  if (values.budgets) writeFileSync(values.budgets, JSON.stringify(budgets.map((b) => ({ name: b.recipe.name, ms: b.ms })), null, 2) + '\n');
  process.exit(0);
}

const rows: Row[] = [];
mkdirSync('docs/recipes', { recursive: true });
for (const { recipe, ms, steps } of budgets) {
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-recipe-')), recipe.name);
  const args = ['train', ...recipe.flags, ...common, '--steps', String(steps), '--sample-every', String(steps),
    '--final-eval', 'on', '--eval-n', String(n), '--out', out];
  ganpool(args);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
    wallSeconds: number; eval: { fcd: number; classifierScore: number; classesCovered: number; classAgreement?: { perClass: number[]; mean: number } };
    evalFloor: { fcd: number; classifierScore: number } | null;
  };
  const grid = `docs/recipes/${recipe.name}-${minutes}min.png`;
  if (existsSync(join(out, 'samples', 'latest.png'))) copyFileSync(join(out, 'samples', 'latest.png'), grid);
  const row: Row = {
    name: recipe.name, minutes, label: recipe.label, command: `npx ganpool ${args.slice(0, -2).join(' ')}`, msPerStep: ms, steps,
    trainSeconds: summary.wallSeconds, ...summary.eval, grid, floor: summary.evalFloor,
  };
  rows.push(row);
  const agree = row.classAgreement ? `; as drawn ${(row.classAgreement.mean * 100).toFixed(1)}% (${row.classAgreement.perClass.map((x) => (x * 100).toFixed(0)).join(' ')})` : '';
  console.error(`${recipe.name}: ${steps} steps in ${summary.wallSeconds.toFixed(0)} s; FCD ${row.fcd.toFixed(2)}, score ${row.classifierScore.toFixed(2)}, ${row.classesCovered}/10${agree}`);
}
const previous = existsSync('docs/recipes.json') ? (JSON.parse(readFileSync('docs/recipes.json', 'utf8')) as { rows: Row[] }).rows : [];
const merged = [...previous.filter((p) => !rows.some((r) => r.name === p.name && r.minutes === p.minutes)), ...rows]
  .sort((a, b) => a.minutes - b.minutes || RECIPES.findIndex((r) => r.name === a.name) - RECIPES.findIndex((r) => r.name === b.name));
writeFileSync('docs/recipes.json', JSON.stringify({ n, workers: Number(workers), rows: merged }, null, 2) + '\n');
console.log('| recipe | wall time | ms/step | steps | FCD | classifier score | classes | as drawn (conditional) | grid |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|');
for (const r of merged) {
  console.log(`| ${r.label} | ${r.minutes} min | ${r.msPerStep.toFixed(0)} | ${r.steps} | ${r.fcd.toFixed(2)} | ${r.classifierScore.toFixed(2)} | ${r.classesCovered}/10 | ${r.classAgreement ? `${(r.classAgreement.mean * 100).toFixed(1)}%` : '–'} | ![${r.name}](${r.grid}) |`);
}
