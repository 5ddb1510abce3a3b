/**
 * `npx tsx scripts/augment-experiment.ts`: does GAN data augmentation help a
 * classifier that has few labels? The README's augmentation table.
 *
 * For each (data set, labels N, seed):
 *  1. take N labelled training images, N/10 of each class, chosen with the
 *     seed from the classifier's training split (the held-out test split is
 *     never touched);
 *  2. train a conditional GAN on exactly those images with `ganpool train
 *     --conditional` (default flags otherwise: dcgan, EMA, batch 32);
 *  3. export `--per-class P` generated images of every class with
 *     `ganpool sample --format idx`;
 *  4. train the evaluation CNN (src/eval) on (a) the N real images only and
 *     (b) the N real images plus generated ones at each ratio R (R generated
 *     rows per real row in every epoch), all for the same number of steps
 *     with the same seed, and score each on the real held-out test split.
 * The classifier always shifts its training images by up to ±2 pixels, so
 * (a) is a baseline with classical augmentation, not a bare one.
 *
 * Every finished cell is kept in WORKDIR/<cell>.json, so an interrupted run
 * continues where it stopped. Results go to docs/augment.json and a markdown
 * table (mean ± sd over the seeds) to stdout.
 *
 * Each cell also records how often the evaluation classifier of `ganpool eval`
 * agrees with the generated images' labels (`generatedAgreement`), which
 * says how clean the labels mixed in were.
 *
 * Flags: --cells mnist:100,mnist:500,mnist:1000,fashion-mnist:1000
 * --seeds 1,2,3 --ratios 1,4 --gan-steps 1200 --per-class 1000
 * --clf-steps 600 --clf-batch 64 --workers 2 --workdir DIR --out FILE
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeIdxRows } from '../src/data/idx.js';
import { loadSplit, type DataSplit } from '../src/eval/splits.js';
import { ClassifierTrainer } from '../src/eval/classifier-train.js';
import { loadAugmentSet, augmentTarget } from '../src/eval/augment-set.js';
import { epochPermutation } from '../src/util/rng.js';
import { loadOrTrainClassifier } from '../src/eval/classifier-store.js';
import { classify as classifyImages, toFloatImages } from '../src/eval/evaluate.js';
import { classAgreement } from '../src/metrics/frechet.js';

const { values: flags } = parseArgs({
  options: {
    cells: { type: 'string', default: 'mnist:100,mnist:500,mnist:1000,fashion-mnist:1000' },
    seeds: { type: 'string', default: '1,2,3' },
    ratios: { type: 'string', default: '1,4' },
    'gan-steps': { type: 'string', default: '1200' },
    'per-class': { type: 'string', default: '1000' },
    'clf-steps': { type: 'string', default: '600' },
    'clf-batch': { type: 'string', default: '64' },
    workers: { type: 'string', default: '2' },
    workdir: { type: 'string', default: 'runs/augment-experiment' },
    out: { type: 'string', default: 'docs/augment.json' },
  },
});
const list = (s: string): number[] => s.split(',').map(Number);
const seeds = list(flags.seeds);
const ratios = list(flags.ratios);
const ganSteps = Number(flags['gan-steps']);
const perClass = Number(flags['per-class']);
const clfSteps = Number(flags['clf-steps']);
const clfBatch = Number(flags['clf-batch']);
const workers = Number(flags.workers);
const workdir = flags.workdir;
const cells = flags.cells.split(',').map((c) => { const [dataset, n] = c.split(':'); return { dataset: dataset, labels: Number(n) }; });
mkdirSync(workdir, { recursive: true });

/** One (data set, labels, seed) cell's results. */
interface CellResult {
  dataset: string;
  labels: number;
  seed: number;
  /** Held-out accuracy of the classifier trained on the real images only. */
  realOnly: number;
  /** Held-out accuracy with generated images mixed in, by ratio. */
  augmented: Record<string, number>;
  testCount: number;
  ganSeconds: number;
  classifierSeconds: number;
  /**
   * The share of generated images the data set's evaluation classifier (trained on all its
   * training images) assigns to the class they were drawn for, mean over classes: how often
   * a generated label is right.
   */
  generatedAgreement?: number;
}

const CLASSES = 10;

/** N/10 training rows of every class, in the order of a seeded permutation of the training split. */
function pickLabelled(split: DataSplit, n: number, seed: number): Uint32Array {
  const { set, indices } = split.train;
  const perm = epochPermutation(indices.length, seed, 0x1abe1);
  const want = n / CLASSES;
  const taken = new Array<number>(CLASSES).fill(0);
  const rows: number[] = [];
  for (const p of perm) {
    const row = indices[p];
    const y = set.labels[row];
    if (taken[y] < want) { taken[y]++; rows.push(row); }
    if (rows.length === n) break;
  }
  if (rows.length !== n) throw new Error(`only ${rows.length} of ${n} labelled images found`);
  return Uint32Array.from(rows);
}

/** Writes rows of a labelled set's training split as an IDX images + labels pair; returns the images path. */
function writeIdxSubset(split: DataSplit, rows: Uint32Array, dir: string): string {
  return writeIdxRows(split.train.set, rows, dir);
}

