/**
 * The AnoGAN latent search on one batch of images, on one thread: for each
 * image, `starts` seeded latent vectors each take `steps` Adam steps down the
 * objective recon = (1 − λ)·pixel + λ·feature (src/engines/engine.ts,
 * LatentOutput); the image keeps the lowest recon seen at any start and step,
 * with its two distances and G(z). All starts of all images run as one batch
 * through the engine, padded to `padTo` images (copies of the last one, whose
 * results are dropped): ONNX Runtime's matrix kernels round a batch's last
 * rows differently when the batch is not a multiple of their block, so a
 * fixed batch size keeps an image's numbers independent of how many images
 * its chunk holds. Every row's numbers then depend only on its image, its
 * position in the chunk, its noise key and the settings.
 */
import { latentNoise, type NoiseStream } from '../util/rng.js';
import type { Engine } from '../engines/engine.js';
import type { ScoreResult, SearchSettings } from './protocol.js';

/** Adam's constants for z (the learning rate is a setting). */
const BETA1 = 0.9, BETA2 = 0.999, EPSILON = 1e-8;

/** What one search needs beside the engine. */
export interface LatentSearch extends SearchSettings {
  /** The images, count × H×W×C, NHWC, in [-1, 1]. */
  images: Float32Array;
  count: number;
  /** Each image's noise key. */
  keys: ArrayLike<number>;
  /** Pad the batch to this many images (at least `count`; default `count`). */
  padTo?: number;
  latentDim: number;
  gBn: Float32Array;
  dBn: Float32Array;
}

/** Start s of every image, row r·starts + s: latent noise (seed, s, stream, key_r). */
export function searchStarts(keys: ArrayLike<number>, starts: number, seed: number, stream: number, latentDim: number): Float32Array {
  const z = new Float32Array(keys.length * starts * latentDim);
  for (let r = 0; r < keys.length; r++) {
    for (let s = 0; s < starts; s++) {
      const row = r * starts + s;
      latentNoise(z.subarray(row * latentDim, (row + 1) * latentDim), seed, s, stream as NoiseStream, keys[r], latentDim);
    }
  }
  return z;
}

/** Runs the search (see the module doc); D's logits come from `engine.discriminate`. */
export async function latentSearch(engine: Engine, q: LatentSearch): Promise<ScoreResult> {
  const { starts, latentDim: L } = q;
  const P = q.images.length / q.count;
  const padded = padImages(q.images, q.count, Math.max(q.count, q.padTo ?? q.count), P);
  const r = await searchBatch(engine, { ...q, images: padded.images, count: padded.count, keys: padded.keys(q.keys) }, P, starts, L);
  if (padded.count === q.count) return r;
  const n = q.count;
  return {
    dLogit: r.dLogit.slice(0, n), pixel: r.pixel.slice(0, n), feature: r.feature.slice(0, n), recon: r.recon.slice(0, n),
    images: r.images.slice(0, n * P), initialRecon: r.initialRecon.slice(0, n),
  };
}

/** `images` (count × P) padded to `to` images with copies of the last, and the keys padded the same way. */
function padImages(images: Float32Array, count: number, to: number, P: number): { images: Float32Array; count: number; keys: (k: ArrayLike<number>) => ArrayLike<number> } {
  if (to === count) return { images, count, keys: (k) => k };
  const out = new Float32Array(to * P);
  out.set(images);
  for (let r = count; r < to; r++) out.copyWithin(r * P, (count - 1) * P, count * P);
  return { images: out, count: to, keys: (k) => Array.from({ length: to }, (_, r) => k[Math.min(r, count - 1)]) };
}

/** The search on exactly the batch given. */
async function searchBatch(engine: Engine, q: LatentSearch, P: number, starts: number, L: number): Promise<ScoreResult> {
  const { count } = q;
  const { logits, features } = await engine.discriminate(q.images, count, q.dBn);
  const F = features.length / count;
  const rows = count * starts;
  const target = new Float32Array(rows * P), targetFeatures = new Float32Array(rows * F);
  for (let r = 0; r < count; r++) {
    for (let s = 0; s < starts; s++) {
      target.set(q.images.subarray(r * P, (r + 1) * P), (r * starts + s) * P);
      targetFeatures.set(features.subarray(r * F, (r + 1) * F), (r * starts + s) * F);
    }
  }
  const z = searchStarts(q.keys, starts, q.seed, q.stream, L);
  const m = new Float64Array(z.length), v = new Float64Array(z.length);
  const out: ScoreResult = {
    dLogit: Float32Array.from(logits),
    pixel: new Float32Array(count), feature: new Float32Array(count), recon: new Float32Array(count).fill(Infinity),
    images: new Float32Array(count * P), initialRecon: new Float32Array(count).fill(Infinity),
  };
  for (let step = 0; step <= q.steps; step++) {
    const e = await engine.latent({ count: rows, z, target, targetFeatures, lambda: q.lambda }, q.gBn, q.dBn);
    for (let row = 0; row < rows; row++) {
      const r = Math.floor(row / starts);
      const value = e.recon[row];
      if (step === 0 && value < out.initialRecon[r]) out.initialRecon[r] = value;
      // Strictly lower: ties keep the earlier step and start, so the choice is deterministic.
      if (value < out.recon[r]) {
        out.recon[r] = value;
        out.pixel[r] = e.pixel[row]!;
        out.feature[r] = e.feature[row]!;
        out.images.set(e.images.subarray(row * P, (row + 1) * P), r * P);
      }
    }
    if (step === q.steps) break;
    const t = step + 1;
    const c1 = 1 - BETA1 ** t, c2 = 1 - BETA2 ** t;
    for (let i = 0; i < z.length; i++) {
      const g = e.dz[i];
      m[i] = BETA1 * m[i] + (1 - BETA1) * g;
      v[i] = BETA2 * v[i] + (1 - BETA2) * g * g;
      z[i] = z[i] - (q.lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + EPSILON);
    }
  }
  return out;
}
