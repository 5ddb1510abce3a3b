/**
 * A semi-supervised run's picture: 100 images of its G (the feature-matching
 * generator) tiled 10 × 10 into OUT/samples.png, drawn once at the end with
 * TensorFlow.js's cpu backend from G's final parameters. The latent vectors
 * are a pure function of the seed, so the same run draws the same grid.
 */
import { join } from 'node:path';
import { semiGForward } from '../engines/tfjs/semi.js';
import { initBackend } from '../engines/tfjs/tf-backend.js';
import { gridPng } from '../generator/grid.js';
import { semiParams, type SemiSpec } from '../models/semi.js';
import { writeFileAtomic } from '../util/atomic.js';
import { hashInts, sfc32 } from '../util/rng.js';

/** The grid's file in a run folder. */
export const SEMI_SAMPLES_PNG = 'samples.png';

/** Images in the grid (whole batch-norm groups of G). */
export const SEMI_SAMPLES = 100;

/** G's images for `SEMI_SAMPLES` latent vectors keyed by `seed`, NHWC in [-1, 1] (unclamped). */
export async function semiSamples(spec: SemiSpec, gParams: Float32Array, seed: number): Promise<Float32Array> {
  if (SEMI_SAMPLES % spec.bnGroup !== 0) throw new Error(`internal: ${SEMI_SAMPLES} samples are not whole batch-norm groups of ${spec.bnGroup}`);
  const tf = await initBackend('cpu');
  return tf.tidy(() => {
    let offset = 0;
    const params = semiParams(spec, 'g').map((p) => {
      const n = p.shape.reduce((a, b) => a * b, 1);
      const t = tf.tensor(gParams.subarray(offset, offset + n), p.shape);
      offset += n;
      return t;
    });
    if (offset !== gParams.length) throw new Error(`internal: ${gParams.length} parameters for a G of ${offset}`);
    const z = new Float32Array(SEMI_SAMPLES * spec.latentDim);
    for (let r = 0; r < SEMI_SAMPLES; r++) {
      const next = sfc32(hashInts(seed, 0x5a3e, r));
      for (let j = 0; j < spec.latentDim; j++) z[r * spec.latentDim + j] = next();
    }
    const images = semiGForward(tf, spec, params, tf.tensor2d(z, [SEMI_SAMPLES, spec.latentDim]));
    return images.dataSync() as Float32Array;
  });
}

/** Writes OUT/samples.png (atomically) and returns its path. */
export async function writeSemiSamples(out: string, spec: SemiSpec, gParams: Float32Array, seed: number): Promise<string> {
  const file = join(out, SEMI_SAMPLES_PNG);
  const png = await gridPng(await semiSamples(spec, gParams, seed), spec.imageShape, { cols: 10, pad: 2 });
  await writeFileAtomic(file, png);
  return file;
}
