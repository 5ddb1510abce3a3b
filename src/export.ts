/**
 * The exported generator: OUT/generator/ in the standard TensorFlow.js
 * LayersModel format (model.json + weights.bin), loadable with
 * tf.loadLayersModel and no ganpool code. A worker serialises its generator;
 * the main thread writes the files (replacing the folder by rename).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ExportResult } from './protocol.js';

/** The exported generator's folder inside a run directory. */
export const GENERATOR_DIR = 'generator';

/** What ganpool records in model.json's userDefinedMetadata.ganpool. */
export interface GeneratorMetadata {
  /** The run's seed: `ganpool sample` uses it by default, so it reproduces the run's grid. */
  seed: number;
  /** Training steps behind these weights. */
  step: number;
  model: string;
  dataset: string;
  /** Height, width, channels of the generated images. */
  imageShape: [number, number, number];
  latentDim: number;
}

/** Writes a worker's generator artifacts to `dir` (model.json + weights.bin), replacing what was there. */
export async function writeGenerator(dir: string, artifacts: ExportResult, metadata: GeneratorMetadata): Promise<void> {
  const full: tf.io.ModelArtifacts = {
    modelTopology: artifacts.modelTopology,
    weightSpecs: artifacts.weightSpecs as tf.io.WeightsManifestEntry[],
    weightData: artifacts.weightData,
    userDefinedMetadata: { ganpool: metadata as unknown as {} },
  };
  if (artifacts.format !== undefined) full.format = artifacts.format;
  if (artifacts.generatedBy !== undefined) full.generatedBy = artifacts.generatedBy;
  const { dirSaver } = await import('./model-io.js'); // tfjs loads on the main thread only when exporting
  await dirSaver(dir).save!(full);
}