function ganpool(args: string[]): void {
  const r = spawnSync('npx', ['tsx', 'src/cli/main.ts', ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`ganpool ${args.join(' ')} exited ${r.status}`);
}

/** Trains the classifier for clfSteps steps (learning rate decaying to 0) and returns its held-out accuracy. */
async function classify(split: DataSplit, rows: Uint32Array, seed: number, generated?: { set: Awaited<ReturnType<typeof loadAugmentSet>>; ratio: number }): Promise<{ accuracy: number; count: number }> {
  const part: DataSplit = { ...split, train: { set: split.train.set, indices: rows } };
  const trainer = await ClassifierTrainer.start(part, { workers, batchSize: clfBatch, seed, ...(generated ? { generated } : {}) });
  try {
    while (trainer.stepsDone < clfSteps) await trainer.step(1 - trainer.stepsDone / clfSteps);
    const acc = await trainer.accuracy();
    return { accuracy: acc.accuracy, count: acc.count };
  } finally {
    await trainer.close();
  }
}

const results: CellResult[] = [];
for (const { dataset, labels } of cells) {
  const split = await loadSplit(dataset);
  for (const seed of seeds) {
    const name = `${dataset}-${labels}-s${seed}`;
    const file = join(workdir, `${name}.json`);
    if (existsSync(file)) { results.push(JSON.parse(readFileSync(file, 'utf8')) as CellResult); console.error(`${name}: done before`); continue; }
    const dir = join(workdir, name);
    rmSync(dir, { recursive: true, force: true });
    const rows = pickLabelled(split, labels, seed);
    const images = writeIdxSubset(split, rows, join(dir, 'real'));
    const t0 = performance.now();
    ganpool(['train', '--dataset', `idx:${images}`, '--conditional', '--steps', String(ganSteps), '--seed', String(seed),
      '--workers', String(workers), '--out', join(dir, 'gan'), '--final-eval', 'off', '--sample-every', String(ganSteps)]);
    ganpool(['sample', '--generator', join(dir, 'gan', 'generator'), '--per-class', String(perClass), '--format', 'idx',
      '--out', join(dir, 'generated'), '--seed', String(seed)]);
    const ganSeconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const set = await loadAugmentSet(join(dir, 'generated'), augmentTarget(split.train.set));
    const base = await classify(split, rows, seed);
    const augmented: Record<string, number> = {};
    for (const ratio of ratios) augmented[String(ratio)] = (await classify(split, rows, seed, { set, ratio })).accuracy;
    const cell: CellResult = {
      dataset, labels, seed, realOnly: base.accuracy, augmented, testCount: base.count, ganSeconds,
      classifierSeconds: (performance.now() - t1) / 1000,
    };
    console.error(`${name}: real only ${(100 * base.accuracy).toFixed(2)}%; ${ratios.map((r) => `R=${r} ${(100 * augmented[String(r)]).toFixed(2)}%`).join(', ')}`);
    writeFileSync(file, JSON.stringify(cell, null, 2));
    results.push(cell);
  }
}

// How clean the generated labels were: the evaluation classifier's agreement with them.
for (const dataset of [...new Set(cells.map((c) => c.dataset))]) {
  const pending = results.filter((r) => r.dataset === dataset && r.generatedAgreement === undefined);
  if (pending.length === 0) continue;
  const { extractor } = await loadOrTrainClassifier(dataset);
  for (const cell of pending) {
    const dir = join(workdir, `${dataset}-${cell.labels}-s${cell.seed}`);
    const set = await loadAugmentSet(join(dir, 'generated'), augmentTarget((await loadSplit(dataset)).train.set));
    const rows = Uint32Array.from({ length: set.count }, (_, i) => i);
    const { probs } = classifyImages(extractor, toFloatImages(set, rows), set.count);
    cell.generatedAgreement = classAgreement(probs, set.count, CLASSES, set.labels).mean;
    writeFileSync(join(workdir, `${dataset}-${cell.labels}-s${cell.seed}.json`), JSON.stringify(cell, null, 2));
  }
}

const stats = (xs: number[]): { mean: number; sd: number } => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd };
};
const pct = ({ mean, sd }: { mean: number; sd: number }): string => `${(100 * mean).toFixed(1)} ± ${(100 * sd).toFixed(1)}`;
const rowsOut: string[] = [];
rowsOut.push(`| data set | labels | real only | ${ratios.map((r) => `+ generated, R = ${r}`).join(' | ')} | generated labels right |`);
rowsOut.push(`|---|---:|---:|${ratios.map(() => '---:').join('|')}|---:|`);
const summary = [];
for (const { dataset, labels } of cells) {
  const mine = results.filter((r) => r.dataset === dataset && r.labels === labels);
  const real = stats(mine.map((r) => r.realOnly));
  const aug = Object.fromEntries(ratios.map((r) => [String(r), stats(mine.map((c) => c.augmented[String(r)]))]));
  const agree = stats(mine.map((r) => r.generatedAgreement ?? NaN));
  rowsOut.push(`| ${dataset} | ${labels} | ${pct(real)} | ${ratios.map((r) => pct(aug[String(r)])).join(' | ')} | ${pct(agree)} |`);
  summary.push({ dataset, labels, seeds: mine.length, realOnly: real, augmented: aug, generatedAgreement: agree });
}
writeFileSync(flags.out, JSON.stringify({
  protocol: { seeds, ratios, ganSteps, perClass, clfSteps, clfBatch, workers }, summary, cells: results,
}, null, 2) + '\n');
console.log(rowsOut.join('\n'));
