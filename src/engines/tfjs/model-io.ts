/**
 * Saves and loads a TensorFlow.js LayersModel as a folder holding the standard
 * `model.json` + `weights.bin`, without tfjs-node (plain tfjs has no file://
 * handler). The folder loads in any TensorFlow.js (tf.loadLayersModel) with no
 * ganpool code.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  binaryTopologyError,
  modelJsonInvalidError,
  modelJsonMissingError,
  weightsLengthError,
  weightsMissingError,
  notOwnedByGanpool,
  writeFailed,
} from '../../errors.js';
import { fsyncDir, fsyncFile } from '../../util/atomic.js';
import { lstatOrNull, ownedFolderFiles, removeOwnedFolder } from '../../util/owned.js';

/** The model description file in an exported model folder. */
export const MODEL_JSON = 'model.json';
/** The weights file dirSaver writes. */
export const WEIGHTS_BIN = 'weights.bin';

const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

/** Builds the standard tfjs `model.json` object for artifacts whose weights go into one `weights.bin`. */
function toModelJson(artifacts: tf.io.ModelArtifacts): tf.io.ModelJSON {
  const json: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology as object,
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
    convertedBy: null,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
  };
  if (artifacts.trainingConfig !== undefined) json.trainingConfig = artifacts.trainingConfig;
  if (artifacts.userDefinedMetadata !== undefined) json.userDefinedMetadata = artifacts.userDefinedMetadata;
  return json;
}

/** True for the names a model folder written by {@link dirSaver} holds. */
function isModelFile(name: string): boolean {
  return name === MODEL_JSON || name === WEIGHTS_BIN;
}

/** What a model folder holds, for the message that refuses to replace one that does not. */
const MODEL_CONTENT = `a folder of ${MODEL_JSON} and ${WEIGHTS_BIN}`;

/** Writes and fsyncs one file of a new model folder. */
function writeSynced(path: string, data: Uint8Array | string): void {
  const fd = openSync(path, 'wx');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncFile(fd, path);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces folder `dir` with folder `fresh`: old one renamed away, new one
 * renamed in, the parent synced, old one removed. Only a model folder ganpool
 * wrote is replaced: a link or a folder holding other files is a
 * GanpoolDataError, and nothing is moved.
 */
function swapInto(fresh: string, dir: string): void {
  const there = lstatOrNull(dir) !== null;
  if (there && ownedFolderFiles(dir, isModelFile) === null) throw notOwnedByGanpool(dir, MODEL_CONTENT);
  const old = there ? `${dir}.old-${process.pid}-${Date.now()}` : undefined;
  if (old) renameSync(dir, old);
  try {
    renameSync(fresh, dir);
  } catch (e) {
    if (old) renameSync(old, dir);
    throw e;
  }
  fsyncDir(dirname(dir));
  if (old) removeOwnedFolder(old, isModelFile);
}

/** An IOHandler whose save() writes `model.json` + `weights.bin` into `dir`, replacing it as atomically as the file system allows. */
export function dirSaver(dir: string): tf.io.IOHandler {
  const target = resolve(dir);
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) throw binaryTopologyError(target);
      const weights = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Date.now()}`);
      let made = false;
      try {
        mkdirSync(dirname(target), { recursive: true });
        mkdirSync(tmp);
        made = true;
        writeSynced(join(tmp, WEIGHTS_BIN), new Uint8Array(weights));
        writeSynced(join(tmp, MODEL_JSON), JSON.stringify(toModelJson(artifacts)));
        fsyncDir(tmp);
        swapInto(tmp, target);
      } catch (e) {
        throw writeFailed(target, e);
      } finally {
        if (made) removeOwnedFolder(tmp, isModelFile);
      }
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

/** Reads and checks `model.json`: valid JSON with a modelTopology and a weightsManifest. */
function readModelJson(file: string): tf.io.ModelJSON {
  if (!existsSync(file)) throw modelJsonMissingError(file);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw modelJsonInvalidError(file, `not valid JSON (${(e as Error).message})`);
  }
  const m = json as Partial<tf.io.ModelJSON> | null;
  if (typeof m !== 'object' || m === null || typeof m.modelTopology !== 'object' || m.modelTopology === null) {
    throw modelJsonInvalidError(file, 'no modelTopology object');
  }
  if (!Array.isArray(m.weightsManifest)) throw modelJsonInvalidError(file, 'no weightsManifest array');
  return m as tf.io.ModelJSON;
}

/** The byte length of one weight as stored (quantized weights use their storage dtype); undefined for strings. */
function storedBytes(spec: tf.io.WeightsManifestEntry): number | undefined {
  const per = BYTES_PER_ELEMENT[spec.quantization?.dtype ?? spec.dtype];
  return per === undefined ? undefined : spec.shape.reduce((a, b) => a * b, 1) * per;
}

/** Reads one manifest group's shard files, concatenated, and checks the total length against its weight specs. */
function readGroup(dir: string, group: tf.io.WeightsManifestConfig[number]): ArrayBuffer {
  const files = group.paths.map((p) => join(dir, p));
  const parts = files.map((f) => {
    if (!existsSync(f)) throw weightsMissingError(f);
    return readFileSync(f);
  });
  const data = Buffer.concat(parts);
  const sizes = group.weights.map(storedBytes);
  if (sizes.every((s) => s !== undefined)) {
    const expected = (sizes).reduce((a, b) => a + b, 0);
    if (data.length !== expected) throw weightsLengthError(files.join(', '), expected, data.length);
  }
  return new Uint8Array(data).buffer;
}

/** An IOHandler whose load() reads a model folder written by dirSaver (or any standard tfjs model.json + shards). */
export function dirLoader(dir: string): tf.io.IOHandler {
  const root = resolve(dir);
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const modelJson = readModelJson(join(root, MODEL_JSON));
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs = manifest.flatMap((g) => g.weights);
        const buffers = manifest.map((g) => readGroup(root, g));
        return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
      });
    },
  };
}

/** Saves a LayersModel to folder `dir` (model.json + weights.bin). */
export async function saveLayersModel(model: tfl.LayersModel, dir: string): Promise<tf.io.SaveResult> {
  return model.save(dirSaver(dir));
}

/** Loads a LayersModel from a folder holding model.json + weights. */
export async function loadLayersModel(dir: string): Promise<tfl.LayersModel> {
  return tfl.loadLayersModel(dirLoader(dir));
}
