/**
 * Semi-supervised training's data: which training rows carry their label
 * (N/K per class, drawn by the seed), and what one shard of one step reads:
 * its labelled rows, its unlabelled rows, G's latent input and D's Gaussian
 * noise. Every draw is keyed by (seed, step, row) or (seed, epoch), never
 * drawn in order, so any sharding of a batch over any number of workers
 * reads exactly the same inputs.
 */
import { epochPermutation, hashInts, sfc32 } from '../util/rng.js';
import { fillZigguratNormals } from '../util/ziggurat.js';
import { labelsBelowClasses, labelsNotMultiple, labelsTooMany, labelsBadValue, unlabelledTooMany } from '../errors.js';

/** How many training rows keep their label: a count, or `all` (plain supervised training). */
export type LabelCount = number | 'all';

/** The training rows split into labelled and unlabelled ones. */
export interface LabelSplit {
  /** Rows (of the data set) whose labels are used, class by class in draw order. */
  labelled: Uint32Array;
  /** The other training rows, used without their labels (empty with `all`). */
  unlabelled: Uint32Array;
}

/** Parses the `--labels` value: a whole number ≥ 1, or `all`. */
export function parseLabelCount(raw: unknown): LabelCount {
  if (raw === 'all') return 'all';
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1) throw labelsBadValue(raw);
  return n;
}

/**
 * Draws `count` labelled rows, count/K per class, from the training rows
 * `train` (rows of a set whose labels are `labels`), with the seed; every
 * other training row is unlabelled. `all` labels every training row.
 * Throws a usage error naming `--labels` when count < K, count is not a
 * multiple of K, or a class has fewer than count/K training rows.
 */
export function splitLabels(labels: Uint8Array, train: Uint32Array, classes: number, count: LabelCount, seed: number): LabelSplit {
  if (count === 'all') return { labelled: train.slice(), unlabelled: new Uint32Array(0) };
  if (count < classes) throw labelsBelowClasses(count, classes);
  if (count % classes !== 0) throw labelsNotMultiple(count, classes);
  const per = count / classes;
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (const row of train) byClass[labels[row]]?.push(row);
  const fewest = byClass.reduce((m, rows, k) => (rows.length < m.n ? { n: rows.length, k } : m), { n: Infinity, k: 0 });
  if (fewest.n < per) throw labelsTooMany(count, per, fewest.k, fewest.n);
  const chosen = new Set<number>();
  const labelled = new Uint32Array(count);
  byClass.forEach((rows, k) => {
    const perm = epochPermutation(rows.length, hashInts(seed, 0x1abe, k), 0);
    for (let i = 0; i < per; i++) {
      labelled[k * per + i] = rows[perm[i]];
      chosen.add(rows[perm[i]]);
    }
  });
  return { labelled, unlabelled: train.filter((row) => !chosen.has(row)) };
}

/**
 * `split` with only `count` of its unlabelled rows: the first `count` of a
 * permutation keyed by `seed` (kept in data-set order). Throws a usage error
 * naming `unlabelled` when there are fewer.
 */
export function limitUnlabelled(split: LabelSplit, count: number, seed: number): LabelSplit {
  const rows = split.unlabelled;
  if (count > rows.length) throw unlabelledTooMany(count, rows.length);
  const perm = epochPermutation(rows.length, hashInts(seed, 0x0a11), 0);
  const chosen = Uint32Array.from(perm.subarray(0, count), (i) => rows[i]).sort();
  return { labelled: split.labelled, unlabelled: chosen };
}

/** What the semi-supervised batch needs to know besides its key. */
export interface SemiBatchPlan {
  split: LabelSplit;
  /** Rows per step (each of the labelled, unlabelled and fake parts has this many). */
  batchSize: number;
  /** G's input width. */
  latentDim: number;
  /** D's noise values per row and pass (src/models/semi.ts, semiNoiseWidth). */
  noiseWidth: number;
}

/** The phase a shard's inputs are for: D's update, G's feature statistics, or G's update. */
export type SemiPhase = 'd' | 'g';

