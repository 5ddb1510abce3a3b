/**
 * Deterministic random numbers that do not depend on which thread draws them.
 *
 * Latent noise is counter-based: the vector for sample `i` of step `t` in
 * phase `p` is a pure function of (seed, t, p, i), so any sharding of a batch
 * across any number of workers draws exactly the same numbers (that code lives
 * in the dependency-free noise.ts, which the browser page of `ganpool view`
 * also loads; it is re-exported here). Shuffles use a small sequential
 * generator seeded from (seed, epoch).
 */

import { hashInts, sfc32 } from './noise.js';

export { NoiseStream, hashInts, sfc32, latentNoise, randomLabels } from './noise.js';

/** The permutation of `0..n-1` used for epoch `epoch` (Fisher–Yates, seeded). */
export function epochPermutation(n: number, seed: number, epoch: number): Uint32Array {
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const next = sfc32(hashInts(seed, 0x5eed, epoch));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = perm[i]; perm[i] = perm[j]!; perm[j] = t;
  }
  return perm;
}
