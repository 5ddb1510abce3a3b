/**
 * An exported generator loaded on the current thread, and images drawn from
 * it with the same latent noise as `GanTrainer.sample(n, seed)`. Used by
 * `ganpool sample` and `ganpool eval`. Two formats:
 *
 * - a TensorFlow.js LayersModel folder (OUT/generator), run by TensorFlow.js;
 * - an ONNX model file (OUT/generator.onnx), run by ONNX Runtime.
 *
 * A conditional generator (two inputs, `z` and `label`) draws each image of a
 * given class; without given classes they are drawn uniformly, keyed by the seed.
 */
import { onnxExternalTensor, onnxMetadataProps } from '../engines/onnx/proto.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type * as Ort from 'onnxruntime-node';
import type { Tensor } from '@tensorflow/tfjs-core';
import { onnxAvailability, type BackendName } from '../engines/backend.js';
import { latentNoise, NoiseStream, randomLabels } from '../util/rng.js';
import {
  generatorDirMissing, generatorNotAGenerator, evalImageShapeMismatch,
  generatorNotOnnx, generatorOnnxLoadFailed, generatorOnnxUnavailable, onnxExternalDataError,
} from '../errors.js';

/** Latent vectors per forward pass. */
export const GENERATE_BATCH = 500;

/** What a generator's ganpool metadata records about the run that exported it (each field only when present and well-typed). */
export interface GeneratorProvenance {
  /** The run's seed. */
  seed?: number;
  /** Training steps behind the weights. */
  step?: number;
  /** The model preset. */
  model?: string;
  /** The data set it was trained on. */
  dataset?: string;
}

/** A loaded generator, whichever engine runs it. */
export interface LoadedGenerator {
  latentDim: number;
  /** Height, width, channels of its images. */
  imageShape: [number, number, number];
  /** The seed of the run that exported it, when recorded. */
  seed: number | undefined;
  /** The run's seed, step, model and data set, as far as its metadata records them. */
  provenance: GeneratorProvenance;
  /** 'tfjs': a LayersModel folder; 'onnx': an ONNX model file. */
  format: 'tfjs' | 'onnx';
  /** Classes of a conditional generator (it takes a `label` input); 0 for an unconditional one. */
  classes: number;
  /**
   * Images (NHWC, as the generator outputs them, normally [-1, 1]) for `n`
   * latent vectors `z` (n × latentDim) and, for a conditional generator, the
   * class of each (`labels`, n values in [0, classes); required there).
   */
  generate(z: Float32Array, n: number, labels?: Int32Array): Promise<Float32Array>;
  /** Releases the model (its tensors or its ONNX Runtime session). */
  dispose(): Promise<void>;
}

type Dims = readonly (number | null)[];

/** A generator maps [batch, latent] to [batch, height, width, 1|3]. */
function isGenerator(input: Dims, output: Dims): boolean {
  return input.length === 2 && typeof input[1] === 'number' && output.length === 4 &&
    output.slice(1).every((d) => typeof d === 'number') && [1, 3].includes(output[3]!);
}

/** A conditional generator's label input: [batch] or [batch, 1] class indices. */
function isLabelInput(label: Dims): boolean {
  return (label.length === 1 || (label.length === 2 && label[1] === 1));
}

/** The `classes` of a GeneratorMetadata-like object, when it is a whole number above 0; else 0. */
function classesOf(meta: unknown): number {
  const classes = (meta as { classes?: unknown } | null | undefined)?.classes;
  return Number.isInteger(classes) && (classes as number) > 0 ? (classes as number) : 0;
}

/** The labels of a conditional generate() call, checked. */
function labelsFor(classes: number, n: number, labels: Int32Array | undefined): Int32Array {
  if (labels?.length !== n) throw new Error(`internal: a conditional generator needs ${n} labels, got ${labels?.length ?? 'none'}`);
  if (labels.some((y) => y < 0 || y >= classes)) throw new Error(`internal: labels outside [0, ${classes})`);
  return labels;
}

