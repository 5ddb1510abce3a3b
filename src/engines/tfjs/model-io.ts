/**
 * Saves and loads a TensorFlow.js LayersModel as a folder holding the standard
 * `model.json` + `weights.bin`, without tfjs-node (plain tfjs has no file://
 * handler). The folder loads in any TensorFlow.js (tf.loadLayersModel) with no
 * ganpool code.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  GanpoolDataError,
  binaryTopologyError,
  modelFileNotRegularError,
  modelFileTooLargeError,
  weightsPathOutsideError,
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

/** The largest model.json ganpool reads. */
export const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;
/** The most bytes of weights one model folder may hold. */
export const MAX_WEIGHTS_BYTES = 2 * 1024 * 1024 * 1024;
const QUANTIZED_DTYPES = new Set(['uint8', 'uint16', 'float16']);

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Stats a file the loader will read: it must be a regular file of at most `max` bytes. */
function regularFileSize(file: string, max: number): number {
  const s = statSync(file);
  if (!s.isFile()) throw modelFileNotRegularError(file);
  if (s.size > max) throw modelFileTooLargeError(file, s.size, max);
  return s.size;
}

/** Checks one weight spec's fields: name, shape (whole numbers ≥ 0), dtype, and quantization when present. */
function checkWeightSpec(file: string, spec: unknown, where: string): void {
  if (!isObject(spec)) throw modelJsonInvalidError(file, `${where} is not an object`);
  if (typeof spec.name !== 'string') throw modelJsonInvalidError(file, `${where}.name is not a string`);
  if (!Array.isArray(spec.shape) || spec.shape.length > 8 || !spec.shape.every((d) => Number.isInteger(d) && (d as number) >= 0 && (d as number) <= MAX_WEIGHTS_BYTES)) {
    throw modelJsonInvalidError(file, `${where}.shape is not a list of at most 8 whole numbers`);
  }
  if (typeof spec.dtype !== 'string' || BYTES_PER_ELEMENT[spec.dtype] === undefined) {
    throw modelJsonInvalidError(file, `${where}.dtype is ${JSON.stringify(spec.dtype)}; expected one of ${Object.keys(BYTES_PER_ELEMENT).join(', ')}`);
  }
  if (spec.quantization !== undefined) {
    const q = spec.quantization;
    if (!isObject(q) || typeof q.dtype !== 'string' || !QUANTIZED_DTYPES.has(q.dtype)) throw modelJsonInvalidError(file, `${where}.quantization is not a uint8, uint16 or float16 quantization`);
    for (const k of ['scale', 'min'] as const) {
      if (q[k] !== undefined && !(typeof q[k] === 'number' && Number.isFinite(q[k]))) throw modelJsonInvalidError(file, `${where}.quantization.${k} is not a finite number`);
    }
  }
}

/** Checks every field of model.json that ganpool or TensorFlow.js reads before building the model. */
function checkModelJson(file: string, json: unknown): tf.io.ModelJSON {
  if (!isObject(json) || !isObject(json.modelTopology)) throw modelJsonInvalidError(file, 'no modelTopology object');
  for (const k of ['format', 'generatedBy'] as const) {
    if (json[k] !== undefined && typeof json[k] !== 'string') throw modelJsonInvalidError(file, `${k} is not a string`);
  }
  if (json.convertedBy !== undefined && json.convertedBy !== null && typeof json.convertedBy !== 'string') throw modelJsonInvalidError(file, 'convertedBy is not a string');
  for (const k of ['userDefinedMetadata', 'trainingConfig'] as const) {
    if (json[k] !== undefined && !isObject(json[k])) throw modelJsonInvalidError(file, `${k} is not an object`);
  }
  if (!Array.isArray(json.weightsManifest)) throw modelJsonInvalidError(file, 'no weightsManifest array');
  json.weightsManifest.forEach((group: unknown, g) => {
    const where = `weightsManifest[${g}]`;
    if (!isObject(group)) throw modelJsonInvalidError(file, `${where} is not an object`);
    if (!Array.isArray(group.paths) || !group.paths.every((p) => typeof p === 'string' && p.length > 0)) {
      throw modelJsonInvalidError(file, `${where}.paths is not a list of file names`);
    }
    if (!Array.isArray(group.weights)) throw modelJsonInvalidError(file, `${where}.weights is not a list`);
    group.weights.forEach((spec, i) => checkWeightSpec(file, spec, `${where}.weights[${i}]`));
  });
  return json as unknown as tf.io.ModelJSON;
}

/** Reads and checks `model.json`: a regular file of bounded size, valid JSON, every field well-typed. */
function readModelJson(file: string): tf.io.ModelJSON {
  if (!existsSync(file)) throw modelJsonMissingError(file);
  regularFileSize(file, MAX_MODEL_JSON_BYTES);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw modelJsonInvalidError(file, `not valid JSON (${(e as Error).message})`);
  }
  return checkModelJson(file, json);
}

/** The byte length of one weight as stored (quantized weights use their storage dtype). */
function storedBytes(spec: tf.io.WeightsManifestEntry): number {
  const per = BYTES_PER_ELEMENT[spec.quantization?.dtype ?? spec.dtype];
  return spec.shape.reduce((a, b) => a * b, 1) * per;
}

/** The path of a weights file named in model.json: inside the model's folder, also after following links. */
function weightsPath(root: string, realRoot: string, modelJson: string, p: string): string {
  const file = resolve(root, p);
  const inside = (base: string, f: string): boolean => {
    const rel = relative(base, f);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  };
  if (isAbsolute(p) || p.includes('\0') || !inside(root, file)) throw weightsPathOutsideError(modelJson, p);
  if (!existsSync(file)) throw weightsMissingError(file);
  if (!inside(realRoot, realpathSync(file))) throw weightsPathOutsideError(modelJson, p);
  return file;
}

/** Reads one manifest group's shard files, concatenated, after checking their paths and total length against its weight specs. */
function readGroup(root: string, realRoot: string, modelJson: string, group: tf.io.WeightsManifestConfig[number]): ArrayBuffer {
  const files = group.paths.map((p) => weightsPath(root, realRoot, modelJson, p));
  const expected = group.weights.map(storedBytes).reduce((a, b) => a + b, 0);
  const found = files.reduce((sum, f) => sum + regularFileSize(f, MAX_WEIGHTS_BYTES), 0);
  if (expected > MAX_WEIGHTS_BYTES) throw modelFileTooLargeError(modelJson, expected, MAX_WEIGHTS_BYTES);
  if (found !== expected) throw weightsLengthError(files.join(', '), expected, found);
  const data = Buffer.concat(files.map((f) => readFileSync(f)));
  if (data.length !== expected) throw weightsLengthError(files.join(', '), expected, data.length);
  return new Uint8Array(data).buffer;
}

/** An IOHandler whose load() reads a model folder written by dirSaver (or any standard tfjs model.json + shards). */
export function dirLoader(dir: string): tf.io.IOHandler {
  const root = resolve(dir);
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const file = join(root, MODEL_JSON);
      const modelJson = readModelJson(file);
      const realRoot = realpathSync(root);
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs = manifest.flatMap((g) => g.weights);
        const buffers = manifest.map((g) => readGroup(root, realRoot, file, g));
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
  try {
    return await tfl.loadLayersModel(dirLoader(dir));
  } catch (e) {
    if (e instanceof GanpoolDataError) throw e;
    // A topology TensorFlow.js cannot build (unknown layer, bad config, weights that do not fit it).
    throw modelJsonInvalidError(join(resolve(dir), MODEL_JSON), `TensorFlow.js cannot build it (${(e as Error).message})`);
  }
}
