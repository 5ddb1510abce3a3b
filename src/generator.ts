/**
 * An exported generator (a TensorFlow.js LayersModel folder, OUT/generator)
 * loaded on the current thread, and images drawn from it with the same latent
 * noise as `GanTrainer.sample(n, seed)`. Used by `ganpool sample` and `ganpool eval`.
 */
import { existsSync, statSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { loadLayersModel } from './model-io.js';
import { initBackend } from './tf-backend.js';
import type { BackendName } from './backend.js';
import { latentNoise, NoiseStream } from './rng.js';
import { generatorDirMissing, generatorNotAGenerator, evalImageShapeMismatch } from './errors.js';

/** Latent vectors per forward pass. */
const BATCH = 500;

/** A loaded generator: latent size, image shape, and the seed of the run that exported it (when recorded). */
export interface LoadedGenerator {
  model: tfl.LayersModel;
  latentDim: number;
  imageShape: [number, number, number];
  seed: number | undefined;
}

/** Loads a generator folder (on this thread's `backend`) and checks it maps latent vectors to images. */
export async function loadGenerator(dir: string, backend: BackendName = 'wasm'): Promise<LoadedGenerator> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw generatorDirMissing(dir);
  await initBackend(backend);
  const model = await loadLayersModel(dir);
  const input = model.inputs[0]!.shape, output = model.outputs[0]!.shape;
  if (model.inputs.length !== 1 || model.outputs.length !== 1 || input.length !== 2 || typeof input[1] !== 'number' ||
    output.length !== 4 || output.slice(1).some((d) => d === null) || ![1, 3].includes(output[3]!)) {
    throw generatorNotAGenerator(dir, input, output);
  }
  const seed = (model.getUserDefinedMetadata() as { ganpool?: { seed?: unknown } } | undefined)?.ganpool?.seed;
  return {
    model, latentDim: input[1], imageShape: output.slice(1) as [number, number, number],
    seed: Number.isInteger(seed) ? (seed as number) : undefined,
  };
}

/** Throws unless the generator's images have the shape `expected` (the data set's / classifier's). */
export function checkGeneratorShape(gen: Pick<LoadedGenerator, 'imageShape'>, expected: readonly number[], what: string): void {
  if (gen.imageShape.join() !== expected.join()) throw evalImageShapeMismatch(what, gen.imageShape, expected);
}

/** `n` images (NHWC, as the generator outputs them, normally [-1, 1]) for latent noise keyed by `seed`. */
export function generateImages(gen: LoadedGenerator, n: number, seed: number): Float32Array {
  const [h, w, c] = gen.imageShape;
  const size = h * w * c, latent = gen.latentDim;
  const out = new Float32Array(n * size);
  for (let first = 0; first < n; first += BATCH) {
    const rows = Math.min(BATCH, n - first);
    const z = latentNoise(new Float32Array(rows * latent), seed, 0, NoiseStream.Sample, first, latent);
    const images = tf.tidy(() => gen.model.predict(tf.tensor2d(z, [rows, latent])) as tf.Tensor);
    out.set(images.dataSync() as Float32Array, first * size);
    images.dispose();
  }
  return out;
}