/** The `seed` of a GeneratorMetadata-like object, when it is a whole number. */
function seedOf(meta: unknown): number | undefined {
  const seed = (meta as { seed?: unknown } | null | undefined)?.seed;
  return Number.isInteger(seed) ? (seed as number) : undefined;
}

/** The seed, step, model and data set of a GeneratorMetadata-like object, those that are well-typed. */
function provenanceOf(meta: unknown): GeneratorProvenance {
  const m = (meta ?? {}) as Record<string, unknown>;
  const out: GeneratorProvenance = {};
  const seed = seedOf(meta);
  if (seed !== undefined) out.seed = seed;
  if (Number.isInteger(m.step)) out.step = m.step as number;
  if (typeof m.model === 'string') out.model = m.model;
  if (typeof m.dataset === 'string') out.dataset = m.dataset;
  return out;
}

/**
 * Loads an exported generator: a LayersModel folder or an ONNX model file.
 * A folder runs on TensorFlow.js `backend` in this thread (onnx or none
 * means wasm); an ONNX file always runs on ONNX Runtime. Checks it maps
 * latent vectors to images.
 */
export async function loadGenerator(path: string, backend?: BackendName): Promise<LoadedGenerator> {
  if (!existsSync(path)) throw generatorDirMissing(path);
  return statSync(path).isDirectory() ? loadTfjsGenerator(path, backend) : loadOnnxGenerator(path);
}

async function loadTfjsGenerator(dir: string, backend: BackendName | undefined): Promise<LoadedGenerator> {
  const [tf, { initBackend }, { loadLayersModel }] = await Promise.all([
    import('@tensorflow/tfjs-core'), import('../engines/tfjs/tf-backend.js'), import('../engines/tfjs/model-io.js'),
  ]);
  await initBackend(backend === undefined || backend === 'onnx' ? 'wasm' : backend);
  const model = await loadLayersModel(dir);
  const meta = (model.getUserDefinedMetadata() as { ganpool?: unknown } | undefined)?.ganpool;
  const input = model.inputs[0].shape, output = model.outputs[0].shape;
  const classes = model.inputs.length === 2 ? classesOf(meta) : 0;
  const inputsOk = model.inputs.length === 1 || (classes > 0 && isLabelInput(model.inputs[1].shape));
  if (!inputsOk || model.outputs.length !== 1 || !isGenerator(input, output)) {
    const counts: [number, number] = [model.inputs.length, model.outputs.length];
    model.dispose();
    throw generatorNotAGenerator(dir, input, output, counts);
  }
  const latentDim = input[1]!;
  return {
    latentDim, imageShape: output.slice(1) as [number, number, number], format: 'tfjs', classes, seed: seedOf(meta), provenance: provenanceOf(meta),
    async generate(z: Float32Array, n: number, labels?: Int32Array): Promise<Float32Array> {
      const images = tf.tidy(() => {
        const zs = tf.tensor2d(z, [n, latentDim]);
        const ins = classes > 0 ? [zs, tf.tensor2d(labelsFor(classes, n, labels), [n, 1], 'int32')] : zs;
        return model.predict(ins) as Tensor;
      });
      try {
        return (await images.data()) as Float32Array;
      } finally {
        images.dispose();
      }
    },
    async dispose(): Promise<void> { model.dispose(); },
  };
}

