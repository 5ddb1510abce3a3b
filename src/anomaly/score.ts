/**
 * Anomaly scores with a trained GAN (`ganpool score`): per image, D's logit
 * and an AnoGAN-style reconstruction score from a latent search, both also
 * measured on a fixed calibration sample of the run's own training images so
 * that the combined score does not depend on what else is in the scored set.
 *
 * The images are cut into chunks of {@link SCORE_CHUNK} in index order, each
 * a task on the worker pool (workers/shard-worker.ts → latent-search.ts);
 * every image's starts are keyed by its index and the seed, so the scores do
 * not depend on the worker count.
 */
import { availableParallelism } from 'node:os';
import { resolveBackend, type BackendChoice, type BackendName } from '../engines/backend.js';
import { loadDataset } from '../data/dataset.js';
import { sharedBytes, type ImageSet } from '../data/image-set.js';
import { createPoolExecutor } from '../training/executor.js';
import { allocSharedNet, bnView, paramsView, type SharedNetBuffers } from '../training/shared-params.js';
import { epochPermutation, NoiseStream } from '../util/rng.js';
import { paramCount, bnStatsSize } from '../models/presets.js';
import {
  badValue, GanpoolDataError, GanpoolUsageError, scoreCalibrationUnreadable, scoreImagesShape, scoreImagesUnreadable,
} from '../errors.js';
import { loadScoringModel, type ScoringModel, type ScoringNet } from './run-model.js';
import type { ScoreResult, ScoreTask, WorkerInit } from '../training/protocol.js';

/**
 * Images per score task: fixed (a shorter last chunk is padded to it), so the work, and every
 * number, is the same for any worker count and any number of images scored.
 */
export const SCORE_CHUNK = 64;
/** Training images in the calibration sample of the combined score. */
export const CALIBRATION_ROWS = 128;
/** Salt of the calibration sample's seeded draw (an epochPermutation key no training epoch reaches). */
const CALIBRATION_DRAW = 0xca1b;

/** The latent search's defaults (see the README's "Anomaly scores" for what they cost). */
export const SCORE_DEFAULTS = { steps: 50, starts: 2, lambda: 0.1, lr: 0.1, seed: 1 } as const;

/** How to score. */
export interface ScoreOptions {
  /** A training run's OUT folder (its latest checkpoint is used). */
  run: string;
  /** The images: a data set spec (mnist, fashion-mnist, idx:PATH, folder:DIR) or a loaded set. */
  images: string | ImageSet;
  /** Worker threads [available cores, at most one per task]. */
  workers?: number;
  /** The backend [the run's]. */
  backend?: BackendChoice;
  /** Adam steps on z per start [{@link SCORE_DEFAULTS}]. */
  steps?: number;
  /** Seeded starts per image. */
  starts?: number;
  /** Seed of the starts and of the calibration sample. */
  seed?: number;
  /** Weight of the feature distance in the search objective, in [0, 1]. */
  lambda?: number;
  /** Adam's learning rate on z. */
  lr?: number;
  /** Score only the first `limit` images. */
  limit?: number;
  /** Hears the images done (scored and calibration) after each task. */
  onProgress?: (done: number, total: number) => void;
}

/** One image's scores; higher = more anomalous for every score. */
export interface ScoreRow {
  /** The image's row in the scored data set. */
  index: number;
  /** Its class where the set is labelled, else null (never used to score). */
  label: number | null;
  /** D's logit (final weights, batch norm with the moving statistics). */
  dLogit: number;
  /** −dLogit. */
  dScore: number;
  /** Mean squared pixel distance between the image and G(z*), z* the best z found. */
  pixel: number;
  /** Mean squared distance of D's penultimate features between the image and G(z*). */
  feature: number;
  /** The search objective at z*: (1 − λ)·pixel + λ·feature. */
  recon: number;
  /** z-score of dScore plus z-score of recon, against the run's calibration sample. */
  combined: number;
}

/** Mean and (population) standard deviation of one score over the calibration sample. */
export interface ScoreMoments {
  mean: number;
  std: number;
}

/** What {@link scoreImages} returns. */
export interface ScoreReport {
  rows: ScoreRow[];
  /** G(z*) of every scored image, NHWC, [-1, 1], row order. */
  reconstructions: Float32Array;
  /** The scored images as the networks saw them, NHWC, [-1, 1]. */
  images: Float32Array;
  imageShape: [number, number, number];
  /** Which G weights scored: the EMA (runs with `ema` on) or the raw parameters. */
  weights: 'ema' | 'raw';
  /** The checkpoint's training step. */
  step: number;
  model: string;
  backend: BackendName;
  workers: number;
  settings: { steps: number; starts: number; seed: number; lambda: number; lr: number };
  /** The calibration sample: its size and the moments the combined score standardises with. */
  calibration: { rows: number; dScore: ScoreMoments; recon: ScoreMoments };
  /** Mean recon at the best start's initial z over the scored images (what the search started from). */
  initialReconMean: number;
  /** Wall time of the scoring itself (pool start to last task), seconds. */
  seconds: number;
}

