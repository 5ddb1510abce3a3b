/**
 * The exported generator, in two forms written from the trainer's flat
 * generator weights (`trainer.generatorWeights()`):
 *
 * - OUT/generator/: the standard TensorFlow.js LayersModel format
 *   (model.json + weights.bin), loadable with tf.loadLayersModel and no
 *   ganpool code. Built as a tf.layers model on the main thread.
 * - OUT/generator.onnx: an ONNX model (input `z` [N, latent], output `images`
 *   [N, H, W, C], NHWC), loadable with any ONNX runtime.
 *
 * A conditional generator (preset.classes > 0) takes a second input, `label`:
 * the class of each image (int32 [N, 1] in the LayersModel, int64 [N] in ONNX).
 *
 * Both replace what was there by rename, so a reader never sees half a file.
 */
import { bnLayers, bnStatsSize, paramCount, paramShapes, sizeOf, type ModelPreset } from '../models/presets.js';
import { writeFileAtomic } from '../util/atomic.js';

/** The exported generator's folder inside a run directory. */
export const GENERATOR_DIR = 'generator';
/** The exported ONNX generator's file inside a run directory. */
export const GENERATOR_ONNX = 'generator.onnx';
/** The ONNX generator's input: latent vectors [N, latentDim]. */
export const ONNX_INPUT = 'z';
/** A conditional ONNX generator's second input: class indices, int64 [N]. */
export const ONNX_LABEL_INPUT = 'label';
/** The ONNX generator's output: images [N, height, width, channels] (NHWC, tanh range [-1, 1]). */
export const ONNX_OUTPUT = 'images';

/** What ganpool records in model.json's userDefinedMetadata.ganpool (and as JSON under the ONNX model's metadata key `ganpool`). */
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
  /** Classes of a conditional generator (it takes a `label` input beside `z`); 0 or absent: unconditional. */
  classes?: number;
  /** The inputs, in order, described (name: type [shape], meaning); see {@link generatorInputs}. */
  inputs?: string[];
}

/** Descriptions of a generator's inputs: `z`, and for a conditional generator `label` (`labelType` as the format stores it). */
export function generatorInputs(latentDim: number, classes: number, labelType = 'int32 [N, 1]'): string[] {
  const z = `${ONNX_INPUT}: float32 [N, ${latentDim}], latent vectors (standard normal)`;
  return classes > 0 ? [z, `${ONNX_LABEL_INPUT}: ${labelType}, the class of each image, 0 to ${classes - 1}`] : [z];
}

/** The generator's weights as the trainer holds them. */
export interface GeneratorWeights {
  /** Trainable parameters, flat, in paramShapes(preset.generator) order (tf.layers shapes). */
  params: Float32Array;
  /** Batch-norm moving statistics: per BN layer (bnLayers order) C means then C variances; empty without BN. */
  bn: Float32Array;
}

function checkWeights(preset: ModelPreset, weights: GeneratorWeights): void {
  const params = paramCount(preset.generator), bn = bnStatsSize(preset.generator);
  if (weights.params.length !== params || weights.bn.length !== bn) {
    throw new Error(`internal: generator weights of ${weights.params.length} parameters + ${weights.bn.length} BN statistics ` +
      `do not fit preset '${preset.name}' (${params} + ${bn})`);
  }
}

/**
 * Writes the generator as a TensorFlow.js LayersModel folder `dir`
 * (model.json + weights.bin), replacing what was there. Runs TensorFlow.js on
 * this thread: on the backend already active here (the inline executor's), or
 * else on 'cpu'; it never switches an active backend.
 */
export async function writeGenerator(dir: string, preset: ModelPreset, weights: GeneratorWeights, metadata: GeneratorMetadata): Promise<void> {
  checkWeights(preset, weights);
  // TensorFlow.js loads on the main thread only when exporting.
  const [tf, { initBackend }, { buildNet }, { dirSaver }] = await Promise.all([
    import('@tensorflow/tfjs-core'), import('../engines/tfjs/tf-backend.js'),
    import('../engines/tfjs/build-model.js'), import('../engines/tfjs/model-io.js'),
  ]);
  if (!tf.engine().backendName) await initBackend('cpu');
  const conditional = preset.classes > 0 ? (await import('./conditional-model.js')).buildConditionalGenerator(preset) : null;
  const model = conditional?.model ?? buildNet(preset.generator, 'generator').model;
  try {
    conditional?.writeParams(weights.params);
    tf.tidy(() => {
      let offset = 0;
      if (!conditional) {
        paramShapes(preset.generator).forEach((p, i) => {
          const n = sizeOf(p.shape);
          model.trainableWeights[i].write(tf.tensor(weights.params.subarray(offset, offset + n), p.shape));
          offset += n;
        });
      }
      const bnSpecs = bnLayers(preset.generator);
      const bnModelLayers = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
      if (bnModelLayers.length !== bnSpecs.length) throw new Error('internal: the built generator has other batch-norm layers than its spec');
      offset = 0;
      bnSpecs.forEach(({ channels: c }, k) => {
        const moving = bnModelLayers[k].nonTrainableWeights;
        const mean = moving.find((w) => /moving_mean$/.test(w.originalName));
        const variance = moving.find((w) => /moving_variance$/.test(w.originalName));
        if (!mean || !variance) throw new Error('internal: a batch-norm layer without moving statistics');
        mean.write(tf.tensor1d(weights.bn.subarray(offset, offset + c)));
        variance.write(tf.tensor1d(weights.bn.subarray(offset + c, offset + 2 * c)));
        offset += 2 * c;
      });
    });
    const inputs = generatorInputs(metadata.latentDim, preset.classes);
    model.setUserDefinedMetadata({ ganpool: { ...metadata, classes: preset.classes, inputs } as unknown as object });
    await model.save(dirSaver(dir));
  } finally {
    model.dispose();
  }
}

/** The ONNX generator's metadata_props: the GeneratorMetadata JSON under `ganpool`, and readable descriptions of its input and output. */
export function onnxMetadata(metadata: GeneratorMetadata): Record<string, string> {
  const [h, w, c] = metadata.imageShape;
  const classes = metadata.classes ?? 0;
  const inputs = generatorInputs(metadata.latentDim, classes, 'int64 [N]');
  return {
    ganpool: JSON.stringify({ ...metadata, classes, inputs }),
    input: inputs.join('; '),
    output: `${ONNX_OUTPUT}: float32 [N, ${h}, ${w}, ${c}], images NHWC (height, width, channels) in [-1, 1]`,
    model: metadata.model,
    dataset: metadata.dataset,
    step: String(metadata.step),
    seed: String(metadata.seed),
  };
}

/**
 * Writes the generator as an ONNX model `file` (input `z` [N, latent], and
 * `label` int64 [N] for a conditional preset; output `images` [N, H, W, C]; parameters and batch-norm statistics as
 * initializers; {@link onnxMetadata} as metadata_props), replacing what was
 * there (temp file + rename). Needs no ONNX Runtime.
 */
export async function writeGeneratorOnnx(file: string, preset: ModelPreset, weights: GeneratorWeights, metadata: GeneratorMetadata): Promise<void> {
  checkWeights(preset, weights);
  const { generatorOnnx } = await import('../engines/onnx/compile.js');
  await writeFileAtomic(file, generatorOnnx(preset, weights.params, weights.bn, onnxMetadata({ ...metadata, classes: preset.classes })));
}
