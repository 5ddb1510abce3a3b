/**
 * Drawing from an exported generator, as `ganpool sample` does: a grid PNG
 * (and optionally one PNG per image) with the latent noise the trainer uses
 * for its own grid, so a seed reproduces the run's grid; or, for a
 * conditional generator, a labelled data set (src/generator/sample-export.ts).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { resolveBackend, type BackendChoice } from '../engines/backend.js';
import { writeFileAtomic } from '../util/atomic.js';
import { gridPng, type GridLayout } from './grid.js';
import { GRID_COLUMNS, perClassLabels } from '../models/conditioning.js';
import { generateImages, loadGenerator } from './load.js';
import { badValue, sampleNotConditional } from '../errors.js';
import { exportDataset, type ExportFormat, type ExportManifest } from './sample-export.js';

/** Parsed `ganpool sample` flags. */
export interface SampleArgs {
  generator: string;
  n: number;
  /** Undefined: the seed recorded in the generator's metadata (the run's seed), else 1. */
  seed: number | undefined;
  out: string;
  individual: string | null;
  backend: BackendChoice;
  /** Conditional generators: draw only this class (`--label K`); null or absent otherwise. */
  label?: number | null;
  /** Conditional generators: draw this many of every class, one class per grid row (`--per-class N`); null or absent otherwise. */
  perClass?: number | null;
  /**
   * Conditional generators: true when `--n` was given, so the classes are drawn uniformly from the seed
   * unless `label` is set; absent means true (a caller that sets `n` means it).
   */
  nGiven?: boolean;
  /**
   * Write a labelled data set instead of a grid: `--per-class` images of every class into the folder `out`,
   * as PNGs per class folder or an IDX pair (see {@link runSampleExport}); null or absent: the grid PNG.
   */
  format?: ExportFormat | null;
}

/**
 * What to draw: the image count, each image's class (null: unconditional, or
 * drawn uniformly from the seed) and the grid layout. Throws a usage error
 * naming `--label` / `--per-class` when the generator cannot honour it.
 */
export function samplePlan(args: SampleArgs, classes: number): { n: number; labels: Int32Array | null; layout?: GridLayout } {
  const { label = null, perClass: given = null, nGiven = true } = args;
  if (classes === 0) {
    if (label !== null) throw sampleNotConditional('--label');
    if (given !== null) throw sampleNotConditional('--per-class');
    return { n: args.n, labels: null };
  }
  if (label !== null) {
    if (label >= classes) throw badValue('--label', label, `a class from 0 to ${classes - 1} (the generator has ${classes} classes)`);
    return { n: args.n, labels: new Int32Array(args.n).fill(label) };
  }
  if (given === null && nGiven) return { n: args.n, labels: null };
  const perClass = given ?? GRID_COLUMNS;
  if (classes * perClass > 10_000) throw badValue('--per-class', perClass, `at most ${Math.floor(10_000 / classes)} (${classes} classes, 10000 images in all)`);
  return { n: classes * perClass, labels: perClassLabels(classes, perClass), layout: { cols: perClass, pad: 2 } };
}

/** Generates `args.n` images and writes the grid (and the individual PNGs); returns the paths written. Ignores `args.format` (see {@link runSampleExport}). */
export async function runSample(args: SampleArgs): Promise<{
  grid: string; individual: string[]; seed: number; shape: [number, number, number];
  /** Images drawn. */
  n: number;
  /** The class of each image, when chosen (--label, --per-class); null otherwise. */
  labels: Int32Array | null;
}> {
  const gen = await loadGenerator(args.generator, resolveBackend(args.backend));
  const seed = args.seed ?? gen.seed ?? 1;
  let images: Float32Array;
  let plan: ReturnType<typeof samplePlan>;
  try {
    plan = samplePlan(args, gen.classes);
    images = await generateImages(gen, plan.n, seed, plan.labels ?? undefined);
  } finally {
    await gen.dispose();
  }
  const { n } = plan;
  await writeFileAtomic(args.out, await gridPng(images, gen.imageShape, plan.layout));
  const individual: string[] = [];
  if (args.individual !== null) {
    mkdirSync(args.individual, { recursive: true });
    const per = gen.imageShape[0] * gen.imageShape[1] * gen.imageShape[2];
    for (let k = 0; k < n; k++) {
      const path = join(args.individual, `sample-${String(k).padStart(4, '0')}.png`);
      await writeFileAtomic(path, await gridPng(images.subarray(k * per, (k + 1) * per), gen.imageShape, { cols: 1, pad: 0 }));
      individual.push(path);
    }
  }
  return { grid: args.out, individual, seed, shape: gen.imageShape, n, labels: plan.labels };
}

/**
 * `ganpool sample --format png|idx --per-class N --out DIR`: writes N images
 * of every class of a conditional generator as a labelled data set (see
 * exportDataset); a usage error naming the flag, with nothing written, for an
 * unconditional generator (`--per-class`) or a folder holding other data (`--out`).
 * `onProgress` hears each batch written. Resolves to the manifest written.
 */
export async function runSampleExport(args: SampleArgs, onProgress?: (done: number, total: number) => void): Promise<ExportManifest> {
  const { format = null, perClass = null } = args;
  if (format === null || perClass === null) throw new Error('internal: runSampleExport needs format and perClass');
  const gen = await loadGenerator(args.generator, resolveBackend(args.backend));
  try {
    return await exportDataset(gen, {
      dir: args.out, format, perClass, seed: args.seed ?? gen.seed ?? 1, generatorPath: args.generator,
      ...(onProgress ? { onProgress } : {}),
    });
  } finally {
    await gen.dispose();
  }
}