/** Loads an --images spec, every failure a usage error naming --images. */
async function loadImages(spec: string, model: ScoringModel): Promise<ImageSet> {
  const [h, , c] = model.config.imageShape!;
  try {
    return await loadDataset(spec, { dataDir: model.config.dataDir, imageSize: h, channels: c });
  } catch (e) {
    if (e instanceof GanpoolUsageError || e instanceof GanpoolDataError || (e as NodeJS.ErrnoException).code !== undefined) {
      throw scoreImagesUnreadable(spec, (e as Error).message);
    }
    throw e;
  }
}

/** `CALIBRATION_ROWS` training rows drawn with `seed` (all of a smaller set), in draw order. */
async function calibrationSet(run: string, model: ScoringModel, seed: number): Promise<{ set: ImageSet; rows: Uint32Array }> {
  const { dataset, dataDir, imageSize, channels } = model.config;
  let set: ImageSet;
  try {
    set = await loadDataset(dataset, { dataDir, imageSize, channels });
  } catch (e) {
    throw scoreCalibrationUnreadable(run, dataset, (e as Error).message);
  }
  const rows = epochPermutation(set.count, seed, CALIBRATION_DRAW).slice(0, Math.min(CALIBRATION_ROWS, set.count));
  return { set, rows };
}

function sharedNet(net: ScoringNet, size: number, bnSize: number): SharedNetBuffers {
  const shared = allocSharedNet(size, 1, bnSize);
  paramsView(shared).set(net.params);
  bnView(shared).set(net.bn);
  return shared;
}

function moments(values: ArrayLike<number>): ScoreMoments {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const mean = sum / values.length;
  let sq = 0;
  for (let i = 0; i < values.length; i++) sq += (values[i] - mean) ** 2;
  return { mean, std: Math.sqrt(sq / values.length) };
}

/** (x − mean) / std, with a floor on std so a constant calibration score does not divide by zero. */
function zScore(x: number, m: ScoreMoments): number {
  return (x - m.mean) / Math.max(m.std, 1e-12);
}

/** A numeric setting's range: whole numbers unless `real`; `above` leaves `min` itself out. */
interface SettingRange { min: number; max: number; real?: boolean; above?: boolean }

/** The range of every numeric setting of `ganpool score` (one table for {@link scoreImages} and the CLI's flags). */
export const SCORE_RANGES = {
  steps: { min: 0, max: 100_000 },
  starts: { min: 1, max: 1000 },
  seed: { min: 0, max: 2 ** 32 - 1 },
  lambda: { min: 0, max: 1, real: true },
  lr: { min: 0, max: 100, real: true, above: true },
  limit: { min: 1, max: 2 ** 31 },
  workers: { min: 1, max: 256 },
  top: { min: 1, max: 10_000 },
} as const satisfies Record<string, SettingRange>;

/**
 * Checks setting `name` against {@link SCORE_RANGES}; a value out of range is a usage error
 * naming `--name` and showing `shown` (the flag's text where it came from the command line).
 */
export function checkSetting(name: keyof typeof SCORE_RANGES, value: number, shown: unknown = value): number {
  const r: SettingRange = SCORE_RANGES[name];
  const low = r.above ? value <= r.min : value < r.min;
  if (!Number.isFinite(value) || (!r.real && !Number.isInteger(value)) || low || value > r.max) {
    const allowed = !r.real ? `a whole number from ${r.min} to ${r.max}` : r.above ? `a number above ${r.min} and at most ${r.max}` : `a number from ${r.min} to ${r.max}`;
    throw badValue(`--${name}`, shown, allowed);
  }
  return value;
}

/**
 * Scores every image of `options.images` with the trained pair of `options.run`
 * (see {@link ScoreRow} for the fields). Usage errors name `--run`, `--images`
 * or the setting at fault, with nothing computed.
 */
