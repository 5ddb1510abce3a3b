/**
 * The PyTorch reference of `ganpool train --semi-supervised`: runs
 * scripts/semi-torch.py (the same recipe) on exactly the rows a ganpool run
 * with the same data set, label count and seed uses (its labelled rows, its
 * unlabelled rows, the held-out split), and prints its held-out accuracy as
 * it trains and its ms per step.
 *
 *   npx tsx scripts/semi-torch-reference.ts [--dataset mnist] [--labels 100] [--steps 4000]
 *        [--seed 1] [--eval-every 500] [--threads 1] [--group 50] [--fresh-g-batch] [--data-init N] [--json PATH]
 *
 * PyTorch runs with the environment of scripts/torch-reference.ts (OpenMP
 * OpenBLAS, the malloc settings, OPENBLAS_CORETYPE where OpenBLAS falls back
 * to generic kernels). docs/experiments/semi-supervised.md has the figures.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadSplit } from '../src/eval/splits.js';
import { classCount } from '../src/data/image-set.js';
import { parseLabelCount, splitLabels } from '../src/data/label-split.js';
import { openblasCoreFix, torchAvailable, torchEnv } from './torch-reference.js';

const { values: o } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'mnist' }, labels: { type: 'string', default: '100' },
    steps: { type: 'string', default: '4000' }, seed: { type: 'string', default: '1' },
    'eval-every': { type: 'string', default: '500' }, threads: { type: 'string', default: '1' },
    group: { type: 'string', default: '50' }, 'fresh-g-batch': { type: 'boolean', default: false },
    'data-init': { type: 'string', default: '0' },
    json: { type: 'string' },
  },
});

const avail = torchAvailable();
if (!avail.ok) {
  console.error(`semi-torch-reference: ${avail.reason}`);
  process.exit(1);
}
const split = await loadSplit(o.dataset);
const set = split.train.set;
const classes = classCount(set);
const seed = Number(o.seed);
const labels = splitLabels(set.labels, split.train.indices, classes, parseLabelCount(o.labels), seed);
if (split.test.set !== set) throw new Error('semi-torch-reference: data sets with a separate test file are not supported yet');
const dir = mkdtempSync(join(tmpdir(), 'ganpool-semi-torch-'));
const data = join(dir, 'data.json');
writeFileSync(data, JSON.stringify({
  pixels: Array.from(set.images, (v) => v / 127.5 - 1), labels: Array.from(set.labels), classes,
  labelled: Array.from(labels.labelled), unlabelled: Array.from(labels.unlabelled), test: Array.from(split.test.indices),
}));
const script = fileURLToPath(new URL('./semi-torch.py', import.meta.url));
const args = [script, '--data', data, '--steps', o.steps, '--seed', o.seed, '--eval-every', o['eval-every'],
  '--threads', o.threads, '--group', o.group, '--data-init', o['data-init'], ...(o['fresh-g-batch'] ? ['--fresh-g-batch'] : [])];
const fix = openblasCoreFix(avail.python);
const child = spawn(avail.python, args, { env: torchEnv({ ...fix.env, OMP_NUM_THREADS: o.threads }), stdio: ['ignore', 'pipe', 'inherit'] });
const lines: unknown[] = [];
let buffered = '';
child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
  buffered += chunk;
  for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
    const line = JSON.parse(buffered.slice(0, nl)) as { step: number; heldOutAccuracy: number; msPerStep: number; seconds: number };
    buffered = buffered.slice(nl + 1);
    lines.push(line);
    console.log(`step ${line.step}: held-out ${(100 * line.heldOutAccuracy).toFixed(2)}%  ${line.msPerStep.toFixed(1)} ms/step  ${line.seconds.toFixed(0)} s`);
  }
});
const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
rmSync(dir, { recursive: true, force: true });
if (o.json) writeFileSync(o.json, JSON.stringify({ options: o, openblasCore: fix.env.OPENBLAS_CORETYPE ?? null, lines }, null, 2) + '\n');
process.exit(code);
