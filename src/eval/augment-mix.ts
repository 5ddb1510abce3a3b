/**
 * How generated images are mixed into the classifier's training rows, as
 * pure functions of (seed, epoch) so any worker count sees the same batches.
 *
 * Each epoch's rows are all the real training rows plus
 * `round(ratio × realCount)` generated rows, shuffled together with the seed.
 * The generated rows are drawn from the generated set by seeded permutations
 * (a fresh one per epoch): the first `set` draws are one permutation of it,
 * the next `set` another, and so on, so a generated set smaller than the
 * draw is cycled through (every image used equally often, ±1), and a larger
 * one contributes a different subset each epoch. The held-out test rows are
 * never among them: only training rows and generated rows are mixed.
 */
import { epochPermutation, hashInts } from '../util/rng.js';
import { badValue } from '../errors.js';

/** Salt of the generated-row draws (keeps them apart from the epoch shuffle under the same seed). */
const DRAW_SALT = 0x6e4;

/** The generated rows of a mix, as the trainer numbers them. */
export interface GeneratedRows {
  /** Images in the generated set. */
  setCount: number;
  /** Generated rows per epoch: `round(ratio × realCount)`. */
  perEpoch: number;
  /** Row number of the generated set's image 0 (the real set's image count): generated image g is row `base + g`. */
  base: number;
}

/** Generated rows per epoch for `ratio` generated images per real training image: `round(ratio × realCount)`. */
export function generatedPerEpoch(ratio: number, realCount: number): number {
  if (typeof ratio !== 'number' || !Number.isFinite(ratio) || ratio <= 0) throw badValue('generated.ratio', ratio, 'a positive number');
  return Math.round(ratio * realCount);
}

/** The `perEpoch` generated-set images (0-based, not yet offset by `base`) drawn in `epoch` (see the module comment). */
export function generatedDraw(setCount: number, perEpoch: number, seed: number, epoch: number): Uint32Array {
  const out = new Uint32Array(perEpoch);
  if (perEpoch > 0 && setCount < 1) throw new Error('internal: no generated images to draw from');
  const drawSeed = hashInts(seed, DRAW_SALT, epoch);
  for (let cycle = 0; cycle * setCount < perEpoch; cycle++) {
    const perm = epochPermutation(setCount, drawSeed, cycle);
    const first = cycle * setCount;
    out.set(perm.subarray(0, Math.min(setCount, perEpoch - first)), first);
  }
  return out;
}

/**
 * The rows of `epoch` in training order: `realRows` plus, when `generated`
 * is given, its draw for the epoch (as rows `base + g`), shuffled together by
 * `epochPermutation(total, seed, epoch)`. Without generated rows this is the
 * plain seeded shuffle of the real rows the trainer has always used.
 */
export function mixedEpochRows(realRows: Uint32Array, seed: number, epoch: number, generated?: GeneratedRows): Uint32Array {
  const extra = generated ? generatedDraw(generated.setCount, generated.perEpoch, seed, epoch) : new Uint32Array(0);
  const pool = new Uint32Array(realRows.length + extra.length);
  pool.set(realRows);
  for (let j = 0; j < extra.length; j++) pool[realRows.length + j] = generated!.base + extra[j];
  const order = epochPermutation(pool.length, seed, epoch);
  return order.map((i) => pool[i]);
}