/** One shard's inputs to a semi-supervised phase: rows `first .. first+count-1` of step `step`'s batch. */
export interface SemiShardInputs {
  /** Data-set rows of the labelled part (D phase; empty in the G phase). */
  labelledRows: Uint32Array;
  /** Data-set rows of the unlabelled part (empty without unlabelled rows). */
  unlabelledRows: Uint32Array;
  /** G's input, count × latentDim, uniform in [0, 1) (empty without unlabelled rows: no G is trained). */
  z: Float32Array;
  /** Standard normal noise of D's passes, each count × noiseWidth: labelled (D phase), unlabelled, fake. */
  noise: { labelled: Float32Array; unlabelled: Float32Array; fake: Float32Array };
}

/** Keys of the noise streams. */
const STREAM = { labelledOrder: 1, unlabelledOrder: 2, z: 3, noiseLabelled: 4, noiseUnlabelled: 5, noiseFake: 6 } as const;

/** Row `i` of an endless sequence of epochs over `rows`, each a permutation keyed by (seed, stream, epoch). */
function epochRow(rows: Uint32Array, seed: number, stream: number, i: number, cache: Map<string, Uint32Array>): number {
  const epoch = Math.floor(i / rows.length);
  const key = `${stream}:${epoch}`;
  let perm = cache.get(key);
  if (!perm) {
    perm = epochPermutation(rows.length, hashInts(seed, stream), epoch);
    if (cache.size > 8) cache.clear();
    cache.set(key, perm);
  }
  return rows[perm[i - epoch * rows.length]];
}

/**
 * Fills `out` (rows × width) with standard normals (ziggurat); row r is a pure function of
 * (seed, step, stream, first + r): its own sfc32 stream keyed by them.
 */
function keyedNormals(out: Float32Array, seed: number, step: number, stream: number, first: number, width: number): Float32Array {
  const rows = out.length / width;
  for (let r = 0; r < rows; r++) fillZigguratNormals(out, r * width, width, hashInts(seed, step, stream, first + r));
  return out;
}

/** Permutations kept between calls (a cache: the result never depends on it). */
const permCache = new WeakMap<SemiBatchPlan, Map<string, Uint32Array>>();

/**
 * One shard's semi-supervised inputs, a pure function of (plan, seed, step,
 * phase, first, count). `fakeOnly` (G's update, which reads only the latent
 * vectors and the fakes' noise) leaves the unlabelled rows and their noise
 * empty and computes the rest exactly as without it. Row i of step t's batch (i = first + r) is row
 * t·B + i of an endless sequence of seeded epochs over the labelled rows,
 * and likewise over the unlabelled rows; its latent vector and D's noise are
 * keyed by (seed, t, stream, i). The G phase reads the same unlabelled rows
 * and latent vectors as the D phase of its step, with fresh noise for D.
 */
export function semiShardInputs(plan: SemiBatchPlan, seed: number, step: number, phase: SemiPhase, first: number, count: number, fakeOnly = false): SemiShardInputs {
  let cache = permCache.get(plan);
  if (!cache) permCache.set(plan, cache = new Map<string, Uint32Array>());
  const { labelled, unlabelled } = plan.split;
  const B = plan.batchSize, W = plan.noiseWidth;
  const hasUnlabelled = unlabelled.length > 0;
  const rowsOf = (rows: Uint32Array, stream: number): Uint32Array =>
    Uint32Array.from({ length: count }, (_, r) => epochRow(rows, seed, stream, step * B + first + r, cache));
  const gSalt = phase === 'g' ? 0x6000 : 0;
  const normals = (stream: number, on: boolean): Float32Array =>
    on ? keyedNormals(new Float32Array(count * W), seed, step, stream + gSalt, first, W) : new Float32Array(0);
  const z = new Float32Array(hasUnlabelled ? count * plan.latentDim : 0);
  if (hasUnlabelled) {
    for (let r = 0; r < count; r++) {
      const next = sfc32(hashInts(seed, step, STREAM.z, first + r));
      for (let j = 0; j < plan.latentDim; j++) z[r * plan.latentDim + j] = next();
    }
  }
  return {
    labelledRows: phase === 'd' ? rowsOf(labelled, STREAM.labelledOrder) : new Uint32Array(0),
    unlabelledRows: hasUnlabelled && !fakeOnly ? rowsOf(unlabelled, STREAM.unlabelledOrder) : new Uint32Array(0),
    z,
    noise: {
      labelled: normals(STREAM.noiseLabelled, phase === 'd'),
      unlabelled: normals(STREAM.noiseUnlabelled, hasUnlabelled && !fakeOnly),
      fake: normals(STREAM.noiseFake, hasUnlabelled),
    },
  };
}