async function loadOnnxGenerator(file: string): Promise<LoadedGenerator> {
  const bytes = new Uint8Array(readFileSync(file));
  let props: Map<string, string>;
  let external: string | null;
  try {
    props = onnxMetadataProps(bytes);
    external = onnxExternalTensor(bytes);
  } catch (e) {
    throw generatorNotOnnx(file, (e as Error).message);
  }
  if (external !== null) throw onnxExternalDataError(file, external);
  const available = onnxAvailability();
  if (!available.ok) throw generatorOnnxUnavailable(file, available.reason);
  const ort = await import('onnxruntime-node');
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: availableParallelism(), interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
    });
  } catch (e) {
    throw generatorOnnxLoadFailed(file, e);
  }
  const dims = (m: Ort.InferenceSession.ValueMetadata | undefined): Dims =>
    m?.isTensor ? m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : null)) : [];
  const inMeta = session.inputMetadata, outMeta = session.outputMetadata;
  const input = dims(inMeta[0]), output = dims(outMeta[0]);
  const floatTensor = (m: Ort.InferenceSession.ValueMetadata | undefined): boolean => m?.isTensor === true && m.type === 'float32';
  let meta: unknown;
  try {
    meta = JSON.parse(props.get('ganpool') ?? 'null');
  } catch {
    meta = null;
  }
  const labelMeta = inMeta[1];
  const classes = inMeta.length === 2 ? classesOf(meta) : 0;
  const inputsOk = inMeta.length === 1 ||
    (classes > 0 && labelMeta?.isTensor === true && labelMeta.type === 'int64' && isLabelInput(dims(labelMeta)));
  if (!inputsOk || outMeta.length !== 1 || !floatTensor(inMeta[0]) || !floatTensor(outMeta[0]) || !isGenerator(input, output)) {
    await session.release();
    throw generatorNotAGenerator(file, input, output, [inMeta.length, outMeta.length]);
  }
  const latentDim = input[1]!, inputName = inMeta[0].name, outputName = outMeta[0].name;
  return {
    latentDim, imageShape: output.slice(1) as [number, number, number], format: 'onnx', classes, seed: seedOf(meta), provenance: provenanceOf(meta),
    async generate(z: Float32Array, n: number, labels?: Int32Array): Promise<Float32Array> {
      const feeds: Record<string, Ort.Tensor> = { [inputName]: new ort.Tensor('float32', z, [n, latentDim]) };
      if (classes > 0) feeds[labelMeta.name] = new ort.Tensor('int64', BigInt64Array.from(labelsFor(classes, n, labels), BigInt), [n]);
      const result = await session.run(feeds);
      const images = result[outputName];
      try {
        return new Float32Array(images.data as Float32Array);
      } finally {
        images.dispose();
      }
    },
    async dispose(): Promise<void> { await session.release(); },
  };
}

/** Throws unless the generator's images have the shape `expected` (the data set's / classifier's). */
export function checkGeneratorShape(gen: Pick<LoadedGenerator, 'imageShape'>, expected: readonly number[], what: string): void {
  if (gen.imageShape.join() !== expected.join()) throw evalImageShapeMismatch(what, gen.imageShape, expected);
}

/**
 * `n` images (NHWC, as the generator outputs them, normally [-1, 1]) for
 * latent noise keyed by `seed`: image i from the same noise vector and class
 * as `GanTrainer.sample(n, seed, labels)`. A conditional generator draws
 * image i of class `labels[i]`, or without `labels` of a class drawn
 * uniformly, keyed by `seed`; an unconditional one ignores `labels`.
 */
export async function generateImages(gen: LoadedGenerator, n: number, seed: number, labels?: Int32Array): Promise<Float32Array> {
  const [h, w, c] = gen.imageShape;
  const out = new Float32Array(n * h * w * c);
  for await (const batch of imageBatches(gen, n, seed, labels)) out.set(batch.images, batch.first * h * w * c);
  return out;
}

/** One forward pass of {@link imageBatches}: images `first` to `first + rows - 1`. */
export interface ImageBatch {
  first: number;
  rows: number;
  /** rows × H × W × C values, NHWC. */
  images: Float32Array;
}

/**
 * The images of {@link generateImages}, one forward pass of up to
 * {@link GENERATE_BATCH} at a time, in order, so that a large set need not be
 * held in memory at once (image i is the same either way).
 */
export async function* imageBatches(gen: LoadedGenerator, n: number, seed: number, labels?: Int32Array): AsyncGenerator<ImageBatch> {
  const latent = gen.latentDim;
  const classes = gen.classes > 0 ? labels ?? randomLabels(new Int32Array(n), seed, 0, NoiseStream.Sample, 0, gen.classes) : null;
  for (let first = 0; first < n; first += GENERATE_BATCH) {
    const rows = Math.min(GENERATE_BATCH, n - first);
    const z = latentNoise(new Float32Array(rows * latent), seed, 0, NoiseStream.Sample, first, latent);
    yield { first, rows, images: await gen.generate(z, rows, classes?.subarray(first, first + rows)) };
  }
}