export async function scoreImages(options: ScoreOptions): Promise<ScoreReport> {
  const model = loadScoringModel(options.run);
  const steps = checkSetting('steps', options.steps ?? SCORE_DEFAULTS.steps);
  const starts = checkSetting('starts', options.starts ?? SCORE_DEFAULTS.starts);
  const seed = checkSetting('seed', options.seed ?? SCORE_DEFAULTS.seed);
  const lambda = checkSetting('lambda', options.lambda ?? SCORE_DEFAULTS.lambda);
  const lr = checkSetting('lr', options.lr ?? SCORE_DEFAULTS.lr);
  const spec = typeof options.images === 'string' ? options.images : options.images.name;
  const loaded = typeof options.images === 'string' ? await loadImages(options.images, model) : options.images;
  const shape: [number, number, number] = [loaded.height, loaded.width, loaded.channels];
  const expected = model.config.imageShape!;
  if (shape.join() !== expected.join()) throw scoreImagesShape(spec, shape, expected);
  const n = Math.min(loaded.count, options.limit === undefined ? Infinity : checkSetting('limit', options.limit));
  const calibration = await calibrationSet(options.run, model, seed);
  const c = calibration.rows.length;
  const P = shape[0] * shape[1] * shape[2];

  // Scored rows first, calibration rows after, in one shared image buffer.
  const pixels = sharedBytes((n + c) * P);
  pixels.set(loaded.images.subarray(0, n * P));
  calibration.rows.forEach((row, k) => pixels.set(calibration.set.images.subarray(row * P, (row + 1) * P), (n + k) * P));

  const tasks: ScoreTask[] = [];
  const chunk = (first: number, count: number, stream: number, key: (i: number) => number): void => {
    for (let f = 0; f < count; f += SCORE_CHUNK) {
      const m = Math.min(SCORE_CHUNK, count - f);
      tasks.push({
        kind: 'score', first: first + f, count: m, keys: Uint32Array.from({ length: m }, (_, i) => key(f + i)),
        stream, seed, steps, starts, lambda, lr, padTo: SCORE_CHUNK,
      });
    }
  };
  chunk(0, n, NoiseStream.Score, (i) => i);
  chunk(n, c, NoiseStream.Calibration, (i) => calibration.rows[i]);

  const backend = resolveBackend(options.backend ?? model.config.backend);
  const workers = checkSetting('workers', options.workers ?? Math.min(availableParallelism(), tasks.length));
  const { preset } = model;
  const init: WorkerInit = {
    backend, preset, loss: model.config.loss, seed,
    data: { pixels: pixels.buffer as SharedArrayBuffer, count: n + c, shape, labels: null },
    g: sharedNet(model.g, paramCount(preset.generator), bnStatsSize(preset.generator)),
    d: sharedNet(model.d, paramCount(preset.discriminator), bnStatsSize(preset.discriminator)),
    fault: null, faultFired: new SharedArrayBuffer(4),
  };
  const t0 = performance.now();
  const executor = await createPoolExecutor(init, workers);
  let results: ScoreResult[];
  try {
    let done = 0;
    results = await Promise.all(tasks.map(async (task) => {
      const r = await executor.run<ScoreResult>(task);
      done += task.count;
      options.onProgress?.(done, n + c);
      return r;
    }));
  } finally {
    await executor.close();
  }
  const seconds = (performance.now() - t0) / 1000;

  // Gather per-row values in row order (tasks are in row order).
  const all = { dLogit: new Float32Array(n + c), pixel: new Float32Array(n + c), feature: new Float32Array(n + c), recon: new Float32Array(n + c), initial: new Float32Array(n + c) };
  const reconstructions = new Float32Array(n * P);
  tasks.forEach((task, k) => {
    const r = results[k];
    all.dLogit.set(r.dLogit, task.first);
    all.pixel.set(r.pixel, task.first);
    all.feature.set(r.feature, task.first);
    all.recon.set(r.recon, task.first);
    all.initial.set(r.initialRecon, task.first);
    if (task.first < n) reconstructions.set(r.images, task.first * P);
  });
  const calD = moments(Array.from(all.dLogit.subarray(n), (v) => -v));
  const calR = moments(all.recon.subarray(n));
  const rows: ScoreRow[] = [];
  for (let i = 0; i < n; i++) {
    const dLogit = all.dLogit[i], recon = all.recon[i];
    rows.push({
      index: i, label: loaded.labels ? loaded.labels[i] : null,
      dLogit, dScore: -dLogit, pixel: all.pixel[i], feature: all.feature[i], recon,
      combined: zScore(-dLogit, calD) + zScore(recon, calR),
    });
  }
  const images = new Float32Array(n * P);
  for (let i = 0; i < n * P; i++) images[i] = pixels[i] / 127.5 - 1;
  let initialSum = 0;
  for (let i = 0; i < n; i++) initialSum += all.initial[i];
  return {
    rows, reconstructions, images, imageShape: shape, weights: model.weights, step: model.step, model: preset.name,
    backend, workers, settings: { steps, starts, seed, lambda, lr },
    calibration: { rows: c, dScore: calD, recon: calR }, initialReconMean: initialSum / Math.max(n, 1), seconds,
  };
}
