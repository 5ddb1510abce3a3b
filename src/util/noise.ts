/**
 * Latent noise and label draws: counter-based, so the vector for sample `i`
 * of step `t` in phase `p` is a pure function of (seed, t, p, i) and any
 * sharding of a batch across any number of workers draws exactly the same
 * numbers.
 *
 * This module imports nothing and uses nothing of Node: `ganpool view` serves
 * its compiled JavaScript to the browser (src/view/browser-modules.ts), so the
 * page draws the very noise `ganpool sample` draws. Keep it that way.
 */

/** Which stream a latent batch is drawn from. */
export const NoiseStream = { Discriminator: 0, Generator: 1, Sample: 2, Score: 3, Calibration: 4 } as const;
/** One of the values of {@link NoiseStream}. */
export type NoiseStream = (typeof NoiseStream)[keyof typeof NoiseStream];

/** murmur3's 32-bit finaliser: a bijective mixer with full avalanche. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes a list of 32-bit integers into one 32-bit value. */
export function hashInts(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) h = fmix32((h ^ (x >>> 0)) + 0x7f4a7c15);
  return h;
}

/** A small fast PRNG (sfc32) returning uniforms in [0, 1). */
export function sfc32(seed: number): () => number {
  let a = hashInts(seed, 1), b = hashInts(seed, 2), c = hashInts(seed, 3), d = 1;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

/**
 * Fills `out` (rows × dim, row-major) with standard normal noise; row r is
 * the latent vector of global sample `firstIndex + r` of (seed, step, stream).
 */
export function latentNoise(
  out: Float32Array, seed: number, step: number, stream: NoiseStream, firstIndex: number, dim: number,
): Float32Array {
  const rows = out.length / dim;
  for (let r = 0; r < rows; r++) {
    const next = sfc32(hashInts(seed, step, stream, firstIndex + r));
    for (let j = 0; j < dim; j += 2) {
      // Box–Muller: two normals from two uniforms; 1 - u keeps log away from 0.
      const u = 1 - next(), v = next();
      const radius = Math.sqrt(-2 * Math.log(u));
      out[r * dim + j] = radius * Math.cos(2 * Math.PI * v);
      if (j + 1 < dim) out[r * dim + j + 1] = radius * Math.sin(2 * Math.PI * v);
    }
  }
  return out;
}

/** Salt that keeps the label draws apart from the latent noise drawn under the same key. */
const LABEL_SALT = 0x1abe1;

/**
 * Fills `out` with classes in [0, classes), uniform: entry r is the class of
 * global sample `firstIndex + r` of (seed, step, stream), a pure function of
 * that key like {@link latentNoise}, so any sharding draws the same labels.
 */
export function randomLabels(
  out: Int32Array, seed: number, step: number, stream: NoiseStream, firstIndex: number, classes: number,
): Int32Array {
  for (let r = 0; r < out.length; r++) {
    out[r] = Math.floor((hashInts(seed, step, stream, firstIndex + r, LABEL_SALT) / 4294967296) * classes);
  }
  return out;
}
